package main

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/anypb"
)

// allValidator is what protoc-gen-validate generates on every message.
type allValidator interface {
	ValidateAll() error
}

// pgvError is the shape of every generated <Message>ValidationError.
type pgvError interface {
	Field() string
	Reason() string
	Cause() error
}

type multiError interface {
	AllErrors() []error
}

func validateRecord(index int, rec []byte) result {
	res := result{Index: index, Violations: []violation{}}
	var outer anypb.Any
	if err := proto.Unmarshal(rec, &outer); err != nil {
		res.Violations = append(res.Violations, violation{Field: "", Message: "not a google.protobuf.Any: " + err.Error()})
		return res
	}
	res.TypeURL = outer.GetTypeUrl()
	msg, err := unpack(&outer)
	if err != nil {
		res.Violations = append(res.Violations, violation{Field: "", Message: err.Error()})
		return res
	}
	res.Name = resourceName(msg)
	res.Violations = append(res.Violations, validateTree(msg, "")...)
	return res
}

// unpack resolves an Any with the global registry, which holds every type of the
// extension packages imported in imports_gen.go.
func unpack(a *anypb.Any) (proto.Message, error) {
	msg, err := anypb.UnmarshalNew(a, proto.UnmarshalOptions{Resolver: protoregistry.GlobalTypes})
	if err != nil {
		if errors.Is(err, protoregistry.NotFound) {
			return nil, fmt.Errorf("unknown type %q (not an Envoy API type)", a.GetTypeUrl())
		}
		return nil, fmt.Errorf("cannot decode %q: %v", a.GetTypeUrl(), err)
	}
	return msg, nil
}

func resourceName(m proto.Message) string {
	r := m.ProtoReflect()
	for _, field := range []protoreflect.Name{"name", "cluster_name"} {
		fd := r.Descriptor().Fields().ByName(field)
		if fd != nil && fd.Kind() == protoreflect.StringKind && fd.Cardinality() != protoreflect.Repeated {
			return r.Get(fd).String()
		}
	}
	return ""
}

// validateTree runs the message's own rules (which recurse into embedded messages
// but stop at Any), then finds every nested Any and does the same for its content.
func validateTree(m proto.Message, prefix string) []violation {
	var out []violation
	if v, ok := m.(allValidator); ok {
		out = append(out, flatten(v.ValidateAll(), prefix)...)
	}
	walkAnys(m.ProtoReflect(), prefix, func(path string, a *anypb.Any) {
		inner, err := unpack(a)
		if err != nil {
			out = append(out, violation{Field: path, Message: err.Error()})
			return
		}
		out = append(out, validateTree(inner, fmt.Sprintf("%s(%s)", path, inner.ProtoReflect().Descriptor().FullName()))...)
	})
	return out
}

func walkAnys(r protoreflect.Message, prefix string, visit func(string, *anypb.Any)) {
	r.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		path := join(prefix, string(fd.Name()))
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() != protoreflect.MessageKind {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				visitMessage(mv.Message(), fmt.Sprintf("%s[%v]", path, k.Interface()), visit)
				return true
			})
		case fd.Kind() != protoreflect.MessageKind && fd.Kind() != protoreflect.GroupKind:
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visitMessage(l.Get(i).Message(), fmt.Sprintf("%s[%d]", path, i), visit)
			}
		default:
			visitMessage(v.Message(), path, visit)
		}
		return true
	})
}

func visitMessage(m protoreflect.Message, path string, visit func(string, *anypb.Any)) {
	if a, ok := m.Interface().(*anypb.Any); ok {
		visit(path, a)
		return
	}
	walkAnys(m, path, visit)
}

// flatten turns protoc-gen-validate's error tree (a MultiError of field errors whose
// cause is the embedded message's error) into one violation per leaf, with the path.
func flatten(err error, prefix string) []violation {
	if err == nil {
		return nil
	}
	if me, ok := err.(multiError); ok {
		var out []violation
		for _, e := range me.AllErrors() {
			out = append(out, flatten(e, prefix)...)
		}
		return out
	}
	var pe pgvError
	if errors.As(err, &pe) {
		path := join(prefix, fieldPath(pe.Field()))
		if cause := pe.Cause(); cause != nil {
			if nested := flatten(cause, path); len(nested) > 0 {
				return nested
			}
		}
		return []violation{{Field: path, Message: pe.Reason()}}
	}
	return []violation{{Field: prefix, Message: err.Error()}}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	if name == "" {
		return prefix
	}
	return prefix + "." + name
}

// fieldPath maps the Go field names in generated errors ("FilterChains[0]") to the
// proto names users see in Envoy's docs and in JSON/YAML ("filter_chains[0]").
func fieldPath(goName string) string {
	base, index, _ := strings.Cut(goName, "[")
	var b strings.Builder
	runes := []rune(base)
	for i, r := range runes {
		if unicode.IsUpper(r) {
			prevLower := i > 0 && (unicode.IsLower(runes[i-1]) || unicode.IsDigit(runes[i-1]))
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			prevUpper := i > 0 && unicode.IsUpper(runes[i-1])
			if i > 0 && (prevLower || (prevUpper && nextLower)) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	if index != "" {
		b.WriteString("[" + index)
	}
	return b.String()
}

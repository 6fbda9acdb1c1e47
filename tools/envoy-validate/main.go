// Command envoy-validate checks Envoy xDS resources against Envoy's own
// protoc-gen-validate rules, as compiled into go-control-plane's Go types.
//
// Input (stdin): a stream of records, each a 4-byte big-endian length followed by
// that many bytes of a serialized google.protobuf.Any holding one resource
// (Listener, Cluster, ClusterLoadAssignment, RouteConfiguration, Secret, ...).
//
// Output (stdout): one JSON document, {"resources":[...]}, one entry per record in
// input order: {"index", "typeUrl", "name", "violations":[{"field","message"}]}.
// Every nested google.protobuf.Any (typed_config, api_listener, ...) is unpacked
// with its registered Go type and validated too; its violations carry the path to
// it, e.g. `filter_chains[0].filters[0].typed_config(envoy...TcpProxy).cluster`.
// An Any whose type is not registered is a violation as well (Envoy would reject
// it just the same).
//
// Exit status: 0 when the input was read (whatever the violations), 2 when the
// input itself is malformed (truncated record). Callers decide on violations.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

type violation struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

type result struct {
	Index      int         `json:"index"`
	TypeURL    string      `json:"typeUrl"`
	Name       string      `json:"name"`
	Violations []violation `json:"violations"`
}

type report struct {
	Resources []result `json:"resources"`
}

// maxRecord bounds one record so a corrupt length prefix cannot exhaust memory.
const maxRecord = 64 << 20

func main() {
	records, err := readRecords(bufio.NewReaderSize(os.Stdin, 1<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, "envoy-validate:", err)
		os.Exit(2)
	}
	out := report{Resources: make([]result, 0, len(records))}
	for i, rec := range records {
		out.Resources = append(out.Resources, validateRecord(i, rec))
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "envoy-validate:", err)
		os.Exit(2)
	}
}

func readRecords(r io.Reader) ([][]byte, error) {
	var records [][]byte
	var head [4]byte
	for {
		if _, err := io.ReadFull(r, head[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return records, nil
			}
			return nil, fmt.Errorf("record %d: truncated length prefix", len(records))
		}
		n := binary.BigEndian.Uint32(head[:])
		if n > maxRecord {
			return nil, fmt.Errorf("record %d: length %d exceeds %d bytes", len(records), n, maxRecord)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("record %d: truncated (want %d bytes)", len(records), n)
		}
		records = append(records, buf)
	}
}

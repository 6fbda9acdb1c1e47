{{/*
Labels on every object's metadata: the two the kustomize base carries (part-of and, when
given, component) and Helm's own. Selectors and pod templates carry only the base's labels,
so a Deployment first applied from deploy/k8s/lb can be taken over by this chart (selectors
are immutable).
*/}}
{{- define "sharedlb.labels" -}}
app.kubernetes.io/part-of: sharedlb
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{/* An image reference; the tag defaults to the chart's appVersion (the sharedlb images). */}}
{{- define "sharedlb.image" -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end -}}

{{/* The stream replica count, which NATS can only honour with at least as many servers. */}}
{{- define "sharedlb.streamReplicas" -}}
{{- if gt (int .Values.streamReplicas) (int .Values.nats.replicas) -}}
{{- fail (printf "streamReplicas (%d) exceeds nats.replicas (%d): JetStream cannot place that many replicas" (int .Values.streamReplicas) (int .Values.nats.replicas)) -}}
{{- end -}}
{{ .Values.streamReplicas | quote }}
{{- end -}}

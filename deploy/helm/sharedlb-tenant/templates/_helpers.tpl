{{/*
Labels on every object's metadata: the two the kustomize base carries (part-of and, when
given, component) and Helm's own. Selectors and pod templates carry only the base's labels,
so a Deployment first applied from deploy/k8s/tenant can be taken over by this chart (selectors
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

{{/* The Secret holding NATS_URL, nkey and ca.crt. */}}
{{- define "sharedlb.natsSecret" -}}
{{ .Values.nats.existingSecret | default "sharedlb-nats" }}
{{- end -}}

{{/* The name of every object: the release name. */}}
{{- define "attendant.fullname" -}}
{{ .Release.Name }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "attendant.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* The labels that select the worker pods (Deployment, Services, PodDisruptionBudget). */}}
{{- define "attendant.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

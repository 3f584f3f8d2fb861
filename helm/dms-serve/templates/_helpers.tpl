{{/* Names and labels. The selector labels are what the Service, the PDB, the InferencePool and the ServiceMonitor
select on; they never change across upgrades. */}}
{{- define "dms-serve.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dms-serve.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "dms-serve.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "dms-serve.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "dms-serve.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dms-serve.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "dms-serve.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "dms-serve.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "dms-serve.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "dms-serve.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "dms-serve.image" -}}
{{- $tag := .Values.image.tag | default (ternary "gpu" "cpu" (gt (int .Values.gpu.count) 0)) }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}

{{/* The checkpoint directory inside the container: empty for the embedded model. */}}
{{- define "dms-serve.modelPath" -}}
{{- if ne .Values.model.source "embedded" }}
{{- printf "/models/%s" (.Values.model.path | trimPrefix "/") | trimSuffix "/" }}
{{- end }}
{{- end }}

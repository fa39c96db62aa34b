{{/*
Names and labels shared by every template.
*/}}

{{- define "portico.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
<release>-portico, or <release> alone when it already says portico; 63 characters at most
(a DNS label, and Service names must be one).
*/}}
{{- define "portico.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "portico.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "portico.selectorLabels" -}}
app.kubernetes.io/name: {{ include "portico.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{- define "portico.labels" -}}
helm.sh/chart: {{ include "portico.chart" . }}
{{ include "portico.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "portico.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "portico.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name: name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "portico.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
The Service whose address goes into Ingress status (--publish-service), or nothing.
*/}}
{{- define "portico.publishService" -}}
{{- if .Values.publishService.enabled }}
{{- if .Values.publishService.pathOverride }}
{{- .Values.publishService.pathOverride }}
{{- else if .Values.service.enabled }}
{{- printf "%s/%s" .Release.Namespace (include "portico.fullname" .) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
How long Portico's drain may take after SIGTERM: the grace period (serving with /readyz failing),
then the shutdown timeout (in-flight requests), plus 5 s to stop the watches, release the Lease,
flush the logs and exit. e2e/chart.test.ts checks the sum.
*/}}
{{- define "portico.drainSeconds" -}}
{{- add .Values.shutdown.gracePeriodSeconds .Values.shutdown.timeoutSeconds 5 }}
{{- end }}

{{/*
Rules from a file under files/, rendered with tpl (so a file may use values) and checked to be a
YAML list of PolicyRules. The files are the single statement of Portico's permissions: README.md
("RBAC") and the e2e RBAC tests read the same files.
*/}}
{{- define "portico.rulesFromFile" -}}
{{- $text := .context.Files.Get .path }}
{{- if not $text }}
{{- fail (printf "%s is missing from the chart" .path) }}
{{- end }}
{{- $rules := fromYamlArray (tpl $text .context) }}
{{- if not $rules }}
{{- fail (printf "%s holds no rules" .path) }}
{{- end }}
{{- if not (kindIs "map" (first $rules)) }}
{{- fail (printf "%s must be a YAML list of PolicyRules: %v" .path (first $rules)) }}
{{- end }}
{{- toYaml $rules }}
{{- end }}

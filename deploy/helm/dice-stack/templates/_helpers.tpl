{{/*
Names and labels of every object in the chart, from one place (app.kubernetes.io/*).
The API and the collector are two components of one release; selectors use only the stable labels
(name, instance, component), never the chart version, so that an upgrade can keep its pods.
*/}}

{{- define "dice-stack.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dice-stack.fullname" -}}
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

{{/* The dice API's objects: <fullname>-api. */}}
{{- define "dice-stack.api.fullname" -}}
{{- printf "%s-api" (include "dice-stack.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The collector agent's objects: <fullname>-otel-agent. */}}
{{- define "dice-stack.collector.fullname" -}}
{{- printf "%s-otel-agent" (include "dice-stack.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels; app.kubernetes.io/instance comes with each component's selector labels. */}}
{{- define "dice-stack.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/part-of: {{ include "dice-stack.name" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The dice API's selector: also the collector agent's pod selector for scraping (DICE_API_POD_SELECTOR). */}}
{{- define "dice-stack.api.selectorLabels" -}}
app.kubernetes.io/name: dice-api
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: api
{{- end }}

{{- define "dice-stack.api.labels" -}}
{{ include "dice-stack.labels" . }}
{{ include "dice-stack.api.selectorLabels" . }}
{{- end }}

{{- define "dice-stack.collector.selectorLabels" -}}
app.kubernetes.io/name: otel-collector
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: collector-agent
{{- end }}

{{- define "dice-stack.collector.labels" -}}
{{ include "dice-stack.labels" . }}
{{ include "dice-stack.collector.selectorLabels" . }}
{{- end }}

{{/* Labels of the Prometheus Operator's objects: Prometheus selects rules and monitors by them. */}}
{{- define "dice-stack.monitoring.labels" -}}
{{ include "dice-stack.labels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- with .Values.monitoring.labels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* A label selector string (k=v,k=v) from the selector labels, for the collector's pod discovery. */}}
{{- define "dice-stack.api.selectorString" -}}
{{- $pairs := list }}
{{- range $k, $v := (include "dice-stack.api.selectorLabels" . | fromYaml) }}
{{- $pairs = append $pairs (printf "%s=%s" $k $v) }}
{{- end }}
{{- join "," (sortAlpha $pairs) }}
{{- end }}

{{- define "dice-stack.api.image" -}}
{{- printf "%s:%s" .Values.api.image.repository (default .Chart.AppVersion .Values.api.image.tag) }}
{{- end }}

{{/* The edge load balancer's objects (HAProxy): <fullname>-edge. */}}
{{- define "dice-stack.edge.fullname" -}}
{{- printf "%s-edge" (include "dice-stack.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "dice-stack.edge.selectorLabels" -}}
app.kubernetes.io/name: haproxy
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: edge
{{- end }}

{{- define "dice-stack.edge.labels" -}}
{{ include "dice-stack.labels" . }}
{{ include "dice-stack.edge.selectorLabels" . }}
{{- end }}

{{/* The dice API's headless Service, whose DNS name lists every replica: <fullname>-api-headless. */}}
{{- define "dice-stack.api.headlessName" -}}
{{- printf "%s-headless" (include "dice-stack.api.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* HAProxy's server slots: the most dice-api pods there can be, plus edge.spareServerSlots. */}}
{{- define "dice-stack.edge.serverSlots" -}}
{{- $api := .Values.api }}
{{- $most := ternary $api.autoscaling.maxReplicas $api.replicaCount $api.autoscaling.enabled }}
{{- add $most .Values.edge.spareServerSlots }}
{{- end }}

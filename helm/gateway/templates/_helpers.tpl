{{/* Names, labels and the small pieces every template shares. */}}

{{- define "gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gateway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Kubernetes recommended labels; call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "gateway.labels" -}}
helm.sh/chart: {{ include "gateway.chart" .ctx }}
{{ include "gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: {{ include "gateway.name" .ctx }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- end -}}

{{/* The immutable subset used in selectors. */}}
{{- define "gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "gateway.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "gateway.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "gateway.redisName" -}}
{{- printf "%s-redis" (include "gateway.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Where the ConfigMaps are mounted: whole directories, so policy edits reach running pods. */}}
{{- define "gateway.configDir" -}}/etc/gateway/config{{- end -}}
{{- define "gateway.policiesDir" -}}/etc/gateway/policies{{- end -}}

{{/*
The gateway's config file: values.config with the keys the chart owns set from the chart's own values.
redis_url always comes from the REDIS_URL environment variable, so a URL with a password can live in a Secret.
*/}}
{{- define "gateway.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $server := default (dict) $config.server -}}
{{- $_ := set $server "host" "0.0.0.0" -}}
{{- $_ := set $server "port" (int .Values.containerPort) -}}
{{- $_ := set $config "server" $server -}}
{{- $_ := set $config "policies" (dict
      "paths" (list (include "gateway.policiesDir" .))
      "default" .Values.policies.default
      "client_selectable" .Values.policies.clientSelectable
      "reload_interval_s" .Values.policies.reloadIntervalSeconds) -}}
{{- $_ := set $config "redis_url" "${REDIS_URL:-}" -}}
{{- toYaml $config -}}
{{- end -}}

{{/* The REDIS_URL environment variable, from whichever source the values name; nothing when Redis is off. */}}
{{- define "gateway.redisEnv" -}}
{{- $redis := .Values.redis -}}
{{- if and $redis.inChart.enabled (or $redis.url $redis.existingSecret) -}}
{{- fail "redis: set either redis.url / redis.existingSecret (an external Redis) or redis.inChart.enabled, not both" -}}
{{- end -}}
{{- if $redis.existingSecret }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $redis.existingSecret }}
      key: {{ $redis.existingSecretKey }}
{{- else if $redis.url }}
- name: REDIS_URL
  value: {{ $redis.url | quote }}
{{- else if $redis.inChart.enabled }}
- name: REDIS_URL
  value: {{ printf "redis://%s:6379/0" (include "gateway.redisName" .) | quote }}
{{- end -}}
{{- end -}}

{{/*
Names, labels and the per-component settings merge. Every template receives a "component context":
  dict "root" $ "name" <component name> "c" <merged settings>
built by platform.componentContexts, so no template re-implements the defaults merge.
*/}}

{{- define "platform.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "platform.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "platform.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Resource name of one component: (list $ "matcher") -> <fullname>-matcher */}}
{{- define "platform.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "platform.fullname" $root) (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform.chartLabel" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "platform.imageTag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/* Selector labels never change over a release's life (Deployment selectors are immutable). */}}
{{- define "platform.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end -}}

{{- define "platform.labels" -}}
{{ include "platform.selectorLabels" . }}
app.kubernetes.io/component: {{ .name }}
app.kubernetes.io/part-of: recon-platform
app.kubernetes.io/version: {{ include "platform.imageTag" .root | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "platform.chartLabel" .root }}
{{- end -}}

{{/* Release-wide labels for resources that belong to no single component. */}}
{{- define "platform.releaseLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: recon-platform
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "platform.chartLabel" . }}
{{- end -}}

{{- define "platform.envPrefix" -}}
{{- upper . | replace "-" "_" -}}
{{- end -}}

{{/*
Enabled components in a stable order, each merged over `default`. The merge is shallow on purpose:
a component key replaces the default key whole (resources, pdb, probes...), so nothing is inherited
by surprise. `env` lists are the one exception: default entries come first, the component's after.
Returns YAML: a list of {name, c}.
*/}}
{{- define "platform.componentContexts" -}}
{{- $contexts := list -}}
{{- range $name := keys .Values.components | sortAlpha -}}
{{- $component := index $.Values.components $name -}}
{{- if and $component $component.enabled -}}
{{- $merged := deepCopy $.Values.default -}}
{{- range $key, $value := $component -}}
{{- $_ := set $merged $key $value -}}
{{- end -}}
{{- $_ := set $merged "env" (concat ($.Values.default.env | default list) ($component.env | default list)) -}}
{{- $contexts = append $contexts (dict "name" $name "c" $merged) -}}
{{- end -}}
{{- end -}}
{{- toYaml $contexts -}}
{{- end -}}

{{/* The label Kubernetes (Deployment) or Argo (Rollout) puts on pods with the pod template hash. */}}
{{- define "platform.podTemplateHashLabel" -}}
{{- if eq .c.workload "rollout" -}}rollouts-pod-template-hash{{- else -}}pod-template-hash{{- end -}}
{{- end -}}

{{/* Non-secret settings of one component, as env-var map; the ConfigMap and its checksum use it. */}}
{{- define "platform.configData" -}}
{{- $prefix := include "platform.envPrefix" .name -}}
{{ $prefix }}_ENVIRONMENT: {{ .root.Values.global.environment | quote }}
{{ $prefix }}_HTTP__HOST: "0.0.0.0"
{{ $prefix }}_HTTP__PORT: {{ .c.port | quote }}
{{ $prefix }}_SHUTDOWN_TIMEOUT_S: {{ .c.shutdownTimeoutSeconds | quote }}
{{ $prefix }}_KAFKA__BOOTSTRAP_SERVERS: {{ .root.Values.kafka.bootstrapServers | quote }}
{{- if not .root.Values.redis.existingSecret }}
{{ $prefix }}_REDIS__URL: {{ .root.Values.redis.url | quote }}
{{- end }}
{{- if .c.storage }}
{{ $prefix }}_STORAGE__ROOT: {{ .c.storage.mountPath | quote }}
{{- end }}
{{- if .root.Values.otel.enabled }}
OTEL_EXPORTER_OTLP_ENDPOINT: {{ .root.Values.otel.exporterEndpoint | quote }}
OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf"
{{- else }}
OTEL_SDK_DISABLED: "true"
{{- end }}
{{- end -}}

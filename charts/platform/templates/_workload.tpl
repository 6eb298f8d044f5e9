{{/*
Deployment or argoproj.io Rollout for one component, from the same pod template (platform.podTemplate).
*/}}
{{- define "platform.workload" -}}
{{- $c := .c -}}
{{- if not (has $c.workload (list "deployment" "rollout")) -}}
{{- fail (printf "components.%s.workload must be deployment or rollout, got %q" .name $c.workload) -}}
{{- end -}}
{{- if and (eq $c.workload "rollout") $c.autoscaling.enabled -}}
{{- fail (printf "components.%s: autoscaling with workload=rollout is not supported: an HPA resizing a basic canary changes its canary/stable ratio mid-analysis (argo-rollouts #2857, #4607)" .name) -}}
{{- end -}}
{{- if eq .name "matcher" -}}
{{- $surge := ternary (int $c.rollout.maxSurge) 0 (eq $c.workload "rollout") -}}
{{- $consumers := add (int $c.replicas) $surge -}}
{{- if gt (int $consumers) (int .root.Values.kafka.shardRequestedPartitions) -}}
{{- fail (printf "components.matcher: replicas (%v) + maxSurge (%v) exceed the %v partitions of shard.requested; the surplus consumers would sit idle" $c.replicas $surge .root.Values.kafka.shardRequestedPartitions) -}}
{{- end -}}
{{- end -}}
{{- if eq $c.workload "rollout" }}
apiVersion: argoproj.io/v1alpha1
kind: Rollout
{{- else }}
apiVersion: apps/v1
kind: Deployment
{{- end }}
metadata:
  name: {{ include "platform.componentName" (list .root .name) }}
  labels:
    {{- include "platform.labels" . | nindent 4 }}
spec:
  {{- if not $c.autoscaling.enabled }}
  replicas: {{ $c.replicas }}
  {{- end }}
  revisionHistoryLimit: {{ $c.revisionHistoryLimit }}
  selector:
    matchLabels:
      {{- include "platform.selectorLabels" . | nindent 6 }}
  template:
    {{- include "platform.podTemplate" . | nindent 4 }}
  {{- if eq $c.workload "rollout" }}
  {{- include "platform.rolloutStrategy" . | nindent 2 }}
  {{- else }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 0
  {{- end }}
{{- end -}}

{{/*
Basic canary (no trafficRouting): the weight is the replica ratio, canary pods join the same Kafka
consumer group, and analysis selects canary pods by pod-template hash. Every analysis (inline step and
background) receives the args declared once in rollout.analysisArgs.
*/}}
{{- define "platform.rolloutStrategy" -}}
{{- $r := .c.rollout -}}
{{- $args := $r.analysisArgs -}}
progressDeadlineSeconds: {{ $r.progressDeadlineSeconds }}
progressDeadlineAbort: true
strategy:
  canary:
    maxSurge: {{ $r.maxSurge }}
    maxUnavailable: {{ $r.maxUnavailable }}
    # Ephemeral labels for dashboards and queries only; the app never reads them (they change on promotion).
    canaryMetadata:
      labels:
        rollout-role: canary
    stableMetadata:
      labels:
        rollout-role: stable
    {{- if $r.backgroundAnalysis.enabled }}
    # Background guardrail; Argo skips it on the very first deploy (no stable to compare against).
    analysis:
      templates:
        {{- toYaml $r.backgroundAnalysis.templates | nindent 8 }}
      startingStep: {{ $r.backgroundAnalysis.startingStep }}
      args:
        {{- toYaml $args | nindent 8 }}
      {{- with include "platform.analysisDryRun" $r.backgroundAnalysis }}
      {{- . | nindent 6 }}
      {{- end }}
    {{- end }}
    steps:
      {{- range $index, $step := $r.steps }}
      {{- if hasKey $step "analysis" }}
      {{- if hasKey $step.analysis "args" }}
      {{- fail (printf "components.%s.rollout.steps[%d].analysis: declare args once in rollout.analysisArgs, not per step (duplicate args shadow valueFrom)" $.name $index) }}
      {{- end }}
      - analysis:
          templates:
            {{- toYaml $step.analysis.templates | nindent 12 }}
          args:
            {{- toYaml $args | nindent 12 }}
          {{- with include "platform.analysisDryRun" $r }}
          {{- . | nindent 10 }}
          {{- end }}
      {{- else }}
      - {{ toYaml $step | indent 8 | trim }}
      {{- end }}
      {{- end }}
{{- end -}}

{{/* dryRun entries are regexes; one that matches no metric of the run's templates errors the whole
AnalysisRun, so step and background analyses (different templates) take separate lists. */}}
{{- define "platform.analysisDryRun" -}}
{{- if .dryRunMetrics -}}
dryRun:
  {{- range .dryRunMetrics }}
  - metricName: {{ . }}
  {{- end }}
{{- end -}}
{{- end -}}

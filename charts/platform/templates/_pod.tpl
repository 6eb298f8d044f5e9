{{/*
The pod template shared by Deployment and Rollout: one definition, so switching a component's
`workload` changes the controller and nothing about the pod.
*/}}
{{- define "platform.podTemplate" -}}
{{- $c := .c -}}
{{- $root := .root -}}
{{- $prefix := include "platform.envPrefix" .name -}}
{{- $drainBudget := add $c.preStopSleepSeconds $c.shutdownTimeoutSeconds -}}
{{- if ge (int $drainBudget) (int $c.terminationGracePeriodSeconds) -}}
{{- fail (printf "components.%s: preStopSleepSeconds (%v) + shutdownTimeoutSeconds (%v) must stay below terminationGracePeriodSeconds (%v), or the kubelet kills the pod mid-drain" .name $c.preStopSleepSeconds $c.shutdownTimeoutSeconds $c.terminationGracePeriodSeconds) -}}
{{- end -}}
metadata:
  labels:
    {{- include "platform.labels" . | nindent 4 }}
    {{- with $c.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A settings change changes the pod template, so it rolls out (and canaries) like a code change.
    checksum/config: {{ include "platform.configData" . | sha256sum }}
    {{- with $c.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "platform.componentName" (list $root .name) }}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: {{ $c.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $c.podSecurityContext | nindent 4 }}
  {{- with $root.Values.image.pullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $c.topologySpread }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "platform.selectorLabels" . | nindent 10 }}
  {{- end }}
  {{- with $c.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $c.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ .name }}
      image: "{{ $root.Values.image.repository }}/{{ .name }}:{{ include "platform.imageTag" $root }}"
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      securityContext:
        {{- toYaml $c.securityContext | nindent 8 }}
      ports:
        - name: http
          containerPort: {{ $c.port }}
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ include "platform.componentName" (list $root .name) }}
      env:
        # Downward API first: later entries expand them with $(NAME).
        - name: K8S_POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: K8S_NAMESPACE_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: K8S_NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        - name: K8S_POD_TEMPLATE_HASH
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['{{ include "platform.podTemplateHashLabel" . }}']
        - name: OTEL_SERVICE_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['app.kubernetes.io/component']
        # The pod template hash splits every span metric per ReplicaSet, which is what lets the canary
        # analysis select canary pods only. Never the ephemeral rollout-role label: env vars are fixed
        # at start, and that label changes on promotion (argo-rollouts #3048).
        - name: OTEL_RESOURCE_ATTRIBUTES
          value: >-
            service.version={{ include "platform.imageTag" $root }},deployment.environment.name={{ $root.Values.global.environment }},k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE_NAME),k8s.node.name=$(K8S_NODE_NAME),rollouts.pod_template_hash=$(K8S_POD_TEMPLATE_HASH){{ with $root.Values.otel.resourceAttributesExtra }},{{ . }}{{ end }}
        - name: {{ $prefix }}_POSTGRES__DSN
          valueFrom:
            secretKeyRef:
              {{- if $c.postgresDsnSecret }}
              name: {{ $c.postgresDsnSecret.name }}
              key: {{ $c.postgresDsnSecret.key }}
              {{- else }}
              name: {{ $root.Values.postgres.existingSecret }}
              key: {{ .name }}-dsn
              {{- end }}
        {{- if $root.Values.redis.existingSecret }}
        - name: {{ $prefix }}_REDIS__URL
          valueFrom:
            secretKeyRef:
              name: {{ $root.Values.redis.existingSecret }}
              key: {{ $root.Values.redis.secretKey }}
        {{- end }}
        # Every service verifies the gateway's signed identity tokens with this shared key (ADR 0004).
        - name: {{ $prefix }}_AUTH__INTERNAL_KEY
          valueFrom:
            secretKeyRef:
              name: {{ $root.Values.internalAuth.existingSecret }}
              key: {{ $root.Values.internalAuth.secretKey }}
        {{- if ne .name "projects" }}
        - name: {{ $prefix }}_AUTH__PROJECTS_URL
          value: 'http://{{ include "platform.componentName" (list $root "projects") }}:8081'
        {{- end }}
        {{- range $c.secretEnv }}
        - name: {{ .name }}
          valueFrom:
            secretKeyRef:
              name: {{ .secretName }}
              key: {{ .key }}
        {{- end }}
        {{- range $c.env }}
        - name: {{ .name }}
          value: {{ tpl (toString .value) $root | quote }}
        {{- end }}
      startupProbe:
        {{- include "platform.httpProbe" $c.probes.startup | nindent 8 }}
      livenessProbe:
        {{- include "platform.httpProbe" $c.probes.liveness | nindent 8 }}
      readinessProbe:
        {{- include "platform.httpProbe" $c.probes.readiness | nindent 8 }}
      {{- if gt (int $c.preStopSleepSeconds) 0 }}
      # Endpoints are removed asynchronously; keep serving until load balancers stop sending traffic.
      # exec (coreutils sleep is in the slim image) rather than the sleep action, which needs k8s 1.30+.
      lifecycle:
        preStop:
          exec:
            command: ["sleep", "{{ $c.preStopSleepSeconds }}"]
      {{- end }}
      resources:
        {{- toYaml $c.resources | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if $c.storage }}
        - name: storage
          mountPath: {{ $c.storage.mountPath }}
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ $c.tmpSizeLimit }}
    {{- if $c.storage }}
    - name: storage
      {{- if $c.storage.existingClaim }}
      persistentVolumeClaim:
        claimName: {{ $c.storage.existingClaim }}
      {{- else }}
      emptyDir:
        sizeLimit: {{ $c.storage.emptyDirSizeLimit }}
      {{- end }}
    {{- end }}
{{- end -}}

{{- define "platform.httpProbe" -}}
httpGet:
  path: {{ .path }}
  port: http
periodSeconds: {{ .periodSeconds }}
failureThreshold: {{ .failureThreshold }}
timeoutSeconds: {{ .timeoutSeconds }}
{{- end -}}

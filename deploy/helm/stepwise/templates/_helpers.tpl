{{/* Names and labels. */}}

{{- define "stepwise.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stepwise.fullname" -}}
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

{{/* The name of one service's objects: <fullname>-<component>. Argument: (list $ "gateway"). */}}
{{- define "stepwise.componentName" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" (include "stepwise.fullname" $root | trunc 53 | trimSuffix "-") (index . 1) -}}
{{- end -}}

{{- define "stepwise.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stepwise.labels" -}}
helm.sh/chart: {{ include "stepwise.chart" . }}
{{ include "stepwise.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: stepwise
{{- end -}}

{{- define "stepwise.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stepwise.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one service's objects. Argument: (list $ "gateway"). */}}
{{- define "stepwise.componentLabels" -}}
{{ include "stepwise.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "stepwise.componentSelectorLabels" -}}
{{ include "stepwise.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "stepwise.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "stepwise.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "stepwise.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion | toString -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}

{{/* Secrets. */}}

{{- define "stepwise.secretName" -}}
{{- if .Values.existingSecret -}}
{{- .Values.existingSecret -}}
{{- else -}}
{{- include "stepwise.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* The key that holds one secret, in the chart's Secret or in existingSecret. */}}
{{- define "stepwise.secretKey" -}}
{{- $root := index . 0 -}}
{{- $which := index . 1 -}}
{{- if $root.Values.existingSecret -}}
{{- index $root.Values.existingSecretKeys $which | required (printf "existingSecretKeys.%s must name a key of existingSecret" $which) -}}
{{- else -}}
{{- index (dict "mongoUrl" "MONGO_URL" "redisUrl" "REDIS_URL" "adminToken" "ADMIN_TOKEN" "llmApiKey" "LLM_API_KEY" "secretsMasterKey" "SECRETS_MASTER_KEY" "secretsPreviousMasterKey" "SECRETS_PREVIOUS_MASTER_KEY") $which -}}
{{- end -}}
{{- end -}}

{{/* REDIS_URL: a list of seed nodes is joined with commas. */}}
{{- define "stepwise.redisUrl" -}}
{{- $url := .Values.redis.url -}}
{{- if kindIs "slice" $url -}}
{{- join "," $url -}}
{{- else -}}
{{- $url | default "" | toString -}}
{{- end -}}
{{- end -}}

{{/* The data of the chart's Secret (only when existingSecret is empty). */}}
{{- define "stepwise.secretData" -}}
MONGO_URL: {{ .Values.mongo.url | b64enc | quote }}
REDIS_URL: {{ include "stepwise.redisUrl" . | b64enc | quote }}
ADMIN_TOKEN: {{ .Values.secrets.adminToken | b64enc | quote }}
{{- with .Values.secrets.llmApiKey }}
LLM_API_KEY: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.secretsMasterKey }}
SECRETS_MASTER_KEY: {{ . | b64enc | quote }}
{{- end }}
{{- with .Values.secrets.secretsPreviousMasterKey }}
SECRETS_PREVIOUS_MASTER_KEY: {{ . | b64enc | quote }}
{{- end }}
{{- end -}}

{{/* Configuration. */}}

{{/* Variables the chart sets itself, or that belong in the Secret; refused in config maps. */}}
{{- define "stepwise.managedVariables" -}}
{{- toJson (dict
  "MONGO_URL" "mongo.url (or existingSecret)"
  "REDIS_URL" "redis.url (or existingSecret)"
  "ADMIN_TOKEN" "secrets.adminToken (or existingSecret)"
  "LLM_API_KEY" "secrets.llmApiKey (or existingSecret)"
  "SECRETS_MASTER_KEY" "secrets.secretsMasterKey (or existingSecret)"
  "SECRETS_PREVIOUS_MASTER_KEY" "secrets.secretsPreviousMasterKey (or existingSecret)"
  "REDIS_CLUSTER" "redis.cluster"
  "PORT" "gateway.port"
  "SHUTDOWN_TIMEOUT_MS" "<service>.shutdownTimeoutSeconds"
  "HEARTBEAT_FILE" "nothing: the chart sets it for the probes") -}}
{{- end -}}

{{/* One environment value as a string: whole numbers without an exponent, lists joined with
commas, maps as JSON. */}}
{{- define "stepwise.envValue" -}}
{{- if kindIs "float64" . -}}
{{- if eq . (floor .) -}}{{- int64 . -}}{{- else -}}{{- . -}}{{- end -}}
{{- else if kindIs "slice" . -}}
{{- join "," . -}}
{{- else if kindIs "map" . -}}
{{- toJson . -}}
{{- else -}}
{{- . -}}
{{- end -}}
{{- end -}}

{{/* One service's ConfigMap data. Argument: (list $ "gateway"). */}}
{{- define "stepwise.configData" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $values := index $root.Values $component -}}
{{- $env := dict -}}
{{- range $name, $value := $root.Values.config -}}
{{- $_ := set $env $name $value -}}
{{- end -}}
{{- range $name, $value := $values.config -}}
{{- $_ := set $env $name $value -}}
{{- end -}}
{{- $_ := set $env "REDIS_CLUSTER" (ternary "true" "false" (eq (toString $root.Values.redis.cluster) "true")) -}}
{{- $_ := set $env "SHUTDOWN_TIMEOUT_MS" (mul (int64 $values.shutdownTimeoutSeconds) 1000) -}}
{{- if eq $component "gateway" -}}
{{- $_ := set $env "PORT" (int64 $values.port) -}}
{{- else -}}
{{- $_ := set $env "HEARTBEAT_FILE" "/tmp/heartbeat" -}}
{{- end -}}
{{- range $name := keys $env | sortAlpha -}}
{{- $value := index $env $name -}}
{{- if and (not (kindIs "invalid" $value)) (ne (toString $value) "") }}
{{ $name }}: {{ include "stepwise.envValue" $value | quote }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Pods. */}}

{{- define "stepwise.terminationGracePeriodSeconds" -}}
{{- if not (kindIs "invalid" .terminationGracePeriodSeconds) -}}
{{- int64 .terminationGracePeriodSeconds -}}
{{- else -}}
{{- add (int64 .shutdownTimeoutSeconds) (int64 .preStopSleepSeconds) 10 -}}
{{- end -}}
{{- end -}}

{{/* Checksums that roll a service's pods when its configuration or the chart's Secret changes. */}}
{{- define "stepwise.checksumAnnotations" -}}
{{- $root := index . 0 -}}
checksum/config: {{ include "stepwise.configData" . | sha256sum }}
{{- if not $root.Values.existingSecret }}
checksum/secret: {{ include "stepwise.secretData" $root | sha256sum }}
{{- end }}
{{- end -}}

{{/* Everything in a pod spec but the containers. Argument: (list $ "gateway"). */}}
{{- define "stepwise.podCommon" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $values := index $root.Values $component -}}
serviceAccountName: {{ include "stepwise.serviceAccountName" $root }}
automountServiceAccountToken: {{ $root.Values.automountServiceAccountToken }}
terminationGracePeriodSeconds: {{ include "stepwise.terminationGracePeriodSeconds" $values }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $root.Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- if $values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml $values.topologySpreadConstraints | nindent 2 }}
{{- else if $root.Values.podSpread.enabled }}
topologySpreadConstraints:
  - maxSkew: {{ $root.Values.podSpread.maxSkew }}
    topologyKey: {{ $root.Values.podSpread.topologyKey }}
    whenUnsatisfiable: {{ $root.Values.podSpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "stepwise.componentSelectorLabels" . | nindent 8 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      {{- with $root.Values.tmpVolume.sizeLimit }}
      sizeLimit: {{ . }}
      {{- end }}
{{- end -}}

{{/* Environment of one service's container: its ConfigMap, and the secrets it uses by key. */}}
{{- define "stepwise.containerEnv" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $values := index $root.Values $component -}}
{{- $secret := include "stepwise.secretName" $root -}}
envFrom:
  - configMapRef:
      name: {{ include "stepwise.componentName" . }}
env:
  - name: MONGO_URL
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ include "stepwise.secretKey" (list $root "mongoUrl") }}
  - name: REDIS_URL
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ include "stepwise.secretKey" (list $root "redisUrl") }}
  {{- if eq $component "gateway" }}
  - name: ADMIN_TOKEN
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ include "stepwise.secretKey" (list $root "adminToken") }}
  {{- end }}
  {{- if or (eq $component "gateway") (eq $component "runner") }}
  {{- /* Users' secrets: optional (without them the secret routes answer 501). */}}
  - name: SECRETS_MASTER_KEY
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ include "stepwise.secretKey" (list $root "secretsMasterKey") }}
        optional: true
  - name: SECRETS_PREVIOUS_MASTER_KEY
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ include "stepwise.secretKey" (list $root "secretsPreviousMasterKey") }}
        optional: true
  {{- end }}
  {{- if eq $component "runner" }}
  - name: LLM_API_KEY
    valueFrom:
      secretKeyRef:
        name: {{ $secret }}
        key: {{ include "stepwise.secretKey" (list $root "llmApiKey") }}
        optional: true
  {{- end }}
  {{- with $values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end -}}

{{/* Checks of the values, with messages that say what to set. Included by every template that
needs a valid configuration. */}}
{{- define "stepwise.validate" -}}
{{- $v := .Values -}}
{{- if $v.existingSecret -}}
{{- if or $v.mongo.url $v.redis.url $v.secrets.adminToken $v.secrets.llmApiKey -}}
{{- fail "existingSecret is set, so mongo.url, redis.url and secrets.* must be empty: the Secret comes either from values or from existingSecret, never both" -}}
{{- end -}}
{{- else -}}
{{- $mongo := required "mongo.url is required: the MongoDB connection string (mongodb:// or mongodb+srv://, with the database name), or set existingSecret" $v.mongo.url | toString -}}
{{- if not (regexMatch "^mongodb(\\+srv)?://.+" $mongo) -}}
{{- fail "mongo.url must be a mongodb:// or mongodb+srv:// URL" -}}
{{- end -}}
{{- $redis := include "stepwise.redisUrl" . -}}
{{- $_ := required "redis.url is required: a redis:// or rediss:// URL (for a Redis Cluster, a list of seed nodes with redis.cluster: true), or set existingSecret" $redis -}}
{{- range $node := splitList "," $redis -}}
{{- if not (regexMatch "^rediss?://[^,]+$" (trim $node)) -}}
{{- fail (printf "redis.url: %q must be a redis:// or rediss:// URL" (trim $node)) -}}
{{- end -}}
{{- end -}}
{{- $token := required "secrets.adminToken is required: the gateway's ADMIN_TOKEN (16 characters or more), or set existingSecret" $v.secrets.adminToken | toString -}}
{{- if lt (len $token) 16 -}}
{{- fail "secrets.adminToken must be at least 16 characters" -}}
{{- end -}}
{{- end -}}
{{- if not (kindIs "bool" $v.redis.cluster) -}}
{{- fail "redis.cluster must be true or false" -}}
{{- end -}}
{{- $managed := include "stepwise.managedVariables" . | fromJson -}}
{{- range $where, $config := dict "config" $v.config "gateway.config" $v.gateway.config "resolver.config" $v.resolver.config "runner.config" $v.runner.config -}}
{{- range $name, $_ := $config -}}
{{- if hasKey $managed $name -}}
{{- fail (printf "%s.%s is set by the chart: use %s instead" $where $name (index $managed $name)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- with $v.config.QUEUE_PREFIX -}}
{{- if not (regexMatch "^(\\{[A-Za-z0-9_.:-]{1,64}\\}|[A-Za-z0-9_.:-]{1,64})$" (toString .)) -}}
{{- fail "config.QUEUE_PREFIX must be a name such as stepwise or a hash tag such as {stepwise}" -}}
{{- end -}}
{{- end -}}
{{- end -}}

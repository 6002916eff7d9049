{{/* The chart's names and labels, and the values the templates derive. */}}

{{- define "vnodemesh.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vnodemesh.fullname" -}}
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

{{- define "vnodemesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vnodemesh.labels" -}}
helm.sh/chart: {{ include "vnodemesh.chart" . }}
{{ include "vnodemesh.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "vnodemesh.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vnodemesh.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "vnodemesh.siloSelectorLabels" -}}
{{ include "vnodemesh.selectorLabels" . }}
app.kubernetes.io/component: silo
{{- end }}

{{- define "vnodemesh.redisSelectorLabels" -}}
{{ include "vnodemesh.selectorLabels" . }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "vnodemesh.serviceAccountName" -}}
{{- default (include "vnodemesh.fullname" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "vnodemesh.clusterId" -}}
{{- default (include "vnodemesh.fullname" .) .Values.cluster.clusterId }}
{{- end }}

{{- define "vnodemesh.serviceId" -}}
{{- default (include "vnodemesh.fullname" .) .Values.cluster.serviceId }}
{{- end }}

{{/* Cluster-scoped objects carry the namespace too: two releases of one name in two namespaces must not collide. */}}
{{- define "vnodemesh.clusterRoleName" -}}
{{- printf "%s-%s" .Release.Namespace (include "vnodemesh.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "vnodemesh.redisBundled" -}}
{{- if not .Values.redis.external.address }}true{{ end }}
{{- end }}

{{- define "vnodemesh.redisName" -}}
{{- printf "%s-redis" (include "vnodemesh.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret and key holding the Redis password; empty when there is none. */}}
{{- define "vnodemesh.redisSecretName" -}}
{{- if include "vnodemesh.redisBundled" . }}
{{- default (include "vnodemesh.redisName" .) .Values.redis.auth.existingSecret }}
{{- else }}
{{- .Values.redis.external.existingSecret }}
{{- end }}
{{- end }}

{{- define "vnodemesh.redisSecretKey" -}}
{{- if include "vnodemesh.redisBundled" . }}{{ .Values.redis.auth.existingSecretKey }}{{ else }}{{ .Values.redis.external.existingSecretKey }}{{ end }}
{{- end }}

{{- define "vnodemesh.redisAddress" -}}
{{- if include "vnodemesh.redisBundled" . }}
{{- printf "%s:6379" (include "vnodemesh.redisName" .) }}
{{- else }}
{{- .Values.redis.external.address }}
{{- end }}
{{- end }}

{{- define "vnodemesh.dashboardSecretName" -}}
{{- default (printf "%s-dashboard" (include "vnodemesh.fullname" .)) .Values.dashboard.token.existingSecret }}
{{- end }}

{{- define "vnodemesh.terminationGracePeriodSeconds" -}}
{{- if kindIs "invalid" .Values.cluster.terminationGracePeriodSeconds }}
{{- add (int .Values.cluster.shutdownTimeoutSeconds) 15 }}
{{- else }}
{{- int .Values.cluster.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* A value generated once: kept from the live Secret on upgrades, random at install (and in helm template). */}}
{{- define "vnodemesh.generatedSecretValue" -}}
{{- $existing := lookup "v1" "Secret" .namespace .name }}
{{- if and $existing (index ($existing.data | default dict) .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- randAlphaNum 40 | b64enc }}
{{- end }}
{{- end }}

{{/* Rules the schema cannot express; each failure names the values to change. */}}
{{- define "vnodemesh.validate" -}}
{{- if le (int (include "vnodemesh.terminationGracePeriodSeconds" .)) (int .Values.cluster.shutdownTimeoutSeconds) }}
{{- fail (printf "cluster.terminationGracePeriodSeconds (%v) must be longer than cluster.shutdownTimeoutSeconds (%v): the kubelet would kill a silo still handing its pods over" .Values.cluster.terminationGracePeriodSeconds .Values.cluster.shutdownTimeoutSeconds) }}
{{- end }}
{{- $names := dict }}
{{- range $i, $node := .Values.virtualNodes.items }}
{{- if hasKey $names $node.name }}
{{- fail (printf "virtualNodes.items[%d].name: %q is used by more than one virtual node" $i $node.name) }}
{{- end }}
{{- $_ := set $names $node.name true }}
{{- end }}
{{- if eq .Values.provider.name "eci" }}
{{- range $i, $node := .Values.virtualNodes.items }}
{{- if and (empty $node.vSwitches) (empty $.Values.eci.vSwitches) }}
{{- fail (printf "virtualNodes.items[%d] (%s) has no vSwitch: set virtualNodes.items[%d].vSwitches or eci.vSwitches" $i $node.name $i) }}
{{- end }}
{{- if and (empty $node.securityGroup) (empty $.Values.eci.securityGroup) }}
{{- fail (printf "virtualNodes.items[%d] (%s) has no security group: set virtualNodes.items[%d].securityGroup or eci.securityGroup" $i $node.name $i) }}
{{- end }}
{{- if and $node.region (ne $node.region $.Values.eci.region) }}
{{- fail (printf "virtualNodes.items[%d].region %q differs from eci.region %q" $i $node.region $.Values.eci.region) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

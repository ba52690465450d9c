#!/usr/bin/env bash
# Checks the Helm chart in deploy/helm/stepwise: `helm lint --strict` with the default values and
# with each values file in its ci/ folder, `helm template` of each of those variants checked by
# scripts/helm-check.mjs, and values that must be refused (missing or contradictory) refused with
# a message that says what to set.
#
# helm is built from its Go module into .local/bin when missing (the Go toolchain is the only
# requirement; nothing is downloaded but Go modules). Override with HELM=/path/to/helm.
# Usage: bash scripts/helm-check.sh
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

chart="deploy/helm/stepwise"
helm_version="v3.22.0"
# The Kubernetes version helm assumes when there is no cluster (capabilities, lint's deprecation
# rules): its Makefile derives it from the k8s.io/client-go it depends on (v0.37 for v3.22.0);
# a plain `go install` would leave it at 1.20.
helm_k8s_minor="37"
helm="${HELM:-$root/.local/bin/helm}"

step() { printf '\n==> %s\n' "$*"; }
die() {
  printf 'helm-check: FAILED: %s\n' "$*" >&2
  exit 1
}

installed_version() { "$helm" version --template '{{.Version}}' 2>/dev/null || true; }

if [ -z "${HELM:-}" ] && [ "$(installed_version)" != "$helm_version" ]; then
  command -v go >/dev/null 2>&1 ||
    die "helm $helm_version is not at $helm and there is no Go toolchain to build it (install Go 1.26 or later, or set HELM)"
  step "building helm $helm_version with $(go version | cut -d' ' -f3) into $(dirname "$helm")"
  mkdir -p "$(dirname "$helm")"
  started=$(date +%s)
  pkg="helm.sh/helm/v3"
  # As helm's Makefile builds it: its version and the Kubernetes version it assumes stamped in,
  # no debug symbols, CGO off (a static binary, no C compiler needed). GOTOOLCHAIN=local: never
  # fetch another Go (helm v3.22 needs Go 1.26).
  ldflags="-w -s -X $pkg/internal/version.version=$helm_version"
  for var in pkg/chartutil pkg/lint/rules; do
    ldflags+=" -X $pkg/$var.k8sVersionMajor=1 -X $pkg/$var.k8sVersionMinor=$helm_k8s_minor"
  done
  GOBIN="$(dirname "$helm")" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
    go install -trimpath -ldflags "$ldflags" "$pkg/cmd/helm@$helm_version" ||
    die "go install $pkg/cmd/helm@$helm_version failed"
  printf 'built helm in %ss\n' "$(($(date +%s) - started))"
fi
[ -n "$(installed_version)" ] || die "$helm does not run"

[ -d node_modules/yaml ] || die "node_modules/yaml is missing: run npm ci first"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

# Runs one helm command quietly; prints its output and fails the check when it fails.
run() {
  local label="$1"
  shift
  if "$helm" "$@" >"$out/last.log" 2>&1; then
    printf 'ok   %s\n' "$label"
  else
    cat "$out/last.log" >&2
    die "$label"
  fi
}

variants=()
for file in "$chart"/ci/*.yaml; do variants+=("$file"); done
[ ${#variants[@]} -gt 0 ] || die "no values files in $chart/ci"

step "helm lint --strict"
# With the default values the required ones are missing: lint reports their messages as INFO and
# passes (helm lint never fails on `required`); the refusal itself is checked further down.
run "lint (default values)" lint --strict "$chart"
for file in "${variants[@]}"; do
  run "lint ($file)" lint --strict "$chart" -f "$file"
done

step "helm template, then scripts/helm-check.mjs on each rendering"
rendered=()
for file in "${variants[@]}"; do
  name="$(basename "$file" .yaml)"
  run "template ($file)" template stepwise "$chart" \
    --namespace stepwise -f "$file"
  cp "$out/last.log" "$out/$name.rendered.yaml"
  rendered+=("$name=$out/$name.rendered.yaml")
done
node scripts/helm-check.mjs "${rendered[@]}" || die "the rendered manifests do not hold (above)"

step "NOTES.txt renders for each variant"
# helm renders NOTES.txt only on install, which needs a cluster: render it here through `tpl`
# from a copy of the chart.
cp -r "$chart" "$out/chart"
cp "$chart/templates/NOTES.txt" "$out/chart/notes-under-test.txt"
cat >"$out/chart/templates/notes-under-test.yaml" <<'TEMPLATE'
apiVersion: v1
kind: ConfigMap
metadata:
  name: notes-under-test
data:
  notes: {{ tpl (.Files.Get "notes-under-test.txt") . | toJson }}
TEMPLATE
for file in "${variants[@]}"; do
  run "notes ($file)" template stepwise "$out/chart" --namespace stepwise -f "$file" \
    --show-only templates/notes-under-test.yaml
  grep -q 'is installed as release stepwise' "$out/last.log" || die "notes ($file): unexpected text"
done

step "values that must be refused"
minimal="$chart/ci/minimal-values.yaml"
# Each case: a label, the message helm must print, then the arguments added to `helm template`.
refused() {
  local label="$1" expected="$2"
  shift 2
  if "$helm" template stepwise "$chart" "$@" >"$out/refused.log" 2>&1; then
    die "$label: helm template succeeded, but must refuse these values"
  fi
  if ! grep -qF -- "$expected" "$out/refused.log"; then
    cat "$out/refused.log" >&2
    die "$label: helm template failed without saying \"$expected\""
  fi
  printf 'ok   refused: %s (%s)\n' "$label" "$(grep -m1 -oF -- "$expected" "$out/refused.log")"
}
refused "no values at all" "mongo.url is required"
refused "no mongo.url" "mongo.url is required" -f "$minimal" --set mongo.url=
refused "no redis.url" "redis.url is required" -f "$minimal" --set redis.url=
refused "no secrets.adminToken" "secrets.adminToken is required" -f "$minimal" --set secrets.adminToken=
refused "mongo.url not a MongoDB URL" "mongo.url must be a mongodb://" \
  -f "$minimal" --set mongo.url=postgres://db/stepwise
refused "redis.url not a Redis URL" "must be a redis:// or rediss:// URL" \
  -f "$minimal" --set 'redis.url=redis://a:6379\,http://b:6379'
refused "short admin token" "secrets.adminToken must be at least 16 characters" \
  -f "$minimal" --set secrets.adminToken=short
refused "existingSecret and secrets together" "never both" \
  -f "$minimal" --set existingSecret=stepwise-credentials
refused "a secret in the ConfigMap" "config.ADMIN_TOKEN is set by the chart" \
  -f "$minimal" --set config.ADMIN_TOKEN=0123456789abcdef0123
refused "a secret in a service's ConfigMap" "runner.config.LLM_API_KEY is set by the chart" \
  -f "$minimal" --set runner.config.LLM_API_KEY=sk-0123456789
refused "REDIS_CLUSTER outside redis.cluster" "use redis.cluster instead" \
  -f "$minimal" --set-string config.REDIS_CLUSTER=true
refused "redis.cluster not a boolean" "at '/redis/cluster': got string, want boolean" -f "$minimal" --set-string redis.cluster=yes
refused "a misspelt key" "additional properties 'replicas' not allowed" \
  -f "$minimal" --set gateway.replicas=3

printf '\nhelm-check: chart %s passed (helm %s, %d variants)\n' "$chart" \
  "$("$helm" version --template '{{.Version}}')" "${#variants[@]}"

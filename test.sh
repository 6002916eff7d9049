#!/usr/bin/env bash
# Runs every test of VNodeMesh. On a fresh machine it first installs what the tests need (Redis,
# helm and kubectl for the chart, Chromium for the dashboard) and builds a real Kubernetes control
# plane (kube-local: ~8 min once, then cached in ~/.cache/kube-local).
# Ends with the failed tests, if any, and one plain line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"

command -v dotnet >/dev/null || { echo "the .NET 10 SDK (dotnet) is required" >&2; exit 2; }
# Redis from Debian's package: the cluster tests start their own servers on free ports.
if ! command -v redis-server >/dev/null; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; } >&2 \
    || { echo "installing redis-server failed" >&2; exit 2; }
fi
# Chromium from Debian's package: the dashboard's page tests drive it through Playwright, which
# cannot download browsers here.
if [ ! -x /usr/bin/chromium ]; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >&2 \
    || { echo "installing chromium failed" >&2; exit 2; }
fi
kube_local=${KUBE_LOCAL_DIR:-../shared/tools/kube-local}
[ -x "$kube_local/up.sh" ] || { echo "kube-local not found at $kube_local (set KUBE_LOCAL_DIR)" >&2; exit 2; }

# The tests' own control plane, on its own ports and run directory so it never meets another one.
# No watch cache and a 10 s compaction make an interrupted watch meet 410 Gone, as the tests need.
export KUBE_LOCAL_RUN=${TMPDIR:-/tmp}/vnodemesh-tests-kube
export KUBE_LOCAL_KUBECONFIG=$KUBE_LOCAL_RUN/kubeconfig
export APISERVER_PORT=17443 ETCD_PORT=17379 ETCD_PEER_PORT=17380 CONTROLLER_MANAGER_PORT=17457 SCHEDULER_PORT=17459
export KUBE_LOCAL_COMPONENTS=full COMPACTION_INTERVAL=10s EXTRA_APISERVER_ARGS=--watch-cache=false
"$kube_local/build.sh" >&2 || { echo "building kube-local failed" >&2; exit 2; }
# helm v4 and kubectl v1.33 for the chart's tests (tools/install-helm.sh: once, then cached in ~/.cache).
helm_tools=$(tools/install-helm.sh) || { echo "installing helm and kubectl failed" >&2; exit 2; }
export VNODEMESH_HELM=$helm_tools/helm/helm VNODEMESH_KUBECTL=$helm_tools/kubectl/kubectl
"$kube_local/down.sh" >/dev/null 2>&1 # a previous run's control plane, if one was left behind
KUBECONFIG=$("$kube_local/up.sh") || { echo "starting kube-local failed" >&2; exit 2; }
export KUBECONFIG

results=$(mktemp -d)
trap '"$kube_local/down.sh" >/dev/null 2>&1; rm -rf "$results"' EXIT
dotnet test VNodeMesh.sln -c Release --logger "console;verbosity=normal" --results-directory "$results" "$@" 2>&1 | tee "$results/out.txt"
status=${PIPESTATUS[0]}

# One summary line per test assembly: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ..."
passed=$(grep -oE 'Passed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the build or the test host failed before any test could
fi
if [ "$failed" -gt 0 ]; then
  # Each failed test and the first lines of its message, where the end of a long log still shows them.
  echo "Failed tests:"
  awk '/^  Failed [A-Za-z]/ {print; shown=0; inmsg=1; next}
       inmsg && /^  Stack Trace:/ {inmsg=0; next}
       inmsg && shown < 8 {print; shown++}' "$results/out.txt"
fi
echo "$passed passed, $failed failed"
exit "$status"

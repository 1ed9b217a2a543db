#!/usr/bin/env bash
# This repository's .pre-commit-hooks.yaml, run by pre-commit itself (`pre-commit try-repo`)
# in a throwaway git repository made from tests/ci/pre-commit-repo: the hook fails on a
# Deployment without a liveness probe, names the check and its line, and passes once fixed.
# Usage: pre-commit.sh PRODREADY_BINARY PRE_COMMIT_BINARY
set -euo pipefail
bin="$1"
pre_commit="$2"
repo_root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$repo_root/tests/ci/pre-commit-repo/." "$work/"
# The repository's config: its manifests' folder, and health-check alone (every other rule
# switched off, whatever rules exist).
"$bin" rules --output json | python3 -c '
import json, sys
ids = [r["id"] for r in json.load(sys.stdin)]
print("paths: [deploy/]")
print("rules:")
for i in ids:
    print(f"  {i}: true" if i == "health-check" else f"  {i}: false")
' > "$work/.prodready.yaml"
mkdir -p "$work/bin"
ln -s "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$work/bin/prodready"
export PATH="$work/bin:$PATH"
export PRE_COMMIT_HOME="$work/.cache"
cd "$work"
git init -q .
git -c user.email=ci@example.com -c user.name=ci add -A
git -c user.email=ci@example.com -c user.name=ci commit -q -m fixture

set +e
out=$("$pre_commit" try-repo "$repo_root" prodready --all-files 2>&1)
code=$?
set -e
if [ "$code" -eq 0 ] || ! grep -q "health-check/probes-required" <<<"$out" \
   || ! grep -q "deploy/api.yaml:14:11" <<<"$out"; then
  echo "pre-commit: expected the hook to fail on deploy/api.yaml:14:11 probes-required (exit $code):" >&2
  echo "$out" >&2
  exit 1
fi
echo "pre-commit: the hook fails on the missing liveness probe, as it should"

sed -i 's|          image: registry.example.com/shop/api:4.1.0|&\n          livenessProbe: {httpGet: {path: /healthz, port: 8080}}|' deploy/api.yaml
git -c user.email=ci@example.com -c user.name=ci commit -q -am fix
if ! out=$("$pre_commit" try-repo "$repo_root" prodready --all-files 2>&1); then
  echo "pre-commit: expected the hook to pass once the liveness probe is added:" >&2
  echo "$out" >&2
  exit 1
fi
echo "pre-commit: and passes once it is fixed"

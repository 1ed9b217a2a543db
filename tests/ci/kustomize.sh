#!/usr/bin/env bash
# `kubectl kustomize tests/ci/kustomize/overlay | prodready check -`: the rendered overlay
# (namespace, name prefix, labels and a patch applied by kustomize) is checked from stdin, and
# gives exactly the findings its base's mistakes should.
set -euo pipefail
bin="$1"
cd "$(dirname "$0")/../.."
rendered=$(kubectl kustomize tests/ci/kustomize/overlay)
set +e
out=$(printf '%s\n' "$rendered" | "$bin" check --no-config --output json \
  --rule health-check --rule resource-management --rule maintenance -)
code=$?
set -e
if [ "$code" -ne 1 ]; then
  echo "kustomize: expected exit 1 (the overlay lacks a liveness probe), got $code" >&2
  printf '%s\n' "$out" >&2
  exit 1
fi
printf '%s\n' "$out" | python3 -c '
import json, sys
v = json.load(sys.stdin)
found = sorted(
    (o["object"]["kind"], o["object"]["namespace"], o["object"]["name"], f["check"], f["location"]["file"])
    for o in v["objects"] for f in o["violations"])
want = [
    ("Deployment", "payments-prod", "prod-ledger", "pdb-required", "<stdin>"),
    ("Deployment", "payments-prod", "prod-ledger", "probes-required", "<stdin>"),
]
if found != want:
    sys.exit(f"kustomize: findings {found}, expected {want}")
for o in v["objects"]:
    for f in o["violations"]:
        assert f["location"]["line"] > 1, f
print("kustomize: rendered overlay checked from stdin:", ", ".join(c for *_, c, _ in found))
'

#!/usr/bin/env bash
# A rule written outside this repository, end to end: `prodready new-rule --out` makes the
# crate in a temporary folder, `prodready build-rule` builds its three flavours, `prodready
# test --flavours all` runs its suites through the core ABI, Kubewarden's waPC and OPA (one
# suite passes, one fails on purpose and must be reported with the right diff), and `bundle
# kubewarden|opa --policy` package it like the embedded rules.
# Usage: out-of-tree.sh PRODREADY_BINARY JUNITPARSER_PYTHON [CARGO_TARGET_DIR_FOR_THE_RULE]
set -euo pipefail
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
python="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
target="${3:-$work/target}"
rule="$work/replica-guard"

"$bin" new-rule replica-guard --number 8 --title "Replica guard" --slide "slides 40-41" --out "$rule"
"$bin" build-rule "$rule" --out "$rule/dist" --target-dir "$target"
for f in replica-guard.wasm replica-guard.kubewarden.wasm replica-guard.opa.wasm; do
  test -s "$rule/dist/$f" || { echo "out-of-tree: $f was not built" >&2; exit 1; }
done
policy="$rule/dist/replica-guard.wasm"

# The template's suite passes in every flavour.
out=$("$bin" test --policy "$policy" --flavours all "$rule/prodready-test.yaml")
echo "$out"
grep -q "PASS .*Deployment/web  \[core, kubewarden, opa\]" <<<"$out"
grep -q "2 passed, 0 failed" <<<"$out"

# A suite that is wrong on purpose: it expects the check to fire on a Deployment that has an
# image. Every flavour must report the case as failed, with the missing id.
cat > "$rule/wrong.prodready-test.yaml" <<'SUITE'
fixture:
  rule: replica-guard
  expect:
    Deployment/api: [replica-guard-image-set]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.example.com/shop/api:2.0.0
SUITE
set +e
out=$("$bin" test --policy "$policy" --flavours all --output human --output "junit=$work/report.xml" "$rule")
code=$?
set -e
echo "$out"
if [ "$code" -ne 1 ]; then
  echo "out-of-tree: expected exit 1 for the failing suite, got $code" >&2
  exit 1
fi
grep -q "FAIL .*wrong.prodready-test.yaml:4  Deployment/api" <<<"$out"
for flavour in "core (manifest)" "kubewarden (admission)" "opa (admission)"; do
  grep -qF "$flavour: expected [\"replica-guard-image-set\"], got [] (- missing replica-guard-image-set)" <<<"$out" \
    || { echo "out-of-tree: no diff for $flavour" >&2; exit 1; }
done
grep -q "2 passed, 1 failed" <<<"$out"
"$python" - "$work/report.xml" <<'PY'
import sys, junitparser
xml = junitparser.JUnitXml.fromfile(sys.argv[1])
cases = [c for s in xml for c in s]
failed = [c for c in cases if c.result and any(isinstance(r, junitparser.Failure) for r in c.result)]
assert len(cases) == 3 and len(failed) == 1, (len(cases), len(failed))
assert "Deployment/api" in failed[0].name, failed[0].name
print(f"out-of-tree: JUnit parsed: {len(cases)} cases, {len(failed)} failed ({failed[0].name})")
PY

# Its metadata, explanation and bundles, like an embedded rule's.
"$bin" rules --no-embedded --policy "$policy" | grep -q "replica-guard-image-set"
"$bin" explain --policy "$policy" replica-guard-image-set | grep -q "How to fix"
"$bin" bundle kubewarden --no-embedded --policy "$policy" --out "$work/kubewarden"
test -s "$work/kubewarden/replica-guard/policy.wasm"
test -s "$work/kubewarden/replica-guard/policy.yaml"
"$bin" bundle opa --no-embedded --policy "$policy" --out "$work/opa"
tar tzf "$work/opa/replica-guard.tar.gz" | grep -q "prodready/replica-guard/policy.wasm"
echo "out-of-tree: built in three flavours, tested in each, bundled for Kubewarden and OPA"

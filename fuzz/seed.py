#!/usr/bin/env python3
"""Writes seed inputs for the fuzz targets into fuzz/corpus/<target>/ from tests/fixtures and
examples/ (fuzz/corpus is git-ignored; run this before the first `cargo fuzz run`).

    python3 fuzz/seed.py            # adds seeds; existing corpus files are kept
    cd fuzz && CARGO_TARGET_DIR=/tmp/fuzz-target cargo fuzz run evaluate -- -max_total_time=600

Targets: evaluate, envelope, settings, loader, quantity (fuzz/fuzz_targets/). Inputs that once
crashed a target are under fuzz/regressions/<target>/; replay them with
`cd fuzz && cargo fuzz run <target> regressions/<target>/*` (host-harness/tests/regressions.rs runs
the same inputs in the ordinary test suite).

  evaluate  every fixture object as a full envelope (its fixture's settings and mode), plus a
            few with an inline context, other operations, and broken shapes
  envelope  every fixture object's JSON (the target wraps it in an envelope itself)
  settings  every fixture's settings, every rule's defaults (from `prodready rules`), each key
            alone and with a wrong type, and a severity override per check id
  loader    the fixture and example files themselves, and a few YAML/JSON edge cases
  quantity  valid and invalid quantity strings

Needs PyYAML. YAML 1.1 reading (`yes` as true, ...) differs from the loader's in corners; seeds
only need to be close.
"""

import hashlib
import json
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "examples"


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"), default=str, ensure_ascii=False)


def write(target: str, data) -> None:
    if isinstance(data, str):
        data = data.encode()
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def objects(docs):
    """Kubernetes objects of a YAML stream, List items expanded."""
    for doc in docs:
        if not isinstance(doc, dict) or "kind" not in doc:
            continue
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            yield from (i for i in doc["items"] if isinstance(i, dict))
        else:
            yield doc


def gvk(obj):
    api_version = str(obj.get("apiVersion", ""))
    group, _, version = api_version.rpartition("/")
    return {"group": group, "version": version, "kind": str(obj.get("kind", ""))}


def envelope(obj, settings=None, mode="manifest", operation="CREATE", context=None, kind=True):
    request = {"uid": "1", "operation": operation, "object": obj}
    if kind:
        request = {"uid": "1", "kind": gvk(obj), "operation": operation, "object": obj}
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    if meta.get("name"):
        request["name"] = meta["name"]
    if meta.get("namespace"):
        request["namespace"] = meta["namespace"]
    env = {"request": request, "settings": settings if settings is not None else {}, "mode": mode}
    if context is not None:
        env["context"] = {"objects": context}
    return dumps(env)


# Settings of no rule in particular; each rule's own keys come from its metadata (`rules()`).
SETTINGS = [
    None,
    {},
    {"audit": True},
    {"audit": False, "severity": {}},
    # broken
    {"severity": {"no-such-check": "off"}},
    {"audit": "yes"},
    {"unknownKey": 1},
    [],
    "settings",
    42,
]


def rules():
    """Every embedded rule's metadata, from `prodready rules --output json` (so a rule added
    later is seeded with no edit here)."""
    out = subprocess.run(
        ["cargo", "run", "--release", "-q", "--", "rules", "--output", "json"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def wrong(value):
    """A value of another JSON type than `value`."""
    return "x" if not isinstance(value, str) else 1


def main() -> None:
    check_ids = set()
    for rule in rules():
        check_ids.update(c["id"] for c in rule["checks"])
        props = rule["settingsSchema"].get("properties", {})
        defaults = {k: v["default"] for k, v in props.items() if "default" in v}
        write("settings", dumps(defaults))
        for key, value in defaults.items():
            write("settings", dumps({key: value}))
            write("settings", dumps({key: wrong(value)}))
    fixture_objects = []
    for path in sorted(FIXTURES.glob("*/*.yaml")) + sorted(EXAMPLES.glob("**/*.yaml")):
        text = path.read_text()
        write("loader", text)
        docs = list(yaml.safe_load_all(text))
        header = docs[0].get("fixture") if docs and isinstance(docs[0], dict) else None
        if header:
            docs = docs[1:]
        settings = (header or {}).get("settings") or {}
        mode = (header or {}).get("mode") or "manifest"
        objs = list(objects(docs))
        write("settings", dumps(settings))
        # A JSON rendering of the whole file, as `kubectl get -o json` would give it.
        write("loader", json.dumps({"apiVersion": "v1", "kind": "List", "items": objs},
                                   default=str, indent=2))
        for obj in objs:
            fixture_objects.append(obj)
            write("envelope", dumps(obj))
            write("evaluate", envelope(obj, settings, mode))
            write("evaluate", envelope(obj, settings, mode, context=objs))
        if objs:
            obj = objs[0]
            write("evaluate", envelope(obj, kind=False))
            write("evaluate", envelope(obj, {"audit": True}, "admission", "UPDATE"))
            write("evaluate", envelope(obj, settings, mode, "DELETE"))

    for s in SETTINGS:
        write("settings", "" if s is None else dumps(s))
    for check in sorted(check_ids):
        for level in ("error", "warning", "off"):
            write("settings", dumps({"severity": {check: level}}))

    # Envelopes around the edges of the format.
    write("evaluate", '{"request":{"kind":{"group":"","version":"v1","kind":"Service"},'
                      '"object":{"apiVersion":"v1","kind":"Service","metadata":{"name":"s"}}}}')
    write("evaluate", '{"request":{"object":null}}')
    write("evaluate", '{"request":{},"setings":{}}')
    write("evaluate", '{"objects":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},'
                      '"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":"http"}]}}]}')
    write("evaluate", "[]")
    write("envelope", "null")
    write("envelope", '{"apiVersion":"apps/v1","kind":"StatefulSet","spec":{"template":{"spec":{"containers":[]}}}}')

    # Loader edge cases: flow style, anchors and merge keys, lists, directives, documents ended.
    for text in [
        "{apiVersion: v1, kind: Pod, metadata: {name: a}}\n",
        "%YAML 1.2\n---\napiVersion: v1\nkind: ConfigMap\ndata: {a: &x 1, b: *x}\n...\n",
        "base: &b {apiVersion: v1}\n---\n<<: *b\nkind: Secret\n",
        "--- {apiVersion: v1, kind: List, items: [{apiVersion: v1, kind: Pod}]}\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    on: yes\n    mode: 0644\n",
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}',
        "- a\n- b\n",
        "---\n---\n# only a comment\n",
    ]:
        write("loader", text)

    for q in ["0", "1", "100m", "1.5Gi", "2e3", "1E-3", "500Mi", "0.1n", "+2", "-1", "1Ki", "1Ei",
              "9999999999999999999999999999Ei", "1e40", "1e-40", ".5", "5.", "", "Gi", "1.2.3",
              "1e", "1e99", " 3 ", "1Gb", "0.000000000000000000000000000001Ei"]:
        write("quantity", q)

    counts = {d.name: len(list(d.iterdir())) for d in sorted(CORPUS.iterdir()) if d.is_dir()}
    print("seed corpus:", ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()

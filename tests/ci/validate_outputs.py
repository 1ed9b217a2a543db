"""SARIF and JUnit from `prodready check`, read by each format's own tools.

Usage: validate_outputs.py PRODREADY_BINARY
Runs the binary on the examples and the CI fixtures, then validates the SARIF against the
official 2.1.0 schema (jsonschema, Draft 4, as the schema declares) and parses the JUnit XML
with junitparser. Exits non-zero on the first problem.
"""

import hashlib
import json
import pathlib
import subprocess
import sys
import tempfile

import jsonschema
import junitparser

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCHEMA = HERE / "sarif-schema-2.1.0.json"
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"

INPUTS = [
    ["examples/"],
    ["tests/ci/helm/shop-rendered.yaml"],
    ["tests/fixtures/"],
]


def run(binary, paths, out_dir):
    sarif = out_dir / "out.sarif"
    junit = out_dir / "out.xml"
    proc = subprocess.run(
        [binary, "check", "--no-config", "--failure-policy", "ignore",
         "--output", f"sarif={sarif}", "--output", f"junit={junit}", *paths],
        cwd=ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.exit(f"prodready check {paths}: exit {proc.returncode}\n{proc.stderr}")
    return sarif, junit


def main():
    binary = sys.argv[1]
    digest = hashlib.sha256(SCHEMA.read_bytes()).hexdigest()
    if digest != SCHEMA_SHA256:
        sys.exit(f"{SCHEMA}: sha256 {digest}, expected the OASIS file {SCHEMA_SHA256}")
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft4Validator(schema)
    for paths in INPUTS:
        with tempfile.TemporaryDirectory() as tmp:
            sarif, junit = run(binary, paths, pathlib.Path(tmp))
            log = json.loads(sarif.read_text())
            errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
            if errors:
                for e in errors[:10]:
                    print(f"SARIF {paths}: {list(e.path)}: {e.message}", file=sys.stderr)
                sys.exit(1)
            results = log["runs"][0]["results"]
            for r in results:
                region = r["locations"][0]["physicalLocation"]["region"]
                assert region["startLine"] >= 1 and region["startColumn"] >= 1, r
            xml = junitparser.JUnitXml.fromfile(str(junit))
            cases = [case for suite in xml for case in suite]
            failed = [c for c in cases if c.result and any(
                isinstance(x, (junitparser.Failure, junitparser.Error)) for x in c.result)]
            print(f"{' '.join(paths)}: SARIF valid ({len(results)} results); "
                  f"JUnit parsed ({len(cases)} cases, {len(failed)} failing)")
            if not cases:
                sys.exit(f"JUnit {paths}: no test cases")


if __name__ == "__main__":
    main()

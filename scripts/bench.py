#!/usr/bin/env python3
"""Whole-process benchmark: `prodready check` on the seeded 1k and 10k corpora and on one small
file (cold start), wall time and peak RSS, next to checkov on the same files, ratios printed
side by side in one run. Results go to bench-out/results.json; docs/performance.md quotes them.

    python3 scripts/bench.py                 # everything (installs checkov into bench-out/venv)
    python3 scripts/bench.py --no-peers      # prodready only
    python3 scripts/bench.py --runs 7        # more repetitions (medians are reported)
    python3 scripts/bench.py --skip-100k     # without the 100,000-object run (one run, ~1 min)

Every rule module is measured: the script runs whatever modules the binary embeds, so a rule
added later is measured by the same command.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench-out"
CHECKOV = "checkov==3.3.30"
SEED = 42


def target_dir() -> Path:
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))


def run_measured(cmd, cwd=ROOT, env=None):
    """Runs cmd once under GNU time; returns (wall seconds, peak RSS in MiB, stdout, stderr,
    exit code). The wall time is taken around the whole process, as a user sees it."""
    rss_file = OUT / ".rss"
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] + cmd, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    try:
        rss = int(rss_file.read_text().strip().splitlines()[-1]) / 1024.0
    except (OSError, ValueError, IndexError):
        rss = float("nan")
    return wall, rss, proc.stdout, proc.stderr, proc.returncode


def median_wall(cmd, runs, env=None):
    walls, rsss = [], []
    out = err = b""
    code = None
    for _ in range(runs):
        wall, rss, out, err, code = run_measured(cmd, env=env)
        walls.append(wall)
        rsss.append(rss)
    return statistics.median(walls), walls, max(rsss), out, err, code


def module_errors(out: bytes):
    """The summary line's module errors: a run with any is not a valid measurement (the
    rules that failed stopped early)."""
    m = re.search(rb"(\d+) module errors", out)
    return int(m.group(1)) if m else None


def timings(stderr: bytes):
    """Phase timings printed by `prodready check --timings`."""
    phases = {}
    for line in stderr.decode(errors="replace").splitlines():
        if not line.startswith("timings: "):
            continue
        text = line[len("timings: "):]
        value = float(text.rsplit(" ", 2)[-2])
        if text.startswith("rule "):
            phases[text.split(":")[0]] = value
        elif "read and parsed" in text:
            phases["load+parse"] = value
        elif "serialized" in text:
            phases["serialize"] = value
        elif text.startswith("modules loaded"):
            phases["modules"] = value
        elif text.startswith("all rules"):
            phases["evaluate (all rules, parallel)"] = value
        elif "findings located" in text:
            phases["findings"] = value
        elif text.startswith("total"):
            phases["total"] = value
    return phases


def build():
    subprocess.run(["cargo", "build", "--release", "-p", "prodready-host", "--bins"], cwd=ROOT, check=True)
    return target_dir() / "release" / "prodready", target_dir() / "release" / "gen-corpus"


def corpus(gen: Path, n: int) -> Path:
    d = OUT / f"corpus-{n // 1000}k"
    d.mkdir(parents=True, exist_ok=True)
    f = d / "manifests.yaml"
    with open(f, "wb") as fh:
        subprocess.run([str(gen), "--objects", str(n), "--seed", str(SEED)], stdout=fh, check=True)
    return f


def checks_run(prodready: Path, manifest: Path) -> int:
    """(object, check) pairs prodready evaluated: each object times the checks of every rule
    that evaluated it."""
    rules = json.loads(subprocess.run([str(prodready), "rules", "--output", "json"], capture_output=True,
                                      check=True).stdout)
    per_rule = {r["id"]: len(r["checks"]) for r in rules}
    out = subprocess.run([str(prodready), "check", "--no-config", "--output", "json", str(manifest)],
                         capture_output=True).stdout
    doc = json.loads(out)
    return sum(per_rule.get(r, 0) for o in doc["objects"] for r in o["rules"])


def checkov_setup() -> Path:
    venv = OUT / "venv"
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(venv / "bin" / "checkov"), "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        subprocess.run([str(py), "-m", "pip", "install", "-q", CHECKOV], check=True)
    return venv / "bin" / "checkov"


def checkov_cmd(checkov: Path, manifest: Path):
    return [str(checkov), "-f", str(manifest), "--framework", "kubernetes", "--skip-download",
            "--quiet", "--compact", "-o", "json"]


def checkov_checks(out: bytes) -> int:
    try:
        doc = json.loads(out)
    except json.JSONDecodeError:
        return -1
    docs = doc if isinstance(doc, list) else [doc]
    total = 0
    for d in docs:
        s = d.get("summary", {}) if isinstance(d, dict) else {}
        total += s.get("passed", 0) + s.get("failed", 0) + s.get("skipped", 0)
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--skip-100k", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(exist_ok=True)
    prodready, gen = build()
    files = {"small": ROOT / "examples" / "bookstore" / "web.yaml", "1k": corpus(gen, 1000), "10k": corpus(gen, 10000)}
    if not args.skip_100k:
        files["100k"] = corpus(gen, 100000)
    env = dict(os.environ)
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "cpu": next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                        if l.startswith("model name")), "?")},
               "runs": args.runs, "prodready": {}, "checkov": {}}
    for name, f in files.items():
        cmd = [str(prodready), "check", "--no-config", "--timings", str(f)]
        if name == "100k":
            # The whole set's context (~60 MB of workloads) does not fit the default 64 MiB
            # cap of four modules, nor their context scans the 1 s deadline (docs/performance.md).
            cmd[2:2] = ["--memory-mib", "512", "--deadline-ms", "20000"]
        runs = {"10k": max(3, args.runs // 2), "100k": 1}.get(name, args.runs)
        med, walls, rss, out, err, code = median_wall(cmd, runs, env)
        errors = module_errors(out)
        if code not in (0, 1) or errors:
            print(f"prodready {name}: INVALID run: exit {code}, {errors} module errors", flush=True)
        results["prodready"][name] = {
            "file": str(f.relative_to(ROOT)), "bytes": f.stat().st_size, "wall_s_median": med, "walls": walls,
            "peak_rss_mib": rss, "exit": code, "module_errors": errors, "phases_ms": timings(err),
            "checks_run": checks_run(prodready, f) if name != "100k" else None,
        }
        print(f"prodready {name:>5}: {med * 1000:9.1f} ms  rss {results['prodready'][name]['peak_rss_mib']:6.1f} MiB"
              f"  checks {results['prodready'][name]['checks_run']}", flush=True)
    if not args.no_peers:
        checkov = checkov_setup()
        for name, f in files.items():
            if name == "100k":
                continue  # checkov takes hours on it
            cmd = checkov_cmd(checkov, f)
            wall, rss, out, err, code = run_measured(cmd)
            results["checkov"][name] = {"wall_s": wall, "peak_rss_mib": rss, "exit": code,
                                        "checks_run": checkov_checks(out), "version": CHECKOV}
            ratio = wall / results["prodready"][name]["wall_s_median"]
            print(f"checkov   {name:>5}: {wall * 1000:9.1f} ms  rss {results['checkov'][name]['peak_rss_mib']:6.1f} MiB"
                  f"  checks {results['checkov'][name]['checks_run']}  -> prodready is {ratio:.0f}x faster", flush=True)
    p1, p10 = results["prodready"]["1k"]["wall_s_median"], results["prodready"]["10k"]["wall_s_median"]
    results["growth_10k_over_1k"] = p10 / p1
    print(f"growth 10k/1k: {p10 / p1:.1f}x")
    if "100k" in results["prodready"]:
        p100 = results["prodready"]["100k"]["wall_s_median"]
        results["growth_100k_over_10k"] = p100 / p10
        print(f"growth 100k/10k: {p100 / p10:.1f}x")
    (OUT / "results.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {OUT / 'results.json'}")


if __name__ == "__main__":
    main()

// The JS package gives the CLI's verdicts: for every fixture under tests/fixtures, the
// package's `check` and `prodready check --no-config --output json` answer the same report,
// with the rules' default settings and, for the cases below, with settings.
//
//   node playground/tests/parity.mjs <path to the prodready binary>
//
// Needs playground/www/pkg (playground/build.sh). Run from anywhere; paths are the repo's.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = process.argv[2];
if (!bin) {
  console.error("usage: node playground/tests/parity.mjs <prodready binary>");
  process.exit(2);
}

const pkg = await import(join(root, "playground/www/pkg/prodready.js"));
pkg.initSync({ module: readFileSync(join(root, "playground/www/pkg/prodready_bg.wasm")) });

/** `prodready check --output json`, run from the repo root; its exit status is 0, 1 or 2. */
function cli(file, settings) {
  const args = ["check", "--no-config", "--output", "json", file];
  const dir = settings && mkdtempSync(join(tmpdir(), "prodready-parity-"));
  if (settings) {
    const path = join(dir, "settings.json");
    writeFileSync(path, JSON.stringify(settings));
    args.push("--settings", path);
  }
  try {
    return execFileSync(bin, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch (e) {
    if (e.status === 1 || e.status === 2) return e.stdout;
    throw e;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** The first place two JSON values differ, as a path. */
function firstDifference(a, b, path = "$") {
  if (isDeepStrictEqual(a, b)) return null;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return `${path}: ${JSON.stringify(a)} != ${JSON.stringify(b)}`;
  }
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const d = firstDifference(a[k], b[k], Array.isArray(a) ? `${path}[${k}]` : `${path}.${k}`);
    if (d) return d;
  }
  return `${path}: differs`;
}

const cases = [];
const fixtures = join(root, "tests/fixtures");
for (const rule of readdirSync(fixtures).sort()) {
  for (const name of readdirSync(join(fixtures, rule)).sort()) {
    if (name.endsWith(".yaml")) cases.push({ file: relative(root, join(fixtures, rule, name)) });
  }
}
// Settings go through the same validation and reach the same rules.
cases.push(
  { file: "tests/fixtures/tuning/sysctls-safe.yaml", settings: { tuning: { allowedUnsafeSysctls: ["net.core.*"] } } },
  { file: "tests/fixtures/health-check/probe-timing.yaml", settings: { "health-check": { minLivenessFailureThreshold: 1, require: "readiness" } } },
);

let failed = 0;
let findings = 0;
for (const c of cases) {
  const want = JSON.parse(cli(c.file, c.settings));
  const text = readFileSync(join(root, c.file), "utf8");
  const got = JSON.parse(pkg.check(text, JSON.stringify(c.settings ?? {}), c.file));
  const diff = got.error ? `the package answered an error: ${got.error}` : firstDifference(got, want);
  const label = c.settings ? `${c.file} with ${JSON.stringify(c.settings)}` : c.file;
  if (diff) {
    failed++;
    console.error(`DIFFERENT ${label}\n  ${diff}`);
  } else {
    findings += want.objects.reduce((n, o) => n + o.violations.length + o.exempted.length, 0);
  }
}
// Bad input: the CLI's loader's error, not a report.
for (const [what, text] of [
  ["invalid YAML", "apiVersion: v1\nkind: [\n"],
  ["an alias bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"],
]) {
  const got = JSON.parse(pkg.check(text, "{}", "bad.yaml"));
  if (typeof got.error !== "string" || !got.error.startsWith("bad.yaml")) {
    failed++;
    console.error(`${what}: expected an error naming bad.yaml, got ${JSON.stringify(got).slice(0, 200)}`);
  }
}
const bad = JSON.parse(pkg.check("", JSON.stringify({ "no-such-rule": {} }), "x.yaml"));
if (!bad.error?.includes("unknown rule `no-such-rule`")) {
  failed++;
  console.error(`unknown rule settings: expected an error, got ${JSON.stringify(bad)}`);
}

if (failed) {
  console.error(`parity: ${failed} of ${cases.length + 3} cases differ`);
  process.exit(1);
}
console.log(`parity: ${cases.length} fixture runs (${findings} findings) identical to the CLI; bad input errors as the CLI's loader`);

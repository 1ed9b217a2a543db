// The playground's JS package: its size (raw and gzip, what a browser downloads), the time to
// compile and instantiate it, and `check` on the examples and on the seeded 1k corpus, in
// Node (the worker in the page runs the same module). docs/performance.md quotes it.
//
//   node scripts/bench_playground.mjs [runs]     (after playground/build.sh and a release build;
//                                               PLAYGROUND_PKG=dir measures another build)
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkgDir = process.env.PLAYGROUND_PKG || join(root, "playground/www/pkg");
const runs = Number(process.argv[2]) || 5;
const target = process.env.CARGO_TARGET_DIR || join(root, "target");

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (f) => {
  const t = process.hrtime.bigint();
  const out = f();
  return [Number(process.hrtime.bigint() - t) / 1e6, out];
};

for (const f of ["prodready_bg.wasm", "prodready.js"]) {
  const bytes = readFileSync(join(pkgDir, f));
  console.log(`${f}: ${bytes.length} bytes, gzip -9 ${gzipSync(bytes, { level: 9 }).length}`);
}

const pkg = await import(join(pkgDir, "prodready.js"));
const wasm = readFileSync(join(pkgDir, "prodready_bg.wasm"));
const [compile] = ms(() => new WebAssembly.Module(wasm));
const [init] = ms(() => pkg.initSync({ module: wasm }));
console.log(`compile ${compile.toFixed(0)} ms, instantiate ${init.toFixed(1)} ms`);

/** Every manifest file under `dir`, as repo-relative names. */
function manifests(dir) {
  return readdirSync(join(root, dir))
    .sort()
    .flatMap((f) => {
      const rel = `${dir}/${f}`;
      if (statSync(join(root, rel)).isDirectory()) return manifests(rel);
      return /\.(ya?ml|json)$/.test(f) ? [rel] : [];
    });
}
const names = manifests("examples");
const texts = names.map((f) => readFileSync(join(root, f), "utf8"));
const corpus = execFileSync(join(target, "release/gen-corpus"), ["--objects", "1000", "--seed", "42"], {
  encoding: "utf8",
  maxBuffer: 1 << 30,
});

for (const [label, call] of [
  [`examples/ (${names.length} files)`, () => pkg.checkFiles(names, texts, "{}")],
  ["1k corpus", () => pkg.check(corpus, "{}", "corpus.yaml")],
]) {
  const times = [];
  let out;
  for (let i = 0; i < runs; i++) {
    const [t, o] = ms(call);
    times.push(t);
    out = o;
  }
  const report = JSON.parse(out);
  if (report.error) throw new Error(`${label}: ${report.error}`);
  const s = report.summary;
  console.log(
    `${label}: median ${median(times).toFixed(1)} ms of ${runs} (${s.objects} objects, ${s.errors} errors, ${s.warnings} warnings, report ${out.length} bytes)`,
  );
}

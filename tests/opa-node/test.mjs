// Loads every prodready OPA-ABI module with the official npm SDK (@open-policy-agent/opa-wasm)
// and evaluates the cases the Rust test wrote: `node test.mjs cases.json`.
// cases.json: {"modules": {"<rule>": "<path to policy.wasm>"},
//              "cases": [{"name", "rule", "data", "input", "violation": [...], "warn": [...]}]}
// Prints one line per mismatch and a summary; exits 1 on any mismatch.
import { readFileSync } from "node:fs";
import { loadPolicy } from "@open-policy-agent/opa-wasm";

const sortEntries = (entries) =>
  entries.map((e) => JSON.stringify(e)).sort();

const { modules, cases } = JSON.parse(readFileSync(process.argv[2], "utf8"));
const policies = {};
for (const [rule, path] of Object.entries(modules)) {
  const wasm = readFileSync(path);
  // The SDK's default memory (5 pages), and the 2 pages OPA's Go runtime gives.
  policies[rule] = await loadPolicy(wasm);
  const small = await loadPolicy(wasm, { initial: 2 });
  const entrypoints = Object.keys(small.entrypoints).sort();
  const want = [`prodready/${rule}/violation`, `prodready/${rule}/warn`];
  if (JSON.stringify(entrypoints) !== JSON.stringify(want)) {
    console.log(`${rule}: entrypoints ${JSON.stringify(entrypoints)}`);
    process.exitCode = 1;
  }
}

let compared = 0;
let failed = 0;
let lastData = {};
for (const c of cases) {
  const policy = policies[c.rule];
  if (JSON.stringify(c.data) !== JSON.stringify(lastData[c.rule] ?? null)) {
    policy.setData(c.data);
    lastData[c.rule] = c.data;
  }
  for (const [entrypoint, want] of [
    [`prodready/${c.rule}/violation`, c.violation],
    [`prodready/${c.rule}/warn`, c.warn],
  ]) {
    const result = policy.evaluate(c.input, entrypoint);
    // A defined result: exactly one {"result": [...]}.
    if (!Array.isArray(result) || result.length !== 1 || !Array.isArray(result[0].result)) {
      console.log(`${c.name} ${entrypoint}: undefined or malformed result ${JSON.stringify(result)}`);
      failed++;
      continue;
    }
    const got = sortEntries(result[0].result);
    const expected = sortEntries(want);
    if (JSON.stringify(got) !== JSON.stringify(expected)) {
      console.log(`${c.name} ${entrypoint}: expected ${expected} got ${got}`);
      failed++;
    }
    compared++;
  }
}
console.log(JSON.stringify({ compared, failed }));
if (failed > 0) process.exitCode = 1;

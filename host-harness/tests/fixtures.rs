//! Runs every fixture (tests/fixtures, format in tests/README.md) through the rule modules in
//! wasmtime and natively, and checks the exact check ids — and that both give the same verdict.

mod common;

use std::collections::BTreeMap;

use common::{Expect, Fixture, fixtures, key, module, modules, native};
use prodready_host::check::{self, Mode, Target};
use prodready_sdk::Verdict;

fn mode(f: &Fixture) -> Mode {
    match f.header.mode.as_deref() {
        None | Some("manifest") => Mode::Manifest,
        Some("admission") => Mode::Admission,
        Some(other) => panic!("{}: unknown mode {other}", f.path.display()),
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Compares one verdict (None: the rule did not evaluate the object) with its expectation.
fn compare(expect: &Expect, verdict: Option<&Verdict>) -> Result<(), String> {
    let ids = |v: &Verdict| sorted(v.violations.iter().map(|x| x.check.clone()).collect());
    let exempt = |v: &Verdict| sorted(v.exempted.iter().map(|x| x.check.clone()).collect());
    match (expect, verdict) {
        (Expect::Word(w), None) if w == "skipped" => Ok(()),
        (Expect::Word(w), Some(v)) if w == "skipped" => {
            Err(format!("expected skipped, got {:?}", ids(v)))
        }
        (Expect::Word(w), _) => Err(format!("unknown expectation `{w}`")),
        (_, None) => Err("the rule did not evaluate this object".into()),
        (Expect::Ids(want), Some(v)) => {
            if let Some(e) = &v.error {
                return Err(format!("error verdict {:?}: {}", e.code, e.message));
            }
            let (got, want) = (ids(v), sorted(want.clone()));
            if got != want || !v.exempted.is_empty() {
                return Err(format!(
                    "expected {want:?}, got {got:?} (exempted {:?})\n{:#?}",
                    exempt(v),
                    v.violations
                ));
            }
            Ok(())
        }
        (Expect::Full(full), Some(v)) => {
            if let Some(code) = &full.error {
                let got = v
                    .error
                    .as_ref()
                    .map(|e| serde_json::to_value(e.code).unwrap());
                return if got.as_ref().and_then(|c| c.as_str()) == Some(code.as_str()) && !v.allowed
                {
                    Ok(())
                } else {
                    Err(format!("expected error {code}, got {:?}", v.error))
                };
            }
            if let Some(e) = &v.error {
                return Err(format!("error verdict {:?}: {}", e.code, e.message));
            }
            let want_v = sorted(full.violations.clone());
            let want_e = sorted(full.exempted.clone());
            if ids(v) != want_v || exempt(v) != want_e {
                return Err(format!(
                    "expected violations {want_v:?} exempted {want_e:?}, got {:?} and {:?}",
                    ids(v),
                    exempt(v)
                ));
            }
            if let Some(allowed) = full.allowed
                && allowed != v.allowed
            {
                return Err(format!(
                    "expected allowed: {allowed}, got {} ({:#?})",
                    v.allowed, v.violations
                ));
            }
            Ok(())
        }
    }
}

#[test]
fn every_fixture_gives_the_expected_check_ids_in_wasm() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in fixtures() {
        let m = module(&f.header.rule);
        let settings: BTreeMap<_, _> = f
            .header
            .settings
            .iter()
            .map(|s| (f.header.rule.clone(), s.clone()))
            .collect();
        let reports = check::check(
            common::host(),
            std::slice::from_ref(m),
            &settings,
            &f.documents,
            mode(&f),
        );
        let mut seen = Vec::new();
        for (doc, report) in f.documents.iter().zip(&reports) {
            let k = key(doc);
            seen.push(k.clone());
            let verdict = report.verdicts.first().map(|(_, v)| v);
            match f.header.expect.get(&k) {
                None => failures.push(format!("{}: {k} has no expectation", f.path.display())),
                Some(e) => {
                    checked += 1;
                    if let Err(msg) = compare(e, verdict) {
                        failures.push(format!("{}: {k}: {msg}", f.path.display()));
                    }
                }
            }
        }
        for k in f.header.expect.keys() {
            if !seen.contains(k) {
                failures.push(format!(
                    "{}: expectation {k} names no object",
                    f.path.display()
                ));
            }
        }
    }
    assert!(checked > 0, "no fixture object was checked");
    assert!(
        failures.is_empty(),
        "{} fixture failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn wasm_and_native_give_byte_identical_verdicts() {
    let mut compared = 0;
    for f in fixtures() {
        let m = module(&f.header.rule);
        let n = native(&f.header.rule);
        let settings_json = f
            .header
            .settings
            .as_ref()
            .map_or_else(|| "{}".to_string(), |s| s.to_string());
        let targets: Vec<Target> = f.documents.iter().map(Target::new).collect();
        let ctx = check::context_json(m.metadata(), &targets, check::DEFAULT_NAMESPACE);
        let mut session = prodready_host::Session::new(common::host(), m);
        if let Some(ctx) = &ctx {
            session
                .set_context(std::sync::Arc::new(ctx.clone()))
                .unwrap();
            let loaded = (n.context_load)(ctx);
            assert!(String::from_utf8_lossy(&loaded).contains("loaded"));
        }
        for (i, t) in targets.iter().enumerate() {
            if !m.metadata().handles(&t.group, &t.version, &t.kind) {
                continue;
            }
            let env = check::envelope(t, i, &settings_json, mode(&f));
            let wasm = session.evaluate(&env);
            let native_bytes = (n.evaluate)(&env);
            let native_verdict: Verdict = serde_json::from_slice(&native_bytes).unwrap();
            assert_eq!(
                wasm,
                native_verdict,
                "{}: {}",
                f.path.display(),
                key(&f.documents[i])
            );
            // Byte-identical output: the wasm verdict re-serialized is the native bytes.
            assert_eq!(serde_json::to_vec(&wasm).unwrap(), native_bytes);
            compared += 1;
        }
    }
    assert!(compared > 0);
}

#[test]
fn every_check_has_a_failing_and_a_passing_fixture() {
    let all = fixtures();
    let mut missing = Vec::new();
    for m in modules() {
        let md = m.metadata();
        for c in &md.checks {
            let file = common::fixtures_dir()
                .join(&md.id)
                .join(format!("{}.yaml", c.id));
            let Some(f) = all
                .iter()
                .find(|f| f.path.ends_with(format!("{}/{}.yaml", md.id, c.id)))
            else {
                missing.push(format!("{} has no fixture file", file.display()));
                continue;
            };
            assert_eq!(f.header.rule, md.id, "{}", f.path.display());
            let names = |e: &Expect| match e {
                Expect::Ids(v) => v.clone(),
                Expect::Full(full) => full.violations.clone(),
                Expect::Word(_) => Vec::new(),
            };
            let fails = f.header.expect.values().any(|e| names(e).contains(&c.id));
            let passes = f.header.expect.values().any(|e| match e {
                Expect::Word(_) => false,
                Expect::Full(full) if full.error.is_some() => false,
                e => !names(e).contains(&c.id),
            });
            if !fails {
                missing.push(format!("{}: no object fails {}", f.path.display(), c.id));
            }
            if !passes {
                missing.push(format!("{}: no object passes {}", f.path.display(), c.id));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

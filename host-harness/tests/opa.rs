//! The OPA flavour: every module has the OPA ABI 1.3 shape, and every fixture gives the same
//! Gatekeeper answer through the `eval_ctx` sequence, through `opa_eval` in both result
//! formats, and through the core ABI. Input the rule cannot read is a violation, never an
//! undefined or empty result.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use common::{Fixture, fixtures, key, module};
use prodready_host::check::{self, Mode, Target};
use prodready_host::opa::{OpaInstance, OpaModule};
use prodready_host::{embedded, opa_link};
use prodready_sdk::gatekeeper;
use serde_json::{Value, json};

fn opa_modules() -> &'static BTreeMap<String, OpaModule> {
    static MODULES: OnceLock<BTreeMap<String, OpaModule>> = OnceLock::new();
    MODULES.get_or_init(|| {
        embedded()
            .iter()
            .map(|m| {
                let module = OpaModule::new(common::host(), m.id, m.opa)
                    .unwrap_or_else(|e| panic!("{}: {e}", m.id));
                (m.id.to_string(), module)
            })
            .collect()
    })
}

fn instance(rule: &str, pages: u32) -> OpaInstance {
    opa_modules()[rule]
        .instantiate(common::host(), pages)
        .unwrap_or_else(|e| panic!("{rule}: {e}"))
}

fn fixture_docs(f: &Fixture) -> Vec<Value> {
    f.documents.iter().map(|d| d.value.clone()).collect()
}

/// Gatekeeper's input for a target: the review is the AdmissionRequest.
fn input(t: &Target, uid: usize, settings: &str) -> Vec<u8> {
    let env: Value =
        serde_json::from_slice(&check::envelope(t, uid, settings, Mode::Admission)).unwrap();
    serde_json::to_vec(&json!({"review": env["request"], "parameters": env["settings"]})).unwrap()
}

fn settings_json(f: &Fixture) -> String {
    f.header
        .settings
        .as_ref()
        .map_or_else(|| "{}".to_string(), Value::to_string)
}

/// The entries of a JSON result set `[{"result": [...]}]`, sorted.
fn entries(result: &Value) -> Vec<Value> {
    let set = result.as_array().expect("a result set");
    assert_eq!(set.len(), 1, "a defined result: {result}");
    let mut items = set[0]["result"].as_array().expect("a set").clone();
    items.sort_by_key(Value::to_string);
    items
}

fn expected(rule: &str, verdict: &prodready_sdk::Verdict) -> (Vec<Value>, Vec<Value>) {
    let sets = gatekeeper::sets(rule, verdict);
    let sort = |v: Vec<gatekeeper::GkViolation>| {
        let mut v: Vec<Value> = v
            .into_iter()
            .map(|e| serde_json::to_value(e).unwrap())
            .collect();
        v.sort_by_key(Value::to_string);
        v.dedup();
        v
    };
    (sort(sets.violation), sort(sets.warn))
}

/// A small reader for OPA's value format: JSON plus sets `{a, b}` and `set()`. Sets come back
/// as sorted arrays, so they compare with the JSON format's arrays.
fn parse_value(text: &str) -> Value {
    fn skip(s: &[u8], i: &mut usize) {
        while *i < s.len() && (s[*i] as char).is_whitespace() {
            *i += 1;
        }
    }
    fn value(text: &str, i: &mut usize) -> Value {
        let s = text.as_bytes();
        skip(s, i);
        if text[*i..].starts_with("set()") {
            *i += 5;
            return json!([]);
        }
        match s[*i] {
            b'{' => {
                *i += 1;
                skip(s, i);
                if s[*i] == b'}' {
                    *i += 1;
                    return json!({});
                }
                let first = value(text, i);
                skip(s, i);
                if s[*i] == b':' {
                    let mut obj = serde_json::Map::new();
                    *i += 1;
                    let v = value(text, i);
                    obj.insert(first.as_str().expect("string key").to_string(), v);
                    loop {
                        skip(s, i);
                        if s[*i] == b'}' {
                            *i += 1;
                            return Value::Object(obj);
                        }
                        assert_eq!(s[*i], b',');
                        *i += 1;
                        let k = value(text, i);
                        skip(s, i);
                        assert_eq!(s[*i], b':');
                        *i += 1;
                        let v = value(text, i);
                        obj.insert(k.as_str().unwrap().to_string(), v);
                    }
                }
                let mut items = vec![first];
                loop {
                    skip(s, i);
                    if s[*i] == b'}' {
                        *i += 1;
                        items.sort_by_key(Value::to_string);
                        return Value::Array(items);
                    }
                    assert_eq!(s[*i], b',');
                    *i += 1;
                    items.push(value(text, i));
                }
            }
            b'[' => {
                *i += 1;
                let mut items = Vec::new();
                loop {
                    skip(s, i);
                    if s[*i] == b']' {
                        *i += 1;
                        return Value::Array(items);
                    }
                    if !items.is_empty() {
                        assert_eq!(s[*i], b',');
                        *i += 1;
                    }
                    items.push(value(text, i));
                }
            }
            _ => {
                let mut de = serde_json::Deserializer::from_str(&text[*i..]).into_iter::<Value>();
                let v = de.next().expect("a scalar").expect("JSON scalar");
                *i += de.byte_offset();
                v
            }
        }
    }
    let mut i = 0;
    let v = value(text, &mut i);
    assert_eq!(text[i..].trim(), "", "trailing text in {text}");
    v
}

/// The result of one entrypoint through all three paths, after checking they agree.
fn evaluate_all_paths(inst: &mut OpaInstance, entrypoint: i32, input: &[u8]) -> Vec<Value> {
    let by_ctx = inst.eval_ctx(entrypoint, input).unwrap();
    let by_eval: Value =
        serde_json::from_str(&inst.opa_eval(entrypoint, input, 0).unwrap()).unwrap();
    assert_eq!(by_ctx, by_eval, "eval_ctx and opa_eval (JSON) differ");
    let value_text = inst.opa_eval(entrypoint, input, 1).unwrap();
    assert!(value_text.starts_with("{{\"result\":"), "{value_text}");
    let by_value = parse_value(&value_text);
    let mut sorted = by_eval.clone();
    if let Some(items) = sorted[0]["result"].as_array_mut() {
        items.sort_by_key(Value::to_string);
    }
    assert_eq!(
        by_value, sorted,
        "value format differs from JSON: {value_text}"
    );
    entries(&by_eval)
}

#[test]
fn every_module_has_the_opa_abi_1_3_shape() {
    for m in embedded() {
        opa_link::check_opa_shape(m.opa).unwrap_or_else(|e| panic!("{}: {e}", m.id));
        for pages in [2, 5] {
            let mut inst = instance(m.id, pages);
            assert_eq!(inst.abi_version().unwrap(), (1, 3), "{}", m.id);
            assert_eq!(
                inst.entrypoints().unwrap(),
                BTreeMap::from([
                    (format!("prodready/{}/violation", m.id), 0),
                    (format!("prodready/{}/warn", m.id), 1),
                ])
            );
            assert!(inst.builtins().unwrap().is_empty());
        }
        // The core module is not an OPA module, and a linked module is not linked twice.
        assert!(opa_link::check_opa_shape(m.wasm).is_err());
        assert!(opa_link::opa_link(m.opa).is_err());
    }
}

#[test]
fn every_fixture_gives_the_same_answer_through_eval_ctx_opa_eval_and_the_core_abi() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for f in fixtures() {
        let rule = f.header.rule.as_str();
        let m = module(rule);
        let settings = settings_json(&f);
        let (mut session, targets) = common::core_session(&f);
        let mut inst = instance(rule, 2);
        inst.set_data(&json!({"inventory": common::inventory(&fixture_docs(&f))}))
            .unwrap();
        for (i, t) in targets.iter().enumerate() {
            let k = key(&f.documents[i]);
            let t = &common::admitted(t);
            let input = input(t, i, &settings);
            let violation = evaluate_all_paths(&mut inst, 0, &input);
            let warn = evaluate_all_paths(&mut inst, 1, &input);
            if !m.metadata().handles(&t.group, &t.version, &t.kind) {
                if !violation.is_empty() || !warn.is_empty() {
                    failures.push(format!("{}: {k}: not skipped", f.path.display()));
                }
                continue;
            }
            let core = session.evaluate(&check::envelope(t, i, &settings, Mode::Admission));
            let (want_violation, want_warn) = expected(rule, &core);
            if violation != want_violation || warn != want_warn {
                failures.push(format!(
                    "{}: {k}: core {want_violation:?} / {want_warn:?}, OPA {violation:?} / {warn:?}",
                    f.path.display()
                ));
            }
            // A rejection in the core ABI is a non-empty violation set here, and back.
            if core.allowed != violation.is_empty() {
                failures.push(format!(
                    "{}: {k}: allowed={} but {} violations",
                    f.path.display(),
                    core.allowed,
                    violation.len()
                ));
            }
            compared += 1;
        }
    }
    assert!(compared > 50, "only {compared} objects compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn input_it_cannot_understand_is_a_violation_never_undefined() {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{}".to_vec(), "invalid-envelope"),
        (br#"{"review": 1}"#.to_vec(), "invalid-envelope"),
        (br#""just a string""#.to_vec(), "invalid-envelope"),
        (
            serde_json::to_vec(
                &json!({"review": common::admission_request(&common::deployment("web", "shop")), "parameters": {"nope": 1}}),
            )
            .unwrap(),
            "invalid-settings",
        ),
    ];
    for rule in opa_modules().keys() {
        let mut inst = instance(rule, 2);
        let broken = common::unreadable_object(common::module(rule));
        let mut cases = cases.clone();
        cases.push((
            serde_json::to_vec(&json!({"review": common::admission_request(&broken)})).unwrap(),
            "invalid-object",
        ));
        for (input, code) in &cases {
            let violation = evaluate_all_paths(&mut inst, 0, input);
            assert_eq!(
                violation.len(),
                1,
                "{rule}: {}",
                String::from_utf8_lossy(input)
            );
            assert_eq!(violation[0]["details"]["check"], "error", "{rule}");
            assert_eq!(
                violation[0]["details"]["code"], *code,
                "{rule}: {}",
                violation[0]["msg"]
            );
            assert!(
                violation[0]["msg"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("({code})"))
            );
        }
        // Nesting past serde_json's limit: `opa_eval` reads the text itself and answers with a
        // violation; on the eval_ctx path the module refuses to parse it (the host's load fails).
        let deep_input = format!(r#"{{"review": {deep}}}"#).into_bytes();
        let out: Value = serde_json::from_str(&inst.opa_eval(0, &deep_input, 0).unwrap()).unwrap();
        assert_eq!(
            entries(&out)[0]["details"]["code"],
            "invalid-envelope",
            "{rule}"
        );
        assert!(inst.eval_ctx(0, &deep_input).is_err(), "{rule}");
        // Nesting just inside the limit, in a field the rules skip, fits the 48 KiB stack of
        // a 2-page module: a defined answer, not a trap.
        let nested = format!("{}1{}", "[".repeat(127), "]".repeat(127));
        let mut d = common::deployment("web", "shop");
        d["spec"]["template"]["spec"]["affinity"] = json!({"x": 0});
        let text = json!({"review": common::admission_request(&d)})
            .to_string()
            .replace("{\"x\":0}", &nested);
        let out = inst.opa_eval(0, text.as_bytes(), 0);
        assert!(out.is_ok(), "{rule}: {out:?}");
        // An entrypoint the module does not have is a violation too.
        let unknown = inst.eval_ctx(7, b"{}").unwrap();
        assert_eq!(entries(&unknown)[0]["details"]["code"], "abi");
    }
}

#[test]
fn cross_object_checks_read_gatekeeper_inventory_and_data_patches() {
    let mut inst = instance("graceful-shutdown", 2);
    let input = serde_json::to_vec(
        &json!({"review": common::admission_request(&common::deployment("web", "shop"))}),
    )
    .unwrap();
    let ids = |v: &[Value]| {
        v.iter()
            .map(|e| e["details"]["check"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(ids(&evaluate_all_paths(&mut inst, 1, &input)).is_empty());
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    });
    let code = inst
        .data_add_path(
            &["inventory", "namespace", "shop", "v1", "Service", "web"],
            &service,
        )
        .unwrap();
    assert_eq!(code, 0);
    // prestop-delay is a warning: it is in the `warn` set, and `violation` stays empty.
    assert_eq!(
        ids(&evaluate_all_paths(&mut inst, 1, &input)),
        ["prestop-delay"]
    );
    assert!(evaluate_all_paths(&mut inst, 0, &input).is_empty());
    // A Service in another namespace does not select it.
    let other = serde_json::to_vec(
        &json!({"review": common::admission_request(&common::deployment("web", "other"))}),
    )
    .unwrap();
    assert!(ids(&evaluate_all_paths(&mut inst, 1, &other)).is_empty());
    // Paths that are not arrays of strings are refused with the ABI's code.
    assert_eq!(inst.data_add_path(&[], &json!(1)).unwrap(), 3);
}

#[test]
fn the_heap_is_rewound_between_evaluations() {
    let mut inst = instance("resource-management", 2);
    let input = serde_json::to_vec(
        &json!({"review": common::admission_request(&common::deployment("web", "shop"))}),
    )
    .unwrap();
    let mut sizes = Vec::new();
    for round in 0..300 {
        inst.eval_ctx(0, &input).unwrap();
        inst.opa_eval(0, &input, 0).unwrap();
        if round == 10 || round == 299 {
            sizes.push(inst.memory_pages());
        }
    }
    assert_eq!(
        sizes[0], sizes[1],
        "memory grew across evaluations: {sizes:?}"
    );
    // A large input grows memory instead of failing.
    let mut big = common::deployment("web", "shop");
    big["metadata"]["annotations"] = json!({"blob": "x".repeat(3 << 20)});
    let big_input =
        serde_json::to_vec(&json!({"review": common::admission_request(&big)})).unwrap();
    let violation = evaluate_all_paths(&mut inst, 0, &big_input);
    assert!(!violation.is_empty());
}

#[test]
fn opa_bundles_are_valid_reproducible_and_fresh() {
    let out = std::env::temp_dir().join(format!("prodready-opa-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let archives = prodready_host::bundle::write_opa(common::host(), &out).unwrap();
    assert_eq!(archives.len(), embedded().len() + 1);
    for archive in &archives {
        let files = prodready_host::bundle::opa::read_archive(archive).unwrap();
        let manifest = prodready_host::bundle::opa::validate(&files).unwrap();
        for entry in &manifest.wasm {
            // Every module in the bundle is one of the embedded OPA modules, and loads.
            let wasm = &files[&entry.module];
            assert!(
                embedded().iter().any(|m| m.opa == wasm.as_slice()),
                "{}",
                entry.module
            );
            let rule = entry.module.split('/').nth(2).unwrap();
            assert_eq!(
                embedded().iter().find(|m| m.id == rule).unwrap().opa,
                wasm.as_slice()
            );
            let mut inst = instance(rule, 2);
            assert!(inst.entrypoints().unwrap().contains_key(&entry.entrypoint));
        }
    }
    // The loader's rules, each broken once.
    let files = prodready_host::bundle::opa::read_archive(&archives[0]).unwrap();
    let mut no_module = files.clone();
    no_module.retain(|k, _| !k.ends_with("policy.wasm"));
    assert!(prodready_host::bundle::opa::validate(&no_module).is_err());
    let mut bad_data = files.clone();
    bad_data.insert("/data.json".into(), b"[]".to_vec());
    assert!(prodready_host::bundle::opa::validate(&bad_data).is_err());
    // Reproducible: the same bytes again.
    let first: Vec<Vec<u8>> = archives.iter().map(|a| std::fs::read(a).unwrap()).collect();
    let again = prodready_host::bundle::write_opa(common::host(), &out).unwrap();
    let second: Vec<Vec<u8>> = again.iter().map(|a| std::fs::read(a).unwrap()).collect();
    assert_eq!(first, second);
    std::fs::remove_dir_all(&out).unwrap();

    // bundles/opa holds each bundle's .manifest and data.json.
    let modules = prodready_host::load_embedded(common::host()).unwrap();
    let metas: Vec<_> = modules.iter().map(|m| m.metadata()).collect();
    common::assert_fresh(
        &common::repo_root().join("bundles/opa"),
        &prodready_host::bundle::opa_files(&metas).unwrap(),
        "cargo run --release -- bundle opa --out bundles/opa",
    );
}

/// Runs `npm ci` in tests/opa-node when its node_modules is missing (a fresh clone; CI runs it
/// beforehand). The package and its version are pinned by package-lock.json.
fn npm_ready(dir: &std::path::Path) {
    if dir
        .join("node_modules/@open-policy-agent/opa-wasm")
        .is_dir()
    {
        return;
    }
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm is needed for the OPA npm SDK test (Node 20)");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

#[test]
fn the_npm_opa_sdk_gives_the_same_answers_on_every_fixture() {
    let dir = common::repo_root().join("tests/opa-node");
    npm_ready(&dir);
    let work = std::env::temp_dir().join(format!("prodready-opa-npm-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let mut modules = serde_json::Map::new();
    for m in embedded() {
        let path = work.join(format!("{}.wasm", m.id));
        std::fs::write(&path, m.opa).unwrap();
        modules.insert(m.id.to_string(), json!(path));
    }
    let mut cases = Vec::new();
    for f in fixtures() {
        let rule = f.header.rule.as_str();
        let m = module(rule);
        let settings = settings_json(&f);
        let (mut session, targets) = common::core_session(&f);
        let data = json!({"inventory": common::inventory(&fixture_docs(&f))});
        for (i, t) in targets.iter().enumerate() {
            if !m.metadata().handles(&t.group, &t.version, &t.kind) {
                continue;
            }
            let t = &common::admitted(t);
            let core = session.evaluate(&check::envelope(t, i, &settings, Mode::Admission));
            let (violation, warn) = expected(rule, &core);
            let input: Value = serde_json::from_slice(&input(t, i, &settings)).unwrap();
            cases.push(json!({
                "name": format!("{}: {}", f.path.display(), key(&f.documents[i])),
                "rule": rule, "data": data, "input": input,
                "violation": violation, "warn": warn,
            }));
        }
    }
    let n = cases.len();
    let cases_path = work.join("cases.json");
    std::fs::write(
        &cases_path,
        serde_json::to_vec(&json!({"modules": modules, "cases": cases})).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("node")
        .arg(dir.join("test.mjs"))
        .arg(&cases_path)
        .current_dir(&dir)
        .output()
        .expect("node (20) is needed for the OPA npm SDK test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(summary["failed"], 0, "{stdout}");
    assert_eq!(summary["compared"], 2 * n, "{stdout}");
    assert!(n > 50);
    std::fs::remove_dir_all(&work).unwrap();
}

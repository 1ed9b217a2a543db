//! ABI v1 conformance (docs/abi.md): every module answers malformed, unexpected and huge input
//! with an error verdict or a clean skip — never a trap, never an allow — and the host turns
//! hostile modules into error verdicts.

mod common;

use common::{host, modules};
use prodready_host::{Host, Limits, RuleModule};
use prodready_sdk::verdict::ErrorCode;
use serde_json::json;

fn deployment() -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "web", "image": "web:1",
                                     "ports": [{"containerPort": 8080}]}]}}}
    })
}

fn envelope(object: serde_json::Value) -> Vec<u8> {
    json!({"request": {"uid": "1", "operation": "CREATE", "object": object}})
        .to_string()
        .into_bytes()
}

fn assert_error(m: &RuleModule, input: &[u8], code: ErrorCode) {
    let v = m.evaluate(host(), input);
    let e = v
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("{}: expected {code:?}, got {v:?}", m.id()));
    assert_eq!(e.code, code, "{}: {}", m.id(), e.message);
    assert!(!v.allowed, "{}: an error verdict must not allow", m.id());
    assert!(!e.message.is_empty());
}

#[test]
fn modules_have_no_imports_and_the_v1_exports() {
    for m in modules() {
        assert_eq!(m.module().imports().count(), 0, "{} has imports", m.id());
        let exports: Vec<String> = m.module().exports().map(|e| e.name().to_string()).collect();
        for name in [
            "memory",
            "prodready_abi_version",
            "prodready_alloc",
            "prodready_free",
            "prodready_metadata",
            "prodready_validate_settings",
            "prodready_context_load",
            "prodready_context_clear",
            "prodready_evaluate",
        ] {
            assert!(
                exports.iter().any(|e| e == name),
                "{} lacks export {name}",
                m.id()
            );
        }
    }
}

#[test]
fn empty_input_is_an_envelope_error() {
    for m in modules() {
        assert_error(m, b"", ErrorCode::InvalidEnvelope);
    }
}

#[test]
fn invalid_json_is_an_envelope_error() {
    for m in modules() {
        assert_error(m, b"{\"request\": {", ErrorCode::InvalidEnvelope);
        assert_error(m, b"[1,2,3]", ErrorCode::InvalidEnvelope);
        assert_error(m, b"null", ErrorCode::InvalidEnvelope);
    }
}

#[test]
fn invalid_utf8_is_reported_as_such() {
    for m in modules() {
        assert_error(m, b"{\"request\": \"\xff\xfe\"}", ErrorCode::InvalidUtf8);
    }
}

#[test]
fn wrong_field_types_are_object_errors() {
    for m in common::modules_handling("apps", "Deployment") {
        let mut d = deployment();
        d["spec"]["template"]["spec"]["containers"] = json!("web");
        assert_error(m, &envelope(d), ErrorCode::InvalidObject);
        let mut d = deployment();
        d["spec"]["template"] = json!(null);
        assert_error(m, &envelope(d), ErrorCode::InvalidObject);
        let mut d = deployment();
        d["metadata"] = json!(["not", "a", "map"]);
        assert_error(m, &envelope(d), ErrorCode::InvalidObject);
    }
}

/// A rule reads the parts of an object its checks use (docs/abi.md §9): a malformed part
/// that a check reads makes the verdict an error, whatever the checks found; a rule that
/// reads no part of it answers as for the object without it (the API server refuses such an
/// object before admission anyway).
#[test]
fn a_malformed_part_is_an_error_for_every_rule_that_reads_it() {
    let mut bad = deployment();
    bad["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{"containerPort": "eighty"}]);
    let mut without = deployment();
    without["spec"]["template"]["spec"]["containers"][0]
        .as_object_mut()
        .unwrap()
        .remove("ports");
    let mut errors = 0;
    for m in modules() {
        let v = m.evaluate(host(), &envelope(bad.clone()));
        match &v.error {
            Some(e) => {
                assert_eq!(
                    e.code,
                    ErrorCode::InvalidObject,
                    "{}: {}",
                    m.id(),
                    e.message
                );
                assert!(e.message.contains("ports"), "{}: {}", m.id(), e.message);
                assert!(!v.allowed);
                errors += 1;
            }
            None => {
                let clean = m.evaluate(host(), &envelope(without.clone()));
                assert_eq!(
                    v,
                    clean,
                    "{}: a malformed part it skipped changed its verdict",
                    m.id()
                );
            }
        }
    }
    // health-check reads ports (probe-port-declared), so at least it refuses.
    assert!(errors >= 1);
}

#[test]
fn unknown_envelope_keys_and_bad_settings_are_errors() {
    for m in modules() {
        let input = json!({"request": {"object": deployment()}, "setings": {}}).to_string();
        assert_error(m, input.as_bytes(), ErrorCode::InvalidEnvelope);
        let input =
            json!({"request": {"object": deployment()}, "settings": {"noSuchKey": 1}}).to_string();
        assert_error(m, input.as_bytes(), ErrorCode::InvalidSettings);
        let input = json!({"request": {"object": deployment()}, "settings": "strict"}).to_string();
        assert_error(m, input.as_bytes(), ErrorCode::InvalidSettings);
        let input = json!({"request": {"object": deployment()}, "settings": {"severity": {"no-such-check": "off"}}}).to_string();
        assert_error(m, input.as_bytes(), ErrorCode::InvalidSettings);
        let input = json!({"request": {"operation": "CREATE"}}).to_string();
        assert_error(m, input.as_bytes(), ErrorCode::InvalidEnvelope);
    }
}

#[test]
fn kind_mismatch_is_an_error() {
    // A module that handles neither kind skips the request (it names a kind the rule does not
    // read); one that handles either refuses the mismatch.
    for m in modules().iter().filter(|m| {
        m.metadata().handles("apps", "v1", "Deployment")
            || m.metadata().handles("apps", "v1", "StatefulSet")
    }) {
        let input = json!({"request": {
            "kind": {"group": "apps", "version": "v1", "kind": "StatefulSet"},
            "object": deployment()}})
        .to_string();
        assert_error(m, input.as_bytes(), ErrorCode::KindMismatch);
    }
}

#[test]
fn kinds_a_module_does_not_handle_are_skipped_cleanly() {
    // A kind the module does not read: a ConfigMap, or a custom resource for the rules that
    // read ConfigMaps; a rule that reads every kind (manifest-management) has none.
    let candidates = [
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}),
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}}),
    ];
    let mut skipped = 0;
    for m in modules() {
        let other = candidates.iter().find(|o| {
            let (group, version) = match o["apiVersion"].as_str().unwrap().split_once('/') {
                Some((g, v)) => (g, v),
                None => ("", o["apiVersion"].as_str().unwrap()),
            };
            !m.metadata()
                .handles(group, version, o["kind"].as_str().unwrap())
        });
        if let Some(other) = other {
            let v = m.evaluate(host(), &envelope(other.clone()));
            assert!(
                v.allowed && v.error.is_none() && v.violations.is_empty(),
                "{}: {v:?}",
                m.id()
            );
            assert!(v.skipped.is_some(), "{}: {v:?}", m.id());
            skipped += 1;
        }
        // DELETE requests carry no object to check.
        let del = json!({"request": {"operation": "DELETE", "kind": {"group": "apps", "version": "v1", "kind": "Deployment"}}}).to_string();
        let v = m.evaluate(host(), del.as_bytes());
        assert!(v.allowed && v.skipped.is_some(), "{v:?}");
    }
    // Only the rules that read every kind (manifest-management, ci-cd's deprecated-api) have
    // no kind to skip.
    assert!(skipped * 2 > modules().len(), "{skipped}");
}

#[test]
fn a_10_mb_object_is_evaluated_without_a_trap() {
    let mut d = deployment();
    d["metadata"]["annotations"] = json!({"bulk": "x".repeat(10 << 20)});
    let input = envelope(d);
    for m in modules() {
        let v = m.evaluate(host(), &input);
        assert!(
            v.error.is_none() || v.error.as_ref().is_some_and(|e| e.code != ErrorCode::Trap),
            "{}: {v:?}",
            m.id()
        );
    }
}

#[test]
fn an_object_over_the_memory_cap_is_an_error_not_a_crash() {
    let small = Host::new(Limits {
        memory_bytes: 4 << 20,
        ..Limits::default()
    })
    .unwrap();
    let mut d = deployment();
    d["metadata"]["annotations"] = json!({"bulk": "x".repeat(8 << 20)});
    let input = envelope(d);
    for m in modules() {
        let m = RuleModule::from_embedded(
            &small,
            prodready_host::embedded()
                .iter()
                .find(|e| e.id == m.id())
                .unwrap(),
        )
        .unwrap();
        let v = m.evaluate(&small, &input);
        assert!(!v.allowed);
        assert_eq!(
            v.error.as_ref().map(|e| e.code),
            Some(ErrorCode::Trap),
            "{v:?}"
        );
    }
}

#[test]
fn validate_settings_explains_what_is_wrong() {
    for m in modules() {
        let ok = m.validate_settings(host(), b"{}");
        assert!(ok.valid, "{}: {:?}", m.id(), ok.message);
        let ok = m.validate_settings(host(), b"");
        assert!(ok.valid, "{}: empty settings mean defaults", m.id());
        let bad = m.validate_settings(host(), br#"{"audit": "yes"}"#);
        assert!(!bad.valid);
        assert!(bad.message.unwrap().contains("audit"));
        let bad = m.validate_settings(host(), br#"{"unknownKey": true}"#);
        assert!(!bad.valid);
        assert!(bad.message.unwrap().contains("unknownKey"));
    }
}

#[test]
fn audit_mode_reports_but_allows() {
    for m in modules() {
        let (object, settings) = common::denied_object(m);
        let mut audit = settings.clone();
        audit.insert("audit".into(), json!(true));
        let input = json!({"request": {"object": object}, "settings": audit}).to_string();
        let v = m.evaluate(host(), input.as_bytes());
        assert!(v.allowed && v.error.is_none(), "{v:?}");
        assert!(
            !v.violations.is_empty(),
            "{}: the object violates something",
            m.id()
        );
        let input = json!({"request": {"object": object}, "settings": settings}).to_string();
        let v = m.evaluate(host(), input.as_bytes());
        assert!(!v.allowed, "{}: enforce mode denies the object", m.id());
    }
}

#[test]
fn severity_off_switches_a_check_off() {
    for m in modules() {
        let (object, settings) = common::denied_object(m);
        let input = json!({"request": {"object": object}, "settings": settings}).to_string();
        let v = m.evaluate(host(), input.as_bytes());
        assert!(!v.violations.is_empty(), "{}: the object passes", m.id());
        // Every check off (switching off only those that fired can let another speak: a
        // check steps back when another reports the same cause, e.g. qos-class for
        // resources-set).
        let off: serde_json::Map<String, serde_json::Value> = m
            .metadata()
            .checks
            .iter()
            .map(|c| (c.id.clone(), json!("off")))
            .collect();
        let mut settings = settings;
        settings.insert("severity".into(), json!(off));
        let input = json!({"request": {"object": object}, "settings": settings}).to_string();
        let v = m.evaluate(host(), input.as_bytes());
        assert!(v.violations.is_empty() && v.allowed, "{v:?}");
    }
}

// --- hostile modules -------------------------------------------------------------------

const EXPORTS: &str = r#"
  (memory (export "memory") 1)
  (func (export "prodready_abi_version") (result i32) i32.const 1)
  (func (export "prodready_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "prodready_free") (param i32 i32))
  (func (export "prodready_validate_settings") (param i32 i32) (result i64) i64.const 0)
  (func (export "prodready_context_load") (param i32 i32) (result i64) i64.const 0)
  (func (export "prodready_context_clear"))
  (data (i32.const 0) "{\"abiVersion\":1,\"number\":1,\"id\":\"hostile\",\"version\":\"0\",\"title\":\"t\",\"description\":\"d\",\"slide\":\"s\",\"checks\":[],\"resources\":[],\"settingsSchema\":{}}")
  (func (export "prodready_metadata") (result i64) i64.const 145)
"#;

fn hostile(evaluate: &str) -> RuleModule {
    let wat = format!("(module {EXPORTS} {evaluate})");
    let bytes = wat::parse_str(&wat).unwrap();
    RuleModule::from_wasm(host(), &bytes, "hostile.wat").unwrap()
}

fn code_of(m: &RuleModule) -> ErrorCode {
    let v = m.evaluate(host(), b"{}");
    assert!(!v.allowed);
    v.error.expect("error verdict").code
}

#[test]
fn metadata_of_the_hostile_template_is_valid() {
    // Guards the template itself: its metadata length (145) must cover the JSON exactly.
    let m =
        hostile(r#"(func (export "prodready_evaluate") (param i32 i32) (result i64) i64.const 0)"#);
    assert_eq!(m.id(), "hostile");
}

#[test]
fn an_infinite_loop_times_out() {
    let fast = Host::new(Limits {
        deadline: std::time::Duration::from_millis(50),
        ..Limits::default()
    })
    .unwrap();
    let wat = format!(
        "(module {EXPORTS} (func (export \"prodready_evaluate\") (param i32 i32) (result i64) (loop br 0) i64.const 0))"
    );
    let m = RuleModule::from_wasm(&fast, &wat::parse_str(&wat).unwrap(), "loop.wat").unwrap();
    let v = m.evaluate(&fast, b"{}");
    assert_eq!(v.error.map(|e| e.code), Some(ErrorCode::Timeout));
}

#[test]
fn a_memory_bomb_hits_the_cap() {
    let m = hostile(
        r#"(func (export "prodready_evaluate") (param i32 i32) (result i64)
        (drop (memory.grow (i32.const 60000))) i64.const 0)"#,
    );
    assert_eq!(code_of(&m), ErrorCode::Trap);
}

#[test]
fn an_out_of_bounds_answer_is_bad_output() {
    let m = hostile(
        r#"(func (export "prodready_evaluate") (param i32 i32) (result i64)
        i64.const 0x7fff000000001000)"#,
    );
    assert_eq!(code_of(&m), ErrorCode::BadOutput);
}

#[test]
fn garbage_output_is_bad_output() {
    let m = hostile(
        r#"(func (export "prodready_evaluate") (param i32 i32) (result i64)
        i64.const 16)"#,
    ); // 16 bytes of the metadata JSON: not a verdict
    assert_eq!(code_of(&m), ErrorCode::BadOutput);
}

#[test]
fn a_trap_is_an_error_verdict_and_the_host_keeps_serving() {
    let m =
        hostile(r#"(func (export "prodready_evaluate") (param i32 i32) (result i64) unreachable)"#);
    assert_eq!(code_of(&m), ErrorCode::Trap);
    assert_eq!(code_of(&m), ErrorCode::Trap);
    // Real modules still work after it.
    let v = common::module("health-check").evaluate(host(), &envelope(deployment()));
    assert!(v.error.is_none());
}

#[test]
fn modules_with_imports_or_missing_exports_are_refused() {
    let with_import =
        wat::parse_str(r#"(module (import "env" "now" (func)) (memory (export "memory") 1))"#)
            .unwrap();
    let e = RuleModule::from_wasm(host(), &with_import, "import.wat").unwrap_err();
    assert!(e.to_string().contains("no imports"), "{e}");
    let missing = wat::parse_str(
        r#"(module (memory (export "memory") 1)
        (func (export "prodready_abi_version") (result i32) i32.const 1))"#,
    )
    .unwrap();
    let e = RuleModule::from_wasm(host(), &missing, "missing.wat").unwrap_err();
    assert!(e.to_string().contains("prodready_alloc"), "{e}");
    let wrong_version = wat::parse_str(
        r#"(module (memory (export "memory") 1)
        (func (export "prodready_abi_version") (result i32) i32.const 2))"#,
    )
    .unwrap();
    let e = RuleModule::from_wasm(host(), &wrong_version, "v2.wat").unwrap_err();
    assert!(e.to_string().contains("ABI version 2"), "{e}");
    let traps_at_start =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func $s unreachable) (start $s))"#)
            .unwrap();
    assert!(RuleModule::from_wasm(host(), &traps_at_start, "start.wat").is_err());
}

/// Guards the guests' 256 KiB stack (.cargo/config.toml): nesting at and past serde_json's
/// limit of 128 levels, inside a field the rules skip, is a verdict or a clean error.
#[test]
fn deep_nesting_never_exhausts_the_guest_stack() {
    for depth in [100usize, 127, 200, 5000] {
        let nested = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let mut d = deployment();
        d["spec"]["template"]["spec"]["affinity"] = json!({"x": 0});
        let text = json!({"request": {"operation": "CREATE", "object": d}})
            .to_string()
            .replace("{\"x\":0}", &nested);
        for m in modules() {
            let v = m.evaluate(host(), text.as_bytes());
            if let Some(e) = &v.error {
                assert_ne!(
                    e.code,
                    ErrorCode::Trap,
                    "{} at depth {depth}: {}",
                    m.id(),
                    e.message
                );
                assert!(!v.allowed);
            }
        }
    }
}

#[test]
fn a_wrong_signature_is_refused_at_load() {
    let wat = format!(
        "(module {EXPORTS} (func (export \"prodready_evaluate\") (param i32) (result i32) i32.const 0))"
    );
    let e = RuleModule::from_wasm(host(), &wat::parse_str(&wat).unwrap(), "sig.wat").unwrap_err();
    assert!(e.to_string().contains("prodready_evaluate"), "{e}");
}

#[test]
fn a_huge_output_length_is_bad_output() {
    // len = 0xffffffff: past any 32-bit memory.
    let m = hostile(
        r#"(func (export "prodready_evaluate") (param i32 i32) (result i64)
        i64.const 0x00000000ffffffff)"#,
    );
    assert_eq!(code_of(&m), ErrorCode::BadOutput);
}

#[test]
fn output_that_is_not_utf8_or_not_a_verdict_is_bad_output() {
    let wat = format!(
        "(module {EXPORTS} (data (i32.const 2000) \"\\ff\\fe\\fd\") \
         (func (export \"prodready_evaluate\") (param i32 i32) (result i64) i64.const 0x000007d000000003))"
    );
    let m = RuleModule::from_wasm(host(), &wat::parse_str(&wat).unwrap(), "utf8.wat").unwrap();
    assert_eq!(code_of(&m), ErrorCode::BadOutput);
    let wat = format!(
        "(module {EXPORTS} (data (i32.const 2000) \"{{\\\"allowed\\\":true}}\") \
         (func (export \"prodready_evaluate\") (param i32 i32) (result i64) i64.const 0x000007d000000010))"
    );
    let m = RuleModule::from_wasm(host(), &wat::parse_str(&wat).unwrap(), "json.wat").unwrap();
    // `{"allowed":true}` leaves out `violations` and `error`: a broken module must not allow
    // by omission.
    assert_eq!(code_of(&m), ErrorCode::BadOutput);
}

#[test]
fn an_allocation_failure_is_a_memory_error() {
    let wat = EXPORTS.replace(
        r#"(func (export "prodready_alloc") (param i32) (result i32) i32.const 1024)"#,
        r#"(func (export "prodready_alloc") (param i32) (result i32) i32.const 0)"#,
    );
    let wat = format!(
        "(module {wat} (func (export \"prodready_evaluate\") (param i32 i32) (result i64) i64.const 0))"
    );
    let m = RuleModule::from_wasm(host(), &wat::parse_str(&wat).unwrap(), "oom.wat").unwrap();
    assert_eq!(code_of(&m), ErrorCode::Trap);
}

#[test]
fn fuel_gives_a_deterministic_limit() {
    let fueled = Host::new(Limits {
        fuel: Some(100_000),
        ..Limits::default()
    })
    .unwrap();
    let wat = format!(
        "(module {EXPORTS} (func (export \"prodready_evaluate\") (param i32 i32) (result i64) (loop br 0) i64.const 0))"
    );
    let m = RuleModule::from_wasm(&fueled, &wat::parse_str(&wat).unwrap(), "fuel.wat").unwrap();
    let v = m.evaluate(&fueled, b"{}");
    assert_eq!(v.error.map(|e| e.code), Some(ErrorCode::Timeout));
    // Real modules run under fuel too (compiled from wasm, as fuel changes code generation),
    // and the same fuel gives the same answer every time.
    let roomy = Host::new(Limits {
        fuel: Some(50_000_000),
        ..Limits::default()
    })
    .unwrap();
    let e = prodready_host::embedded()
        .iter()
        .find(|e| e.id == "health-check")
        .unwrap();
    let hc = RuleModule::from_embedded(&roomy, e).unwrap();
    let v = hc.evaluate(&roomy, &envelope(deployment()));
    assert!(v.error.is_none(), "{v:?}");
    assert_eq!(v, hc.evaluate(&roomy, &envelope(deployment())));
}

//! What the fuzz targets share: every rule crate's native entry points, and the assertions a
//! verdict must pass whatever the input (docs/abi.md §4.2, §4.3).

use std::sync::OnceLock;

use prodready_sdk::verdict::SettingsValidation;
use prodready_sdk::{Severity, Verdict};
use serde_json::Value;

/// One rule crate, compiled natively.
pub struct Rule {
    pub id: String,
    pub evaluate: fn(&[u8]) -> Vec<u8>,
    pub validate_settings: fn(&[u8]) -> Vec<u8>,
    pub context_load: fn(&[u8]) -> Vec<u8>,
    /// Check ids, from the rule's metadata.
    pub checks: Vec<String>,
}

// `every_rule!`: the rule crates under policies/ (generated, checked by the lists meta-test).
include!("rules.rs");

/// Every rule crate of the workspace.
pub fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        macro_rules! rule {
            ($krate:ident) => {
                rule(
                    $krate::metadata_json(),
                    $krate::evaluate_json,
                    $krate::validate_settings_json,
                    $krate::context_load_json,
                )
            };
        }
        every_rule!(rule)
    })
}

fn rule(
    metadata: Vec<u8>,
    evaluate: fn(&[u8]) -> Vec<u8>,
    validate_settings: fn(&[u8]) -> Vec<u8>,
    context_load: fn(&[u8]) -> Vec<u8>,
) -> Rule {
    let md: Value = serde_json::from_slice(&metadata).expect("metadata is JSON");
    let id = md["id"].as_str().expect("metadata.id").to_string();
    let checks = md["checks"]
        .as_array()
        .expect("metadata.checks")
        .iter()
        .map(|c| c["id"].as_str().expect("check id").to_string())
        .collect();
    Rule {
        id,
        evaluate,
        validate_settings,
        context_load,
        checks,
    }
}

/// Asserts that `out` is a verdict and that it keeps the ABI's promises whatever the input:
/// a JSON object of the verdict's shape, in canonical form; an error never allows and carries
/// no violations; a skip allows and examined nothing; every violation names this rule, one of
/// its checks, and a path into the object.
pub fn check_verdict(rule: &Rule, out: &[u8]) -> Verdict {
    let value: Value = serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("{}: output is not JSON ({e}): {out:?}", rule.id));
    assert!(value.is_object(), "{}: output is not an object", rule.id);
    assert!(
        value.get("allowed").is_some_and(Value::is_boolean),
        "{}: no boolean `allowed`",
        rule.id
    );
    assert!(
        value.get("error").is_some(),
        "{}: `error` is not written out",
        rule.id
    );
    let verdict: Verdict = serde_json::from_value(value)
        .unwrap_or_else(|e| panic!("{}: output is not a verdict ({e})", rule.id));
    assert_eq!(
        serde_json::to_vec(&verdict).expect("verdict serializes"),
        out,
        "{}: output is not the canonical serialization of its verdict",
        rule.id
    );
    if let Some(e) = &verdict.error {
        assert!(!verdict.allowed, "{}: error verdict allows: {e:?}", rule.id);
        assert!(
            verdict.violations.is_empty() && verdict.exempted.is_empty(),
            "{}: error verdict with findings",
            rule.id
        );
        assert!(verdict.skipped.is_none(), "{}: error and skipped", rule.id);
    }
    if verdict.skipped.is_some() {
        assert!(verdict.allowed, "{}: a skip denies", rule.id);
        assert!(
            verdict.violations.is_empty() && verdict.exempted.is_empty(),
            "{}: a skip with findings",
            rule.id
        );
    }
    for v in &verdict.violations {
        assert_eq!(v.rule, rule.id, "violation names another rule");
        assert!(
            rule.checks.contains(&v.check),
            "{}: unknown check {}",
            rule.id,
            v.check
        );
        assert!(
            v.path.starts_with("spec.") || v.path.starts_with("metadata"),
            "{}: {} path {:?}",
            rule.id,
            v.check,
            v.path
        );
    }
    for x in &verdict.exempted {
        assert!(
            rule.checks.contains(&x.check),
            "{}: exempted unknown check {}",
            rule.id,
            x.check
        );
    }
    verdict
}

/// For settings without `audit`: a verdict without error allows exactly when no violation has
/// error severity.
pub fn check_enforced(rule: &Rule, verdict: &Verdict) {
    if verdict.error.is_none() {
        let denies = verdict
            .violations
            .iter()
            .any(|v| v.severity == Severity::Error);
        assert_eq!(
            verdict.allowed, !denies,
            "{}: allowed disagrees with the violations' severities",
            rule.id
        );
    }
}

/// Asserts that `out` is a settings validation: `{"valid": bool, "message": ...}`, with a
/// message exactly when invalid.
pub fn check_validation(rule: &Rule, out: &[u8]) -> SettingsValidation {
    let v: SettingsValidation = serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("{}: validation output ({e}): {out:?}", rule.id));
    assert_eq!(
        v.valid,
        v.message.is_none(),
        "{}: a message exactly when invalid",
        rule.id
    );
    v
}

/// `text` as JSON: itself when it parses, else a JSON string holding it.
pub fn as_json(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(s) if serde_json::from_str::<prodready_sdk::serde::de::IgnoredAny>(s).is_ok() => {
            s.to_string()
        }
        _ => serde_json::to_string(&String::from_utf8_lossy(data)).expect("string serializes"),
    }
}

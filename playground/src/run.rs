//! The playground's check, in plain Rust (tested natively): the CLI's pipeline with the rules
//! called as functions instead of wasm instances.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use prodready_core::check::{
    DEFAULT_NAMESPACE, Mode, Target, assemble_reports, context_json, envelope, settings_by_rule,
    settings_json, verdict_from_json,
};
use prodready_core::findings::{self, default_severities};
use prodready_core::loader::{self, Limits, Loaded, Source};
use prodready_core::metadata::ModuleMetadata;
use prodready_core::report::{ObjectEntry, Report, to_json};
use prodready_sdk::verdict::{SettingsValidation, Verdict};
use serde_json::Value;

/// One rule crate's entry points (`prodready_sdk::export_rule!`).
pub struct Rule {
    pub metadata: ModuleMetadata,
    evaluate: fn(&[u8]) -> Vec<u8>,
    validate_settings: fn(&[u8]) -> Vec<u8>,
    context_load: fn(&[u8]) -> Vec<u8>,
}

// `every_rule!`: the rule crates under policies/ (generated, checked by the lists meta-test).
include!("rules.rs");

/// Every rule crate, in the talk's order (the CLI's).
pub fn rules() -> &'static [Rule] {
    static RULES: OnceLock<Vec<Rule>> = OnceLock::new();
    RULES.get_or_init(|| {
        macro_rules! rule {
            ($krate:ident) => {
                rule(
                    &$krate::metadata_json(),
                    $krate::evaluate_json,
                    $krate::validate_settings_json,
                    $krate::context_load_json,
                )
            };
        }
        let mut all: Vec<Rule> = every_rule!(rule).into_iter().flatten().collect();
        all.sort_by(|a, b| {
            (a.metadata.number, &a.metadata.id).cmp(&(b.metadata.number, &b.metadata.id))
        });
        all
    })
}

fn rule(
    metadata: &[u8],
    evaluate: fn(&[u8]) -> Vec<u8>,
    validate_settings: fn(&[u8]) -> Vec<u8>,
    context_load: fn(&[u8]) -> Vec<u8>,
) -> Option<Rule> {
    // A rule crate's own tests prove its metadata parses; one that did not would be left out
    // of `rules()` rather than take the playground down.
    let metadata = serde_json::from_slice(metadata).ok()?;
    Some(Rule {
        metadata,
        evaluate,
        validate_settings,
        context_load,
    })
}

/// `rules()`'s JSON.
pub fn rules_json() -> String {
    let all: Vec<&ModuleMetadata> = rules().iter().map(|r| &r.metadata).collect();
    serde_json::to_string(&all).unwrap_or_else(|e| error_json(&e.to_string()))
}

/// `{"error": message}`.
pub fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

/// Checks `files` ((name, text) pairs) as one manifest set with `settings` (JSON: rule id to
/// settings): the JSON report, or `{"error": ...}`.
pub fn check_files(files: &[(&str, &str)], settings: &str) -> String {
    match checked(files, settings) {
        Ok(json) => json,
        Err(message) => error_json(&message),
    }
}

/// The settings JSON as rule id → settings, every rule named known and its settings valid
/// (the rule's own validation, as `prodready check --settings` runs it).
fn parse_settings(settings: &str) -> Result<BTreeMap<String, Value>, String> {
    let text = settings.trim();
    let value: Value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).map_err(|e| format!("settings: not JSON: {e}"))?
    };
    let ids = rules().iter().map(|r| r.metadata.id.as_str());
    let out = settings_by_rule(value, ids)?;
    for (id, value) in &out {
        let Some(rule) = rules().iter().find(|r| &r.metadata.id == id) else {
            continue;
        };
        let answer: SettingsValidation =
            serde_json::from_slice(&(rule.validate_settings)(value.to_string().as_bytes()))
                .map_err(|e| format!("rule `{id}`: settings validation answered badly: {e}"))?;
        if !answer.valid {
            // The CLI's words for `--settings`.
            return Err(format!(
                "settings of rule {id} are not valid: {}",
                answer.message.unwrap_or_else(|| "not valid".into())
            ));
        }
    }
    Ok(out)
}

fn checked(files: &[(&str, &str)], settings: &str) -> Result<String, String> {
    let settings = parse_settings(settings)?;
    let limits = Limits::default();
    let mut loaded = Loaded::default();
    for (name, text) in files {
        let one = loader::load_str(Source::File(PathBuf::from(name)), text, &limits)
            .map_err(|e| e.to_string())?;
        loaded.documents.extend(one.documents);
        loaded.skipped.extend(one.skipped);
    }
    if loaded.documents.len() > limits.max_documents {
        return Err(format!(
            "more than {} objects in one check",
            limits.max_documents
        ));
    }
    let docs = &loaded.documents;
    let targets: Vec<Target> = docs.iter().map(Target::new).collect();
    let per_rule: Vec<Vec<(usize, Verdict)>> = rules()
        .iter()
        .map(|rule| evaluate_rule(rule, &targets, &settings))
        .collect();
    let objects: Vec<_> = targets.iter().map(Target::object_ref).collect();
    let reports = assemble_reports(
        objects.iter().cloned(),
        rules().iter().map(|r| r.metadata.id.as_str()),
        per_rule,
    );
    let metas: Vec<&ModuleMetadata> = rules().iter().map(|r| &r.metadata).collect();
    let found = findings::collect(docs, &reports, &default_severities(&metas));
    let summary = found.summary(docs.len());
    let report = Report {
        objects: || {
            docs.iter().zip(&objects).map(|(d, object)| {
                let meta = d.value.get("metadata");
                ObjectEntry {
                    source: &d.source,
                    index: d.index,
                    line: d.line,
                    item: d.item,
                    helm_source: d.text.helm_source(),
                    object,
                    written_namespace: meta.and_then(|m| m.get("namespace")),
                    written_name: meta.and_then(|m| m.get("name")),
                }
            })
        },
        skipped: &loaded.skipped,
        findings: &found,
        rules: rules()
            .iter()
            .map(|r| (r.metadata.id.as_str(), r.metadata.version.as_str()))
            .collect(),
        shard: None,
        baseline: None,
        summary,
    };
    to_json(&report).map_err(|e| e.to_string())
}

/// One rule over the set: its context loaded once, then every object it handles.
fn evaluate_rule(
    rule: &Rule,
    targets: &[Target],
    settings: &BTreeMap<String, Value>,
) -> Vec<(usize, Verdict)> {
    let meta = &rule.metadata;
    let settings = settings_json(meta, settings);
    let handled = || {
        targets
            .iter()
            .enumerate()
            .filter(|(_, t)| meta.handles(&t.group, &t.version, &t.kind))
    };
    // The rules share one SDK, so one loaded context: each rule's is loaded before its
    // objects and cleared after, as each wasm instance has its own.
    let _clear = ClearContext;
    if let Some(ctx) = context_json(meta, targets, DEFAULT_NAMESPACE) {
        let answer = (rule.context_load)(&ctx);
        if let Ok(v) = serde_json::from_slice::<Verdict>(&answer)
            && v.error.is_some()
        {
            return handled().map(|(i, _)| (i, v.clone())).collect();
        }
    }
    handled()
        .map(|(i, t)| {
            let answer = (rule.evaluate)(&envelope(t, i, &settings, Mode::Manifest));
            (i, verdict_from_json(&answer))
        })
        .collect()
}

/// Clears the SDK's loaded context when dropped.
struct ClearContext;

impl Drop for ClearContext {
    fn drop(&mut self) {
        prodready_sdk::run::context_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(files: &[(&str, &str)], settings: &str) -> Value {
        serde_json::from_str(&check_files(files, settings)).unwrap()
    }

    #[test]
    fn every_rule_crate_is_linked_in_the_talks_order() {
        let numbers: Vec<u8> = rules().iter().map(|r| r.metadata.number).collect();
        assert_eq!(numbers, (1..=15).collect::<Vec<u8>>());
    }

    #[test]
    fn settings_are_validated_by_the_rule_before_anything_is_checked() {
        let bad = answer(
            &[("a.yaml", "")],
            r#"{"health-check": {"minLivenessFailureThreshold": 0}}"#,
        );
        assert_eq!(
            bad["error"],
            "settings of rule health-check are not valid: invalid settings: \
             minLivenessFailureThreshold must be at least 1, not 0"
        );
        let unknown = answer(&[("a.yaml", "")], r#"{"nope": {}}"#);
        assert!(
            unknown["error"]
                .as_str()
                .unwrap()
                .contains("unknown rule `nope`")
        );
        assert!(answer(&[("a.yaml", "")], "[1]")["error"].is_string());
        assert!(answer(&[("a.yaml", "")], "{")["error"].is_string());
    }

    #[test]
    fn files_are_one_set_and_their_positions_their_own() {
        let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n        - name: web\n          image: web:latest\n";
        let got = answer(
            &[("one.yaml", "# nothing\n"), ("two.yaml", deployment)],
            "{}",
        );
        let object = &got["objects"][0];
        assert_eq!(object["file"], "two.yaml");
        let tag = object["violations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == "image-tag-pinned")
            .unwrap();
        assert_eq!(tag["location"]["line"], 12);
        assert_eq!(got["summary"]["objects"], 1);
    }
}

//! Settings: the keys every rule shares (`audit`, `severity`) and the rule's own, strict struct.
//!
//! A rule's settings struct is `#[serde(deny_unknown_fields, rename_all = "camelCase", default)]`
//! and derives `JsonSchema`; its `Default` is the documented default. The shared keys are taken
//! out first, so the rule's struct can stay strict.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::metadata::RuleInfo;
use crate::verdict::Severity;

/// What a rule's own settings struct must offer.
pub trait RuleSettings: DeserializeOwned + Serialize + Default + JsonSchema {
    /// Checks that go beyond the schema (ranges, relations between fields). The message
    /// names the field and the accepted values.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A severity override: re-grade a check, or switch it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SeverityOverride {
    Error,
    Warning,
    Off,
}

/// Settings every rule accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct CommonSettings {
    /// Audit mode: report violations but never deny. Default false (enforce).
    pub audit: bool,
    /// Per-check severity overrides, keyed by check id: `error`, `warning` or `off`.
    pub severity: BTreeMap<String, SeverityOverride>,
}

const COMMON_KEYS: [&str; 2] = ["audit", "severity"];

/// Parsed settings: the shared part and the rule's own.
#[derive(Debug, Clone, Default)]
pub struct Settings<S> {
    pub common: CommonSettings,
    pub rule: S,
}

impl<S: RuleSettings> Settings<S> {
    /// Parses settings JSON (`null` or absent means defaults) and validates it against the rule.
    pub fn parse(info: &RuleInfo, json: Option<&str>) -> Result<Settings<S>, String> {
        let value: Value = match json {
            None => Value::Null,
            Some(s) => {
                serde_json::from_str(s).map_err(|e| format!("settings are not JSON: {e}"))?
            }
        };
        Settings::from_value(info, value)
    }

    pub fn from_value(info: &RuleInfo, value: Value) -> Result<Settings<S>, String> {
        let mut map = match value {
            Value::Null => Map::new(),
            Value::Object(m) => m,
            other => {
                return Err(format!(
                    "settings must be an object, not {}",
                    json_type_name(&other)
                ));
            }
        };
        let mut common = Map::new();
        for key in COMMON_KEYS {
            if let Some(v) = map.remove(key) {
                common.insert(key.to_string(), v);
            }
        }
        let common: CommonSettings = from_value(Value::Object(common))?;
        for id in common.severity.keys() {
            if info.check(id).is_none() {
                let known: Vec<&str> = info.checks.iter().map(|c| c.id).collect();
                return Err(format!(
                    "invalid settings: severity names unknown check `{id}`; rule {} has checks {}",
                    info.id,
                    known.join(", ")
                ));
            }
        }
        let rule: S = from_value(Value::Object(map))?;
        rule.validate()
            .map_err(|e| format!("invalid settings: {e}"))?;
        Ok(Settings { common, rule })
    }

    /// The severity a finding of `check` reports with (`found`: the one the check gave it),
    /// or `None` when the check is switched off. An override re-grades every finding.
    pub fn severity_of(&self, check: &crate::metadata::Check, found: Severity) -> Option<Severity> {
        match self.common.severity.get(check.id) {
            None => Some(found),
            Some(SeverityOverride::Error) => Some(Severity::Error),
            Some(SeverityOverride::Warning) => Some(Severity::Warning),
            Some(SeverityOverride::Off) => None,
        }
    }
}

/// The JSON Schema of a rule's settings, the shared keys included, defaults filled in and
/// every sub-schema inlined (so it converts to an OpenAPI v3 schema as it is).
pub fn schema<S: RuleSettings>() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut rule = generator.clone().into_root_schema_for::<S>().to_value();
    let common = generator
        .into_root_schema_for::<CommonSettings>()
        .to_value();
    if let (Some(props), Some(common_props)) = (
        rule.get_mut("properties").and_then(Value::as_object_mut),
        common.get("properties").and_then(Value::as_object),
    ) {
        for (k, v) in common_props {
            props.insert(k.clone(), v.clone());
        }
    }
    if let Some(obj) = rule.as_object_mut() {
        obj.insert("additionalProperties".into(), Value::Bool(false));
    }
    rule
}

/// Deserializes settings, naming the offending key in the error (`invalid settings: audit:
/// invalid type: string "yes", expected a boolean`).
fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("invalid settings: {}", e.inner())
        } else {
            format!("invalid settings: {path}: {}", e.inner())
        }
    })
}

pub(crate) fn json_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

//! `.prodready.yaml`: the project's configuration for `prodready check` and `baseline`.
//!
//! Found by walking up from the working directory (or named with `--config`). Every key is
//! optional:
//!
//! ```yaml
//! paths: [deploy/]                 # checked when no PATH is given (relative to this file)
//! namespace: shop                  # as --namespace
//! failOn: error                    # as --fail-on: error, warning or never
//! baseline: .prodready-baseline.yaml   # as --baseline (relative to this file)
//! rules:
//!   maintenance: false             # off
//!   health-check:                  # on, with these settings (as in --settings)
//!     require: readiness
//! severity:                        # re-grade checks: error, warning or off
//!   probe-timing: error            # a check id, or rule/check
//! exemptions:
//!   - checks: [probes-required]    # check ids, rule/check, or rule/* (required)
//!     namespaces: [legacy]         # any of these namespaces
//!     names: ["batch-*"]           # metadata.name globs (* and ?)
//!     kinds: [CronJob]
//!     selector: {matchLabels: {tier: batch}}   # a label selector on the object's labels
//!     reason: "batch jobs are retried by the queue (OPS-77)"   # required
//! ```
//!
//! Everything is validated before anything is checked: unknown keys, unknown rules and
//! checks, settings the rule's own module refuses, exemptions without a reason — each error
//! names the config file's line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use prodready_sdk::selector::Selector;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::findings::{ExemptedBy, Findings, Status};
use crate::loader::{DocText, Locator, Position};
use crate::module::ModuleMetadata;

/// The file name looked for.
pub const FILE_NAME: &str = ".prodready.yaml";

/// A YAML file that is not a manifest (a config, a baseline), kept with its text so that
/// errors can name the line of a field.
#[derive(Debug)]
pub struct YamlDoc {
    pub value: Value,
    name: String,
    locator: Locator,
}

impl YamlDoc {
    /// `name:line:col: message`, at the field `path` names (or its nearest parent).
    #[must_use]
    pub fn error_at(&self, path: &str, message: &str) -> String {
        let at = self.position(path);
        format!("{}:{}:{}: {message}", self.name, at.line, at.column)
    }

    /// Where the field `path` names (or its nearest parent) is written.
    #[must_use]
    pub fn position(&self, path: &str) -> Position {
        self.locator.locate(path).position
    }
}

/// Parses `text` as one YAML document, with the loader's limits (depth, aliases, size).
///
/// # Errors
/// A message naming `name` and the position.
pub fn parse_yaml(text: &str, name: &str) -> Result<YamlDoc, String> {
    let value = crate::loader::parse_yaml_value(text).map_err(|e| format!("{name}: {e}"))?;
    let text = DocText::whole(text, 1);
    Ok(YamlDoc {
        value,
        name: name.to_string(),
        locator: Locator::new(&text, Position { line: 1, column: 1 }),
    })
}

/// What `--fail-on` and `failOn` accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Fail on open findings that deny (error severity, rule not in audit mode). The default.
    Error,
    /// Also fail on open warnings (and on audit-mode findings).
    Warning,
    /// Never fail on findings (input and module errors still exit 2).
    Never,
}

/// A rule's entry under `rules`.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleConfig {
    /// `true` (or empty): on with default settings; `false`: off.
    Enabled(bool),
    /// On, with these settings.
    Settings(Map<String, Value>),
}

/// One `exemptions` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    pub checks: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub kinds: Vec<String>,
    #[serde(default)]
    pub selector: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    paths: Vec<PathBuf>,
    namespace: Option<String>,
    fail_on: Option<FailOn>,
    baseline: Option<PathBuf>,
    #[serde(default)]
    rules: Map<String, Value>,
    #[serde(default)]
    severity: BTreeMap<String, String>,
    #[serde(default)]
    exemptions: Vec<Exemption>,
}

/// A validated config file.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it was read from.
    pub file: Option<PathBuf>,
    /// Paths to check when none is given, resolved against the file's folder.
    pub paths: Vec<PathBuf>,
    pub namespace: Option<String>,
    pub fail_on: Option<FailOn>,
    /// The baseline, resolved against the file's folder.
    pub baseline: Option<PathBuf>,
    pub rules: BTreeMap<String, RuleConfig>,
    /// (rule, check) → severity override.
    pub severity: BTreeMap<(String, String), String>,
    pub exemptions: Vec<Exemption>,
}

/// The config file for a run: `explicit` if given, else the first `.prodready.yaml` found
/// walking up from `start`.
#[must_use]
pub fn find(explicit: Option<&Path>, start: &Path) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    start
        .ancestors()
        .map(|dir| dir.join(FILE_NAME))
        .find(|p| p.is_file())
}

/// Reads and validates a config file against the modules' metadata; `validate` asks a
/// module whether a rule's settings are valid (`Err(message)` when not).
///
/// # Errors
/// The first problem, as `file:line:col: message`.
pub fn read(
    path: &Path,
    modules: &[&ModuleMetadata],
    validate: &dyn Fn(&str, &Value) -> Result<(), String>,
) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the config: {e}", path.display()))?;
    let mut config = parse(&text, &path.display().to_string(), modules, validate)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    config.paths = config.paths.iter().map(|p| dir.join(p)).collect();
    config.baseline = config.baseline.map(|p| dir.join(p));
    config.file = Some(path.to_path_buf());
    Ok(config)
}

/// [`read`] on text in memory (paths are left as written).
///
/// # Errors
/// See [`read`].
pub fn parse(
    text: &str,
    name: &str,
    modules: &[&ModuleMetadata],
    validate: &dyn Fn(&str, &Value) -> Result<(), String>,
) -> Result<Config, String> {
    let doc = parse_yaml(text, name)?;
    let value = match &doc.value {
        Value::Null => Value::Object(Map::new()),
        v => v.clone(),
    };
    let raw: Raw = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        doc.error_at(&path, &e.into_inner().to_string())
    })?;
    let rule = |id: &str| modules.iter().find(|m| m.id == id);
    let known = || {
        modules
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };

    // severity: check ids (unique across rules) or rule/check.
    let mut severity = BTreeMap::new();
    for (key, level) in &raw.severity {
        let at = format!("severity.{key}");
        if !["error", "warning", "off"].contains(&level.as_str()) {
            return Err(doc.error_at(
                &at,
                &format!("severity `{level}` of {key}: expected error, warning or off"),
            ));
        }
        let (rule_id, check) = resolve_check(key, modules)
            .ok_or_else(|| doc.error_at(&at, &format!("no check `{key}` in any rule")))?;
        if check == "*" {
            return Err(doc.error_at(&at, "severity is per check: name one check, not rule/*"));
        }
        severity.insert((rule_id, check), level.clone());
    }

    let mut rules = BTreeMap::new();
    for (id, value) in &raw.rules {
        let at = format!("rules.{id}");
        let Some(meta) = rule(id) else {
            return Err(doc.error_at(&at, &format!("no rule `{id}` (rules: {})", known())));
        };
        let entry = match value {
            Value::Null => RuleConfig::Enabled(true),
            Value::Bool(b) => RuleConfig::Enabled(*b),
            Value::Object(map) => RuleConfig::Settings(map.clone()),
            _ => {
                return Err(doc.error_at(
                    &at,
                    &format!(
                        "rule {id}: expected true, false or a mapping of settings (docs/checks.md)"
                    ),
                ));
            }
        };
        let mut config = Config {
            severity: severity.clone(),
            ..Config::default()
        };
        config.rules.insert(id.clone(), entry.clone());
        if let Some(settings) = config.settings_for(&meta.id, None) {
            validate(&meta.id, &settings).map_err(|message| {
                doc.error_at(&at, &format!("settings of rule {id}: {message}"))
            })?;
        }
        rules.insert(id.clone(), entry);
    }
    // Severity overrides of rules without a `rules` entry are validated too.
    for (rule_id, _) in severity.keys() {
        if raw.rules.contains_key(rule_id) {
            continue;
        }
        let config = Config {
            severity: severity.clone(),
            ..Config::default()
        };
        if let Some(settings) = config.settings_for(rule_id, None) {
            validate(rule_id, &settings).map_err(|message| {
                doc.error_at(
                    "severity",
                    &format!("severity of rule {rule_id}: {message}"),
                )
            })?;
        }
    }

    for (i, x) in raw.exemptions.iter().enumerate() {
        let at = format!("exemptions[{i}]");
        if x.reason.trim().is_empty() {
            return Err(doc.error_at(
                &format!("{at}.reason"),
                "an exemption needs a reason (say why, and who decided)",
            ));
        }
        if x.checks.is_empty() {
            return Err(doc.error_at(
                &format!("{at}.checks"),
                "an exemption names the checks it exempts from (check ids, rule/check or rule/*)",
            ));
        }
        for (j, c) in x.checks.iter().enumerate() {
            if resolve_check(c, modules).is_none() {
                return Err(doc.error_at(
                    &format!("{at}.checks[{j}]"),
                    &format!("no check `{c}` in any rule"),
                ));
            }
        }
        if let Some(bad) = x.selector.as_ref().and_then(|s| {
            s.match_expressions
                .iter()
                .flatten()
                .find(|e| !["In", "NotIn", "Exists", "DoesNotExist"].contains(&e.operator.as_str()))
        }) {
            return Err(doc.error_at(
                &format!("{at}.selector"),
                &format!(
                    "operator `{}`: expected In, NotIn, Exists or DoesNotExist",
                    bad.operator
                ),
            ));
        }
    }

    Ok(Config {
        file: None,
        paths: raw.paths,
        namespace: raw.namespace,
        fail_on: raw.fail_on,
        baseline: raw.baseline,
        rules,
        severity,
        exemptions: raw.exemptions,
    })
}

/// `(rule, check)` for `check`, `rule/check` or `rule/*`.
fn resolve_check(key: &str, modules: &[&ModuleMetadata]) -> Option<(String, String)> {
    if let Some((rule, check)) = key.split_once('/') {
        let m = modules.iter().find(|m| m.id == rule)?;
        return (check == "*" || m.checks.iter().any(|c| c.id == check))
            .then(|| (rule.to_string(), check.to_string()));
    }
    modules.iter().find_map(|m| {
        m.checks
            .iter()
            .any(|c| c.id == key)
            .then(|| (m.id.clone(), key.to_string()))
    })
}

impl Config {
    /// Whether the rule runs (a rule the config does not name runs).
    #[must_use]
    pub fn enabled(&self, rule: &str) -> bool {
        !matches!(self.rules.get(rule), Some(RuleConfig::Enabled(false)))
    }

    /// The settings a rule gets: `explicit` (from `--settings`) or the config's, with the
    /// config's severity overrides merged under the settings' own `severity`. `None` when
    /// nothing is configured for the rule (it runs with its defaults).
    #[must_use]
    pub fn settings_for(&self, rule: &str, explicit: Option<&Value>) -> Option<Value> {
        let mut settings = match (explicit, self.rules.get(rule)) {
            (Some(Value::Object(m)), _) => m.clone(),
            (Some(_), _) => return explicit.cloned(),
            (None, Some(RuleConfig::Settings(m))) => m.clone(),
            (None, _) => Map::new(),
        };
        let overrides: Map<String, Value> = self
            .severity
            .iter()
            .filter(|((r, _), _)| r == rule)
            .map(|((_, c), level)| (c.clone(), Value::String(level.clone())))
            .collect();
        if !overrides.is_empty() {
            let mut merged = overrides;
            if let Some(Value::Object(own)) = settings.get("severity") {
                merged.extend(own.clone());
            }
            settings.insert("severity".into(), Value::Object(merged));
        }
        let nothing = settings.is_empty()
            && explicit.is_none()
            && !matches!(self.rules.get(rule), Some(RuleConfig::Settings(_)));
        (!nothing).then_some(Value::Object(settings))
    }

    /// Marks the open findings an exemption covers as exempted. `namespace` is the run's
    /// namespace (objects without one are in it, unless cluster-scoped).
    pub fn apply_exemptions(
        &self,
        findings: &mut Findings,
        docs: &[crate::loader::Document],
        namespace: &str,
    ) {
        if self.exemptions.is_empty() {
            return;
        }
        let selectors: Vec<Option<Selector>> = self
            .exemptions
            .iter()
            .map(|x| {
                x.selector
                    .as_ref()
                    .map(|s| Selector::from_label_selector(Some(s)))
            })
            .collect();
        for f in &mut findings.findings {
            if f.status != Status::Open {
                continue;
            }
            let doc = docs.get(f.document);
            let group = f.object.api_version.rsplit_once('/').map_or("", |(g, _)| g);
            let ns = if prodready_sdk::scope::is_cluster_scoped(group, &f.object.kind) {
                None
            } else {
                Some(f.object.namespace.as_deref().unwrap_or(namespace))
            };
            let labels: BTreeMap<String, String> = doc
                .and_then(|d| d.value.pointer("/metadata/labels"))
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            let hit = self.exemptions.iter().zip(&selectors).find(|(x, sel)| {
                x.checks.iter().any(|c| match c.split_once('/') {
                    Some((r, "*")) => r == f.rule,
                    Some((r, c)) => r == f.rule && c == f.check,
                    None => *c == f.check,
                }) && (x.namespaces.is_empty()
                    || ns.is_some_and(|ns| x.namespaces.iter().any(|n| n == ns)))
                    && (x.names.is_empty() || x.names.iter().any(|g| glob(g, &f.object.name)))
                    && (x.kinds.is_empty() || x.kinds.contains(&f.object.kind))
                    && sel.as_ref().is_none_or(|s| s.matches(&labels))
            });
            if let Some((x, _)) = hit {
                f.status = Status::Exempted {
                    reason: x.reason.clone(),
                    by: ExemptedBy::Config,
                };
                f.denies = false;
            }
        }
    }
}

/// Asks rule `id`'s module (among `modules`) whether `settings` are valid: what [`read`]
/// takes as `validate`, and what every caller that merges settings uses.
///
/// # Errors
/// The module's message, or that no module has that id.
pub fn validate_with(
    host: &crate::Host,
    modules: &[crate::RuleModule],
    id: &str,
    settings: &Value,
) -> Result<(), String> {
    let Some(m) = modules.iter().find(|m| m.id() == id) else {
        return Err(format!("no rule {id}"));
    };
    let answer = m.validate_settings(host, settings.to_string().as_bytes());
    if answer.valid {
        Ok(())
    } else {
        Err(answer.message.unwrap_or_else(|| "not valid".into()))
    }
}

/// Whether `name` matches `pattern`, where `*` is any run of characters and `?` one.
#[must_use]
pub fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with one backtrack point (the last `*`): linear for these patterns.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        match p.get(i) {
            Some('*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == '?' || Some(&c) == n.get(j) => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    p.get(i..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}

/// The severity a check has by default, by (rule, check) (prodready-core).
pub use prodready_core::findings::default_severities;

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob("batch-*", "batch-nightly"));
        assert!(glob("*", ""));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*-worker-*", "shop-worker-3"));
        assert!(!glob("batch-*", "web"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }
}

//! What a run found, one [`Finding`] per violation, with where it is written and whether it
//! is new: the one model every output format (human, JSON, SARIF, JUnit, GitHub) and the
//! exit status are computed from.
//!
//! The modules report violations per object with a field path; this module adds the file,
//! line and column of that field ([`crate::loader::Locator`]), the `helm template` source
//! file, a [`Fingerprint`] that survives edits (baselines match on it), and the config file's
//! exemptions ([`crate::config`]).

use std::collections::BTreeMap;

use prodready_sdk::Severity;
use prodready_sdk::verdict::{ErrorCode, ObjectRef};
use serde::Serialize;
use serde_json::Value;

use crate::check::ObjectReport;
use crate::loader::{Document, Locator, Position};
use crate::metadata::ModuleMetadata;

/// Where a finding is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// The file (`<stdin>` for standard input).
    pub file: String,
    /// Line and column of the field the path names, or of its nearest existing parent.
    #[serde(flatten)]
    pub position: Position,
    /// Whether `position` is the field itself (false: the field is absent, and the position
    /// is its nearest parent's, e.g. the container of a missing probe).
    pub exact: bool,
    /// Line of the object's document.
    pub document_line: usize,
    /// 0-based index of the document in its file.
    pub document: usize,
    /// Index in the `items` of a List document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<usize>,
    /// The chart template the document was rendered from (`# Source:` of `helm template`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helm_source: Option<String>,
}

impl Location {
    /// `file:line:col`.
    #[must_use]
    pub fn short(&self) -> String {
        format!(
            "{}:{}:{}",
            self.file, self.position.line, self.position.column
        )
    }
}

/// What identifies a finding across edits of its file: never a line, never a list index.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fingerprint {
    pub rule: String,
    pub check: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    /// The container the path points into, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{} {} ", self.rule, self.check, self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        f.write_str(&self.name)?;
        if let Some(c) = &self.container {
            write!(f, " container {c}")?;
        }
        Ok(())
    }
}

/// Whether a finding counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub enum Status {
    /// Reported and counted.
    Open,
    /// Accepted by a baseline entry (reported, not counted).
    Baselined { reason: String },
    /// Exempted by an annotation on the object or by the config file.
    Exempted { reason: String, by: ExemptedBy },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ExemptedBy {
    /// `prodready.io/skip-<check>` on the object.
    Annotation,
    /// An `exemptions` entry of the config file.
    Config,
}

/// One violation of one check by one object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    pub rule: String,
    pub check: String,
    /// For an annotation exemption, the module does not say (it is the check's default).
    pub severity: Severity,
    pub message: String,
    /// Field path from the object's root.
    pub path: String,
    pub object: ObjectRef,
    pub location: Location,
    #[serde(flatten)]
    pub status: Status,
    /// Whether the module denies the object for it (error severity, rule not in audit mode).
    pub denies: bool,
    pub fingerprint: Fingerprint,
    /// Index of the object's document in the loaded documents.
    #[serde(skip)]
    pub document: usize,
}

/// A rule that could not evaluate an object (it could not read it, a trap, a timeout).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleError {
    pub rule: String,
    pub code: ErrorCode,
    pub message: String,
    pub object: ObjectRef,
    pub location: Location,
    /// Index of the object's document in the loaded documents.
    #[serde(skip)]
    pub document: usize,
}

/// Everything a run found, in input order.
#[derive(Debug, Default)]
pub struct Findings {
    pub findings: Vec<Finding>,
    pub errors: Vec<ModuleError>,
    /// (object, rule) pairs evaluated: what JUnit reports as test cases.
    pub evaluated: Vec<(usize, String)>,
}

/// The severity a check has by default, for annotation exemptions (which carry none).
pub type DefaultSeverities = BTreeMap<(String, String), Severity>;

/// The severity a check has by default, by (rule, check).
#[must_use]
pub fn default_severities(modules: &[&ModuleMetadata]) -> DefaultSeverities {
    modules
        .iter()
        .flat_map(|m| {
            m.checks
                .iter()
                .map(|c| ((m.id.clone(), c.id.clone()), c.severity))
        })
        .collect()
}

/// Reports at least this many are turned into findings on several threads.
const PARALLEL_MIN_REPORTS: usize = 1024;

/// Turns the modules' verdicts into findings with locations. Documents are re-read for
/// positions only when they have something to report; large runs use every core.
#[must_use]
pub fn collect(
    docs: &[Document],
    reports: &[ObjectReport],
    defaults: &DefaultSeverities,
) -> Findings {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if reports.len() < PARALLEL_MIN_REPORTS || threads < 2 {
        return collect_some(docs, reports, defaults);
    }
    let chunk = reports.len().div_ceil(threads);
    let parts: Vec<Findings> = std::thread::scope(|scope| {
        let handles: Vec<_> = reports
            .chunks(chunk)
            .map(|part| scope.spawn(move || collect_some(docs, part, defaults)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut out = Findings::default();
    for part in parts {
        out.findings.extend(part.findings);
        out.errors.extend(part.errors);
        out.evaluated.extend(part.evaluated);
    }
    out
}

fn collect_some(
    docs: &[Document],
    reports: &[ObjectReport],
    defaults: &DefaultSeverities,
) -> Findings {
    let mut out = Findings::default();
    for report in reports {
        let Some(doc) = docs.get(report.document) else {
            continue;
        };
        let mut locator: Option<Locator> = None;
        let mut locate = |path: &str| -> Location {
            let locator = locator.get_or_insert_with(|| Locator::new(&doc.text, doc.start()));
            let root = doc.root_path();
            let full = match (root.is_empty(), path.is_empty()) {
                (true, _) => path.to_string(),
                (false, true) => root,
                (false, false) if path.starts_with('[') => format!("{root}{path}"),
                (false, false) => format!("{root}.{path}"),
            };
            let found = locator.locate(&full);
            Location {
                file: doc.source.to_string(),
                position: found.position,
                exact: found.exact,
                document_line: doc.line,
                document: doc.index,
                item: doc.item,
                helm_source: doc.text.helm_source().map(str::to_string),
            }
        };
        for (rule, verdict) in &report.verdicts {
            out.evaluated.push((report.document, rule.clone()));
            if let Some(e) = &verdict.error {
                out.errors.push(ModuleError {
                    rule: rule.clone(),
                    code: e.code,
                    message: e.message.clone(),
                    object: report.object.clone(),
                    location: locate(""),
                    document: report.document,
                });
                continue;
            }
            for v in &verdict.violations {
                out.findings.push(Finding {
                    rule: rule.clone(),
                    check: v.check.clone(),
                    severity: v.severity,
                    message: v.message.clone(),
                    path: v.path.clone(),
                    object: report.object.clone(),
                    location: locate(&v.path),
                    status: Status::Open,
                    denies: v.severity == Severity::Error && !verdict.allowed,
                    fingerprint: fingerprint(rule, &v.check, &report.object, &doc.value, &v.path),
                    document: report.document,
                });
            }
            for x in &verdict.exempted {
                let severity = defaults
                    .get(&(rule.clone(), x.check.clone()))
                    .copied()
                    .unwrap_or(Severity::Error);
                out.findings.push(Finding {
                    rule: rule.clone(),
                    check: x.check.clone(),
                    severity,
                    message: x.message.clone(),
                    path: x.path.clone(),
                    object: report.object.clone(),
                    location: locate(&x.path),
                    status: Status::Exempted {
                        reason: x.reason.clone(),
                        by: ExemptedBy::Annotation,
                    },
                    denies: false,
                    fingerprint: fingerprint(rule, &x.check, &report.object, &doc.value, &x.path),
                    document: report.document,
                });
            }
        }
    }
    out
}

/// The fingerprint of a finding: rule, check, object and the container its path points into.
#[must_use]
pub fn fingerprint(
    rule: &str,
    check: &str,
    object: &ObjectRef,
    value: &Value,
    path: &str,
) -> Fingerprint {
    Fingerprint {
        rule: rule.to_string(),
        check: check.to_string(),
        kind: object.kind.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
        container: container_name(value, path),
    }
}

/// The name of the container (init, ephemeral) the path points into, if any: the last
/// `containers[i]` of the path, looked up in the object.
fn container_name(value: &Value, path: &str) -> Option<String> {
    let mut cut = None;
    for list in ["containers[", "initContainers[", "ephemeralContainers["] {
        let mut from = 0;
        while let Some(i) = path.get(from..).and_then(|p| p.find(list)) {
            let at = from + i;
            // A whole segment: at the start or after a `.`.
            if (at == 0 || path.as_bytes().get(at - 1) == Some(&b'.'))
                && let Some(close) = path.get(at..).and_then(|p| p.find(']'))
            {
                cut = cut.max(Some(at + close + 1));
            }
            from = at + list.len();
        }
    }
    let node = value_at(value, path.get(..cut?)?)?;
    node.get("name")?.as_str().map(str::to_string)
}

/// The value a field path names (`a.b[0]["c.d"]`, unquoted keys with dots matched longest
/// first), as [`Locator`] finds its position.
#[must_use]
pub fn value_at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let mut node = value;
    let mut rest = path;
    while !rest.is_empty() {
        match node {
            Value::Array(items) => {
                let inner = rest.strip_prefix('[')?;
                let close = inner.find(']')?;
                let index: usize = inner.get(..close)?.parse().ok()?;
                node = items.get(index)?;
                rest = inner.get(close + 1..)?;
            }
            Value::Object(map) => {
                if let Some(after) = rest.strip_prefix("[\"") {
                    let (key, len) = json_key(after)?;
                    node = map.get(&key)?;
                    rest = after.get(len + 2..)?;
                } else {
                    let path = rest.strip_prefix('.').unwrap_or(rest);
                    let (len, child) = map
                        .iter()
                        .filter(|(k, _)| {
                            path.strip_prefix(k.as_str()).is_some_and(|r| {
                                r.is_empty() || r.starts_with('.') || r.starts_with('[')
                            })
                        })
                        .map(|(k, v)| (k.len(), v))
                        .max_by_key(|(len, _)| *len)?;
                    node = child;
                    rest = path.get(len..)?;
                }
            }
            _ => return None,
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
    }
    Some(node)
}

/// A JSON string key after `["`: the key and the length of its text up to the closing `"`.
fn json_key(after: &str) -> Option<(String, usize)> {
    let mut escaped = false;
    for (i, c) in after.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' if after.get(i + 1..)?.starts_with(']') => {
                let key = serde_json::from_str(&format!("\"{}\"", after.get(..i)?)).ok()?;
                return Some((key, i));
            }
            _ => {}
        }
    }
    None
}

/// Counts, for summaries and the exit status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub objects: usize,
    /// Open findings of error severity.
    pub errors: usize,
    /// Open findings of warning severity.
    pub warnings: usize,
    pub exempted: usize,
    pub baselined: usize,
    pub module_errors: usize,
    /// Open findings that deny.
    pub denying: usize,
}

impl Findings {
    /// Counts of the run over `objects` objects.
    #[must_use]
    pub fn summary(&self, objects: usize) -> Summary {
        let mut s = Summary {
            objects,
            module_errors: self.errors.len(),
            ..Summary::default()
        };
        for f in &self.findings {
            match &f.status {
                Status::Open => {
                    match f.severity {
                        Severity::Error => s.errors += 1,
                        Severity::Warning => s.warnings += 1,
                    }
                    if f.denies {
                        s.denying += 1;
                    }
                }
                Status::Baselined { .. } => s.baselined += 1,
                Status::Exempted { .. } => s.exempted += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn value_at_follows_paths_as_findings_write_them() {
        let v = json!({"metadata": {"labels": {"app": "x", "app.kubernetes.io/name": "y"},
                       "annotations": {"a.b/c": "z"}},
                       "spec": {"containers": [{"name": "one"}, {"name": "two", "ports": [{"name": "p"}]}]}});
        assert_eq!(
            value_at(&v, "metadata.labels.app.kubernetes.io/name"),
            Some(&json!("y"))
        );
        assert_eq!(value_at(&v, "metadata.labels.app"), Some(&json!("x")));
        assert_eq!(
            value_at(&v, "metadata.annotations[\"a.b/c\"]"),
            Some(&json!("z"))
        );
        assert_eq!(
            value_at(&v, "spec.containers[1].ports[0].name"),
            Some(&json!("p"))
        );
        assert_eq!(value_at(&v, "spec.containers[2]"), None);
        assert_eq!(value_at(&v, ""), Some(&v));
    }

    #[test]
    fn fingerprints_name_the_container_not_its_index() {
        let v = json!({"spec": {"template": {"spec": {
            "initContainers": [{"name": "migrate"}],
            "containers": [{"name": "app"}, {"name": "sidecar"}]}}}});
        let c = |p: &str| container_name(&v, p);
        assert_eq!(
            c("spec.template.spec.containers[1].livenessProbe"),
            Some("sidecar".into())
        );
        assert_eq!(
            c("spec.template.spec.initContainers[0].resources"),
            Some("migrate".into())
        );
        assert_eq!(c("spec.template.spec"), None);
        assert_eq!(c("spec.template.spec.containers[7]"), None);
    }
}

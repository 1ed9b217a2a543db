//! The JSON report (`prodready check --output json`, the playground's `check`): every object
//! some rule evaluated, with its findings grouped by status and its module errors, the
//! documents skipped, the rules run and the summary. One writer, so every host's report has
//! the same shape.

use std::collections::BTreeMap;

use prodready_sdk::verdict::ObjectRef;
use serde_json::{Value, json};

use crate::findings::{Finding, Findings, ModuleError, Status, Summary};
use crate::loader::{Skipped, Source};

/// One object of the run, as the report names it.
#[derive(Debug, Clone, Copy)]
pub struct ObjectEntry<'a> {
    pub source: &'a Source,
    /// 0-based index of its document in its file.
    pub index: usize,
    /// 1-based line where its document starts.
    pub line: usize,
    /// Its index in the `items` of a List document.
    pub item: Option<usize>,
    pub helm_source: Option<&'a str>,
    /// What the rules were told it is.
    pub object: &'a ObjectRef,
    /// `metadata.namespace` and `metadata.name` as written.
    pub written_namespace: Option<&'a Value>,
    pub written_name: Option<&'a Value>,
}

/// Everything a report holds. `objects` makes the objects' iterator when the report is
/// written (findings' `document` indexes into it).
pub struct Report<'a, F> {
    pub objects: F,
    pub skipped: &'a [Skipped],
    pub findings: &'a Findings,
    /// (id, version) of every rule run.
    pub rules: Vec<(&'a str, &'a str)>,
    /// `--shard`: (index, count).
    pub shard: Option<(u32, u32)>,
    /// The baseline applied, as the report shows it.
    pub baseline: Option<Value>,
    pub summary: Summary,
}

/// The report as pretty-printed JSON, with a final newline.
pub fn to_json<'a, F, I>(report: &Report<'a, F>) -> serde_json::Result<String>
where
    F: Fn() -> I,
    I: Iterator<Item = ObjectEntry<'a>>,
{
    let mut by_doc: BTreeMap<usize, (Vec<&Finding>, Vec<&ModuleError>)> = BTreeMap::new();
    for f in &report.findings.findings {
        by_doc.entry(f.document).or_default().0.push(f);
    }
    for e in &report.findings.errors {
        by_doc.entry(e.document).or_default().1.push(e);
    }
    let mut rules_of: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (doc, rule) in &report.findings.evaluated {
        rules_of.entry(*doc).or_default().push(rule);
    }
    // Each object's entry is built as it is written, not all of them first: at 10k objects the
    // whole tree was ten times the size of its text.
    let object_entry = |i: usize, d: ObjectEntry<'_>| -> Option<Value> {
        let rules = rules_of.get(&i)?;
        let empty = (Vec::new(), Vec::new());
        let (findings, errors) = by_doc.get(&i).unwrap_or(&empty);
        let of = |want: fn(&Status) -> bool| -> Vec<Value> {
            findings
                .iter()
                .filter(|f| want(&f.status))
                .map(|f| serde_json::to_value(f).unwrap_or_default())
                .collect()
        };
        let object = findings
            .first()
            .map(|f| &f.object)
            .or_else(|| errors.first().map(|e| &e.object));
        Some(json!({
            "file": d.source.to_string(),
            "line": d.line,
            "document": d.index,
            "item": d.item,
            "helmSource": d.helm_source,
            "object": object.map(|o| serde_json::to_value(o).unwrap_or_default()).unwrap_or_else(|| json!({
                "apiVersion": d.object.api_version,
                "kind": d.object.kind,
                "namespace": d.written_namespace,
                "name": d.written_name,
            })),
            "rules": rules,
            "violations": of(|s| matches!(s, Status::Open)),
            "baselined": of(|s| matches!(s, Status::Baselined { .. })),
            "exempted": of(|s| matches!(s, Status::Exempted { .. })),
            "errors": errors,
        }))
    };
    let objects = Lazy(|| {
        (report.objects)()
            .enumerate()
            .filter_map(|(i, d)| object_entry(i, d))
    });
    let skipped: Vec<_> = report
        .skipped
        .iter()
        .map(|k| json!({"file": k.source.to_string(), "line": k.line, "document": k.index, "reason": k.reason}))
        .collect();
    // The keys in serde_json's (sorted) order, as when this was one `json!` value.
    let doc = Document {
        baseline: report.baseline.clone(),
        objects,
        rules: report
            .rules
            .iter()
            .map(|(id, version)| json!({"id": id, "version": version}))
            .collect(),
        shard: report
            .shard
            .map(|(index, count)| json!({"index": index, "count": count})),
        skipped,
        summary: serde_json::to_value(report.summary)?,
    };
    let mut out = serde_json::to_string_pretty(&doc)?;
    out.push('\n');
    Ok(out)
}

#[derive(serde::Serialize)]
struct Document<O: serde::Serialize> {
    baseline: Option<Value>,
    objects: O,
    rules: Vec<Value>,
    shard: Option<Value>,
    skipped: Vec<Value>,
    summary: Value,
}

/// A sequence serialized from an iterator made when it is written.
struct Lazy<F>(F);

impl<F, I> serde::Serialize for Lazy<F>
where
    F: Fn() -> I,
    I: Iterator<Item = Value>,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

//! For machines: every finding with its location, status and fingerprint, grouped by object
//! (the shape of earlier versions, plus `location`), and the summary.

use std::collections::BTreeMap;

use prodready_host::findings::{Finding, ModuleError, Status};
use serde_json::json;

use crate::cli::check::Run;
use prodready_host::check::stream::Object;

pub fn render(run: &Run) -> anyhow::Result<String> {
    let mut by_doc: BTreeMap<usize, (Vec<&Finding>, Vec<&ModuleError>)> = BTreeMap::new();
    for f in &run.findings.findings {
        by_doc.entry(f.document).or_default().0.push(f);
    }
    for e in &run.findings.errors {
        by_doc.entry(e.document).or_default().1.push(e);
    }
    let mut rules_of: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for (doc, rule) in &run.findings.evaluated {
        rules_of.entry(*doc).or_default().push(rule);
    }
    // Each object's entry is built as it is written, not all of them first: at 10k objects the
    // whole tree was ten times the size of its text.
    let object_entry = |i: usize, d: &Object| -> Option<serde_json::Value> {
        let rules = rules_of.get(&i)?;
        let empty = (Vec::new(), Vec::new());
        let (findings, errors) = by_doc.get(&i).unwrap_or(&empty);
        let of = |want: fn(&Status) -> bool| -> Vec<serde_json::Value> {
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
        run.objects
            .iter()
            .enumerate()
            .filter_map(|(i, d)| object_entry(i, d))
    });
    let skipped: Vec<_> = run
        .skipped
        .iter()
        .map(|k| json!({"file": k.source.to_string(), "line": k.line, "document": k.index, "reason": k.reason}))
        .collect();
    let baseline = run.baseline.as_ref().map(|(path, o)| {
        json!({
            "file": path.display().to_string(),
            "expired": o.expired,
            "stale": o.stale,
        })
    });
    // The keys in serde_json's (sorted) order, as when this was one `json!` value.
    let doc = Document {
        baseline,
        objects,
        rules: run
            .modules
            .iter()
            .map(|m| json!({"id": m.id(), "version": m.metadata().version}))
            .collect(),
        shard: run
            .shard
            .map(|s| json!({"index": s.index, "count": s.count})),
        skipped,
        summary: serde_json::to_value(run.summary)?,
    };
    let mut out = serde_json::to_string_pretty(&doc)?;
    out.push('\n');
    Ok(out)
}

#[derive(serde::Serialize)]
struct Document<O: serde::Serialize> {
    baseline: Option<serde_json::Value>,
    objects: O,
    rules: Vec<serde_json::Value>,
    shard: Option<serde_json::Value>,
    skipped: Vec<serde_json::Value>,
    summary: serde_json::Value,
}

/// A sequence serialized from an iterator made when it is written.
struct Lazy<F>(F);

impl<F, I> serde::Serialize for Lazy<F>
where
    F: Fn() -> I,
    I: Iterator<Item = serde_json::Value>,
{
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

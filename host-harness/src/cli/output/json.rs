//! For machines: every finding with its location, status and fingerprint, grouped by object
//! (the shape of earlier versions, plus `location`), and the summary.

use std::collections::BTreeMap;

use prodready_host::findings::{Finding, ModuleError, Status};
use serde_json::json;

use crate::cli::check::Run;

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
    let objects: Vec<_> = run
        .objects
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
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
        })
        .collect();
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
    let doc = json!({
        "rules": run.modules.iter().map(|m| json!({"id": m.id(), "version": m.metadata().version})).collect::<Vec<_>>(),
        "summary": run.summary,
        "objects": objects,
        "skipped": skipped,
        "baseline": baseline,
        "shard": run.shard.map(|s| json!({"index": s.index, "count": s.count})),
    });
    Ok(serde_json::to_string_pretty(&doc)? + "\n")
}

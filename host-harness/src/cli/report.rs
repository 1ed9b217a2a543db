//! Human and JSON reports.

use std::io::Write as _;

use prodready_host::RuleModule;
use prodready_host::check::ObjectReport;
use prodready_host::loader::{Document, Loaded};
use prodready_sdk::Severity;
use serde_json::json;

#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub objects: usize,
    pub errors: usize,
    pub warnings: usize,
    pub exempted: usize,
    pub module_errors: usize,
    /// Verdicts that deny (error-severity violations outside audit mode).
    pub denied: usize,
}

pub fn summarize(reports: &[ObjectReport]) -> Summary {
    let mut s = Summary {
        objects: reports.len(),
        ..Summary::default()
    };
    for r in reports {
        for (_, v) in &r.verdicts {
            if v.error.is_some() {
                s.module_errors += 1;
                continue;
            }
            if !v.allowed {
                s.denied += 1;
            }
            s.exempted += v.exempted.len();
            for viol in &v.violations {
                match viol.severity {
                    Severity::Error => s.errors += 1,
                    Severity::Warning => s.warnings += 1,
                }
            }
        }
    }
    s
}

fn object_label(r: &ObjectReport) -> String {
    match &r.object.namespace {
        Some(ns) => format!("{} {}/{}", r.object.kind, ns, r.object.name),
        None => format!("{} {}", r.object.kind, r.object.name),
    }
}

fn location(d: &Document) -> String {
    match d.item {
        Some(i) => format!("{}:{} (items[{i}])", d.source, d.line),
        None => format!("{}:{}", d.source, d.line),
    }
}

pub fn human(docs: &[Document], reports: &[ObjectReport], modules: &[RuleModule], s: &Summary) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for r in reports {
        let interesting = r
            .verdicts
            .iter()
            .any(|(_, v)| v.error.is_some() || !v.violations.is_empty() || !v.exempted.is_empty());
        if !interesting {
            continue;
        }
        let loc = docs.get(r.document).map(location).unwrap_or_default();
        let _ = writeln!(out, "{loc}: {}", object_label(r));
        for (rule, v) in &r.verdicts {
            if let Some(e) = &v.error {
                let code = serde_json::to_value(e.code)
                    .ok()
                    .and_then(|c| c.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(out, "  ERROR    {rule}: {code}: {}", e.message);
            }
            for viol in &v.violations {
                let _ = writeln!(
                    out,
                    "  {:<8} {}/{}  {}",
                    viol.severity.as_str(),
                    rule,
                    viol.check,
                    viol.path
                );
                let _ = writeln!(out, "           {}", viol.message);
            }
            for ex in &v.exempted {
                let _ = writeln!(
                    out,
                    "  exempt   {}/{}  {}: {}",
                    rule, ex.check, ex.path, ex.reason
                );
            }
        }
        let _ = writeln!(out);
    }
    let ids: Vec<&str> = modules.iter().map(RuleModule::id).collect();
    let _ = writeln!(
        out,
        "{} objects checked by {} rules ({}): {} errors, {} warnings, {} exempted, {} module errors",
        s.objects,
        ids.len(),
        ids.join(", "),
        s.errors,
        s.warnings,
        s.exempted,
        s.module_errors
    );
}

pub fn json(
    loaded: &Loaded,
    reports: &[ObjectReport],
    modules: &[RuleModule],
    s: &Summary,
) -> anyhow::Result<()> {
    let objects: Vec<_> = reports
        .iter()
        .map(|r| {
            let d = loaded.documents.get(r.document);
            let mut violations = Vec::new();
            let mut exempted = Vec::new();
            let mut errors = Vec::new();
            let mut rules = Vec::new();
            for (rule, v) in &r.verdicts {
                rules.push(rule.clone());
                violations.extend(v.violations.iter().cloned());
                exempted.extend(
                    v.exempted
                        .iter()
                        .map(|e| json!({"rule": rule, "check": e.check, "reason": e.reason, "path": e.path, "message": e.message})),
                );
                if let Some(e) = &v.error {
                    errors.push(json!({"rule": rule, "code": e.code, "message": e.message}));
                }
            }
            json!({
                "file": d.map(|d| d.source.to_string()),
                "line": d.map(|d| d.line),
                "document": d.map(|d| d.index),
                "item": d.and_then(|d| d.item),
                "object": r.object,
                "rules": rules,
                "violations": violations,
                "exempted": exempted,
                "errors": errors,
            })
        })
        .collect();
    let skipped: Vec<_> = loaded
        .skipped
        .iter()
        .map(|k| json!({"file": k.source.to_string(), "line": k.line, "document": k.index, "reason": k.reason}))
        .collect();
    let doc = json!({
        "rules": modules.iter().map(|m| json!({"id": m.id(), "version": m.metadata().version})).collect::<Vec<_>>(),
        "summary": {
            "objects": s.objects,
            "errors": s.errors,
            "warnings": s.warnings,
            "exempted": s.exempted,
            "moduleErrors": s.module_errors,
        },
        "objects": objects,
        "skipped": skipped,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

pub fn rules_human(modules: &[RuleModule]) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for m in modules {
        let md = m.metadata();
        let _ = writeln!(
            out,
            "{:>2}  {}  {} ({}, v{})",
            md.number, md.id, md.title, md.slide, md.version
        );
        let _ = writeln!(out, "    {}", md.description);
        for c in &md.checks {
            let _ = writeln!(
                out,
                "    {:<8} {:<28} {}",
                c.severity.as_str(),
                c.id,
                c.description
            );
        }
        let _ = writeln!(out);
    }
}

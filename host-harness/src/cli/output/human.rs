//! For people: grouped by file, then object, each finding at `file:line:col`, then a summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use prodready_host::findings::{ExemptedBy, Finding, Status};
use prodready_sdk::Severity;

use super::object_label;
use crate::cli::check::Run;

struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    fn bold(&self, t: &str) -> String {
        self.wrap("1", t)
    }
    fn dim(&self, t: &str) -> String {
        self.wrap("2", t)
    }
    fn severity(&self, f: &Finding) -> String {
        let (label, code) = match (&f.status, f.severity) {
            (Status::Exempted { .. }, _) => ("exempt", "2"),
            (Status::Baselined { .. }, _) => ("baseline", "2"),
            (Status::Open, Severity::Error) if f.denies => ("error", "1;31"),
            (Status::Open, Severity::Error) => ("error", "31"),
            (Status::Open, Severity::Warning) => ("warning", "33"),
        };
        self.wrap(code, &format!("{label:<8}"))
    }
}

pub fn render(run: &Run, color: bool) -> String {
    let p = Paint(color);
    let mut out = String::new();
    // Findings and errors by document, documents in input order, grouped by file.
    let mut by_doc: BTreeMap<usize, (Vec<&Finding>, Vec<_>)> = BTreeMap::new();
    for f in &run.findings.findings {
        by_doc.entry(f.document).or_default().0.push(f);
    }
    for e in &run.findings.errors {
        by_doc.entry(e.document).or_default().1.push(e);
    }
    let mut file = None;
    for (doc, (findings, errors)) in &by_doc {
        let (name, object) = match (findings.first(), errors.first()) {
            (Some(f), _) => (&f.location.file, &f.object),
            (None, Some(e)) => (&e.location.file, &e.object),
            (None, None) => continue,
        };
        if file != Some(name) {
            if file.is_some() {
                out.push('\n');
            }
            let _ = writeln!(out, "{}", p.bold(name));
            file = Some(name);
        }
        let d = run.objects.get(*doc);
        let mut head = format!("  {}", p.bold(&object_label(object)));
        if let Some(d) = d {
            let _ = write!(head, " {}", p.dim(&format!("(line {})", d.line)));
            if let Some(src) = &d.helm_source {
                let _ = write!(head, " {}", p.dim(&format!("from {src}")));
            }
        }
        let _ = writeln!(out, "{head}");
        for e in errors {
            let code = serde_json::to_value(e.code)
                .ok()
                .and_then(|c| c.as_str().map(str::to_string))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "    {}:{}  {} {}: {code}: {}",
                e.location.file,
                e.location.position.line,
                p.wrap("1;35", "ERROR   "),
                e.rule,
                e.message
            );
        }
        for f in findings {
            let _ = writeln!(
                out,
                "    {}  {} {}  {}",
                f.location.short(),
                p.severity(f),
                p.bold(&format!("{}/{}", f.rule, f.check)),
                p.dim(&f.path)
            );
            let _ = writeln!(out, "        {}", f.message);
            match &f.status {
                Status::Exempted { reason, by } => {
                    let by = match by {
                        ExemptedBy::Annotation => "annotation",
                        ExemptedBy::Config => "config",
                    };
                    let _ = writeln!(
                        out,
                        "        {}",
                        p.dim(&format!("exempted ({by}): {reason}"))
                    );
                }
                Status::Baselined { reason } => {
                    let _ = writeln!(out, "        {}", p.dim(&format!("baselined: {reason}")));
                }
                Status::Open => {}
            }
        }
    }
    if !by_doc.is_empty() {
        out.push('\n');
    }
    if let Some((path, outcome)) = &run.baseline {
        for e in &outcome.expired {
            let _ = writeln!(
                out,
                "{}: {} expired on {}: {} (fix it, or extend `expires` with a reason)",
                path.display(),
                p.wrap("1;31", "baseline entry"),
                e.expires.as_deref().unwrap_or_default(),
                e.fingerprint()
            );
        }
        for e in &outcome.stale {
            let _ = writeln!(
                out,
                "{}: stale baseline entry (fixed, delete it): {}",
                path.display(),
                e.fingerprint()
            );
        }
    }
    let s = &run.summary;
    let ids: Vec<&str> = run.modules.iter().map(|m| m.id()).collect();
    let mut line = format!(
        "{} objects checked by {} rules ({}): {} errors, {} warnings, {} exempted",
        s.objects,
        ids.len(),
        ids.join(", "),
        s.errors,
        s.warnings,
        s.exempted,
    );
    if run.baseline.is_some() {
        let _ = write!(line, ", {} baselined", s.baselined);
    }
    let _ = write!(line, ", {} module errors", s.module_errors);
    if let Some(shard) = run.shard {
        let _ = write!(line, " (shard {}/{})", shard.index, shard.count);
    }
    let _ = writeln!(out, "{}", p.bold(&line));
    out
}

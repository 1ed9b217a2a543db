//! GitHub Actions workflow commands: one annotation per open finding, placed on its line in
//! the pull request's diff (`::error file=F,line=L,col=C,title=T::message`).

use std::fmt::Write as _;

use prodready_host::findings::Status;
use prodready_sdk::Severity;

use super::object_label;
use crate::cli::check::Run;

/// Workflow-command escaping of a message (`%`, CR, LF).
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command escaping of a property value (also `:` and `,`).
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn render(run: &Run) -> String {
    let mut out = String::new();
    for f in &run.findings.findings {
        if f.status != Status::Open {
            continue;
        }
        let level = match f.severity {
            Severity::Error if f.denies => "error",
            _ => "warning",
        };
        let _ = writeln!(
            out,
            "::{level} file={},line={},col={},title={}::{}",
            property(&f.location.file),
            f.location.position.line,
            f.location.position.column,
            property(&format!("prodready {}/{}", f.rule, f.check)),
            data(&format!(
                "{}: {} ({})",
                object_label(&f.object),
                f.message,
                f.path
            ))
        );
    }
    for e in &run.findings.errors {
        let _ = writeln!(
            out,
            "::error file={},line={},title={}::{}",
            property(&e.location.file),
            e.location.position.line,
            property(&format!("prodready {} could not evaluate", e.rule)),
            data(&format!("{}: {}", object_label(&e.object), e.message))
        );
    }
    if let Some((path, o)) = &run.baseline {
        for e in &o.expired {
            let _ = writeln!(
                out,
                "::error file={},title=prodready baseline::{}",
                property(&path.display().to_string()),
                data(&format!(
                    "entry expired on {}: {}",
                    e.expires.as_deref().unwrap_or_default(),
                    e.fingerprint()
                ))
            );
        }
    }
    let s = &run.summary;
    let _ = writeln!(
        out,
        "::notice title=prodready::{}",
        data(&format!(
            "{} objects: {} errors, {} warnings, {} exempted, {} baselined, {} module errors",
            s.objects, s.errors, s.warnings, s.exempted, s.baselined, s.module_errors
        ))
    );
    out
}

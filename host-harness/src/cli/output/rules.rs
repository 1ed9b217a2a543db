//! `prodready rules`, for people.

use std::io::Write as _;

use prodready_host::RuleModule;

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

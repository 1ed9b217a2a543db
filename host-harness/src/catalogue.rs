//! docs/checks.md, generated from the modules' metadata so it cannot drift from the code.
//! Regenerate with `cargo run --release -- rules --output markdown > docs/checks.md`; a test
//! fails when the checked-in file is stale.

use std::fmt::Write as _;

use crate::module::ModuleMetadata;

fn schema_type(s: &serde_json::Value) -> String {
    if let Some(t) = s.get("type") {
        return match t {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
            other => other.as_str().unwrap_or_default().to_string(),
        };
    }
    if let Some(e) = s.get("enum").and_then(|e| e.as_array()) {
        return e
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = s.get(key).and_then(|e| e.as_array()) {
            return alts
                .iter()
                .map(schema_type)
                .collect::<Vec<_>>()
                .join(" \\| ");
        }
    }
    if let Some(c) = s.get("const") {
        return format!("`{c}`");
    }
    String::new()
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The catalogue as Markdown.
pub fn markdown(rules: &[&ModuleMetadata]) -> String {
    let mut rules = rules.to_vec();
    rules.sort_by_key(|m| m.number);
    let mut out = String::new();
    let _ = writeln!(out, "# Check catalogue\n");
    let _ = writeln!(
        out,
        "Generated from the rule modules' metadata by `prodready rules --output markdown`; do not edit.\n\
         Exempt an object from a check with the annotation `prodready.io/skip-<check>: \"<reason>\"`;\n\
         re-grade or switch off a check with the `severity` setting (docs/abi.md).\n"
    );
    for m in &rules {
        let _ = writeln!(out, "## {}. {} (`{}`)\n", m.number, m.title, m.id);
        out.push_str(&rule_body(m));
        let _ = writeln!(out);
    }
    out
}

/// The README's rule table: a row per rule, its checks.
pub fn readme_table(rules: &[&ModuleMetadata]) -> String {
    let mut rules = rules.to_vec();
    rules.sort_by_key(|m| m.number);
    let mut out = String::from("| # | rule | checks |\n|---|---|---|\n");
    for m in rules {
        let checks: Vec<String> = m.checks.iter().map(|c| format!("`{}`", c.id)).collect();
        let _ = writeln!(out, "| {} | `{}` | {} |", m.number, m.id, checks.join(", "));
    }
    out
}

/// The markers around the generated rule table in README.md.
pub const README_BEGIN: &str =
    "<!-- BEGIN rule table (generated from the modules' metadata; a test keeps it fresh) -->\n";
pub const README_END: &str = "<!-- END rule table -->";

/// README.md with its rule table regenerated; `None` when the markers are missing.
pub fn readme_with_table(readme: &str, rules: &[&ModuleMetadata]) -> Option<String> {
    let begin = readme.find(README_BEGIN)? + README_BEGIN.len();
    let end = begin + readme[begin..].find(README_END)?;
    Some(format!(
        "{}{}{}",
        &readme[..begin],
        readme_table(rules),
        &readme[end..]
    ))
}

/// One rule's description, check table and settings table (no heading): the catalogue's
/// section, and the Kubewarden `usage` annotation.
pub fn rule_body(m: &ModuleMetadata) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} From the talk's {}.\n", m.description, m.slide);
    let kinds: Vec<String> = m.resources.iter().flat_map(|r| r.kinds.clone()).collect();
    let _ = writeln!(out, "Applies to: {}.", kinds.join(", "));
    if !m.context_resources.is_empty() {
        let ctx: Vec<String> = m
            .context_resources
            .iter()
            .map(|c| {
                let scope = if c.namespaced {
                    "of the object's namespace"
                } else {
                    "cluster-scoped"
                };
                format!("{} {} ({scope})", c.api_version, c.kind)
            })
            .collect();
        let _ = writeln!(
            out,
            "Reads other objects: {}. In `prodready check` they come from the manifest set; at admission from the cluster (Kubewarden lists them through its host capabilities, Gatekeeper reads what it syncs).",
            ctx.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\n| check | severity | what | fix |\n|---|---|---|---|"
    );
    for c in &m.checks {
        let what = if c.context.is_empty() {
            cell(&c.description)
        } else {
            format!(
                "{} *Other objects:* {}",
                cell(&c.description),
                cell(&c.context)
            )
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            c.id,
            c.severity.as_str(),
            what,
            cell(&c.remediation)
        );
    }
    let _ = writeln!(
        out,
        "\nSettings:\n\n| setting | type | default | meaning |\n|---|---|---|---|"
    );
    if let Some(props) = m
        .settings_schema
        .get("properties")
        .and_then(|p| p.as_object())
    {
        for (name, s) in props {
            let default = s
                .get("default")
                .map(|d| format!("`{d}`"))
                .unwrap_or_default();
            let description = s
                .get("description")
                .and_then(|d| d.as_str())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "| `{name}` | {} | {} | {} |",
                schema_type(s),
                default,
                cell(description)
            );
        }
    }
    out
}

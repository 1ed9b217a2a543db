//! `prodready new-rule`: a new rule crate from the template (host-harness/templates/rule), its
//! first fixture, and the generated lists brought up to date — the one-folder change of
//! docs/adding-a-rule.md.

use std::path::{Path, PathBuf};

use crate::lists;

/// What the new rule is called.
#[derive(Debug, Clone)]
pub struct NewRule {
    /// Kebab-case id: the crate is `prodready-<id>`, the folder `policies/<id>`.
    pub id: String,
    /// The rule's number in the talk, 1 to 15.
    pub number: u8,
    pub title: String,
    /// Where in the talk the rule comes from, e.g. `slides 34-36`.
    pub slide: String,
}

const TEMPLATES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../templates/rule/Cargo.toml.tmpl"),
    ),
    (
        "src/lib.rs",
        include_str!("../templates/rule/src/lib.rs.tmpl"),
    ),
    (
        "src/settings.rs",
        include_str!("../templates/rule/src/settings.rs.tmpl"),
    ),
    (
        "src/checks.rs",
        include_str!("../templates/rule/src/checks.rs.tmpl"),
    ),
];

const FIXTURE: &str = include_str!("../templates/rule/fixture.yaml.tmpl");

/// `ci-cd` → `CiCd`.
pub fn type_name(id: &str) -> String {
    id.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Whether an id is a valid rule id: lowercase letters, digits and single dashes, starting
/// with a letter.
pub fn valid_id(id: &str) -> bool {
    id.starts_with(|c: char| c.is_ascii_lowercase())
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && id != "sdk"
}

fn render(template: &str, r: &NewRule) -> String {
    template
        .replace("{{id}}", &r.id)
        .replace("{{number}}", &r.number.to_string())
        .replace("{{title}}", &r.title)
        .replace("{{slide}}", &r.slide)
        .replace("{{type}}", &type_name(&r.id))
}

/// Writes `policies/<id>/` and `tests/fixtures/<id>/`, then syncs the generated lists.
/// Returns every path written, relative to `root`.
pub fn new_rule(root: &Path, r: &NewRule) -> Result<Vec<PathBuf>, String> {
    if !valid_id(&r.id) {
        return Err(format!(
            "`{}` is not a rule id: use lowercase letters, digits and single dashes, starting with a letter (e.g. external-traffic)",
            r.id
        ));
    }
    if !(1..=15).contains(&r.number) {
        return Err(format!(
            "--number {}: the talk's rules are numbered 1 to 15",
            r.number
        ));
    }
    if !root.join("policies").join("sdk").is_dir() {
        return Err(format!(
            "{} is not the prodready repository (no policies/sdk); run from its root or pass --root",
            root.display()
        ));
    }
    let crate_dir = root.join("policies").join(&r.id);
    if crate_dir.exists() {
        return Err(format!("policies/{} exists already", r.id));
    }
    let mut written = Vec::new();
    for (path, template) in TEMPLATES {
        let rel = PathBuf::from("policies").join(&r.id).join(path);
        write(root, &rel, &render(template, r))?;
        written.push(rel);
    }
    let fixture = PathBuf::from("tests/fixtures")
        .join(&r.id)
        .join(format!("{}-image-set.yaml", r.id));
    write(root, &fixture, &render(FIXTURE, r))?;
    written.push(fixture);
    written.extend(lists::sync(root)?);
    Ok(written)
}

fn write(root: &Path, rel: &Path, text: &str) -> Result<(), String> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", rel.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_type_names() {
        assert_eq!(type_name("ci-cd"), "CiCd");
        assert_eq!(type_name("stateful-application"), "StatefulApplication");
        for ok in ["ci-cd", "tuning", "rule2"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "CiCd", "-x", "x-", "a--b", "sdk", "1st", "a_b"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}

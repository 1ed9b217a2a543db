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

const STANDALONE_TOML: &str = include_str!("../templates/rule/Cargo.standalone.toml.tmpl");

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

/// Writes a rule crate outside the repository in `dir` (which must not exist or be empty):
/// the same sources as [`new_rule`], a Cargo.toml of its own that names the SDK at `sdk`,
/// and its first test suite, `prodready-test.yaml`. Returns the paths written, relative to
/// `dir`.
pub fn new_standalone_rule(dir: &Path, r: &NewRule, sdk: &Path) -> Result<Vec<PathBuf>, String> {
    if !valid_id(&r.id) {
        return Err(format!(
            "`{}` is not a rule id: use lowercase letters, digits and single dashes, starting with a letter",
            r.id
        ));
    }
    if !(1..=99).contains(&r.number) {
        return Err(format!("--number {}: use 1 to 99", r.number));
    }
    if !sdk.join("Cargo.toml").is_file() {
        return Err(format!(
            "{}: not the prodready SDK (no Cargo.toml); pass --sdk <checkout>/policies/sdk",
            sdk.display()
        ));
    }
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("{} exists and is not empty", dir.display()));
    }
    let sdk = std::fs::canonicalize(sdk).map_err(|e| format!("{}: {e}", sdk.display()))?;
    let mut written = Vec::new();
    let toml = render(STANDALONE_TOML, r).replace("{{sdk}}", &sdk.display().to_string());
    write(dir, Path::new("Cargo.toml"), &toml)?;
    written.push(PathBuf::from("Cargo.toml"));
    for (path, template) in TEMPLATES.iter().filter(|(p, _)| *p != "Cargo.toml") {
        write(dir, Path::new(path), &render(template, r))?;
        written.push(PathBuf::from(path));
    }
    let suite = render(FIXTURE, r).replacen(
        "fixture:\n",
        "# prodready test --policy dist/<rule>.wasm --flavours all (docs/writing-a-rule.md)\nfixture:\n",
        1,
    );
    write(dir, Path::new(crate::suite::FILE_NAME), &suite)?;
    written.push(PathBuf::from(crate::suite::FILE_NAME));
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

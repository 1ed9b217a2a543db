//! Meta-tests over every rule: the metadata is complete and consistent, the wasm and native
//! builds describe themselves identically, and docs/checks.md is what the metadata generates.

mod common;

use std::collections::BTreeSet;

use common::{modules, native, repo_root};

#[test]
fn every_check_is_documented_and_ids_are_unique() {
    let mut ids = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    for m in modules() {
        let md = m.metadata();
        assert!(
            (1..=15).contains(&md.number),
            "{}: rule number {}",
            md.id,
            md.number
        );
        assert!(
            numbers.insert(md.number),
            "rule number {} used twice",
            md.number
        );
        assert!(!md.title.is_empty() && !md.description.is_empty() && !md.slide.is_empty());
        assert!(!md.checks.is_empty(), "{} has no checks", md.id);
        assert!(!md.resources.is_empty(), "{} applies to nothing", md.id);
        for c in &md.checks {
            assert!(
                ids.insert(c.id.clone()),
                "check id {} used by two rules",
                c.id
            );
            assert!(
                c.id.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-'),
                "check id {} is not kebab-case",
                c.id
            );
            assert!(
                !c.description.is_empty(),
                "{}/{} has no description",
                md.id,
                c.id
            );
            assert!(
                c.remediation.ends_with('.'),
                "{}/{}: remediation must be a sentence ending with a period",
                md.id,
                c.id
            );
        }
    }
}

#[test]
fn settings_schemas_are_strict_and_carry_defaults() {
    for m in modules() {
        let md = m.metadata();
        let schema = &md.settings_schema;
        assert_eq!(schema["additionalProperties"], false, "{}", md.id);
        let props = schema["properties"].as_object().expect("properties");
        for shared in ["audit", "severity"] {
            assert!(
                props.contains_key(shared),
                "{}: no `{shared}` setting",
                md.id
            );
        }
        for (name, p) in props {
            assert!(
                p.get("default").is_some(),
                "{}: setting {name} has no default",
                md.id
            );
            assert!(
                p.get("description").is_some(),
                "{}: setting {name} has no description",
                md.id
            );
        }
        assert!(
            !schema.to_string().contains("$ref"),
            "{}: schema must be inlined",
            md.id
        );
    }
}

#[test]
fn native_and_wasm_metadata_are_identical() {
    for m in modules() {
        let n: prodready_host::ModuleMetadata =
            serde_json::from_slice(&(native(m.id()).metadata)()).unwrap();
        assert_eq!(&n, m.metadata());
    }
}

#[test]
fn docs_checks_md_is_generated_from_the_metadata() {
    let all: Vec<_> = modules().iter().map(|m| m.metadata()).collect();
    let want = prodready_host::catalogue::markdown(&all);
    let path = repo_root().join("docs").join("checks.md");
    if std::env::var_os("PRODREADY_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "docs/checks.md is stale: run `cargo run --release -- rules --output markdown > docs/checks.md` \
         (or the tests with PRODREADY_BLESS=1)"
    );
}

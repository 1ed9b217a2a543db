//! Adding a rule is a one-folder change: every list that names the rule crates is discovered
//! or generated, and this meta-test fails when one of them misses a rule (docs/adding-a-rule.md).
//! `PRODREADY_BLESS=1` rewrites the generated ones.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{modules, native_ids, repo_root};
use prodready_host::{catalogue, lists, scaffold};

fn rule_ids() -> Vec<String> {
    lists::rule_ids(&repo_root()).expect("policies/")
}

#[test]
fn generated_lists_name_every_rule_crate() {
    let files = lists::expected(&repo_root()).expect("the lists can be generated");
    common::assert_fresh(
        &repo_root(),
        &files,
        "PRODREADY_BLESS=1 cargo test --release --test lists",
    );
}

#[test]
fn every_rule_crate_is_embedded_native_and_in_every_list() {
    let ids = rule_ids();
    let mut embedded: Vec<String> = modules().iter().map(|m| m.id().to_string()).collect();
    embedded.sort();
    assert_eq!(
        embedded, ids,
        "the embedded modules (host-harness/build.rs) and policies/ disagree; is PRODREADY_RULES set?"
    );
    let mut native: Vec<String> = native_ids().iter().map(|s| s.to_string()).collect();
    native.sort();
    assert_eq!(
        native, ids,
        "host-harness/Cargo.toml lacks a rule crate as a dev-dependency: run `PRODREADY_BLESS=1 cargo test --release --test lists`"
    );
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let fuzz = std::fs::read_to_string(repo_root().join("fuzz/src/rules.rs")).unwrap();
    let playground = std::fs::read_to_string(repo_root().join("playground/src/rules.rs")).unwrap();
    let checks_md = std::fs::read_to_string(repo_root().join("docs/checks.md")).unwrap();
    for id in &ids {
        assert!(
            readme.contains(&format!("| `{id}` |")),
            "README.md's rule table lacks {id}"
        );
        assert!(
            fuzz.contains(&lists::crate_name(id)),
            "fuzz/src/rules.rs lacks {id}"
        );
        assert!(
            playground.contains(&lists::crate_name(id)),
            "playground/src/rules.rs lacks {id}"
        );
        assert!(
            checks_md.contains(&format!("(`{id}`)")),
            "docs/checks.md lacks {id}"
        );
        for bundle in ["kubewarden", "gatekeeper"] {
            assert!(
                repo_root().join("bundles").join(bundle).join(id).is_dir(),
                "bundles/{bundle}/{id} is missing: regenerate the bundles (README)"
            );
        }
        assert!(
            repo_root().join("tests/fixtures").join(id).is_dir(),
            "tests/fixtures/{id} is missing"
        );
    }
}

#[test]
fn readme_rule_table_is_generated_from_the_metadata() {
    let all: Vec<_> = modules().iter().map(|m| m.metadata()).collect();
    let path = repo_root().join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let want =
        catalogue::readme_with_table(&readme, &all).expect("README.md has the rule table markers");
    common::assert_fresh(
        &repo_root(),
        &BTreeMap::from([(PathBuf::from("README.md"), want)]),
        "PRODREADY_BLESS=1 cargo test --release --test lists",
    );
}

#[test]
fn docs_precision_md_has_a_section_per_check() {
    let text = std::fs::read_to_string(repo_root().join("docs/precision.md")).unwrap();
    let mut missing = Vec::new();
    for m in modules() {
        for c in &m.metadata().checks {
            if !text.contains(&format!("\n### {}\n", c.id)) {
                missing.push(format!("{}/{}", m.id(), c.id));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/precision.md has no section for {missing:?}"
    );
}

/// The scaffold writes a crate, its first fixture and every generated list: in a copy of
/// the repository's skeleton, the new rule is in each list afterwards and nothing else needs
/// editing (its build is what `prodready new-rule`'s own output asks for next).
#[test]
fn the_scaffold_adds_a_rule_to_every_generated_list() {
    let dir = std::env::temp_dir().join(format!("prodready-scaffold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for p in [
        "host-harness/Cargo.toml",
        "fuzz/Cargo.toml",
        "fuzz/src/rules.rs",
        "playground/Cargo.toml",
        "playground/src/rules.rs",
        "host-harness/src/cli/fixtures.rs",
    ] {
        let to = dir.join(p);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo_root().join(p), &to).unwrap();
    }
    for id in rule_ids().iter().chain(["sdk".to_string()].iter()) {
        let d = dir.join("policies").join(id);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("Cargo.toml"), "").unwrap();
    }
    let rule = scaffold::NewRule {
        id: "zz-example".into(),
        number: 7,
        title: "Example".into(),
        slide: "slides 1-2".into(),
    };
    let written = scaffold::new_rule(&dir, &rule).unwrap();
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    for want in [
        "policies/zz-example/Cargo.toml",
        "policies/zz-example/src/lib.rs",
        "tests/fixtures/zz-example/zz-example-image-set.yaml",
        "host-harness/Cargo.toml",
        "fuzz/Cargo.toml",
        "fuzz/src/rules.rs",
        "playground/Cargo.toml",
        "playground/src/rules.rs",
        "host-harness/src/cli/fixtures.rs",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} not written: {names:?}"
        );
    }
    let lib = std::fs::read_to_string(dir.join("policies/zz-example/src/lib.rs")).unwrap();
    assert!(lib.contains("pub struct ZzExample;") && lib.contains("number: 7"));
    assert!(!lib.contains("{{"), "an unreplaced placeholder:\n{lib}");
    assert!(
        std::fs::read_to_string(dir.join("host-harness/Cargo.toml"))
            .unwrap()
            .contains("prodready-zz-example = { path = \"../policies/zz-example\" }")
    );
    assert!(
        std::fs::read_to_string(dir.join("fuzz/src/rules.rs"))
            .unwrap()
            .contains("prodready_zz_example")
    );
    assert!(
        std::fs::read_to_string(dir.join("playground/src/rules.rs"))
            .unwrap()
            .contains("prodready_zz_example")
    );
    // `prodready explain` gets the new rule's fixture embedded.
    assert!(
        std::fs::read_to_string(dir.join("host-harness/src/cli/fixtures.rs"))
            .unwrap()
            .contains("tests/fixtures/zz-example/zz-example-image-set.yaml")
    );
    // Lists are in sync now: a second sync writes nothing, and a second scaffold is refused.
    assert_eq!(lists::sync(&dir).unwrap(), Vec::<PathBuf>::new());
    assert!(
        scaffold::new_rule(&dir, &rule)
            .unwrap_err()
            .contains("exists already")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

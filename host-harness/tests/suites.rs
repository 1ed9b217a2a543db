//! `prodready test` through the binary: the repository's own fixtures are suites and pass in
//! every flavour; a failing case shows its diff; an invalid suite exits 2 naming its line;
//! JUnit output; `--init`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "prodready-suites-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_repositorys_fixtures_pass_as_suites_in_every_flavour() {
    let out = run_in(&root(), &["test", "--flavours", "all", "tests/fixtures"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let summary = stdout.lines().last().unwrap();
    assert!(summary.ends_with(" 0 failed"), "{summary}");
    let suites = std::fs::read_dir(root().join("tests/fixtures"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .count();
    assert!(
        summary.starts_with(&format!("{suites} suites: ")),
        "{summary}"
    );
    // Every case ran in the three flavours, or is an object no rule evaluates.
    assert!(stdout.contains("[core, kubewarden, opa]"), "{stdout}");
}

const SUITE: &str = "\
fixture:
  rules: [health-check]
  expect:
    Deployment/shop/api: [probes-required]
    Deployment/web: {includes: [probes-required], excludes: [probe-timing], allowed: false}
    Deployment/fine: []
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: api, image: registry.example.com/api:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: registry.example.com/web:1}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: fine, namespace: shop}
spec:
  selector: {matchLabels: {app: fine}}
  template:
    metadata: {labels: {app: fine}}
    spec:
      containers:
        - name: fine
          image: registry.example.com/fine:1
          livenessProbe: {exec: {command: [alive]}, initialDelaySeconds: 20}
";

#[test]
fn cases_pass_and_fail_with_a_diff_in_every_flavour() {
    let dir = scratch("diff");
    std::fs::write(dir.join("prodready-test.yaml"), SUITE).unwrap();
    let out = run_in(&dir, &["test", "--flavours", "all"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "PASS  ./prodready-test.yaml:4  Deployment/shop/api  [core, kubewarden, opa]"
        ),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("1 suites: 3 passed, 0 failed\n"),
        "{stdout}"
    );

    // Wrong on purpose: `fine` has its probe; `api` misses liveness, not readiness.
    let wrong = SUITE
        .replace("Deployment/fine: []", "Deployment/fine: [probes-required]")
        .replace(
            "Deployment/shop/api: [probes-required]",
            "Deployment/shop/api: {excludes: [probes-required]}",
        );
    std::fs::write(dir.join("prodready-test.yaml"), wrong).unwrap();
    let out = run_in(
        &dir,
        &[
            "test",
            "--flavours",
            "all",
            "-o",
            "human",
            "-o",
            "junit=report.xml",
        ],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for flavour in [
        "core (manifest)",
        "kubewarden (admission)",
        "opa (admission)",
    ] {
        assert!(
            stdout.contains(&format!(
                "{flavour}: expected [\"probes-required\"], got [] (- missing probes-required)"
            )),
            "{flavour}: {stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "{flavour}: expected [\"probes-required\"] not to be reported, got [\"probes-required\"]"
            )),
            "{flavour}: {stdout}"
        );
    }
    assert!(
        stdout.ends_with("1 suites: 1 passed, 2 failed\n"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(dir.join("report.xml")).unwrap();
    assert_eq!(junit.matches("<failure").count(), 2, "{junit}");
    assert_eq!(junit.matches("<testcase").count(), 3, "{junit}");
}

#[test]
fn an_invalid_suite_exits_2_naming_file_and_line() {
    let dir = scratch("invalid");
    let cases = [
        (
            "fixture:\n  rule: no-such-rule\n  expect: {}\n",
            ":2:3:",
            "no rule `no-such-rule`",
        ),
        (
            "fixture:\n  rules: [health-check]\n  expect:\n    Deployment/x: maybe\n",
            ":4:5:",
            "`maybe`",
        ),
        (
            "fixture:\n  rule: health-check\n  settings: {require: sometimes}\n  expect: {}\n",
            ":3:3:",
            "settings of rule health-check",
        ),
        (
            "fixture:\n  rule: health-check\n  expekt: {}\n",
            ":3:3:",
            "expekt",
        ),
    ];
    for (suite, at, message) in cases {
        std::fs::write(dir.join("prodready-test.yaml"), suite).unwrap();
        let out = run_in(&dir, &["test", "prodready-test.yaml"]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{suite}: {stdout}");
        assert!(
            stdout.contains(&format!("INVALID prodready-test.yaml{at}"))
                && stdout.contains(message),
            "{suite:?}: want {at} {message:?} in {stdout}"
        );
    }
    // An expectation naming no object is a failed case, not a silent pass.
    std::fs::write(
        dir.join("prodready-test.yaml"),
        SUITE.replace(
            "Deployment/fine: []",
            "Deployment/fine: []\n    Deployment/ghost: []",
        ),
    )
    .unwrap();
    let out = run_in(&dir, &["test"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("no object Deployment/ghost"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn init_writes_a_suite_that_passes_until_the_manifests_change() {
    let dir = scratch("init");
    std::fs::create_dir_all(dir.join("deploy")).unwrap();
    let objects = SUITE.split_once("---\n").unwrap().1;
    std::fs::write(dir.join("deploy/apps.yaml"), objects).unwrap();
    let out = run_in(&dir, &["test", "--init", "deploy"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let suite = std::fs::read_to_string(dir.join("deploy/prodready-test.yaml")).unwrap();
    assert!(suite.contains("\"Deployment/shop/api\": ["), "{suite}");
    let out = run_in(&dir, &["test", "deploy"]);
    assert_eq!(out.status.code(), Some(0), "{}\n{suite}", text(&out.stdout));
    // A change to the manifests shows up as a failed case.
    std::fs::write(
        dir.join("deploy/apps.yaml"),
        objects.replace(
            "livenessProbe: {exec: {command: [alive]}, initialDelaySeconds: 20}",
            "env: []",
        ),
    )
    .unwrap();
    let out = run_in(&dir, &["test", "deploy"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("FAIL  deploy/prodready-test.yaml"),
        "{}",
        text(&out.stdout)
    );
}

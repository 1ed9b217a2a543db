//! The `prodready` binary end to end: exit codes, stdin, settings, rule selection, JSON output,
//! `rules` and `eval`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_prodready"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(args: &[&str]) -> Output {
    bin().args(args).current_dir(root()).output().unwrap()
}

fn run_stdin(args: &[&str], input: &str) -> Output {
    let mut child = bin()
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const CLEAN: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: ok}
spec:
  selector: {matchLabels: {app: ok}}
  template:
    metadata: {labels: {app: ok}}
    spec:
      containers:
        - name: app
          image: app:1
          resources:
            requests: {cpu: 100m, memory: 128Mi, ephemeral-storage: 64Mi}
            limits: {memory: 256Mi, ephemeral-storage: 128Mi}
          readinessProbe: {exec: {command: [ready]}, periodSeconds: 5}
          livenessProbe: {exec: {command: [alive]}, initialDelaySeconds: 20}
"#;

#[test]
fn the_examples_fail_with_exit_1_and_name_file_line_check_and_path() {
    let out = run(&["check", "examples/"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    // Grouped by file, then object (with its document's line), each finding at the line and
    // column of its field: here the `path` key inside the flow mapping on line 32.
    assert!(
        stdout
            .contains("examples/bookstore/web.yaml\n  Deployment bookstore/bookstore-web (line 4)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "examples/bookstore/web.yaml:32:23  warning  health-check/probes-distinct  spec.template.spec.containers[0].livenessProbe.httpGet.path"
        ),
        "{stdout}"
    );
    let rules = prodready_host::embedded().len();
    assert!(
        stdout.contains(&format!("objects checked by {rules} rules")),
        "{stdout}"
    );
}

#[test]
fn a_clean_manifest_on_stdin_exits_0() {
    let out = run_stdin(&["check", "-"], CLEAN);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn warnings_alone_do_not_fail_the_run() {
    let with_timing_warning =
        CLEAN.replace("periodSeconds: 5}", "periodSeconds: 5, timeoutSeconds: 9}");
    let warnings = |input: &str| {
        let out = run_stdin(&["check", "--output", "json", "-"], input);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    // The clean manifest has warnings of other rules (labels, a priority class): one more.
    let clean = warnings(CLEAN);
    let v = warnings(&with_timing_warning);
    assert_eq!(
        v["summary"]["warnings"].as_u64().unwrap(),
        clean["summary"]["warnings"].as_u64().unwrap() + 1
    );
    let checks: Vec<&str> = v["objects"][0]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["check"].as_str().unwrap())
        .collect();
    assert!(checks.contains(&"probe-timing"), "{checks:?}");
    assert_eq!(v["objects"][0]["line"], 2);
}

#[test]
fn non_kubernetes_documents_are_skipped_with_a_warning() {
    let input = format!("greeting: hello\n---\n{CLEAN}");
    let out = run_stdin(&["check", "-"], &input);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("<stdin>:1: document 0 skipped"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn input_errors_exit_2_and_name_the_file() {
    let out = run(&["check", "no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no/such/dir"),
        "{}",
        text(&out.stderr)
    );
    let out = run_stdin(&["check", "-"], "a: [1, 2\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("<stdin>"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_object_a_rule_cannot_read_is_an_error_not_a_pass() {
    let input = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: broken}\nspec: {template: {spec: {containers: nope}}}\n";
    let out = run_stdin(&["check", "-"], input);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("invalid-object"));
}

#[test]
fn rule_selection_and_settings() {
    let out = run(&["check", "--rule", "health-check", "examples/"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!text(&out.stdout).contains("graceful-shutdown/"));
    let out = run(&["check", "--rule", "no-such-rule", "examples/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such-rule"));

    let dir = std::env::temp_dir().join(format!("prodready-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let audit = dir.join("audit.yaml");
    let every_rule: String = prodready_host::embedded()
        .iter()
        .map(|m| format!("{}: {{audit: true}}\n", m.id))
        .collect();
    std::fs::write(&audit, every_rule).unwrap();
    let out = run(&["check", "--settings", audit.to_str().unwrap(), "examples/"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "audit mode reports but does not fail"
    );
    assert!(text(&out.stdout).contains("probes-distinct"));
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "health-check: {require: sometimes}\n").unwrap();
    let out = run(&["check", "--settings", bad.to_str().unwrap(), "examples/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("require"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rules_lists_every_check() {
    let out = run(&["rules"]);
    assert_eq!(out.status.code(), Some(0));
    let s = text(&out.stdout);
    for id in ["probes-required", "prestop-fits-grace", "qos-class"] {
        assert!(s.contains(id), "{s}");
    }
}

#[test]
fn eval_runs_an_admission_review_like_kwctl() {
    let out = run(&[
        "eval",
        "--request",
        "host-harness/tests/data/review.json",
        "health-check",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["allowed"], false);
    assert_eq!(v["violations"][0]["check"], "probes-required");
    assert_eq!(v["violations"][0]["object"]["namespace"], "finance");
    assert_eq!(
        v["violations"][0]["path"],
        "spec.template.spec.containers[0].livenessProbe"
    );
}

#[test]
fn failure_policy_ignore_reports_module_errors_without_failing() {
    let input = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: broken}\nspec: {template: {spec: {containers: nope}}}\n";
    let out = run_stdin(&["check", "--failure-policy", "ignore", "-"], input);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("invalid-object"));
    assert!(text(&out.stderr).contains("module errors ignored"));
    let out = run_stdin(&["check", "--failure-policy", "fail", "-"], input);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bundle_kubewarden_writes_every_rule_and_refuses_an_empty_set() {
    let out = std::env::temp_dir().join(format!("prodready-cli-kw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let o = run(&[
        "bundle",
        "kubewarden",
        "--out",
        out.to_str().unwrap(),
        "--registry",
        "registry.example/platform/",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for rule in prodready_host::embedded().iter().map(|m| m.id) {
        for file in [
            "policy.wasm",
            "policy.yaml",
            "metadata.yml",
            "artifacthub-pkg.yml",
            "oci/index.json",
            "oci/oci-layout",
        ] {
            assert!(out.join(rule).join(file).is_file(), "{rule}/{file}");
        }
        let policy = std::fs::read_to_string(out.join(rule).join("policy.yaml")).unwrap();
        assert!(
            policy.contains(&format!(
                "module: registry://registry.example/platform/{rule}:v"
            )),
            "{policy}"
        );
    }
    assert!(out.join("kustomization.yaml").is_file());
    let policies = format!("{} Kubewarden policies", prodready_host::embedded().len());
    assert!(text(&o.stdout).contains(&policies), "{}", text(&o.stdout));
    std::fs::remove_dir_all(&out).unwrap();

    // --policy bundles external modules too (tests/ci/out-of-tree.sh); nothing is an error.
    let o = run(&["bundle", "kubewarden", "--out", "x", "--no-embedded"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("no rule modules to bundle"));
    assert!(!root().join("x").exists());
}

// A set whose context outgrows the memory cap fails closed with an error that says how large
// the context was and which flag raises the cap, not a wasm backtrace.
#[test]
fn a_context_too_large_for_the_memory_cap_names_its_size_and_the_flag() {
    let corpus = Command::new(env!("CARGO_BIN_EXE_gen-corpus"))
        .args(["--objects", "2000", "--seed", "7"])
        .output()
        .unwrap();
    assert!(corpus.status.success());
    let input = text(&corpus.stdout);
    let out = run_stdin(
        &[
            "check",
            "--no-config",
            "--rule",
            "maintenance",
            "--memory-mib",
            "2",
            "-",
        ],
        &input,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.contains("maintenance: trap:"))
        .unwrap_or_else(|| panic!("no module error in:\n{stdout}"));
    assert!(line.contains("with a context of"), "{line}");
    assert!(line.contains("MB (the objects the rule reads)"), "{line}");
    assert!(
        line.contains("the module exceeded its memory limit of 2097152 bytes"),
        "{line}"
    );
    assert!(line.contains("--memory-mib"), "{line}");
    // With room, the same set is checked.
    let out = run_stdin(
        &["check", "--no-config", "--rule", "maintenance", "-"],
        &input,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(" 0 module errors"),
        "{}",
        text(&out.stdout)
    );
}

//! `prodready check` in a pipeline, end to end through the binary: field positions (and
//! `helm template` sources), every output format, `--fail-on`, the config file (discovery,
//! settings, severities, exemptions, errors with line numbers), baselines (new, expired and
//! stale entries), `init` and `explain`.
//!
//! The SARIF schema and JUnit parser checks run in `.ci/run` (tests/ci/validate_outputs.py),
//! with the official SARIF 2.1.0 schema and junitparser.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A fresh folder under the system's temp dir (removed by the OS, not by the test: a failing
/// test leaves it to look at).
fn scratch(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "prodready-cli-ci-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args(args)
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)))
}

/// Every open finding of a JSON report as `check@line:col`.
fn located(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for o in v["objects"].as_array().unwrap() {
        for f in o["violations"].as_array().unwrap() {
            out.push(format!(
                "{}@{}:{}",
                f["check"].as_str().unwrap(),
                f["location"]["line"],
                f["location"]["column"]
            ));
        }
    }
    out.sort();
    out
}

const TWO_CONTAINERS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: app
          image: registry.example.com/api:1.0
          readinessProbe: {exec: {command: [ready]}}
          livenessProbe: {exec: {command: [alive]}, initialDelaySeconds: 20}
        - name: proxy
          image: registry.example.com/proxy:2.0
";

#[test]
fn findings_point_at_the_field_or_its_nearest_parent() {
    let dir = scratch("positions");
    std::fs::write(dir.join("api.yaml"), TWO_CONTAINERS).unwrap();
    let out = run_in(
        &dir,
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "--output",
            "json",
            "api.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v = json(&out);
    let f = &v["objects"][0]["violations"][0];
    assert_eq!(f["check"], "probes-required");
    assert_eq!(f["path"], "spec.template.spec.containers[1].livenessProbe");
    // The proxy container has no liveness probe: the nearest parent that exists is its
    // `- name: proxy` item, line 18, column 11.
    assert_eq!(f["location"]["exact"], false);
    assert_eq!(f["location"]["file"], "api.yaml");
    assert_eq!(f["location"]["line"], 18);
    assert_eq!(f["location"]["column"], 11);
    assert_eq!(f["fingerprint"]["container"], "proxy");

    // Human output: file:line:col.
    let out = run_in(
        &dir,
        &["check", "--no-config", "--rule", "health-check", "api.yaml"],
    );
    assert!(
        text(&out.stdout).contains("api.yaml:18:11"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn list_items_and_json_files_are_located_too() {
    let dir = scratch("lists");
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n{}",
        TWO_CONTAINERS
            .lines()
            .enumerate()
            .map(|(i, l)| if i == 0 {
                format!("  - {l}\n")
            } else {
                format!("    {l}\n")
            })
            .collect::<String>()
    );
    std::fs::write(dir.join("list.yaml"), &list).unwrap();
    let out = run_in(
        &dir,
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "-o",
            "json",
            "list.yaml",
        ],
    );
    let v = json(&out);
    // Three lines of List header, four more columns of indentation.
    assert_eq!(located(&v), vec!["probes-required@21:15"]);

    let object: Value = serde_saphyr::from_str(TWO_CONTAINERS).unwrap();
    std::fs::write(
        dir.join("api.json"),
        serde_json::to_string_pretty(&object).unwrap(),
    )
    .unwrap();
    let out = run_in(
        &dir,
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "-o",
            "json",
            "api.json",
        ],
    );
    // The second container's `{`: the last line that is only `{` before its "name".
    let pretty = serde_json::to_string_pretty(&object).unwrap();
    let lines: Vec<&str> = pretty.lines().collect();
    let name = lines
        .iter()
        .position(|l| l.contains("\"name\": \"proxy\""))
        .unwrap();
    let open = (0..name).rev().find(|&i| lines[i].trim() == "{").unwrap();
    let column = lines[open].find('{').unwrap() + 1;
    assert_eq!(
        located(&json(&out)),
        vec![format!("probes-required@{}:{column}", open + 1)]
    );
}

#[test]
fn helm_template_output_names_the_chart_template() {
    let out = run_in(
        &root(),
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "--rule",
            "resource-management",
            "-o",
            "json",
            "tests/ci/helm/shop-rendered.yaml",
        ],
    );
    let v = json(&out);
    let deployment = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["object"]["kind"] == "Deployment")
        .unwrap();
    assert_eq!(deployment["helmSource"], "shop/templates/deployment.yaml");
    let mut seen: Vec<String> = deployment["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(
                f["location"]["helmSource"],
                "shop/templates/deployment.yaml"
            );
            format!(
                "{}@{}:{}",
                f["check"].as_str().unwrap(),
                f["location"]["line"],
                f["location"]["column"]
            )
        })
        .collect();
    seen.sort();
    // No readinessProbe: the container (line 67); `resources: {}`: its key (line 80).
    assert_eq!(
        seen,
        vec!["probes-required@67:11", "resources-set@80:11"],
        "{deployment:#}"
    );
    let human = run_in(
        &root(),
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "tests/ci/helm/shop-rendered.yaml",
        ],
    );
    assert!(
        text(&human.stdout).contains("from shop/templates/deployment.yaml"),
        "{}",
        text(&human.stdout)
    );
}

#[test]
fn every_format_in_one_run_and_each_carries_locations() {
    let dir = scratch("formats");
    std::fs::write(dir.join("api.yaml"), TWO_CONTAINERS).unwrap();
    let out = run_in(
        &dir,
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "--output",
            "sarif=out.sarif",
            "--output",
            "junit=out.xml",
            "--output",
            "json=out.json",
            "--output",
            "github",
            "--output",
            "human",
            "api.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "::error file=api.yaml,line=18,col=11,title=prodready health-check/probes-required::"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("objects checked by 1 rules"), "{stdout}");

    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "prodready");
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "health-check/probes-required");
    assert_eq!(result["level"], "error");
    let region = &result["locations"][0]["physicalLocation"]["region"];
    assert_eq!(
        (region["startLine"].as_u64(), region["startColumn"].as_u64()),
        (Some(18), Some(11))
    );
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "api.yaml"
    );
    let rule = &run["tool"]["driver"]["rules"][result["ruleIndex"].as_u64().unwrap() as usize];
    assert_eq!(rule["id"], "health-check/probes-required");
    let help = rule["help"]["text"].as_str().unwrap();
    assert!(help.contains("Fix:") && help.contains("slide"), "{help}");

    let junit = std::fs::read_to_string(dir.join("out.xml")).unwrap();
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert!(junit.contains("<failure"), "{junit}");
    assert!(junit.contains("api.yaml:18:11"), "{junit}");

    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out.json")).unwrap()).unwrap();
    assert_eq!(located(&v), vec!["probes-required@18:11"]);
}

#[test]
fn fail_on_decides_the_exit_status() {
    let dir = scratch("fail-on");
    // Only a warning of health-check (probe-timing: timeout longer than the period).
    let warning_only = TWO_CONTAINERS
        .replace(
            "        - name: proxy\n          image: registry.example.com/proxy:2.0\n",
            "",
        )
        .replace(
            "readinessProbe: {exec: {command: [ready]}}",
            "readinessProbe: {exec: {command: [ready]}, periodSeconds: 5, timeoutSeconds: 9}",
        );
    std::fs::write(dir.join("warn.yaml"), warning_only).unwrap();
    std::fs::write(dir.join("error.yaml"), TWO_CONTAINERS).unwrap();
    let code = |args: &[&str]| {
        let mut all = vec!["check", "--no-config", "--rule", "health-check"];
        all.extend_from_slice(args);
        run_in(&dir, &all).status.code()
    };
    assert_eq!(code(&["warn.yaml"]), Some(0));
    assert_eq!(code(&["--fail-on", "warning", "warn.yaml"]), Some(1));
    assert_eq!(code(&["error.yaml"]), Some(1));
    assert_eq!(code(&["--fail-on", "never", "error.yaml"]), Some(0));
    assert_eq!(code(&["--fail-on", "nonsense", "error.yaml"]), Some(2));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let dir = scratch("colour");
    std::fs::write(dir.join("api.yaml"), TWO_CONTAINERS).unwrap();
    let plain = run_in(
        &dir,
        &["check", "--no-config", "--rule", "health-check", "api.yaml"],
    );
    assert!(
        !text(&plain.stdout).contains('\x1b'),
        "not a terminal: no colour"
    );
    let coloured = run_in(
        &dir,
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "--color",
            "always",
            "api.yaml",
        ],
    );
    assert!(text(&coloured.stdout).contains("\x1b[1;31m"));
}

const CONFIG_OBJECTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: batch-nightly
  namespace: jobs
  labels: {tier: batch}
spec:
  selector: {matchLabels: {app: batch}}
  template:
    metadata: {labels: {app: batch}}
    spec:
      containers:
        - name: worker
          image: registry.example.com/worker:1.0
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1.0
          readinessProbe: {exec: {command: [ready]}}
";

/// The checks reported (open) per object name.
fn open_checks(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for o in v["objects"].as_array().unwrap() {
        for f in o["violations"].as_array().unwrap() {
            out.push(format!(
                "{}:{}",
                o["object"]["name"].as_str().unwrap(),
                f["check"].as_str().unwrap()
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn the_config_file_is_found_walking_up_and_sets_rules_settings_severities_and_exemptions() {
    let dir = scratch("config");
    std::fs::create_dir_all(dir.join("deploy/app")).unwrap();
    std::fs::write(dir.join("deploy/app/objects.yaml"), CONFIG_OBJECTS).unwrap();
    // Without a config: probes-required on both (web lacks liveness).
    let base = run_in(
        &dir.join("deploy/app"),
        &[
            "check",
            "--rule",
            "health-check",
            "-o",
            "json",
            "objects.yaml",
        ],
    );
    assert_eq!(
        open_checks(&json(&base)),
        vec!["batch-nightly:probes-required", "web:probes-required"]
    );
    std::fs::write(
        dir.join(".prodready.yaml"),
        "\
paths: [deploy/]
rules:
  maintenance: false
  health-check:
    minLivenessFailureThreshold: 2
severity:
  health-check/probes-required: warning
exemptions:
  - checks: [probes-required]
    namespaces: [jobs]
    names: [\"batch-*\"]
    selector: {matchLabels: {tier: batch}}
    reason: batch workers are restarted by the queue (OPS-77)
",
    )
    .unwrap();
    // Run from a subfolder: the config two levels up applies, and its `paths`.
    let out = run_in(
        &dir.join("deploy/app"),
        &["check", "--rule", "health-check", "-o", "json"],
    );
    // web's finding is open but re-graded to a warning, so the run passes.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(open_checks(&v), vec!["web:probes-required"]);
    assert_eq!(v["objects"][1]["violations"][0]["severity"], "warning");
    // batch-nightly matches the exemption (namespace, name glob, labels): exempted, with the
    // reason, and graded by the override too.
    let exempted: Vec<&Value> = v["objects"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["exempted"].as_array().unwrap())
        .collect();
    assert_eq!(exempted.len(), 1, "{v:#}");
    assert_eq!(exempted[0]["by"], "config");
    assert_eq!(exempted[0]["severity"], "warning");
    assert_eq!(
        exempted[0]["reason"],
        "batch workers are restarted by the queue (OPS-77)"
    );
    // Rules turned off do not run.
    let all = json(&run_in(&dir.join("deploy/app"), &["check", "-o", "json"]));
    let rules: Vec<&str> = all["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        !rules.contains(&"maintenance") && rules.contains(&"health-check"),
        "{rules:?}"
    );
    // A rule's settings apply: `require: none` silences probes-required everywhere.
    std::fs::write(
        dir.join("other.yaml"),
        "rules:\n  health-check: {require: none}\n",
    )
    .unwrap();
    let out = run_in(
        &dir,
        &[
            "check",
            "--rule",
            "health-check",
            "-o",
            "json",
            "--config",
            "other.yaml",
            "deploy/",
        ],
    );
    assert_eq!(open_checks(&json(&out)), Vec::<String>::new());
    // --no-config ignores the file.
    let out = run_in(
        &dir.join("deploy/app"),
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "-o",
            "json",
            "objects.yaml",
        ],
    );
    assert_eq!(open_checks(&json(&out)).len(), 2);
}

#[test]
fn config_errors_name_the_line_and_column() {
    let dir = scratch("config-errors");
    std::fs::write(dir.join("objects.yaml"), CONFIG_OBJECTS).unwrap();
    let cases = [
        (
            "rules:\n  health-check:\n    require: sometimes\n",
            ":2:3:",
            "settings of rule health-check",
        ),
        (
            "rules:\n  no-such-rule: true\n",
            ":2:3:",
            "no rule `no-such-rule`",
        ),
        (
            "severity:\n  not-a-check: error\n",
            ":2:3:",
            "no check `not-a-check`",
        ),
        (
            "severity:\n  probe-timing: loud\n",
            ":2:3:",
            "expected error, warning or off",
        ),
        (
            "exemptions:\n  - checks: [probes-required]\n    reason: \"\"\n",
            ":3:5:",
            "needs a reason",
        ),
        (
            "exemptions:\n  - checks: [probes-required]\n",
            ":2:5:",
            "reason",
        ),
        (
            "exemptions:\n  - checks: [nope]\n    reason: r\n",
            ":2:14:",
            "no check `nope`",
        ),
        ("failOn: sometimes\n", ":1:1:", "sometimes"),
        ("colour: red\n", ":1:1:", "colour"),
    ];
    for (config, at, message) in cases {
        std::fs::write(dir.join(".prodready.yaml"), config).unwrap();
        let out = run_in(&dir, &["check", "objects.yaml"]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{config}: {err}");
        assert!(
            err.contains(&format!(".prodready.yaml{at}")) && err.contains(message),
            "{config:?}: want {at} and {message:?} in: {err}"
        );
    }
}

#[test]
fn a_baseline_accepts_what_exists_and_fails_on_new_expired_and_lists_stale_entries() {
    let dir = scratch("baseline");
    std::fs::write(dir.join("objects.yaml"), CONFIG_OBJECTS).unwrap();
    let check = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "--baseline",
            "b.yaml",
        ];
        args.extend_from_slice(extra);
        args.push("objects.yaml");
        run_in(&dir, &args)
    };
    // A reason is required.
    let out = run_in(
        &dir,
        &[
            "baseline",
            "--no-config",
            "--rule",
            "health-check",
            "--out",
            "b.yaml",
            "objects.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--reason"),
        "{}",
        text(&out.stderr)
    );
    let out = run_in(
        &dir,
        &[
            "baseline",
            "--no-config",
            "--rule",
            "health-check",
            "--out",
            "b.yaml",
            "--reason",
            "inherited from the monolith (PLAT-9)",
            "objects.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let b = std::fs::read_to_string(dir.join("b.yaml")).unwrap();
    assert!(
        b.contains("container: worker") && !b.lines().any(|l| l.trim_start().starts_with("line:")),
        "{b}"
    );

    let out = check(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(json(&out)["summary"]["baselined"], 2);

    // Edits that move lines and indexes keep the baseline valid; a new finding fails.
    let edited = CONFIG_OBJECTS.replace(
        "      containers:\n        - name: web\n",
        "      # the sidecar goes first now\n      containers:\n        - name: cache\n          image: registry.example.com/cache:7\n        - name: web\n",
    );
    std::fs::write(dir.join("objects.yaml"), edited).unwrap();
    let out = check(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(open_checks(&v), vec!["web:probes-required"]);
    assert_eq!(
        v["objects"][1]["violations"][0]["fingerprint"]["container"],
        "cache"
    );
    assert_eq!(v["summary"]["baselined"], 2);

    // Fixing batch-nightly leaves a stale entry, listed (not failing).
    let fixed = CONFIG_OBJECTS.replace(
        "          image: registry.example.com/worker:1.0\n",
        "          image: registry.example.com/worker:1.0\n          readinessProbe: {exec: {command: [ready]}}\n          livenessProbe: {exec: {command: [alive]}, initialDelaySeconds: 20}\n",
    );
    std::fs::write(dir.join("objects.yaml"), fixed).unwrap();
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("stale baseline entry (fixed, delete it): health-check/probes-required Deployment jobs/batch-nightly container worker"),
        "{}",
        text(&out.stdout)
    );

    // An expired entry fails the run, and its finding counts as new.
    std::fs::write(dir.join("objects.yaml"), CONFIG_OBJECTS).unwrap();
    let expired = edit_first_reason(&b, |indent, line| {
        format!("{indent}expires: 2000-01-31\n{line}")
    });
    std::fs::write(dir.join("b.yaml"), &expired).unwrap();
    let out = check(&[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{expired}\n{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("expired on 2000-01-31"),
        "{}",
        text(&out.stdout)
    );

    // A broken baseline is an input error naming its line.
    let blank = edit_first_reason(&b, |indent, _| format!("{indent}reason: ''"));
    std::fs::write(dir.join("b.yaml"), blank).unwrap();
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("b.yaml:") && text(&out.stderr).contains("needs a reason"),
        "{}",
        text(&out.stderr)
    );

    // Re-recording keeps the reasons of entries that still match.
    std::fs::write(dir.join("b.yaml"), &b).unwrap();
    let out = run_in(
        &dir,
        &[
            "baseline",
            "--no-config",
            "--rule",
            "health-check",
            "--out",
            "b.yaml",
            "objects.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.join("b.yaml")).unwrap(), b);
}

/// `b` with its first `reason:` line replaced by `edit(indentation, line)`.
fn edit_first_reason(b: &str, edit: impl Fn(&str, &str) -> String) -> String {
    let mut done = false;
    b.lines()
        .map(|line| {
            let trimmed = line.trim_start();
            if !done && trimmed.starts_with("reason:") {
                done = true;
                let indent = &line[..line.len() - trimmed.len()];
                edit(indent, line)
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn init_writes_a_config_that_changes_nothing_until_edited() {
    let dir = scratch("init");
    std::fs::write(dir.join("objects.yaml"), CONFIG_OBJECTS).unwrap();
    let out = run_in(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let config = std::fs::read_to_string(dir.join(".prodready.yaml")).unwrap();
    assert!(
        config.contains("  health-check:\n") && config.contains("    # require: \"both\"\n"),
        "{config}"
    );
    let with = run_in(&dir, &["check", "-o", "json", "objects.yaml"]);
    let without = run_in(
        &dir,
        &["check", "--no-config", "-o", "json", "objects.yaml"],
    );
    assert_eq!(json(&with)["summary"], json(&without)["summary"]);
    // Every default it writes is a valid setting: uncommented, they change nothing either.
    let mut in_rules = false;
    let uncommented: String = config
        .lines()
        .map(|l| {
            in_rules |= l.starts_with("rules:");
            let setting = l.strip_prefix("    # ").filter(|rest| {
                rest.split_once(": ").is_some_and(|(k, _)| {
                    k.chars().all(|c| c.is_ascii_alphanumeric())
                        && k.starts_with(|c: char| c.is_ascii_lowercase())
                })
            });
            match setting {
                Some(rest) if in_rules => format!("    {rest}\n"),
                _ => format!("{l}\n"),
            }
        })
        .collect();
    assert!(
        uncommented.contains("\n    require: \"both\"\n"),
        "{uncommented}"
    );
    std::fs::write(dir.join("defaults.yaml"), &uncommented).unwrap();
    let spelled = run_in(
        &dir,
        &[
            "check",
            "--config",
            "defaults.yaml",
            "-o",
            "json",
            "objects.yaml",
        ],
    );
    assert_eq!(
        json(&spelled)["summary"],
        json(&without)["summary"],
        "{}",
        text(&spelled.stderr)
    );
    // A second init does not overwrite.
    assert_eq!(run_in(&dir, &["init"]).status.code(), Some(2));
}

#[test]
fn explain_tells_why_how_to_fix_and_shows_the_fixtures() {
    let out = run_in(&root(), &["explain", "probes-required"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    for part in [
        "health-check/probes-required",
        "Production Ready Kubernetes 15 Rules",
        "How to fix",
        "require: \"both\"",
        "prodready.io/skip-probes-required",
        "A failing example (tests/fixtures/health-check/probes-required.yaml)",
        "A passing example (tests/fixtures/health-check/probes-required.yaml)",
        "kind: Deployment",
    ] {
        assert!(s.contains(part), "{part:?} missing in:\n{s}");
    }
    let out = run_in(&root(), &["explain", "probes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = scratch("progress");
    let corpus = Command::new(env!("CARGO_BIN_EXE_gen-corpus"))
        .args(["--objects", "2500", "--seed", "7"])
        .output()
        .unwrap();
    std::fs::write(dir.join("big.yaml"), &corpus.stdout).unwrap();
    let out = run_in(
        &dir,
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "--fail-on",
            "never",
            "big.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        !text(&out.stderr).contains("checking"),
        "{}",
        text(&out.stderr)
    );
}

/// Every finding of a JSON report, as comparable text (object, rule, check, path, position).
fn all_findings(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for o in v["objects"].as_array().unwrap() {
        for list in ["violations", "exempted", "baselined"] {
            for f in o[list].as_array().unwrap() {
                out.push(format!(
                    "{list} {} {} {}/{} {} {}:{}",
                    o["object"]["kind"],
                    o["object"]["name"],
                    f["rule"].as_str().unwrap(),
                    f["check"].as_str().unwrap(),
                    f["path"].as_str().unwrap(),
                    f["location"]["line"],
                    f["location"]["column"]
                ));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn shards_together_report_what_one_run_reports() {
    let dir = scratch("shards");
    let corpus = Command::new(env!("CARGO_BIN_EXE_gen-corpus"))
        .args(["--objects", "300", "--seed", "11"])
        .output()
        .unwrap();
    std::fs::write(dir.join("set.yaml"), &corpus.stdout).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["check", "--no-config", "--fail-on", "never", "-o", "json"];
        args.extend_from_slice(extra);
        args.push("set.yaml");
        let out = run_in(&dir, &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        json(&out)
    };
    let whole = run(&[]);
    let mut union = Vec::new();
    let mut objects = 0;
    let mut names = std::collections::BTreeSet::new();
    for i in 1..=3 {
        let part = run(&["--shard", &format!("{i}/3")]);
        assert_eq!(part["shard"]["index"], i);
        objects += part["summary"]["objects"].as_u64().unwrap();
        for o in part["objects"].as_array().unwrap() {
            // Each object is evaluated in one shard only.
            assert!(
                names.insert(o["object"].to_string()),
                "{} in two shards",
                o["object"]
            );
        }
        let found = all_findings(&part);
        assert!(
            !found.is_empty(),
            "shard {i}/3 found nothing: a split that cannot fail"
        );
        union.extend(found);
    }
    union.sort();
    assert_eq!(objects, whole["summary"]["objects"].as_u64().unwrap());
    assert_eq!(union, all_findings(&whole));
    // Cross-object checks still see the whole set: a shard's PDB findings are the whole
    // run's for the same objects (covered by the equality above); bad shards are refused.
    for bad in ["0/3", "4/3", "1/0", "x"] {
        let out = run_in(&dir, &["check", "--no-config", "--shard", bad, "set.yaml"]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}

#[test]
fn input_limits_are_flags_and_their_errors_say_which() {
    let dir = scratch("limits");
    std::fs::write(dir.join("api.yaml"), TWO_CONTAINERS).unwrap();
    let out = run_in(
        &dir,
        &[
            "check",
            "--no-config",
            "--max-input-bytes",
            "100",
            "api.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("raise it with --max-input-bytes"),
        "{}",
        text(&out.stderr)
    );
    let out = run_in(
        &dir,
        &[
            "check",
            "--no-config",
            "--max-document-bytes",
            "100",
            "api.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("raise it with --max-document-bytes"),
        "{}",
        text(&out.stderr)
    );
    let out = run_in(
        &dir,
        &[
            "check",
            "--no-config",
            "--rule",
            "health-check",
            "--max-input-bytes",
            "100000",
            "api.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

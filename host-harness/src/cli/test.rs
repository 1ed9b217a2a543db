//! `prodready test`: policy unit tests (suites: host-harness/src/suite), and `--init`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use prodready_host::bundle::Flavoured;
use prodready_host::config::{self, Config};
use prodready_host::findings::{self, Status};
use prodready_host::suite::{self, CaseResult, FlavourSet, Outcome, Runner};
use prodready_host::{Host, RuleModule, loader};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::args::{Flavours, Format, OutputSpec, RunFlags, TestArgs};
use super::{EXIT_USAGE, EXIT_VIOLATIONS, flavoured};

struct SuiteRun {
    path: PathBuf,
    result: Result<Vec<CaseResult>, String>,
}

pub fn test(host: &Host, flags: &RunFlags, a: &TestArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &a.init {
        return init(host, flags, dir);
    }
    let all = a.flavours == Flavours::All;
    let set = FlavourSet {
        kubewarden: all,
        opa: all,
    };
    let base = flavoured(host, flags, all)?;
    let files = suite::discover(&a.paths).map_err(anyhow::Error::msg)?;
    if files.is_empty() {
        bail!(
            "no test suites under {} (a suite is a YAML file whose first document is a `fixture:` header; see docs/writing-a-rule.md)",
            a.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let base_runner = runner(host, &base, set)?;
    let mut runs = Vec::new();
    for path in files {
        let result = suite::read(&path).and_then(|s| {
            if s.header.policies.is_empty() {
                base_runner.run(&s)
            } else {
                let mut mods: Vec<Flavoured> = base
                    .iter()
                    .map(|f| Flavoured {
                        core: f.core.clone(),
                        kubewarden: f.kubewarden.clone(),
                        opa: f.opa.clone(),
                    })
                    .collect();
                for p in &s.header.policies {
                    let f = super::load_policy(host, &s.resolve(p), all)
                        .map_err(|e| s.error_at("policies", &format!("{e:#}")))?;
                    mods.retain(|m| m.core.id() != f.core.id());
                    mods.push(f);
                }
                runner(host, &mods, set)
                    .map_err(|e| format!("{e:#}"))?
                    .run(&s)
            }
        });
        runs.push(SuiteRun { path, result });
    }

    let outputs = if a.outputs.is_empty() {
        vec![OutputSpec {
            format: Format::Human,
            file: None,
        }]
    } else {
        a.outputs.clone()
    };
    for spec in &outputs {
        let text = match spec.format {
            Format::Human => human(&runs),
            Format::Junit => junit(&runs)?,
            other => bail!("prodready test writes human or junit, not {other:?}"),
        };
        match &spec.file {
            Some(p) => {
                std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?
            }
            None => print!("{text}"),
        }
    }
    let invalid = runs.iter().any(|r| r.result.is_err());
    let failed = runs
        .iter()
        .filter_map(|r| r.result.as_ref().ok())
        .flatten()
        .any(|c| c.outcome != Outcome::Pass);
    Ok(if invalid {
        ExitCode::from(EXIT_USAGE)
    } else if failed {
        ExitCode::from(EXIT_VIOLATIONS)
    } else {
        ExitCode::SUCCESS
    })
}

fn runner<'h>(host: &'h Host, mods: &[Flavoured], set: FlavourSet) -> anyhow::Result<Runner<'h>> {
    let bytes: BTreeMap<String, (Vec<u8>, Vec<u8>)> = mods
        .iter()
        .filter(|f| !f.kubewarden.is_empty() && !f.opa.is_empty())
        .map(|f| {
            (
                f.core.id().to_string(),
                (f.kubewarden.clone(), f.opa.clone()),
            )
        })
        .collect();
    let core: Vec<RuleModule> = mods.iter().map(|f| f.core.clone()).collect();
    Runner::new(host, core, &bytes, set).map_err(anyhow::Error::msg)
}

fn human(runs: &[SuiteRun]) -> String {
    let mut out = String::new();
    let (mut passed, mut failed, mut invalid) = (0, 0, 0);
    for run in runs {
        match &run.result {
            Err(e) => {
                invalid += 1;
                let _ = writeln!(out, "INVALID {e}");
            }
            Ok(cases) => {
                for c in cases {
                    let flavours: Vec<&str> = c.flavours.iter().map(|f| f.as_str()).collect();
                    let at = format!("{}:{}", run.path.display(), c.line);
                    match &c.outcome {
                        Outcome::Pass => {
                            passed += 1;
                            let _ =
                                writeln!(out, "PASS  {at}  {}  [{}]", c.key, flavours.join(", "));
                        }
                        Outcome::Fail(diff) => {
                            failed += 1;
                            let _ =
                                writeln!(out, "FAIL  {at}  {}  [{}]", c.key, flavours.join(", "));
                            for d in diff {
                                let _ = writeln!(out, "        {d}");
                            }
                        }
                    }
                }
            }
        }
    }
    let _ = write!(
        out,
        "\n{} suites: {passed} passed, {failed} failed",
        runs.len()
    );
    if invalid > 0 {
        let _ = write!(out, ", {invalid} invalid suites");
    }
    out.push('\n');
    out
}

fn junit(runs: &[SuiteRun]) -> anyhow::Result<String> {
    let mut report = Report::new("prodready test");
    for run in runs {
        let name = run.path.display().to_string();
        let mut ts = TestSuite::new(name.clone());
        match &run.result {
            Err(e) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_message("invalid suite");
                status.set_description(e.clone());
                let mut case = TestCase::new("suite", status);
                case.set_classname(name.clone());
                ts.add_test_case(case);
            }
            Ok(cases) => {
                for c in cases {
                    let status = match &c.outcome {
                        Outcome::Pass => TestCaseStatus::success(),
                        Outcome::Fail(diff) => {
                            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                            s.set_message(diff.first().cloned().unwrap_or_default());
                            s.set_description(diff.join("\n"));
                            s
                        }
                    };
                    let mut case = TestCase::new(format!("{} (line {})", c.key, c.line), status);
                    case.set_classname(name.clone());
                    ts.add_test_case(case);
                }
            }
        }
        report.add_test_suite(ts);
    }
    Ok(report.to_string()?)
}

/// `--init DIR`: a suite for DIR's manifests that expects what `check` finds now.
fn init(host: &Host, flags: &RunFlags, dir: &Path) -> anyhow::Result<ExitCode> {
    let out = dir.join(suite::FILE_NAME);
    if out.exists() {
        bail!("{} exists; edit it, or delete it first", out.display());
    }
    let modules = super::modules(host, flags)?;
    let metas: Vec<&prodready_host::ModuleMetadata> =
        modules.iter().map(RuleModule::metadata).collect();
    let validate = |id: &str, s: &serde_json::Value| config::validate_with(host, &modules, id, s);
    let abs = std::fs::canonicalize(dir).with_context(|| format!("{}", dir.display()))?;
    let config_path = config::find(None, &abs);
    let config = match &config_path {
        Some(p) => config::read(p, &metas, &validate).map_err(anyhow::Error::msg)?,
        None => Config::default(),
    };
    let loaded = loader::load(&[dir.to_path_buf()], &loader::Limits::default())?;
    if loaded.documents.is_empty() {
        bail!(
            "{}: no Kubernetes objects to write a suite for",
            dir.display()
        );
    }
    let enabled: Vec<RuleModule> = modules
        .iter()
        .filter(|m| config.enabled(m.id()))
        .cloned()
        .collect();
    let mut settings = BTreeMap::new();
    for m in &enabled {
        if let Some(s) = config.settings_for(m.id(), None) {
            settings.insert(m.id().to_string(), s);
        }
    }
    let namespace = config
        .namespace
        .clone()
        .unwrap_or_else(|| prodready_host::check::DEFAULT_NAMESPACE.to_string());
    let checked = prodready_host::check::check_timed(
        host,
        &enabled,
        &settings,
        &loaded.documents,
        prodready_host::check::Mode::Manifest,
        &namespace,
    );
    let emetas: Vec<&prodready_host::ModuleMetadata> =
        enabled.iter().map(RuleModule::metadata).collect();
    let mut found = findings::collect(
        &loaded.documents,
        &checked.reports,
        &config::default_severities(&emetas),
    );
    config.apply_exemptions(&mut found, &loaded.documents, &namespace);

    let mut files: Vec<String> = Vec::new();
    for d in &loaded.documents {
        if let loader::Source::File(p) = &*d.source {
            let rel = p.strip_prefix(dir).unwrap_or(p).display().to_string();
            if !files.contains(&rel) {
                files.push(rel);
            }
        }
    }
    let mut text = format!(
        "# A starter suite written by `prodready test --init {}`: what prodready reports on\n\
         # these manifests today. Edit each expectation to what it should be (a list is the exact\n\
         # check ids; {{includes: [...], excludes: [...], allowed: false}} asks less), then run\n\
         # `prodready test {}` (docs/writing-a-rule.md).\n\
         fixture:\n  manifests:\n",
        dir.display(),
        dir.display()
    );
    for f in &files {
        let _ = writeln!(text, "    - {}", serde_json::to_string(f)?);
    }
    if let Some(p) = &config_path {
        let rel = pathdiff(p, &abs);
        let _ = writeln!(text, "  config: {}", serde_json::to_string(&rel)?);
    }
    if namespace != prodready_host::check::DEFAULT_NAMESPACE {
        let _ = writeln!(text, "  namespace: {}", serde_json::to_string(&namespace)?);
    }
    text.push_str("  expect:\n");
    let mut keys_written = Vec::new();
    for (i, d) in loaded.documents.iter().enumerate() {
        let (short, long) = suite::keys(d);
        let key = long.unwrap_or(short);
        if keys_written.contains(&key) {
            continue;
        }
        keys_written.push(key.clone());
        let evaluated = checked
            .reports
            .get(i)
            .is_some_and(|r| !r.verdicts.is_empty());
        let mut ids: Vec<String> = Vec::new();
        let mut exempted: Vec<String> = Vec::new();
        for f in found.findings.iter().filter(|f| f.document == i) {
            match f.status {
                Status::Exempted { .. } => exempted.push(f.check.clone()),
                _ => ids.push(f.check.clone()),
            }
        }
        ids.sort();
        exempted.sort();
        let error = found.errors.iter().find(|e| e.document == i).and_then(|e| {
            serde_json::to_value(e.code)
                .ok()
                .and_then(|c| c.as_str().map(str::to_string))
        });
        let value = match (evaluated, error, exempted.is_empty()) {
            (false, _, _) => "skipped".to_string(),
            (true, Some(code), _) => format!("{{error: {code}}}"),
            (true, None, true) => format!("[{}]", ids.join(", ")),
            (true, None, false) => format!(
                "{{violations: [{}], exempted: [{}]}}",
                ids.join(", "),
                exempted.join(", ")
            ),
        };
        let _ = writeln!(text, "    {}: {value}", serde_json::to_string(&key)?);
    }
    std::fs::write(&out, &text).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} ({} objects from {} files); edit the expectations, then `prodready test {}`",
        out.display(),
        keys_written.len(),
        files.len(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `target` relative to the folder `base` (both absolute), with `..` as needed.
fn pathdiff(target: &Path, base: &Path) -> String {
    let t: Vec<_> = target.components().collect();
    let b: Vec<_> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in t.iter().skip(common) {
        out.push(c);
    }
    out.display().to_string()
}

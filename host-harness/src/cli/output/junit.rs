//! JUnit XML (quick-junit): a test suite per file, a test case per object × rule. A case
//! fails when the rule has open findings on the object that fail the run (`--fail-on`), and
//! is an error when the rule could not evaluate it; other findings go to its system-out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use prodready_host::config::FailOn;
use prodready_host::findings::{Finding, Status};
use prodready_sdk::Severity;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::object_label;
use crate::cli::check::Run;

fn fails(f: &Finding, fail_on: FailOn) -> bool {
    f.status == Status::Open
        && match fail_on {
            FailOn::Error => f.denies,
            FailOn::Warning => true,
            FailOn::Never => false,
        }
}

fn line(f: &Finding) -> String {
    let status = match &f.status {
        Status::Open => String::new(),
        Status::Baselined { reason } => format!(" [baselined: {reason}]"),
        Status::Exempted { reason, .. } => format!(" [exempted: {reason}]"),
    };
    let severity = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    };
    format!(
        "{} {severity} {}/{} {}: {}{status}",
        f.location.short(),
        f.rule,
        f.check,
        f.path,
        f.message
    )
}

pub fn render(run: &Run) -> anyhow::Result<String> {
    let mut findings: BTreeMap<(usize, &str), Vec<&Finding>> = BTreeMap::new();
    for f in &run.findings.findings {
        findings
            .entry((f.document, f.rule.as_str()))
            .or_default()
            .push(f);
    }
    let errors: BTreeMap<(usize, &str), _> = run
        .findings
        .errors
        .iter()
        .map(|e| ((e.document, e.rule.as_str()), e))
        .collect();
    let mut suites: Vec<(String, TestSuite)> = Vec::new();
    for (doc, rule) in &run.findings.evaluated {
        let Some(d) = run.objects.get(*doc) else {
            continue;
        };
        let file = d.source.to_string();
        if suites.last().is_none_or(|(f, _)| *f != file) {
            suites.push((file.clone(), TestSuite::new(file.clone())));
        }
        let object = prodready_sdk::verdict::ObjectRef {
            api_version: d.object.api_version.clone(),
            kind: d.object.kind.clone(),
            namespace: d
                .written_namespace
                .as_ref()
                .and_then(|v| v.as_str())
                .map(str::to_string),
            name: d
                .written_name
                .as_ref()
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
        };
        let name = format!("{} ({}:{})", object_label(&object), file, d.line);
        let key = (*doc, rule.as_str());
        let these = findings.get(&key).map(Vec::as_slice).unwrap_or_default();
        let fail_on = run.fail_on;
        let failing: Vec<&&Finding> = these.iter().filter(|f| fails(f, fail_on)).collect();
        let mut case = if let Some(e) = errors.get(&key) {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(format!("rule {} could not evaluate the object", e.rule));
            status.set_type(
                serde_json::to_value(e.code)?
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            status.set_description(e.message.clone());
            TestCase::new(name, status)
        } else if failing.is_empty() {
            TestCase::new(name, TestCaseStatus::success())
        } else {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let checks: Vec<&str> = failing.iter().map(|f| f.check.as_str()).collect();
            status.set_message(format!(
                "{} finding(s): {}",
                failing.len(),
                checks.join(", ")
            ));
            status.set_type("prodready");
            let mut text = String::new();
            for f in &failing {
                let _ = writeln!(text, "{}", line(f));
            }
            status.set_description(text);
            TestCase::new(name, status)
        };
        case.set_classname(format!("prodready.{rule}"));
        let others: Vec<String> = these
            .iter()
            .filter(|f| !fails(f, fail_on))
            .map(|f| line(f))
            .collect();
        if !others.is_empty() {
            case.set_system_out(others.join("\n"));
        }
        if let Some((_, suite)) = suites.last_mut() {
            suite.add_test_case(case);
        }
    }
    let mut report = Report::new("prodready");
    report.add_test_suites(suites.into_iter().map(|(_, s)| s));
    Ok(report.to_string()?)
}

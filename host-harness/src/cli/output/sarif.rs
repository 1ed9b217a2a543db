//! SARIF 2.1.0 (serde-sarif): one run, a reporting descriptor per check (help text with the
//! fix and the talk's slide), a result per finding with its physical location, so GitHub
//! code scanning puts it on the line. Exempted and baselined findings are results with a
//! suppression (code scanning shows them as dismissed); with a baseline, open results are
//! `baselineState: new`.

use std::collections::BTreeMap;

use prodready_host::findings::{ExemptedBy, Finding, Status};
use prodready_sdk::Severity;
use serde_sarif::sarif;

use super::object_label;
use crate::cli::check::Run;

const INFORMATION_URI: &str = env!("CARGO_PKG_REPOSITORY");

fn level(f: &Finding) -> sarif::ResultLevel {
    match (&f.status, f.severity) {
        (Status::Open, Severity::Error) if f.denies => sarif::ResultLevel::Error,
        (_, Severity::Error) => sarif::ResultLevel::Error,
        (_, Severity::Warning) => sarif::ResultLevel::Warning,
    }
}

pub fn render(run: &Run) -> anyhow::Result<String> {
    let mut rules = Vec::new();
    let mut index: BTreeMap<(String, String), i64> = BTreeMap::new();
    for m in &run.modules {
        let md = m.metadata();
        for c in &md.checks {
            let id = format!("{}/{}", md.id, c.id);
            index.insert((md.id.clone(), c.id.clone()), rules.len() as i64);
            let mut help = format!(
                "{}\n\nFix: {}\n\nRule {} \"{}\" of the talk \"Production Ready Kubernetes 15 Rules\" ({}): {}",
                c.description, c.remediation, md.number, md.title, md.slide, md.description
            );
            if !c.context.is_empty() {
                help.push_str("\n\nReads: ");
                help.push_str(&c.context);
            }
            help.push_str(&format!(
                "\n\nExempt an object: annotation `prodready.io/skip-{}: \"<reason>\"`, or an `exemptions` entry in .prodready.yaml. Details: `prodready explain {}`.",
                c.id, c.id
            ));
            let markdown = format!(
                "**{}**\n\n**Fix:** {}\n\nRule {} *{}* of the talk *Production Ready Kubernetes 15 Rules* ({}).\n\n`prodready explain {}`",
                c.description, c.remediation, md.number, md.title, md.slide, c.id
            );
            let level = match c.severity {
                Severity::Error => sarif::ResultLevel::Error,
                Severity::Warning => sarif::ResultLevel::Warning,
            };
            rules.push(
                sarif::ReportingDescriptor::builder()
                    .id(id)
                    .name(c.id.clone())
                    .short_description(&c.description)
                    .full_description(&format!("{} {}", c.description, c.remediation))
                    .help(
                        sarif::MultiformatMessageString::builder()
                            .text(help)
                            .markdown(markdown)
                            .build(),
                    )
                    .default_configuration(
                        sarif::ReportingConfiguration::builder()
                            .level(serde_json::to_value(level)?)
                            .build(),
                    )
                    .build(),
            );
        }
    }

    let mut results = Vec::new();
    for f in &run.findings.findings {
        let region = sarif::Region::builder()
            .start_line(f.location.position.line as i64)
            .start_column(f.location.position.column as i64)
            .build();
        let location = sarif::Location::builder()
            .physical_location(
                sarif::PhysicalLocation::builder()
                    .artifact_location(
                        sarif::ArtifactLocation::builder()
                            .uri(uri(&f.location.file))
                            .build(),
                    )
                    .region(region)
                    .build(),
            )
            .build();
        let mut fingerprints = BTreeMap::new();
        fingerprints.insert("prodready/v1".to_string(), f.fingerprint.to_string());
        let message = format!("{}: {} ({})", object_label(&f.object), f.message, f.path);
        let suppression = match &f.status {
            Status::Open => None,
            Status::Exempted { reason, by } => Some(
                sarif::Suppression::builder()
                    .kind(match by {
                        ExemptedBy::Annotation => "inSource",
                        ExemptedBy::Config => "external",
                    })
                    .justification(reason.clone())
                    .build(),
            ),
            Status::Baselined { reason } => Some(
                sarif::Suppression::builder()
                    .kind("external")
                    .justification(format!("baseline: {reason}"))
                    .build(),
            ),
        };
        let rule_index = index
            .get(&(f.rule.clone(), f.check.clone()))
            .copied()
            .unwrap_or(-1);
        let result = sarif::Result::builder()
            .rule_id(format!("{}/{}", f.rule, f.check))
            .rule_index(rule_index)
            .level(level(f))
            .message(&message)
            .locations(vec![location])
            .partial_fingerprints(fingerprints)
            .suppressions(suppression.into_iter().collect::<Vec<_>>());
        let result = match (&run.baseline, &f.status) {
            (Some(_), Status::Open) => result.baseline_state("new").build(),
            (Some(_), Status::Baselined { .. }) => result.baseline_state("unchanged").build(),
            _ => result.build(),
        };
        results.push(result);
    }

    let mut notifications = Vec::new();
    for e in &run.findings.errors {
        notifications.push(
            sarif::Notification::builder()
                .message(&format!(
                    "rule {} could not evaluate {}: {}",
                    e.rule,
                    object_label(&e.object),
                    e.message
                ))
                .level(serde_json::to_value(sarif::ResultLevel::Error)?)
                .locations(vec![
                    sarif::Location::builder()
                        .physical_location(
                            sarif::PhysicalLocation::builder()
                                .artifact_location(
                                    sarif::ArtifactLocation::builder()
                                        .uri(uri(&e.location.file))
                                        .build(),
                                )
                                .region(
                                    sarif::Region::builder()
                                        .start_line(e.location.position.line as i64)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                ])
                .build(),
        );
    }
    let invocation = sarif::Invocation::builder()
        .execution_successful(run.findings.errors.is_empty())
        .tool_execution_notifications(notifications)
        .build();

    let driver = sarif::ToolComponent::builder()
        .name("prodready")
        .version(env!("CARGO_PKG_VERSION"))
        .information_uri(INFORMATION_URI)
        .rules(rules)
        .build();
    let sarif_run = sarif::Run::builder()
        .tool(driver)
        .results(results)
        .invocations(vec![invocation])
        .build();
    let log = sarif::Sarif::builder()
        .schema(sarif::SCHEMA_URL)
        .version(sarif::Version::V2_1_0.to_string())
        .runs(vec![sarif_run])
        .build();
    Ok(serde_json::to_string_pretty(&log)? + "\n")
}

/// A file name as a relative URI reference (SARIF §3.10): `/` separators, percent-encoded
/// where URIs need it; stdin becomes `stdin`.
fn uri(file: &str) -> String {
    if file == "<stdin>" {
        return "stdin".to_string();
    }
    let path = file.strip_prefix("./").unwrap_or(file).replace('\\', "/");
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

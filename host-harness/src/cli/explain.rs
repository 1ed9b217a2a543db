//! `prodready explain <check>`: everything about one check, from the module's metadata and
//! the check's own fixtures (embedded: fixtures.rs).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::bail;
use prodready_host::loader::{self, Document, Source};
use prodready_host::{Host, ModuleMetadata, RuleModule};
use serde_json::Value;

use super::args::{ExplainArgs, RunFlags};
use super::modules;

mod fixtures {
    include!("fixtures.rs");
}

pub fn explain(host: &Host, flags: &RunFlags, a: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let modules = modules(host, flags)?;
    let (rule, check) = match a.check.split_once('/') {
        Some((r, c)) => (Some(r), c),
        None => (None, a.check.as_str()),
    };
    let found = modules.iter().map(RuleModule::metadata).find_map(|m| {
        let c = m.checks.iter().find(|c| c.id == check)?;
        (rule.is_none_or(|r| r == m.id)).then_some((m, c))
    });
    let Some((m, c)) = found else {
        let all: Vec<String> = modules
            .iter()
            .flat_map(|m| m.metadata().checks.iter().map(|c| c.id.clone()))
            .collect();
        let close: Vec<&String> = all
            .iter()
            .filter(|id| id.contains(check) || check.contains(id.as_str()))
            .collect();
        if close.is_empty() {
            bail!("no check `{}` (`prodready rules` lists them all)", a.check);
        }
        let close: Vec<&str> = close.iter().map(|s| s.as_str()).collect();
        bail!("no check `{}`; did you mean {}?", a.check, close.join(", "));
    };
    print!("{}", render(m, c));
    Ok(ExitCode::SUCCESS)
}

fn render(m: &ModuleMetadata, c: &prodready_host::module::CheckMeta) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}/{} ({} by default)\n",
        m.id,
        c.id,
        c.severity.as_str()
    );
    let _ = writeln!(out, "{}\n", c.description);
    let _ = writeln!(out, "Why");
    let _ = writeln!(
        out,
        "  Rule {} of the talk \"Production Ready Kubernetes 15 Rules\": {} ({}).",
        m.number, m.title, m.slide
    );
    let _ = writeln!(out, "  {}\n", m.description);
    let _ = writeln!(out, "What it reads");
    let kinds: Vec<String> = m
        .resources
        .iter()
        .flat_map(|r| r.kinds.iter().cloned())
        .collect();
    let _ = writeln!(out, "  Objects of kind {}.", kinds.join(", "));
    if c.context.is_empty() {
        let _ = writeln!(out, "  The object alone.\n");
    } else {
        let _ = writeln!(out, "  {}\n", c.context);
    }
    let _ = writeln!(out, "How to fix\n  {}\n", c.remediation);
    let _ = writeln!(out, "Settings of rule {} (defaults)", m.id);
    if let Some(props) = m
        .settings_schema
        .get("properties")
        .and_then(Value::as_object)
    {
        for (key, s) in props {
            let default = s.get("default").map(Value::to_string).unwrap_or_default();
            let text = s
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .replace('\n', " ");
            let _ = writeln!(out, "  {key}: {default}\n      {text}");
        }
    }
    let _ = writeln!(
        out,
        "  Re-grade or switch off this check: `severity: {{{}: warning}}` (or `off`).\n",
        c.id
    );
    let _ = writeln!(out, "How to exempt");
    let _ = writeln!(
        out,
        "  One object: the annotation `prodready.io/skip-{}: \"<reason>\"`.",
        c.id
    );
    let _ = writeln!(
        out,
        "  Many: an entry in .prodready.yaml, e.g.\n    exemptions:\n      - checks: [{}]\n        namespaces: [legacy]\n        reason: \"<why, and who decided>\"",
        c.id
    );
    let _ = writeln!(
        out,
        "  Existing findings: `prodready baseline --out .prodready-baseline.yaml --reason \"...\"`.\n"
    );
    let (failing, passing) = examples(&m.id, &c.id);
    for (title, doc) in [
        ("A failing example", failing),
        ("A passing example", passing),
    ] {
        if let Some((file, text)) = doc {
            let _ = writeln!(out, "{title} (tests/fixtures/{}/{file})", m.id);
            for line in text.lines() {
                let _ = writeln!(out, "  {line}");
            }
            out.push('\n');
        }
    }
    out
}

/// What a fixture header expects of one object: the ids it must report.
fn expected_ids(v: &Value) -> Vec<String> {
    let list = match v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("violations") {
            Some(Value::Array(a)) => a,
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    list.iter()
        .filter_map(|x| x.as_str().map(str::to_string))
        .collect()
}

type Example = Option<(&'static str, String)>;

/// A failing and a passing object of `check`, from its own fixture file first.
fn examples(rule: &str, check: &str) -> (Example, Example) {
    let own = format!("{check}.yaml");
    let mut files: Vec<&(&str, &str, &str)> = fixtures::FIXTURES
        .iter()
        .filter(|(r, _, _)| *r == rule)
        .collect();
    files.sort_by_key(|(_, name, _)| *name != own);
    let (mut failing, mut passing) = (None, None);
    for (_, name, text) in files {
        let Ok(loaded) =
            loader::load_str(Source::File(name.into()), text, &loader::Limits::default())
        else {
            continue;
        };
        let Some(expect) = fixture_header(text)
            .and_then(|h| h.pointer("/fixture/expect").cloned())
            .and_then(|e| e.as_object().cloned())
        else {
            continue;
        };
        for d in &loaded.documents {
            let key = format!(
                "{}/{}",
                d.value
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                d.value
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
            let Some(ids) = expect.get(&key).map(expected_ids) else {
                continue;
            };
            let exempted = expect
                .get(&key)
                .and_then(|v| v.get("exempted"))
                .is_some_and(|x| x.as_array().is_some_and(|a| !a.is_empty()));
            if failing.is_none() && ids.iter().any(|i| i == check) {
                failing = Some((*name, snippet(d)));
            } else if passing.is_none() && ids.is_empty() && !exempted && *name == own {
                passing = Some((*name, snippet(d)));
            }
        }
        if failing.is_some() && passing.is_some() {
            break;
        }
    }
    (failing, passing)
}

/// The fixture file's first document (the `fixture:` header), parsed.
fn fixture_header(text: &str) -> Option<Value> {
    let head = text.split("\n---").next()?;
    loader::parse_yaml_value(head).ok()
}

/// The object's text as written, without the document marker.
fn snippet(d: &Document) -> String {
    let text = d.text.as_str();
    let text = text.strip_prefix("---\n").unwrap_or(text);
    text.trim_end().to_string()
}

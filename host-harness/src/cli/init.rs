//! `prodready init`: a `.prodready.yaml` naming every rule, with every setting's default
//! and description in comments, from the modules' settings schemas.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use prodready_host::{Host, ModuleMetadata, RuleModule};
use serde_json::Value;

use super::args::{InitArgs, RunFlags};
use super::modules;

pub fn init(host: &Host, flags: &RunFlags, a: &InitArgs) -> anyhow::Result<ExitCode> {
    if a.out.exists() && !a.force {
        bail!("{} exists (--force overwrites it)", a.out.display());
    }
    let modules = modules(host, flags)?;
    let metas: Vec<&ModuleMetadata> = modules.iter().map(RuleModule::metadata).collect();
    let text = render(&metas);
    std::fs::write(&a.out, text).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "wrote {} ({} rules); `prodready check` reads it from this folder and below",
        a.out.display(),
        metas.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// The config text: every key commented out at its default, so the file changes nothing
/// until a line is uncommented.
pub fn render(modules: &[&ModuleMetadata]) -> String {
    let mut out = String::from(
        "# prodready configuration (README.md, \"Config file\"). `prodready check` finds it by\n\
         # walking up from the working directory; `--config FILE` names another, `--no-config`\n\
         # ignores it. Every value below is commented out at its default.\n\n\
         # Checked when `prodready check` is given no PATH (relative to this file).\n\
         # paths: [deploy/]\n\
         # The namespace objects without metadata.namespace are applied to (--namespace).\n\
         # namespace: default\n\
         # Which open findings fail the run: error (those that deny), warning, never (--fail-on).\n\
         # failOn: error\n\
         # Accepted findings (`prodready baseline`), relative to this file (--baseline).\n\
         # baseline: .prodready-baseline.yaml\n\n\
         # Re-grade checks across rules: <check> or <rule>/<check>: error | warning | off.\n\
         severity: {}\n\n\
         # Exempt objects from checks; every entry needs a reason.\n\
         exemptions: []\n\
         #  - checks: [probes-required]        # check ids, rule/check or rule/*\n\
         #    namespaces: [legacy]              # optional: any of these namespaces\n\
         #    names: [\"batch-*\"]               # optional: metadata.name globs\n\
         #    kinds: [CronJob]                  # optional\n\
         #    selector: {matchLabels: {tier: batch}}   # optional: the object's labels\n\
         #    reason: \"why, and who decided (TICKET-1)\"\n\n\
         # Every rule runs unless set to `false`; a mapping gives its settings (docs/checks.md).\n\
         rules:\n",
    );
    for m in modules {
        let _ = writeln!(
            out,
            "  # {}. {} ({}): {}",
            m.number,
            m.title,
            m.slide,
            first_line(&m.description)
        );
        let _ = writeln!(out, "  {}:", m.id);
        if let Some(props) = m
            .settings_schema
            .get("properties")
            .and_then(Value::as_object)
        {
            for (key, s) in props {
                if let Some(d) = s.get("description").and_then(Value::as_str) {
                    for line in d.lines() {
                        let _ = writeln!(out, "    # {line}");
                    }
                }
                let default = s.get("default").cloned().unwrap_or(Value::Null);
                let _ = writeln!(out, "    # {key}: {}", flow(&default));
            }
        }
    }
    out
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// A value in YAML flow style (JSON is valid YAML flow).
fn flow(v: &Value) -> String {
    v.to_string()
}

//! Output formats of `check`: each renders the whole run to text.

mod github;
mod human;
mod json;
mod junit;
mod rules;
mod sarif;

pub use rules::rules_human;

use super::args::Format;
use super::check::Run;

/// The run in `format`; `color` only applies to human output.
pub fn render(format: Format, run: &Run, color: bool) -> anyhow::Result<String> {
    match format {
        Format::Human => Ok(human::render(run, color)),
        Format::Json => json::render(run),
        Format::Sarif => sarif::render(run),
        Format::Junit => junit::render(run),
        Format::Github => Ok(github::render(run)),
    }
}

/// `Kind namespace/name`, or `Kind name` for objects without a namespace.
pub fn object_label(o: &prodready_sdk::verdict::ObjectRef) -> String {
    match &o.namespace {
        Some(ns) => format!("{} {}/{}", o.kind, ns, o.name),
        None => format!("{} {}", o.kind, o.name),
    }
}

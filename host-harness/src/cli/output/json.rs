//! For machines: every finding with its location, status and fingerprint, grouped by object
//! (the shape of earlier versions, plus `location`), and the summary. Written by
//! prodready-core's report, which the playground shares.

use prodready_host::report::{ObjectEntry, Report, to_json};
use serde_json::json;

use crate::cli::check::Run;

pub fn render(run: &Run) -> anyhow::Result<String> {
    let report = Report {
        objects: || {
            run.objects.iter().map(|d| ObjectEntry {
                source: &d.source,
                index: d.index,
                line: d.line,
                item: d.item,
                helm_source: d.helm_source.as_deref(),
                object: &d.object,
                written_namespace: d.written_namespace.as_ref(),
                written_name: d.written_name.as_ref(),
            })
        },
        skipped: &run.skipped,
        findings: &run.findings,
        rules: run
            .modules
            .iter()
            .map(|m| (m.id(), m.metadata().version.as_str()))
            .collect(),
        shard: run.shard.map(|s| (s.index, s.count)),
        baseline: run.baseline.as_ref().map(|(path, o)| {
            json!({
                "file": path.display().to_string(),
                "expired": o.expired,
                "stale": o.stale,
            })
        }),
        summary: run.summary,
    };
    Ok(to_json(&report)?)
}

//! `check` and `baseline`: load the config, the manifests and the modules, evaluate, turn
//! verdicts into findings, apply exemptions and the baseline, report, decide the exit status.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use prodready_host::baseline::{self, Baseline, Date};
use prodready_host::check::stream::{self, Object};
use prodready_host::config::{self, Config, FailOn};
use prodready_host::findings::{self, Findings, Summary};
use prodready_host::loader::{self, Skipped};
use prodready_host::{Host, RuleModule};
use serde_json::Value;

use super::args::{
    BaselineArgs, CheckArgs, ColorChoice, FailurePolicy, Format, InputArgs, RunFlags,
};
use super::{EXIT_USAGE, EXIT_VIOLATIONS, modules, output, read_value};

/// Inputs with at least this many objects get a progress bar (on a terminal).
const PROGRESS_MIN_OBJECTS: usize = 2_000;

/// Everything one evaluation produced, for the outputs.
pub struct Run {
    pub modules: Vec<RuleModule>,
    /// Every object read, in input order (findings' `document` indexes into it).
    pub objects: Vec<Object>,
    /// The documents that are not Kubernetes objects.
    pub skipped: Vec<Skipped>,
    pub findings: Findings,
    pub summary: Summary,
    /// Set when a baseline was applied.
    pub baseline: Option<(PathBuf, baseline::Outcome)>,
    pub config: Config,
    /// What fails the run (`--fail-on`, the config's `failOn`).
    pub fail_on: FailOn,
    /// `--shard`: the share of the objects evaluated.
    pub shard: Option<prodready_host::check::Shard>,
}

#[derive(Default)]
struct Timings {
    modules: Duration,
    /// Reading, splitting and parsing (pass 1).
    load: Duration,
    /// Serializing objects and contexts (pass 1).
    prepare: Duration,
    /// Wall time per module (summed over batches).
    rules: Vec<(String, Duration)>,
    /// Evaluation, wall time (pass 2).
    evaluate: Duration,
    /// Findings built from the verdicts: field positions (documents re-read), fingerprints,
    /// exemptions.
    findings: Duration,
}

/// Reads the config, loads modules and manifests, evaluates and collects findings.
fn evaluate(
    host: &Host,
    flags: &RunFlags,
    input: &InputArgs,
    shard: Option<prodready_host::check::Shard>,
    timings: &mut Timings,
) -> anyhow::Result<Run> {
    let started = Instant::now();
    let mut modules = modules(host, flags)?;
    timings.modules = started.elapsed();
    let metas: Vec<&prodready_host::ModuleMetadata> =
        modules.iter().map(RuleModule::metadata).collect();
    let validate = |id: &str, settings: &Value| config::validate_with(host, &modules, id, settings);
    let config = if input.no_config {
        Config::default()
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        match config::find(input.config.as_deref(), &cwd) {
            Some(path) => config::read(&path, &metas, &validate).map_err(anyhow::Error::msg)?,
            None => Config::default(),
        }
    };
    drop(metas);

    if !input.rules.is_empty() {
        for id in &input.rules {
            if !modules.iter().any(|m| m.id() == id) {
                let known: Vec<&str> = modules.iter().map(RuleModule::id).collect();
                bail!("--rule {id}: no such rule (rules: {})", known.join(", "));
            }
        }
        modules.retain(|m| input.rules.iter().any(|r| r == m.id()));
    } else {
        modules.retain(|m| config.enabled(m.id()));
    }

    let explicit = match &input.settings {
        None => BTreeMap::new(),
        Some(path) => read_settings(&modules, path)?,
    };
    let mut settings = BTreeMap::new();
    for m in &modules {
        if let Some(s) = config.settings_for(m.id(), explicit.get(m.id())) {
            config::validate_with(host, &modules, m.id(), &s).map_err(|message| {
                let from = match (&input.settings, explicit.contains_key(m.id())) {
                    (Some(p), true) => p.display().to_string(),
                    _ => config
                        .file
                        .as_ref()
                        .map_or_else(|| "config".into(), |p| p.display().to_string()),
                };
                anyhow::anyhow!(
                    "{from}: settings of rule {} are not valid: {message}",
                    m.id()
                )
            })?;
            settings.insert(m.id().to_string(), s);
        }
    }

    let paths: Vec<PathBuf> = if !input.paths.is_empty() {
        input.paths.clone()
    } else if !config.paths.is_empty() {
        config.paths.clone()
    } else if input.require_paths {
        bail!(
            "no manifests to check: give PATHs (the hook's `args: [deploy/]`) or `paths:` in {}",
            config.file.as_ref().map_or_else(
                || config::FILE_NAME.to_string(),
                |p| p.display().to_string()
            )
        );
    } else {
        if std::io::stdin().is_terminal() {
            eprintln!(
                "prodready: reading manifests from standard input (end with Ctrl-D); give PATHs, or `paths:` in {}",
                config::FILE_NAME
            );
        }
        vec![PathBuf::from("-")]
    };
    let namespace = input
        .namespace
        .clone()
        .or_else(|| config.namespace.clone())
        .unwrap_or_else(|| prodready_host::check::DEFAULT_NAMESPACE.to_string());

    let limits = loader::Limits {
        max_file_bytes: input.max_input_bytes.unwrap_or(u64::MAX),
        max_document_bytes: input.max_document_bytes,
        // Memory does not grow with the documents read, only with the context kept.
        max_documents: usize::MAX,
        ..loader::Limits::default()
    };
    let options = stream::Options {
        mode: prodready_host::check::Mode::Manifest,
        namespace: namespace.clone(),
        shard,
        limits,
        batch_bytes: input.batch_bytes.unwrap_or(stream::BATCH_BYTES),
        batch_objects: input.batch_objects.unwrap_or(stream::BATCH_OBJECTS),
    };
    let metas: Vec<&prodready_host::ModuleMetadata> =
        modules.iter().map(RuleModule::metadata).collect();
    let defaults = config::default_severities(&metas);
    drop(metas);
    let progress: std::sync::OnceLock<indicatif::ProgressBar> = std::sync::OnceLock::new();
    let mut started = |total: u64| {
        if let Some(bar) = progress_bar(&modules, total) {
            let _ = progress.set(bar);
        }
    };
    let tick = |n: u64| {
        if let Some(p) = progress.get() {
            p.inc(n);
        }
    };
    let exempt = |found: &mut Findings, docs: &[loader::Document]| {
        config.apply_exemptions(found, docs, &namespace);
    };
    let streamed = stream::check_stream(
        host,
        &modules,
        &settings,
        &paths,
        &options,
        &defaults,
        stream::Hooks {
            started: &mut started,
            progress: &tick,
            exempt: &exempt,
        },
    )
    .map_err(|e| {
        let hint = match &e {
            loader::LoadError::FileTooLarge { .. } => " (raise it with --max-input-bytes)",
            loader::LoadError::DocumentTooLarge { .. } => " (raise it with --max-document-bytes)",
            _ => "",
        };
        anyhow::anyhow!("{e}{hint}")
    })?;
    if let Some(p) = progress.get() {
        p.finish_and_clear();
    }
    for s in &streamed.skipped {
        eprintln!(
            "prodready: warning: {}:{}: document {} skipped: {}",
            s.source, s.line, s.index, s.reason
        );
    }
    timings.load = streamed.read;
    timings.prepare = streamed.prepare;
    timings.rules = streamed.modules;
    timings.evaluate = streamed.evaluate;
    timings.findings = streamed.locate;
    let findings = streamed.findings;
    let objects = streamed.objects.iter().filter(|o| o.in_shard).count();
    let summary = findings.summary(objects);
    Ok(Run {
        modules,
        objects: streamed.objects,
        skipped: streamed.skipped,
        findings,
        summary,
        baseline: None,
        fail_on: config.fail_on.unwrap_or(FailOn::Error),
        shard,
        config,
    })
}

/// A bar over (object, rule) evaluations, on a terminal, for large inputs.
fn progress_bar(modules: &[RuleModule], total: u64) -> Option<indicatif::ProgressBar> {
    let objects = total / (modules.len().max(1) as u64);
    if objects < PROGRESS_MIN_OBJECTS as u64 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} checking {human_len} evaluations [{bar:30}] {percent}% {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

/// Reads `--settings`: rule ids to settings (each validated later, merged with the config).
fn read_settings(modules: &[RuleModule], path: &Path) -> anyhow::Result<BTreeMap<String, Value>> {
    let value = read_value(path)?;
    prodready_host::check::settings_by_rule(value, modules.iter().map(RuleModule::id))
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub fn check(host: &Host, flags: &RunFlags, a: CheckArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let mut run = evaluate(host, flags, &a.input, a.shard, &mut timings)?;
    if let Some(f) = a.fail_on {
        run.fail_on = f;
    }
    let baseline_path = a.baseline.clone().or_else(|| run.config.baseline.clone());
    if let Some(path) = baseline_path {
        let b = baseline::read(&path).map_err(anyhow::Error::msg)?;
        let mut outcome = baseline::apply(&b, &mut run.findings, Date::today());
        // Entries of objects in other shards are those shards' to match.
        if let Some(s) = a.shard {
            outcome
                .stale
                .retain(|e| s.contains(&e.kind, e.namespace.as_deref(), &e.name));
        }
        run.summary = run.findings.summary(run.summary.objects);
        run.baseline = Some((path, outcome));
    }

    let color = match a.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    let outputs = if a.outputs.is_empty() {
        vec![super::args::OutputSpec {
            format: Format::Human,
            file: None,
        }]
    } else {
        a.outputs.clone()
    };
    for spec in &outputs {
        let text = output::render(spec.format, &run, color && spec.file.is_none())?;
        match &spec.file {
            Some(path) => {
                std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
            }
            None => {
                use std::io::Write as _;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
        }
    }

    if a.timings {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        eprintln!("timings: modules loaded in {:.2} ms", ms(timings.modules));
        eprintln!(
            "timings: {} documents read and parsed in {:.2} ms",
            run.objects.len(),
            ms(timings.load)
        );
        eprintln!(
            "timings: objects serialized for the modules in {:.2} ms",
            ms(timings.prepare)
        );
        for (id, d) in &timings.rules {
            eprintln!("timings: rule {id}: {:.2} ms", ms(*d));
        }
        eprintln!(
            "timings: all rules (in parallel): {:.2} ms",
            ms(timings.evaluate)
        );
        eprintln!(
            "timings: {} findings located (field positions, fingerprints) in {:.2} ms",
            run.findings.findings.len(),
            ms(timings.findings)
        );
        eprintln!("timings: total {:.2} ms", ms(started.elapsed()));
    }

    let fail_closed = a.failure_policy == FailurePolicy::Fail;
    let s = run.summary;
    if !fail_closed && s.module_errors > 0 {
        eprintln!(
            "prodready: warning: {} module errors ignored (--failure-policy ignore)",
            s.module_errors
        );
    }
    let fail_on = run.fail_on;
    let expired = run
        .baseline
        .as_ref()
        .is_some_and(|(_, o)| !o.expired.is_empty());
    let failing = match fail_on {
        FailOn::Error => s.denying > 0,
        FailOn::Warning => s.errors + s.warnings > 0,
        FailOn::Never => false,
    };
    let code = if fail_closed && s.module_errors > 0 {
        ExitCode::from(EXIT_USAGE)
    } else if failing || expired {
        ExitCode::from(EXIT_VIOLATIONS)
    } else {
        ExitCode::SUCCESS
    };
    // The process ends here: freeing every parsed object one by one (~15% of a 10k-object
    // run) would only delay the exit.
    std::mem::forget(run);
    std::mem::forget(timings);
    Ok(code)
}

pub fn baseline(host: &Host, flags: &RunFlags, a: BaselineArgs) -> anyhow::Result<ExitCode> {
    let mut timings = Timings::default();
    if let Some(x) = &a.expires
        && Date::parse(x).is_none()
    {
        bail!("--expires {x}: not a date (YYYY-MM-DD)");
    }
    let run = evaluate(host, flags, &a.input, None, &mut timings)?;
    if !run.findings.errors.is_empty() {
        for e in &run.findings.errors {
            eprintln!(
                "prodready: error: {}: {} {}: rule {}: {}",
                e.location.short(),
                e.object.kind,
                e.object.name,
                e.rule,
                e.message
            );
        }
        bail!(
            "module errors: fix them before recording a baseline (a baseline accepts findings, not errors)"
        );
    }
    let previous: Option<Baseline> = if a.out.exists() {
        Some(baseline::read(&a.out).map_err(anyhow::Error::msg)?)
    } else {
        None
    };
    let mut b = baseline::record(&run.findings, previous.as_ref(), a.reason.as_deref())
        .map_err(anyhow::Error::msg)?;
    if let Some(x) = &a.expires {
        let kept: Vec<_> = previous
            .iter()
            .flat_map(|p| p.entries.iter().map(baseline::Entry::fingerprint))
            .collect();
        for e in &mut b.entries {
            if !kept.contains(&e.fingerprint()) {
                e.expires = Some(x.clone());
            }
        }
    }
    let text = baseline::to_yaml(&b).map_err(anyhow::Error::msg)?;
    std::fs::write(&a.out, text).with_context(|| format!("writing {}", a.out.display()))?;
    let kept = previous.as_ref().map_or(0, |p| {
        b.entries
            .iter()
            .filter(|e| p.entries.iter().any(|x| x.fingerprint() == e.fingerprint()))
            .count()
    });
    println!(
        "{}: {} entries ({} kept from the previous file, {} new) for {} findings",
        a.out.display(),
        b.entries.len(),
        kept,
        b.entries.len() - kept,
        run.findings
            .findings
            .iter()
            .filter(|f| f.status == findings::Status::Open)
            .count()
    );
    std::mem::forget(run);
    Ok(ExitCode::SUCCESS)
}

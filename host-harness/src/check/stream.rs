//! `check` over a manifest set of any size, in bounded memory: the same findings, in the
//! same order, as [`super::check_shard`] followed by [`crate::findings::collect`].
//!
//! Pass 1 reads every document once ([`crate::loader::stream`]), in batches parsed and
//! serialized on every core. It keeps, for the whole set, what cross-object checks need (the
//! objects of the kinds the modules read as context, trimmed of `status` and
//! `metadata.managedFields`) and a small [`Object`] per object; each object's JSON goes to a
//! temporary file. Pass 2 reads the JSON back in batches of [`Options::batch_objects`],
//! evaluates every module on the batch (the modules shared out among the cores, one warm
//! instance per module with the whole set's context loaded once), then turns the batch's
//! verdicts into findings, reading the text of the documents that have something to report
//! again from their file (standard input's copy) for field positions.

use std::collections::BTreeMap;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prodready_sdk::verdict::{ObjectRef, Verdict};
use serde_json::Value;

use super::{
    Mode, ObjectReport, Shard, Target, assemble_reports, context_bytes, envelope, settings_json,
    split_api_version,
};
use crate::engine::Host;
use crate::findings::{self, DefaultSeverities, Findings};
use crate::loader::stream::{Span, Stream, Texts, spool};
use crate::loader::{self, DocText, Document, LoadError, Skipped, Source};
use crate::module::{RuleModule, Session};

/// Bytes of manifest text read and parsed together, by default.
pub const BATCH_BYTES: usize = 2 << 20;
/// Objects evaluated together, by default.
pub const BATCH_OBJECTS: usize = 1024;

/// How a streamed check runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub mode: Mode,
    /// The namespace of objects that name none.
    pub namespace: String,
    /// `--shard`: the objects evaluated (all are context).
    pub shard: Option<Shard>,
    pub limits: loader::Limits,
    /// Pass 1's batches, in bytes of text.
    pub batch_bytes: usize,
    /// Pass 2's batches, in objects.
    pub batch_objects: usize,
}

/// One object of the set, as the outputs need it once its batch is gone.
#[derive(Debug, Clone)]
pub struct Object {
    /// The file (or stdin) it was read from.
    pub source: Arc<Source>,
    /// 0-based index of its document in that file.
    pub index: usize,
    /// 1-based line where its document starts.
    pub line: usize,
    /// Its index in the `items` of a List document.
    pub item: Option<usize>,
    /// The `# Source:` comment of `helm template`.
    pub helm_source: Option<String>,
    /// What the modules are told it is (a `generateName` object's name ends in `*`).
    pub object: ObjectRef,
    /// `metadata.namespace` and `metadata.name` as written (absent: `None`).
    pub written_namespace: Option<Value>,
    pub written_name: Option<Value>,
    /// In the `--shard` evaluated (always, without one).
    pub in_shard: bool,
    text: Span,
    first_line: usize,
    json: (u64, usize),
}

/// What a streamed check found, and what each phase cost.
#[derive(Debug, Default)]
pub struct Streamed {
    /// Every object, in input order (findings' `document` indexes into it).
    pub objects: Vec<Object>,
    pub skipped: Vec<Skipped>,
    pub findings: Findings,
    /// Pass 1: reading, splitting and parsing.
    pub read: Duration,
    /// Pass 1: serializing objects and contexts.
    pub prepare: Duration,
    /// Per module: its evaluations (with instantiation and context load), summed.
    pub modules: Vec<(String, Duration)>,
    /// Pass 2: evaluation, wall time.
    pub evaluate: Duration,
    /// Pass 2: findings built, positions resolved, exemptions applied.
    pub locate: Duration,
}

/// Hooks a caller sees a streamed check through.
pub struct Hooks<'a> {
    /// Called once pass 1 is done, with the number of evaluations to come at most
    /// (objects × modules).
    pub started: &'a mut dyn FnMut(u64),
    /// Called as evaluations complete, `n` at a time.
    pub progress: &'a (dyn Fn(u64) + Sync),
    /// Applied to each batch's findings while its documents are in memory (the config's
    /// exemptions); indexes are the batch's.
    pub exempt: &'a (dyn Fn(&mut Findings, &[Document]) + Sync),
}

/// Runs `modules` over the manifests at `paths` (files, directories, `-`) in bounded memory.
///
/// # Errors
/// The first problem reading the input, as [`loader::load`] reports it.
pub fn check_stream(
    host: &Host,
    modules: &[RuleModule],
    settings: &BTreeMap<String, Value>,
    paths: &[PathBuf],
    options: &Options,
    defaults: &DefaultSeverities,
    hooks: Hooks<'_>,
) -> Result<Streamed, LoadError> {
    let mut out = Streamed::default();
    let mut stream = Stream::new(paths, options.limits, options.batch_bytes);
    let spool_error = |error| LoadError::Io {
        file: Arc::new(Source::File(std::env::temp_dir())),
        error,
    };
    let mut json = BufWriter::with_capacity(1 << 20, spool().map_err(spool_error)?);
    let mut written = 0_u64;
    // (object, its context JSON) for every object some module reads as context.
    let mut context: Vec<(usize, String)> = Vec::new();
    loop {
        let t = Instant::now();
        let Some(batch) = stream.next_batch()? else {
            out.read += t.elapsed();
            break;
        };
        out.read += t.elapsed();
        let t = Instant::now();
        let prepared = prepare(&batch.loaded.documents, modules);
        for ((doc, span), (target, ctx, helm)) in batch
            .loaded
            .documents
            .iter()
            .zip(&batch.spans)
            .zip(prepared)
        {
            json.write_all(target.json.as_bytes())
                .map_err(spool_error)?;
            let i = out.objects.len();
            if let Some(ctx) = ctx {
                context.push((i, ctx));
            }
            let meta = doc.value.get("metadata");
            out.objects.push(Object {
                source: Arc::clone(&doc.source),
                index: doc.index,
                line: doc.line,
                item: doc.item,
                helm_source: helm,
                in_shard: options.shard.is_none_or(|s| {
                    s.contains(&target.kind, target.namespace.as_deref(), &target.name)
                }),
                object: target.object_ref(),
                written_namespace: meta.and_then(|m| m.get("namespace")).cloned(),
                written_name: meta.and_then(|m| m.get("name")).cloned(),
                text: *span,
                first_line: doc.text.first_line(),
                json: (written, target.json.len()),
            });
            written += target.json.len() as u64;
        }
        out.skipped.extend(batch.loaded.skipped);
        out.prepare += t.elapsed();
    }
    let mut texts = stream.texts();

    // Each module's context, built once from the kept objects.
    let t = Instant::now();
    let contexts: Vec<Option<Arc<Vec<u8>>>> = modules
        .iter()
        .map(|m| {
            let meta = m.metadata();
            context_bytes(
                meta,
                context.iter().filter_map(|(i, ctx)| {
                    let o = &out.objects.get(*i)?.object;
                    meta.wants_context(&o.api_version, &o.kind)
                        .then_some(ctx.as_str())
                }),
                &options.namespace,
            )
            .map(Arc::new)
        })
        .collect();
    drop(context);
    out.prepare += t.elapsed();

    (hooks.started)((out.objects.len() * modules.len()) as u64);
    let mut spooled = json.into_inner().map_err(|e| spool_error(e.into_error()))?;
    spooled.seek(SeekFrom::Start(0)).map_err(spool_error)?;
    let mut spooled = BufReader::with_capacity(1 << 20, spooled);

    let states: Vec<Mutex<State<'_>>> = modules
        .iter()
        .zip(contexts)
        .map(|(m, context)| {
            Mutex::new(State {
                session: Session::new(host, m),
                context,
                failed: None,
                settings: settings_json(m.metadata(), settings),
                time: Duration::ZERO,
            })
        })
        .collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(modules.len().max(1));
    let batch_objects = options.batch_objects.max(1);
    let mut start = 0;
    while start < out.objects.len() {
        let end = (start + batch_objects).min(out.objects.len());
        let batch = out.objects.get(start..end).unwrap_or_default();
        let t = Instant::now();
        let targets = read_targets(&mut spooled, batch).map_err(spool_error)?;
        let reports = evaluate(
            &states,
            modules,
            &targets,
            batch,
            start,
            options.mode,
            threads,
            hooks.progress,
        );
        out.evaluate += t.elapsed();

        let t = Instant::now();
        let docs = documents(batch, &targets, &reports, &mut texts)?;
        let mut found = findings::collect(&docs, &reports, defaults);
        (hooks.exempt)(&mut found, &docs);
        for f in &mut found.findings {
            f.document += start;
        }
        for e in &mut found.errors {
            e.document += start;
        }
        for (doc, _) in &mut found.evaluated {
            *doc += start;
        }
        out.findings.findings.append(&mut found.findings);
        out.findings.errors.append(&mut found.errors);
        out.findings.evaluated.append(&mut found.evaluated);
        out.locate += t.elapsed();
        start = end;
    }
    out.modules = modules
        .iter()
        .zip(states)
        .map(|(m, s)| {
            let time = s.into_inner().map_or(Duration::ZERO, |s| s.time);
            (m.id().to_string(), time)
        })
        .collect();
    Ok(out)
}

/// Serializes a batch's objects (on every core): the target, its context JSON when a module
/// reads its kind, its `helm template` source.
fn prepare(
    docs: &[Document],
    modules: &[RuleModule],
) -> Vec<(Target, Option<String>, Option<String>)> {
    let one = |doc: &Document| {
        let t = Target::new(doc);
        let api_version = t.api_version();
        let ctx = modules
            .iter()
            .any(|m| m.metadata().wants_context(&api_version, &t.kind))
            .then(|| t.context_json.clone().unwrap_or_else(|| t.json.clone()));
        let helm = doc.text.helm_source().map(str::to_string);
        (t, ctx, helm)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 || docs.len() < 64 {
        return docs.iter().map(one).collect();
    }
    let chunk = docs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = docs
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// A batch's targets, their JSON read back from the spool.
fn read_targets(spooled: &mut impl Read, batch: &[Object]) -> std::io::Result<Vec<Target>> {
    batch
        .iter()
        .map(|o| {
            let mut bytes = vec![0; o.json.1];
            spooled.read_exact(&mut bytes)?;
            let json = String::from_utf8(bytes)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            let (group, version) = split_api_version(&o.object.api_version);
            Ok(Target {
                group,
                version,
                kind: o.object.kind.clone(),
                namespace: o.object.namespace.clone(),
                name: o.object.name.clone(),
                json,
                context_json: None,
            })
        })
        .collect()
}

/// One module's verdicts on a batch: (index in the batch, verdict) of the objects it handles.
type ModuleVerdicts = (usize, Vec<(usize, Verdict)>);

/// One module's warm instance, its context (until loaded), and what it cost.
struct State<'m> {
    session: Session<'m>,
    context: Option<Arc<Vec<u8>>>,
    /// The verdict of every evaluation when the context could not be loaded.
    failed: Option<Verdict>,
    settings: String,
    time: Duration,
}

/// Every module over one batch, the modules shared out among `threads` threads; reports
/// index the batch, uids the set.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    states: &[Mutex<State<'_>>],
    modules: &[RuleModule],
    targets: &[Target],
    batch: &[Object],
    start: usize,
    mode: Mode,
    threads: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<ObjectReport> {
    let next = AtomicUsize::new(0);
    let run = || {
        let mut done: Vec<ModuleVerdicts> = Vec::new();
        loop {
            let m = next.fetch_add(1, Ordering::Relaxed);
            let (Some(state), Some(module)) = (states.get(m), modules.get(m)) else {
                break;
            };
            let Ok(mut state) = state.lock() else {
                break;
            };
            let t = Instant::now();
            let state = &mut *state;
            if let Some(ctx) = state.context.take()
                && let Err(verdict) = state.session.set_context(ctx)
            {
                state.failed = Some(verdict);
            }
            let meta = module.metadata();
            let verdicts: Vec<(usize, Verdict)> = targets
                .iter()
                .zip(batch)
                .enumerate()
                .filter(|(_, (t, o))| o.in_shard && meta.handles(&t.group, &t.version, &t.kind))
                .map(|(i, (t, _))| {
                    let verdict = match &state.failed {
                        Some(v) => v.clone(),
                        None => {
                            state
                                .session
                                .evaluate(&envelope(t, start + i, &state.settings, mode))
                        }
                    };
                    (i, verdict)
                })
                .collect();
            state.time += t.elapsed();
            progress(targets.len() as u64);
            done.push((m, verdicts));
        }
        done
    };
    let mut per_module: Vec<Vec<(usize, Verdict)>> = vec![Vec::new(); modules.len()];
    let parts: Vec<Vec<ModuleVerdicts>> = if threads < 2 {
        vec![run()]
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads).map(|_| scope.spawn(run)).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    for (m, verdicts) in parts.into_iter().flatten() {
        if let Some(slot) = per_module.get_mut(m) {
            *slot = verdicts;
        }
    }
    assemble_reports(
        batch.iter().map(|o| o.object.clone()),
        modules.iter().map(RuleModule::id),
        per_module,
    )
}

/// The batch's documents as [`findings::collect`] reads them: value and text for those with
/// something to report (read again), placeholders for the rest.
fn documents(
    batch: &[Object],
    targets: &[Target],
    reports: &[ObjectReport],
    texts: &mut Texts,
) -> Result<Vec<Document>, LoadError> {
    batch
        .iter()
        .zip(targets)
        .zip(reports)
        .map(|((o, t), r)| {
            let reports_something = r.verdicts.iter().any(|(_, v)| {
                v.error.is_some() || !v.violations.is_empty() || !v.exempted.is_empty()
            });
            let (value, text) = if reports_something {
                let text = texts
                    .read(&o.source, o.text)
                    .map_err(|error| LoadError::Io {
                        file: Arc::clone(&o.source),
                        error,
                    })?;
                (serde_json::from_str(&t.json).unwrap_or(Value::Null), text)
            } else {
                (Value::Null, String::new())
            };
            Ok(Document {
                source: Arc::clone(&o.source),
                index: o.index,
                line: o.line,
                item: o.item,
                value,
                text: DocText::whole(&text, o.first_line),
            })
        })
        .collect()
}

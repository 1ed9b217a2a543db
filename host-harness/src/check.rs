//! `prodready check` as a library: every object of a manifest set through every module whose
//! resources match, each module on one warm instance with the set's context loaded once.
//! Cost is linear in the size of the set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prodready_sdk::verdict::Verdict;
use serde_json::Value;

use crate::engine::Host;
use crate::loader::Document;
use crate::module::{RuleModule, Session};

// The envelope, context and report types every host shares (prodready-core).
pub use prodready_core::check::{
    DEFAULT_NAMESPACE, Mode, ObjectReport, Target, assemble_reports, context_bytes, context_json,
    envelope, settings_by_rule, settings_json, split_api_version,
};

pub mod stream;

/// The verdicts and what each phase cost.
#[derive(Debug, Clone)]
pub struct Checked {
    pub reports: Vec<ObjectReport>,
    /// Serializing the objects once for every module.
    pub prepare: Duration,
    /// Wall time per module: instantiation, context load and every evaluation.
    pub modules: Vec<(String, Duration)>,
    /// Wall time of all modules together (they run in parallel).
    pub evaluate: Duration,
}

/// Runs `modules` over `docs`. `settings` maps rule id → settings (absent: defaults).
pub fn check(
    host: &Host,
    modules: &[RuleModule],
    settings: &BTreeMap<String, Value>,
    docs: &[Document],
    mode: Mode,
) -> Vec<ObjectReport> {
    check_timed(host, modules, settings, docs, mode, DEFAULT_NAMESPACE).reports
}

/// [`check`], with timings, objects without a namespace in `namespace`.
pub fn check_timed(
    host: &Host,
    modules: &[RuleModule],
    settings: &BTreeMap<String, Value>,
    docs: &[Document],
    mode: Mode,
    namespace: &str,
) -> Checked {
    check_with_progress(host, modules, settings, docs, mode, namespace, &|_| {})
}

/// Evaluations between two calls of the progress callback.
const PROGRESS_EVERY: usize = 256;

/// [`check_timed`], calling `progress(n)` as evaluations complete (`n` at a time; the total
/// is at most objects × modules, as modules skip kinds they do not handle).
pub fn check_with_progress(
    host: &Host,
    modules: &[RuleModule],
    settings: &BTreeMap<String, Value>,
    docs: &[Document],
    mode: Mode,
    namespace: &str,
    progress: &(dyn Fn(u64) + Sync),
) -> Checked {
    check_shard(
        host, modules, settings, docs, mode, namespace, None, progress,
    )
}

/// A deterministic share of a manifest set's objects: `index` of `count` (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Whether the object with this kind, namespace (as written; none for none) and name is
    /// in the shard: FNV-1a of `kind/namespace/name`, modulo the count. The same objects land
    /// in the same shard on every machine and every run.
    #[must_use]
    pub fn contains(&self, kind: &str, namespace: Option<&str>, name: &str) -> bool {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in kind
            .bytes()
            .chain([b'/'])
            .chain(namespace.unwrap_or_default().bytes())
            .chain([b'/'])
            .chain(name.bytes())
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h % u64::from(self.count.max(1)) == u64::from(self.index.saturating_sub(1))
    }
}

/// [`check_with_progress`], evaluating only the objects of `shard` (every object of `docs`
/// is still the context of the cross-object checks). Reports come back for every document;
/// those outside the shard have no verdicts.
#[allow(clippy::too_many_arguments)]
pub fn check_shard(
    host: &Host,
    modules: &[RuleModule],
    settings: &BTreeMap<String, Value>,
    docs: &[Document],
    mode: Mode,
    namespace: &str,
    shard: Option<Shard>,
    progress: &(dyn Fn(u64) + Sync),
) -> Checked {
    let started = Instant::now();
    let targets: Vec<Target> = docs.iter().map(Target::new).collect();
    let selected: Vec<bool> = targets
        .iter()
        .map(|t| shard.is_none_or(|s| s.contains(&t.kind, t.namespace.as_deref(), &t.name)))
        .collect();
    let prepare = started.elapsed();
    let started = Instant::now();
    let mut times = vec![Duration::ZERO; modules.len()];
    let per_module: Vec<Vec<(usize, Verdict)>> = {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(modules.len().max(1));
        let mut results: Vec<Vec<(usize, Verdict)>> = vec![Vec::new(); modules.len()];
        let chunk = modules.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for ((out, mods), time) in results
                .chunks_mut(chunk)
                .zip(modules.chunks(chunk))
                .zip(times.chunks_mut(chunk))
            {
                let targets = &targets;
                let selected = &selected;
                scope.spawn(move || {
                    for ((slot, module), time) in out.iter_mut().zip(mods).zip(time.iter_mut()) {
                        let t = Instant::now();
                        let objects = Objects {
                            targets,
                            selected,
                            namespace,
                        };
                        *slot = run_module(host, module, settings, &objects, mode, progress);
                        *time = t.elapsed();
                    }
                });
            }
        });
        results
    };
    let evaluate = started.elapsed();
    let reports = assemble_reports(
        targets.iter().map(Target::object_ref),
        modules.iter().map(RuleModule::id),
        per_module,
    );
    Checked {
        reports,
        prepare,
        modules: modules
            .iter()
            .map(|m| m.id().to_string())
            .zip(times)
            .collect(),
        evaluate,
    }
}

/// The set a module runs over: every target (the context), which of them it evaluates
/// (`--shard`), and the namespace objects without one are in.
struct Objects<'a> {
    targets: &'a [Target],
    selected: &'a [bool],
    namespace: &'a str,
}

fn run_module(
    host: &Host,
    module: &RuleModule,
    settings: &BTreeMap<String, Value>,
    objects: &Objects<'_>,
    mode: Mode,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<(usize, Verdict)> {
    let Objects {
        targets,
        selected,
        namespace,
    } = *objects;
    let meta = module.metadata();
    let settings_json = settings_json(meta, settings);
    let mut session = Session::new(host, module);
    let handled = || {
        targets.iter().enumerate().filter(|(i, t)| {
            selected.get(*i).copied().unwrap_or(false)
                && meta.handles(&t.group, &t.version, &t.kind)
        })
    };
    if let Some(Err(verdict)) =
        context_json(meta, targets, namespace).map(|ctx| session.set_context(Arc::new(ctx)))
    {
        return handled().map(|(i, _)| (i, verdict.clone())).collect();
    }
    let mut done = 0;
    let verdicts = handled()
        .map(|(i, t)| {
            done += 1;
            if done % PROGRESS_EVERY == 0 {
                progress(PROGRESS_EVERY as u64);
            }
            (i, session.evaluate(&envelope(t, i, &settings_json, mode)))
        })
        .collect();
    progress((targets.len() - done / PROGRESS_EVERY * PROGRESS_EVERY) as u64);
    verdicts
}

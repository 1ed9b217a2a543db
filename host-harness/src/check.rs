//! `prodready check` as a library: every object of a manifest set through every module whose
//! resources match, each module on one warm instance with the set's context loaded once.
//! Cost is linear in the size of the set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prodready_sdk::verdict::{ObjectRef, Verdict};
use serde_json::Value;

use crate::engine::Host;
use crate::loader::Document;
use crate::module::{ModuleMetadata, RuleModule, Session};

pub mod stream;

/// One object of the set, serialized once for every module.
#[derive(Debug, Clone)]
pub struct Target {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub json: String,
    /// The object without `status` and `metadata.managedFields`, as it enters other modules'
    /// context; `None` when it has neither (then `json` is used).
    pub context_json: Option<String>,
}

/// Where the objects come from: decides the envelope's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A rendered manifest set (CLI, CI).
    Manifest,
    /// One API request, as at admission.
    Admission,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Manifest => "manifest",
            Mode::Admission => "admission",
        }
    }
}

/// The verdicts for one object.
#[derive(Debug, Clone)]
pub struct ObjectReport {
    /// Index into the documents passed in.
    pub document: usize,
    pub object: ObjectRef,
    /// (rule id, verdict) for every module that evaluated the object, in module order.
    pub verdicts: Vec<(String, Verdict)>,
}

impl Target {
    pub fn new(doc: &Document) -> Target {
        target(doc)
    }

    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// What the modules are told the object is.
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            api_version: self.api_version(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// `group/version` as (group, version); a core apiVersion (`v1`) has an empty group.
pub(crate) fn split_api_version(api_version: &str) -> (String, String) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), api_version.to_string()),
    }
}

/// One report per object, in order, holding each module's verdicts (`per_module[m]` is
/// module `m`'s (object index, verdict) list) in module order.
pub(crate) fn assemble_reports(
    objects: impl Iterator<Item = ObjectRef>,
    modules: &[RuleModule],
    per_module: Vec<Vec<(usize, Verdict)>>,
) -> Vec<ObjectReport> {
    let mut reports: Vec<ObjectReport> = objects
        .enumerate()
        .map(|(i, object)| ObjectReport {
            document: i,
            object,
            verdicts: Vec::new(),
        })
        .collect();
    for (module, verdicts) in modules.iter().zip(per_module) {
        for (i, verdict) in verdicts {
            if let Some(r) = reports.get_mut(i) {
                r.verdicts.push((module.id().to_string(), verdict));
            }
        }
    }
    reports
}

fn target(doc: &Document) -> Target {
    let str_at = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let api_version = str_at(&doc.value, "apiVersion").unwrap_or_default();
    let (group, version) = split_api_version(&api_version);
    // Borrowed: metadata can be large (managedFields) and only three strings are read.
    let meta = doc.value.get("metadata").unwrap_or(&Value::Null);
    let name = str_at(meta, "name")
        .or_else(|| str_at(meta, "generateName").map(|g| format!("{g}*")))
        .unwrap_or_default();
    let trim = doc.value.get("status").is_some() || meta.get("managedFields").is_some();
    Target {
        group,
        version,
        kind: str_at(&doc.value, "kind").unwrap_or_default(),
        namespace: str_at(meta, "namespace"),
        name,
        json: serde_json::to_string(&doc.value).unwrap_or_else(|_| "null".into()),
        context_json: trim
            .then(|| serde_json::to_string(&Trimmed(&doc.value)).unwrap_or_else(|_| "null".into())),
    }
}

/// An object as context: without `status` (what the cluster reports, not what the manifest
/// says) and `metadata.managedFields` (server-side apply bookkeeping, often most of the
/// object's bytes). Serialized without copying the object.
struct Trimmed<'a>(&'a Value);

impl serde::Serialize for Trimmed<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(map) = self.0 else {
            return self.0.serialize(s);
        };
        let mut out = s.serialize_map(None)?;
        for (k, v) in map {
            match (k.as_str(), v) {
                ("status", _) => {}
                ("metadata", Value::Object(meta)) => {
                    out.serialize_entry(k, &WithoutKey(meta, "managedFields"))?;
                }
                _ => out.serialize_entry(k, v)?,
            }
        }
        out.end()
    }
}

struct WithoutKey<'a>(&'a serde_json::Map<String, Value>, &'static str);

impl serde::Serialize for WithoutKey<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut out = s.serialize_map(None)?;
        for (k, v) in self.0 {
            if k != self.1 {
                out.serialize_entry(k, v)?;
            }
        }
        out.end()
    }
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The ABI envelope for one object of a manifest set.
pub fn envelope(t: &Target, uid: usize, settings: &str, mode: Mode) -> Vec<u8> {
    let mut out = String::with_capacity(t.json.len() + settings.len() + 200);
    out.push_str("{\"request\":{\"uid\":\"");
    out.push_str(&uid.to_string());
    out.push_str("\",\"kind\":{\"group\":");
    out.push_str(&json_str(&t.group));
    out.push_str(",\"version\":");
    out.push_str(&json_str(&t.version));
    out.push_str(",\"kind\":");
    out.push_str(&json_str(&t.kind));
    out.push_str("},\"operation\":\"CREATE\"");
    if let Some(ns) = &t.namespace {
        out.push_str(",\"namespace\":");
        out.push_str(&json_str(ns));
    }
    out.push_str(",\"name\":");
    out.push_str(&json_str(&t.name));
    out.push_str(",\"object\":");
    out.push_str(&t.json);
    out.push_str("},\"settings\":");
    out.push_str(settings);
    out.push_str(",\"mode\":\"");
    out.push_str(mode.as_str());
    out.push_str("\"}");
    out.into_bytes()
}

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

/// The namespace a manifest set is applied to when its objects name none.
pub const DEFAULT_NAMESPACE: &str = prodready_sdk::scope::DEFAULT_NAMESPACE;

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
    let targets: Vec<Target> = docs.iter().map(target).collect();
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
    let reports = assemble_reports(targets.iter().map(Target::object_ref), modules, per_module);
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

/// The context a module asks for (`contextResources`), as `{"objects": [...], "namespace":
/// ...}`, objects trimmed of `status` and `managedFields`; `None` when the module reads no
/// context. Objects without a namespace are in `namespace` (the set's, `default` unless
/// `--namespace` says otherwise).
pub fn context_json(meta: &ModuleMetadata, targets: &[Target], namespace: &str) -> Option<Vec<u8>> {
    context_bytes(
        meta,
        targets
            .iter()
            .filter(|t| meta.wants_context(&t.api_version(), &t.kind))
            .map(|t| t.context_json.as_deref().unwrap_or(&t.json)),
        namespace,
    )
}

/// [`context_json`] from the objects' context JSON, already chosen for the module.
fn context_bytes<'a>(
    meta: &ModuleMetadata,
    objects: impl Iterator<Item = &'a str>,
    namespace: &str,
) -> Option<Vec<u8>> {
    if meta.context_resources.is_empty() {
        return None;
    }
    let mut ctx = String::from("{\"namespace\":");
    ctx.push_str(&json_str(namespace));
    ctx.push_str(",\"objects\":[");
    let mut first = true;
    for json in objects {
        if !first {
            ctx.push(',');
        }
        first = false;
        ctx.push_str(json);
    }
    ctx.push_str("]}");
    Some(ctx.into_bytes())
}

/// The settings JSON a module gets: the user's, or `{}`.
pub fn settings_json(meta: &ModuleMetadata, settings: &BTreeMap<String, Value>) -> String {
    settings
        .get(&meta.id)
        .map(|v| v.to_string())
        .unwrap_or_else(|| "{}".into())
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

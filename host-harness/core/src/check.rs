//! What every host sends a rule: the ABI envelope of one object of a manifest set, the
//! context a rule asks for, its settings; and the verdicts gathered per object. Shared by the
//! wasmtime host (`prodready check`, the provider) and hosts that link the rules natively
//! (the playground).

use std::collections::BTreeMap;

use prodready_sdk::verdict::{ErrorCode, ObjectRef, Verdict};
use serde_json::Value;

use crate::loader::Document;
use crate::metadata::ModuleMetadata;

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
pub fn split_api_version(api_version: &str) -> (String, String) {
    match api_version.rsplit_once('/') {
        Some((g, v)) => (g.to_string(), v.to_string()),
        None => (String::new(), api_version.to_string()),
    }
}

/// One report per object, in order, holding each rule's verdicts (`per_module[m]` is rule
/// `rules[m]`'s (object index, verdict) list) in rule order.
pub fn assemble_reports<'r>(
    objects: impl Iterator<Item = ObjectRef>,
    rules: impl Iterator<Item = &'r str>,
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
    for (rule, verdicts) in rules.zip(per_module) {
        for (i, verdict) in verdicts {
            if let Some(r) = reports.get_mut(i) {
                r.verdicts.push((rule.to_string(), verdict));
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

/// The namespace a manifest set is applied to when its objects name none.
pub const DEFAULT_NAMESPACE: &str = prodready_sdk::scope::DEFAULT_NAMESPACE;

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
pub fn context_bytes<'a>(
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

/// Per-rule settings as a user writes them (`--settings`, the playground): a mapping of rule
/// id to that rule's settings (null: none), every id one of `rules`. Each rule validates its
/// own settings afterwards.
///
/// # Errors
/// What is wrong, for the caller to prefix with where the settings came from.
pub fn settings_by_rule<'r>(
    value: Value,
    rules: impl Iterator<Item = &'r str> + Clone,
) -> Result<BTreeMap<String, Value>, String> {
    let map = match value {
        Value::Object(map) => map,
        Value::Null => serde_json::Map::new(),
        _ => return Err("settings must map rule ids to settings".into()),
    };
    let mut out = BTreeMap::new();
    for (id, settings) in map {
        if !rules.clone().any(|r| r == id) {
            let known: Vec<&str> = rules.collect();
            return Err(format!(
                "settings for unknown rule `{id}` (rules: {})",
                known.join(", ")
            ));
        }
        out.insert(id, settings);
    }
    Ok(out)
}

/// The settings JSON a module gets: the user's, or `{}`.
pub fn settings_json(meta: &ModuleMetadata, settings: &BTreeMap<String, Value>) -> String {
    settings
        .get(&meta.id)
        .map(|v| v.to_string())
        .unwrap_or_else(|| "{}".into())
}

/// The fields every verdict must carry (docs/abi.md §4.2): a module that leaves one out is
/// broken, and a broken module must not allow by omission.
#[derive(serde::Deserialize)]
struct VerdictShape {
    #[allow(dead_code)]
    allowed: bool,
    #[allow(dead_code)]
    violations: Vec<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    error: serde_json::Value,
}

/// Parses a rule's evaluate answer; anything but a well-formed verdict is an error verdict,
/// and an error never allows, whatever the rule said.
#[must_use]
pub fn verdict_from_json(bytes: &[u8]) -> Verdict {
    if let Err(e) = serde_json::from_slice::<VerdictShape>(bytes) {
        return Verdict::error(
            ErrorCode::BadOutput,
            format!("the module's answer is not a verdict: {e}"),
        );
    }
    match serde_json::from_slice::<Verdict>(bytes) {
        Ok(mut v) => {
            if v.error.is_some() {
                v.allowed = false;
            }
            v
        }
        Err(e) => Verdict::error(
            ErrorCode::BadOutput,
            format!("the module's answer is not a verdict: {e}"),
        ),
    }
}

//! Other objects of the same manifest set, for cross-object checks (a Service selecting a
//! workload, a PodDisruptionBudget covering it). Loaded once per batch and read by every object.

use std::any::Any;
use std::cell::OnceCell;
use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::object::{Header, Meta, split_api_version};

/// One context object: its header, its JSON, and a typed form parsed on first use.
pub struct ContextObject {
    pub api_version: String,
    pub kind: String,
    pub meta: Meta,
    raw: Box<RawValue>,
    typed: OnceCell<Option<Box<dyn Any>>>,
}

impl std::fmt::Debug for ContextObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextObject")
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("name", &self.meta.name)
            .finish()
    }
}

impl ContextObject {
    pub fn group(&self) -> &str {
        split_api_version(&self.api_version).0
    }

    /// The object as `T`, parsed once and kept. `None` if it does not parse as `T` (such an
    /// object is reported when it is evaluated itself, not here), or if an earlier caller
    /// asked for another type.
    pub fn get<T: DeserializeOwned + 'static>(&self) -> Option<&T> {
        self.typed
            .get_or_init(|| {
                serde_json::from_str::<T>(self.raw.get())
                    .ok()
                    .map(|t| Box::new(t) as Box<dyn Any>)
            })
            .as_ref()
            .and_then(|b| b.downcast_ref::<T>())
    }
}

/// The set of context objects.
#[derive(Debug, Default)]
pub struct Context {
    objects: Vec<ContextObject>,
}

#[derive(Deserialize)]
struct ContextIn {
    #[serde(default)]
    objects: Vec<Box<RawValue>>,
}

impl Context {
    /// Reads `{"objects": [...]}`.
    pub fn from_json(json: &str) -> Result<Context, String> {
        let input: ContextIn =
            serde_json::from_str(json).map_err(|e| format!("context is not valid: {e}"))?;
        Context::from_raw(input.objects)
    }

    pub(crate) fn from_raw(objects: Vec<Box<RawValue>>) -> Result<Context, String> {
        let mut out = Vec::with_capacity(objects.len());
        for (i, raw) in objects.into_iter().enumerate() {
            let header: Header = serde_json::from_str(raw.get())
                .map_err(|e| format!("context.objects[{i}] is not an object: {e}"))?;
            let (Some(api_version), Some(kind)) = (header.api_version, header.kind) else {
                return Err(format!("context.objects[{i}] has no apiVersion or kind"));
            };
            out.push(ContextObject {
                api_version,
                kind,
                meta: header.metadata,
                raw,
                typed: OnceCell::new(),
            });
        }
        Ok(Context { objects: out })
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Objects of a group and kind.
    pub fn of_kind<'s>(
        &'s self,
        group: &'s str,
        kind: &'s str,
    ) -> impl Iterator<Item = &'s ContextObject> + 's {
        self.objects
            .iter()
            .filter(move |o| o.kind == kind && o.group() == group)
    }

    /// Objects of a group and kind in a namespace. An object with no namespace (as in most
    /// rendered manifests, applied with `-n`) shares a namespace with every object.
    pub fn in_namespace<'s>(
        &'s self,
        group: &'s str,
        kind: &'s str,
        namespace: Option<&'s str>,
    ) -> impl Iterator<Item = &'s ContextObject> + 's {
        self.of_kind(group, kind)
            .filter(move |o| same_namespace(o.meta.namespace.as_deref(), namespace))
    }
}

/// Namespace equality where an unset namespace matches any.
pub fn same_namespace(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// A map selector (Service `spec.selector`): every pair present in `labels`. An empty
/// selector selects nothing, as a Service without a selector has no endpoints of its own.
pub fn map_selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// A `LabelSelector` (matchLabels and matchExpressions). An empty selector selects everything,
/// as in PodDisruptionBudget and NetworkPolicy.
pub fn label_selector_selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector
        .match_labels
        .as_ref()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let exprs_ok = selector
        .match_expressions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .all(|e| {
            let values = e.values.as_deref().unwrap_or_default();
            match e.operator.as_str() {
                "In" => labels.get(&e.key).is_some_and(|v| values.contains(v)),
                "NotIn" => labels.get(&e.key).is_none_or(|v| !values.contains(v)),
                "Exists" => labels.contains_key(&e.key),
                "DoesNotExist" => !labels.contains_key(&e.key),
                // An operator Kubernetes does not know selects nothing.
                _ => false,
            }
        });
    labels_ok && exprs_ok
}

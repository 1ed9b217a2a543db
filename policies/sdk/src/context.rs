//! Other objects of the same manifest set, for cross-object checks (a Service selecting a
//! workload, a PodDisruptionBudget covering it). Loaded once per batch and read by every object.

use std::any::Any;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::metadata::{Resource, RuleInfo};
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
    /// Selector indexes, built on first use per (group, kind).
    selector_index: RefCell<HashMap<(String, String), Rc<SelectorIndex>>>,
}

/// For one kind: which objects have each `key=value` pair in their (map) selector, keyed by
/// key then value so a lookup borrows the label instead of allocating it.
#[derive(Debug, Default)]
struct SelectorIndex {
    by_pair: HashMap<String, HashMap<String, Vec<usize>>>,
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
        Context::build(objects.into_iter().enumerate().map(|(i, raw)| {
            let header: Header = serde_json::from_str(raw.get())
                .map_err(|e| format!("context.objects[{i}] is not an object: {e}"))?;
            let (Some(api_version), Some(kind)) = (header.api_version, header.kind) else {
                return Err(format!("context.objects[{i}] has no apiVersion or kind"));
            };
            Ok((api_version, kind, header.metadata, raw))
        }))
    }

    /// A context from list answers: each item with the apiVersion and kind it was listed as
    /// (items of a Kubernetes list may leave their own out).
    pub fn from_listed(items: Vec<(String, String, Box<RawValue>)>) -> Result<Context, String> {
        Context::build(
            items
                .into_iter()
                .enumerate()
                .map(|(i, (api_version, kind, raw))| {
                    let header: Header = serde_json::from_str(raw.get())
                        .map_err(|e| format!("listed {kind} #{i} is not an object: {e}"))?;
                    Ok((
                        header.api_version.unwrap_or(api_version),
                        header.kind.unwrap_or(kind),
                        header.metadata,
                        raw,
                    ))
                }),
        )
    }

    fn build(
        objects: impl Iterator<Item = Result<(String, String, Meta, Box<RawValue>), String>>,
    ) -> Result<Context, String> {
        let objects = objects
            .map(|o| {
                o.map(|(api_version, kind, meta, raw)| ContextObject {
                    api_version,
                    kind,
                    meta,
                    raw,
                    typed: OnceCell::new(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Context {
            objects,
            selector_index: RefCell::default(),
        })
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

impl Context {
    /// Objects of a group and kind, in `namespace`, whose map selector (read from the typed
    /// object by `selector`, e.g. a Service's `spec.selector`) selects `labels`.
    ///
    /// An index from selector pairs to objects is built on the first call per kind, so each
    /// call costs in proportion to `labels`, not to the size of the manifest set. Use one
    /// `selector` function per kind.
    pub fn selecting<'s, T: DeserializeOwned + 'static>(
        &'s self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        labels: &BTreeMap<String, String>,
        selector: fn(&T) -> Option<&BTreeMap<String, String>>,
    ) -> Vec<&'s ContextObject> {
        let index = self.selector_index::<T>(group, kind, selector);
        let mut hits: Vec<usize> = labels
            .iter()
            .filter_map(|(k, v)| index.by_pair.get(k.as_str())?.get(v.as_str()))
            .flatten()
            .copied()
            .collect();
        hits.sort_unstable();
        hits.dedup();
        hits.into_iter()
            .filter_map(|i| self.objects.get(i))
            .filter(|o| same_namespace(o.meta.namespace.as_deref(), namespace))
            .filter(|o| {
                o.get::<T>()
                    .and_then(selector)
                    .is_some_and(|sel| map_selects(sel, labels))
            })
            .collect()
    }

    fn selector_index<T: DeserializeOwned + 'static>(
        &self,
        group: &str,
        kind: &str,
        selector: fn(&T) -> Option<&BTreeMap<String, String>>,
    ) -> Rc<SelectorIndex> {
        let key = (group.to_string(), kind.to_string());
        if let Some(index) = self.selector_index.borrow().get(&key) {
            return index.clone();
        }
        let mut index = SelectorIndex::default();
        for (i, o) in self.objects.iter().enumerate() {
            if o.kind != kind || o.group() != group {
                continue;
            }
            // Index each object under one pair of its selector: an object selects `labels`
            // only if every pair is in `labels`, so one is enough to find it.
            if let Some((k, v)) = o
                .get::<T>()
                .and_then(selector)
                .and_then(|s| s.iter().next())
            {
                index
                    .by_pair
                    .entry(k.clone())
                    .or_default()
                    .entry(v.clone())
                    .or_default()
                    .push(i);
            }
        }
        let index = Rc::new(index);
        self.selector_index.borrow_mut().insert(key, index.clone());
        index
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::Service;
    use serde_json::json;

    fn svc(name: &str, ns: Option<&str>, selector: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": ns}, "spec": {"selector": selector}})
    }

    fn names(v: Vec<&ContextObject>) -> Vec<String> {
        v.into_iter()
            .map(|o| o.meta.name.clone().unwrap())
            .collect()
    }

    #[test]
    fn selecting_uses_every_pair_and_the_namespace() {
        let ctx = Context::from_json(
            &json!({"objects": [
                svc("web", Some("shop"), json!({"app": "web"})),
                svc("web-canary", Some("shop"), json!({"app": "web", "track": "canary"})),
                svc("other-ns", Some("ops"), json!({"app": "web"})),
                svc("anywhere", None, json!({"tier": "front"})),
                svc("headless", Some("shop"), json!({})),
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
            ]})
            .to_string(),
        )
        .unwrap();
        fn sel(s: &Service) -> Option<&BTreeMap<String, String>> {
            s.spec.as_ref()?.selector.as_ref()
        }
        let labels: BTreeMap<String, String> = [("app", "web"), ("tier", "front")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let got = ctx.selecting::<Service>("", "Service", Some("shop"), &labels, sel);
        assert_eq!(names(got), vec!["web", "anywhere"]);
        let canary: BTreeMap<String, String> = [("app", "web"), ("track", "canary")]
            .map(|(k, v)| (k.into(), v.into()))
            .into();
        let got = ctx.selecting::<Service>("", "Service", Some("shop"), &canary, sel);
        assert_eq!(names(got), vec!["web", "web-canary"]);
        let none = BTreeMap::new();
        assert!(
            ctx.selecting::<Service>("", "Service", None, &none, sel)
                .is_empty()
        );
    }
}

/// What an admission request needs from outside its envelope before it is evaluated: the
/// rule's context resources, in the request's namespace (`None`: every namespace). The
/// Kubewarden flavour fetches them through host capabilities; the OPA flavour reads them from
/// Gatekeeper's inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    pub resources: &'static [Resource],
    pub namespace: Option<String>,
}

/// Only what [`needed`] reads of an envelope; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Peek {
    request: PeekRequest,
}

#[derive(Deserialize)]
struct PeekRequest {
    #[serde(default)]
    kind: Option<PeekKind>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    object: Option<PeekObject>,
}

#[derive(Deserialize)]
struct PeekKind {
    #[serde(default)]
    group: String,
    kind: String,
}

#[derive(Deserialize)]
struct PeekObject {
    #[serde(default)]
    metadata: Option<PeekMeta>,
}

#[derive(Deserialize)]
struct PeekMeta {
    #[serde(default)]
    namespace: Option<String>,
}

/// The context an envelope's request needs: `None` when the rule reads no context, does not
/// evaluate this kind or operation, or the envelope cannot be read (the evaluation reports
/// that). The namespace is `request.namespace`, else the object's own.
pub fn needed(info: &RuleInfo, envelope: &[u8]) -> Option<Needed> {
    if info.context.is_empty() {
        return None;
    }
    let request = serde_json::from_slice::<Peek>(envelope).ok()?.request;
    let operation = request.operation.as_deref().unwrap_or("CREATE");
    let kind = request.kind?;
    if !info.handles(&kind.group, &kind.kind) || !info.operations.contains(&operation) {
        return None;
    }
    let namespace = request
        .namespace
        .filter(|n| !n.is_empty())
        .or_else(|| request.object?.metadata?.namespace)
        .filter(|n| !n.is_empty());
    Some(Needed {
        resources: info.context,
        namespace,
    })
}

//! Other objects of the same manifest set (or, at admission, of the cluster), for cross-object
//! checks: the Service that selects a workload, the PodDisruptionBudget that covers it, the
//! Deployment an HPA scales. Loaded once per batch and read by every object.
//!
//! Lookups Kubernetes makes, made the same way and indexed:
//! - by name: [`Context::get`] (group, kind, namespace, name — any version), e.g. an HPA's
//!   `scaleTargetRef`, a StatefulSet's `serviceName`, a `configMapRef`;
//! - objects whose selector selects a pod template's labels: [`Context::selecting`]
//!   (Services, PDBs, NetworkPolicies of the namespace);
//! - pod templates (or other labelled objects) a selector selects:
//!   [`Context::workloads_selected_by`], [`Context::labelled_selected_by`].
//!
//! Namespaces are resolved as `kubectl apply` resolves them: an object without
//! `metadata.namespace` is in the namespace the set is applied to ([`Context::default_namespace`],
//! `default` unless the host says otherwise); cluster-scoped kinds have none and are seen from
//! every namespace.

mod index;
mod needed;
mod typed;

use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use k8s_openapi::api::core::v1 as core;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::lazy;
use crate::object::{Header, Meta, split_api_version};
use crate::scope;
use crate::selector::Selector;
use crate::workload::{self, ContainerRole, WorkloadKind};

pub use needed::{Needed, Wanted, needed};

use index::{LabelIndex, SelectorIndex};
use typed::TypedCache;

/// One context object: its header, its JSON, and typed forms parsed on first use.
pub struct ContextObject {
    pub api_version: String,
    pub kind: String,
    pub meta: Meta,
    /// Resolved: `metadata.namespace`, else the context's default namespace; `None` for a
    /// cluster-scoped kind.
    namespace: Option<String>,
    raw: Box<RawValue>,
    typed: TypedCache,
}

impl std::fmt::Debug for ContextObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContextObject")
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("namespace", &self.namespace)
            .field("name", &self.meta.name)
            .finish()
    }
}

impl ContextObject {
    pub fn group(&self) -> &str {
        split_api_version(&self.api_version).0
    }

    pub fn version(&self) -> &str {
        split_api_version(&self.api_version).1
    }

    /// Whether the object is of this group and kind (any version).
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.kind == kind && self.group() == group
    }

    pub fn name(&self) -> &str {
        self.meta.name.as_deref().unwrap_or_default()
    }

    /// The namespace the object is in (resolved); `None` when cluster-scoped.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// `Kind namespace/name` or `Kind name`, for messages.
    pub fn display(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name()),
            None => format!("{} {}", self.kind, self.name()),
        }
    }

    /// The object's JSON.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }

    /// The object as `T`, parsed once and kept; each type has its own entry. `None` when it
    /// does not parse as `T` (the object is reported when it is evaluated itself, not here).
    pub fn get<T: DeserializeOwned + 'static>(&self) -> Option<&T> {
        self.typed
            .get_or_insert::<Option<T>>(|| serde_json::from_str::<T>(self.raw.get()).ok())
            .as_ref()
    }

    /// The object read as a workload (its pod template's labels, replicas, containers'
    /// resources), for Pods and every controller kind; `None` for other kinds or when it
    /// does not parse.
    pub fn workload(&self) -> Option<&ContextWorkload> {
        self.typed
            .get_or_insert::<Option<ContextWorkload>>(|| ContextWorkload::read(self))
            .as_ref()
    }
}

/// A workload of the context, as cross-object checks read it.
#[derive(Debug, Clone)]
pub struct ContextWorkload {
    pub kind: WorkloadKind,
    pub pod_labels: BTreeMap<String, String>,
    pub pod_annotations: BTreeMap<String, String>,
    /// `spec.replicas` as written (kinds that have it).
    pub replicas: Option<i32>,
    /// The replica count it runs: `spec.replicas`, defaulting to 1; `None` for kinds without
    /// replicas (DaemonSets, Jobs, Pods).
    pub effective_replicas: Option<i32>,
    /// The controller's pod selector; `None` for Pods and CronJobs.
    pub selector: Option<Selector>,
    pub priority_class_name: Option<String>,
    /// Init containers (sidecars among them) and app containers.
    pub containers: Vec<ContextContainer>,
}

/// A container of a context workload.
#[derive(Debug, Clone)]
pub struct ContextContainer {
    pub name: String,
    pub role: ContainerRole,
    pub resources: Option<core::ResourceRequirements>,
}

impl ContextWorkload {
    fn read(o: &ContextObject) -> Option<ContextWorkload> {
        let kind = WorkloadKind::from_group_kind(o.group(), &o.kind)?;
        lazy::quietly(|| {
            let parsed = workload::parse(kind, &o.raw).ok()?;
            let w = parsed.workload;
            Some(ContextWorkload {
                kind,
                replicas: w.controller.replicas(),
                effective_replicas: w.controller.effective_replicas(),
                selector: w.selector(),
                priority_class_name: w.spec.priority_class_name.as_deref().map(str::to_string),
                containers: w
                    .all_containers()
                    .map(|c| ContextContainer {
                        name: c.name().to_string(),
                        role: c.role,
                        resources: c.resources().cloned(),
                    })
                    .collect(),
                pod_labels: w.pod_labels,
                pod_annotations: w.pod_annotations,
            })
        })
    }
}

/// How a kind's objects say which labels they select (`spec.selector` of a Service, a PDB,
/// `spec.podSelector` of a NetworkPolicy). Each function has its own index.
pub type SelectorFn = fn(&ContextObject) -> Selector;

/// The set of context objects.
#[derive(Default)]
pub struct Context {
    objects: Vec<ContextObject>,
    /// Whether a context was given at all (an empty one included).
    present: bool,
    default_namespace: String,
    /// Positions by group, then kind.
    by_kind: HashMap<String, HashMap<String, Vec<usize>>>,
    /// Positions by `group/kind/namespace/name`, built on first use.
    by_name: OnceCell<HashMap<String, Vec<usize>>>,
    selector_indexes: RefCell<HashMap<(usize, String, String), Rc<SelectorIndex>>>,
    workload_index: OnceCell<LabelIndex>,
    label_indexes: RefCell<HashMap<(String, String), Rc<LabelIndex>>>,
    /// Candidates examined by indexed lookups: what the linearity tests count.
    examined: std::cell::Cell<u64>,
    /// Values derived from the whole context, one per type ([`Context::memo`]).
    memo: TypedCache,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("objects", &self.objects.len())
            .field("present", &self.present)
            .field("default_namespace", &self.default_namespace)
            .finish()
    }
}

#[derive(Deserialize)]
struct ContextIn {
    #[serde(default)]
    objects: Vec<Box<RawValue>>,
    #[serde(default)]
    namespace: Option<String>,
}

impl Context {
    /// Reads `{"objects": [...], "namespace"?: "..."}`.
    pub fn from_json(json: &str) -> Result<Context, String> {
        let input: ContextIn =
            serde_json::from_str(json).map_err(|e| format!("context is not valid: {e}"))?;
        Context::from_raw(input.objects, input.namespace)
    }

    /// A context of these objects; objects without a namespace are in `namespace` (default
    /// `default`).
    pub fn from_raw(
        objects: Vec<Box<RawValue>>,
        namespace: Option<String>,
    ) -> Result<Context, String> {
        Context::build(
            objects.into_iter().enumerate().map(|(i, raw)| {
                let header: Header = serde_json::from_str(raw.get())
                    .map_err(|e| format!("context.objects[{i}] is not an object: {e}"))?;
                let (Some(api_version), Some(kind)) = (header.api_version, header.kind) else {
                    return Err(format!("context.objects[{i}] has no apiVersion or kind"));
                };
                Ok((api_version, kind, header.metadata, raw))
            }),
            namespace,
        )
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
            None,
        )
    }

    /// No context at all: cross-object checks are skipped.
    pub fn absent() -> Context {
        Context::default()
    }

    fn build(
        objects: impl Iterator<Item = Result<(String, String, Meta, Box<RawValue>), String>>,
        namespace: Option<String>,
    ) -> Result<Context, String> {
        let default_namespace = namespace
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| scope::DEFAULT_NAMESPACE.to_string());
        let mut by_kind: HashMap<String, HashMap<String, Vec<usize>>> = HashMap::new();
        let mut list = Vec::new();
        for (i, o) in objects.enumerate() {
            let (api_version, kind, meta, raw) = o?;
            let group = split_api_version(&api_version).0;
            let namespace =
                scope::resolve(group, &kind, meta.namespace.as_deref(), &default_namespace)
                    .map(str::to_string);
            match by_kind.get_mut(group) {
                Some(kinds) => kinds.entry(kind.clone()).or_default().push(i),
                None => {
                    by_kind
                        .entry(group.to_string())
                        .or_default()
                        .entry(kind.clone())
                        .or_default()
                        .push(i);
                }
            }
            list.push(ContextObject {
                api_version,
                kind,
                meta,
                namespace,
                raw,
                typed: TypedCache::default(),
            });
        }
        Ok(Context {
            objects: list,
            present: true,
            default_namespace,
            by_kind,
            ..Context::default()
        })
    }

    /// How many candidates indexed lookups have examined so far (for tests of their cost).
    #[doc(hidden)]
    pub fn examined(&self) -> u64 {
        self.examined.get()
    }

    /// A value derived from the whole context (an index of Ingress backends, say), computed
    /// on first use and kept: one per type `T`, so give each its own type.
    pub fn memo<T: 'static>(&self, make: impl FnOnce(&Context) -> T) -> &T {
        self.memo.get_or_insert(|| make(self))
    }

    /// Whether a context was given (possibly empty). Without one, checks that need other
    /// objects are skipped rather than failed.
    pub fn is_present(&self) -> bool {
        self.present
    }

    /// The namespace objects without `metadata.namespace` are in.
    pub fn default_namespace(&self) -> &str {
        if self.default_namespace.is_empty() {
            scope::DEFAULT_NAMESPACE
        } else {
            &self.default_namespace
        }
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Every object, in order.
    pub fn objects(&self) -> &[ContextObject] {
        &self.objects
    }

    fn positions(&self, group: &str, kind: &str) -> &[usize] {
        self.by_kind
            .get(group)
            .and_then(|k| k.get(kind))
            .map_or(&[], Vec::as_slice)
    }

    fn at(&self, (positions, examined): (Vec<usize>, usize)) -> Vec<&ContextObject> {
        self.examined
            .set(self.examined.get().saturating_add(examined as u64));
        positions
            .into_iter()
            .filter_map(|i| self.objects.get(i))
            .collect()
    }

    /// Objects of a group and kind (any version).
    pub fn of_kind<'s>(
        &'s self,
        group: &str,
        kind: &str,
    ) -> impl Iterator<Item = &'s ContextObject> + 's {
        self.positions(group, kind)
            .iter()
            .filter_map(|i| self.objects.get(*i))
    }

    /// Objects of a group and kind that a lookup from `namespace` sees: those of the
    /// namespace, and cluster-scoped ones. `None`: every namespace.
    pub fn in_namespace<'s>(
        &'s self,
        group: &str,
        kind: &str,
        namespace: Option<&'s str>,
    ) -> impl Iterator<Item = &'s ContextObject> + 's {
        self.of_kind(group, kind)
            .filter(move |o| visible(o.namespace(), namespace))
    }

    /// The object of a group and kind (any version) with this name, seen from `namespace`
    /// (cluster-scoped objects are seen from every namespace; `None`: any namespace).
    pub fn get(
        &self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&ContextObject> {
        let index = self.by_name.get_or_init(|| {
            let mut m: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, o) in self.objects.iter().enumerate() {
                m.entry(name_key(o.group(), &o.kind, o.name()))
                    .or_default()
                    .push(i);
            }
            m
        });
        index
            .get(&name_key(group, kind, name))?
            .iter()
            .filter_map(|i| self.objects.get(*i))
            .find(|o| visible(o.namespace(), namespace))
    }

    /// Objects of a group and kind, seen from `namespace`, whose selector (read by `read`)
    /// selects `labels` — e.g. the Services, PDBs or NetworkPolicies covering a pod template.
    /// An index is built per `read` function on first use, so each call costs in proportion
    /// to its candidates.
    pub fn selecting(
        &self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        labels: &BTreeMap<String, String>,
        read: SelectorFn,
    ) -> Vec<&ContextObject> {
        let key = (read as usize, group.to_string(), kind.to_string());
        let index = self.selector_indexes.borrow().get(&key).cloned();
        let index = match index {
            Some(index) => index,
            None => {
                let built = Rc::new(SelectorIndex::build(
                    self.positions(group, kind).iter().filter_map(|i| {
                        let o = self.objects.get(*i)?;
                        Some((*i, o.namespace.clone(), read(o)))
                    }),
                ));
                self.selector_indexes
                    .borrow_mut()
                    .insert(key, built.clone());
                built
            }
        };
        self.at(index.selecting(namespace, labels))
    }

    /// Workloads of the context (Pods and every controller) whose pod template labels
    /// `selector` selects, seen from `namespace`.
    pub fn workloads_selected_by(
        &self,
        namespace: Option<&str>,
        selector: &Selector,
    ) -> Vec<&ContextObject> {
        let index = self.workload_index.get_or_init(|| {
            LabelIndex::build(self.objects.iter().enumerate().filter_map(|(i, o)| {
                let w = o.workload()?;
                Some((i, o.namespace.clone(), w.pod_labels.clone()))
            }))
        });
        self.at(index.selected_by(namespace, selector))
    }

    /// Objects of a group and kind whose own `metadata.labels` `selector` selects, seen from
    /// `namespace` (e.g. the Services a ServiceMonitor selects).
    pub fn labelled_selected_by(
        &self,
        group: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: &Selector,
    ) -> Vec<&ContextObject> {
        let key = (group.to_string(), kind.to_string());
        let index = self.label_indexes.borrow().get(&key).cloned();
        let index = match index {
            Some(index) => index,
            None => {
                let built = Rc::new(LabelIndex::build(
                    self.positions(group, kind).iter().filter_map(|i| {
                        let o = self.objects.get(*i)?;
                        Some((*i, o.namespace.clone(), o.meta.labels.clone()))
                    }),
                ));
                self.label_indexes.borrow_mut().insert(key, built.clone());
                built
            }
        };
        self.at(index.selected_by(namespace, selector))
    }
}

fn name_key(group: &str, kind: &str, name: &str) -> String {
    format!("{group}/{kind}/{name}")
}

/// Whether an object in `object_ns` is seen by a lookup from `from`: same namespace, or the
/// object is cluster-scoped, or the lookup is across every namespace.
fn visible(object_ns: Option<&str>, from: Option<&str>) -> bool {
    match (object_ns, from) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) => a == b,
    }
}

/// Selectors of the well-known kinds, for [`Context::selecting`].
pub mod selectors {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use serde::Deserialize;

    use super::ContextObject;
    use crate::k8s::Service;
    use crate::selector::Selector;

    #[derive(Deserialize)]
    struct WithSpec<S> {
        spec: Option<S>,
    }

    #[derive(Deserialize)]
    struct SelectorSpec {
        selector: Option<LabelSelector>,
    }

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PodSelectorSpec {
        pod_selector: Option<LabelSelector>,
    }

    /// A Service's `spec.selector` (a map: empty selects nothing).
    pub fn service(o: &ContextObject) -> Selector {
        Selector::from_map(
            o.get::<Service>()
                .and_then(|s| s.spec.as_ref()?.selector.as_ref()),
        )
    }

    /// A PodDisruptionBudget's `spec.selector` (policy/v1: `{}` selects every pod of the
    /// namespace, nil selects none).
    pub fn pdb(o: &ContextObject) -> Selector {
        label_selector_at_spec_selector(o)
    }

    /// A NetworkPolicy's `spec.podSelector` (`{}` selects every pod of the namespace).
    pub fn network_policy(o: &ContextObject) -> Selector {
        Selector::from_label_selector(
            o.get::<WithSpec<PodSelectorSpec>>()
                .and_then(|w| w.spec.as_ref()?.pod_selector.as_ref()),
        )
    }

    /// Any kind whose `spec.selector` is a `LabelSelector` (ServiceMonitor, PodMonitor, PDB).
    pub fn label_selector_at_spec_selector(o: &ContextObject) -> Selector {
        Selector::from_label_selector(
            o.get::<WithSpec<SelectorSpec>>()
                .and_then(|w| w.spec.as_ref()?.selector.as_ref()),
        )
    }
}

#[cfg(test)]
mod tests;

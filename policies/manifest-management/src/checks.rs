//! The checks, as pure functions over the object, its workload view and the context.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use prodready_sdk::k8s::Controller;
use prodready_sdk::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use prodready_sdk::lazy::{Lazy, record_failure};
use prodready_sdk::object::split_api_version;
use prodready_sdk::selector::Requirement;
use prodready_sdk::{
    ContainerRef, ContainerRole, Context, Cx, Findings, Mode, Object, Selector, Workload,
    WorkloadKind,
};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::patterns;
use crate::settings::Settings;
use crate::{
    DUPLICATE_ENV, MANAGED_BY, NO_DEFAULT_NAMESPACE, RECOMMENDED_LABELS, SELECTOR_MATCHES_TEMPLATE,
    SERVICE_SELECTS_WORKLOAD,
};

pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// Whether recommended-labels and managed-by read this kind: workloads, Services, Ingresses,
/// HorizontalPodAutoscalers, PodDisruptionBudgets (any version).
pub fn labelled_kind(object: &Object<'_>) -> bool {
    if object.workload().is_some() {
        return true;
    }
    matches!(
        (object.group(), object.reference.kind.as_str()),
        ("", "Service")
            | ("networking.k8s.io" | "extensions", "Ingress")
            | ("autoscaling", "HorizontalPodAutoscaler")
            | ("policy", "PodDisruptionBudget")
    )
}

// ---- recommended-labels ------------------------------------------------------------------

pub fn recommended_labels(
    object: &Object<'_>,
    w: Option<&Workload<'_>>,
    s: &Settings,
    out: &mut Findings,
) {
    if s.required_labels.is_empty() {
        return;
    }
    // Patterns are validated with the settings; one that fails here is skipped.
    let compiled: Vec<Option<patterns::Pattern>> = s
        .required_labels
        .iter()
        .map(|l| l.pattern().and_then(|p| patterns::compile(p).ok()))
        .collect();
    let mut check = |labels: &BTreeMap<String, String>, path: String, what: String| {
        let mut missing = Vec::new();
        let mut wrong = Vec::new();
        for (l, pattern) in s.required_labels.iter().zip(&compiled) {
            match labels
                .get(l.key())
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
            {
                None => missing.push(l.key()),
                Some(v) => {
                    if let (Some(p), Some(src)) = (pattern, l.pattern())
                        && !p.is_match(v)
                    {
                        wrong.push(format!("{}: \"{v}\" does not match {src}", l.key()));
                    }
                }
            }
        }
        if missing.is_empty() && wrong.is_empty() {
            return;
        }
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("lacks {}", missing.join(", ")));
        }
        if !wrong.is_empty() {
            problems.push(wrong.join("; "));
        }
        out.report(
            &RECOMMENDED_LABELS,
            path.clone(),
            format!(
                "{what} {} at {path}: add the labels requiredLabels names (e.g. app.kubernetes.io/name: <application>, app.kubernetes.io/instance: <release>), so tools and people can tell which application and installation it belongs to",
                problems.join("; ")
            ),
        );
    };
    check(
        &object.meta.labels,
        "metadata.labels".into(),
        object.display(),
    );
    if let Some(w) = w
        && w.kind != WorkloadKind::Pod
        && s.check_pod_templates
    {
        check(
            &w.pod_labels,
            w.pod_metadata_path("labels"),
            format!("the pod template of {}", object.display()),
        );
    }
}

// ---- managed-by --------------------------------------------------------------------------

/// Markers the tools themselves put on what they apply: Helm 3 annotates every object of a
/// release (and charts label them `helm.sh/chart`); Argo CD tracks by annotation; Flux labels
/// what its Kustomizations and HelmReleases apply.
const MANAGER_ANNOTATIONS: &[(&str, &str)] = &[
    ("meta.helm.sh/release-name", "Helm"),
    ("argocd.argoproj.io/tracking-id", "Argo CD"),
];
const MANAGER_LABELS: &[(&str, &str)] = &[
    ("helm.sh/chart", "Helm"),
    ("kustomize.toolkit.fluxcd.io/name", "Flux"),
    ("helm.toolkit.fluxcd.io/name", "Flux"),
];

pub fn managed_by(object: &Object<'_>, s: &Settings, out: &mut Findings) {
    let value = object
        .meta
        .labels
        .get(MANAGED_BY_LABEL)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty());
    let problem = match value {
        Some(_) if s.allowed_managers.is_empty() => return,
        Some(v) => {
            if s.allowed_managers
                .iter()
                .any(|m| m.trim().eq_ignore_ascii_case(v))
            {
                return;
            }
            format!(
                "sets {MANAGED_BY_LABEL}: \"{v}\", which is not one of allowedManagers ({})",
                s.allowed_managers.join(", ")
            )
        }
        None => {
            let marked = MANAGER_ANNOTATIONS
                .iter()
                .any(|(k, _)| object.meta.annotations.contains_key(*k))
                || MANAGER_LABELS
                    .iter()
                    .any(|(k, _)| object.meta.labels.contains_key(*k));
            if marked && s.allowed_managers.is_empty() {
                return;
            }
            format!("does not set {MANAGED_BY_LABEL}")
        }
    };
    out.report(
        &MANAGED_BY,
        format!("metadata.labels.{MANAGED_BY_LABEL}"),
        format!(
            "{} {problem}: say which tool applies it (Helm, Kustomize, argocd, flux), so there is one source of truth and nobody edits it by hand beside that tool",
            object.display()
        ),
    );
}

// ---- selector-matches-template -----------------------------------------------------------

pub fn selector_matches_template(object: &Object<'_>, w: &Workload<'_>, out: &mut Findings) {
    let kind = w.kind.as_str();
    let path = "spec.selector".to_string();
    let at = || "spec.selector".to_string();
    let label_selector = |l: &Lazy<'_, LabelSelector>| l.get_at(at).cloned();
    // The LabelSelector of the kinds that have one, and whether the API version defaulted a
    // missing one from the template's labels (extensions/v1beta1 and apps/v1beta1 did).
    let (group, version) = split_api_version(&object.reference.api_version);
    let defaults_selector = matches!(
        (group, version),
        ("extensions", "v1beta1") | ("apps", "v1beta1")
    );
    let selector = match &w.controller {
        Controller::Pod | Controller::CronJob(_) => return,
        Controller::Job(j) => {
            if j.manual_selector != Some(true) {
                return;
            }
            label_selector(&j.selector)
        }
        Controller::ReplicationController(_) => {
            // A map; empty or absent defaults to the template's labels.
            let Some(sel) = w.selector() else {
                return;
            };
            report_unmatched(object, w, &sel, path, out);
            return;
        }
        Controller::Deployment(d) => label_selector(&d.selector),
        Controller::StatefulSet(d) => label_selector(&d.selector),
        Controller::DaemonSet(d) => label_selector(&d.selector),
        Controller::ReplicaSet(d) => label_selector(&d.selector),
    };
    let Some(selector) = selector else {
        if defaults_selector {
            return;
        }
        let why = if w.kind == WorkloadKind::Job {
            "which a Job with manualSelector: true requires"
        } else {
            "which the API server requires"
        };
        out.report(
            &SELECTOR_MATCHES_TEMPLATE,
            path,
            format!(
                "{} has no spec.selector, {why}: set spec.selector.matchLabels to labels of {}",
                object.display(),
                w.pod_metadata_path("labels"),
            ),
        );
        return;
    };
    let empty = selector
        .match_labels
        .as_ref()
        .is_none_or(BTreeMap::is_empty)
        && selector
            .match_expressions
            .as_ref()
            .is_none_or(Vec::is_empty);
    if empty && w.kind != WorkloadKind::Job {
        out.report(
            &SELECTOR_MATCHES_TEMPLATE,
            path,
            format!(
                "{} has an empty spec.selector, which the API server refuses for a {kind} (it would select every pod of the namespace): select the template's labels with spec.selector.matchLabels",
                object.display()
            ),
        );
        return;
    }
    let sel = Selector::from_label_selector(Some(&selector));
    if sel.is_nothing() {
        out.report(
            &SELECTOR_MATCHES_TEMPLATE,
            path,
            format!(
                "{}'s spec.selector has an invalid matchExpressions entry (operators are In, NotIn, Exists and DoesNotExist; In and NotIn need values, Exists and DoesNotExist take none), so it selects nothing: fix the expression",
                object.display()
            ),
        );
        return;
    }
    report_unmatched(object, w, &sel, path, out);
}

fn report_unmatched(
    object: &Object<'_>,
    w: &Workload<'_>,
    sel: &Selector,
    path: String,
    out: &mut Findings,
) {
    if sel.matches(&w.pod_labels) {
        return;
    }
    let unmet: Vec<String> = sel
        .requirements()
        .iter()
        .filter(|r| !r.matches(&w.pod_labels))
        .map(requirement_text)
        .collect();
    out.report(
        &SELECTOR_MATCHES_TEMPLATE,
        path,
        format!(
            "{}'s spec.selector ({sel}) does not select its own pod template: {} not met by {}, so the API server refuses it (\"selector does not match template labels\"); add the selector's labels to the template's labels",
            object.display(),
            unmet.join(", "),
            w.pod_metadata_path("labels"),
        ),
    );
}

fn requirement_text(r: &Requirement) -> String {
    Selector::All(vec![r.clone()]).to_string()
}

// ---- no-default-namespace ----------------------------------------------------------------

/// Objects Kubernetes itself keeps in `default` (or creates in every namespace), kinds
/// components write there on their own, and kinds that govern a namespace: never flagged.
const SYSTEM_OBJECTS: &[(&str, &str, &str)] = &[
    ("", "Service", "kubernetes"),
    ("", "Endpoints", "kubernetes"),
    ("discovery.k8s.io", "EndpointSlice", "kubernetes"),
    ("", "ServiceAccount", "default"),
    ("", "ConfigMap", "kube-root-ca.crt"),
];
const SYSTEM_KINDS: &[(&str, &str)] = &[
    // Kinds that govern the namespace they are in rather than belong to an application:
    // a Role granting access to default, a NetworkPolicy or ResourceQuota protecting it,
    // must be in default.
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("", "ResourceQuota"),
    ("", "LimitRange"),
    ("", "Event"),
    ("events.k8s.io", "Event"),
    ("coordination.k8s.io", "Lease"),
    ("", "Binding"),
    ("authorization.k8s.io", "LocalSubjectAccessReview"),
];

pub fn no_default_namespace(object: &Object<'_>, mode: Mode, out: &mut Findings) {
    // Cluster-scoped kinds have no namespace (a metadata.namespace on them is ignored).
    if object.namespace().is_none() {
        return;
    }
    let (group, kind, name) = (
        object.group(),
        object.reference.kind.as_str(),
        object.reference.name.as_str(),
    );
    if SYSTEM_KINDS.iter().any(|(g, k)| *g == group && *k == kind)
        || SYSTEM_OBJECTS
            .iter()
            .any(|(g, k, n)| *g == group && *k == kind && *n == name)
    {
        return;
    }
    let (namespace, how) = match mode {
        // The request's namespace (the object's own, else the one it is created in).
        Mode::Admission => (object.namespace(), "is created in"),
        // A manifest without a namespace goes where it is applied: only an explicit
        // `default` is known to land there.
        Mode::Manifest => (object.meta.namespace.as_deref(), "sets metadata.namespace:"),
    };
    if namespace != Some("default") {
        return;
    }
    out.report(
        &NO_DEFAULT_NAMESPACE,
        "metadata.namespace".into(),
        format!(
            "{kind} {name} {how} default: give the application its own namespace, so its ResourceQuota, RBAC and NetworkPolicies are its own and a `kubectl delete` in default cannot take it"
        ),
    );
}

// ---- duplicate-env -----------------------------------------------------------------------

/// An `env` entry, as duplicate-env reads it: borrowed, and without building the value
/// sources (k8s-openapi's `EnvVar` would link every `valueFrom` type into the module).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvEntry<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    value: Option<Cow<'a, str>>,
    #[serde(default)]
    value_from: Option<IgnoredAny>,
}

/// A container's `env`, read from its JSON; a list that does not parse makes the verdict an
/// error (as the SDK's own lazy fields do).
fn env_entries<'a>(c: &ContainerRef<'_, 'a>) -> Vec<EnvEntry<'a>> {
    let Some(raw) = c.container.env.raw() else {
        return Vec::new();
    };
    match serde_json::from_str::<Vec<EnvEntry<'a>>>(raw.get()) {
        Ok(v) => v,
        Err(e) => {
            record_failure(format!("{} does not parse: {e}", c.field("env")));
            Vec::new()
        }
    }
}

pub fn duplicate_env(w: &Workload<'_>, out: &mut Findings) {
    for c in w.every_container() {
        let env = env_entries(&c);
        if env.len() < 2 {
            continue;
        }
        let mut first: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, e) in env.iter().enumerate() {
            let name = e.name.as_ref();
            let Some(&at) = first.get(name) else {
                first.insert(name, i);
                continue;
            };
            // As the API server's own warning: a later literal that refers to the earlier
            // value with $(NAME) (and is not just "$(NAME)") extends it, on purpose.
            let reference = format!("$({name})");
            let value = e.value.as_deref().unwrap_or_default();
            let extends =
                e.value_from.is_none() && value != reference && value.contains(&reference);
            if extends {
                continue;
            }
            let role = match c.role {
                ContainerRole::App => "container",
                ContainerRole::Init => "init container",
                ContainerRole::Sidecar => "sidecar container",
                ContainerRole::Ephemeral => "ephemeral container",
            };
            out.report(
                &DUPLICATE_ENV,
                c.field(&format!("env[{i}]")),
                format!(
                    "{role} \"{}\" defines {name} again at env[{i}] (first at env[{at}]): the later value silently wins, and kubectl apply may drop one of the two (the API server warns it \"hides previous definition\"); keep one entry",
                    c.name()
                ),
            );
        }
    }
}

// ---- service-selects-workload ------------------------------------------------------------

/// A Service, as this check reads it.
#[derive(Deserialize)]
struct ServiceView {
    #[serde(default)]
    spec: Option<ServiceSpecView>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceSpecView {
    #[serde(default, deserialize_with = "null_as_default")]
    selector: BTreeMap<String, String>,
    #[serde(default, rename = "type")]
    type_: Option<String>,
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The namespaces that hold at least one workload in the context (kinds read from the
/// headers, nothing parsed), computed once per context.
struct WorkloadNamespaces(BTreeSet<Option<String>>);

fn workload_namespaces(context: &Context) -> &WorkloadNamespaces {
    context.memo(|c| {
        WorkloadNamespaces(
            c.objects()
                .iter()
                .filter(|o| WorkloadKind::from_group_kind(o.group(), &o.kind).is_some())
                .map(|o| o.namespace().map(str::to_string))
                .collect(),
        )
    })
}

pub fn service_selects_workload(
    object: &Object<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) -> Result<(), String> {
    let svc: ServiceView = object.parse()?;
    let Some(spec) = svc.spec else {
        return Ok(());
    };
    // ExternalName Services and Services without a selector have no pods, on purpose.
    if spec.type_.as_deref() == Some("ExternalName") || spec.selector.is_empty() {
        return Ok(());
    }
    if !cx.has_context() {
        out.skip(
            &SERVICE_SELECTS_WORKLOAD,
            "no context was given: the namespace's workloads are not visible".into(),
        );
        return Ok(());
    }
    let namespace = object.namespace();
    let namespaces = workload_namespaces(cx.context);
    if !namespaces.0.contains(&namespace.map(str::to_string)) {
        out.skip(
            &SERVICE_SELECTS_WORKLOAD,
            format!(
                "no workload of namespace {} is visible",
                namespace.unwrap_or_default()
            ),
        );
        return Ok(());
    }
    let selector = Selector::from_map(Some(&spec.selector));
    if !cx
        .context
        .workloads_selected_by(namespace, &selector)
        .is_empty()
    {
        return Ok(());
    }
    // Pod templates lack the labels controllers add to the pods they create; a Service may
    // select those (one StatefulSet pod by its name, a Job's pods by the Job's name).
    match selects_by_controller_labels(cx.context, namespace, &spec.selector) {
        ControllerLabels::None => {}
        ControllerLabels::Selects => return Ok(()),
        ControllerLabels::Unknown(key) => {
            out.skip(
                &SERVICE_SELECTS_WORKLOAD,
                format!("the selector is only on {key}, a label a controller generates"),
            );
            return Ok(());
        }
    }
    out.report(
        &SERVICE_SELECTS_WORKLOAD,
        "spec.selector".into(),
        format!(
            "{}'s selector ({selector}) matches no Pod or pod template in namespace {}, so it gets no endpoints and its clients fail: fix the selector or the pod template's labels (if an operator creates the pods, exempt it with prodready.io/skip-service-selects-workload)",
            object.display(),
            namespace.unwrap_or_default()
        ),
    );
    Ok(())
}

// ---- labels controllers add to pods (candidate for the SDK: /work/notes/sdk-requests.md) --

/// Labels controllers put on the pods they create, which no pod template carries.
pub const STATEFULSET_POD_NAME: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX: &str = "apps.kubernetes.io/pod-index";
pub const JOB_NAME: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];
/// Generated values (hashes, uids, generations, indexes): nothing in a manifest names them.
pub const GENERATED_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-completion-index",
];

enum ControllerLabels {
    /// The selector names no controller-added label: the plain match decides.
    None,
    /// A workload's pods carry the selected labels once its controller adds its own.
    Selects,
    /// The selector's only requirements are generated values: nothing to compare with.
    Unknown(String),
}

fn is_controller_label(key: &str) -> bool {
    key == STATEFULSET_POD_NAME
        || key == POD_INDEX
        || JOB_NAME.contains(&key)
        || GENERATED_LABELS.contains(&key)
}

/// Whether a Service selector that uses labels a controller adds to its pods selects some
/// workload's pods: `statefulset.kubernetes.io/pod-name: <sts>-<ordinal>` (and
/// `apps.kubernetes.io/pod-index: <ordinal>`) names a StatefulSet, `job-name` a Job, both
/// looked up by name; the other requirements must hold on that workload's template. With
/// only generated values (hashes, uids) besides plain labels, the plain labels decide.
fn selects_by_controller_labels(
    context: &Context,
    namespace: Option<&str>,
    selector: &BTreeMap<String, String>,
) -> ControllerLabels {
    let Some(first) = selector.keys().find(|k| is_controller_label(k)) else {
        return ControllerLabels::None;
    };
    let plain: BTreeMap<String, String> = selector
        .iter()
        .filter(|(k, _)| !is_controller_label(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let plain_holds =
        |labels: &BTreeMap<String, String>| plain.iter().all(|(k, v)| labels.get(k) == Some(v));
    let holds_on = |group: &str, kind: &str, name: &str| {
        context
            .get(group, kind, namespace, name)
            .and_then(|o| o.workload())
            .is_some_and(|w| plain_holds(&w.pod_labels))
    };
    if let Some(pod) = selector.get(STATEFULSET_POD_NAME) {
        let Some((sts, ordinal)) = pod.rsplit_once('-') else {
            return ControllerLabels::None;
        };
        let index_ok = selector.get(POD_INDEX).is_none_or(|i| i == ordinal);
        let numeric = !ordinal.is_empty() && ordinal.bytes().all(|b| b.is_ascii_digit());
        return if numeric && index_ok && holds_on("apps", "StatefulSet", sts) {
            ControllerLabels::Selects
        } else {
            ControllerLabels::None
        };
    }
    if let Some(job) = JOB_NAME.iter().find_map(|k| selector.get(*k)) {
        return if holds_on("batch", "Job", job) {
            ControllerLabels::Selects
        } else {
            ControllerLabels::None
        };
    }
    if plain.is_empty() {
        return ControllerLabels::Unknown(first.clone());
    }
    if context
        .workloads_selected_by(namespace, &Selector::from_map(Some(&plain)))
        .is_empty()
    {
        ControllerLabels::None
    } else {
        ControllerLabels::Selects
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::run::Mode;
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    use crate::ManifestManagement;

    fn ids(v: &prodready_sdk::Verdict) -> Vec<String> {
        assert!(v.error.is_none(), "{:?}", v.error);
        testing::ids(v).into_iter().map(str::to_string).collect()
    }

    fn labels() -> Value {
        json!({"app.kubernetes.io/name": "web", "app.kubernetes.io/instance": "web-prod", "app.kubernetes.io/managed-by": "Helm"})
    }

    fn deployment(
        meta_labels: Value,
        selector: Value,
        template_labels: Value,
        containers: Value,
    ) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": meta_labels},
            "spec": {"selector": selector,
                "template": {"metadata": {"labels": template_labels},
                    "spec": {"containers": containers}}}})
    }

    fn good() -> Value {
        let mut t = labels();
        t["app"] = json!("web");
        deployment(
            labels(),
            json!({"matchLabels": {"app": "web"}}),
            t,
            json!([{"name": "web", "image": "r/web:1"}]),
        )
    }

    fn run(o: &Value, s: Value) -> Vec<String> {
        ids(&testing::evaluate::<ManifestManagement>(o, &s))
    }

    #[test]
    fn a_labelled_managed_namespaced_deployment_passes() {
        assert_eq!(run(&good(), Value::Null), Vec::<String>::new());
    }

    #[test]
    fn labels_on_the_object_and_its_template() {
        let mut d = good();
        d["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "Helm"});
        assert_eq!(run(&d, Value::Null), ["recommended-labels"]);
        d["spec"]["template"]["metadata"]["labels"] = json!({"app": "web"});
        let v = testing::evaluate::<ManifestManagement>(&d, &Value::Null);
        assert_eq!(ids(&v), ["recommended-labels", "recommended-labels"]);
        assert_eq!(v.violations[1].path, "spec.template.metadata.labels");
        assert!(
            v.violations[1]
                .message
                .contains("lacks app.kubernetes.io/name, app.kubernetes.io/instance")
        );
        assert!(v.allowed);
        assert_eq!(
            run(&d, json!({"checkPodTemplates": false})),
            ["recommended-labels"]
        );
        // An empty value is missing.
        let mut d = good();
        d["metadata"]["labels"]["app.kubernetes.io/instance"] = json!("");
        assert_eq!(run(&d, Value::Null), ["recommended-labels"]);
    }

    #[test]
    fn label_patterns_match_the_whole_value() {
        let s = json!({"requiredLabels": [{"key": "app.kubernetes.io/name", "pattern": "[a-z]+"}], "checkPodTemplates": false});
        assert_eq!(run(&good(), s.clone()), Vec::<String>::new());
        let mut d = good();
        d["metadata"]["labels"]["app.kubernetes.io/name"] = json!("web2");
        let v = testing::evaluate::<ManifestManagement>(&d, &s);
        assert_eq!(ids(&v), ["recommended-labels"]);
        assert!(
            v.violations[0]
                .message
                .contains("\"web2\" does not match [a-z]+"),
            "{}",
            v.violations[0].message
        );
        assert_eq!(
            run(&good(), json!({"requiredLabels": []})),
            Vec::<String>::new()
        );
    }

    #[test]
    fn other_labelled_kinds_and_unlabelled_ones() {
        for (av, kind) in [
            ("v1", "Service"),
            ("networking.k8s.io/v1", "Ingress"),
            ("autoscaling/v2", "HorizontalPodAutoscaler"),
            ("policy/v1", "PodDisruptionBudget"),
        ] {
            let o = json!({"apiVersion": av, "kind": kind, "metadata": {"name": "x", "namespace": "shop"}, "spec": {}});
            assert_eq!(
                run(&o, Value::Null),
                ["managed-by", "recommended-labels"],
                "{kind}"
            );
        }
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "shop"}});
        assert_eq!(run(&cm, Value::Null), Vec::<String>::new());
    }

    #[test]
    fn managed_by_accepts_tool_markers_unless_managers_are_listed() {
        let svc = |labels: Value, annotations: Value| {
            json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "x", "namespace": "shop", "labels": labels, "annotations": annotations},
            "spec": {}})
        };
        let base = json!({"app.kubernetes.io/name": "x", "app.kubernetes.io/instance": "x"});
        assert_eq!(
            run(&svc(base.clone(), json!({})), Value::Null),
            ["managed-by"]
        );
        assert_eq!(
            run(
                &svc(base.clone(), json!({"meta.helm.sh/release-name": "x"})),
                Value::Null
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            run(
                &svc(
                    base.clone(),
                    json!({"argocd.argoproj.io/tracking-id": "app:/Service:shop/x"})
                ),
                Value::Null
            ),
            Vec::<String>::new()
        );
        let mut flux = base.clone();
        flux["kustomize.toolkit.fluxcd.io/name"] = json!("apps");
        assert_eq!(
            run(&svc(flux.clone(), json!({})), Value::Null),
            Vec::<String>::new()
        );
        let only = json!({"allowedManagers": ["Helm", "argocd"]});
        assert_eq!(run(&svc(flux, json!({})), only.clone()), ["managed-by"]);
        let mut helm = base.clone();
        helm["app.kubernetes.io/managed-by"] = json!("helm");
        assert_eq!(
            run(&svc(helm.clone(), json!({})), only.clone()),
            Vec::<String>::new()
        );
        helm["app.kubernetes.io/managed-by"] = json!("kubectl");
        let v = testing::evaluate::<ManifestManagement>(&svc(helm, json!({})), &only);
        assert_eq!(ids(&v), ["managed-by"]);
        assert!(
            v.violations[0]
                .message
                .contains("not one of allowedManagers (Helm, argocd)")
        );
    }

    fn selector_case(selector: Value, template: Value) -> Vec<String> {
        let mut t = template;
        if let Some(m) = t.as_object_mut() {
            for (k, v) in labels().as_object().unwrap() {
                m.insert(k.clone(), v.clone());
            }
        }
        let mut d = deployment(
            labels(),
            selector.clone(),
            t,
            json!([{"name": "web", "image": "r/web:1"}]),
        );
        if selector.is_null() {
            d["spec"].as_object_mut().unwrap().remove("selector");
        }
        run(&d, Value::Null)
    }

    #[test]
    fn selectors_select_their_own_template() {
        let sel = "selector-matches-template";
        assert_eq!(
            selector_case(
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "web"})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            selector_case(
                json!({"matchLabels": {"app": "web"}}),
                json!({"app": "api"})
            ),
            [sel]
        );
        assert_eq!(selector_case(Value::Null, json!({"app": "web"})), [sel]);
        assert_eq!(selector_case(json!({}), json!({"app": "web"})), [sel]);
        let expr = |op: &str, values: Value| json!({"matchExpressions": [{"key": "tier", "operator": op, "values": values}]});
        assert_eq!(
            selector_case(
                expr("In", json!(["front", "back"])),
                json!({"tier": "front"})
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            selector_case(expr("NotIn", json!(["canary"])), json!({"tier": "canary"})),
            [sel]
        );
        assert_eq!(
            selector_case(expr("In", json!([])), json!({"tier": "front"})),
            [sel]
        );
        assert_eq!(
            selector_case(
                json!({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}),
                json!({"tier": "x"})
            ),
            Vec::<String>::new()
        );
        let d = {
            let mut t = labels();
            t["app"] = json!("api");
            deployment(
                labels(),
                json!({"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}]}),
                t,
                json!([{"name": "web", "image": "r/web:1"}]),
            )
        };
        let v = testing::evaluate::<ManifestManagement>(&d, &Value::Null);
        assert_eq!(v.violations[0].path, "spec.selector");
        assert!(
            v.violations[0].message.contains("app=web not met"),
            "{}",
            v.violations[0].message
        );
        assert!(!v.allowed);
    }

    #[test]
    fn selector_rules_per_kind_and_version() {
        let l = labels();
        let rc = |selector: Value| {
            json!({"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "rc", "namespace": "shop", "labels": l},
            "spec": {"selector": selector, "template": {"metadata": {"labels": {"app": "rc", "app.kubernetes.io/name": "x", "app.kubernetes.io/instance": "x"}},
                "spec": {"containers": [{"name": "c", "image": "r/c:1"}]}}}})
        };
        assert_eq!(run(&rc(json!({})), Value::Null), Vec::<String>::new());
        assert_eq!(run(&rc(Value::Null), Value::Null), Vec::<String>::new());
        assert_eq!(
            run(&rc(json!({"app": "rc"})), Value::Null),
            Vec::<String>::new()
        );
        assert_eq!(
            run(&rc(json!({"app": "other"})), Value::Null),
            ["selector-matches-template"]
        );
        // extensions/v1beta1 defaulted a missing selector from the template.
        let mut old = good();
        old["apiVersion"] = json!("extensions/v1beta1");
        old["spec"].as_object_mut().unwrap().remove("selector");
        assert_eq!(run(&old, Value::Null), Vec::<String>::new());
        // Jobs generate their selector unless manualSelector is set.
        let job = |manual: bool, selector: Value| {
            json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "j", "namespace": "shop", "labels": labels()},
            "spec": {"manualSelector": manual, "selector": selector,
                "template": {"metadata": {"labels": {"job": "j", "app.kubernetes.io/name": "x", "app.kubernetes.io/instance": "x"}},
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "r/c:1"}]}}}})
        };
        assert_eq!(
            run(
                &job(false, json!({"matchLabels": {"job": "other"}})),
                Value::Null
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            run(
                &job(true, json!({"matchLabels": {"job": "j"}})),
                Value::Null
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            run(
                &job(true, json!({"matchLabels": {"job": "other"}})),
                Value::Null
            ),
            ["selector-matches-template"]
        );
    }

    #[test]
    fn default_namespace_by_mode() {
        let cm = |ns: Option<&str>| {
            let mut o =
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}});
            if let Some(ns) = ns {
                o["metadata"]["namespace"] = json!(ns);
            }
            o
        };
        let at = |o: &Value, mode: Mode| {
            ids(&testing::evaluate_with::<ManifestManagement>(
                o,
                &Value::Null,
                None,
                mode,
            ))
        };
        assert_eq!(
            at(&cm(Some("default")), Mode::Manifest),
            ["no-default-namespace"]
        );
        assert_eq!(at(&cm(None), Mode::Manifest), Vec::<String>::new());
        assert_eq!(at(&cm(Some("shop")), Mode::Manifest), Vec::<String>::new());
        // At admission the object is where the request puts it; without a namespace in the
        // request either, where the context's default namespace is (`default`).
        assert_eq!(at(&cm(None), Mode::Admission), ["no-default-namespace"]);
        assert_eq!(at(&cm(Some("shop")), Mode::Admission), Vec::<String>::new());
        let envelope = json!({"request": {"operation": "CREATE", "namespace": "default", "object": cm(None)}, "mode": "admission"});
        let v = prodready_sdk::run::evaluate_with::<ManifestManagement>(
            envelope.to_string().as_bytes(),
            &Context::absent(),
        );
        assert_eq!(ids(&v), ["no-default-namespace"]);
        let envelope = json!({"request": {"operation": "CREATE", "namespace": "shop", "object": cm(None)}, "mode": "admission"});
        let v = prodready_sdk::run::evaluate_with::<ManifestManagement>(
            envelope.to_string().as_bytes(),
            &Context::absent(),
        );
        assert_eq!(ids(&v), Vec::<String>::new());
        // Cluster-scoped kinds, and what Kubernetes keeps in default, are never flagged.
        let cr = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r", "namespace": "default"}});
        assert_eq!(at(&cr, Mode::Manifest), Vec::<String>::new());
        assert_eq!(at(&cr, Mode::Admission), Vec::<String>::new());
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": "default"}});
        assert_eq!(at(&sa, Mode::Admission), Vec::<String>::new());
        let ev = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "x.17", "namespace": "default"}});
        assert_eq!(at(&ev, Mode::Admission), Vec::<String>::new());
        let v = testing::evaluate::<ManifestManagement>(&cm(Some("default")), &Value::Null);
        assert!(v.allowed);
        assert_eq!(v.violations[0].path, "metadata.namespace");
    }

    fn env_case(env: Value) -> Vec<String> {
        let mut d = good();
        d["spec"]["template"]["spec"]["containers"][0]["env"] = env;
        run(&d, Value::Null)
    }

    #[test]
    fn duplicate_env_as_the_api_server_warns() {
        let dup = "duplicate-env";
        assert_eq!(
            env_case(json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])),
            Vec::<String>::new()
        );
        assert_eq!(
            env_case(json!([{"name": "A", "value": "1"}, {"name": "A", "value": "2"}])),
            [dup]
        );
        assert_eq!(
            env_case(json!([{"name": "A", "value": "1"}, {"name": "A", "value": "1"}])),
            [dup]
        );
        assert_eq!(
            env_case(
                json!([{"name": "A", "value": "1"}, {"name": "A"}, {"name": "A", "value": ""}])
            ),
            [dup, dup]
        );
        // Extending the earlier value is deliberate.
        assert_eq!(
            env_case(
                json!([{"name": "PATH", "value": "/bin"}, {"name": "PATH", "value": "$(PATH):/opt/bin"}])
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            env_case(json!([{"name": "A", "value": "1"}, {"name": "A", "value": "$(A)"}])),
            [dup]
        );
        assert_eq!(
            env_case(
                json!([{"name": "A", "value": "1"}, {"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}])
            ),
            [dup]
        );
        // Names in different containers are not duplicates.
        let mut d = good();
        d["spec"]["template"]["spec"]["containers"] = json!([
            {"name": "a", "image": "r/a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "b", "image": "r/b:1", "env": [{"name": "X", "value": "2"}]}]);
        d["spec"]["template"]["spec"]["initContainers"] = json!([
            {"name": "i", "image": "r/i:1", "env": [{"name": "Y", "value": "1"}, {"name": "Y", "value": "2"}]}]);
        let v = testing::evaluate::<ManifestManagement>(&d, &Value::Null);
        assert_eq!(ids(&v), [dup]);
        assert_eq!(
            v.violations[0].path,
            "spec.template.spec.initContainers[0].env[1]"
        );
        assert!(
            v.violations[0]
                .message
                .contains("init container \"i\" defines Y again at env[1] (first at env[0])")
        );
        assert!(!v.allowed);
    }

    fn service(selector: Value, type_: Option<&str>) -> Value {
        let mut s = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "shop", "labels": labels()},
            "spec": {"selector": selector, "ports": [{"port": 80}]}});
        if let Some(t) = type_ {
            s["spec"]["type"] = json!(t);
        }
        s
    }

    #[test]
    fn services_select_some_workload_of_their_namespace() {
        let ctx = vec![good()];
        let at = |svc: &Value, ctx: &[Value]| {
            ids(&testing::evaluate_in::<ManifestManagement>(
                svc,
                &Value::Null,
                ctx,
            ))
        };
        assert_eq!(
            at(&service(json!({"app": "web"}), None), &ctx),
            Vec::<String>::new()
        );
        assert_eq!(
            at(&service(json!({"app": "api"}), None), &ctx),
            ["service-selects-workload"]
        );
        // Selector-less and ExternalName Services have no pods on purpose.
        assert_eq!(at(&service(Value::Null, None), &ctx), Vec::<String>::new());
        assert_eq!(at(&service(json!({}), None), &ctx), Vec::<String>::new());
        assert_eq!(
            at(&service(json!({"app": "api"}), Some("ExternalName")), &ctx),
            Vec::<String>::new()
        );
        // Another namespace's workload does not count, and a namespace with no workload at
        // all is skipped, not warned about.
        let mut elsewhere = good();
        elsewhere["metadata"]["namespace"] = json!("other");
        let v = testing::evaluate_in::<ManifestManagement>(
            &service(json!({"app": "web"}), None),
            &Value::Null,
            &[elsewhere.clone()],
        );
        assert_eq!(ids(&v), Vec::<String>::new());
        assert_eq!(v.skipped_checks[0].check, "service-selects-workload");
        let v = testing::evaluate_in::<ManifestManagement>(
            &service(json!({"app": "web"}), None),
            &Value::Null,
            &[
                elsewhere,
                json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "shop", "labels": {"app": "api"}}, "spec": {"containers": [{"name": "p", "image": "r/p:1"}]}}),
            ],
        );
        assert_eq!(ids(&v), ["service-selects-workload"]);
        assert!(v.allowed);
        assert!(
            v.violations[0]
                .message
                .contains("(app=web) matches no Pod or pod template in namespace shop"),
            "{}",
            v.violations[0].message
        );
    }

    #[test]
    fn services_may_select_labels_controllers_add() {
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "cache-server", "namespace": "shop", "labels": labels()},
            "spec": {"serviceName": "cache", "replicas": 3, "selector": {"matchLabels": {"app": "cache"}},
                "template": {"metadata": {"labels": {"app": "cache"}},
                    "spec": {"containers": [{"name": "c", "image": "r/c:1"}]}}}});
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "load-test", "namespace": "shop", "labels": labels()},
            "spec": {"template": {"metadata": {"labels": {"app": "load"}},
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "r/c:1"}]}}}});
        let ctx = vec![sts, job, good()];
        let at = |selector: Value| {
            let v = testing::evaluate_in::<ManifestManagement>(
                &service(selector, None),
                &Value::Null,
                &ctx,
            );
            (ids(&v), v.skipped_checks.len())
        };
        let ok = (Vec::<String>::new(), 0);
        let warned = (vec!["service-selects-workload".to_string()], 0);
        // One StatefulSet pod, by the name its controller gives it.
        assert_eq!(
            at(json!({"app": "cache", "statefulset.kubernetes.io/pod-name": "cache-server-0"})),
            ok
        );
        assert_eq!(
            at(
                json!({"statefulset.kubernetes.io/pod-name": "cache-server-2", "apps.kubernetes.io/pod-index": "2"})
            ),
            ok
        );
        assert_eq!(
            at(
                json!({"statefulset.kubernetes.io/pod-name": "cache-server-2", "apps.kubernetes.io/pod-index": "1"})
            ),
            warned
        );
        assert_eq!(
            at(json!({"app": "other", "statefulset.kubernetes.io/pod-name": "cache-server-0"})),
            warned
        );
        assert_eq!(
            at(json!({"statefulset.kubernetes.io/pod-name": "cache-0"})),
            warned
        );
        assert_eq!(
            at(json!({"statefulset.kubernetes.io/pod-name": "cache-server-x"})),
            warned
        );
        // A Job's pods, by the Job's name.
        assert_eq!(at(json!({"job-name": "load-test"})), ok);
        assert_eq!(
            at(json!({"batch.kubernetes.io/job-name": "load-test", "app": "load"})),
            ok
        );
        assert_eq!(at(json!({"job-name": "other"})), warned);
        // Generated values: the plain labels decide; alone, nothing to compare.
        assert_eq!(
            at(json!({"app": "web", "pod-template-hash": "5d8f7c9b6"})),
            ok
        );
        assert_eq!(
            at(json!({"app": "nope", "pod-template-hash": "5d8f7c9b6"})),
            warned
        );
        assert_eq!(
            at(json!({"controller-revision-hash": "cache-server-7b9"})),
            (Vec::new(), 1)
        );
    }

    #[test]
    fn without_context_service_selects_workload_is_skipped() {
        let v = testing::evaluate::<ManifestManagement>(
            &service(json!({"app": "web"}), None),
            &Value::Null,
        );
        assert_eq!(ids(&v), Vec::<String>::new());
        assert_eq!(v.skipped_checks.len(), 1);
        assert_eq!(v.skipped_checks[0].check, "service-selects-workload");
        assert!(v.skipped_checks[0].reason.contains("no context"));
    }
}

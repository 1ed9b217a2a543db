//! The checks: HPAs (hpa-min-max, hpa-target-exists, hpa-target-requests,
//! hpa-pdb-consistent) and workloads (hpa-replicas-conflict, safe-to-evict).

use prodready_sdk::k8s_openapi::api::core::v1::ResourceRequirements;
use prodready_sdk::object::split_api_version;
use prodready_sdk::{
    ContainerRole, ContextObject, ContextWorkload, Cx, Findings, Mode, Object, Workload,
    WorkloadKind,
};
use serde::Deserialize;

use crate::settings::Settings;
use crate::{
    HPA_MIN_MAX, HPA_PDB_CONSISTENT, HPA_REPLICAS_CONFLICT, HPA_TARGET_EXISTS, HPA_TARGET_REQUESTS,
    SAFE_TO_EVICT,
};
use prodready_sdk::availability::{
    Amount, HpaIndex, HpaObject, HpaSpec, PDB_GROUP, PDB_KIND, PdbObject, min_replicas,
    pdb_selector,
};

// ---- workloads ------------------------------------------------------------------------------

pub fn check_workload(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    hpa_replicas_conflict(object, w, cx, out);
    safe_to_evict(object, w, cx.settings, out);
}

/// hpa-replicas-conflict: the manifest of an autoscaled workload sets spec.replicas.
pub fn hpa_replicas_conflict(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let Some(replicas) = w.controller.replicas() else {
        return;
    };
    if w.kind == WorkloadKind::ReplicaSet && object.meta.controller_owner().is_some() {
        return;
    }
    if !cx.has_context() {
        out.skip(
            &HPA_REPLICAS_CONFLICT,
            "no context was given: the HPAs that may scale the workload are unknown".to_string(),
        );
        return;
    }
    if cx.mode == Mode::Admission {
        out.skip(
            &HPA_REPLICAS_CONFLICT,
            "at admission spec.replicas is always set (the API server defaults it and keeps the \
             live count), so whether the manifest sets it cannot be told; run prodready check on \
             the manifests"
                .to_string(),
        );
        return;
    }
    let hpas = HpaIndex::of(cx.context).targeting(
        object.namespace(),
        object.group(),
        &object.reference.kind,
        &object.reference.name,
    );
    let Some(hpa) = hpas.first() else {
        return;
    };
    out.report(
        &HPA_REPLICAS_CONFLICT,
        "spec.replicas".to_string(),
        format!(
            "{} is scaled by HorizontalPodAutoscaler {} but its manifest sets spec.replicas: {replicas}: \
             every kubectl apply, Helm upgrade or GitOps sync sets the count back to {replicas}, \
             undoing the autoscaler's choice; remove spec.replicas from the manifest (e.g. render \
             it only when autoscaling is off)",
            object.display(),
            hpa.name
        ),
    );
}

/// Pod annotations that keep a node from being scaled down: the autoscaler, the key and the
/// value that blocks.
const SCALE_DOWN_BLOCKERS: &[(&str, &str, &str)] = &[
    (
        "Cluster Autoscaler",
        "cluster-autoscaler.kubernetes.io/safe-to-evict",
        "false",
    ),
    ("Karpenter", "karpenter.sh/do-not-disrupt", "true"),
];

/// safe-to-evict.
pub fn safe_to_evict(object: &Object<'_>, w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    // Jobs and run-once pods: the Cluster Autoscaler FAQ recommends the annotation for work
    // that must not be interrupted.
    if !w.is_long_running() {
        return;
    }
    if let Some(ns) = object.namespace()
        && s.safe_to_evict_namespaces.iter().any(|n| n == ns)
    {
        return;
    }
    for (autoscaler, key, value) in SCALE_DOWN_BLOCKERS {
        if w.pod_annotations.get(*key).map(String::as_str) == Some(*value) {
            out.report(
                &SAFE_TO_EVICT,
                w.pod_metadata_path("annotations"),
                format!(
                    "the pods of {} carry {key}: \"{value}\": {autoscaler} never removes a node \
                     they run on, so the cluster cannot scale down around them; remove the \
                     annotation and protect the pods with a PodDisruptionBudget, or list the \
                     namespace in safeToEvictNamespaces",
                    object.display()
                ),
            );
        }
    }
}

// ---- HPAs -----------------------------------------------------------------------------------

pub fn check_hpa(object: &Object<'_>, hpa: &HpaObject, cx: &Cx<'_, Settings>, out: &mut Findings) {
    let default = HpaSpec::default();
    let spec = hpa.spec.as_ref().unwrap_or(&default);
    hpa_min_max(object, spec, cx.settings, out);
    let Some(target) = hpa_target_exists(object, spec, cx, out) else {
        return;
    };
    let Some(w) = target.workload() else {
        return;
    };
    hpa_target_requests(object, spec, target, w, out);
    hpa_pdb_consistent(object, spec, target, w, cx, out);
}

/// hpa-min-max.
pub fn hpa_min_max(object: &Object<'_>, spec: &HpaSpec, s: &Settings, out: &mut Findings) {
    let min = min_replicas(spec);
    if min < s.min_replicas {
        out.report(
            &HPA_MIN_MAX,
            "spec.minReplicas".to_string(),
            format!(
                "{} may scale down to {min} replica{}{}: at low load a \
                 drain, a node scale-down or a node failure then takes the workload down; set \
                 minReplicas to at least {}",
                object.display(),
                if min == 1 { "" } else { "s" },
                if spec.min_replicas.is_none() {
                    " (minReplicas is unset, which means 1)"
                } else {
                    ""
                },
                s.min_replicas
            ),
        );
    }
    match spec.max_replicas {
        None => out.report(
            &HPA_MIN_MAX,
            "spec.maxReplicas".to_string(),
            format!(
                "{} sets no maxReplicas, which the API server requires; \
                 set it above minReplicas ({min})",
                object.display()
            ),
        ),
        Some(max) if max < min => out.report(
            &HPA_MIN_MAX,
            "spec.maxReplicas".to_string(),
            format!(
                "{}'s maxReplicas ({max}) is below its minReplicas \
                 ({min}), which the API server refuses; set maxReplicas above {min}",
                object.display()
            ),
        ),
        Some(max) if max == min => out.report(
            &HPA_MIN_MAX,
            "spec.maxReplicas".to_string(),
            format!(
                "{}'s maxReplicas equals its minReplicas ({min}): it can \
                 never change the replica count; set maxReplicas above {min}, or drop the HPA \
                 and set spec.replicas",
                object.display()
            ),
        ),
        Some(_) => {}
    }
}

/// The API group a built-in kind an HPA may name lives in, and whether it can be scaled.
fn builtin(kind: &str) -> Option<(&'static str, bool)> {
    Some(match kind {
        "Deployment" | "StatefulSet" | "ReplicaSet" => ("apps", true),
        "ReplicationController" => ("", true),
        "DaemonSet" => ("apps", false),
        "Job" | "CronJob" => ("batch", false),
        "Pod" => ("", false),
        _ => return None,
    })
}

/// hpa-target-exists: resolves `scaleTargetRef` as the HPA controller does; returns the
/// target when it is in the set.
pub fn hpa_target_exists<'c>(
    object: &Object<'_>,
    spec: &HpaSpec,
    cx: &Cx<'c, Settings>,
    out: &mut Findings,
) -> Option<&'c ContextObject> {
    let target = spec
        .scale_target_ref
        .as_ref()
        .filter(|t| !t.kind().is_empty() && !t.name().is_empty());
    let Some(target) = target else {
        out.report(
            &HPA_TARGET_EXISTS,
            "spec.scaleTargetRef".to_string(),
            format!(
                "{} names no scaleTargetRef kind and name, which the API \
                 server requires; set scaleTargetRef to the workload to scale, e.g. apiVersion: \
                 apps/v1, kind: Deployment, name: web",
                object.display()
            ),
        );
        return None;
    };
    let (kind, name, group) = (target.kind(), target.name(), target.group());
    let api_version = target.api_version.as_deref().unwrap_or_default();
    if let Some((home, scalable)) = builtin(kind) {
        if group != home {
            let wanted = if home.is_empty() {
                "v1".to_string()
            } else {
                format!("{home}/v1")
            };
            let said = if api_version.is_empty() {
                "is not set".to_string()
            } else {
                format!("is {api_version}")
            };
            let message = format!(
                "{}'s scaleTargetRef.apiVersion {said}, but {kind} is \
                 served by {wanted}: the HPA controller looks {kind} up in the API group the \
                 apiVersion names and cannot find its scale subresource; set apiVersion: {wanted}",
                object.display()
            );
            // An unset apiVersion is allowed by validation; the controller then fails at run
            // time (a warning: the field is optional in the API).
            if api_version.is_empty() {
                out.warn(
                    &HPA_TARGET_EXISTS,
                    "spec.scaleTargetRef.apiVersion".to_string(),
                    message,
                );
            } else {
                out.report(
                    &HPA_TARGET_EXISTS,
                    "spec.scaleTargetRef.apiVersion".to_string(),
                    message,
                );
            }
            return None;
        }
        if !scalable {
            out.report(
                &HPA_TARGET_EXISTS,
                "spec.scaleTargetRef.kind".to_string(),
                format!(
                    "{} targets a {kind}, which has no scale subresource: \
                     the HPA can never scale it; target the Deployment, StatefulSet or ReplicaSet \
                     that runs the pods",
                    object.display()
                ),
            );
            return None;
        }
    }
    if !cx.has_context() {
        for check in [
            &HPA_TARGET_EXISTS,
            &HPA_TARGET_REQUESTS,
            &HPA_PDB_CONSISTENT,
        ] {
            out.skip(
                check,
                format!("no context was given: whether {kind} {name} exists is unknown"),
            );
        }
        return None;
    }
    if let Some(found) = cx.context.get(group, kind, object.namespace(), name) {
        return Some(found);
    }
    if builtin(kind).is_none() {
        out.skip(
            &HPA_TARGET_EXISTS,
            format!(
                "scaleTargetRef names a {kind} of {api_version}, a kind this rule does not read: \
                 whether it exists is not checked"
            ),
        );
        return None;
    }
    let message = format!(
        "{} scales {kind} {name}, and there is no {kind} named {name} \
         in namespace {}: the HPA reports FailedGetScale and scales nothing; point \
         scaleTargetRef at the workload to scale (same namespace, kind and name)",
        object.display(),
        object.namespace().unwrap_or_default()
    );
    if cx.mode == Mode::Admission {
        // Helm creates HPAs before StatefulSets: the target may follow in the same release.
        out.warn(
            &HPA_TARGET_EXISTS,
            "spec.scaleTargetRef.name".to_string(),
            format!("{message} (a warning at admission: the target may be created after the HPA)"),
        );
    } else {
        out.report(
            &HPA_TARGET_EXISTS,
            "spec.scaleTargetRef.name".to_string(),
            message,
        );
    }
    None
}

/// A metric the HPA computes as a percentage of the pods' requests.
struct Utilization<'s> {
    resource: &'s str,
    /// A ContainerResource metric's container.
    container: Option<&'s str>,
    path: String,
    what: String,
}

fn utilization_metrics<'s>(version: &str, spec: &'s HpaSpec) -> Vec<Utilization<'s>> {
    let default_cpu = |path: &str, what: &str| Utilization {
        resource: "cpu",
        container: None,
        path: path.to_string(),
        what: what.to_string(),
    };
    if version == "v1" {
        return vec![match spec.target_cpu_utilization_percentage {
            Some(p) => default_cpu(
                "spec.targetCPUUtilizationPercentage",
                &format!("targetCPUUtilizationPercentage {p}"),
            ),
            None => default_cpu(
                "spec",
                "the default target of 80% cpu utilization (targetCPUUtilizationPercentage is unset)",
            ),
        }];
    }
    let metrics = spec.metrics.as_deref().unwrap_or_default();
    if metrics.is_empty() {
        return vec![default_cpu(
            "spec.metrics",
            "the default target of 80% cpu utilization (spec.metrics is empty)",
        )];
    }
    let mut found = Vec::new();
    for (i, m) in metrics.iter().enumerate() {
        let (source, field) = match m.type_.as_deref() {
            Some("Resource") => (m.resource.as_ref(), "resource"),
            Some("ContainerResource") => (m.container_resource.as_ref(), "containerResource"),
            _ => continue,
        };
        let Some(source) = source.filter(|s| s.is_utilization()) else {
            continue;
        };
        let Some(resource) = source.name.as_deref() else {
            continue;
        };
        let container = if field == "containerResource" {
            match source.container.as_deref() {
                Some(c) => Some(c),
                None => continue,
            }
        } else {
            None
        };
        found.push(Utilization {
            resource,
            container,
            path: format!("spec.metrics[{i}].{field}"),
            what: match container {
                Some(c) => format!("metrics[{i}] ({resource} utilization of container \"{c}\")"),
                None => format!("metrics[{i}] ({resource} utilization)"),
            },
        });
    }
    found
}

/// Pod-level `resources` of a target's pod template (Kubernetes 1.32+), which a container
/// view does not carry.
#[derive(Deserialize)]
struct PodLevel {
    spec: Option<PodLevelSpec>,
}

#[derive(Deserialize)]
struct PodLevelSpec {
    template: Option<PodLevelTemplate>,
}

#[derive(Deserialize)]
struct PodLevelTemplate {
    spec: Option<PodLevelPodSpec>,
}

#[derive(Deserialize)]
struct PodLevelPodSpec {
    resources: Option<ResourceRequirements>,
}

fn pod_level_requests(target: &ContextObject, resource: &str) -> bool {
    target
        .get::<PodLevel>()
        .and_then(|p| {
            p.spec
                .as_ref()?
                .template
                .as_ref()?
                .spec
                .as_ref()?
                .resources
                .as_ref()
        })
        .is_some_and(|r| requests(r, resource))
}

/// Whether a container (or pod) requests the resource after the API server's defaulting: a
/// request, or a limit (which becomes the request when none is set).
fn requests(r: &ResourceRequirements, resource: &str) -> bool {
    r.requests
        .as_ref()
        .is_some_and(|m| m.contains_key(resource))
        || r.limits.as_ref().is_some_and(|m| m.contains_key(resource))
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// hpa-target-requests.
pub fn hpa_target_requests(
    object: &Object<'_>,
    spec: &HpaSpec,
    target: &ContextObject,
    w: &ContextWorkload,
    out: &mut Findings,
) {
    let version = split_api_version(&object.reference.api_version).1;
    for m in utilization_metrics(version, spec) {
        // Pod-level requests: what the HPA divides by is then the pod's (kubernetes#132237);
        // not judged here.
        if pod_level_requests(target, m.resource) {
            continue;
        }
        // The HPA measures app containers and native sidecars (restartable init
        // containers), not init containers that run to completion.
        let measured: Vec<_> = w
            .containers
            .iter()
            .filter(|c| matches!(c.role, ContainerRole::App | ContainerRole::Sidecar))
            .filter(|c| m.container.is_none_or(|name| c.name == name))
            .collect();
        if let Some(name) = m.container
            && measured.is_empty()
        {
            out.report(
                &HPA_TARGET_REQUESTS,
                m.path.clone(),
                format!(
                    "{}'s {} names container \"{name}\", which the pods \
                     of {} do not run: the HPA cannot compute the metric and does not scale on \
                     it; name one of the target's containers",
                    object.display(),
                    m.what,
                    target.display()
                ),
            );
            continue;
        }
        let missing: Vec<&str> = measured
            .iter()
            .filter(|c| {
                !c.resources
                    .as_ref()
                    .is_some_and(|r| requests(r, m.resource))
            })
            .map(|c| c.name.as_str())
            .collect();
        if missing.is_empty() {
            continue;
        }
        out.report(
            &HPA_TARGET_REQUESTS,
            m.path.clone(),
            format!(
                "{}'s {} is a percentage of the pods' {res} requests, \
                 but container{} {} of {} request{} no {res}: the HPA cannot compute the \
                 utilization and does not scale on this metric; set resources.requests.{res} on \
                 {}, or use an AverageValue target",
                object.display(),
                m.what,
                if missing.len() == 1 { "" } else { "s" },
                quoted(&missing),
                target.display(),
                if missing.len() == 1 { "s" } else { "" },
                if missing.len() == 1 { "it" } else { "them" },
                res = m.resource,
            ),
        );
    }
}

/// Whether a context workload is one whose pods a PDB's count covers (the kinds read at
/// admission too).
fn counted(o: &ContextObject) -> bool {
    match o.workload().map(|w| w.kind) {
        Some(
            WorkloadKind::Deployment
            | WorkloadKind::StatefulSet
            | WorkloadKind::ReplicationController,
        ) => true,
        Some(WorkloadKind::ReplicaSet) => o.meta.controller_owner().is_none(),
        _ => false,
    }
}

/// hpa-pdb-consistent.
pub fn hpa_pdb_consistent(
    object: &Object<'_>,
    spec: &HpaSpec,
    target: &ContextObject,
    w: &ContextWorkload,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let min = min_replicas(spec);
    if min <= 0 {
        return;
    }
    let floor = cx.settings.min_replicas;
    let mut pdbs = cx.context.selecting(
        PDB_GROUP,
        PDB_KIND,
        target.namespace(),
        &w.pod_labels,
        pdb_selector,
    );
    // Findings in the same order whatever order the host passed the context in.
    pdbs.sort_by(|a, b| a.name().cmp(b.name()));
    // One PDB written twice in a set (the same name in two files) is one budget.
    pdbs.dedup_by(|a, b| a.name() == b.name());
    for pdb in pdbs {
        let Some(pspec) = pdb.get::<PdbObject>().and_then(|p| p.spec.as_ref()) else {
            continue;
        };
        // maxUnavailable (or both, which the API refuses) is maintenance's to judge.
        if pspec.max_unavailable.is_some() {
            continue;
        }
        let Some(Ok(amount)) = pspec.min_available.as_ref().map(Amount::parse) else {
            continue;
        };
        // "100%" blocks at every size: pdb-allows-drain reports it.
        if amount == Amount::Percent(100) {
            continue;
        }
        // The budget must count this workload's pods alone for the comparison to hold.
        let selector = pdb_selector(pdb);
        let shared = cx
            .context
            .workloads_selected_by(pdb.namespace(), &selector)
            .into_iter()
            .any(|o| !std::ptr::eq(o, target) && counted(o));
        if shared {
            continue;
        }
        let needed = amount.scaled_up(min);
        if needed < i64::from(min) {
            continue;
        }
        // One finding per cause: when hpa-min-max asks for a higher minReplicas that also
        // leaves the budget room, its finding is the fix.
        if min < floor && cx.reports(&HPA_MIN_MAX) && amount.scaled_up(floor) < i64::from(floor) {
            continue;
        }
        out.report(
            &HPA_PDB_CONSISTENT,
            "spec.minReplicas".to_string(),
            format!(
                "{} keeps minAvailable {amount} ({needed} pod{}) of {} \
                 available, and {} scales it down to minReplicas {min}: \
                 at that size no pod can be evicted and kubectl drain hangs; keep minAvailable \
                 below {min} (or use maxUnavailable: 1), or raise minReplicas above {needed}",
                pdb.display(),
                if needed == 1 { "" } else { "s" },
                target.display(),
                object.display()
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scaling;
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    fn deployment(name: &str, replicas: Option<i32>, containers: Value) -> Value {
        let mut d = testing::object(
            WorkloadKind::Deployment,
            name,
            json!({"app": name}),
            json!({"containers": containers}),
        );
        if let Some(r) = replicas {
            d["spec"]["replicas"] = json!(r);
        }
        d
    }

    fn app(requests: Value) -> Value {
        json!([{"name": "app", "image": "r/app:1", "resources": {"requests": requests}}])
    }

    fn hpa(name: &str, target: &str, spec: Value) -> Value {
        let mut s = json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                           "minReplicas": 2, "maxReplicas": 10});
        for (k, v) in spec.as_object().unwrap() {
            s[k] = v.clone();
        }
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": name, "namespace": "shop"}, "spec": s})
    }

    fn pdb(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": name, "namespace": "shop"}, "spec": spec})
    }

    fn ids_in(object: &Value, settings: Value, context: &[Value]) -> Vec<String> {
        let v = testing::evaluate_in::<Scaling>(object, &settings, context);
        assert!(v.error.is_none(), "{:?}", v.error);
        v.violations.iter().map(|x| x.check.clone()).collect()
    }

    fn ids(object: &Value, context: &[Value]) -> Vec<String> {
        ids_in(object, json!({}), context)
    }

    fn cpu() -> Value {
        json!({"cpu": "100m"})
    }

    #[test]
    fn replicas_in_the_manifest_of_an_autoscaled_workload() {
        let fixed = deployment("web", Some(3), app(cpu()));
        let h = hpa("web", "web", json!({}));
        assert_eq!(
            ids(&fixed, std::slice::from_ref(&h)),
            ["hpa-replicas-conflict"]
        );
        assert!(ids(&fixed, &[]).is_empty());
        let free = deployment("web", None, app(cpu()));
        assert!(ids(&free, std::slice::from_ref(&h)).is_empty());
        // Another kind or group with the same name is another target.
        let mut sts = testing::object(
            WorkloadKind::StatefulSet,
            "web",
            json!({"app": "web"}),
            json!({"containers": app(cpu())}),
        );
        sts["spec"]["replicas"] = json!(3);
        assert!(ids(&sts, std::slice::from_ref(&h)).is_empty());
        // Skipped without context, and at admission.
        let v = testing::evaluate::<Scaling>(&fixed, &json!({}));
        assert_eq!(
            v.skipped_checks.first().map(|s| s.check.as_str()),
            Some("hpa-replicas-conflict")
        );
        let v = testing::evaluate_with::<Scaling>(&fixed, &json!({}), Some(&[h]), Mode::Admission);
        assert!(v.violations.is_empty());
        assert_eq!(
            v.skipped_checks.first().map(|s| s.check.as_str()),
            Some("hpa-replicas-conflict")
        );
    }

    #[test]
    fn min_and_max() {
        let web = deployment("web", None, app(cpu()));
        let check = |spec: Value| ids(&hpa("h", "web", spec), std::slice::from_ref(&web));
        assert!(check(json!({})).is_empty());
        assert_eq!(check(json!({"minReplicas": 1})), ["hpa-min-max"]);
        let mut unset = hpa("h", "web", json!({}));
        unset["spec"].as_object_mut().unwrap().remove("minReplicas");
        assert_eq!(ids(&unset, std::slice::from_ref(&web)), ["hpa-min-max"]);
        assert_eq!(check(json!({"maxReplicas": 2})), ["hpa-min-max"]);
        assert_eq!(
            check(json!({"minReplicas": 4, "maxReplicas": 3})),
            ["hpa-min-max"]
        );
        assert!(
            ids_in(
                &hpa("h", "web", json!({"minReplicas": 1})),
                json!({"minReplicas": 1}),
                &[web]
            )
            .is_empty()
        );
    }

    #[test]
    fn targets() {
        let web = deployment("web", None, app(cpu()));
        let h = hpa("h", "web", json!({}));
        assert!(ids(&h, std::slice::from_ref(&web)).is_empty());
        assert_eq!(ids(&h, &[]), ["hpa-target-exists"]);
        // Another namespace.
        let mut elsewhere = web.clone();
        elsewhere["metadata"]["namespace"] = json!("ops");
        assert_eq!(ids(&h, &[elsewhere]), ["hpa-target-exists"]);
        // A DaemonSet cannot be scaled; an old group is not served.
        let ds = hpa(
            "h",
            "web",
            json!({"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "web"}}),
        );
        assert_eq!(ids(&ds, &[]), ["hpa-target-exists"]);
        let old = hpa(
            "h",
            "web",
            json!({"scaleTargetRef": {"apiVersion": "extensions/v1beta1", "kind": "Deployment", "name": "web"}}),
        );
        assert_eq!(ids(&old, std::slice::from_ref(&web)), ["hpa-target-exists"]);
        // No apiVersion: a warning.
        let bare = hpa(
            "h",
            "web",
            json!({"scaleTargetRef": {"kind": "Deployment", "name": "web"}}),
        );
        let v = testing::evaluate_in::<Scaling>(&bare, &json!({}), std::slice::from_ref(&web));
        assert_eq!(testing::ids(&v), ["hpa-target-exists"]);
        assert!(v.allowed);
        // A custom resource: skipped when absent.
        let rollout = hpa(
            "h",
            "web",
            json!({"scaleTargetRef": {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "name": "web"}}),
        );
        let v = testing::evaluate_in::<Scaling>(&rollout, &json!({}), &[]);
        assert!(v.violations.is_empty());
        assert_eq!(
            v.skipped_checks.first().map(|s| s.check.as_str()),
            Some("hpa-target-exists")
        );
        // At admission, a missing target is a warning.
        let v = testing::evaluate_with::<Scaling>(&h, &json!({}), Some(&[]), Mode::Admission);
        assert_eq!(testing::ids(&v), ["hpa-target-exists"]);
        assert!(v.allowed);
        // Without context: skipped.
        let v = testing::evaluate::<Scaling>(&h, &json!({}));
        assert!(v.violations.is_empty());
        assert_eq!(v.skipped_checks.len(), 3);
    }

    #[test]
    fn utilization_needs_requests() {
        let cpu_util = json!({"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]});
        let mem_util = json!({"metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 70}}}]});
        let mem_value = json!({"metrics": [{"type": "Resource", "resource": {"name": "memory", "target": {"type": "AverageValue", "averageValue": "500Mi"}}}]});
        let with = |containers: Value, spec: Value| {
            ids(
                &hpa("h", "web", spec),
                &[deployment("web", None, containers)],
            )
        };
        assert!(with(app(cpu()), cpu_util.clone()).is_empty());
        assert_eq!(
            with(app(json!({})), cpu_util.clone()),
            ["hpa-target-requests"]
        );
        assert_eq!(with(app(cpu()), mem_util.clone()), ["hpa-target-requests"]);
        assert!(with(app(cpu()), mem_value).is_empty());
        // A limit alone becomes the request.
        let limited = json!([{"name": "app", "image": "r/app:1", "resources": {"limits": {"memory": "1Gi"}}}]);
        assert!(with(limited, mem_util.clone()).is_empty());
        // Every app container and native sidecar; not init containers that finish.
        let mut d = deployment("web", None, app(cpu()));
        d["spec"]["template"]["spec"]["initContainers"] = json!([
            {"name": "migrate", "image": "r/m:1"},
            {"name": "proxy", "image": "r/p:1", "restartPolicy": "Always"}
        ]);
        assert_eq!(
            ids(&hpa("h", "web", cpu_util.clone()), &[d.clone()]),
            ["hpa-target-requests"]
        );
        d["spec"]["template"]["spec"]["initContainers"][1]["resources"] =
            json!({"requests": {"cpu": "10m"}});
        assert!(ids(&hpa("h", "web", cpu_util.clone()), &[d]).is_empty());
        // No metrics: 80% cpu by default.
        assert_eq!(with(app(json!({})), json!({})), ["hpa-target-requests"]);
        // ContainerResource: only the named container.
        let two = json!([{"name": "app", "image": "r/app:1", "resources": {"requests": {"cpu": "1"}}}, {"name": "log", "image": "r/l:1"}]);
        let container = json!({"metrics": [{"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "app", "target": {"type": "Utilization", "averageUtilization": 60}}}]});
        assert!(with(two.clone(), container).is_empty());
        assert_eq!(with(two.clone(), cpu_util.clone()), ["hpa-target-requests"]);
        let ghost = json!({"metrics": [{"type": "ContainerResource", "containerResource": {"name": "cpu", "container": "nope", "target": {"type": "Utilization", "averageUtilization": 60}}}]});
        assert_eq!(with(two, ghost), ["hpa-target-requests"]);
        // Pod-level requests: not judged.
        let mut pod_level = deployment("web", None, app(json!({})));
        pod_level["spec"]["template"]["spec"]["resources"] = json!({"requests": {"cpu": "1"}});
        assert!(ids(&hpa("h", "web", cpu_util), &[pod_level]).is_empty());
        // autoscaling/v1 and v2beta1 shapes.
        let mut v1 = hpa("h", "web", json!({"targetCPUUtilizationPercentage": 50}));
        v1["apiVersion"] = json!("autoscaling/v1");
        assert_eq!(
            ids(&v1, &[deployment("web", None, app(json!({})))]),
            ["hpa-target-requests"]
        );
        assert!(ids(&v1, &[deployment("web", None, app(cpu()))]).is_empty());
        let mut beta1 = hpa(
            "h",
            "web",
            json!({"metrics": [{"type": "Resource", "resource": {"name": "memory", "targetAverageUtilization": 60}}]}),
        );
        beta1["apiVersion"] = json!("autoscaling/v2beta1");
        assert_eq!(
            ids(&beta1, &[deployment("web", None, app(cpu()))]),
            ["hpa-target-requests"]
        );
    }

    #[test]
    fn budgets_against_min_replicas() {
        let web = deployment("web", None, app(cpu()));
        let budget = |min: Value| {
            pdb(
                "web",
                json!({"minAvailable": min, "selector": {"matchLabels": {"app": "web"}}}),
            )
        };
        let h = hpa("h", "web", json!({"minReplicas": 3}));
        assert!(ids(&h, &[web.clone(), budget(json!(2))]).is_empty());
        assert_eq!(
            ids(&h, &[web.clone(), budget(json!(3))]),
            ["hpa-pdb-consistent"]
        );
        assert_eq!(
            ids(&h, &[web.clone(), budget(json!("67%"))]),
            ["hpa-pdb-consistent"]
        );
        assert!(ids(&h, &[web.clone(), budget(json!("66%"))]).is_empty());
        // "100%" and maxUnavailable are maintenance's.
        assert!(ids(&h, &[web.clone(), budget(json!("100%"))]).is_empty());
        let max0 = pdb(
            "web",
            json!({"maxUnavailable": 0, "selector": {"matchLabels": {"app": "web"}}}),
        );
        assert!(ids(&h, &[web.clone(), max0]).is_empty());
        // A budget over two workloads counts both.
        let mut other = deployment("web-b", Some(3), app(cpu()));
        other["spec"]["template"]["metadata"]["labels"] = json!({"app": "web"});
        assert!(ids(&h, &[web.clone(), other, budget(json!(3))]).is_empty());
        // minReplicas 1 with minAvailable 1: hpa-min-max's fix (2) resolves both.
        let low = hpa("h", "web", json!({"minReplicas": 1}));
        assert_eq!(ids(&low, &[web.clone(), budget(json!(1))]), ["hpa-min-max"]);
        // ... unless hpa-min-max is off.
        assert_eq!(
            ids_in(
                &low,
                json!({"severity": {"hpa-min-max": "off"}}),
                &[web.clone(), budget(json!(1))]
            ),
            ["hpa-pdb-consistent"]
        );
        // ... or its fix would not help.
        assert_eq!(
            ids(&low, &[web, budget(json!(2))]),
            ["hpa-min-max", "hpa-pdb-consistent"]
        );
    }

    #[test]
    fn safe_to_evict_false() {
        let mut d = deployment("web", None, app(cpu()));
        d["spec"]["template"]["metadata"]["annotations"] =
            json!({"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"});
        assert_eq!(ids(&d, &[]), ["safe-to-evict"]);
        assert!(ids_in(&d, json!({"safeToEvictNamespaces": ["shop"]}), &[]).is_empty());
        d["spec"]["template"]["metadata"]["annotations"] =
            json!({"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"});
        assert!(ids(&d, &[]).is_empty());
        d["spec"]["template"]["metadata"]["annotations"] =
            json!({"karpenter.sh/do-not-disrupt": "true"});
        assert_eq!(ids(&d, &[]), ["safe-to-evict"]);
        let mut job = testing::object(
            WorkloadKind::Job,
            "batch",
            json!({"app": "batch"}),
            json!({"restartPolicy": "Never", "containers": [{"name": "a", "image": "r/a:1"}]}),
        );
        job["spec"]["template"]["metadata"]["annotations"] =
            json!({"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"});
        assert!(ids(&job, &[]).is_empty());
    }
}

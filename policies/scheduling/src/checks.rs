//! The workload checks: pure functions over the workload view.

use std::collections::BTreeMap;

use prodready_sdk::k8s_openapi::api::core::v1 as core;
use prodready_sdk::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use prodready_sdk::{Cx, Findings, Object, Selector, Workload, WorkloadKind};
use serde::Deserialize;

use crate::settings::Settings;
use crate::{NO_CONTROL_PLANE, SPREAD_REPLICAS, SPREAD_VALID, TOLERATION_NEEDS_SELECTOR, priority};

/// The control-plane taint keys: kubeadm's, and the deprecated one it used before 1.24.
pub const CONTROL_PLANE_TAINTS: &[&str] = &[
    "node-role.kubernetes.io/control-plane",
    "node-role.kubernetes.io/master",
];

/// Taint keys set by Kubernetes components, cloud providers, autoscalers and CNIs for node
/// state, or that mark capacity a pod may opt into without being confined to it (spot and
/// preemptible nodes): none is a dedicated pool a toleration should come with a selector for.
const SYSTEM_TAINT_KEYS: &[&str] = &[
    "CriticalAddonsOnly",
    "ToBeDeletedByClusterAutoscaler",
    "DeletionCandidateOfClusterAutoscaler",
    "cloud.google.com/gke-spot",
    "cloud.google.com/gke-preemptible",
    "kubernetes.azure.com/scalesetpriority",
];

/// Key prefixes of the same kind: Karpenter's and Cilium's node-state taints.
const SYSTEM_TAINT_PREFIXES: &[&str] = &["karpenter.sh/", "node.cilium.io/"];

/// Whether a taint key is a system one: Kubernetes reserves the kubernetes.io and k8s.io
/// domains (node.kubernetes.io/*, node.cloudprovider.kubernetes.io/*, node-role.kubernetes.io/*
/// among them), plus the well-known keys above.
pub fn is_system_taint_key(key: &str) -> bool {
    if let Some((domain, _)) = key.split_once('/') {
        let reserved = |d: &str| d == "kubernetes.io" || d == "k8s.io";
        if reserved(domain) || domain.ends_with(".kubernetes.io") || domain.ends_with(".k8s.io") {
            return true;
        }
    }
    SYSTEM_TAINT_KEYS.contains(&key) || SYSTEM_TAINT_PREFIXES.iter().any(|p| key.starts_with(p))
}

/// A topologySpreadConstraint, read leniently so that a missing required field is this
/// rule's finding rather than a parse failure.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpreadConstraint {
    #[serde(default)]
    pub max_skew: Option<i64>,
    #[serde(default)]
    pub topology_key: Option<String>,
    #[serde(default)]
    pub when_unsatisfiable: Option<String>,
    #[serde(default)]
    pub label_selector: Option<LabelSelector>,
    #[serde(default)]
    pub min_domains: Option<i64>,
    #[serde(default)]
    pub node_affinity_policy: Option<String>,
    #[serde(default)]
    pub node_taints_policy: Option<String>,
    #[serde(default)]
    pub match_label_keys: Option<Vec<String>>,
}

/// The pod spec's topologySpreadConstraints, read from their JSON (the SDK's k8s-openapi
/// type requires the fields spread-valid reports missing).
fn spread_constraints(w: &Workload<'_>) -> Vec<SpreadConstraint> {
    let Some(raw) = w.spec.topology_spread_constraints.raw() else {
        return Vec::new();
    };
    if raw.get() == "null" {
        return Vec::new();
    }
    match serde_json::from_str(raw.get()) {
        Ok(list) => list,
        Err(e) => {
            prodready_sdk::lazy::record_failure(format!(
                "{} does not parse: {e}",
                w.path("topologySpreadConstraints")
            ));
            Vec::new()
        }
    }
}

pub fn check_workload(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let s = cx.settings;
    priority::priority_class(object, w, cx, out);
    let constraints = spread_constraints(w);
    spread_valid(w, &constraints, out);
    spread_replicas(w, &constraints, s, out);
    let tolerations = w
        .spec
        .tolerations
        .get_at(|| w.path("tolerations"))
        .map_or(&[][..], Vec::as_slice);
    toleration_needs_selector(w, tolerations, s, out);
    no_control_plane(object, w, tolerations, s, out);
}

pub fn spread_valid(w: &Workload<'_>, constraints: &[SpreadConstraint], out: &mut Findings) {
    for (i, c) in constraints.iter().enumerate() {
        let mut problems: Vec<String> = Vec::new();
        match c.max_skew {
            None => {
                problems.push("maxSkew is missing (it is required; 1 is the usual value)".into())
            }
            Some(n) if n <= 0 => problems.push(format!("maxSkew is {n} (it must be 1 or more)")),
            _ => {}
        }
        let key = c.topology_key.as_deref().unwrap_or_default();
        if key.is_empty() {
            problems.push(
                "topologyKey is empty (name a node label, e.g. kubernetes.io/hostname)".into(),
            );
        }
        let when = c.when_unsatisfiable.as_deref().unwrap_or_default();
        if when != "DoNotSchedule" && when != "ScheduleAnyway" {
            problems.push(if when.is_empty() {
                "whenUnsatisfiable is missing (DoNotSchedule or ScheduleAnyway)".to_string()
            } else {
                format!("whenUnsatisfiable is {when:?} (DoNotSchedule or ScheduleAnyway)")
            });
        } else if !key.is_empty()
            && constraints.iter().take(i).any(|o| {
                o.topology_key.as_deref() == Some(key)
                    && o.when_unsatisfiable.as_deref() == Some(when)
            })
        {
            problems.push(format!(
                "an earlier constraint already has topologyKey {key} with {when} (the pair must be unique)"
            ));
        }
        if let Some(m) = c.min_domains {
            if m <= 0 {
                problems.push(format!("minDomains is {m} (it must be 1 or more)"));
            } else if when == "ScheduleAnyway" {
                problems.push(
                    "minDomains is set with ScheduleAnyway (it is only allowed with DoNotSchedule)"
                        .into(),
                );
            }
        }
        for (field, value) in [
            ("nodeAffinityPolicy", &c.node_affinity_policy),
            ("nodeTaintsPolicy", &c.node_taints_policy),
        ] {
            if let Some(v) = value
                && v != "Honor"
                && v != "Ignore"
            {
                problems.push(format!("{field} is {v:?} (Honor or Ignore)"));
            }
        }
        let match_keys = c.match_label_keys.as_deref().unwrap_or_default();
        match &c.label_selector {
            None => {
                if match_keys.is_empty() {
                    problems.push("it has no labelSelector, so it counts no pods and spreads nothing (a nil selector matches no pod)".into());
                } else {
                    problems.push("matchLabelKeys is set without a labelSelector (the API server refuses it; and without a selector the constraint counts no pods)".into());
                }
            }
            Some(ls) => {
                let selector = Selector::from_label_selector(Some(ls));
                let in_selector: Vec<&str> = selector
                    .requirements()
                    .iter()
                    .map(|r| r.key())
                    .filter(|k| match_keys.iter().any(|m| m == k))
                    .collect();
                if let Some(k) = in_selector.first() {
                    problems.push(format!(
                        "matchLabelKeys repeats {k:?}, which labelSelector already matches (the API server refuses it)"
                    ));
                }
                // matchLabelKeys adds the pod's own values, which the pod always matches: whether
                // it counts itself is the labelSelector's to say.
                if !selector.matches(&w.pod_labels) {
                    problems.push(if selector.is_nothing() {
                        "its labelSelector is invalid and selects no pod".to_string()
                    } else {
                        format!(
                            "its labelSelector ({selector}) does not select the pod template's own labels, so the pods do not count themselves and are not spread"
                        )
                    });
                }
            }
        }
        if problems.is_empty() {
            continue;
        }
        out.report(
            &SPREAD_VALID,
            w.path(&format!("topologySpreadConstraints[{i}]")),
            format!(
                "topologySpreadConstraints[{i}]: {}. Fix the constraint so it spreads the pods (e.g. maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector matching the pod labels)",
                problems.join("; ")
            ),
        );
    }
}

fn anti_affinity_terms<'w>(w: &'w Workload<'_>) -> Vec<&'w core::PodAffinityTerm> {
    let Some(anti) = w
        .spec
        .affinity
        .get_at(|| w.path("affinity"))
        .and_then(|a| a.pod_anti_affinity.as_ref())
    else {
        return Vec::new();
    };
    anti.required_during_scheduling_ignored_during_execution
        .iter()
        .flatten()
        .chain(
            anti.preferred_during_scheduling_ignored_during_execution
                .iter()
                .flatten()
                .map(|p| &p.pod_affinity_term),
        )
        .collect()
}

pub fn spread_replicas(
    w: &Workload<'_>,
    constraints: &[SpreadConstraint],
    s: &Settings,
    out: &mut Findings,
) {
    let Some(replicas) = w.controller.effective_replicas() else {
        return;
    };
    if replicas < s.min_replicas {
        return;
    }
    let is_spread_key = |k: &str| s.spread_topology_keys.iter().any(|x| x == k);
    // A constraint on a spread key counts; whether its selector is right is spread-valid's.
    if constraints
        .iter()
        .any(|c| c.topology_key.as_deref().is_some_and(is_spread_key))
    {
        return;
    }
    let mut foreign = None;
    for t in anti_affinity_terms(w) {
        if !is_spread_key(&t.topology_key) {
            continue;
        }
        let selector = Selector::from_label_selector(t.label_selector.as_ref());
        if selector.matches(&w.pod_labels) {
            return;
        }
        foreign.get_or_insert((t.topology_key.clone(), selector));
    }
    let detail = match foreign {
        Some((key, selector)) => format!(
            "its podAntiAffinity term on {key} selects {selector}, not its own pods, so it does not keep its replicas apart"
        ),
        None => format!(
            "it has no podAntiAffinity term or topologySpreadConstraint on {}",
            s.spread_topology_keys.join(" or ")
        ),
    };
    out.report(
        &SPREAD_REPLICAS,
        w.path("topologySpreadConstraints"),
        format!(
            "{} {} replicas, but {detail}: the scheduler's default spreading is only a scoring preference, so replicas can land on one node or zone and fail together. Add a topologySpreadConstraint on kubernetes.io/hostname (and topology.kubernetes.io/zone) whose labelSelector matches the pod labels",
            w.kind.as_str(),
            if w.controller.replicas().is_some() { format!("runs {replicas}") } else { format!("runs {replicas} (default)") },
        ),
    );
}

/// Whether the pod asks for particular nodes: a nodeSelector beyond OS and architecture, or
/// node affinity (required or preferred).
fn selects_nodes(w: &Workload<'_>) -> bool {
    const GENERIC: &[&str] = &[
        "kubernetes.io/os",
        "kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/arch",
    ];
    let by_selector = w
        .spec
        .node_selector
        .get_at(|| w.path("nodeSelector"))
        .is_some_and(|m: &BTreeMap<String, String>| {
            m.keys().any(|k| !GENERIC.contains(&k.as_str()))
        });
    if by_selector {
        return true;
    }
    let Some(na) = w
        .spec
        .affinity
        .get_at(|| w.path("affinity"))
        .and_then(|a| a.node_affinity.as_ref())
    else {
        return false;
    };
    let required = na
        .required_during_scheduling_ignored_during_execution
        .as_ref()
        .is_some_and(|r| {
            r.node_selector_terms.iter().any(|t| {
                t.match_expressions
                    .iter()
                    .flatten()
                    .any(|e| !GENERIC.contains(&e.key.as_str()))
                    || t.match_fields.as_ref().is_some_and(|f| !f.is_empty())
            })
        });
    required
        || na
            .preferred_during_scheduling_ignored_during_execution
            .as_ref()
            .is_some_and(|p| !p.is_empty())
}

/// Whether a container requests or limits an extended resource of this name (`nvidia.com/gpu`):
/// only nodes offering it can take the pod, so the resource places it.
fn requests_resource(w: &Workload<'_>, name: &str) -> bool {
    w.all_containers().any(|c| {
        c.resources().is_some_and(|r| {
            r.requests.as_ref().is_some_and(|m| m.contains_key(name))
                || r.limits.as_ref().is_some_and(|m| m.contains_key(name))
        })
    })
}

pub fn toleration_needs_selector(
    w: &Workload<'_>,
    tolerations: &[core::Toleration],
    s: &Settings,
    out: &mut Findings,
) {
    // A DaemonSet tolerates pools to reach every node, not to be confined to one.
    if w.kind == WorkloadKind::DaemonSet || tolerations.is_empty() {
        return;
    }
    let dedicated: Vec<(usize, &str)> = tolerations
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let key = t.key.as_deref().filter(|k| !k.is_empty())?;
            let is_dedicated = s.dedicated_taint_keys.iter().any(|k| k == key)
                || (!is_system_taint_key(key)
                    && !s.ignored_taint_keys.iter().any(|k| k == key)
                    && !requests_resource(w, key));
            is_dedicated.then_some((i, key))
        })
        .collect();
    let Some((first, _)) = dedicated.first() else {
        return;
    };
    if selects_nodes(w) {
        return;
    }
    let keys: Vec<&str> = dedicated.iter().map(|(_, k)| *k).collect();
    out.report(
        &TOLERATION_NEEDS_SELECTOR,
        w.path(&format!("tolerations[{first}]")),
        format!(
            "the pods tolerate the taint {} but select no nodes: a toleration only lets them onto the dedicated nodes, it does not put them there, so they may land anywhere (and crowd out the pool's own workloads elsewhere). Add a nodeSelector or nodeAffinity for the pool's node label",
            keys.join(", ")
        ),
    );
}

/// Whether a toleration covers a NoSchedule taint of this key.
fn tolerates_no_schedule(t: &core::Toleration, key: &str) -> bool {
    let effect_ok = matches!(t.effect.as_deref(), None | Some("") | Some("NoSchedule"));
    let key_ok = match t.key.as_deref().filter(|k| !k.is_empty()) {
        // An empty key with Exists tolerates every taint.
        None => t.operator.as_deref() == Some("Exists"),
        Some(k) => k == key,
    };
    effect_ok && key_ok
}

pub fn no_control_plane(
    object: &Object<'_>,
    w: &Workload<'_>,
    tolerations: &[core::Toleration],
    s: &Settings,
    out: &mut Findings,
) {
    if w.kind == WorkloadKind::DaemonSet && !s.check_daemon_sets {
        return;
    }
    let ns = object.namespace().unwrap_or("default");
    if s.control_plane_namespaces.iter().any(|n| n == ns) {
        return;
    }
    let Some((i, t)) = tolerations.iter().enumerate().find(|(_, t)| {
        CONTROL_PLANE_TAINTS
            .iter()
            .any(|k| tolerates_no_schedule(t, k))
    }) else {
        return;
    };
    let path = w.path(&format!("tolerations[{i}]"));
    let kind = w.kind.as_str();
    let name = &object.reference.name;
    let allowed = s.control_plane_namespaces.join(", ");
    match t.key.as_deref().filter(|k| !k.is_empty()) {
        Some(k) => out.report(
            &NO_CONTROL_PLANE,
            path,
            format!(
                "{kind} {name} in namespace {ns} tolerates the control-plane taint {k}: its pods may be scheduled onto the nodes that run the API server and etcd, and compete with them for memory and CPU. Remove the toleration (only components of {allowed} belong there)"
            ),
        ),
        // Tolerating every taint is what infrastructure operators do that must run on any
        // node, the control plane included, before the cluster is ready (a CNI's operator):
        // the control-plane part may be incidental, so it is a warning.
        None => out.warn(
            &NO_CONTROL_PLANE,
            path,
            format!(
                "{kind} {name} in namespace {ns} tolerates every taint (operator Exists with no key), the control-plane taints included: its pods may be scheduled onto the nodes that run the API server and etcd. Unless it is an infrastructure component that must run on any node, tolerate only the taints it needs"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scheduling;
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    fn deploy(ns: &str, replicas: i64, pod_spec: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}}})
    }

    fn pod(extra: Value) -> Value {
        let mut p = json!({"priorityClassName": "app-high", "containers": [{"name": "web", "image": "r/web:1"}]});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    }

    fn spread() -> Value {
        json!([{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"app": "web"}}}])
    }

    fn ids(o: &Value, settings: Value) -> Vec<String> {
        let v = testing::evaluate::<Scheduling>(o, &settings);
        assert!(v.error.is_none(), "{:?}", v.error);
        testing::ids(&v).iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_spread_prioritised_deployment_passes() {
        let o = deploy(
            "shop",
            3,
            pod(json!({"topologySpreadConstraints": spread()})),
        );
        assert!(ids(&o, json!({})).is_empty());
    }

    #[test]
    fn replicas_must_spread() {
        let o = deploy("shop", 3, pod(json!({})));
        assert_eq!(ids(&o, json!({})), vec!["spread-replicas"]);
        assert!(ids(&deploy("shop", 1, pod(json!({}))), json!({})).is_empty());
        // Anti-affinity on the hostname that selects its own pods.
        let anti = json!({"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
            "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "web"}}}}]}});
        assert!(
            ids(
                &deploy("shop", 3, pod(json!({"affinity": anti}))),
                json!({})
            )
            .is_empty()
        );
        let foreign = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "db"}}}]}});
        let v = testing::evaluate::<Scheduling>(
            &deploy("shop", 3, pod(json!({"affinity": foreign}))),
            &json!({}),
        );
        assert_eq!(testing::ids(&v), vec!["spread-replicas"]);
        assert!(v.violations[0].message.contains("not its own pods"));
        // DaemonSets have no replicas.
        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "ops"},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod(json!({}))}}});
        assert!(ids(&ds, json!({})).is_empty());
    }

    #[test]
    fn spread_constraints_are_valid() {
        let case = |c: Value| {
            let o = deploy("shop", 1, pod(json!({"topologySpreadConstraints": [c]})));
            ids(&o, json!({}))
        };
        let base = json!({"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "web"}}});
        assert!(case(base.clone()).is_empty());
        let with = |k: &str, v: Value| {
            let mut c = base.clone();
            c[k] = v;
            c
        };
        let without = |k: &str| {
            let mut c = base.clone();
            c.as_object_mut().unwrap().remove(k);
            c
        };
        for bad in [
            with("maxSkew", json!(0)),
            without("maxSkew"),
            with("topologyKey", json!("")),
            with("whenUnsatisfiable", json!("Sometimes")),
            without("whenUnsatisfiable"),
            without("labelSelector"),
            with("labelSelector", json!({"matchLabels": {"app": "db"}})),
            with("minDomains", json!(0)),
            with("nodeTaintsPolicy", json!("Maybe")),
            with("matchLabelKeys", json!(["app"])),
        ] {
            assert_eq!(case(bad.clone()), vec!["spread-valid"], "{bad}");
        }
        let mut anyway = with("whenUnsatisfiable", json!("ScheduleAnyway"));
        anyway["minDomains"] = json!(2);
        assert_eq!(case(anyway), vec!["spread-valid"]);
        assert!(case(with("minDomains", json!(2))).is_empty());
        assert!(case(with("matchLabelKeys", json!(["pod-template-hash"]))).is_empty());
        assert!(case(with("labelSelector", json!({}))).is_empty());
        let mut nil_with_keys = without("labelSelector");
        nil_with_keys["matchLabelKeys"] = json!(["pod-template-hash"]);
        assert_eq!(case(nil_with_keys), vec!["spread-valid"]);
        // Duplicate key and whenUnsatisfiable.
        let o = deploy(
            "shop",
            1,
            pod(json!({"topologySpreadConstraints": [base.clone(), base]})),
        );
        assert_eq!(ids(&o, json!({})), vec!["spread-valid"]);
    }

    #[test]
    fn tolerations_need_a_selector() {
        let tol = json!([{"key": "dedicated", "operator": "Equal", "value": "batch", "effect": "NoSchedule"}]);
        let o = deploy("shop", 1, pod(json!({"tolerations": tol.clone()})));
        assert_eq!(ids(&o, json!({})), vec!["toleration-needs-selector"]);
        let placed = deploy(
            "shop",
            1,
            pod(json!({"tolerations": tol.clone(), "nodeSelector": {"pool": "batch"}})),
        );
        assert!(ids(&placed, json!({})).is_empty());
        let os_only = deploy(
            "shop",
            1,
            pod(json!({"tolerations": tol.clone(), "nodeSelector": {"kubernetes.io/os": "linux"}})),
        );
        assert_eq!(ids(&os_only, json!({})), vec!["toleration-needs-selector"]);
        let affinity = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch"]}]}]}}});
        assert!(
            ids(
                &deploy(
                    "shop",
                    1,
                    pod(json!({"tolerations": tol.clone(), "affinity": affinity}))
                ),
                json!({})
            )
            .is_empty()
        );
        assert!(ids(&o, json!({"ignoredTaintKeys": ["dedicated"]})).is_empty());
        // System taints, spot capacity, tolerate-all, a GPU the container requests.
        for t in [
            json!([{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]),
            json!([{"key": "CriticalAddonsOnly", "operator": "Exists"}]),
            json!([{"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]),
            json!([{"operator": "Exists"}]),
        ] {
            assert!(
                ids(
                    &deploy("kube-system", 1, pod(json!({"tolerations": t.clone()}))),
                    json!({})
                )
                .is_empty(),
                "{t}"
            );
        }
        let gpu = json!({"priorityClassName": "app-high", "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{"name": "train", "image": "r/t:1", "resources": {"limits": {"nvidia.com/gpu": 1}}}]});
        assert!(ids(&deploy("ml", 1, gpu), json!({})).is_empty());
        // DaemonSets are not checked.
        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "ops"},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod(json!({"tolerations": tol}))}}});
        assert!(ids(&ds, json!({})).is_empty());
    }

    #[test]
    fn control_plane_tolerations() {
        let cp = json!([{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
                        {"key": "node-role.kubernetes.io/master", "operator": "Exists", "effect": "NoSchedule"}]);
        let o = deploy("shop", 1, pod(json!({"tolerations": cp.clone()})));
        assert_eq!(ids(&o, json!({})), vec!["no-control-plane"]);
        assert!(
            ids(
                &deploy("kube-system", 1, pod(json!({"tolerations": cp.clone()}))),
                json!({})
            )
            .is_empty()
        );
        let all = deploy(
            "shop",
            1,
            pod(json!({"tolerations": [{"operator": "Exists"}]})),
        );
        let v = testing::evaluate::<Scheduling>(&all, &json!({}));
        assert_eq!(testing::ids(&v), vec!["no-control-plane"]);
        assert!(v.allowed);
        // NoExecute only does not tolerate the NoSchedule taint.
        let no_exec = deploy(
            "shop",
            1,
            pod(json!({"tolerations": [{"operator": "Exists", "effect": "NoExecute"}]})),
        );
        assert!(ids(&no_exec, json!({})).is_empty());
        let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "ops"},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": {"metadata": {"labels": {"app": "a"}}, "spec": pod(json!({"tolerations": cp}))}}});
        assert!(ids(&ds, json!({})).is_empty());
        assert_eq!(
            ids(&ds, json!({"checkDaemonSets": true})),
            vec!["no-control-plane"]
        );
    }

    #[test]
    fn system_taint_keys() {
        for k in [
            "node.kubernetes.io/unschedulable",
            "node.cloudprovider.kubernetes.io/uninitialized",
            "node-role.kubernetes.io/control-plane",
            "kubernetes.io/anything",
            "karpenter.sh/disruption",
            "ToBeDeletedByClusterAutoscaler",
            "node.cilium.io/agent-not-ready",
        ] {
            assert!(is_system_taint_key(k), "{k}");
        }
        for k in [
            "dedicated",
            "team.example.com/pool",
            "nvidia.com/gpu",
            "kubernetes.io.example.com/x",
        ] {
            assert!(!is_system_taint_key(k), "{k}");
        }
    }
}

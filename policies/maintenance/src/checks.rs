//! The checks: workloads (pdb-required, pdb-allows-drain's overlap case, min-replicas,
//! rolling-update, no-bare-pods) and PodDisruptionBudgets (pdb-has-policy, pdb-allows-drain).

use prodready_sdk::k8s::Controller;
use prodready_sdk::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use prodready_sdk::{ContextObject, Cx, Findings, Mode, Object, Workload, WorkloadKind};

use crate::settings::Settings;
use crate::{
    MIN_REPLICAS, NO_BARE_PODS, PDB_ALLOWS_DRAIN, PDB_HAS_POLICY, PDB_REQUIRED, ROLLING_UPDATE,
};
use prodready_sdk::availability::{
    Amount, Autoscaler, HpaIndex, PDB_GROUP, PDB_KIND, PdbObject, labels_text, pdb_selector,
    pdb_selector_of,
};

/// Annotations of pods nothing is expected to recreate: static pods' mirrors (the kubelet
/// owns them) and hook pods of Helm and Argo CD (one-off by design).
const UNMANAGED_BY_DESIGN: &[&str] = &[
    "kubernetes.io/config.mirror",
    "helm.sh/hook",
    "argocd.argoproj.io/hook",
];

pub fn check_workload(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    // A ReplicaSet a Deployment owns (what admission sees on its creation) has the
    // Deployment's replicas and budget: the Deployment is the object to report on.
    if w.kind == WorkloadKind::ReplicaSet && object.meta.controller_owner().is_some() {
        return;
    }
    let hpas = if cx.has_context() {
        HpaIndex::of(cx.context).targeting(
            object.namespace(),
            object.group(),
            &object.reference.kind,
            &object.reference.name,
        )
    } else {
        &[]
    };
    if cx.has_context() && w.kind != WorkloadKind::Pod {
        let pdbs = cx.context.selecting(
            PDB_GROUP,
            PDB_KIND,
            object.namespace(),
            &w.pod_labels,
            pdb_selector,
        );
        pdb_required(object, w, cx, hpas, &pdbs, out);
        pdbs_overlap(object, w, &pdbs, out);
    } else if matches!(w.kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet) {
        out.skip(
            &PDB_REQUIRED,
            "no context was given: the PodDisruptionBudgets that select the pods are unknown"
                .to_string(),
        );
    }
    min_replicas(object, w, cx, hpas, out);
    rolling_update(object, w, cx.settings, hpas, out);
    no_bare_pods(object, w, cx.mode, out);
}

fn replicas_text(w: &Workload<'_>) -> String {
    match w.controller.replicas() {
        Some(n) => format!("{n} replica{}", if n == 1 { "" } else { "s" }),
        None => "1 replica (spec.replicas is unset)".to_string(),
    }
}

fn hpa_names(hpas: &[Autoscaler]) -> String {
    hpas.iter()
        .map(|h| h.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// pdb-required: a replicated (or autoscaled) Deployment or StatefulSet is selected by a PDB.
pub fn pdb_required(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    hpas: &[Autoscaler],
    pdbs: &[&ContextObject],
    out: &mut Findings,
) {
    if !matches!(w.kind, WorkloadKind::Deployment | WorkloadKind::StatefulSet) || !pdbs.is_empty() {
        return;
    }
    let threshold = cx.settings.pdb_required_replicas;
    let replicas = w.controller.effective_replicas().unwrap_or(1);
    let scaled_to = hpas
        .iter()
        .map(|h| h.max_replicas.unwrap_or(i32::MAX))
        .max()
        .filter(|m| *m >= threshold);
    let why = match scaled_to {
        Some(_) => format!("is scaled by HorizontalPodAutoscaler {}", hpa_names(hpas)),
        None if hpas.is_empty() && replicas >= threshold => format!("runs {}", replicas_text(w)),
        None => return,
    };
    let message = format!(
        "{} {why}, and no PodDisruptionBudget in namespace {} selects its pods (labels {}): \
         add one whose selector matches these labels, with maxUnavailable: 1, so kubectl drain \
         and node upgrades evict its pods one at a time instead of all at once",
        object.display(),
        object.namespace().unwrap_or_default(),
        labels_text(&w.pod_labels)
    );
    let path = w.pod_metadata_path("labels");
    if cx.mode == Mode::Admission {
        // The PDB may come later in the same apply (kustomize orders PDBs after workloads).
        out.warn(
            &PDB_REQUIRED,
            path,
            format!("{message} (a warning at admission: the PodDisruptionBudget may be created after the workload in the same apply)"),
        );
    } else {
        out.report(&PDB_REQUIRED, path, message);
    }
}

/// pdb-allows-drain, on a workload: its pods are selected by more than one PDB, which the
/// Eviction API refuses outright.
pub fn pdbs_overlap(
    object: &Object<'_>,
    w: &Workload<'_>,
    pdbs: &[&ContextObject],
    out: &mut Findings,
) {
    if pdbs.len() < 2 {
        return;
    }
    let mut names: Vec<&str> = pdbs.iter().map(|p| p.name()).collect();
    // The same message whatever order the host passed the context in; and one PDB written
    // twice in a set (the same name in two files: the later apply replaces the earlier) is one
    // budget in the cluster, not two.
    names.sort_unstable();
    names.dedup();
    if names.len() < 2 {
        return;
    }
    out.report(
        &PDB_ALLOWS_DRAIN,
        w.pod_metadata_path("labels"),
        format!(
            "the pods of {} are selected by {} PodDisruptionBudgets ({}): the Eviction API refuses \
             to evict a pod that more than one budget covers, so kubectl drain never gets past \
             them; keep a single PodDisruptionBudget for these pods",
            object.display(),
            names.len(),
            names.join(", ")
        ),
    );
}

/// min-replicas: more than one replica, unless an HPA decides.
pub fn min_replicas(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    hpas: &[Autoscaler],
    out: &mut Findings,
) {
    if !w.controller.has_replicas_field() || cx.settings.min_replicas <= 1 {
        return;
    }
    let replicas = w.controller.replicas();
    // Scaled to zero on purpose: no pod to keep available.
    if replicas == Some(0) {
        return;
    }
    let effective = replicas.unwrap_or(1);
    if effective >= cx.settings.min_replicas {
        return;
    }
    if !cx.has_context() {
        out.skip(
            &MIN_REPLICAS,
            "no context was given: whether an HPA manages the replicas is unknown".to_string(),
        );
        return;
    }
    // hpa-min-max (scaling) holds an HPA's minReplicas to the same standard.
    if hpas.is_empty() {
        out.report(
            &MIN_REPLICAS,
            "spec.replicas".to_string(),
            format!(
                "{} runs {}: while its pod is drained, rescheduled or upgraded the workload is \
                 down; set spec.replicas to at least {} (or let an HPA with minReplicas of at \
                 least {} manage it)",
                object.display(),
                replicas_text(w),
                cx.settings.min_replicas,
                cx.settings.min_replicas
            ),
        );
    }
}

/// The replica count a Deployment's rollout is resolved against.
fn rollout_replicas(w: &Workload<'_>, hpas: &[Autoscaler]) -> i32 {
    match w.controller.replicas() {
        Some(n) => n,
        None => hpas.iter().map(|h| h.min_replicas).min().unwrap_or(1),
    }
}

/// A rolling update's value resolved as the Deployment controller does
/// (`GetScaledValueFromIntOrPercent`); `None` when the API server would refuse it.
fn scaled(
    v: Option<&IntOrString>,
    default_percent: i32,
    total: i32,
    round_up: bool,
) -> Option<i64> {
    let amount = match v {
        None => Amount::Percent(default_percent),
        Some(v) => match v {
            IntOrString::Int(n) if *n >= 0 => Amount::Count(*n),
            IntOrString::Int(_) => return None,
            // Deployments accept percentages above 100%.
            IntOrString::String(s) => {
                let digits = s.strip_suffix('%')?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                Amount::Percent(digits.parse().ok()?)
            }
        },
    };
    Some(match amount {
        Amount::Count(n) => i64::from(n),
        Amount::Percent(p) => {
            let product = i64::from(p).saturating_mul(i64::from(total.max(0)));
            if round_up {
                product.saturating_add(99) / 100
            } else {
                product / 100
            }
        }
    })
}

/// rolling-update.
pub fn rolling_update(
    object: &Object<'_>,
    w: &Workload<'_>,
    s: &Settings,
    hpas: &[Autoscaler],
    out: &mut Findings,
) {
    match &w.controller {
        Controller::Deployment(spec) => {
            // One replica is down for every restart whatever the strategy, and controllers
            // that must never run twice (external-dns, calico-kube-controllers) choose
            // Recreate or maxSurge 0 on purpose: that cause is min-replicas'.
            let replicas = rollout_replicas(w, hpas);
            if replicas < 2 {
                return;
            }
            let strategy = spec.strategy.get_at(|| "spec.strategy".to_string());
            let kind = strategy
                .and_then(|s| s.type_.as_deref())
                .unwrap_or("RollingUpdate");
            if kind == "Recreate" {
                // A ReadWriteOnce claim cannot be attached to the new pod while the old one
                // holds it: Recreate is the right strategy for such a Deployment.
                if w.volumes()
                    .any(|(_, v)| v.has_source("persistentVolumeClaim"))
                {
                    return;
                }
                out.report(
                    &ROLLING_UPDATE,
                    "spec.strategy.type".to_string(),
                    format!(
                        "{} uses strategy Recreate: every pod is stopped before the new ones \
                         start, so each rollout is an outage; use RollingUpdate (the default)",
                        object.display()
                    ),
                );
                return;
            }
            if kind != "RollingUpdate" {
                return;
            }
            let rolling = strategy.and_then(|s| s.rolling_update.as_ref());
            let (Some(surge), Some(mut unavailable)) = (
                scaled(
                    rolling.and_then(|r| r.max_surge.as_ref()),
                    25,
                    replicas,
                    true,
                ),
                scaled(
                    rolling.and_then(|r| r.max_unavailable.as_ref()),
                    25,
                    replicas,
                    false,
                ),
            ) else {
                return;
            };
            // The controller's fencepost: with neither surge nor unavailability, one pod may
            // be unavailable.
            if surge == 0 && unavailable == 0 {
                unavailable = 1;
            }
            if unavailable >= i64::from(replicas) {
                out.report(
                    &ROLLING_UPDATE,
                    "spec.strategy.rollingUpdate.maxUnavailable".to_string(),
                    format!(
                        "{}'s rollout may take {unavailable} of its {replicas} pods out of \
                         service at once (maxUnavailable resolves to {unavailable}), which is \
                         every pod; set maxUnavailable below {replicas}, e.g. maxUnavailable: 0 \
                         with maxSurge: 1",
                        object.display()
                    ),
                );
            }
        }
        Controller::StatefulSet(spec) => {
            let kind = spec
                .update_strategy
                .get_at(|| "spec.updateStrategy".to_string())
                .and_then(|u| u.type_.as_deref());
            on_delete(object, kind, s, out);
        }
        Controller::DaemonSet(spec) => {
            let kind = spec
                .update_strategy
                .get_at(|| "spec.updateStrategy".to_string())
                .and_then(|u| u.type_.as_deref());
            on_delete(object, kind, s, out);
        }
        _ => {}
    }
}

fn on_delete(object: &Object<'_>, kind: Option<&str>, s: &Settings, out: &mut Findings) {
    if kind != Some("OnDelete") || s.allow_on_delete {
        return;
    }
    out.report(
        &ROLLING_UPDATE,
        "spec.updateStrategy.type".to_string(),
        format!(
            "{} uses updateStrategy OnDelete: its pods keep the old template until someone \
             deletes them, so an upgrade never finishes on its own and is applied whenever a \
             drain happens to evict a pod; use RollingUpdate (or set allowOnDelete when pods are \
             replaced by hand on purpose)",
            object.display()
        ),
    );
}

/// no-bare-pods.
pub fn no_bare_pods(object: &Object<'_>, w: &Workload<'_>, mode: Mode, out: &mut Findings) {
    if w.kind != WorkloadKind::Pod {
        return;
    }
    let annotations = &object.meta.annotations;
    if UNMANAGED_BY_DESIGN
        .iter()
        .any(|a| annotations.contains_key(*a))
    {
        return;
    }
    let owner = object.meta.controller_owner();
    let message = match (mode, owner) {
        // Admission: pods created by a controller carry its ownerReference.
        (Mode::Admission, Some(_)) => return,
        (Mode::Admission, None) => format!(
            "{} has no controller ownerReference: kubectl drain refuses to evict it without \
             --force, and once it is deleted nothing recreates it on another node; run it as a \
             Deployment (or a Job for one-off work)",
            object.display()
        ),
        // A manifest set: a Pod written out is a bare pod whatever it says about owners
        // (the controller creates its own).
        (Mode::Manifest, _) => format!(
            "{} is a bare Pod: kubectl drain refuses to evict it without --force, and once it \
             is deleted nothing recreates it on another node; run it as a Deployment (or a Job \
             for one-off work)",
            object.display()
        ),
    };
    out.report(
        &NO_BARE_PODS,
        "metadata.ownerReferences".to_string(),
        message,
    );
}

// ---- PodDisruptionBudgets --------------------------------------------------------------------

pub fn check_pdb(object: &Object<'_>, pdb: &PdbObject, cx: &Cx<'_, Settings>, out: &mut Findings) {
    let spec = pdb.spec.as_ref();
    let min = spec.and_then(|s| s.min_available.as_ref());
    let max = spec.and_then(|s| s.max_unavailable.as_ref());
    let min_amount = min.map(Amount::parse);
    let max_amount = max.map(Amount::parse);
    let mut valid = true;
    for (field, value) in [
        ("minAvailable", &min_amount),
        ("maxUnavailable", &max_amount),
    ] {
        if let Some(Err(why)) = value {
            valid = false;
            out.report(
                &PDB_HAS_POLICY,
                format!("spec.{field}"),
                format!(
                    "{}: {field} {why}, which the API server refuses; write \
                     an integer of 0 or more, or a percentage up to \"100%\"",
                    object.display()
                ),
            );
        }
    }
    match (&min_amount, &max_amount) {
        (Some(_), Some(_)) => {
            out.report(
                &PDB_HAS_POLICY,
                "spec.maxUnavailable".to_string(),
                format!(
                    "{} sets both minAvailable and maxUnavailable, which the \
                     API server refuses (they are mutually exclusive); keep one, e.g. \
                     maxUnavailable: 1",
                    object.display()
                ),
            );
        }
        (None, None) => {
            out.report(
                &PDB_HAS_POLICY,
                "spec".to_string(),
                format!(
                    "{} sets neither minAvailable nor maxUnavailable: the \
                     disruption controller then expects no pods and allows no disruption, so \
                     every eviction of the pods it selects is refused and kubectl drain hangs; \
                     set maxUnavailable: 1 (or a minAvailable)",
                    object.display()
                ),
            );
        }
        (Some(Ok(m)), None) if valid => allows_drain_min(object, pdb, *m, cx, out),
        (None, Some(Ok(m))) if valid && m.is_zero() => {
            out.report(
                &PDB_ALLOWS_DRAIN,
                "spec.maxUnavailable".to_string(),
                format!(
                    "{} sets maxUnavailable {m}: no pod it selects can ever \
                     be evicted, so every kubectl drain of their nodes hangs; allow at least one \
                     disruption, e.g. maxUnavailable: 1",
                    object.display()
                ),
            );
        }
        _ => {}
    }
}

/// The kinds whose replica count a budget is compared with; other workloads a PDB selects
/// (DaemonSets) make the count unknown.
fn counted(o: &ContextObject) -> Option<Option<i32>> {
    let w = o.workload()?;
    match w.kind {
        WorkloadKind::Deployment
        | WorkloadKind::StatefulSet
        | WorkloadKind::ReplicationController => Some(w.effective_replicas),
        // Owned ReplicaSets are counted through their Deployment.
        WorkloadKind::ReplicaSet if o.meta.controller_owner().is_none() => {
            Some(w.effective_replicas)
        }
        WorkloadKind::DaemonSet => Some(None),
        // Pods, owned ReplicaSets, Jobs: not read at admission, so not counted here either.
        _ => None,
    }
}

fn allows_drain_min(
    object: &Object<'_>,
    pdb: &PdbObject,
    min: Amount,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    if min == Amount::Percent(100) {
        out.report(
            &PDB_ALLOWS_DRAIN,
            "spec.minAvailable".to_string(),
            format!(
                "{} sets minAvailable \"100%\": no pod it selects can ever \
                 be evicted, so every kubectl drain of their nodes hangs; allow at least one \
                 disruption, e.g. maxUnavailable: 1",
                object.display()
            ),
        );
        return;
    }
    if !cx.has_context() {
        return;
    }
    let version = prodready_sdk::object::split_api_version(&object.reference.api_version).1;
    let selector = pdb_selector_of(version, pdb.spec.as_ref());
    let selected = cx
        .context
        .workloads_selected_by(object.namespace(), &selector);
    let index = HpaIndex::of(cx.context);
    let mut total: i64 = 0;
    // Sorted (the same message whatever order the host passed the context in), and a workload
    // written twice in a set counted once.
    let mut names = std::collections::BTreeSet::new();
    for o in selected {
        let Some(count) = counted(o) else {
            continue;
        };
        // A DaemonSet's pod count is its node count, unknown here.
        let Some(replicas) = count else {
            return;
        };
        // An autoscaled workload's replicas are the HPA's: hpa-pdb-consistent compares the
        // budget with minReplicas.
        if !index
            .targeting(o.namespace(), o.group(), &o.kind, o.name())
            .is_empty()
        {
            return;
        }
        if names.insert(o.display()) {
            total = total.saturating_add(i64::from(replicas));
        }
    }
    if names.is_empty() || total <= 0 {
        return;
    }
    let total_i32 = i32::try_from(total).unwrap_or(i32::MAX);
    let needed = min.scaled_up(total_i32);
    if needed >= total {
        out.report(
            &PDB_ALLOWS_DRAIN,
            "spec.minAvailable".to_string(),
            format!(
                "{} keeps minAvailable {min} ({needed} pod{}) of the {total} \
                 that {} run{}: no pod can ever be evicted, so kubectl drain hangs on their \
                 nodes; set minAvailable below {total}, or use maxUnavailable: 1",
                object.display(),
                if needed == 1 { "" } else { "s" },
                names
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(" and "),
                if names.len() == 1 { "s" } else { "" },
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Maintenance;
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    fn deployment(name: &str, replicas: Option<i32>, labels: Value) -> Value {
        let mut d = testing::object(
            WorkloadKind::Deployment,
            name,
            labels,
            json!({"containers": [{"name": "app", "image": "r/app:1"}]}),
        );
        if let Some(r) = replicas {
            d["spec"]["replicas"] = json!(r);
        }
        d
    }

    fn pdb(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
               "metadata": {"name": name, "namespace": "shop"}, "spec": spec})
    }

    fn hpa(name: &str, target: &str, min: i32, max: i32) -> Value {
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
               "metadata": {"name": name, "namespace": "shop"},
               "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                        "minReplicas": min, "maxReplicas": max}})
    }

    fn ids_in(object: &Value, settings: Value, context: &[Value]) -> Vec<String> {
        let v = testing::evaluate_in::<Maintenance>(object, &settings, context);
        assert!(v.error.is_none(), "{:?}", v.error);
        v.violations.iter().map(|x| x.check.clone()).collect()
    }

    fn ids(object: &Value, context: &[Value]) -> Vec<String> {
        ids_in(object, json!({}), context)
    }

    #[test]
    fn pdb_required_for_replicated_or_autoscaled_workloads() {
        let web = deployment("web", Some(3), json!({"app": "web"}));
        assert_eq!(ids(&web, &[]), ["pdb-required"]);
        let covered = pdb(
            "web",
            json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}),
        );
        assert!(ids(&web, std::slice::from_ref(&covered)).is_empty());
        // A PDB of another namespace does not cover it.
        let mut elsewhere = covered.clone();
        elsewhere["metadata"]["namespace"] = json!("ops");
        assert_eq!(ids(&web, &[elsewhere]), ["pdb-required"]);
        // policy/v1 `{}` selects every pod of the namespace; v1beta1 `{}` selects none.
        assert!(
            ids(
                &web,
                &[pdb("all", json!({"maxUnavailable": 1, "selector": {}}))]
            )
            .is_empty()
        );
        let mut beta = pdb("all", json!({"maxUnavailable": 1, "selector": {}}));
        beta["apiVersion"] = json!("policy/v1beta1");
        assert_eq!(ids(&web, &[beta]), ["pdb-required"]);
        // A nil selector selects nothing.
        assert_eq!(
            ids(&web, &[pdb("nil", json!({"maxUnavailable": 1}))]),
            ["pdb-required"]
        );
        // One replica: no budget needed (min-replicas warns instead).
        let single = deployment("single", Some(1), json!({"app": "single"}));
        assert_eq!(ids(&single, &[]), ["min-replicas"]);
        // Autoscaled without spec.replicas: required.
        let scaled = deployment("api", None, json!({"app": "api"}));
        assert_eq!(ids(&scaled, &[hpa("api", "api", 2, 10)]), ["pdb-required"]);
        // An HPA that never goes past one replica does not make it required.
        assert!(ids(&scaled, &[hpa("api", "api", 1, 1)]).is_empty());
    }

    #[test]
    fn pdb_required_is_skipped_without_context_and_warns_at_admission() {
        let web = deployment("web", Some(3), json!({"app": "web"}));
        let v = testing::evaluate::<Maintenance>(&web, &json!({}));
        assert!(v.violations.is_empty(), "{:?}", v.violations);
        let skipped: Vec<&str> = v.skipped_checks.iter().map(|s| s.check.as_str()).collect();
        assert_eq!(skipped, ["pdb-required"]);
        let single = deployment("web", Some(1), json!({"app": "web"}));
        let v = testing::evaluate::<Maintenance>(&single, &json!({}));
        let skipped: Vec<&str> = v.skipped_checks.iter().map(|s| s.check.as_str()).collect();
        assert_eq!(skipped, ["pdb-required", "min-replicas"]);
        let v = testing::evaluate_with::<Maintenance>(
            &web,
            &json!({}),
            Some(&[]),
            prodready_sdk::Mode::Admission,
        );
        assert_eq!(testing::ids(&v), ["pdb-required"]);
        assert!(v.allowed, "a warning at admission");
    }

    #[test]
    fn overlapping_pdbs_block_every_eviction() {
        let web = deployment("web", Some(3), json!({"app": "web", "tier": "front"}));
        let a = pdb(
            "a",
            json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}),
        );
        let b = pdb(
            "b",
            json!({"maxUnavailable": 1, "selector": {"matchLabels": {"tier": "front"}}}),
        );
        assert_eq!(ids(&web, &[a.clone(), b]), ["pdb-allows-drain"]);
        // The same PDB written in two files of the set is one budget in the cluster.
        assert!(ids(&web, &[a.clone(), a]).is_empty());
    }

    #[test]
    fn pdb_policies() {
        let sel = json!({"matchLabels": {"app": "web"}});
        let check = |spec: Value| ids(&pdb("p", spec), &[]);
        assert!(check(json!({"maxUnavailable": 1, "selector": sel})).is_empty());
        assert!(check(json!({"minAvailable": "50%", "selector": sel})).is_empty());
        assert_eq!(check(json!({"selector": sel})), ["pdb-has-policy"]);
        assert_eq!(
            check(json!({"minAvailable": 1, "maxUnavailable": 1, "selector": sel})),
            ["pdb-has-policy"]
        );
        assert_eq!(
            check(json!({"minAvailable": "50", "selector": sel})),
            ["pdb-has-policy"]
        );
        assert_eq!(
            check(json!({"maxUnavailable": "150%", "selector": sel})),
            ["pdb-has-policy"]
        );
        assert_eq!(
            check(json!({"maxUnavailable": 0, "selector": sel})),
            ["pdb-allows-drain"]
        );
        assert_eq!(
            check(json!({"maxUnavailable": "0%", "selector": sel})),
            ["pdb-allows-drain"]
        );
        assert_eq!(
            check(json!({"minAvailable": "100%", "selector": sel})),
            ["pdb-allows-drain"]
        );
        // Without a spec at all.
        let bare = json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "p"}});
        assert_eq!(ids(&bare, &[]), ["pdb-has-policy"]);
        // A float is not an IntOrString: the object does not parse.
        let v =
            testing::evaluate::<Maintenance>(&pdb("p", json!({"minAvailable": 1.5})), &json!({}));
        assert!(v.error.is_some());
    }

    #[test]
    fn min_available_against_the_selected_replicas() {
        let sel = json!({"matchLabels": {"app": "web"}});
        let p = |min: Value| pdb("p", json!({"minAvailable": min, "selector": sel}));
        let web3 = deployment("web", Some(3), json!({"app": "web"}));
        assert!(ids(&p(json!(2)), std::slice::from_ref(&web3)).is_empty());
        assert_eq!(
            ids(&p(json!(3)), std::slice::from_ref(&web3)),
            ["pdb-allows-drain"]
        );
        assert_eq!(
            ids(&p(json!(5)), std::slice::from_ref(&web3)),
            ["pdb-allows-drain"]
        );
        // 67% of 3 rounds up to 3.
        assert_eq!(
            ids(&p(json!("67%")), std::slice::from_ref(&web3)),
            ["pdb-allows-drain"]
        );
        assert!(ids(&p(json!("66%")), std::slice::from_ref(&web3)).is_empty());
        // Without the workload, or with no context: nothing to compare with.
        assert!(ids(&p(json!(3)), &[]).is_empty());
        assert!(
            testing::evaluate::<Maintenance>(&p(json!(3)), &json!({}))
                .violations
                .is_empty()
        );
        // Two Deployments selected: their replicas add up.
        let web_b = deployment("web-b", Some(2), json!({"app": "web"}));
        assert!(ids(&p(json!(3)), &[web3.clone(), web_b]).is_empty());
        // Scaled to zero: nothing to drain.
        let parked = deployment("web", Some(0), json!({"app": "web"}));
        assert!(ids(&p(json!(1)), &[parked]).is_empty());
        // Autoscaled: hpa-pdb-consistent's to judge.
        let scaled = deployment("web", Some(3), json!({"app": "web"}));
        assert!(ids(&p(json!(3)), &[scaled, hpa("web", "web", 3, 6)]).is_empty());
        // A DaemonSet's pod count is unknown.
        let ds = testing::object(
            WorkloadKind::DaemonSet,
            "agent",
            json!({"app": "web"}),
            json!({"containers": [{"name": "a", "image": "r/a:1"}]}),
        );
        assert!(ids(&p(json!(3)), &[web3, ds]).is_empty());
    }

    #[test]
    fn min_replicas_unless_autoscaled() {
        let one = deployment("web", Some(1), json!({"app": "web"}));
        assert_eq!(ids(&one, &[]), ["min-replicas"]);
        let unset = deployment("web", None, json!({"app": "web"}));
        assert_eq!(ids(&unset, &[]), ["min-replicas"]);
        assert_eq!(ids(&unset, &[hpa("web", "web", 2, 5)]), ["pdb-required"]);
        // An HPA of another target, or an HPA without apiVersion (the controller cannot
        // resolve it), does not manage it.
        assert_eq!(
            ids(&unset, &[hpa("other", "other", 2, 5)]),
            ["min-replicas"]
        );
        let mut no_group = hpa("web", "web", 2, 5);
        no_group["spec"]["scaleTargetRef"]
            .as_object_mut()
            .unwrap()
            .remove("apiVersion");
        assert_eq!(ids(&unset, &[no_group]), ["min-replicas"]);
        let parked = deployment("web", Some(0), json!({"app": "web"}));
        assert!(ids(&parked, &[]).is_empty());
        assert!(ids_in(&one, json!({"minReplicas": 1}), &[]).is_empty());
        // StatefulSets and ReplicationControllers too; not DaemonSets.
        let rc = testing::object(
            WorkloadKind::ReplicationController,
            "legacy",
            json!({"app": "legacy"}),
            json!({"containers": [{"name": "a", "image": "r/a:1"}]}),
        );
        assert_eq!(ids(&rc, &[]), ["min-replicas"]);
    }

    #[test]
    fn rolling_updates() {
        let with = |strategy: Value, replicas: Option<i32>| {
            let mut d = deployment("web", replicas, json!({"app": "web"}));
            d["spec"]["strategy"] = strategy;
            let cover = pdb(
                "web",
                json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "web"}}}),
            );
            ids(&d, &[cover])
        };
        assert!(with(json!({"type": "RollingUpdate"}), Some(3)).is_empty());
        assert!(with(json!({}), Some(3)).is_empty());
        assert_eq!(
            with(json!({"type": "Recreate"}), Some(3)),
            ["rolling-update"]
        );
        assert_eq!(
            with(json!({"rollingUpdate": {"maxUnavailable": 3}}), Some(3)),
            ["rolling-update"]
        );
        assert_eq!(
            with(
                json!({"rollingUpdate": {"maxUnavailable": "100%"}}),
                Some(4)
            ),
            ["rolling-update"]
        );
        assert!(with(json!({"rollingUpdate": {"maxUnavailable": "50%"}}), Some(3)).is_empty());
        // One replica: whatever the strategy, that cause is min-replicas'.
        assert_eq!(
            with(json!({"rollingUpdate": {"maxSurge": 0}}), Some(1)),
            ["min-replicas"]
        );
        assert_eq!(with(json!({"type": "Recreate"}), Some(1)), ["min-replicas"]);
        // Two replicas, no surge: the fencepost allows one unavailable pod, not both.
        assert!(
            with(
                json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
                Some(2)
            )
            .is_empty()
        );
        assert_eq!(
            with(
                json!({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 2}}),
                Some(2)
            ),
            ["rolling-update"]
        );
        // Recreate with a claim: the right strategy for a ReadWriteOnce volume.
        let mut db = deployment("db", Some(2), json!({"app": "db"}));
        db["spec"]["strategy"] = json!({"type": "Recreate"});
        db["spec"]["template"]["spec"]["volumes"] =
            json!([{"name": "data", "persistentVolumeClaim": {"claimName": "db"}}]);
        let cover = pdb(
            "db",
            json!({"maxUnavailable": 1, "selector": {"matchLabels": {"app": "db"}}}),
        );
        assert!(ids(&db, &[cover]).is_empty());
    }

    #[test]
    fn on_delete_unless_allowed() {
        let mut ds = testing::object(
            WorkloadKind::DaemonSet,
            "agent",
            json!({"app": "agent"}),
            json!({"containers": [{"name": "a", "image": "r/a:1"}]}),
        );
        ds["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
        assert_eq!(ids(&ds, &[]), ["rolling-update"]);
        assert!(ids_in(&ds, json!({"allowOnDelete": true}), &[]).is_empty());
        ds["spec"]["updateStrategy"] = json!({"type": "RollingUpdate"});
        assert!(ids(&ds, &[]).is_empty());
    }

    #[test]
    fn bare_pods() {
        let pod = testing::object(
            WorkloadKind::Pod,
            "debug",
            json!({"run": "debug"}),
            json!({"containers": [{"name": "a", "image": "r/a:1"}]}),
        );
        assert_eq!(ids(&pod, &[]), ["no-bare-pods"]);
        let mut owned = pod.clone();
        owned["metadata"]["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6d4f", "uid": "1", "controller": true}]);
        // In a manifest set, a Pod is a bare pod whatever it says.
        assert_eq!(ids(&owned, &[]), ["no-bare-pods"]);
        let admit = |o: &Value| {
            testing::ids(&testing::evaluate_with::<Maintenance>(
                o,
                &json!({}),
                Some(&[]),
                prodready_sdk::Mode::Admission,
            ))
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
        };
        assert!(admit(&owned).is_empty());
        assert_eq!(admit(&pod), ["no-bare-pods"]);
        // An owner that is not the controller: drain treats the pod as unmanaged.
        let mut weak = pod.clone();
        weak["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "1"}]);
        assert_eq!(admit(&weak), ["no-bare-pods"]);
        let mut hook = pod.clone();
        hook["metadata"]["annotations"] = json!({"helm.sh/hook": "test"});
        assert!(ids(&hook, &[]).is_empty());
        let mut mirror = pod;
        mirror["metadata"]["annotations"] = json!({"kubernetes.io/config.mirror": "abc"});
        assert!(admit(&mirror).is_empty());
    }
}

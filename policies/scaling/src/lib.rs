//! Rule 11 of the talk, scaling (summary slide 81: "get the most out of autoscaling with HPA
//! and Cluster Autoscaler"): an HPA scales a workload that exists, between a minimum that
//! survives a drain and a maximum above it, from utilisation it can compute (every container
//! requests the resource); nothing re-applies a replica count over the autoscaler's, no
//! PodDisruptionBudget forbids evictions at the HPA's minimum, and pods do not block the
//! cluster autoscaler's scale-down without a reason.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod checks;
pub mod settings;

use prodready_sdk::metadata::{
    CRON_JOB, DAEMON_SET, DEPLOYMENT, JOB, POD, REPLICA_SET, REPLICATION_CONTROLLER, STATEFUL_SET,
};
use prodready_sdk::{
    CREATE_UPDATE, Check, ContextResource, Cx, Findings, Object, Resource, Rule, RuleInfo, Severity,
};

use prodready_sdk::availability::{HPA, HpaObject, PDB};
pub use settings::Settings;

pub const HPA_REPLICAS_CONFLICT: Check = Check {
    id: "hpa-replicas-conflict",
    severity: Severity::Error,
    description: "A workload an HPA scales does not set spec.replicas in its manifest (every kubectl apply, Helm upgrade or GitOps sync would reset the autoscaler's count).",
    remediation: "Remove spec.replicas from the manifest of a workload an HPA scales (e.g. template it only when autoscaling is off), so applying the manifest leaves the replica count to the HPA.",
    context: "Reads the HPAs of the workload's namespace (scaleTargetRef: group, kind and name); skipped without context. Skipped at admission: the API server always sets spec.replicas on the stored object, so a request cannot tell whether the manifest wrote it.",
};

pub const HPA_MIN_MAX: Check = Check {
    id: "hpa-min-max",
    severity: Severity::Error,
    description: "An HPA's minReplicas (1 when unset) is at least the setting minReplicas, and its maxReplicas is above its minReplicas.",
    remediation: "Set minReplicas to at least the configured minimum (2 by default) and maxReplicas above it, so the workload survives a drain at low load and can still scale up.",
    context: "",
};

pub const HPA_TARGET_EXISTS: Check = Check {
    id: "hpa-target-exists",
    severity: Severity::Error,
    description: "An HPA's scaleTargetRef names a scalable workload of the set (group from apiVersion, kind and name, in the HPA's namespace).",
    remediation: "Point scaleTargetRef at the workload to scale, with its apiVersion (e.g. apps/v1), kind and name, in the HPA's namespace.",
    context: "Reads the Deployments, StatefulSets, ReplicaSets and ReplicationControllers of the HPA's namespace; targets of other kinds (custom resources with a scale subresource) are skipped unless found in the set; skipped without context. At admission it reads them from the cluster, and a missing target is a warning, not a denial: Helm creates HPAs before StatefulSets.",
};

pub const HPA_TARGET_REQUESTS: Check = Check {
    id: "hpa-target-requests",
    severity: Severity::Error,
    description: "For each Resource or ContainerResource metric with a Utilization target (and autoscaling/v1's CPU target, and the default 80% CPU target when no metric is set), every container the HPA measures (app containers and native sidecars, or the one named) requests that resource.",
    remediation: "Set resources.requests for the metric's resource on every container of the target's pods (a limit alone counts: the API server copies it to the request), or use an AverageValue target, which needs no request.",
    context: "Reads the target workload's containers and resources; skipped without context or when the target is not in the set (hpa-target-exists reports that). At admission it reads the target from the cluster.",
};

pub const HPA_PDB_CONSISTENT: Check = Check {
    id: "hpa-pdb-consistent",
    severity: Severity::Error,
    description: "No PodDisruptionBudget over an HPA's target keeps minAvailable pods available that are not below the HPA's minReplicas (at that size no pod could be evicted).",
    remediation: "Keep the PodDisruptionBudget's minAvailable below the HPA's minReplicas (or use maxUnavailable: 1), or raise minReplicas above it.",
    context: "Reads the HPA's target and the PodDisruptionBudgets that select its pods (and the workloads each selects); skipped without context or when the target is not in the set. At admission it reads them from the cluster; a PDB created after the HPA is not compared.",
};

pub const SAFE_TO_EVICT: Check = Check {
    id: "safe-to-evict",
    severity: Severity::Warning,
    description: "Long-running pods do not carry cluster-autoscaler.kubernetes.io/safe-to-evict: \"false\" (or Karpenter's karpenter.sh/do-not-disrupt: \"true\"), which keeps their node from being scaled down, outside the setting safeToEvictNamespaces.",
    remediation: "Remove the annotation and protect the pods with a PodDisruptionBudget instead, or list the namespace in safeToEvictNamespaces when it must keep its nodes.",
    context: "",
};

pub const CHECKS: &[Check] = &[
    HPA_REPLICAS_CONFLICT,
    HPA_MIN_MAX,
    HPA_TARGET_EXISTS,
    HPA_TARGET_REQUESTS,
    HPA_PDB_CONSISTENT,
    SAFE_TO_EVICT,
];

const RESOURCES: &[Resource] = &[
    POD,
    REPLICATION_CONTROLLER,
    DEPLOYMENT,
    STATEFUL_SET,
    DAEMON_SET,
    REPLICA_SET,
    JOB,
    CRON_JOB,
    HPA,
];

/// HPAs and PDBs, and the kinds an HPA can scale (with their pod templates).
const CONTEXT: &[ContextResource] = &[
    ContextResource::new(HPA, &["spec"]),
    ContextResource::new(PDB, &["spec"]),
    ContextResource::new(DEPLOYMENT, &["spec"]),
    ContextResource::new(STATEFUL_SET, &["spec"]),
    ContextResource::new(REPLICA_SET, &["spec"]),
    ContextResource::new(REPLICATION_CONTROLLER, &["spec"]),
];

pub struct Scaling;

impl Rule for Scaling {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 11,
        id: "scaling",
        title: "Scaling",
        description: "HPAs scale an existing workload from utilisation they can compute, between a minimum that survives a drain and a maximum above it, without manifests resetting their replica count or budgets pinning their minimum, and pods let the cluster autoscaler remove nodes.",
        slide: "Scaling (section 11; summary slide 81)",
        checks: CHECKS,
        resources: RESOURCES,
        context: CONTEXT,
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        if let Some(w) = object.workload() {
            checks::check_workload(object, w, cx, out);
        } else if object.is(
            prodready_sdk::availability::HPA_GROUP,
            prodready_sdk::availability::HPA_KIND,
        ) {
            let hpa: HpaObject = object.parse()?;
            checks::check_hpa(object, &hpa, cx, out);
        }
        Ok(())
    }
}

prodready_sdk::export_rule!(Scaling);

#[cfg(test)]
mod tests;

//! Rule 8 of the talk, maintenance (slides 43-44): `kubectl drain` evicts every pod of a node
//! through the Eviction API, which honours PodDisruptionBudgets, and upgrades roll pods over.
//! So a replicated workload is covered by one PodDisruptionBudget that states a policy a drain
//! can satisfy, runs more than one replica, rolls out without stopping every pod, and no pod
//! runs bare where nothing recreates it after a drain.
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
    DAEMON_SET, DEPLOYMENT, POD, REPLICA_SET, REPLICATION_CONTROLLER, STATEFUL_SET,
};
use prodready_sdk::{
    CREATE_UPDATE, Check, ContextResource, Cx, Findings, Object, Resource, Rule, RuleInfo, Severity,
};

use prodready_sdk::availability::{HPA, PDB, PdbObject};
pub use settings::Settings;

pub const PDB_REQUIRED: Check = Check {
    id: "pdb-required",
    severity: Severity::Error,
    description: "A Deployment or StatefulSet with at least pdbRequiredReplicas replicas, or scaled by an HPA up to that many, is selected by a PodDisruptionBudget of its namespace.",
    remediation: "Add a PodDisruptionBudget in the workload's namespace whose selector matches its pod template's labels, with maxUnavailable: 1 (or a minAvailable below the replica count), so drains and upgrades evict its pods one at a time.",
    context: "Reads the PodDisruptionBudgets of the workload's namespace (selectors as policy/v1 and v1beta1 evaluate them) and the HPAs that target it; skipped without context. At admission it reads them from the cluster, and a missing PDB is a warning, not a denial: kustomize and kubectl apply create a workload before the PDB of the same apply.",
};

pub const PDB_HAS_POLICY: Check = Check {
    id: "pdb-has-policy",
    severity: Severity::Error,
    description: "A PodDisruptionBudget sets exactly one of minAvailable and maxUnavailable, to an integer of 0 or more or a percentage up to 100%.",
    remediation: "Set either maxUnavailable (e.g. 1) or minAvailable, not both: the API server refuses both, and with neither the disruption controller allows no eviction at all.",
    context: "",
};

pub const PDB_ALLOWS_DRAIN: Check = Check {
    id: "pdb-allows-drain",
    severity: Severity::Error,
    description: "A PodDisruptionBudget lets a drain evict a pod: not maxUnavailable 0 or \"0%\" nor minAvailable \"100%\"; with context, minAvailable is below the replica count of the workloads it selects (HPA-scaled ones are hpa-pdb-consistent's), and no workload's pods are selected by two PodDisruptionBudgets.",
    remediation: "Allow at least one disruption: maxUnavailable: 1, or a minAvailable below the replica count; keep one PodDisruptionBudget per workload.",
    context: "Reads the workloads a PodDisruptionBudget selects (Deployments, StatefulSets, ReplicaSets, ReplicationControllers, DaemonSets) and the HPAs that target them, and the PodDisruptionBudgets that select a workload's pods; without context only the budget's own values are checked. At admission it reads them from the cluster; a PDB created before its workload (as Helm orders them) is compared with nothing.",
};

pub const MIN_REPLICAS: Check = Check {
    id: "min-replicas",
    severity: Severity::Warning,
    description: "A Deployment, StatefulSet, ReplicaSet or ReplicationController that no HPA manages runs at least minReplicas replicas (spec.replicas defaults to 1).",
    remediation: "Set spec.replicas to at least minReplicas (or let an HPA with minReplicas of at least that many manage the workload), so a drain, an upgrade or a node failure does not take the whole workload down.",
    context: "Reads the HPAs of the workload's namespace to know whether one manages it; skipped without context. At admission it reads them from the cluster (an HPA created after its workload, as Helm orders them, is not seen yet: the finding is only a warning).",
};

pub const ROLLING_UPDATE: Check = Check {
    id: "rolling-update",
    severity: Severity::Warning,
    description: "A Deployment of two or more replicas rolls out with RollingUpdate (Recreate stops every pod first; accepted when its pods mount a PersistentVolumeClaim) and a maxUnavailable below its replica count; a DaemonSet or StatefulSet does not use OnDelete unless allowOnDelete.",
    remediation: "Use strategy.type RollingUpdate with maxUnavailable below the replica count (e.g. maxUnavailable: 0 and maxSurge: 1); for DaemonSets and StatefulSets use updateStrategy.type RollingUpdate.",
    context: "Reads the HPA that scales a Deployment whose spec.replicas is unset, for the replica count maxUnavailable is resolved against; without one, 1 (the API default).",
};

pub const NO_BARE_PODS: Check = Check {
    id: "no-bare-pods",
    severity: Severity::Warning,
    description: "Pods are run by a controller: in a manifest set no kind: Pod; at admission, a Pod has a controller ownerReference (mirror pods and Helm or Argo CD hook pods excepted).",
    remediation: "Run the pod as a Deployment (or a StatefulSet, or a Job for work that finishes), so it is recreated on another node when a drain evicts it.",
    context: "",
};

pub const CHECKS: &[Check] = &[
    PDB_REQUIRED,
    PDB_HAS_POLICY,
    PDB_ALLOWS_DRAIN,
    MIN_REPLICAS,
    ROLLING_UPDATE,
    NO_BARE_PODS,
];

/// What the rule evaluates: the workloads with a pod template it checks, and PDBs.
const RESOURCES: &[Resource] = &[
    POD,
    REPLICATION_CONTROLLER,
    DEPLOYMENT,
    STATEFUL_SET,
    DAEMON_SET,
    REPLICA_SET,
    PDB,
];

/// What it reads of other objects: PDBs and HPAs, and the workloads whose replicas a PDB is
/// compared with (not Pods or Jobs: a budget over them is not counted here).
const CONTEXT: &[ContextResource] = &[
    ContextResource::new(PDB, &["spec"]),
    ContextResource::new(HPA, &["spec"]),
    ContextResource::new(DEPLOYMENT, &["spec"]),
    ContextResource::new(STATEFUL_SET, &["spec"]),
    ContextResource::new(REPLICA_SET, &["spec"]),
    ContextResource::new(REPLICATION_CONTROLLER, &["spec"]),
    ContextResource::new(DAEMON_SET, &["spec"]),
];

pub struct Maintenance;

impl Rule for Maintenance {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 8,
        id: "maintenance",
        title: "Maintenance",
        description: "Replicated workloads are covered by one PodDisruptionBudget that a drain can satisfy, run more than one replica, roll out without stopping every pod, and no pod runs where nothing recreates it after a drain.",
        slide: "slides 43-44",
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
            prodready_sdk::availability::PDB_GROUP,
            prodready_sdk::availability::PDB_KIND,
        ) {
            let pdb: PdbObject = object.parse()?;
            checks::check_pdb(object, &pdb, cx, out);
        }
        Ok(())
    }
}

prodready_sdk::export_rule!(Maintenance);

#[cfg(test)]
mod tests;

//! Rule 10 of the talk, scheduling (slides 54-56): pods carry a priority the platform
//! defines (and system priorities stay with system components), PriorityClasses do not set
//! off preemption cascades, replicas spread across nodes and zones with constraints that
//! actually count them, and workloads are separated into node pools by tolerations that come
//! with a selector — never onto the control plane.
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
pub mod priority;
pub mod settings;

use prodready_sdk::{
    CREATE_UPDATE, Check, ContextResource, Cx, Findings, Object, Resource, Rule, RuleInfo,
    Severity, metadata,
};

pub use settings::Settings;

/// The core/v1 ResourceQuota: one scoped to the system PriorityClasses is how a cluster
/// operator lets a namespace use them (priority-class).
pub const RESOURCE_QUOTA: Resource =
    Resource::namespaced("", &["v1"], "ResourceQuota", "resourcequotas");

/// The cluster-scoped PriorityClass (scheduling.k8s.io; v1beta1 in old manifests).
pub const PRIORITY_CLASS: Resource = Resource::cluster(
    "scheduling.k8s.io",
    &["v1", "v1beta1"],
    "PriorityClass",
    "priorityclasses",
);

pub const PRIORITY_CLASS_CHECK: Check = Check {
    id: "priority-class",
    severity: Severity::Error,
    description: "Pods set a priorityClassName (warning), in allowedPriorityClasses when that is non-empty (warning), naming a PriorityClass that exists when the set or cluster defines PriorityClasses (warning); system-cluster-critical and system-node-critical only in systemPriorityNamespaces or a namespace whose ResourceQuota admits them (error).",
    remediation: "Set spec.priorityClassName to one of the platform's PriorityClasses; leave system-cluster-critical and system-node-critical to the components of systemPriorityNamespaces (or admit them in the namespace with a ResourceQuota scoped to that PriorityClass, as the cluster operator's choice).",
    context: "Reads the PriorityClasses of the manifest set (at admission, every PriorityClass of the cluster) to tell whether the named class exists and whether a globalDefault class gives unclassed pods a priority (the classes built into Kubernetes always exist), and the ResourceQuotas of the workload's namespace: one scoped to a system PriorityClass admits it there. Without them in the context, only the name and the namespace are checked.",
};

pub const PREEMPTION_SAFE: Check = Check {
    id: "preemption-safe",
    severity: Severity::Error,
    description: "A PriorityClass has a value of at most 1,000,000,000 and no reserved `system-` name (error: the API server refuses them); above preemptingThreshold it sets preemptionPolicy: Never (warning); it is not globalDefault (warning).",
    remediation: "Keep user classes at or below 1000000000 without the system- prefix; give high classes preemptionPolicy: Never unless evicting lower-priority pods is intended; set priorityClassName on workloads instead of a globalDefault class.",
    context: "",
};

pub const SPREAD_REPLICAS: Check = Check {
    id: "spread-replicas",
    severity: Severity::Warning,
    description: "A workload with at least minReplicas replicas spreads them: a podAntiAffinity term or a topologySpreadConstraint on one of spreadTopologyKeys (node hostname, zone) that selects its own pods.",
    remediation: "Add a topologySpreadConstraint on kubernetes.io/hostname (and topology.kubernetes.io/zone) whose labelSelector matches the pod template's labels, or a preferred podAntiAffinity term on kubernetes.io/hostname.",
    context: "",
};

pub const SPREAD_VALID: Check = Check {
    id: "spread-valid",
    severity: Severity::Error,
    description: "Each topologySpreadConstraint has maxSkew > 0, a topologyKey, whenUnsatisfiable DoNotSchedule or ScheduleAnyway (unique per topologyKey), a labelSelector that selects the pod template's own labels, and valid minDomains, matchLabelKeys and node policies.",
    remediation: "Fix the constraint: maxSkew 1 or more, a topologyKey such as kubernetes.io/hostname, whenUnsatisfiable DoNotSchedule or ScheduleAnyway, and a labelSelector matching the pod template's labels (without one the constraint counts no pods and spreads nothing).",
    context: "",
};

pub const TOLERATION_NEEDS_SELECTOR: Check = Check {
    id: "toleration-needs-selector",
    severity: Severity::Warning,
    description: "A pod that tolerates a dedicated-pool taint (a key outside node.kubernetes.io/*, the cloud providers' and autoscalers' system taints and ignoredTaintKeys, or one of dedicatedTaintKeys) also selects nodes with nodeSelector or nodeAffinity: a toleration only permits, it does not place. DaemonSets are not checked.",
    remediation: "Add a nodeSelector (or nodeAffinity) for the pool's node label next to the toleration, so the pods run on the dedicated nodes and not merely may.",
    context: "",
};

pub const NO_CONTROL_PLANE: Check = Check {
    id: "no-control-plane",
    severity: Severity::Error,
    description: "Outside controlPlaneNamespaces, no workload tolerates the control-plane taints node-role.kubernetes.io/control-plane or /master by key (error); a toleration of every taint covers them too (warning: the pattern of infrastructure operators that must run on any node). DaemonSets are node agents and not checked unless checkDaemonSets is true.",
    remediation: "Remove the toleration for node-role.kubernetes.io/control-plane (and /master, or the tolerate-everything toleration), so the pods stay off the nodes that run the API server and etcd.",
    context: "",
};

pub struct Scheduling;

impl Rule for Scheduling {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 10,
        id: "scheduling",
        title: "Scheduling",
        description: "Pods carry a platform-defined priority (system priorities stay in system namespaces), PriorityClasses do not set off preemption cascades, replicas spread over nodes and zones with valid constraints, tolerations come with a node selector, and nothing but system components tolerates the control plane.",
        slide: "slides 54-56",
        checks: &[
            PRIORITY_CLASS_CHECK,
            PREEMPTION_SAFE,
            SPREAD_REPLICAS,
            SPREAD_VALID,
            TOLERATION_NEEDS_SELECTOR,
            NO_CONTROL_PLANE,
        ],
        resources: &[
            metadata::POD,
            metadata::REPLICATION_CONTROLLER,
            metadata::DEPLOYMENT,
            metadata::STATEFUL_SET,
            metadata::DAEMON_SET,
            metadata::REPLICA_SET,
            metadata::JOB,
            metadata::CRON_JOB,
            PRIORITY_CLASS,
        ],
        context: &[
            ContextResource::new(
                PRIORITY_CLASS,
                &["value", "globalDefault", "preemptionPolicy"],
            ),
            ContextResource::new(RESOURCE_QUOTA, &["spec"]),
        ],
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        if let Some(workload) = object.workload() {
            checks::check_workload(object, workload, cx, out);
            return Ok(());
        }
        if object.is(PRIORITY_CLASS.group, PRIORITY_CLASS.kind) {
            let pc: priority::PriorityClassView = object.parse()?;
            priority::preemption_safe(object, &pc, cx.settings, out);
        }
        Ok(())
    }
}

prodready_sdk::export_rule!(Scheduling);

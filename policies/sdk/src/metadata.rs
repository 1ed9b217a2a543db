//! What a rule says about itself. One source of truth: the CLI's `rules` listing, docs/checks.md
//! and the bundles for other engines are all generated from this.

use serde::Serialize;

use crate::verdict::Severity;

/// A check: the unit users see, exempt, and re-grade. Its `id` is a stable contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub severity: Severity,
    /// One line: what the check wants.
    pub description: &'static str,
    /// One or two sentences: how to fix a violation. Ends with a period.
    pub remediation: &'static str,
    /// For a check that reads other objects: what it reads, and what it does when they are
    /// not there (at admission they come from the cluster: Kubewarden lists them, Gatekeeper
    /// syncs them). Empty for a check of the object alone. Ends with a period.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub context: &'static str,
}

/// Whether objects of a kind live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// An API resource, in the terms admission rules use: a kind of one group, in one or more
/// versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// API group, `""` for the core group; `"*"` for every group.
    pub group: &'static str,
    /// The versions the rule reads, the served one first (what admission-time hosts list
    /// from the cluster); older ones are still read in manifest sets. `["*"]`: any version.
    pub versions: &'static [&'static str],
    /// `"*"` for every kind.
    pub kind: &'static str,
    /// The plural resource name, as admission rules and RBAC spell it.
    pub resource: &'static str,
    pub scope: Scope,
}

impl Resource {
    /// A namespaced kind.
    pub const fn namespaced(
        group: &'static str,
        versions: &'static [&'static str],
        kind: &'static str,
        resource: &'static str,
    ) -> Resource {
        Resource {
            group,
            versions,
            kind,
            resource,
            scope: Scope::Namespaced,
        }
    }

    /// A cluster-scoped kind (PriorityClass, ClusterRole, StorageClass, ...).
    pub const fn cluster(
        group: &'static str,
        versions: &'static [&'static str],
        kind: &'static str,
        resource: &'static str,
    ) -> Resource {
        Resource {
            group,
            versions,
            kind,
            resource,
            scope: Scope::Cluster,
        }
    }

    /// The served version: the first one listed.
    pub fn preferred_version(&self) -> &'static str {
        self.versions.first().copied().unwrap_or("v1")
    }

    /// `apps/v1` or `v1`, with the preferred version.
    pub fn api_version(&self) -> String {
        join_api_version(self.group, self.preferred_version())
    }

    /// Every apiVersion the rule reads, in order.
    pub fn api_versions(&self) -> Vec<String> {
        self.versions
            .iter()
            .map(|v| join_api_version(self.group, v))
            .collect()
    }

    /// Whether an object of this group, version and kind is one of these.
    pub fn matches(&self, group: &str, version: &str, kind: &str) -> bool {
        (self.group == "*" || self.group == group)
            && (self.kind == "*" || self.kind == kind)
            && self.versions.iter().any(|v| *v == "*" || *v == version)
    }

    /// Whether objects of this group and kind are these, whatever the version.
    pub fn is(&self, group: &str, kind: &str) -> bool {
        (self.group == "*" || self.group == group) && (self.kind == "*" || self.kind == kind)
    }

    pub fn is_namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }
}

/// `apps` + `v1` → `apps/v1`; `""` + `v1` → `v1`.
pub fn join_api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// A kind a rule reads from the context, and which of its top-level fields it reads (besides
/// `apiVersion`, `kind` and `metadata`'s name, namespace, labels, annotations and
/// ownerReferences, which are always kept). Hosts that copy objects into a smaller store
/// (Gatekeeper's Rego, building the provider's key) keep exactly these; a field written
/// `data:keys` keeps the keys of a map and drops its values (a Secret's or ConfigMap's data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContextResource {
    pub resource: Resource,
    pub fields: &'static [&'static str],
    pub listing: Listing,
}

/// Where an admission-time host lists a context kind from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Listing {
    /// Namespaced kinds in the request's namespace; cluster-scoped kinds cluster-wide.
    Namespace,
    /// Every namespace (a check comparing objects across namespaces: Ingress hosts).
    AllNamespaces,
    /// Not at admission: read in manifest sets only (an API no cluster serves any more, such
    /// as extensions/v1beta1 Ingresses, which a list request would fail on).
    ManifestOnly,
}

impl ContextResource {
    pub const fn new(resource: Resource, fields: &'static [&'static str]) -> ContextResource {
        ContextResource {
            resource,
            fields,
            listing: Listing::Namespace,
        }
    }

    /// Listed from every namespace at admission.
    pub const fn all_namespaces(self) -> ContextResource {
        ContextResource {
            listing: Listing::AllNamespaces,
            ..self
        }
    }

    /// Read in manifest sets only, never listed at admission.
    pub const fn manifest_only(self) -> ContextResource {
        ContextResource {
            listing: Listing::ManifestOnly,
            ..self
        }
    }
}

pub const POD: Resource = Resource::namespaced("", &["v1"], "Pod", "pods");
pub const REPLICATION_CONTROLLER: Resource = Resource::namespaced(
    "",
    &["v1"],
    "ReplicationController",
    "replicationcontrollers",
);
pub const DEPLOYMENT: Resource = Resource::namespaced("apps", &["v1"], "Deployment", "deployments");
pub const STATEFUL_SET: Resource =
    Resource::namespaced("apps", &["v1"], "StatefulSet", "statefulsets");
pub const DAEMON_SET: Resource = Resource::namespaced("apps", &["v1"], "DaemonSet", "daemonsets");
pub const REPLICA_SET: Resource =
    Resource::namespaced("apps", &["v1"], "ReplicaSet", "replicasets");
pub const JOB: Resource = Resource::namespaced("batch", &["v1"], "Job", "jobs");
pub const CRON_JOB: Resource = Resource::namespaced("batch", &["v1"], "CronJob", "cronjobs");

/// Pod and every controller that carries a pod template.
pub const WORKLOADS: &[Resource] = &[
    POD,
    REPLICATION_CONTROLLER,
    DEPLOYMENT,
    STATEFUL_SET,
    DAEMON_SET,
    REPLICA_SET,
    JOB,
    CRON_JOB,
];

/// Every workload kind as a context resource, with the fields workload views read
/// (`spec`: replicas, selector, the pod template).
pub const WORKLOAD_CONTEXT: &[ContextResource] = &[
    ContextResource::new(POD, &["spec"]),
    ContextResource::new(REPLICATION_CONTROLLER, &["spec"]),
    ContextResource::new(DEPLOYMENT, &["spec"]),
    ContextResource::new(STATEFUL_SET, &["spec"]),
    ContextResource::new(DAEMON_SET, &["spec"]),
    ContextResource::new(REPLICA_SET, &["spec"]),
    ContextResource::new(JOB, &["spec"]),
    ContextResource::new(CRON_JOB, &["spec"]),
];

/// Static description of a rule, written once in the rule crate.
#[derive(Debug, Clone, Copy)]
pub struct RuleInfo {
    /// The rule's number in the talk, 1 to 15.
    pub number: u8,
    pub id: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// Where in the talk the rule comes from, e.g. `slides 34-36`.
    pub slide: &'static str,
    pub checks: &'static [Check],
    /// Kinds the rule evaluates.
    pub resources: &'static [Resource],
    /// Kinds the rule reads from the context (other objects of the manifest set, or of the
    /// cluster at admission) for cross-object checks, and the fields it reads of them.
    pub context: &'static [ContextResource],
    /// Admission operations the rule wants.
    pub operations: &'static [&'static str],
}

impl RuleInfo {
    pub fn check(&self, id: &str) -> Option<&'static Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Whether the rule evaluates objects of this group, version and kind.
    pub fn handles(&self, group: &str, version: &str, kind: &str) -> bool {
        self.resources
            .iter()
            .any(|r| r.matches(group, version, kind))
    }

    /// Whether the rule reads objects of this group, version and kind from the context.
    pub fn reads_context(&self, group: &str, version: &str, kind: &str) -> bool {
        self.context
            .iter()
            .any(|c| c.resource.matches(group, version, kind))
    }
}

/// The `metadata` export's JSON.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub abi_version: u32,
    pub number: u8,
    pub id: &'static str,
    pub version: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub slide: &'static str,
    pub checks: &'static [Check],
    pub resources: Vec<ResourceRule>,
    pub context_resources: Vec<ContextResourceMeta>,
    pub settings_schema: serde_json::Value,
}

/// One admission rule: like Kubernetes' `RuleWithOperations`, plus the kinds and whether they
/// are namespaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRule {
    pub api_groups: Vec<&'static str>,
    pub api_versions: Vec<&'static str>,
    pub resources: Vec<&'static str>,
    pub kinds: Vec<&'static str>,
    pub operations: Vec<&'static str>,
    /// `Namespaced`, `Cluster`, or `*` when the rule mixes both.
    pub scope: &'static str,
}

/// A context resource in the metadata JSON. `apiVersion` is the served (preferred) version,
/// which admission-time hosts list from the cluster; `apiVersions` every version read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextResourceMeta {
    pub api_version: String,
    pub api_versions: Vec<String>,
    pub kind: &'static str,
    pub resource: &'static str,
    pub namespaced: bool,
    pub fields: &'static [&'static str],
    /// `namespace` (default), `allNamespaces`, or `manifestOnly` (never listed at admission).
    pub listing: Listing,
}

fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::Namespaced => "Namespaced",
        Scope::Cluster => "Cluster",
    }
}

impl Metadata {
    pub fn new(
        info: &RuleInfo,
        version: &'static str,
        settings_schema: serde_json::Value,
    ) -> Metadata {
        // One ResourceRule per (group, versions), in first-seen order.
        let mut rules: Vec<ResourceRule> = Vec::new();
        for r in info.resources {
            match rules
                .iter_mut()
                .find(|x| x.api_groups == [r.group] && x.api_versions == r.versions)
            {
                Some(rule) => {
                    rule.resources.push(r.resource);
                    rule.kinds.push(r.kind);
                    if rule.scope != scope_name(r.scope) {
                        rule.scope = "*";
                    }
                }
                None => rules.push(ResourceRule {
                    api_groups: vec![r.group],
                    api_versions: r.versions.to_vec(),
                    resources: vec![r.resource],
                    kinds: vec![r.kind],
                    operations: info.operations.to_vec(),
                    scope: scope_name(r.scope),
                }),
            }
        }
        Metadata {
            abi_version: crate::ABI_VERSION,
            number: info.number,
            id: info.id,
            version,
            title: info.title,
            description: info.description,
            slide: info.slide,
            checks: info.checks,
            resources: rules,
            context_resources: info
                .context
                .iter()
                .map(|c| ContextResourceMeta {
                    api_version: c.resource.api_version(),
                    api_versions: c.resource.api_versions(),
                    kind: c.resource.kind,
                    resource: c.resource.resource,
                    namespaced: c.resource.is_namespaced(),
                    fields: c.fields,
                    listing: c.listing,
                })
                .collect(),
            settings_schema,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDB: Resource = Resource::namespaced(
        "policy",
        &["v1", "v1beta1"],
        "PodDisruptionBudget",
        "poddisruptionbudgets",
    );

    #[test]
    fn resources_match_every_version_they_list() {
        assert!(PDB.matches("policy", "v1", "PodDisruptionBudget"));
        assert!(PDB.matches("policy", "v1beta1", "PodDisruptionBudget"));
        assert!(!PDB.matches("policy", "v2", "PodDisruptionBudget"));
        assert!(!PDB.matches("apps", "v1", "PodDisruptionBudget"));
        assert_eq!(PDB.api_version(), "policy/v1");
        assert_eq!(PDB.api_versions(), ["policy/v1", "policy/v1beta1"]);
        let any = Resource::namespaced("*", &["*"], "*", "*");
        assert!(any.matches("extensions", "v1beta1", "Ingress"));
        let hpa = Resource::namespaced(
            "autoscaling",
            &["*"],
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
        );
        assert!(hpa.matches("autoscaling", "v2beta2", "HorizontalPodAutoscaler"));
        assert!(hpa.is("autoscaling", "HorizontalPodAutoscaler"));
    }
}

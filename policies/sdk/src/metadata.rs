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
}

/// An API resource a rule evaluates, in the terms admission rules use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resource {
    /// API group, `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The plural resource name, as admission rules and RBAC spell it.
    pub resource: &'static str,
}

impl Resource {
    pub const fn new(
        group: &'static str,
        version: &'static str,
        kind: &'static str,
        resource: &'static str,
    ) -> Resource {
        Resource {
            group,
            version,
            kind,
            resource,
        }
    }

    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// Pod and every controller that carries a pod template.
pub const WORKLOADS: &[Resource] = &[
    Resource::new("", "v1", "Pod", "pods"),
    Resource::new("", "v1", "ReplicationController", "replicationcontrollers"),
    Resource::new("apps", "v1", "Deployment", "deployments"),
    Resource::new("apps", "v1", "StatefulSet", "statefulsets"),
    Resource::new("apps", "v1", "DaemonSet", "daemonsets"),
    Resource::new("apps", "v1", "ReplicaSet", "replicasets"),
    Resource::new("batch", "v1", "Job", "jobs"),
    Resource::new("batch", "v1", "CronJob", "cronjobs"),
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
    /// Kinds the rule reads from the context (other objects of the manifest set) for
    /// cross-object checks.
    pub context: &'static [Resource],
    /// Admission operations the rule wants.
    pub operations: &'static [&'static str],
}

impl RuleInfo {
    pub fn check(&self, id: &str) -> Option<&'static Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Whether the rule evaluates objects of this group and kind.
    pub fn handles(&self, group: &str, kind: &str) -> bool {
        self.resources
            .iter()
            .any(|r| r.group == group && r.kind == kind)
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
    pub context_resources: Vec<ContextResource>,
    pub settings_schema: serde_json::Value,
}

/// One admission rule: like Kubernetes' `RuleWithOperations`, plus the kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRule {
    pub api_groups: Vec<&'static str>,
    pub api_versions: Vec<&'static str>,
    pub resources: Vec<&'static str>,
    pub kinds: Vec<&'static str>,
    pub operations: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextResource {
    pub api_version: String,
    pub kind: &'static str,
}

impl Metadata {
    pub fn new(
        info: &RuleInfo,
        version: &'static str,
        settings_schema: serde_json::Value,
    ) -> Metadata {
        // One ResourceRule per (group, version), in first-seen order.
        let mut rules: Vec<ResourceRule> = Vec::new();
        for r in info.resources {
            match rules
                .iter_mut()
                .find(|x| x.api_groups == [r.group] && x.api_versions == [r.version])
            {
                Some(rule) => {
                    rule.resources.push(r.resource);
                    rule.kinds.push(r.kind);
                }
                None => rules.push(ResourceRule {
                    api_groups: vec![r.group],
                    api_versions: vec![r.version],
                    resources: vec![r.resource],
                    kinds: vec![r.kind],
                    operations: info.operations.to_vec(),
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
                .map(|r| ContextResource {
                    api_version: r.api_version(),
                    kind: r.kind,
                })
                .collect(),
            settings_schema,
        }
    }
}

//! What a rule module says about itself (its `prodready_metadata` export, docs/abi.md): the
//! rule, its checks, the kinds it evaluates and the kinds it reads as context.

use serde::{Deserialize, Serialize};

/// One check, as the metadata export describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckMeta {
    pub id: String,
    pub severity: prodready_sdk::Severity,
    pub description: String,
    pub remediation: String,
    /// For a check that reads other objects: what it reads and what it does without them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRuleMeta {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub kinds: Vec<String>,
    pub operations: Vec<String>,
    /// `Namespaced`, `Cluster` or `*`; absent in modules built before it existed.
    #[serde(default = "any_scope")]
    pub scope: String,
}

fn any_scope() -> String {
    "*".to_string()
}

/// A kind the module reads from the context (docs/abi.md §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextResourceMeta {
    /// The served version, listed from a cluster at admission.
    pub api_version: String,
    /// Every apiVersion read (`group/*` for any version); defaults to `apiVersion` alone.
    #[serde(default)]
    pub api_versions: Vec<String>,
    pub kind: String,
    /// The plural resource name (RBAC, Gatekeeper's sync); may be absent in old modules.
    #[serde(default)]
    pub resource: String,
    #[serde(default = "yes")]
    pub namespaced: bool,
    /// The top-level fields the module reads (besides apiVersion, kind and metadata).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Where admission-time hosts list it: `namespace`, `allNamespaces`, or `manifestOnly`
    /// (never listed at admission).
    #[serde(default = "namespace_listing")]
    pub listing: String,
}

fn namespace_listing() -> String {
    "namespace".to_string()
}

fn yes() -> bool {
    true
}

impl ContextResourceMeta {
    /// Whether admission-time hosts list it at all.
    pub fn at_admission(&self) -> bool {
        self.listing != "manifestOnly"
    }

    /// Whether admission-time hosts list it from every namespace.
    pub fn all_namespaces(&self) -> bool {
        self.listing == "allNamespaces"
    }

    /// The API group, from `apiVersion`.
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// Every apiVersion read.
    pub fn versions(&self) -> Vec<&str> {
        if self.api_versions.is_empty() {
            vec![self.api_version.as_str()]
        } else {
            self.api_versions.iter().map(String::as_str).collect()
        }
    }

    /// Whether an object of this apiVersion and kind is one of these.
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        if self.kind != kind {
            return false;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.versions().iter().any(|av| {
            let (g, v) = av.rsplit_once('/').unwrap_or(("", av));
            g == group && (v == "*" || v == version)
        })
    }
}

/// The `prodready_metadata` export's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleMetadata {
    pub abi_version: u32,
    pub number: u8,
    pub id: String,
    pub version: String,
    pub title: String,
    pub description: String,
    pub slide: String,
    pub checks: Vec<CheckMeta>,
    pub resources: Vec<ResourceRuleMeta>,
    #[serde(default)]
    pub context_resources: Vec<ContextResourceMeta>,
    pub settings_schema: serde_json::Value,
}

impl ModuleMetadata {
    /// Whether the module evaluates objects of this group, version and kind (`*` matches
    /// any).
    pub fn handles(&self, group: &str, version: &str, kind: &str) -> bool {
        let any = |list: &[String], x: &str| list.iter().any(|v| v == "*" || v == x);
        self.resources.iter().any(|r| {
            any(&r.api_groups, group) && any(&r.api_versions, version) && any(&r.kinds, kind)
        })
    }

    /// The context kinds admission-time hosts list (every one but the manifest-only ones).
    pub fn admission_context(&self) -> Vec<&ContextResourceMeta> {
        self.context_resources
            .iter()
            .filter(|c| c.at_admission())
            .collect()
    }

    /// Whether the module reads objects of this apiVersion and kind from the context.
    pub fn wants_context(&self, api_version: &str, kind: &str) -> bool {
        self.context_resources
            .iter()
            .any(|c| c.matches(api_version, kind))
    }
}

use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::pss::{Level, PssVersion};

/// An RBAC subject, as a (Cluster)RoleBinding names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SubjectPattern {
    /// `ServiceAccount`, `User` or `Group`.
    pub kind: String,
    /// The subject's name; `*` matches every name (of that kind, in that namespace).
    pub name: String,
    /// For a ServiceAccount: its namespace (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl SubjectPattern {
    /// Whether a binding's subject (kind, name, resolved namespace) is this one.
    pub fn matches(&self, kind: &str, name: &str, namespace: Option<&str>) -> bool {
        self.kind == kind
            && (self.name == "*" || self.name == name)
            && (kind != "ServiceAccount" || self.namespace.as_deref() == namespace)
    }
}

/// Settings of the security rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Pod Security Standards level whose controls are errors: `privileged` (none),
    /// `baseline` or `restricted` — what a namespace's `pod-security.kubernetes.io/enforce`
    /// label would say.
    pub enforce: Level,
    /// Level whose controls, beyond the enforced ones, are warnings (the
    /// `pod-security.kubernetes.io/warn` label).
    pub warn: Level,
    /// Version of the standard: `latest` or `v1.N`, as the `-version` labels spell it.
    pub version: PssVersion,
    /// Read `pod-security.kubernetes.io/*` labels of the workload's Namespace (when the set or
    /// the cluster has it) as Pod Security Admission does: they replace the three settings
    /// above for that namespace.
    pub namespace_labels: bool,
    /// Namespaces the Pod Security controls do not apply in (Pod Security Admission's
    /// `exemptions.namespaces`).
    pub exempt_namespaces: Vec<String>,
    /// Pods with these `runtimeClassName`s are exempt from the Pod Security controls
    /// (`exemptions.runtimeClasses`).
    pub exempt_runtime_classes: Vec<String>,
    /// host-path: hostPath volumes whose path is one of these or below one (on a `/`
    /// boundary) are allowed. Pod Security Admission allows none; empty by default.
    pub allowed_host_paths: Vec<String>,
    /// host-ports: host ports allowed. Pod Security Admission allows none; empty by default.
    pub allowed_host_ports: Vec<i32>,
    /// service-account-token: ServiceAccounts (other than `default`) whose pods call the API
    /// and may mount a token: `name`, `namespace/name`, or `*` for every dedicated one.
    pub api_service_accounts: Vec<String>,
    /// rbac-escalation: subjects that may hold escalation-prone permissions. A role is not
    /// reported when every subject bound to it (in the set, or the cluster at admission) is
    /// one of these.
    pub allowed_subjects: Vec<SubjectPattern>,
    /// network-policy-coverage: also require a NetworkPolicy that covers egress.
    pub require_egress: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // The choice and Kubernetes' advice for most namespaces: baseline stops
            // the known privilege escalations, and a stock public chart meets it.
            enforce: Level::Baseline,
            // What restricted asks is worth knowing, but many images cannot meet it yet.
            warn: Level::Restricted,
            // The Kubernetes version the project targets (as ci-cd's kubernetesVersion).
            version: PssVersion::minor(33),
            // A namespace labelled for Pod Security is judged at its own level, as the
            // admission controller judges it.
            namespace_labels: true,
            // kube-system runs the node agents (CNI, kube-proxy, CSI node plugins) that need
            // host access; Pod Security Admission configurations exempt it as a rule.
            exempt_namespaces: vec!["kube-system".to_string()],
            exempt_runtime_classes: Vec::new(),
            // The standard allows no hostPath volume and no host port.
            allowed_host_paths: Vec::new(),
            allowed_host_ports: Vec::new(),
            // A dedicated ServiceAccount is how a pod is given API access; a pod on the
            // namespace's `default` account is taken not to need a token.
            api_service_accounts: vec!["*".to_string()],
            // No subject is trusted with escalation-prone permissions until named.
            allowed_subjects: Vec::new(),
            // Ingress isolation is the common baseline; egress policies need the cluster's
            // DNS and API addresses and are a deliberate second step.
            require_egress: false,
        }
    }
}

impl Settings {
    /// Whether pods of ServiceAccount `name` in `namespace` may mount an API token.
    pub fn api_access(&self, namespace: Option<&str>, name: &str) -> bool {
        name != "default"
            && self.api_service_accounts.iter().any(|e| {
                e == "*"
                    || e == name
                    || e.split_once('/')
                        .is_some_and(|(ns, n)| Some(ns) == namespace && n == name)
            })
    }

    /// Whether a hostPath path is allowed by `allowedHostPaths`.
    pub fn host_path_allowed(&self, path: &str) -> bool {
        let path = trim_slashes(path);
        self.allowed_host_paths.iter().any(|p| {
            let p = trim_slashes(p);
            p.is_empty()
                || path == p
                || path
                    .strip_prefix(p)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// `/var/log/` → `/var/log`; `/` → ``.
fn trim_slashes(p: &str) -> &str {
    p.trim_end_matches('/')
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        for (i, p) in self.allowed_host_paths.iter().enumerate() {
            if !p.starts_with('/') {
                return Err(format!(
                    "allowedHostPaths[{i}] \"{p}\" must be an absolute path (start with /)"
                ));
            }
        }
        for (i, port) in self.allowed_host_ports.iter().enumerate() {
            if !(1..=65535).contains(port) {
                return Err(format!(
                    "allowedHostPorts[{i}] must be a port number from 1 to 65535, not {port}"
                ));
            }
        }
        for (i, e) in self.api_service_accounts.iter().enumerate() {
            let name = e.rsplit('/').next().unwrap_or(e);
            if e.is_empty() || name.is_empty() || e.matches('/').count() > 1 {
                return Err(format!(
                    "apiServiceAccounts[{i}] \"{e}\" must be `name`, `namespace/name` or `*`"
                ));
            }
        }
        for (i, s) in self.allowed_subjects.iter().enumerate() {
            if !matches!(s.kind.as_str(), "ServiceAccount" | "User" | "Group") {
                return Err(format!(
                    "allowedSubjects[{i}].kind must be ServiceAccount, User or Group, not \"{}\"",
                    s.kind
                ));
            }
            if s.name.is_empty() {
                return Err(format!("allowedSubjects[{i}].name must not be empty"));
            }
            match (s.kind.as_str(), &s.namespace) {
                ("ServiceAccount", None) => {
                    return Err(format!(
                        "allowedSubjects[{i}] is a ServiceAccount: give its namespace"
                    ));
                }
                ("User" | "Group", Some(_)) => {
                    return Err(format!(
                        "allowedSubjects[{i}] is a {}: users and groups have no namespace",
                        s.kind
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Settings, String> {
        let s: Settings = serde_json::from_value(v).map_err(|e| e.to_string())?;
        s.validate()?;
        Ok(s)
    }

    #[test]
    fn defaults_are_valid() {
        let s = parse(json!({})).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.enforce, Level::Baseline);
        assert_eq!(s.warn, Level::Restricted);
        assert_eq!(s.version.to_string(), "v1.33");
    }

    #[test]
    fn versions_are_spelt_as_the_labels_spell_them() {
        assert!(parse(json!({"version": "latest"})).is_ok());
        assert!(parse(json!({"version": "v1.25"})).is_ok());
        assert!(parse(json!({"version": "v1.0"})).is_ok());
        for bad in ["1.25", "v1.25.3", "v1.025", "v2.0", "", "V1.25"] {
            assert!(parse(json!({ "version": bad })).is_err(), "{bad}");
        }
        assert!(parse(json!({"enforce": "Baseline"})).is_err());
        assert!(parse(json!({"enforce": "privileged"})).is_ok());
    }

    #[test]
    fn rejects_bad_values_naming_the_field() {
        let e = parse(json!({"allowedHostPaths": ["var/log"]})).unwrap_err();
        assert!(e.contains("allowedHostPaths[0]"), "{e}");
        let e = parse(json!({"allowedHostPorts": [0]})).unwrap_err();
        assert!(e.contains("allowedHostPorts[0]"), "{e}");
        let e = parse(json!({"allowedSubjects": [{"kind": "ServiceAccount", "name": "x"}]}))
            .unwrap_err();
        assert!(e.contains("allowedSubjects[0]"), "{e}");
        assert!(parse(json!({"allowedSubjects": [{"kind": "Robot", "name": "x"}]})).is_err());
        assert!(parse(json!({"apiServiceAccounts": ["a/b/c"]})).is_err());
        assert!(parse(json!({"unknown": 1})).is_err());
    }

    #[test]
    fn host_paths_match_on_a_slash_boundary() {
        let s = parse(json!({"allowedHostPaths": ["/var/log/"]})).unwrap();
        assert!(s.host_path_allowed("/var/log"));
        assert!(s.host_path_allowed("/var/log/pods"));
        assert!(!s.host_path_allowed("/var/logs"));
        assert!(!s.host_path_allowed("/var"));
    }

    #[test]
    fn api_access_by_name() {
        let s = Settings::default();
        assert!(s.api_access(Some("shop"), "web"));
        assert!(!s.api_access(Some("shop"), "default"));
        let s = parse(json!({"apiServiceAccounts": ["ops/deployer", "reader"]})).unwrap();
        assert!(s.api_access(Some("ops"), "deployer"));
        assert!(!s.api_access(Some("shop"), "deployer"));
        assert!(s.api_access(Some("shop"), "reader"));
    }
}

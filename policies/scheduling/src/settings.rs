use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the scheduling rule. Every field has a documented default, and `validate`
/// names the field when a value is out of range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// PriorityClasses a workload may name (priority-class). Empty: any class.
    pub allowed_priority_classes: Vec<String>,
    /// Namespaces where pods may use system-cluster-critical and system-node-critical
    /// (priority-class).
    pub system_priority_namespaces: Vec<String>,
    /// PriorityClasses with a value above this that may preempt get a warning
    /// (preemption-safe).
    pub preempting_threshold: i64,
    /// Replica count from which a workload must spread its replicas (spread-replicas).
    #[schemars(range(min = 2))]
    pub min_replicas: i32,
    /// Topology keys that spread replicas apart (spread-replicas).
    pub spread_topology_keys: Vec<String>,
    /// Taint keys that always mark a dedicated node pool (toleration-needs-selector), even
    /// if the rule would take them for system taints.
    pub dedicated_taint_keys: Vec<String>,
    /// Taint keys a pod may tolerate without selecting their nodes
    /// (toleration-needs-selector): capacity it may use but need not be confined to.
    pub ignored_taint_keys: Vec<String>,
    /// Namespaces whose workloads may tolerate the control-plane taints (no-control-plane).
    pub control_plane_namespaces: Vec<String>,
    /// Whether no-control-plane also checks DaemonSets.
    pub check_daemon_sets: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // Which classes exist is the platform's to say.
            allowed_priority_classes: Vec::new(),
            // Where Kubernetes' own add-ons run, and where the Priority admission plugin kept
            // these classes until 1.17 (GKE and clusters with a ResourceQuota limiting them
            // still do).
            system_priority_namespaces: vec!["kube-system".to_string()],
            // Every class above the default priority (0) that may preempt evicts pods that
            // set no class: the talk's warning. Raise it to the value above which classes
            // should queue ahead without evicting.
            preempting_threshold: 0,
            // One replica has nothing to spread; from two on, replicas on one node fail
            // together.
            min_replicas: 2,
            // The node and the zone: the failure domains Kubernetes labels nodes with (and
            // the deprecated zone label older clusters still set).
            spread_topology_keys: [
                "kubernetes.io/hostname",
                "topology.kubernetes.io/zone",
                "failure-domain.beta.kubernetes.io/zone",
            ]
            .into_iter()
            .map(str::to_string)
            .collect(),
            // Any key outside the system taints already counts.
            dedicated_taint_keys: Vec::new(),
            // The built-in list (spot and preemptible capacity among it) is enough until a
            // platform adds its own.
            ignored_taint_keys: Vec::new(),
            // kube-system runs the components that belong on control-plane nodes (kube-proxy,
            // CNI controllers, cloud controller managers).
            control_plane_namespaces: vec!["kube-system".to_string()],
            // DaemonSets are node agents (CNI, CSI node plugins, log and metrics collectors):
            // the Kubernetes docs' own DaemonSet example tolerates the control plane so that
            // it runs on every node.
            check_daemon_sets: false,
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        if self.min_replicas < 2 {
            return Err(format!(
                "minReplicas must be 2 or more, not {}",
                self.min_replicas
            ));
        }
        if self.spread_topology_keys.is_empty() {
            return Err("spreadTopologyKeys must name at least one topology key".to_string());
        }
        for (field, list) in [
            ("allowedPriorityClasses", &self.allowed_priority_classes),
            ("systemPriorityNamespaces", &self.system_priority_namespaces),
            ("spreadTopologyKeys", &self.spread_topology_keys),
            ("dedicatedTaintKeys", &self.dedicated_taint_keys),
            ("ignoredTaintKeys", &self.ignored_taint_keys),
            ("controlPlaneNamespaces", &self.control_plane_namespaces),
        ] {
            if let Some(v) = list.iter().find(|v| v.trim().is_empty()) {
                return Err(format!("{field} must not hold an empty name ({v:?})"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_unknown_keys_are_refused() {
        assert_eq!(Settings::default().validate(), Ok(()));
        let r: Result<Settings, _> = serde_json::from_value(serde_json::json!({"replicas": 2}));
        assert!(r.is_err());
        let s: Settings =
            serde_json::from_value(serde_json::json!({"preemptingThreshold": 100000})).unwrap();
        assert_eq!(s.preempting_threshold, 100000);
        assert_eq!(s.min_replicas, 2);
    }

    #[test]
    fn ranges_name_the_field() {
        let s = Settings {
            min_replicas: 1,
            ..Settings::default()
        };
        assert_eq!(
            s.validate(),
            Err("minReplicas must be 2 or more, not 1".to_string())
        );
        let s = Settings {
            spread_topology_keys: Vec::new(),
            ..Settings::default()
        };
        assert!(s.validate().unwrap_err().starts_with("spreadTopologyKeys"));
    }
}

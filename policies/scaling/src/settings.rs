use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the scaling rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// The lowest `minReplicas` an HPA may scale down to (hpa-min-max).
    #[schemars(range(min = 0))]
    pub min_replicas: i32,
    /// Namespaces whose pods may opt out of Cluster Autoscaler and Karpenter scale-down
    /// (safe-to-evict).
    pub safe_to_evict_namespaces: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // At low load an HPA scales to minReplicas: with one pod, every drain, node
            // scale-down and node failure is an outage of the workload.
            min_replicas: 2,
            // No namespace by default: a pod that blocks scale-down keeps a node (and its
            // cost) alive, which a platform team wants to decide per namespace.
            safe_to_evict_namespaces: Vec::new(),
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        if self.min_replicas < 0 {
            return Err(format!(
                "minReplicas must be 0 or more, not {}",
                self.min_replicas
            ));
        }
        if let Some(i) = self
            .safe_to_evict_namespaces
            .iter()
            .position(|n| n.trim().is_empty())
        {
            return Err(format!(
                "safeToEvictNamespaces[{i}] is empty: name a namespace"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Settings::default().validate(), Ok(()));
    }

    #[test]
    fn ranges_name_the_field() {
        let s = Settings {
            min_replicas: -1,
            ..Settings::default()
        };
        assert_eq!(
            s.validate(),
            Err("minReplicas must be 0 or more, not -1".to_string())
        );
        let s = Settings {
            safe_to_evict_namespaces: vec!["batch".into(), " ".into()],
            ..Settings::default()
        };
        assert_eq!(
            s.validate(),
            Err("safeToEvictNamespaces[1] is empty: name a namespace".to_string())
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r: Result<Settings, _> =
            serde_json::from_value(serde_json::json!({"safeToEvict": ["x"]}));
        assert!(r.is_err());
        let s: Settings = serde_json::from_value(serde_json::json!({"minReplicas": 3})).unwrap();
        assert_eq!(s.min_replicas, 3);
        assert!(s.safe_to_evict_namespaces.is_empty());
    }
}

use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the maintenance rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// A Deployment or StatefulSet with at least this many replicas, or scaled by an HPA up
    /// to at least this many, must be selected by a PodDisruptionBudget (pdb-required).
    #[schemars(range(min = 1))]
    pub pdb_required_replicas: i32,
    /// The fewest replicas a Deployment, StatefulSet, ReplicaSet or ReplicationController that
    /// no HPA manages should run (min-replicas). 0 or 1 switches the check off.
    #[schemars(range(min = 0))]
    pub min_replicas: i32,
    /// Whether DaemonSets and StatefulSets may use `updateStrategy.type: OnDelete`
    /// (rolling-update).
    pub allow_on_delete: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // Two replicas is where a budget starts to mean something: with one pod a PDB
            // can only forbid evictions (blocking drains) or allow them (protecting nothing).
            pdb_required_replicas: 2,
            // One pod is down for the whole of every drain, upgrade and node failure; two
            // keep serving while one moves (the talk's zero-downtime maintenance).
            min_replicas: 2,
            // OnDelete leaves every pod on its old template until someone deletes it, so a
            // rollout never finishes on its own; teams that sequence node agents by hand
            // (CNI or storage daemons) opt in.
            allow_on_delete: false,
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        if self.pdb_required_replicas < 1 {
            return Err(format!(
                "pdbRequiredReplicas must be 1 or more, not {}",
                self.pdb_required_replicas
            ));
        }
        if self.min_replicas < 0 {
            return Err(format!(
                "minReplicas must be 0 or more, not {}",
                self.min_replicas
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
            pdb_required_replicas: 0,
            ..Settings::default()
        };
        assert_eq!(
            s.validate(),
            Err("pdbRequiredReplicas must be 1 or more, not 0".to_string())
        );
        let s = Settings {
            min_replicas: -2,
            ..Settings::default()
        };
        assert_eq!(
            s.validate(),
            Err("minReplicas must be 0 or more, not -2".to_string())
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r: Result<Settings, _> = serde_json::from_value(serde_json::json!({"minReplica": 3}));
        assert!(r.is_err());
        let s: Settings =
            serde_json::from_value(serde_json::json!({"allowOnDelete": true})).unwrap();
        assert!(s.allow_on_delete);
        assert_eq!(s.min_replicas, 2);
    }
}

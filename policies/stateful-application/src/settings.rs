use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the stateful-application rule. Every field has a documented default, and
/// `validate` names the field when a value is out of range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// StorageClasses a claim may name (sts-storage). Empty: any class. `""` in the list
    /// allows claims that opt out of dynamic provisioning with `storageClassName: ""`.
    pub allowed_storage_classes: Vec<String>,
    /// Label or annotation keys that say a StatefulSet's volumes are backed up
    /// (sts-backup-marker), looked for on the StatefulSet, its pod template and its
    /// volumeClaimTemplates.
    pub backup_markers: Vec<String>,
    /// Whether a StatefulSet needs a preStop hook on an app container (sts-graceful).
    pub require_pre_stop: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // Which classes exist is the platform's to say; with none named, any class is
            // accepted and only a missing one is reported.
            allowed_storage_classes: Vec::new(),
            // Velero's file-system backup marker, the most widely used open-source backup
            // tool's pod annotation. Snapshot-based backups need no marker: teams using
            // them add their own key (or switch the check off).
            backup_markers: vec!["backup.velero.io/backup-volumes".to_string()],
            // Off: most databases shut down cleanly on SIGTERM alone (PostgreSQL's fast
            // shutdown, MySQL, etcd, ZooKeeper), and the Kubernetes docs' own StatefulSet
            // examples have no preStop hook; teams whose quorum members must hand over or
            // drain first turn it on.
            require_pre_stop: false,
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        if let Some(m) = self.backup_markers.iter().find(|m| m.trim().is_empty()) {
            return Err(format!(
                "backupMarkers must hold label or annotation keys, not {m:?}"
            ));
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
        let r: Result<Settings, _> = serde_json::from_value(serde_json::json!({"markers": []}));
        assert!(r.is_err());
        let s: Settings =
            serde_json::from_value(serde_json::json!({"requirePreStop": true})).unwrap();
        assert!(s.require_pre_stop);
        assert_eq!(s.backup_markers, Settings::default().backup_markers);
    }

    #[test]
    fn empty_marker_names_the_field() {
        let s = Settings {
            backup_markers: vec![" ".into()],
            ..Settings::default()
        };
        assert!(s.validate().unwrap_err().starts_with("backupMarkers"));
    }
}

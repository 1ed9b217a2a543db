use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which probes a long-running container must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Require {
    Both,
    Readiness,
    Liveness,
    None,
}

/// Settings of the health-check rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Probes every container of a long-running workload must have (probes-required).
    pub require: Require,
    /// Lowest liveness `failureThreshold` accepted (probe-timing): a single slow answer must
    /// not restart a container.
    pub min_liveness_failure_threshold: i32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // The talk's slide 34: readiness takes a pod out of rotation, liveness restarts it;
            // a production pod needs both.
            require: Require::Both,
            // Kubernetes' own default; lower restarts containers on one slow answer.
            min_liveness_failure_threshold: 3,
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        if self.min_liveness_failure_threshold < 1 {
            return Err(format!(
                "minLivenessFailureThreshold must be at least 1, not {}",
                self.min_liveness_failure_threshold
            ));
        }
        Ok(())
    }
}

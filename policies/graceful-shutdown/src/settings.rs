use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the graceful-shutdown rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Seconds the application needs after SIGTERM to finish in-flight requests and exit
    /// (prestop-fits-grace): the preStop delay plus this must fit in
    /// terminationGracePeriodSeconds.
    #[schemars(range(min = 0))]
    pub shutdown_budget_seconds: i64,
    /// Shortest preStop delay a serving container must have (prestop-delay), so its pod
    /// leaves Service endpoints and load balancers before it gets SIGTERM. 0 switches the
    /// delay requirement off.
    #[schemars(range(min = 0))]
    pub min_pre_stop_seconds: i64,
    /// Lowest terminationGracePeriodSeconds accepted (grace-period-bounds).
    #[schemars(range(min = 0))]
    pub min_grace_period_seconds: i64,
    /// Highest terminationGracePeriodSeconds that is not excessive (grace-period-bounds,
    /// a warning above it), for workloads other than StatefulSets; raised for a workload to
    /// what its preStop delay plus shutdownBudgetSeconds needs.
    #[schemars(range(min = 0))]
    pub max_grace_period_seconds: i64,
    /// The same for StatefulSets, and for workloads whose preStop hook runs for an unknown
    /// time (a drain script): databases and quorum members drain data before they stop.
    #[schemars(range(min = 0))]
    pub max_grace_period_seconds_stateful: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // A web process finishes its in-flight requests in a few seconds; with the talk's
            // `sleep 28` this leaves room only inside a grace period above 30s, which is the
            // point: the delay and the drain must be budgeted together.
            shutdown_budget_seconds: 5,
            // Endpoint removal reaches kube-proxy, ingress controllers and cloud load balancers
            // in a few seconds; a shorter delay still drops requests routed to a stopping pod.
            min_pre_stop_seconds: 5,
            // 0 makes the kubelet skip preStop hooks (and leave 2s from SIGTERM to SIGKILL);
            // from 1s up the hooks run and the process gets the time it is given.
            min_grace_period_seconds: 1,
            // Five minutes: longer grace periods stall rollouts and node drains for little
            // gain, and usually hide a shutdown that never finishes.
            max_grace_period_seconds: 300,
            // An hour: a database's drain (e.g. `nodetool drain` with a 1800s grace period,
            // as public Cassandra manifests use) flushes data and hands off ownership.
            max_grace_period_seconds_stateful: 3600,
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("shutdownBudgetSeconds", self.shutdown_budget_seconds),
            ("minPreStopSeconds", self.min_pre_stop_seconds),
            ("minGracePeriodSeconds", self.min_grace_period_seconds),
            ("maxGracePeriodSeconds", self.max_grace_period_seconds),
            (
                "maxGracePeriodSecondsStateful",
                self.max_grace_period_seconds_stateful,
            ),
        ] {
            if value < 0 {
                return Err(format!("{name} must be 0 or more, not {value}"));
            }
        }
        for (name, max) in [
            ("maxGracePeriodSeconds", self.max_grace_period_seconds),
            (
                "maxGracePeriodSecondsStateful",
                self.max_grace_period_seconds_stateful,
            ),
        ] {
            if self.min_grace_period_seconds > max {
                return Err(format!(
                    "minGracePeriodSeconds ({}) must not exceed {name} ({max})",
                    self.min_grace_period_seconds
                ));
            }
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
    fn negative_values_name_the_field() {
        let s = Settings {
            min_pre_stop_seconds: -1,
            ..Settings::default()
        };
        assert_eq!(
            s.validate(),
            Err("minPreStopSeconds must be 0 or more, not -1".to_string())
        );
    }

    #[test]
    fn min_above_max_is_rejected() {
        let s = Settings {
            min_grace_period_seconds: 60,
            max_grace_period_seconds: 30,
            ..Settings::default()
        };
        assert_eq!(
            s.validate(),
            Err(
                "minGracePeriodSeconds (60) must not exceed maxGracePeriodSeconds (30)".to_string()
            )
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let r: Result<Settings, _> =
            serde_json::from_value(serde_json::json!({"shutdownBudget": 3}));
        assert!(r.is_err());
        let s: Settings =
            serde_json::from_value(serde_json::json!({"shutdownBudgetSeconds": 3})).unwrap();
        assert_eq!(s.shutdown_budget_seconds, 3);
        assert_eq!(s.max_grace_period_seconds, 300);
    }
}

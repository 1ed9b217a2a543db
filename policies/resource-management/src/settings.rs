use std::collections::BTreeMap;

use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What cpu-limit asks of every container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CpuLimit {
    /// Every container sets `resources.limits.cpu`.
    Require,
    /// No container sets `resources.limits.cpu`.
    Forbid,
    /// cpu limits are not checked.
    Ignore,
}

/// A pod's Quality of Service class, spelled as Kubernetes spells it, in eviction order:
/// BestEffort pods are evicted first, Guaranteed pods last.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
pub enum QosClass {
    BestEffort,
    Burstable,
    Guaranteed,
}

impl QosClass {
    pub fn as_str(self) -> &'static str {
        match self {
            QosClass::BestEffort => "BestEffort",
            QosClass::Burstable => "Burstable",
            QosClass::Guaranteed => "Guaranteed",
        }
    }
}

impl std::fmt::Display for QosClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Highest accepted limit / request per resource; `null` switches the resource's check off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct MaxLimitRequestRatio {
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
}

impl Default for MaxLimitRequestRatio {
    fn default() -> Self {
        MaxLimitRequestRatio {
            // Off: a cpu limit far above the request only throttles late, it never kills; how
            // much cpu burst to allow is the team's call.
            cpu: None,
            // Memory is not compressible: a limit far above the request lets the node's
            // actual use outgrow what the scheduler reserved, and the node then evicts or
            // OOM-kills. Twice the request is a common ceiling.
            memory: Some(2.0),
        }
    }
}

impl MaxLimitRequestRatio {
    /// The ratio for a resource name, if one is set.
    pub fn get(&self, resource: &str) -> Option<f64> {
        match resource {
            "cpu" => self.cpu,
            "memory" => self.memory,
            _ => None,
        }
    }
}

/// Settings of the resource-management rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Whether containers must (`require`), must not (`forbid`) or may (`ignore`) set a cpu
    /// limit (cpu-limit).
    pub cpu_limit: CpuLimit,
    /// Lowest QoS class a pod may have (qos-class): `BestEffort`, `Burstable` or `Guaranteed`.
    pub min_qos: QosClass,
    /// Lowest QoS class by the pod's `priorityClassName`, in place of `minQos` (qos-class),
    /// e.g. `{"system-cluster-critical": "Guaranteed"}`.
    pub min_qos_by_priority_class: BTreeMap<String, QosClass>,
    /// Highest limit / request per resource, where both are set (limit-request-ratio).
    pub max_limit_request_ratio: MaxLimitRequestRatio,
    /// Every container sets an ephemeral-storage request and limit (ephemeral-storage). Off
    /// by default: almost no public manifest sets them.
    pub require_ephemeral_storage: bool,
    /// Every emptyDir volume sets a sizeLimit (ephemeral-storage).
    pub require_empty_dir_size_limit: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // The community disagrees about cpu limits: they throttle a container even while
            // the node has idle cpu, but without them one busy pod can starve its neighbours.
            // The rule does not take a side unless asked.
            cpu_limit: CpuLimit::Ignore,
            // The talk's slide 50: BestEffort pods are the first evicted under node pressure;
            // any production pod should at least state what it needs.
            min_qos: QosClass::Burstable,
            // No priority classes are known in advance; clusters name their own.
            min_qos_by_priority_class: BTreeMap::new(),
            max_limit_request_ratio: MaxLimitRequestRatio::default(),
            // Logs, caches and temp files in a container's writable layer can fill the node's
            // disk, but almost no public manifest requests ephemeral-storage, and flagging
            // every container buries the findings that matter: opt in.
            require_ephemeral_storage: false,
            // An emptyDir without sizeLimit grows until the node's disk (or, for medium:
            // Memory, the pod's memory) runs out.
            require_empty_dir_size_limit: true,
        }
    }
}

impl Settings {
    /// The lowest QoS class a pod with this priority class may have.
    pub fn required_qos(&self, priority_class: Option<&str>) -> QosClass {
        priority_class
            .and_then(|p| self.min_qos_by_priority_class.get(p))
            .copied()
            .unwrap_or(self.min_qos)
    }
}

fn validate_ratio(field: &str, ratio: Option<f64>) -> Result<(), String> {
    match ratio {
        Some(r) if !r.is_finite() || r < 1.0 => Err(format!(
            "maxLimitRequestRatio.{field} must be a number of at least 1.0 (a limit below its request is invalid), or null to switch it off; not {r}"
        )),
        _ => Ok(()),
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        validate_ratio("cpu", self.max_limit_request_ratio.cpu)?;
        validate_ratio("memory", self.max_limit_request_ratio.memory)?;
        if self.min_qos_by_priority_class.contains_key("") {
            return Err(
                "minQosByPriorityClass has an empty key; keys are priorityClassName values".into(),
            );
        }
        if self.cpu_limit == CpuLimit::Forbid {
            // Guaranteed needs a cpu limit on every container.
            if self.min_qos == QosClass::Guaranteed {
                return Err(
                    "cpuLimit: forbid contradicts minQos: Guaranteed (a Guaranteed pod has a cpu limit on every container); change one of them"
                        .into(),
                );
            }
            if let Some((name, _)) = self
                .min_qos_by_priority_class
                .iter()
                .find(|(_, class)| **class == QosClass::Guaranteed)
            {
                return Err(format!(
                    "cpuLimit: forbid contradicts minQosByPriorityClass.{name}: Guaranteed (a Guaranteed pod has a cpu limit on every container); change one of them"
                ));
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
    fn defaults_are_valid_and_documented_values() {
        let s = parse(json!({})).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.cpu_limit, CpuLimit::Ignore);
        assert_eq!(s.min_qos, QosClass::Burstable);
        assert_eq!(s.max_limit_request_ratio.memory, Some(2.0));
        assert_eq!(s.max_limit_request_ratio.cpu, None);
    }

    #[test]
    fn a_partial_ratio_map_keeps_the_other_default() {
        let s = parse(json!({"maxLimitRequestRatio": {"cpu": 4}})).unwrap();
        assert_eq!(s.max_limit_request_ratio.cpu, Some(4.0));
        assert_eq!(s.max_limit_request_ratio.memory, Some(2.0));
        let s = parse(json!({"maxLimitRequestRatio": {"memory": null}})).unwrap();
        assert_eq!(s.max_limit_request_ratio.memory, None);
    }

    #[test]
    fn rejects_bad_values_naming_the_field() {
        let e = parse(json!({"maxLimitRequestRatio": {"memory": 0.5}})).unwrap_err();
        assert!(e.contains("maxLimitRequestRatio.memory"), "{e}");
        assert!(parse(json!({"maxLimitRequestRatio": {"disk": 2}})).is_err());
        assert!(parse(json!({"minQos": "Platinum"})).is_err());
        assert!(parse(json!({"cpuLimits": "require"})).is_err());
        let e = parse(json!({"cpuLimit": "forbid", "minQos": "Guaranteed"})).unwrap_err();
        assert!(e.contains("minQos"), "{e}");
        let e = parse(
            json!({"cpuLimit": "forbid", "minQosByPriorityClass": {"critical": "Guaranteed"}}),
        )
        .unwrap_err();
        assert!(e.contains("minQosByPriorityClass.critical"), "{e}");
    }

    #[test]
    fn priority_class_overrides_min_qos_both_ways() {
        let s = parse(json!({"minQosByPriorityClass": {
            "system-cluster-critical": "Guaranteed", "batch-low": "BestEffort"
        }}))
        .unwrap();
        assert_eq!(
            s.required_qos(Some("system-cluster-critical")),
            QosClass::Guaranteed
        );
        assert_eq!(s.required_qos(Some("batch-low")), QosClass::BestEffort);
        assert_eq!(s.required_qos(Some("other")), QosClass::Burstable);
        assert_eq!(s.required_qos(None), QosClass::Burstable);
    }
}

//! Rule 9 of the talk, resource management (slides 48–50): the scheduler places pods by their
//! requests, limits cap what they use, and under node pressure pods are evicted by QoS class
//! (BestEffort first, then Burstable, Guaranteed last). So every container states its cpu and
//! memory requests and a memory limit, the pod reaches the QoS class its importance calls for,
//! limits stay within a ratio of requests, and local disk use is bounded.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod checks;
pub mod settings;

use prodready_sdk::{
    CREATE_UPDATE, Check, Cx, Findings, Object, Rule, RuleInfo, Severity, WORKLOADS,
};

pub use settings::Settings;

pub const RESOURCES_SET: Check = Check {
    id: "resources-set",
    severity: Severity::Error,
    description: "Every container and init container has a cpu request, a memory request and a memory limit (a request defaults to its limit), and every quantity in its resources is valid.",
    remediation: "Set resources.requests.cpu and resources.requests.memory from measured use, and resources.limits.memory (e.g. equal to the memory request); write quantities as Kubernetes does, e.g. 250m or 512Mi.",
    context: "",
};

pub const CPU_LIMIT: Check = Check {
    id: "cpu-limit",
    severity: Severity::Warning,
    description: "Containers set a cpu limit (cpuLimit: require) or do not (cpuLimit: forbid); off by default (cpuLimit: ignore).",
    remediation: "With cpuLimit: require, set resources.limits.cpu; with cpuLimit: forbid, remove resources.limits.cpu so the container is not throttled while the node has idle cpu.",
    context: "",
};

pub const QOS_CLASS: Check = Check {
    id: "qos-class",
    severity: Severity::Error,
    description: "The pod's QoS class, computed as Kubernetes does, is at least minQos, or the class minQosByPriorityClass names for its priorityClassName (a BestEffort pod whose missing requests resources-set reports is not reported again).",
    remediation: "For Burstable, set cpu and memory requests; for Guaranteed, give every container cpu and memory limits equal to its requests (or set pod-level resources that way).",
    context: "",
};

pub const LIMIT_REQUEST_RATIO: Check = Check {
    id: "limit-request-ratio",
    severity: Severity::Warning,
    description: "Where a container sets both a request and a limit for a resource, the limit is at most maxLimitRequestRatio times the request.",
    remediation: "Lower the limit or raise the request until limit / request is within maxLimitRequestRatio, so the node is not overcommitted far beyond what the scheduler reserved.",
    context: "",
};

pub const EPHEMERAL_STORAGE: Check = Check {
    id: "ephemeral-storage",
    severity: Severity::Warning,
    description: "Every emptyDir volume has a sizeLimit (memory-backed ones count against the pod's memory); with requireEphemeralStorage, every container also sets an ephemeral-storage request and limit.",
    remediation: "Set resources.requests and resources.limits of ephemeral-storage (e.g. 1Gi), and emptyDir.sizeLimit on each emptyDir volume, so logs and caches cannot fill the node's disk.",
    context: "",
};

pub struct ResourceManagement;

impl Rule for ResourceManagement {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 9,
        id: "resource-management",
        title: "Resource management",
        description: "Containers state cpu and memory requests and a memory limit, the pod reaches the QoS class its priority calls for, limits stay near requests, and local disk use is bounded.",
        slide: "slides 48-50",
        checks: &[
            RESOURCES_SET,
            CPU_LIMIT,
            QOS_CLASS,
            LIMIT_REQUEST_RATIO,
            EPHEMERAL_STORAGE,
        ],
        resources: WORKLOADS,
        context: &[],
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        let Some(workload) = object.workload() else {
            return Ok(());
        };
        checks::check_workload(workload, cx.settings, cx.reports(&RESOURCES_SET), out);
        Ok(())
    }
}

prodready_sdk::export_rule!(ResourceManagement);

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    fn evaluate(object: Value, settings: Value) -> Value {
        let envelope =
            json!({"request": {"operation": "CREATE", "object": object}, "settings": settings});
        serde_json::from_slice(&super::evaluate_json(envelope.to_string().as_bytes())).unwrap()
    }

    fn ids(verdict: &Value) -> Vec<String> {
        verdict["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["check"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn metadata_lists_the_checks_and_a_strict_schema() {
        let m: Value = serde_json::from_slice(&super::metadata_json()).unwrap();
        assert_eq!(m["id"], "resource-management");
        assert_eq!(m["number"], 9);
        let checks: Vec<&str> = m["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            checks,
            [
                "resources-set",
                "cpu-limit",
                "qos-class",
                "limit-request-ratio",
                "ephemeral-storage"
            ]
        );
        let props = m["settingsSchema"]["properties"].as_object().unwrap();
        for key in [
            "cpuLimit",
            "minQos",
            "minQosByPriorityClass",
            "maxLimitRequestRatio",
            "requireEphemeralStorage",
            "requireEmptyDirSizeLimit",
            "audit",
            "severity",
        ] {
            assert!(props.contains_key(key), "schema lacks {key}");
        }
    }

    #[test]
    fn settings_validation_through_the_abi() {
        let check = |s: Value| -> Value {
            serde_json::from_slice(&super::validate_settings_json(s.to_string().as_bytes()))
                .unwrap()
        };
        assert_eq!(
            check(json!({"cpuLimit": "require", "minQos": "Guaranteed"}))["valid"],
            true
        );
        let bad = check(json!({"maxLimitRequestRatio": {"memory": 0.9}}));
        assert_eq!(bad["valid"], false);
        assert!(
            bad["message"]
                .as_str()
                .unwrap()
                .contains("maxLimitRequestRatio.memory")
        );
        assert_eq!(check(json!({"minQos": "guaranteed"}))["valid"], false);
    }

    #[test]
    fn odd_but_legal_shapes_do_not_error_or_panic() {
        // null maps, numeric quantities, a container without resources at all.
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "odd"},
            "spec": {
                "volumes": null,
                "containers": [
                    {"name": "a", "resources": {"requests": null, "limits": {"cpu": 1, "memory": 1073741824, "ephemeral-storage": 1.5e9}}},
                    {"name": "b", "resources": null}
                ]
            }
        });
        let v = evaluate(pod, Value::Null);
        assert!(v["error"].is_null(), "{v}");
        assert_eq!(ids(&v), ["resources-set"]);
    }

    #[test]
    fn exemption_and_severity_override_apply() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "legacy", "annotations": {"prodready.io/skip-ephemeral-storage": "writes nothing to disk"}},
            "spec": {"template": {"spec": {"containers": [{"name": "app"}]}}}
        });
        let v = evaluate(deployment, json!({"severity": {"qos-class": "off"}}));
        assert_eq!(ids(&v), ["resources-set"]);
        assert_eq!(v["allowed"], false);
    }
}

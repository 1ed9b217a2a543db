//! Rule 3 of the talk, observability (slide 22): metrics, logs and traces can be collected.
//! A pod that asks to be scraped names a port it declares, container ports carry names that
//! monitors can select, a ServiceMonitor selects a Service that exists with the port names it
//! scrapes, and containers carry the telemetry settings the platform requires.
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

use prodready_sdk::metadata::{
    CRON_JOB, DAEMON_SET, DEPLOYMENT, JOB, POD, REPLICA_SET, REPLICATION_CONTROLLER, STATEFUL_SET,
};
use prodready_sdk::serving::SERVICE;
use prodready_sdk::{
    CREATE_UPDATE, Check, ContextResource, Cx, Findings, Object, Resource, Rule, RuleInfo, Severity,
};

pub use settings::Settings;

pub const METRICS_PORT_DECLARED: Check = Check {
    id: "metrics-port-declared",
    severity: Severity::Error,
    description: "When prometheus.io/scrape is \"true\" on a pod template or a Service, prometheus.io/port is a valid port number (error) that the pod declares as a containerPort, or that the Service exposes (warning); the annotations sit on the pod template, not on the controller, and scrape is \"true\" or \"false\" (warning).",
    remediation: "Set prometheus.io/port to the number of the metrics port as a quoted string (e.g. \"9090\"), declare that port under the container's ports with a name (e.g. metrics), and put the annotations under spec.template.metadata.annotations.",
    context: "",
};

pub const CONTAINER_PORTS_NAMED: Check = Check {
    id: "container-ports-named",
    severity: Severity::Warning,
    description: "Ports of app containers and native sidecars have names that are valid IANA service names (at most 15 lowercase letters, digits and '-', with a letter) and unique in the pod, so ServiceMonitors, PodMonitors, Services and probes can select them by name.",
    remediation: "Give every container port a name unique in the pod, e.g. http, grpc or metrics.",
    context: "",
};

pub const MONITOR_SELECTS_SERVICE: Check = Check {
    id: "monitor-selects-service",
    severity: Severity::Error,
    description: "A ServiceMonitor (monitoring.coreos.com/v1) selects at least one Service of the namespaces its namespaceSelector names (its own when empty), and every endpoints[].port is the name of a port of a selected Service.",
    remediation: "Make spec.selector match the Service's metadata.labels (and spec.namespaceSelector its namespace), and set endpoints[].port to the name of the Service port that serves metrics (name the port if it has none).",
    context: "Reads the Services of the namespaces the ServiceMonitor selects from (their labels and spec.ports). Skipped without context, when the set holds no Service of those namespaces (the Services live elsewhere), and at admission when it selects from other namespaces than its own (only its own namespace's Services are listed).",
};

pub const TELEMETRY_ENV: Check = Check {
    id: "telemetry-env",
    severity: Severity::Warning,
    description: "App containers define every environment variable of requiredEnv (e.g. OTEL_EXPORTER_OTLP_ENDPOINT; an entry \"A|B\" accepts either); off while requiredEnv is empty.",
    remediation: "Add the variables to the container's env (or an envFrom source), e.g. OTEL_EXPORTER_OTLP_ENDPOINT pointing at the collector.",
    context: "",
};

/// The prometheus-operator ServiceMonitor.
pub const SERVICE_MONITOR: Resource = Resource::namespaced(
    "monitoring.coreos.com",
    &["v1"],
    "ServiceMonitor",
    "servicemonitors",
);

/// Every workload kind, Services (scrape annotations) and ServiceMonitors.
pub const RESOURCES: &[Resource] = &[
    POD,
    REPLICATION_CONTROLLER,
    DEPLOYMENT,
    STATEFUL_SET,
    DAEMON_SET,
    REPLICA_SET,
    JOB,
    CRON_JOB,
    SERVICE,
    SERVICE_MONITOR,
];

pub struct Observability;

impl Rule for Observability {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 3,
        id: "observability",
        title: "Observability",
        description: "Pods that ask to be scraped name a declared metrics port, container ports are named for monitors, ServiceMonitors select existing Services and port names, and containers carry the telemetry settings the platform requires.",
        slide: "slide 22",
        checks: &[
            METRICS_PORT_DECLARED,
            CONTAINER_PORTS_NAMED,
            MONITOR_SELECTS_SERVICE,
            TELEMETRY_ENV,
        ],
        resources: RESOURCES,
        context: &[ContextResource::new(SERVICE, &["spec"])],
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        if let Some(workload) = object.workload() {
            checks::check_workload(object, workload, cx.settings, out);
        } else if object.is(SERVICE.group, SERVICE.kind) {
            let svc: prodready_sdk::k8s::Service = object.parse()?;
            checks::scrape_annotations_service(object, &svc, cx.settings, out);
        } else if object.is(SERVICE_MONITOR.group, SERVICE_MONITOR.kind) {
            let monitor: checks::ServiceMonitor = object.parse()?;
            checks::monitor_selects_service(object, &monitor, cx, out);
        }
        Ok(())
    }
}

prodready_sdk::export_rule!(Observability);

#[cfg(test)]
mod tests {
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    use super::Observability;

    fn monitor(selector: Value, endpoints: Value) -> Value {
        json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": selector, "endpoints": endpoints}})
    }

    #[test]
    fn monitor_selects_service_is_skipped_without_context() {
        let m = monitor(
            json!({"matchLabels": {"app": "web"}}),
            json!([{"port": "metrics"}]),
        );
        let v = testing::evaluate::<Observability>(&m, &Value::Null);
        assert!(v.violations.is_empty(), "{v:?}");
        assert_eq!(v.skipped_checks.len(), 1);
        assert_eq!(v.skipped_checks[0].check, "monitor-selects-service");
        assert!(v.error.is_none());
    }

    #[test]
    fn metadata_lists_the_checks_and_a_strict_schema() {
        let m: Value = serde_json::from_slice(&super::metadata_json()).unwrap();
        assert_eq!(m["id"], "observability");
        assert_eq!(m["number"], 3);
        let props = m["settingsSchema"]["properties"].as_object().unwrap();
        for key in ["requiredEnv", "annotationPrefix", "audit", "severity"] {
            assert!(props.contains_key(key), "schema lacks {key}");
        }
        assert_eq!(m["contextResources"][0]["kind"], "Service");
    }
}

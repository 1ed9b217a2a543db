//! Rule 6 of the talk, health checks (slides 34–36): every long-running container has a
//! liveness probe and, when it serves traffic, a readiness probe; liveness does not restart a
//! container for what readiness reports, gives up later than readiness, and probes ports the
//! container can reach.
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

use prodready_sdk::serving::{SERVING_CONTEXT, serving};
use prodready_sdk::{
    CREATE_UPDATE, Check, Cx, Findings, Object, Rule, RuleInfo, Severity, WORKLOADS,
};

pub use settings::Settings;

pub const PROBES_REQUIRED: Check = Check {
    id: "probes-required",
    severity: Severity::Error,
    description: "App containers of long-running workloads have a livenessProbe; containers that serve traffic (a Service routes to them, or they declare traffic ports and the set has no Service) have a readinessProbe too.",
    remediation: "Add a readinessProbe that fails while the container cannot serve, and a livenessProbe that fails only when it must be restarted.",
    context: "Reads the Services (and Ingresses) of the pod's namespace to decide whether a container serves traffic; with none visible (a set without Services, or no context), decides from the container's ports.",
};

pub const PROBES_DISTINCT: Check = Check {
    id: "probes-distinct",
    severity: Severity::Warning,
    description: "The livenessProbe does not use the readinessProbe's endpoint when that endpoint is named for readiness (/ready, /readyz, /readiness); sharing a neutral endpoint with a longer liveness budget is the pattern the Kubernetes docs recommend.",
    remediation: "Point the livenessProbe at a cheap endpoint that only says the process is alive (e.g. /livez or /healthz), and keep dependency checks in the readinessProbe.",
    context: "",
};

pub const LIVENESS_OUTLASTS_READINESS: Check = Check {
    id: "liveness-outlasts-readiness",
    severity: Severity::Error,
    description: "The liveness failure budget (initialDelaySeconds + periodSeconds x failureThreshold) is longer than the readiness one.",
    remediation: "Raise the livenessProbe's initialDelaySeconds, periodSeconds or failureThreshold so a slow pod leaves rotation before it is restarted.",
    context: "",
};

pub const PROBE_PORT_DECLARED: Check = Check {
    id: "probe-port-declared",
    severity: Severity::Error,
    description: "A probe port given by name is a port the container declares (error: the probe can never succeed); a numeric one that is not declared is a warning (the probe works, the port is undocumented).",
    remediation: "Declare the port under the container's ports (with the name the probe uses), or probe a declared port.",
    context: "",
};

pub const PROBE_TIMING: Check = Check {
    id: "probe-timing",
    severity: Severity::Warning,
    description: "Each probe's timeoutSeconds is below its periodSeconds, and the liveness failureThreshold is at least the configured minimum.",
    remediation: "Set timeoutSeconds below periodSeconds, and give the livenessProbe a failureThreshold of at least minLivenessFailureThreshold.",
    context: "",
};

pub struct HealthCheck;

impl Rule for HealthCheck {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 6,
        id: "health-check",
        title: "Health checks",
        description: "Long-running containers have a liveness probe and, when they serve traffic, a readiness probe; liveness does not restart them for what readiness reports and gives up after readiness, on ports the probes can reach.",
        slide: "slides 34-36",
        checks: &[
            PROBES_REQUIRED,
            PROBES_DISTINCT,
            LIVENESS_OUTLASTS_READINESS,
            PROBE_PORT_DECLARED,
            PROBE_TIMING,
        ],
        resources: WORKLOADS,
        context: SERVING_CONTEXT,
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
        let serving = serving(cx.context, object.namespace(), workload);
        checks::check_workload(workload, &serving, cx.settings, out);
        Ok(())
    }
}

prodready_sdk::export_rule!(HealthCheck);

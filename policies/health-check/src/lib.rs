//! Rule 6 of the talk, health checks (slides 34–36): every long-running container has a
//! readiness probe and a liveness probe, they ask different questions, liveness gives up later
//! than readiness, and they probe ports the container declares.
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

pub const PROBES_REQUIRED: Check = Check {
    id: "probes-required",
    severity: Severity::Error,
    description: "Containers of long-running workloads have a readinessProbe and a livenessProbe.",
    remediation: "Add a readinessProbe that fails while the container cannot serve, and a livenessProbe that fails only when it must be restarted.",
};

pub const PROBES_DISTINCT: Check = Check {
    id: "probes-distinct",
    severity: Severity::Error,
    description: "The liveness probe does not use the same handler as the readiness probe.",
    remediation: "Point the livenessProbe at a cheap endpoint that only says the process is alive, and keep dependency checks in the readinessProbe.",
};

pub const LIVENESS_OUTLASTS_READINESS: Check = Check {
    id: "liveness-outlasts-readiness",
    severity: Severity::Error,
    description: "The liveness failure budget (initialDelaySeconds + periodSeconds x failureThreshold) is longer than the readiness one.",
    remediation: "Raise the livenessProbe's initialDelaySeconds, periodSeconds or failureThreshold so a slow pod leaves rotation before it is restarted.",
};

pub const PROBE_PORT_DECLARED: Check = Check {
    id: "probe-port-declared",
    severity: Severity::Error,
    description: "Every probe port, by number or name, is a port the container declares.",
    remediation: "Declare the port under the container's ports (with the name the probe uses), or probe a declared port.",
};

pub const PROBE_TIMING: Check = Check {
    id: "probe-timing",
    severity: Severity::Warning,
    description: "Each probe's timeoutSeconds is below its periodSeconds, and the liveness failureThreshold is at least the configured minimum.",
    remediation: "Set timeoutSeconds below periodSeconds, and give the livenessProbe a failureThreshold of at least minLivenessFailureThreshold.",
};

pub struct HealthCheck;

impl Rule for HealthCheck {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 6,
        id: "health-check",
        title: "Health checks",
        description: "Long-running containers have readiness and liveness probes that ask different questions, with liveness giving up after readiness, on declared ports.",
        slide: "slides 34-36",
        checks: &[
            PROBES_REQUIRED,
            PROBES_DISTINCT,
            LIVENESS_OUTLASTS_READINESS,
            PROBE_PORT_DECLARED,
            PROBE_TIMING,
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
        checks::check_workload(workload, cx.settings, out);
        Ok(())
    }
}

prodready_sdk::export_rule!(HealthCheck);

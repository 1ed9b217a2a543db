//! Rule 5 of the talk, graceful shutdown (slides 30–31): a serving container waits in its
//! preStop hook until its pod has left Service endpoints, the wait and the drain after SIGTERM
//! fit in terminationGracePeriodSeconds, the grace period is neither a force kill nor endless,
//! and SIGTERM reaches the application instead of stopping at a shell.
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
    CREATE_UPDATE, Check, Cx, Findings, Object, Resource, Rule, RuleInfo, Severity, WORKLOADS,
};

pub use settings::Settings;

pub const PRESTOP_FITS_GRACE: Check = Check {
    id: "prestop-fits-grace",
    severity: Severity::Error,
    description: "The preStop delay plus shutdownBudgetSeconds fits in the pod's terminationGracePeriodSeconds (30 when unset).",
    remediation: "Raise terminationGracePeriodSeconds to at least the preStop delay plus shutdownBudgetSeconds, or shorten the preStop delay, so SIGKILL does not land while the application drains.",
};

pub const PRESTOP_DELAY: Check = Check {
    id: "prestop-delay",
    severity: Severity::Warning,
    description: "Containers of serving workloads (declaring ports, or selected by a Service) wait at least minPreStopSeconds in a preStop hook before SIGTERM.",
    remediation: "Add lifecycle.preStop.sleep.seconds (or an exec `sleep`) of at least minPreStopSeconds, so the pod leaves Service endpoints and load balancers before the application stops accepting requests.",
};

pub const GRACE_PERIOD_BOUNDS: Check = Check {
    id: "grace-period-bounds",
    severity: Severity::Error,
    description: "terminationGracePeriodSeconds lies between minGracePeriodSeconds and maxGracePeriodSeconds.",
    remediation: "Set terminationGracePeriodSeconds to the preStop delay plus the time the application needs to drain, within the configured bounds.",
};

pub const PID1_SIGNAL: Check = Check {
    id: "pid1-signal",
    severity: Severity::Warning,
    description: "A container whose command runs a shell `-c` script makes the script `exec` its final command, so SIGTERM reaches the application and not a shell that ignores it.",
    remediation: "Put `exec` before the script's final command, or run the command under a signal-forwarding init such as tini or dumb-init.",
};

/// The core/v1 Service, read from the context to find workloads that serve traffic.
pub const SERVICE: Resource = Resource::new("", "v1", "Service", "services");

pub struct GracefulShutdown;

impl Rule for GracefulShutdown {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 5,
        id: "graceful-shutdown",
        title: "Graceful shutdown",
        description: "Serving containers wait in preStop until they leave Service endpoints, the wait and the drain fit in a sane terminationGracePeriodSeconds, and SIGTERM reaches the application.",
        slide: "slides 30-31",
        checks: &[
            PRESTOP_FITS_GRACE,
            PRESTOP_DELAY,
            GRACE_PERIOD_BOUNDS,
            PID1_SIGNAL,
        ],
        resources: WORKLOADS,
        context: &[SERVICE],
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
        let selected = checks::selected_by_service(
            cx.context,
            object.reference.namespace.as_deref(),
            workload,
        );
        checks::check_workload(workload, cx.settings, selected, out);
        Ok(())
    }
}

prodready_sdk::export_rule!(GracefulShutdown);

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

use prodready_sdk::serving::{SERVING_CONTEXT, serving};
use prodready_sdk::{
    CREATE_UPDATE, Check, Cx, Findings, Object, Rule, RuleInfo, Severity, WORKLOADS,
};

pub use settings::Settings;

pub const PRESTOP_FITS_GRACE: Check = Check {
    id: "prestop-fits-grace",
    severity: Severity::Error,
    description: "The preStop delay plus shutdownBudgetSeconds fits in the pod's terminationGracePeriodSeconds (30 when unset).",
    remediation: "Raise terminationGracePeriodSeconds to at least the preStop delay plus shutdownBudgetSeconds, or shorten the preStop delay, so SIGKILL does not land while the application drains.",
    context: "",
};

pub const PRESTOP_DELAY: Check = Check {
    id: "prestop-delay",
    severity: Severity::Warning,
    description: "Containers that serve traffic (a Service that is not metrics-only selects their pods and they declare its target port; or, when the set has no Service, they declare ports not named for metrics or health) wait at least minPreStopSeconds in a preStop hook before SIGTERM.",
    remediation: "Add lifecycle.preStop.sleep.seconds (or an exec `sleep`) of at least minPreStopSeconds, so the pod leaves Service endpoints and load balancers before the application stops accepting requests.",
    context: "Reads the Services (and Ingresses) of the pod's namespace to decide whether a container serves traffic; with none visible (a set without Services, or no context), decides from the container's ports.",
};

pub const GRACE_PERIOD_BOUNDS: Check = Check {
    id: "grace-period-bounds",
    severity: Severity::Error,
    description: "terminationGracePeriodSeconds is at least minGracePeriodSeconds (error; 0 — no preStop hook runs, 2s from SIGTERM to SIGKILL — is an error for a workload that serves traffic or has a preStop hook, a warning otherwise) and not above what the workload needs (warning): maxGracePeriodSeconds, maxGracePeriodSecondsStateful for StatefulSets and for unknown-length preStop hooks, or the preStop delay plus shutdownBudgetSeconds.",
    remediation: "Set terminationGracePeriodSeconds to the preStop delay plus the time the application needs to drain, within the configured bounds.",
    context: "",
};

pub const PID1_SIGNAL: Check = Check {
    id: "pid1-signal",
    severity: Severity::Warning,
    description: "A container whose command runs a shell `-c` script does not leave the shell as PID 1 (which ignores SIGTERM): the script `exec`s its final command, or is one the shell replaces itself with (bash and busybox exec a plain last command, dash never does).",
    remediation: "Put `exec` before the script's final command, or run the command under a signal-forwarding init such as tini or dumb-init.",
    context: "",
};

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

prodready_sdk::export_rule!(GracefulShutdown);

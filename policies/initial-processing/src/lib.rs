//! Rule 4 of the talk, initial processing (slides 26-27): expensive warm-up happens before
//! traffic and does not cost the pod forever. Init containers must not reserve more than the
//! running pod needs, slow starts are covered by a startupProbe rather than a long fixed delay,
//! readiness can tell whether the container is warm, and native sidecars the app depends on
//! are started before it (and sidecar-like images never keep a Job from completing).
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
pub mod helpers;
pub mod settings;

use prodready_sdk::serving::{SERVING_CONTEXT, serving};
use prodready_sdk::{
    CREATE_UPDATE, Check, Cx, Findings, Object, Rule, RuleInfo, Severity, WORKLOADS,
};

pub use settings::Settings;

pub const INIT_REQUEST_FOOTPRINT: Check = Check {
    id: "init-request-footprint",
    severity: Severity::Warning,
    description: "No init container requests more cpu or memory (with the sidecars started before it) than the app containers and sidecars request together: Kubernetes reserves the larger of the two for the pod's whole life, so a one-off warm-up step would hold node capacity forever.",
    remediation: "Lower the init container's request to at most what the app containers and sidecars request together (init containers run one at a time, before them, and may use that much), or raise the app's requests if it really needs more.",
    context: "",
};

pub const STARTUP_PROBE_FOR_SLOW_START: Check = Check {
    id: "startup-probe-for-slow-start",
    severity: Severity::Warning,
    description: "A livenessProbe does not wait for a slow start with an initialDelaySeconds above maxLivenessInitialDelaySeconds and no startupProbe.",
    remediation: "Add a startupProbe (the liveness check, with periodSeconds x failureThreshold covering the slowest start) and drop the livenessProbe's long initialDelaySeconds.",
    context: "",
};

pub const WARMUP_GATED_BY_READINESS: Check = Check {
    id: "warmup-gated-by-readiness",
    severity: Severity::Error,
    description: "A container that serves traffic has a readinessProbe that can fail while it warms up: not an exec probe that always succeeds (true, :, echo, exit 0) (error), and not a probe sent to another host than the pod (warning). A missing readinessProbe is health-check's probes-required.",
    remediation: "Make the readinessProbe ask the container itself whether it is warm: an httpGet on its readiness endpoint or a tcpSocket on its serving port (without host), or an exec test of a file the entrypoint writes once warm-up is done.",
    context: "Reads the Services (and Ingresses) of the pod's namespace to decide whether a container serves traffic, as health-check does; with none visible (a set without Services, or no context), decides from the container's ports.",
};

pub const NATIVE_SIDECAR: Check = Check {
    id: "native-sidecar",
    severity: Severity::Warning,
    description: "A native sidecar (an init container with restartPolicy: Always) that offers a port to the pod has a startupProbe (or a postStart hook), so the app containers start once it is up; Jobs and run-once Pods do not run sidecarImages as regular containers, which would keep them from completing.",
    remediation: "Give the sidecar a startupProbe on the port the app uses; in a Job, move the proxy or agent to initContainers with restartPolicy: Always, which the Job does not wait for.",
    context: "Reads the Services (and Ingresses) of the pod's namespace: a sidecar a Service routes traffic to fronts the app rather than serving it, and is not judged; without context, every sidecar is judged.",
};

pub struct InitialProcessing;

impl Rule for InitialProcessing {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 4,
        id: "initial-processing",
        title: "Initial processing",
        description: "Warm-up happens before traffic and does not cost the pod forever: init containers reserve no more than the running pod, slow starts use a startupProbe, readiness can tell whether the container is warm, and sidecars the app depends on start first.",
        slide: "slides 26-27",
        checks: &[
            INIT_REQUEST_FOOTPRINT,
            STARTUP_PROBE_FOR_SLOW_START,
            WARMUP_GATED_BY_READINESS,
            NATIVE_SIDECAR,
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

prodready_sdk::export_rule!(InitialProcessing);

#[cfg(test)]
mod tests {
    use serde_json::Value;

    #[test]
    fn metadata_lists_the_checks_and_a_strict_schema() {
        let m: Value = serde_json::from_slice(&super::metadata_json()).unwrap();
        assert_eq!(m["id"], "initial-processing");
        assert_eq!(m["number"], 4);
        let props = m["settingsSchema"]["properties"].as_object().unwrap();
        for key in [
            "maxLivenessInitialDelaySeconds",
            "sidecarImages",
            "minExcess",
            "audit",
            "severity",
        ] {
            assert!(props.contains_key(key), "schema lacks {key}");
        }
    }
}

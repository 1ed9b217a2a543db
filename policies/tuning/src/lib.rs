//! Rule 14 of the talk, tuning and garbage collection (slides 73-74, and the appendix on
//! conntrack and DNS, slides 85-86): nodes are tuned on purpose and cleaned up. Pod sysctls
//! are ones the kubelet will run, a DaemonSet that tunes nodes reaches every node and stays,
//! DNS lookups are not multiplied by ndots, finished Jobs are removed, and images are pulled
//! as often as their tags can change.
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
pub mod sysctl;

use prodready_sdk::{
    CREATE_UPDATE, Check, Cx, Findings, Object, Rule, RuleInfo, Severity, WORKLOADS,
};

pub use settings::Settings;

pub const SYSCTLS_SAFE: Check = Check {
    id: "sysctls-safe",
    severity: Severity::Error,
    description: "Pod sysctls the kubelet will run: no net.* sysctl with hostNetwork or IPC sysctl with hostIPC, and an allowed unsafe sysctl (allowedUnsafeSysctls) only on pods that select the nodes allowing it (a warning). Names outside the safe set are security's sysctls-pss.",
    remediation: "Drop hostNetwork/hostIPC or the sysctl; for an unsafe sysctl your nodes allow, select those nodes with a nodeSelector.",
    context: "",
};

pub const NODE_TUNER_DAEMONSET: Check = Check {
    id: "node-tuner-daemonset",
    severity: Severity::Error,
    description: "A DaemonSet that sets node kernel state (sysctl, writes to /proc/sys or /sys, nsenter, modprobe, a writable hostPath of /, /proc or /sys) lives in tunerNamespaces, tolerates every taint and uses a tunerPriorityClasses class; a privileged DaemonSet that does not is held to the same as warnings.",
    remediation: "Run it in kube-system (or a listed namespace) with tolerations: [{operator: Exists}] and priorityClassName: system-node-critical.",
    context: "",
};

pub const DNS_NDOTS: Check = Check {
    id: "dns-ndots",
    severity: Severity::Warning,
    description: "When dnsConfig sets ndots it is at most maxNdots (2); with requireNdots, pods that resolve through the cluster DNS set it.",
    remediation: "Set dnsConfig.options: [{name: ndots, value: \"2\"}] and write external names fully qualified (with a trailing dot).",
    context: "",
};

pub const JOB_CLEANUP: Check = Check {
    id: "job-cleanup",
    severity: Severity::Warning,
    description: "Jobs set ttlSecondsAfterFinished (not those a CronJob or a Helm/Argo CD hook deletes); CronJobs set startingDeadlineSeconds (at least 10) and concurrencyPolicy, and keep at most maxJobsHistoryLimit finished Jobs.",
    remediation: "Set ttlSecondsAfterFinished on Jobs; on CronJobs set startingDeadlineSeconds, concurrencyPolicy: Forbid (or Replace) and small history limits.",
    context: "",
};

pub const IMAGE_PULL_POLICY: Check = Check {
    id: "image-pull-policy",
    severity: Severity::Warning,
    description: "A moving tag (mutableTags, or a major-only version such as 7 or v2) is not pulled IfNotPresent (set or defaulted), which serves a stale image from the node's cache; a digest is not pulled Always, which only waits on the registry.",
    remediation: "Pin a full version or a digest with imagePullPolicy: IfNotPresent, or pull a moving tag Always.",
    context: "",
};

pub struct Tuning;

impl Rule for Tuning {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 14,
        id: "tuning",
        title: "Tuning",
        description: "Pod sysctls the kubelet runs, node-tuning DaemonSets that reach every node and stay, a low DNS ndots, finished Jobs cleaned up, and image pull policies that match their tags.",
        slide: "slides 73-74, 85-86",
        checks: &[
            SYSCTLS_SAFE,
            NODE_TUNER_DAEMONSET,
            DNS_NDOTS,
            JOB_CLEANUP,
            IMAGE_PULL_POLICY,
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
        let Some(w) = object.workload() else {
            return Ok(());
        };
        let s = cx.settings;
        checks::sysctls_safe(w, s, out);
        checks::node_tuner(object, w, s, out);
        checks::dns_ndots(w, s, out);
        checks::job_cleanup(object, w, s, out);
        checks::image_pull_policy(w, s, out);
        Ok(())
    }
}

prodready_sdk::export_rule!(Tuning);

#[cfg(test)]
mod tests {
    use prodready_sdk::testing::{self, ids};
    use serde_json::{Value, json};

    use super::Tuning;

    #[test]
    fn metadata_lists_the_checks_and_a_strict_schema() {
        let m: Value = serde_json::from_slice(&super::metadata_json()).unwrap();
        assert_eq!(m["id"], "tuning");
        assert_eq!(m["number"], 14);
        let props = m["settingsSchema"]["properties"].as_object().unwrap();
        for key in [
            "allowedUnsafeSysctls",
            "tunerNamespaces",
            "maxNdots",
            "requireNdots",
            "maxJobsHistoryLimit",
            "mutableTags",
            "audit",
            "severity",
        ] {
            assert!(props.contains_key(key), "schema lacks {key}");
        }
    }

    fn job(meta: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
            "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "a:1.0.0"}]}}}})
    }

    #[test]
    fn jobs_cleaned_by_their_owner_need_no_ttl() {
        let v = testing::evaluate::<Tuning>(&job(json!({"name": "once"})), &Value::Null);
        assert_eq!(ids(&v), ["job-cleanup"]);
        let owned = job(json!({"name": "nightly-29000000", "ownerReferences": [
            {"apiVersion": "batch/v1", "kind": "CronJob", "name": "nightly", "uid": "u", "controller": true}]}));
        assert_eq!(
            ids(&testing::evaluate::<Tuning>(&owned, &Value::Null)),
            Vec::<&str>::new()
        );
        let hook = job(
            json!({"name": "migrate", "annotations": {"helm.sh/hook": "pre-upgrade", "helm.sh/hook-delete-policy": "hook-succeeded"}}),
        );
        assert_eq!(
            ids(&testing::evaluate::<Tuning>(&hook, &Value::Null)),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn settings_validation_through_the_abi() {
        let check = |s: Value| -> Value {
            serde_json::from_slice(&super::validate_settings_json(s.to_string().as_bytes()))
                .unwrap()
        };
        assert_eq!(check(json!({"maxNdots": 3}))["valid"], true);
        let bad = check(json!({"allowedUnsafeSysctls": ["vm.swappiness"]}));
        assert_eq!(bad["valid"], false);
        assert!(
            bad["message"]
                .as_str()
                .unwrap()
                .contains("allowedUnsafeSysctls[0]")
        );
    }
}

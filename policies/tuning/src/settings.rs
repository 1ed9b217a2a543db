use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::sysctl;

/// Settings of the tuning rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// sysctls-safe: unsafe, namespaced sysctls your kubelets allow
    /// (`--allowed-unsafe-sysctls`): exact names or prefixes ending in `*`, as the kubelet
    /// takes them.
    pub allowed_unsafe_sysctls: Vec<String>,
    /// sysctls-safe: a pod using an allowed unsafe sysctl selects the nodes that allow it
    /// (nodeSelector or required node affinity); the scheduler does not know which do.
    pub require_node_selection_for_unsafe_sysctls: bool,
    /// node-tuner-daemonset: namespaces a DaemonSet that changes node settings may live in.
    pub tuner_namespaces: Vec<String>,
    /// node-tuner-daemonset: priority classes such a DaemonSet may use.
    pub tuner_priority_classes: Vec<String>,
    /// dns-ndots: the highest ndots a pod's dnsConfig may set.
    pub max_ndots: u32,
    /// dns-ndots: every pod that resolves through the cluster DNS sets ndots in dnsConfig.
    pub require_ndots: bool,
    /// job-cleanup: Jobs (not created by a CronJob) set ttlSecondsAfterFinished.
    pub require_job_ttl: bool,
    /// job-cleanup: CronJobs set startingDeadlineSeconds.
    pub require_starting_deadline: bool,
    /// job-cleanup: CronJobs set concurrencyPolicy explicitly.
    pub require_concurrency_policy: bool,
    /// job-cleanup: the highest successfulJobsHistoryLimit / failedJobsHistoryLimit.
    pub max_jobs_history_limit: u32,
    /// image-pull-policy: tags that name a moving target (besides `latest`, which ci-cd's
    /// image-tag-pinned reports). Compared case-insensitively.
    pub mutable_tags: Vec<String>,
    /// image-pull-policy: a tag of only a major version (`7`, `v2`, `16-alpine`) floats to
    /// each new release and counts as mutable.
    pub floating_version_tags: bool,
    /// image-pull-policy: report a mutable tag pulled IfNotPresent (set or defaulted).
    pub flag_mutable_if_not_present: bool,
    /// image-pull-policy: report a digest pulled Always.
    pub flag_digest_always: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // The kubelet allows no unsafe sysctl unless told; name what your nodes allow.
            allowed_unsafe_sysctls: Vec::new(),
            // Pods with a sysctl the node does not allow are scheduled and then fail to start
            // there (docs: "Using sysctls in a Kubernetes Cluster").
            require_node_selection_for_unsafe_sysctls: true,
            // Where the cluster's own node agents live, and only administrators write.
            tuner_namespaces: vec!["kube-system".to_string()],
            // The class Kubernetes reserves for pods a node cannot work without: last to be
            // evicted, first to be scheduled.
            tuner_priority_classes: vec!["system-node-critical".to_string()],
            // Names with fewer dots than ndots are tried against every search domain first:
            // with the default 5, an external name costs up to 4 extra lookups (x2 for
            // A and AAAA), each a conntrack entry. 2 still resolves `svc.namespace`.
            max_ndots: 2,
            // Not every workload resolves external names; lowering ndots is opt-in.
            require_ndots: false,
            // A finished Job (and its pods) stays until someone deletes it.
            require_job_ttl: true,
            // Without it, a CronJob that missed more than 100 schedules (a long suspend, a
            // controller outage) stops being scheduled.
            require_starting_deadline: true,
            // The default, Allow, runs a slow job beside the next one.
            require_concurrency_policy: true,
            // The defaults are 3 and 1; a few more for debugging is fine, hundreds is not.
            max_jobs_history_limit: 10,
            mutable_tags: [
                "stable", "edge", "nightly", "main", "master", "develop", "dev", "canary",
                "snapshot", "head", "rolling", "release", "beta", "alpha", "lts", "current",
                "mainline", "testing", "unstable", "next", "preview",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            floating_version_tags: true,
            flag_mutable_if_not_present: true,
            flag_digest_always: true,
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        for (i, s) in self.allowed_unsafe_sysctls.iter().enumerate() {
            let name = s.strip_suffix('*').unwrap_or(s);
            if name.is_empty() || name.contains('*') {
                return Err(format!(
                    "allowedUnsafeSysctls[{i}] \"{s}\" must be a sysctl name or a prefix ending in *"
                ));
            }
            // The kubelet refuses to start with a non-namespaced entry.
            if !sysctl::is_namespaced(name) {
                return Err(format!(
                    "allowedUnsafeSysctls[{i}] \"{s}\" is not a namespaced sysctl (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*); the kubelet refuses such an entry, and node-level sysctls are set on the node"
                ));
            }
        }
        if self.max_ndots > 15 {
            return Err(format!(
                "maxNdots must be from 0 to 15 (resolv.conf caps ndots at 15), not {}",
                self.max_ndots
            ));
        }
        if self.max_jobs_history_limit == 0 {
            return Err("maxJobsHistoryLimit must be at least 1".into());
        }
        if let Some((i, _)) = self
            .mutable_tags
            .iter()
            .enumerate()
            .find(|(_, t)| t.is_empty())
        {
            return Err(format!("mutableTags[{i}] is empty"));
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
    fn defaults_are_valid() {
        assert_eq!(parse(json!({})).unwrap(), Settings::default());
    }

    #[test]
    fn rejects_bad_values_naming_the_field() {
        let e = parse(json!({"allowedUnsafeSysctls": ["vm.swappiness"]})).unwrap_err();
        assert!(e.contains("allowedUnsafeSysctls[0]"), "{e}");
        assert!(parse(json!({"allowedUnsafeSysctls": ["net.core.*"]})).is_ok());
        assert!(parse(json!({"allowedUnsafeSysctls": ["kernel.msg*"]})).is_ok());
        assert!(parse(json!({"allowedUnsafeSysctls": ["*"]})).is_err());
        assert!(parse(json!({"maxNdots": 16})).is_err());
        assert!(parse(json!({"maxJobsHistoryLimit": 0})).is_err());
        assert!(parse(json!({"mutableTag": []})).is_err());
    }
}

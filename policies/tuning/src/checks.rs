//! The checks, as pure functions over the workload view.

use prodready_sdk::k8s::Controller;
use prodready_sdk::k8s_openapi::api::core::v1 as core;
use prodready_sdk::shell;
use prodready_sdk::{ContainerRef, Findings, Object, Workload, WorkloadKind};

use crate::settings::Settings;
use crate::sysctl::{self, Namespace};
use crate::{DNS_NDOTS, IMAGE_PULL_POLICY, JOB_CLEANUP, NODE_TUNER_DAEMONSET, SYSCTLS_SAFE};

// ---- sysctls-safe ------------------------------------------------------------------------

/// Whether the pod places itself on chosen nodes: a nodeSelector, or required node affinity.
fn selects_nodes(w: &Workload<'_>) -> bool {
    let selector = w
        .spec
        .node_selector
        .get_at(|| w.path("nodeSelector"))
        .is_some_and(|m| !m.is_empty());
    let affinity = w
        .spec
        .affinity
        .get_at(|| w.path("affinity"))
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .is_some_and(|r| !r.node_selector_terms.is_empty());
    selector || affinity || w.spec.node_name.is_some()
}

/// sysctls-safe: what makes the kubelet refuse a pod's sysctls beyond the Pod Security list
/// (security's sysctls-pss reports every name outside that list, so the names themselves are
/// its finding): net sysctls with hostNetwork, ipc sysctls with hostIPC, and allowed unsafe
/// sysctls on pods that do not pick the nodes allowing them.
pub fn sysctls_safe(w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    let Some(sysctls) = w
        .spec
        .security_context
        .get_at(|| w.path("securityContext"))
        .and_then(|sc| sc.sysctls.as_deref())
    else {
        return;
    };
    let host_net = w.spec.host_network == Some(true);
    let host_ipc = w.spec.host_ipc == Some(true);
    let mut unplaced = Vec::new();
    for (i, sysctl) in sysctls.iter().enumerate() {
        let name = sysctl.name.as_str();
        let path = w.path(&format!("securityContext.sysctls[{i}].name"));
        match sysctl::namespace_of(name) {
            Namespace::Net if host_net => {
                out.report(
                    &SYSCTLS_SAFE,
                    path,
                    format!("sysctl \"{name}\" is in the network namespace, which this pod shares with the node (hostNetwork: true): the kubelet refuses the pod (\"not allowed with host net enabled\"); drop hostNetwork or the sysctl"),
                );
                continue;
            }
            Namespace::Ipc if host_ipc => {
                out.report(
                    &SYSCTLS_SAFE,
                    path,
                    format!("sysctl \"{name}\" is in the IPC namespace, which this pod shares with the node (hostIPC: true): the kubelet refuses the pod; drop hostIPC or the sysctl"),
                );
                continue;
            }
            _ => {}
        }
        let allowed_unsafe = !sysctl::is_safe(name)
            && s.allowed_unsafe_sysctls
                .iter()
                .any(|e| sysctl::allowed_by(e, name));
        if allowed_unsafe {
            unplaced.push((path, name));
        }
    }
    if s.require_node_selection_for_unsafe_sysctls && !unplaced.is_empty() && !selects_nodes(w) {
        for (path, name) in unplaced {
            out.warn(
                &SYSCTLS_SAFE,
                path,
                format!("sysctl \"{name}\" is unsafe: only kubelets started with --allowed-unsafe-sysctls admit it, and the scheduler does not know which those are, so the pod fails to start on any other node; select the tuned nodes with a nodeSelector (and taint them so only such pods land there)"),
            );
        }
    }
}

// ---- node-tuner-daemonset ----------------------------------------------------------------

/// Whether a path is the node's root, /proc or /sys (or below them).
fn kernel_path(p: &str) -> bool {
    let p = p.trim_end_matches('/');
    p.is_empty()
        || ["/proc", "/sys"]
            .iter()
            .any(|k| p == *k || p.strip_prefix(k).is_some_and(|r| r.starts_with('/')))
}

/// A redirect's target in a word list: `> /proc/sys/x`, `>/sys/x`, `2>>/proc/...`.
fn redirect_targets(words: &[String]) -> Vec<&str> {
    let mut targets = Vec::new();
    let mut next = false;
    for w in words {
        if next {
            targets.push(w.as_str());
            next = false;
            continue;
        }
        if shell::is_redirect(w) {
            let op = w.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
            if op.starts_with('>') {
                let target = op.trim_start_matches('>').trim_start_matches('|');
                if target.is_empty() {
                    next = true;
                } else {
                    targets.push(target);
                }
            }
        }
    }
    targets
}

/// What a simple command does to the node's kernel settings, if anything.
fn command_tunes(words: &[String]) -> Option<String> {
    if let Some(t) = redirect_targets(words).into_iter().find(|t| {
        let t = t.trim_end_matches('/');
        t.starts_with("/proc/sys/") || t.starts_with("/sys/")
    }) {
        return Some(format!("writes {t}"));
    }
    let (cmd, args) = shell::command_word(words)?;
    let args = shell::strip_env(args);
    match shell::basename(cmd) {
        "sysctl" => {
            let writes = args.iter().any(|a| {
                matches!(a.as_str(), "-w" | "--write" | "-p" | "--load" | "--system")
                    || (a.starts_with('-') && !a.starts_with("--") && a.contains('w'))
                    || (!a.starts_with('-') && a.contains('='))
            });
            writes.then(|| "runs sysctl to set kernel parameters".to_string())
        }
        "tee" => shell::operands(args)
            .find(|a| a.starts_with("/proc/sys/") || a.starts_with("/sys/"))
            .map(|a| format!("writes {a}")),
        "nsenter" => Some("enters the node's namespaces (nsenter)".to_string()),
        "modprobe" | "insmod" => Some("loads kernel modules".to_string()),
        _ => None,
    }
}

/// What a container's command line does to the node's kernel, if anything.
fn container_tunes(c: &ContainerRef<'_, '_>) -> Option<String> {
    let argv: Vec<String> = c.argv().into_iter().map(str::to_string).collect();
    let argv = shell::strip_env(&argv);
    if let Some(script) = shell::shell_script(argv) {
        return shell::simple_commands(script)
            .iter()
            .find_map(|words| command_tunes(words));
    }
    command_tunes(argv)
}

/// Why a DaemonSet changes its nodes: (reason, whether it sets kernel state explicitly).
fn tuner_reason(w: &Workload<'_>) -> Option<(String, bool)> {
    for c in w.all_containers() {
        if let Some(what) = container_tunes(&c) {
            return Some((format!("container \"{}\" {what}", c.name()), true));
        }
    }
    // A writable hostPath of the node's root, /proc or /sys.
    for (path, v) in w.volumes() {
        let Some(hp) = v.source::<core::HostPathVolumeSource>("hostPath", || path.clone()) else {
            continue;
        };
        if !kernel_path(&hp.path) {
            continue;
        }
        for c in w.all_containers() {
            if c.volume_mounts()
                .iter()
                .any(|m| m.name == v.name && m.read_only != Some(true))
            {
                return Some((
                    format!(
                        "container \"{}\" mounts the node's {} writable",
                        c.name(),
                        hp.path
                    ),
                    true,
                ));
            }
        }
    }
    for c in w.all_containers() {
        if c.security_context().and_then(|sc| sc.privileged) == Some(true) {
            return Some((format!("container \"{}\" is privileged", c.name()), false));
        }
    }
    None
}

/// Whether the tolerations admit the pod on nodes with any taint: an `Exists` toleration
/// without key and effect, or such tolerations for both NoSchedule and NoExecute.
fn tolerates_everything(tolerations: &[core::Toleration]) -> bool {
    let wildcard = |t: &&core::Toleration| {
        t.operator.as_deref() == Some("Exists") && t.key.as_deref().unwrap_or_default().is_empty()
    };
    let effect = |e: &str| {
        tolerations.iter().filter(wildcard).any(|t| {
            t.effect.as_deref().unwrap_or_default().is_empty() || t.effect.as_deref() == Some(e)
        })
    };
    effect("NoSchedule") && effect("NoExecute")
}

/// node-tuner-daemonset: a DaemonSet that changes its nodes lives in an administrators'
/// namespace, reaches every node, and is the last thing evicted. Setting kernel state is an
/// error; a privileged agent that does not is held to it as a warning.
pub fn node_tuner(object: &Object<'_>, w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    if w.kind != WorkloadKind::DaemonSet {
        return;
    }
    let Some((why, tunes)) = tuner_reason(w) else {
        return;
    };
    let name = &object.reference.name;
    let mut emit = |path: String, message: String| {
        if tunes {
            out.report(&NODE_TUNER_DAEMONSET, path, message);
        } else {
            out.warn(&NODE_TUNER_DAEMONSET, path, message);
        }
    };
    let ns = object.namespace().unwrap_or("default");
    if !s.tuner_namespaces.iter().any(|n| n == ns) {
        emit(
            "metadata.namespace".to_string(),
            format!(
                "DaemonSet {name} changes its nodes ({why}) but lives in namespace {ns}; node-level power belongs in a namespace only cluster administrators write ({}): move it, or add the namespace to tunerNamespaces",
                s.tuner_namespaces.join(", ")
            ),
        );
    }
    let tolerations = w
        .spec
        .tolerations
        .get_at(|| w.path("tolerations"))
        .map_or(&[][..], Vec::as_slice);
    if !tolerates_everything(tolerations) {
        emit(
            w.path("tolerations"),
            format!(
                "DaemonSet {name} changes its nodes ({why}) but does not tolerate every taint, so tainted nodes (dedicated pools, NoExecute taints) stay untuned or evict it; add tolerations: [{{operator: Exists}}]"
            ),
        );
    }
    let class = w.spec.priority_class_name.as_deref().unwrap_or_default();
    if !s.tuner_priority_classes.iter().any(|c| c == class) {
        let has = if class.is_empty() {
            "no priorityClassName".to_string()
        } else {
            format!("priorityClassName {class}")
        };
        emit(
            w.path("priorityClassName"),
            format!(
                "DaemonSet {name} changes its nodes ({why}) and has {has}, so under node pressure it is evicted before the workloads it tunes for, and a full node cannot schedule it; set priorityClassName: {}",
                s.tuner_priority_classes
                    .first()
                    .map_or("system-node-critical", String::as_str)
            ),
        );
    }
}

// ---- dns-ndots ---------------------------------------------------------------------------

/// dns-ndots: a dnsConfig ndots is at most maxNdots; with requireNdots, set at all.
pub fn dns_ndots(w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    let options = w
        .spec
        .dns_config
        .get_at(|| w.path("dnsConfig"))
        .and_then(|c| c.options.as_deref())
        .unwrap_or_default();
    // resolv.conf takes the last ndots; the kubelet writes them in order.
    let ndots = options
        .iter()
        .enumerate()
        .rfind(|(_, o)| o.name.as_deref() == Some("ndots"));
    match ndots {
        Some((i, o)) => {
            let value = o.value.as_deref().unwrap_or_default();
            let path = w.path(&format!("dnsConfig.options[{i}].value"));
            match value.trim().parse::<u32>() {
                Ok(n) if n <= s.max_ndots => {}
                Ok(n) => out.report(
                    &DNS_NDOTS,
                    path,
                    format!("dnsConfig sets ndots {n}: a name with fewer dots is first tried with every search domain (up to {} extra lookups, each an A and an AAAA query and a conntrack entry); set ndots {} or less and write external names with a trailing dot", n.saturating_mul(2), s.max_ndots),
                ),
                Err(_) => out.report(
                    &DNS_NDOTS,
                    path,
                    format!("dnsConfig option ndots has the value \"{value}\", which is not a number; set a number of at most {}", s.max_ndots),
                ),
            }
        }
        None => {
            let policy = w.spec.dns_policy.as_deref().unwrap_or("ClusterFirst");
            let cluster_dns = match policy {
                "ClusterFirstWithHostNet" => true,
                "ClusterFirst" => w.spec.host_network != Some(true),
                _ => false,
            };
            if s.require_ndots && cluster_dns {
                out.report(
                    &DNS_NDOTS,
                    w.path("dnsConfig"),
                    format!("the pod resolves through the cluster DNS with Kubernetes' default ndots 5, so every external name is first tried with each search domain; set dnsConfig.options: [{{name: ndots, value: \"{}\"}}]", s.max_ndots),
                );
            }
        }
    }
}

// ---- job-cleanup -------------------------------------------------------------------------

/// Annotations of tools that delete the Job themselves.
const CLEANED_BY: [&str; 2] = [
    "helm.sh/hook-delete-policy",
    "argocd.argoproj.io/hook-delete-policy",
];

/// job-cleanup: finished Jobs go away; CronJobs are scheduled safely and keep bounded history.
pub fn job_cleanup(object: &Object<'_>, w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    let name = &object.reference.name;
    match &w.controller {
        Controller::Job(job) => {
            if !s.require_job_ttl || job.ttl_seconds_after_finished.is_some() {
                return;
            }
            // A CronJob's Jobs are removed by its history limits; hook Jobs by their tool.
            if object
                .meta
                .owner_references
                .iter()
                .any(|o| o.kind == "CronJob")
                || CLEANED_BY
                    .iter()
                    .any(|a| object.meta.annotations.contains_key(*a))
            {
                return;
            }
            out.report(
                &JOB_CLEANUP,
                "spec.ttlSecondsAfterFinished".to_string(),
                format!("Job {name} sets no ttlSecondsAfterFinished, so the finished Job and its pods stay until someone deletes them; set it (e.g. 86400 to keep a day for debugging)"),
            );
        }
        Controller::CronJob(cj) => {
            match cj.starting_deadline_seconds {
                None if s.require_starting_deadline => out.report(
                    &JOB_CLEANUP,
                    "spec.startingDeadlineSeconds".to_string(),
                    format!("CronJob {name} sets no startingDeadlineSeconds: after more than 100 missed schedules (a long suspend, a controller outage) the controller stops starting it (\"too many missed start times\"); set it, e.g. to the schedule's interval"),
                ),
                Some(d) if d < 10 => out.report(
                    &JOB_CLEANUP,
                    "spec.startingDeadlineSeconds".to_string(),
                    format!("CronJob {name} sets startingDeadlineSeconds {d}: the controller checks every 10 seconds, so a start may be missed every time; set at least 10"),
                ),
                _ => {}
            }
            if s.require_concurrency_policy && cj.concurrency_policy.is_none() {
                out.report(
                    &JOB_CLEANUP,
                    "spec.concurrencyPolicy".to_string(),
                    format!("CronJob {name} sets no concurrencyPolicy, so it is Allow: a run that outlasts its interval runs beside the next one, and they pile up; set Forbid or Replace (or Allow, explicitly)"),
                );
            }
            for (field, value) in [
                (
                    "successfulJobsHistoryLimit",
                    cj.successful_jobs_history_limit,
                ),
                ("failedJobsHistoryLimit", cj.failed_jobs_history_limit),
            ] {
                if let Some(n) = value
                    .filter(|n| u32::try_from(*n).map_or(true, |n| n > s.max_jobs_history_limit))
                {
                    out.report(
                        &JOB_CLEANUP,
                        format!("spec.{field}"),
                        format!("CronJob {name} keeps {field} {n} finished Jobs, each with its pod; keep at most {} (the defaults are 3 and 1)", s.max_jobs_history_limit),
                    );
                }
            }
        }
        _ => {}
    }
}

// ---- image-pull-policy -------------------------------------------------------------------

/// An image reference's tag (of its last path component) and whether it has a digest.
pub fn image_parts(image: &str) -> (Option<&str>, bool) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, _)) => (r, true),
        None => (image, false),
    };
    let last = rest.rsplit('/').next().unwrap_or(rest);
    (last.split_once(':').map(|(_, t)| t), digest)
}

/// `7`, `v2`, `16-alpine`: a major version only, which moves with every release under it
/// (at most three digits: `20240101` is a build, not a version). `1.27` is not counted: many
/// projects publish `X.Y` as a full release, and official images use it as a moving tag.
pub fn floating_version(tag: &str) -> bool {
    let version = tag.split('-').next().unwrap_or(tag);
    let version = version.strip_prefix('v').unwrap_or(version);
    !version.is_empty() && version.len() <= 3 && version.bytes().all(|b| b.is_ascii_digit())
}

/// image-pull-policy: no stale mutable tags, no wasted pulls of digests.
pub fn image_pull_policy(w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    for c in w.every_container() {
        let Some(image) = c.container.image.as_deref() else {
            continue;
        };
        let (tag, digest) = image_parts(image);
        let policy = c.container.image_pull_policy.as_deref();
        if digest {
            if s.flag_digest_always && policy == Some("Always") {
                out.report(
                    &IMAGE_PULL_POLICY,
                    c.field("imagePullPolicy"),
                    format!("container \"{}\" pins {image} by digest yet pulls Always: the image cannot change, so each start only waits on the registry (and fails when it is down); set imagePullPolicy: IfNotPresent", c.name()),
                );
            }
            continue;
        }
        // No tag or `latest`: ci-cd's image-tag-pinned, and the API server defaults the
        // policy to Always for them.
        let Some(tag) = tag.filter(|t| *t != "latest") else {
            continue;
        };
        // Unset means IfNotPresent for any other tag (API defaulting).
        let if_not_present = matches!(policy, None | Some("IfNotPresent"));
        let mutable = s.mutable_tags.iter().any(|m| m.eq_ignore_ascii_case(tag))
            || (s.floating_version_tags && floating_version(tag));
        if s.flag_mutable_if_not_present && if_not_present && mutable {
            let how = if policy.is_none() {
                "imagePullPolicy is unset, so IfNotPresent"
            } else {
                "imagePullPolicy is IfNotPresent"
            };
            out.report(
                &IMAGE_PULL_POLICY,
                c.field("imagePullPolicy"),
                format!("container \"{}\" uses the moving tag \"{tag}\" ({image}) and {how}: a node that pulled it once keeps serving that old image, so pods of one workload run different code; pin a full version or a digest, or set imagePullPolicy: Always", c.name()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::testing::workload_of;
    use serde_json::json;

    #[test]
    fn image_references() {
        assert_eq!(image_parts("nginx"), (None, false));
        assert_eq!(
            image_parts("registry:5000/team/app:1.2"),
            (Some("1.2"), false)
        );
        assert_eq!(image_parts("registry:5000/team/app"), (None, false));
        assert_eq!(image_parts("app:1.2@sha256:abc"), (Some("1.2"), true));
        assert!(floating_version("7"));
        assert!(floating_version("v2"));
        assert!(floating_version("16-alpine"));
        assert!(!floating_version("1.27"));
        assert!(!floating_version("1.27.3"));
        assert!(!floating_version("20240101"));
        assert!(!floating_version("stable"));
    }

    #[test]
    fn pull_policies() {
        let s = Settings::default();
        let run = |c: serde_json::Value| {
            let w = workload_of(
                WorkloadKind::Deployment,
                json!({"app": "a"}),
                json!({"containers": [c]}),
            );
            let mut out = Findings::new();
            image_pull_policy(&w, &s, &mut out);
            out.ids()
        };
        assert_eq!(
            run(json!({"name": "a", "image": "redis:7"})),
            ["image-pull-policy"]
        );
        assert_eq!(
            run(json!({"name": "a", "image": "redis:7", "imagePullPolicy": "Always"})),
            Vec::<&str>::new()
        );
        assert_eq!(
            run(json!({"name": "a", "image": "redis:7.2.4"})),
            Vec::<&str>::new()
        );
        assert_eq!(
            run(json!({"name": "a", "image": "redis:latest"})),
            Vec::<&str>::new()
        );
        assert_eq!(
            run(json!({"name": "a", "image": "app:Stable", "imagePullPolicy": "IfNotPresent"})),
            ["image-pull-policy"]
        );
        assert_eq!(
            run(json!({"name": "a", "image": "app@sha256:0123", "imagePullPolicy": "Always"})),
            ["image-pull-policy"]
        );
        assert_eq!(
            run(json!({"name": "a", "image": "app@sha256:0123"})),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn tuner_detection() {
        let ds = |spec: serde_json::Value| {
            workload_of(WorkloadKind::DaemonSet, json!({"app": "t"}), spec)
        };
        let reason = |spec| tuner_reason(&ds(spec)).map(|(_, t)| t);
        assert_eq!(
            reason(
                json!({"containers": [{"name": "a", "command": ["sh", "-c", "echo 1 > /proc/sys/net/core/somaxconn && sleep infinity"]}]})
            ),
            Some(true)
        );
        assert_eq!(
            reason(
                json!({"containers": [{"name": "a", "command": ["sysctl", "-w", "vm.max_map_count=262144"]}]})
            ),
            Some(true)
        );
        assert_eq!(
            reason(
                json!({"containers": [{"name": "a", "command": ["/bin/sh", "-c", "sysctl net.core.somaxconn=1024; sleep 1d"]}]})
            ),
            Some(true)
        );
        assert_eq!(
            reason(json!({"containers": [{"name": "a", "command": ["sysctl", "-a"]}]})),
            None
        );
        assert_eq!(
            reason(json!({"containers": [{"name": "a", "securityContext": {"privileged": true}}]})),
            Some(false)
        );
        assert_eq!(
            reason(json!({"hostNetwork": true, "containers": [{"name": "a"}]})),
            None
        );
        assert_eq!(
            reason(
                json!({"volumes": [{"name": "s", "hostPath": {"path": "/sys"}}],
            "containers": [{"name": "a", "volumeMounts": [{"name": "s", "mountPath": "/host/sys", "readOnly": true}]}]})
            ),
            None
        );
        assert_eq!(
            reason(
                json!({"volumes": [{"name": "s", "hostPath": {"path": "/proc/sys/"}}],
            "containers": [{"name": "a", "volumeMounts": [{"name": "s", "mountPath": "/host"}]}]})
            ),
            Some(true)
        );
    }

    #[test]
    fn tolerations() {
        let t =
            |v: serde_json::Value| -> Vec<core::Toleration> { serde_json::from_value(v).unwrap() };
        assert!(tolerates_everything(&t(json!([{"operator": "Exists"}]))));
        assert!(tolerates_everything(&t(
            json!([{"operator": "Exists", "effect": "NoSchedule"}, {"operator": "Exists", "effect": "NoExecute"}])
        )));
        assert!(!tolerates_everything(&t(
            json!([{"operator": "Exists", "effect": "NoSchedule"}])
        )));
        assert!(!tolerates_everything(&t(
            json!([{"key": "dedicated", "operator": "Exists"}])
        )));
    }
}

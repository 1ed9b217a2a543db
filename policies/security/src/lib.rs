//! Rule 12 of the talk, security and authorization (slides 62-64): Kubernetes' own RBAC, Pod
//! Security and NetworkPolicy, used well. Pods meet the Pod Security Standards exactly as the
//! Pod Security Admission controller evaluates them — controls of the enforced level are
//! errors, those only in the warned level warnings — with a read-only root filesystem and API
//! tokens only where the API is called; roles grant no wildcards and no escalation-prone
//! permissions outside trusted subjects, nothing binds cluster-admin or anonymous users; and
//! every workload sits behind a NetworkPolicy that selects something.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod netpol;
pub mod pod;
pub mod pss;
pub mod rbac;
pub mod settings;

use prodready_sdk::metadata::{
    CRON_JOB, DAEMON_SET, DEPLOYMENT, JOB, POD, REPLICA_SET, REPLICATION_CONTROLLER, STATEFUL_SET,
};
use prodready_sdk::{
    CREATE_UPDATE, Check, ContextResource, Cx, Findings, Object, Resource, Rule, RuleInfo,
    Severity, Workload,
};

pub use settings::Settings;

use pss::{Level, Policy};

macro_rules! pss_check {
    ($name:ident, $id:literal, $description:literal, $remediation:literal) => {
        pub const $name: Check = Check {
            id: $id,
            severity: Severity::Error,
            description: $description,
            remediation: $remediation,
            context: "",
        };
    };
}

pss_check!(
    PRIVILEGED,
    "privileged",
    "Pod Security baseline: no container sets securityContext.privileged: true.",
    "Remove securityContext.privileged and add only the capabilities the container needs."
);
pss_check!(
    HOST_NAMESPACES,
    "host-namespaces",
    "Pod Security baseline: the pod does not set hostNetwork, hostPID or hostIPC.",
    "Remove hostNetwork, hostPID and hostIPC; a node agent that needs them belongs in a namespace whose Pod Security level is privileged."
);
pss_check!(
    HOST_PATH,
    "host-path",
    "Pod Security baseline: no hostPath volume, except below a path in allowedHostPaths.",
    "Use a persistentVolumeClaim, emptyDir, configMap or secret volume instead of hostPath, or list the path in allowedHostPaths."
);
pss_check!(
    HOST_PORTS,
    "host-ports",
    "Pod Security baseline: no container port sets a hostPort, except those in allowedHostPorts.",
    "Remove hostPort and expose the port through a Service, or list it in allowedHostPorts."
);
pss_check!(
    CAPABILITIES,
    "capabilities",
    "Pod Security: baseline adds only default capabilities; restricted (v1.22+) drops ALL and adds at most NET_BIND_SERVICE. Names are exact and case-sensitive.",
    "Set securityContext.capabilities.drop: [\"ALL\"] and add back only NET_BIND_SERVICE if the container binds a port below 1024."
);
pss_check!(
    PRIVILEGE_ESCALATION,
    "privilege-escalation",
    "Pod Security restricted (v1.8+): every container sets securityContext.allowPrivilegeEscalation: false (Windows pods exempt from v1.25).",
    "Set securityContext.allowPrivilegeEscalation: false on every container, init and ephemeral containers included."
);
pss_check!(
    RUN_AS_NON_ROOT,
    "run-as-non-root",
    "Pod Security restricted: runAsNonRoot is true for the pod or every container, and (v1.23+) no runAsUser is 0; pods with hostUsers: false pass from v1.35.",
    "Set securityContext.runAsNonRoot: true at the pod level, run the image as a non-root user, and do not set runAsUser: 0."
);
pss_check!(
    SECCOMP,
    "seccomp",
    "Pod Security: baseline forbids an Unconfined seccomp profile; restricted (v1.19+) requires RuntimeDefault or Localhost for the pod or every container (before v1.19 the seccomp annotations).",
    "Set securityContext.seccompProfile.type: RuntimeDefault at the pod level."
);
pss_check!(
    PROC_MOUNT,
    "proc-mount",
    "Pod Security baseline: no container sets a procMount other than Default (baseline allows it with hostUsers: false from v1.35, restricted does not).",
    "Remove securityContext.procMount, or set it to Default."
);
pss_check!(
    APPARMOR,
    "apparmor",
    "Pod Security baseline: no AppArmor profile type other than RuntimeDefault or Localhost (fields and container.apparmor.security.beta.kubernetes.io annotations).",
    "Remove the Unconfined AppArmor profile; use RuntimeDefault or a Localhost profile."
);
pss_check!(
    SELINUX,
    "selinux",
    "Pod Security baseline: seLinuxOptions set no user or role, and a type only of container_t, container_init_t, container_kvm_t (or container_engine_t from v1.31).",
    "Remove seLinuxOptions.user and .role, and use one of the allowed container types."
);
pss_check!(
    SYSCTLS_PSS,
    "sysctls-pss",
    "Pod Security baseline: pod sysctls only from the safe set of the policy version, names compared exactly.",
    "Remove the sysctl (set node-level tuning on the nodes), or write a safe sysctl's name with dots as the standard lists it."
);
pss_check!(
    VOLUME_TYPES,
    "volume-types",
    "Pod Security restricted: volumes only of the types configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected and secret (hostPath is host-path's).",
    "Mount the storage through a persistentVolumeClaim (any PersistentVolume type works behind it) or a csi volume."
);
pss_check!(
    HOST_PROCESS,
    "host-process",
    "Pod Security baseline: neither the pod nor a container sets windowsOptions.hostProcess: true.",
    "Remove securityContext.windowsOptions.hostProcess."
);
pss_check!(
    HOST_PROBES,
    "host-probes",
    "Pod Security baseline (v1.34+): probes and lifecycle handlers set no httpGet.host or tcpSocket.host.",
    "Remove host from the probe or lifecycle handler, so the kubelet connects to the pod's own IP."
);

pub const READ_ONLY_ROOT_FS: Check = Check {
    id: "read-only-root-fs",
    severity: Severity::Warning,
    description: "Every container and init container sets securityContext.readOnlyRootFilesystem: true (not in the Pod Security Standards; widely recommended).",
    remediation: "Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir at each path the process writes (e.g. /tmp, caches).",
    context: "",
};

pub const SERVICE_ACCOUNT_TOKEN: Check = Check {
    id: "service-account-token",
    severity: Severity::Warning,
    description: "A pod mounts an API token only when it needs the API: not through the namespace's default ServiceAccount, and through a dedicated one only if listed in apiServiceAccounts (default: every dedicated one).",
    remediation: "Set automountServiceAccountToken: false on pods (or ServiceAccounts) that do not call the API, and give pods that do a ServiceAccount of their own.",
    context: "Reads the pod's ServiceAccount (automountServiceAccountToken) when the set, or the cluster at admission, has it; without it the token counts as mounted, as it is by default.",
};

pub const RBAC_WILDCARDS: Check = Check {
    id: "rbac-wildcards",
    severity: Severity::Error,
    description: "Role and ClusterRole rules have no \"*\" in verbs, resources or apiGroups (a warning when confined to custom API groups); aggregated ClusterRoles are judged by the roles they aggregate, and an aggregation selector of everything is an error.",
    remediation: "List the API groups, resources and verbs the subject needs instead of \"*\".",
    context: "",
};

pub const RBAC_ESCALATION: Check = Check {
    id: "rbac-escalation",
    severity: Severity::Error,
    description: "No role grants escalate, bind or impersonate, reading every Secret (a ClusterRole bound cluster-wide), pods/exec, pods/attach, nodes/proxy, CSR approval or admission webhook writes — named or through a wildcard — unless every subject bound to it is in allowedSubjects.",
    remediation: "Drop the permission, narrow it with resourceNames, or bind the role only to subjects you list in allowedSubjects.",
    context: "Reads the RoleBindings and ClusterRoleBindings of the set (at admission, of the cluster) that reference the role, to know its subjects and whether a ClusterRole is bound cluster-wide; without them the role is judged alone, and Secrets read through a ClusterRole is a warning.",
};

pub const RBAC_ADMIN_BINDING: Check = Check {
    id: "rbac-admin-binding",
    severity: Severity::Error,
    description: "No RoleBinding or ClusterRoleBinding binds cluster-admin, or binds the groups system:masters, system:unauthenticated or the user system:anonymous.",
    remediation: "Bind a role that lists what the subjects need, and remove anonymous and system:masters subjects.",
    context: "",
};

pub const NETWORK_POLICY_COVERAGE: Check = Check {
    id: "network-policy-coverage",
    severity: Severity::Warning,
    description: "Every workload's pods are selected by a NetworkPolicy covering ingress (and egress with requireEgress); a namespace default-deny counts. Host-network pods are not subject to NetworkPolicy.",
    remediation: "Add a NetworkPolicy whose podSelector selects the pods (a default-deny with podSelector: {} and policyTypes: [Ingress] covers a namespace) and allow what must reach them.",
    context: "Reads the NetworkPolicies of the workload's namespace. Skipped without context, and when the set (at admission, the cluster as the policy engine sees it) holds no NetworkPolicy at all: they are managed elsewhere, or not synced.",
};

pub const NETWORK_POLICY_TARGETS: Check = Check {
    id: "network-policy-targets",
    severity: Severity::Warning,
    description: "A NetworkPolicy's podSelector selects some pod template of its namespace, or the pods a Service of the namespace routes to (operator-created pods); a podSelector of {} always passes.",
    remediation: "Fix spec.podSelector to match the labels of the pods the policy is meant for.",
    context: "Reads the workloads (Pods and controllers' pod templates) and the Services (their selectors) of the policy's namespace, from the set or, at admission, the cluster; skipped without context or when there is no workload in that namespace.",
};

pub const RBAC_ROLE: Resource =
    Resource::namespaced(rbac::RBAC_GROUP, &["v1", "v1beta1"], "Role", "roles");
pub const RBAC_CLUSTER_ROLE: Resource = Resource::cluster(
    rbac::RBAC_GROUP,
    &["v1", "v1beta1"],
    "ClusterRole",
    "clusterroles",
);
pub const RBAC_ROLE_BINDING: Resource = Resource::namespaced(
    rbac::RBAC_GROUP,
    &["v1", "v1beta1"],
    "RoleBinding",
    "rolebindings",
);
pub const RBAC_CLUSTER_ROLE_BINDING: Resource = Resource::cluster(
    rbac::RBAC_GROUP,
    &["v1", "v1beta1"],
    "ClusterRoleBinding",
    "clusterrolebindings",
);
pub const NETWORK_POLICY: Resource =
    Resource::namespaced(netpol::GROUP, &["v1"], netpol::KIND, "networkpolicies");
pub const SERVICE_ACCOUNT: Resource =
    Resource::namespaced("", &["v1"], "ServiceAccount", "serviceaccounts");
pub const SERVICE: Resource = Resource::namespaced("", &["v1"], "Service", "services");
pub const NAMESPACE: Resource = Resource::cluster("", &["v1"], "Namespace", "namespaces");

const RESOURCES: &[Resource] = &[
    POD,
    REPLICATION_CONTROLLER,
    DEPLOYMENT,
    STATEFUL_SET,
    DAEMON_SET,
    REPLICA_SET,
    JOB,
    CRON_JOB,
    RBAC_ROLE,
    RBAC_CLUSTER_ROLE,
    RBAC_ROLE_BINDING,
    RBAC_CLUSTER_ROLE_BINDING,
    NETWORK_POLICY,
];

const CONTEXT: &[ContextResource] = &[
    ContextResource::new(NETWORK_POLICY, &["spec"]),
    ContextResource::new(NAMESPACE, &[]),
    ContextResource::new(SERVICE_ACCOUNT, &["automountServiceAccountToken"]),
    ContextResource::new(SERVICE, &["spec"]),
    ContextResource::new(RBAC_ROLE_BINDING, &["roleRef", "subjects"]),
    ContextResource::new(RBAC_CLUSTER_ROLE_BINDING, &["roleRef", "subjects"]),
    ContextResource::new(POD, &["spec"]),
    ContextResource::new(REPLICATION_CONTROLLER, &["spec"]),
    ContextResource::new(DEPLOYMENT, &["spec"]),
    ContextResource::new(STATEFUL_SET, &["spec"]),
    ContextResource::new(DAEMON_SET, &["spec"]),
    ContextResource::new(REPLICA_SET, &["spec"]),
    ContextResource::new(JOB, &["spec"]),
    ContextResource::new(CRON_JOB, &["spec"]),
];

pub struct Security;

impl Rule for Security {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 12,
        id: "security",
        title: "Security",
        description: "Pods meet the Pod Security Standards (enforced level errors, warned level warnings) with read-only root filesystems and API tokens only where needed; RBAC grants no wildcards, escalation paths or cluster-admin; NetworkPolicies cover every workload and select something.",
        slide: "slides 62-64",
        checks: &[
            PRIVILEGED,
            HOST_NAMESPACES,
            HOST_PATH,
            HOST_PORTS,
            CAPABILITIES,
            PRIVILEGE_ESCALATION,
            RUN_AS_NON_ROOT,
            SECCOMP,
            PROC_MOUNT,
            APPARMOR,
            SELINUX,
            SYSCTLS_PSS,
            VOLUME_TYPES,
            HOST_PROCESS,
            HOST_PROBES,
            READ_ONLY_ROOT_FS,
            SERVICE_ACCOUNT_TOKEN,
            RBAC_WILDCARDS,
            RBAC_ESCALATION,
            RBAC_ADMIN_BINDING,
            NETWORK_POLICY_COVERAGE,
            NETWORK_POLICY_TARGETS,
        ],
        resources: RESOURCES,
        context: CONTEXT,
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        if let Some(w) = object.workload() {
            pod_security(object, w, cx, out);
            pod::read_only_root_fs(w, out);
            pod::service_account_token(object, w, cx, out);
            netpol::coverage(object, w, cx, out);
            return Ok(());
        }
        if object.is(rbac::RBAC_GROUP, "Role") || object.is(rbac::RBAC_GROUP, "ClusterRole") {
            return rbac::check_role(object, cx, out);
        }
        if object.is(rbac::RBAC_GROUP, "RoleBinding")
            || object.is(rbac::RBAC_GROUP, "ClusterRoleBinding")
        {
            return rbac::check_binding(object, out);
        }
        if object.is(netpol::GROUP, netpol::KIND) {
            return netpol::targets(object, cx, out);
        }
        Ok(())
    }
}

/// The policy that applies to the workload: the settings, or its Namespace's
/// `pod-security.kubernetes.io/*` labels; `None` when it is exempt.
fn policy_for(object: &Object<'_>, w: &Workload<'_>, cx: &Cx<'_, Settings>) -> Option<Policy> {
    let s = cx.settings;
    let ns = object.namespace();
    if ns.is_some_and(|n| s.exempt_namespaces.iter().any(|e| e == n)) {
        return None;
    }
    if let Some(rc) = w.spec.runtime_class_name.as_deref()
        && s.exempt_runtime_classes.iter().any(|e| e == rc)
    {
        return None;
    }
    let mut policy = Policy::of(s);
    if s.namespace_labels
        && let Some(n) = ns.and_then(|n| cx.context.get("", "Namespace", None, n))
    {
        policy = policy.with_labels(&n.meta.labels);
    }
    Some(policy)
}

/// The Pod Security controls: errors for the enforced level, warnings for what only the
/// warned level (at its own version) adds.
fn pod_security(object: &Object<'_>, w: &Workload<'_>, cx: &Cx<'_, Settings>, out: &mut Findings) {
    let Some(policy) = policy_for(object, w, cx) else {
        return;
    };
    let s = cx.settings;
    let enforce_minor = policy.enforce.version.effective();
    let warn_minor = policy.warn.version.effective();
    let tag = |h: &pss::Hit, minor: u32| {
        let level = h.level();
        let escape = if level == Level::Baseline {
            "; a pod that needs it belongs in a namespace labelled pod-security.kubernetes.io/enforce: privileged"
        } else {
            ""
        };
        format!(
            "{}{escape} (Pod Security Standards: {}, v1.{minor})",
            h.message,
            level.as_str()
        )
    };
    let mut reported: Vec<(&'static str, String)> = Vec::new();
    let enforce_hits = if policy.enforce.level == Level::Privileged {
        Vec::new()
    } else {
        pss::evaluate(w, s, enforce_minor)
    };
    for h in enforce_hits
        .iter()
        .filter(|h| h.fails(policy.enforce.level))
    {
        reported.push((h.check.id, h.path.clone()));
        out.report(h.check, h.path.clone(), tag(h, enforce_minor));
    }
    if policy.warn.level == Level::Privileged {
        return;
    }
    let warn_hits = if warn_minor == enforce_minor && policy.enforce.level != Level::Privileged {
        enforce_hits
    } else {
        pss::evaluate(w, s, warn_minor)
    };
    for h in warn_hits.iter().filter(|h| h.fails(policy.warn.level)) {
        if reported
            .iter()
            .any(|(id, p)| *id == h.check.id && *p == h.path)
        {
            continue;
        }
        out.warn(h.check, h.path.clone(), tag(h, warn_minor));
    }
}

prodready_sdk::export_rule!(Security);

#[cfg(test)]
mod tests {
    use prodready_sdk::testing::{self, ids};
    use serde_json::{Value, json};

    use super::Security;

    fn pod(spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"}, "spec": spec})
    }

    fn hardened() -> Value {
        json!({
            "automountServiceAccountToken": false,
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "app", "image": "app:1", "securityContext": {
                "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
                "capabilities": {"drop": ["ALL"]}}}]
        })
    }

    #[test]
    fn metadata_lists_the_checks_and_a_strict_schema() {
        let m: Value = serde_json::from_slice(&super::metadata_json()).unwrap();
        assert_eq!(m["id"], "security");
        assert_eq!(m["number"], 12);
        assert_eq!(m["checks"].as_array().unwrap().len(), 22);
        let props = m["settingsSchema"]["properties"].as_object().unwrap();
        for key in [
            "enforce",
            "warn",
            "version",
            "namespaceLabels",
            "exemptNamespaces",
            "allowedHostPaths",
            "allowedSubjects",
            "requireEgress",
            "audit",
            "severity",
        ] {
            assert!(props.contains_key(key), "schema lacks {key}");
        }
    }

    #[test]
    fn a_hardened_pod_passes_and_levels_grade_findings() {
        let v = testing::evaluate::<Security>(&pod(hardened()), &Value::Null);
        assert_eq!(ids(&v), Vec::<&str>::new(), "{v:?}");
        let mut spec = hardened();
        spec["hostNetwork"] = json!(true);
        spec["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true);
        let v = testing::evaluate::<Security>(&pod(spec.clone()), &Value::Null);
        assert_eq!(ids(&v), ["host-namespaces", "privilege-escalation"]);
        assert_eq!(v.violations[0].severity, prodready_sdk::Severity::Error);
        assert_eq!(v.violations[1].severity, prodready_sdk::Severity::Warning);
        assert!(!v.allowed);
        // enforce restricted: both errors; enforce privileged + warn baseline: one warning.
        let v =
            testing::evaluate::<Security>(&pod(spec.clone()), &json!({"enforce": "restricted"}));
        assert!(
            v.violations
                .iter()
                .all(|x| x.severity == prodready_sdk::Severity::Error)
        );
        let v = testing::evaluate::<Security>(
            &pod(spec),
            &json!({"enforce": "privileged", "warn": "baseline"}),
        );
        assert_eq!(ids(&v), ["host-namespaces"]);
        assert!(v.allowed);
    }

    #[test]
    fn namespace_labels_and_exemptions() {
        let mut spec = hardened();
        spec["hostPID"] = json!(true);
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop",
            "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}});
        let v = testing::evaluate_in::<Security>(&pod(spec.clone()), &Value::Null, &[ns]);
        // Enforce privileged; warn stays restricted (the default), so it is a warning.
        assert_eq!(ids(&v), ["host-namespaces"]);
        assert!(v.allowed);
        let v = testing::evaluate::<Security>(
            &pod(spec.clone()),
            &json!({"exemptNamespaces": ["shop"]}),
        );
        assert_eq!(ids(&v), Vec::<&str>::new());
        spec["runtimeClassName"] = json!("kata");
        let v =
            testing::evaluate::<Security>(&pod(spec), &json!({"exemptRuntimeClasses": ["kata"]}));
        assert_eq!(ids(&v), Vec::<&str>::new());
    }

    #[test]
    fn network_policy_checks_are_skipped_without_context() {
        let v = testing::evaluate::<Security>(&pod(hardened()), &Value::Null);
        assert!(
            v.skipped_checks
                .iter()
                .any(|s| s.check == "network-policy-coverage")
        );
        let np = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}}}});
        let v = testing::evaluate::<Security>(&np, &Value::Null);
        assert!(
            v.skipped_checks
                .iter()
                .any(|s| s.check == "network-policy-targets")
        );
        assert!(v.allowed);
    }

    #[test]
    fn service_account_token_reads_the_service_account() {
        let mut spec = hardened();
        spec.as_object_mut()
            .unwrap()
            .remove("automountServiceAccountToken");
        let v = testing::evaluate::<Security>(&pod(spec.clone()), &Value::Null);
        assert_eq!(ids(&v), ["service-account-token"]);
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": "shop"}, "automountServiceAccountToken": false});
        let v = testing::evaluate_in::<Security>(&pod(spec.clone()), &Value::Null, &[sa]);
        assert_eq!(ids(&v), Vec::<&str>::new());
        spec["serviceAccountName"] = json!("web");
        let v = testing::evaluate::<Security>(&pod(spec.clone()), &Value::Null);
        assert_eq!(ids(&v), Vec::<&str>::new());
        let v = testing::evaluate::<Security>(&pod(spec), &json!({"apiServiceAccounts": []}));
        assert_eq!(ids(&v), ["service-account-token"]);
    }

    fn role(kind: &str, rules: Value) -> Value {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
            "metadata": {"name": "r", "namespace": "shop"}, "rules": rules})
    }

    #[test]
    fn rbac_wildcards_and_escalation_report_one_cause_once() {
        let star = role(
            "ClusterRole",
            json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
        );
        let v = testing::evaluate::<Security>(&star, &Value::Null);
        assert_eq!(ids(&v), ["rbac-wildcards"]);
        // With rbac-wildcards off, the powers the wildcard grants are escalation's.
        let v =
            testing::evaluate::<Security>(&star, &json!({"severity": {"rbac-wildcards": "off"}}));
        assert_eq!(ids(&v), ["rbac-escalation"]);
        // Custom groups only: a warning.
        let own = role(
            "ClusterRole",
            json!([{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["*"]}]),
        );
        let v = testing::evaluate::<Security>(&own, &Value::Null);
        assert_eq!(ids(&v), ["rbac-wildcards"]);
        assert!(v.allowed);
        // Aggregated roles: rules are the controller's; an empty selector is everything.
        let agg = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}, "rules": []});
        assert_eq!(
            ids(&testing::evaluate::<Security>(&agg, &Value::Null)),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn rbac_escalation_allowlists_bound_subjects() {
        let r = role(
            "ClusterRole",
            json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]}]),
        );
        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "ctl", "namespace": "ops"}]});
        // Alone: a warning (it is not known to be bound cluster-wide).
        let v = testing::evaluate::<Security>(&r, &Value::Null);
        assert_eq!(ids(&v), ["rbac-escalation"]);
        assert!(v.allowed);
        let v = testing::evaluate_in::<Security>(&r, &Value::Null, std::slice::from_ref(&binding));
        assert_eq!(ids(&v), ["rbac-escalation"]);
        assert!(!v.allowed);
        assert!(v.violations[0].message.contains("ServiceAccount ops/ctl"));
        let allow = json!({"allowedSubjects": [{"kind": "ServiceAccount", "namespace": "ops", "name": "ctl"}]});
        let v = testing::evaluate_in::<Security>(&r, &allow, &[binding]);
        assert_eq!(ids(&v), Vec::<&str>::new());
    }
}

//! The lifecycle of built-in API versions: when each group/version/kind was deprecated and
//! when it stopped being served. Data, one row per group, version and kind.
//!
//! Sources: the Kubernetes "Deprecated API Migration Guide"
//! (kubernetes.io/docs/reference/using-api/deprecation-guide/: removals in 1.16, 1.22, 1.25,
//! 1.26, 1.27, 1.29 and 1.32) for the removal releases, and the generated
//! `zz_generated.prerelease-lifecycle.go` files of k8s.io/api (and of apiextensions-apiserver
//! and kube-aggregator) for the deprecation releases and for beta versions added since 1.24,
//! which are off by default (KEP-3136) and are removed on their lifecycle's schedule (rows
//! past the current release are the schedule, not a release yet). Two stable kinds are
//! deprecated without a removal: v1 ComponentStatus (1.19) and v1 Endpoints (1.33, in favour of
//! EndpointSlice; KEP-4974).

/// A Kubernetes minor release of the 1.x line, e.g. `33` for 1.33.
pub type Minor = u32;

/// One group/version/kind's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The release that deprecated it (the API server warns from then on); `None` when the
    /// guide lists a removal without one.
    pub deprecated: Option<Minor>,
    /// The release that stopped serving it; `None` for a deprecated kind that stays served.
    pub removed: Option<Minor>,
    /// What to use instead.
    pub replacement: &'static str,
}

const fn api(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    deprecated: Option<Minor>,
    removed: Option<Minor>,
    replacement: &'static str,
) -> Api {
    Api {
        group,
        version,
        kind,
        deprecated,
        removed,
        replacement,
    }
}

const APPS_V1: &str = "apps/v1";
const NET_V1: &str = "networking.k8s.io/v1";
const RBAC_V1: &str = "rbac.authorization.k8s.io/v1";
const STORAGE_V1: &str = "storage.k8s.io/v1";
const FLOW_V1: &str = "flowcontrol.apiserver.k8s.io/v1";
const RESOURCE_V1: &str = "resource.k8s.io/v1";
const ADMREG_V1: &str = "admissionregistration.k8s.io/v1";
const PSP_NONE: &str = "no replacement: Pod Security Admission (namespace labels pod-security.kubernetes.io/*) or a policy engine";

/// Every row, ordered by group.
pub const APIS: &[Api] = &[
    // Removed in 1.16.
    api(
        "extensions",
        "v1beta1",
        "NetworkPolicy",
        Some(9),
        Some(16),
        NET_V1,
    ),
    api(
        "extensions",
        "v1beta1",
        "DaemonSet",
        Some(8),
        Some(16),
        APPS_V1,
    ),
    api(
        "extensions",
        "v1beta1",
        "Deployment",
        Some(8),
        Some(16),
        APPS_V1,
    ),
    api(
        "extensions",
        "v1beta1",
        "ReplicaSet",
        Some(8),
        Some(16),
        APPS_V1,
    ),
    api(
        "extensions",
        "v1beta1",
        "PodSecurityPolicy",
        Some(11),
        Some(16),
        PSP_NONE,
    ),
    api("apps", "v1beta1", "Deployment", Some(8), Some(16), APPS_V1),
    api("apps", "v1beta1", "StatefulSet", Some(8), Some(16), APPS_V1),
    api("apps", "v1beta1", "ReplicaSet", None, Some(16), APPS_V1),
    api(
        "apps",
        "v1beta1",
        "ControllerRevision",
        Some(8),
        Some(16),
        APPS_V1,
    ),
    api("apps", "v1beta2", "Deployment", Some(9), Some(16), APPS_V1),
    api("apps", "v1beta2", "StatefulSet", Some(9), Some(16), APPS_V1),
    api("apps", "v1beta2", "DaemonSet", Some(9), Some(16), APPS_V1),
    api("apps", "v1beta2", "ReplicaSet", Some(9), Some(16), APPS_V1),
    api(
        "apps",
        "v1beta2",
        "ControllerRevision",
        Some(9),
        Some(16),
        APPS_V1,
    ),
    // Removed in 1.22.
    api(
        "extensions",
        "v1beta1",
        "Ingress",
        Some(14),
        Some(22),
        NET_V1,
    ),
    api(
        "networking.k8s.io",
        "v1beta1",
        "Ingress",
        Some(19),
        Some(22),
        NET_V1,
    ),
    api(
        "networking.k8s.io",
        "v1beta1",
        "IngressClass",
        Some(19),
        Some(22),
        NET_V1,
    ),
    api(
        "admissionregistration.k8s.io",
        "v1beta1",
        "MutatingWebhookConfiguration",
        Some(16),
        Some(22),
        ADMREG_V1,
    ),
    api(
        "admissionregistration.k8s.io",
        "v1beta1",
        "ValidatingWebhookConfiguration",
        Some(16),
        Some(22),
        ADMREG_V1,
    ),
    api(
        "apiextensions.k8s.io",
        "v1beta1",
        "CustomResourceDefinition",
        Some(16),
        Some(22),
        "apiextensions.k8s.io/v1",
    ),
    api(
        "apiregistration.k8s.io",
        "v1beta1",
        "APIService",
        Some(19),
        Some(22),
        "apiregistration.k8s.io/v1",
    ),
    api(
        "authentication.k8s.io",
        "v1beta1",
        "TokenReview",
        Some(19),
        Some(22),
        "authentication.k8s.io/v1",
    ),
    api(
        "authorization.k8s.io",
        "v1beta1",
        "LocalSubjectAccessReview",
        Some(19),
        Some(22),
        "authorization.k8s.io/v1",
    ),
    api(
        "authorization.k8s.io",
        "v1beta1",
        "SelfSubjectAccessReview",
        Some(19),
        Some(22),
        "authorization.k8s.io/v1",
    ),
    api(
        "authorization.k8s.io",
        "v1beta1",
        "SubjectAccessReview",
        Some(19),
        Some(22),
        "authorization.k8s.io/v1",
    ),
    api(
        "authorization.k8s.io",
        "v1beta1",
        "SelfSubjectRulesReview",
        Some(19),
        Some(22),
        "authorization.k8s.io/v1",
    ),
    api(
        "certificates.k8s.io",
        "v1beta1",
        "CertificateSigningRequest",
        Some(19),
        Some(22),
        "certificates.k8s.io/v1",
    ),
    api(
        "coordination.k8s.io",
        "v1beta1",
        "Lease",
        Some(19),
        Some(22),
        "coordination.k8s.io/v1",
    ),
    api(
        "rbac.authorization.k8s.io",
        "v1beta1",
        "ClusterRole",
        Some(17),
        Some(22),
        RBAC_V1,
    ),
    api(
        "rbac.authorization.k8s.io",
        "v1beta1",
        "ClusterRoleBinding",
        Some(17),
        Some(22),
        RBAC_V1,
    ),
    api(
        "rbac.authorization.k8s.io",
        "v1beta1",
        "Role",
        Some(17),
        Some(22),
        RBAC_V1,
    ),
    api(
        "rbac.authorization.k8s.io",
        "v1beta1",
        "RoleBinding",
        Some(17),
        Some(22),
        RBAC_V1,
    ),
    api(
        "scheduling.k8s.io",
        "v1beta1",
        "PriorityClass",
        Some(14),
        Some(22),
        "scheduling.k8s.io/v1",
    ),
    api(
        "storage.k8s.io",
        "v1beta1",
        "CSIDriver",
        Some(19),
        Some(22),
        STORAGE_V1,
    ),
    api(
        "storage.k8s.io",
        "v1beta1",
        "CSINode",
        Some(17),
        Some(22),
        STORAGE_V1,
    ),
    api(
        "storage.k8s.io",
        "v1beta1",
        "StorageClass",
        Some(19),
        Some(22),
        STORAGE_V1,
    ),
    api(
        "storage.k8s.io",
        "v1beta1",
        "VolumeAttachment",
        Some(19),
        Some(22),
        STORAGE_V1,
    ),
    api(
        "admission.k8s.io",
        "v1beta1",
        "AdmissionReview",
        Some(19),
        Some(22),
        "admission.k8s.io/v1",
    ),
    // Removed in 1.25.
    api(
        "batch",
        "v1beta1",
        "CronJob",
        Some(21),
        Some(25),
        "batch/v1",
    ),
    api(
        "discovery.k8s.io",
        "v1beta1",
        "EndpointSlice",
        Some(21),
        Some(25),
        "discovery.k8s.io/v1",
    ),
    api(
        "events.k8s.io",
        "v1beta1",
        "Event",
        Some(22),
        Some(25),
        "events.k8s.io/v1",
    ),
    api(
        "autoscaling",
        "v2beta1",
        "HorizontalPodAutoscaler",
        Some(22),
        Some(25),
        "autoscaling/v2",
    ),
    api(
        "policy",
        "v1beta1",
        "PodDisruptionBudget",
        Some(21),
        Some(25),
        "policy/v1",
    ),
    api(
        "policy",
        "v1beta1",
        "PodSecurityPolicy",
        Some(21),
        Some(25),
        PSP_NONE,
    ),
    api(
        "policy",
        "v1beta1",
        "Eviction",
        Some(22),
        Some(25),
        "policy/v1",
    ),
    api(
        "node.k8s.io",
        "v1beta1",
        "RuntimeClass",
        Some(22),
        Some(25),
        "node.k8s.io/v1",
    ),
    // Removed in 1.26.
    api(
        "flowcontrol.apiserver.k8s.io",
        "v1beta1",
        "FlowSchema",
        Some(23),
        Some(26),
        FLOW_V1,
    ),
    api(
        "flowcontrol.apiserver.k8s.io",
        "v1beta1",
        "PriorityLevelConfiguration",
        Some(23),
        Some(26),
        FLOW_V1,
    ),
    api(
        "autoscaling",
        "v2beta2",
        "HorizontalPodAutoscaler",
        Some(23),
        Some(26),
        "autoscaling/v2",
    ),
    // Removed in 1.27.
    api(
        "storage.k8s.io",
        "v1beta1",
        "CSIStorageCapacity",
        Some(24),
        Some(27),
        STORAGE_V1,
    ),
    // Removed in 1.29.
    api(
        "flowcontrol.apiserver.k8s.io",
        "v1beta2",
        "FlowSchema",
        Some(26),
        Some(29),
        FLOW_V1,
    ),
    api(
        "flowcontrol.apiserver.k8s.io",
        "v1beta2",
        "PriorityLevelConfiguration",
        Some(26),
        Some(29),
        FLOW_V1,
    ),
    // Removed in 1.32.
    api(
        "flowcontrol.apiserver.k8s.io",
        "v1beta3",
        "FlowSchema",
        Some(29),
        Some(32),
        FLOW_V1,
    ),
    api(
        "flowcontrol.apiserver.k8s.io",
        "v1beta3",
        "PriorityLevelConfiguration",
        Some(29),
        Some(32),
        FLOW_V1,
    ),
    // Beta versions added since 1.24 (off by default), on their lifecycle's schedule.
    api(
        "authentication.k8s.io",
        "v1beta1",
        "SelfSubjectReview",
        Some(30),
        Some(33),
        "authentication.k8s.io/v1",
    ),
    api(
        "admissionregistration.k8s.io",
        "v1beta1",
        "ValidatingAdmissionPolicy",
        Some(31),
        Some(34),
        ADMREG_V1,
    ),
    api(
        "admissionregistration.k8s.io",
        "v1beta1",
        "ValidatingAdmissionPolicyBinding",
        Some(31),
        Some(34),
        ADMREG_V1,
    ),
    api(
        "networking.k8s.io",
        "v1beta1",
        "IPAddress",
        Some(34),
        Some(37),
        NET_V1,
    ),
    api(
        "networking.k8s.io",
        "v1beta1",
        "ServiceCIDR",
        Some(34),
        Some(37),
        NET_V1,
    ),
    api(
        "storage.k8s.io",
        "v1beta1",
        "VolumeAttributesClass",
        Some(34),
        Some(37),
        STORAGE_V1,
    ),
    api(
        "resource.k8s.io",
        "v1beta1",
        "DeviceClass",
        Some(35),
        Some(38),
        RESOURCE_V1,
    ),
    api(
        "resource.k8s.io",
        "v1beta1",
        "ResourceClaim",
        Some(35),
        Some(38),
        RESOURCE_V1,
    ),
    api(
        "resource.k8s.io",
        "v1beta1",
        "ResourceClaimTemplate",
        Some(35),
        Some(38),
        RESOURCE_V1,
    ),
    api(
        "resource.k8s.io",
        "v1beta1",
        "ResourceSlice",
        Some(35),
        Some(38),
        RESOURCE_V1,
    ),
    api(
        "resource.k8s.io",
        "v1beta2",
        "DeviceClass",
        Some(36),
        Some(39),
        RESOURCE_V1,
    ),
    api(
        "resource.k8s.io",
        "v1beta2",
        "ResourceClaim",
        Some(36),
        Some(39),
        RESOURCE_V1,
    ),
    api(
        "resource.k8s.io",
        "v1beta2",
        "ResourceClaimTemplate",
        Some(36),
        Some(39),
        RESOURCE_V1,
    ),
    api(
        "resource.k8s.io",
        "v1beta2",
        "ResourceSlice",
        Some(36),
        Some(39),
        RESOURCE_V1,
    ),
    api(
        "resource.k8s.io",
        "v1beta2",
        "DeviceTaintRule",
        Some(39),
        Some(42),
        RESOURCE_V1,
    ),
    api(
        "coordination.k8s.io",
        "v1beta1",
        "LeaseCandidate",
        Some(36),
        Some(39),
        "coordination.k8s.io/v1",
    ),
    api(
        "admissionregistration.k8s.io",
        "v1beta1",
        "MutatingAdmissionPolicy",
        Some(37),
        Some(40),
        ADMREG_V1,
    ),
    api(
        "admissionregistration.k8s.io",
        "v1beta1",
        "MutatingAdmissionPolicyBinding",
        Some(37),
        Some(40),
        ADMREG_V1,
    ),
    api(
        "certificates.k8s.io",
        "v1beta1",
        "ClusterTrustBundle",
        Some(37),
        Some(40),
        "certificates.k8s.io/v1",
    ),
    api(
        "certificates.k8s.io",
        "v1beta1",
        "PodCertificateRequest",
        Some(37),
        Some(40),
        "certificates.k8s.io/v1",
    ),
    api(
        "storagemigration.k8s.io",
        "v1beta1",
        "StorageVersionMigration",
        Some(37),
        Some(40),
        "storagemigration.k8s.io/v1",
    ),
    // Stable kinds deprecated without a removal.
    api(
        "",
        "v1",
        "ComponentStatus",
        Some(19),
        None,
        "the API server's /livez, /readyz and the components' own health endpoints",
    ),
    api(
        "",
        "v1",
        "Endpoints",
        Some(33),
        None,
        "discovery.k8s.io/v1 EndpointSlice",
    ),
];

/// The row for a group, version and kind, if it has a deprecation on record.
pub fn lookup(group: &str, version: &str, kind: &str) -> Option<&'static Api> {
    APIS.iter()
        .find(|a| a.version == version && a.kind == kind && a.group == group)
}

/// What a target release makes of an API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Served without deprecation.
    Current,
    /// Served, with a deprecation warning.
    Deprecated,
    /// No longer served: the API server refuses it.
    Removed,
}

impl Api {
    pub fn status_at(&self, target: Minor) -> Status {
        if self.removed.is_some_and(|r| r <= target) {
            Status::Removed
        } else if self.deprecated.is_some_and(|d| d <= target) {
            Status::Deprecated
        } else {
            Status::Current
        }
    }
}

/// Reads a Kubernetes version setting: `1.33`, `v1.33` or `1.33.2` → 33.
pub fn parse_version(s: &str) -> Option<Minor> {
    let s = s.trim();
    let s = s.strip_prefix('v').unwrap_or(s);
    let mut parts = s.split('.');
    let major = parts.next()?;
    let minor = parts.next()?;
    let patch = parts.next();
    if parts.next().is_some() || major != "1" {
        return None;
    }
    let digits = |p: &str| !p.is_empty() && p.len() <= 4 && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(minor) || patch.is_some_and(|p| !digits(p)) {
        return None;
    }
    minor.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_row_per_group_version_kind() {
        for (i, a) in APIS.iter().enumerate() {
            assert!(
                !APIS[..i]
                    .iter()
                    .any(|b| (b.group, b.version, b.kind) == (a.group, a.version, a.kind)),
                "{a:?} twice"
            );
            if let (Some(d), Some(r)) = (a.deprecated, a.removed) {
                assert!(d < r, "{a:?}");
            }
            assert!(a.deprecated.is_some() || a.removed.is_some(), "{a:?}");
        }
    }

    #[test]
    fn status_by_release() {
        let ing = lookup("extensions", "v1beta1", "Ingress").unwrap();
        assert_eq!(ing.status_at(13), Status::Current);
        assert_eq!(ing.status_at(14), Status::Deprecated);
        assert_eq!(ing.status_at(21), Status::Deprecated);
        assert_eq!(ing.status_at(22), Status::Removed);
        assert_eq!(ing.status_at(33), Status::Removed);
        let vap = lookup(
            "admissionregistration.k8s.io",
            "v1beta1",
            "ValidatingAdmissionPolicy",
        )
        .unwrap();
        assert_eq!(vap.status_at(33), Status::Deprecated);
        assert_eq!(vap.status_at(34), Status::Removed);
        let ep = lookup("", "v1", "Endpoints").unwrap();
        assert_eq!(ep.status_at(32), Status::Current);
        assert_eq!(ep.status_at(33), Status::Deprecated);
        assert_eq!(ep.status_at(99), Status::Deprecated);
        assert!(lookup("apps", "v1", "Deployment").is_none());
        assert!(lookup("networking.k8s.io", "v1", "Ingress").is_none());
        assert!(lookup("autoscaling", "v1", "HorizontalPodAutoscaler").is_none());
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("1.33"), Some(33));
        assert_eq!(parse_version("v1.29"), Some(29));
        assert_eq!(parse_version("1.33.2"), Some(33));
        for bad in [
            "", "1", "2.0", "1.x", "1.33.", "1.33.1.1", "v", "1.-1", "1.33rc",
        ] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
    }
}

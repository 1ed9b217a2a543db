//! Which kinds are cluster-scoped. An object of such a kind has no namespace; any other object
//! without `metadata.namespace` in a manifest set lives in the namespace the set is applied to
//! (`kubectl apply -n`, default `default`). Kinds this table does not know (most custom
//! resources) are namespaced, as most CRDs are.

/// Built-in cluster-scoped kinds, and those of widely installed CRDs, by (group, kind).
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
    ),
    ("apiregistration.k8s.io", "APIService"),
    ("node.k8s.io", "RuntimeClass"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("policy", "PodSecurityPolicy"),
    ("resource.k8s.io", "DeviceClass"),
    ("resource.k8s.io", "ResourceSlice"),
    ("authentication.k8s.io", "TokenReview"),
    ("authentication.k8s.io", "SelfSubjectReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("storagemigration.k8s.io", "StorageVersionMigration"),
    ("internal.apiserver.k8s.io", "StorageVersion"),
    // Widely installed custom resources.
    ("cert-manager.io", "ClusterIssuer"),
    ("templates.gatekeeper.sh", "ConstraintTemplate"),
    ("config.gatekeeper.sh", "Config"),
    ("policies.kubewarden.io", "ClusterAdmissionPolicy"),
    ("policies.kubewarden.io", "ClusterAdmissionPolicyGroup"),
    ("policies.kubewarden.io", "PolicyServer"),
    ("kyverno.io", "ClusterPolicy"),
    ("externaldata.gatekeeper.sh", "Provider"),
    ("karpenter.sh", "NodePool"),
    ("karpenter.k8s.aws", "EC2NodeClass"),
    ("cilium.io", "CiliumClusterwideNetworkPolicy"),
    ("metallb.io", "IPAddressPool"),
    ("snapshot.storage.k8s.io", "VolumeSnapshotClass"),
    ("snapshot.storage.k8s.io", "VolumeSnapshotContent"),
];

/// Whether objects of this group and kind are cluster-scoped. Every Gatekeeper constraint
/// (`constraints.gatekeeper.sh`) is.
pub fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    group == "constraints.gatekeeper.sh"
        || CLUSTER_SCOPED
            .iter()
            .any(|(g, k)| *g == group && *k == kind)
}

/// The namespace an object is in: its own `metadata.namespace`, else `default_namespace`
/// for a namespaced kind; `None` for a cluster-scoped kind.
pub fn resolve<'a>(
    group: &str,
    kind: &str,
    own: Option<&'a str>,
    default_namespace: &'a str,
) -> Option<&'a str> {
    if is_cluster_scoped(group, kind) {
        return None;
    }
    Some(own.filter(|n| !n.is_empty()).unwrap_or(default_namespace))
}

/// The namespace a manifest set is applied to when none is named.
pub const DEFAULT_NAMESPACE: &str = "default";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_resolve_as_kubectl_apply_does() {
        assert_eq!(
            resolve("apps", "Deployment", None, "default"),
            Some("default")
        );
        assert_eq!(
            resolve("apps", "Deployment", Some(""), "shop"),
            Some("shop")
        );
        assert_eq!(
            resolve("apps", "Deployment", Some("ops"), "shop"),
            Some("ops")
        );
        assert_eq!(
            resolve("scheduling.k8s.io", "PriorityClass", Some("x"), "shop"),
            None
        );
        assert_eq!(resolve("example.com", "Widget", None, "shop"), Some("shop"));
        assert!(is_cluster_scoped(
            "constraints.gatekeeper.sh",
            "K8sRequiredLabels"
        ));
    }
}

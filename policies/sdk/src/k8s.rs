//! Slim typed views of the pod spec: the fields checks read, under k8s-openapi's names and,
//! for every part, k8s-openapi's own types (`Probe`, `ContainerPort`, `ResourceRequirements`,
//! `Lifecycle`, `EmptyDirVolumeSource`). Everything else in the pod spec (env, securityContext,
//! affinity, volume sources but emptyDir, ...) is skipped without being built.
//!
//! Why not k8s-openapi's `PodSpec` itself: building all of it costs ~25 µs per 3 KB Deployment
//! natively and makes each module ~800 KB; the checks read a tenth of it (docs/performance.md).
//! A rule that needs a field the view lacks adds it here, with k8s-openapi's type.

use k8s_openapi::api::core::v1 as core;
use serde::Deserialize;

/// `PodSpec`, as far as checks read it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// Required, as in the API.
    pub containers: Vec<Container>,
    pub init_containers: Option<Vec<Container>>,
    pub ephemeral_containers: Option<Vec<EphemeralContainer>>,
    pub termination_grace_period_seconds: Option<i64>,
    pub restart_policy: Option<String>,
    pub priority_class_name: Option<String>,
    pub volumes: Option<Vec<Volume>>,
    /// Pod-level resources (beta in Kubernetes 1.34).
    pub resources: Option<core::ResourceRequirements>,
}

/// `Container`, as far as checks read it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    pub name: String,
    pub image: Option<String>,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
    pub ports: Option<Vec<core::ContainerPort>>,
    pub resources: Option<core::ResourceRequirements>,
    pub liveness_probe: Option<core::Probe>,
    pub readiness_probe: Option<core::Probe>,
    pub startup_probe: Option<core::Probe>,
    pub lifecycle: Option<core::Lifecycle>,
    /// `Always` on an init container makes it a sidecar.
    pub restart_policy: Option<String>,
}

/// `EphemeralContainer` (debug containers): no probes, ports or resources.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralContainer {
    pub name: String,
    pub image: Option<String>,
    pub target_container_name: Option<String>,
}

/// `Volume`: its name and, of all volume sources, `emptyDir`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    pub name: String,
    pub empty_dir: Option<core::EmptyDirVolumeSource>,
}

/// `Service`, as far as checks read it (selectors, ports, type).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub spec: Option<ServiceSpec>,
}

/// `ServiceSpec`, as far as checks read it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    pub selector: Option<std::collections::BTreeMap<String, String>>,
    pub ports: Option<Vec<core::ServicePort>>,
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub cluster_ip: Option<String>,
}

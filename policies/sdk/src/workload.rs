//! The workload view: the pod spec of a Pod or of any controller's pod template, with the field
//! path where it sits, so a check written once reports correct paths for every kind.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::k8s::{Container, EphemeralContainer, PodSpec};
use crate::object::{Doc, Meta, meta_object};

/// Kinds that carry a pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkloadKind {
    Pod,
    ReplicationController,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    Job,
    CronJob,
}

impl WorkloadKind {
    /// The workload kind for an API group and kind, if it is one.
    pub fn from_group_kind(group: &str, kind: &str) -> Option<WorkloadKind> {
        Some(match (group, kind) {
            ("", "Pod") => WorkloadKind::Pod,
            ("", "ReplicationController") => WorkloadKind::ReplicationController,
            ("apps", "Deployment") => WorkloadKind::Deployment,
            ("apps", "StatefulSet") => WorkloadKind::StatefulSet,
            ("apps", "DaemonSet") => WorkloadKind::DaemonSet,
            ("apps", "ReplicaSet") => WorkloadKind::ReplicaSet,
            ("batch", "Job") => WorkloadKind::Job,
            ("batch", "CronJob") => WorkloadKind::CronJob,
            _ => return None,
        })
    }

    /// Jobs and CronJobs run to completion.
    pub fn is_batch(self) -> bool {
        matches!(self, WorkloadKind::Job | WorkloadKind::CronJob)
    }

    /// Where the pod spec sits in an object of this kind.
    pub fn pod_spec_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "spec",
            WorkloadKind::CronJob => "spec.jobTemplate.spec.template.spec",
            _ => "spec.template.spec",
        }
    }

    /// Where the pod's metadata sits in an object of this kind.
    pub fn pod_metadata_path(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "metadata",
            WorkloadKind::CronJob => "spec.jobTemplate.spec.template.metadata",
            _ => "spec.template.metadata",
        }
    }
}

/// A pod spec and where it came from.
#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// Labels of the pods this workload runs (the template's, or the Pod's own).
    pub pod_labels: BTreeMap<String, String>,
    /// Annotations of the pods this workload runs.
    pub pod_annotations: BTreeMap<String, String>,
    pub spec: PodSpec,
}

/// What part a container plays in the pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerRole {
    /// An entry of `containers`.
    App,
    /// An entry of `initContainers` that runs to completion before the app starts.
    Init,
    /// An entry of `initContainers` with `restartPolicy: Always`: runs beside the app.
    Sidecar,
}

/// A container of the workload, with the path to it.
#[derive(Debug, Clone, Copy)]
pub struct ContainerRef<'a> {
    pub container: &'a Container,
    pub role: ContainerRole,
    prefix: &'static str,
    list: &'static str,
    index: usize,
}

impl<'a> ContainerRef<'a> {
    pub fn name(&self) -> &'a str {
        &self.container.name
    }

    /// Path to the container, e.g. `spec.template.spec.containers[1]`.
    pub fn path(&self) -> String {
        format!("{}.{}[{}]", self.prefix, self.list, self.index)
    }

    /// Path to a field of the container, e.g. `...containers[1].livenessProbe`.
    pub fn field(&self, rest: &str) -> String {
        format!("{}.{}[{}].{}", self.prefix, self.list, self.index, rest)
    }

    /// Whether the container runs for the pod's life (app containers and sidecars).
    pub fn is_long_running(&self) -> bool {
        self.role != ContainerRole::Init
    }

    /// Port number of a declared port, by name.
    pub fn port_by_name(&self, name: &str) -> Option<i32> {
        self.container
            .ports
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|p| p.name.as_deref() == Some(name))
            .map(|p| p.container_port)
    }

    pub fn declares_port(&self, number: i32) -> bool {
        self.container
            .ports
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|p| p.container_port == number)
    }

    pub fn has_ports(&self) -> bool {
        !self
            .container
            .ports
            .as_deref()
            .unwrap_or_default()
            .is_empty()
    }
}

impl Workload {
    /// Path to a field of the pod spec, e.g. `spec.template.spec.terminationGracePeriodSeconds`.
    pub fn path(&self, rest: &str) -> String {
        format!("{}.{}", self.kind.pod_spec_path(), rest)
    }

    /// Whether the pods are meant to run until replaced: not Jobs, CronJobs, or Pods with
    /// `restartPolicy` Never or OnFailure.
    pub fn is_long_running(&self) -> bool {
        if self.kind.is_batch() {
            return false;
        }
        !matches!(
            self.spec.restart_policy.as_deref(),
            Some("Never") | Some("OnFailure")
        )
    }

    /// `containers`, in order.
    pub fn containers(&self) -> impl Iterator<Item = ContainerRef<'_>> {
        let prefix = self.kind.pod_spec_path();
        self.spec
            .containers
            .iter()
            .enumerate()
            .map(move |(index, container)| ContainerRef {
                container,
                role: ContainerRole::App,
                prefix,
                list: "containers",
                index,
            })
    }

    /// `initContainers`, in order, sidecars among them.
    pub fn init_containers(&self) -> impl Iterator<Item = ContainerRef<'_>> {
        let prefix = self.kind.pod_spec_path();
        self.spec
            .init_containers
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(move |(index, container)| ContainerRef {
                container,
                role: if container.restart_policy.as_deref() == Some("Always") {
                    ContainerRole::Sidecar
                } else {
                    ContainerRole::Init
                },
                prefix,
                list: "initContainers",
                index,
            })
    }

    /// Init containers first, then app containers.
    pub fn all_containers(&self) -> impl Iterator<Item = ContainerRef<'_>> {
        self.init_containers().chain(self.containers())
    }

    /// `ephemeralContainers` with their paths (debug containers: no probes, no resources).
    pub fn ephemeral_containers(&self) -> impl Iterator<Item = (String, &EphemeralContainer)> {
        let prefix = self.kind.pod_spec_path();
        self.spec
            .ephemeral_containers
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(move |(i, c)| (format!("{prefix}.ephemeralContainers[{i}]"), c))
    }

    /// Termination grace period, with Kubernetes' default of 30 seconds.
    pub fn termination_grace_period_seconds(&self) -> i64 {
        self.spec.termination_grace_period_seconds.unwrap_or(30)
    }
}

#[derive(Deserialize)]
struct TemplateHolder {
    template: Option<PodTemplate>,
}

/// `PodTemplateSpec`, with the slim metadata and pod spec.
#[derive(Deserialize)]
struct PodTemplate {
    #[serde(default, deserialize_with = "meta_object")]
    metadata: Meta,
    spec: Option<PodSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CronJobSpecView {
    job_template: Option<JobTemplateView>,
}

#[derive(Deserialize)]
struct JobTemplateView {
    spec: Option<TemplateHolder>,
}

/// What came out of parsing a workload object: its metadata and the view.
pub(crate) struct Parsed {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub meta: Meta,
    pub workload: Workload,
}

fn from_template(
    kind: WorkloadKind,
    template: Option<PodTemplate>,
    missing: &str,
) -> Result<Workload, String> {
    let template = template.ok_or_else(|| format!("{missing} is required"))?;
    let spec = template
        .spec
        .ok_or_else(|| format!("{missing}.spec is required"))?;
    Ok(Workload {
        kind,
        pod_labels: template.metadata.labels,
        pod_annotations: template.metadata.annotations,
        spec,
    })
}

/// Parses a workload object from any deserializer (the envelope's, in one pass).
pub(crate) fn parse_with<'de, D: serde::Deserializer<'de>>(
    kind: WorkloadKind,
    d: D,
) -> Result<Parsed, D::Error> {
    use serde::de::Error;
    match kind {
        WorkloadKind::Pod => {
            let doc = Doc::<PodSpec>::deserialize(d)?;
            let spec = doc
                .spec
                .ok_or_else(|| D::Error::custom("spec is required"))?;
            let workload = Workload {
                kind,
                pod_labels: doc.metadata.labels.clone(),
                pod_annotations: doc.metadata.annotations.clone(),
                spec,
            };
            Ok(Parsed {
                api_version: doc.api_version,
                kind: doc.kind,
                meta: doc.metadata,
                workload,
            })
        }
        WorkloadKind::CronJob => {
            let doc = Doc::<CronJobSpecView>::deserialize(d)?;
            let template = doc
                .spec
                .ok_or_else(|| D::Error::custom("spec is required"))?
                .job_template
                .ok_or_else(|| D::Error::custom("spec.jobTemplate is required"))?
                .spec
                .ok_or_else(|| D::Error::custom("spec.jobTemplate.spec is required"))?
                .template;
            Ok(Parsed {
                api_version: doc.api_version,
                kind: doc.kind,
                meta: doc.metadata,
                workload: from_template(kind, template, "spec.jobTemplate.spec.template")
                    .map_err(D::Error::custom)?,
            })
        }
        _ => {
            let doc = Doc::<TemplateHolder>::deserialize(d)?;
            let template = doc
                .spec
                .ok_or_else(|| D::Error::custom("spec is required"))?
                .template;
            Ok(Parsed {
                api_version: doc.api_version,
                kind: doc.kind,
                meta: doc.metadata,
                workload: from_template(kind, template, "spec.template")
                    .map_err(D::Error::custom)?,
            })
        }
    }
}

/// Parses a workload object from its JSON text.
pub(crate) fn parse(kind: WorkloadKind, raw: &RawValue) -> Result<Parsed, String> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    parse_with(kind, &mut de).map_err(|e| format!("{kind:?} does not parse: {e}"))
}

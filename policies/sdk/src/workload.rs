//! The workload view: the pod spec of a Pod or of any controller's pod template, the
//! controller's own fields, and the field path where each sits — so a check written once
//! reports correct paths for every kind.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1 as core;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::k8s::controllers::{
    CronJobSpec, DaemonSetSpec, DeploymentSpec, JobSpec, PodTemplate, ReplicaSetSpec,
    ReplicationControllerSpec, StatefulSetSpec,
};
use crate::k8s::{Container, Controller, PodSpec, Volume};
use crate::object::{Doc, Meta};
use crate::selector::Selector;

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
    /// The workload kind for an API group and kind, if it is one (any version:
    /// `extensions/v1beta1` Deployments, DaemonSets and ReplicaSets included).
    pub fn from_group_kind(group: &str, kind: &str) -> Option<WorkloadKind> {
        Some(match (group, kind) {
            ("", "Pod") => WorkloadKind::Pod,
            ("", "ReplicationController") => WorkloadKind::ReplicationController,
            ("apps" | "extensions", "Deployment") => WorkloadKind::Deployment,
            ("apps", "StatefulSet") => WorkloadKind::StatefulSet,
            ("apps" | "extensions", "DaemonSet") => WorkloadKind::DaemonSet,
            ("apps" | "extensions", "ReplicaSet") => WorkloadKind::ReplicaSet,
            ("batch", "Job") => WorkloadKind::Job,
            ("batch", "CronJob") => WorkloadKind::CronJob,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "Pod",
            WorkloadKind::ReplicationController => "ReplicationController",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
        }
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

/// A pod spec, its controller, and where they came from.
#[derive(Debug)]
pub struct Workload<'a> {
    pub kind: WorkloadKind,
    /// Labels of the pods this workload runs (the template's, or the Pod's own).
    pub pod_labels: BTreeMap<String, String>,
    /// Annotations of the pods this workload runs.
    pub pod_annotations: BTreeMap<String, String>,
    pub spec: Box<PodSpec<'a>>,
    /// The controller's own fields (replicas, selector, strategy, ...).
    pub controller: Controller<'a>,
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
    /// An entry of `ephemeralContainers` (debug containers added to a running pod).
    Ephemeral,
}

/// A container of the workload, with the path to it.
#[derive(Debug, Clone, Copy)]
pub struct ContainerRef<'w, 'a> {
    pub container: &'w Container<'a>,
    pub role: ContainerRole,
    prefix: &'static str,
    list: &'static str,
    index: usize,
}

impl<'w, 'a> ContainerRef<'w, 'a> {
    pub fn name(&self) -> &'w str {
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
        matches!(self.role, ContainerRole::App | ContainerRole::Sidecar)
    }

    /// `ports`, empty when unset.
    pub fn ports(&self) -> &'w [core::ContainerPort] {
        self.container
            .ports
            .get_at(|| self.field("ports"))
            .map_or(&[], Vec::as_slice)
    }

    /// `command`, empty when unset (the image's entrypoint runs).
    pub fn command(&self) -> &'w [String] {
        self.container
            .command
            .get_at(|| self.field("command"))
            .map_or(&[], Vec::as_slice)
    }

    /// `args`, empty when unset.
    pub fn args(&self) -> &'w [String] {
        self.container
            .args
            .get_at(|| self.field("args"))
            .map_or(&[], Vec::as_slice)
    }

    /// `env`, empty when unset.
    pub fn env(&self) -> &'w [core::EnvVar] {
        self.container
            .env
            .get_at(|| self.field("env"))
            .map_or(&[], Vec::as_slice)
    }

    /// `envFrom`, empty when unset.
    pub fn env_from(&self) -> &'w [core::EnvFromSource] {
        self.container
            .env_from
            .get_at(|| self.field("envFrom"))
            .map_or(&[], Vec::as_slice)
    }

    /// `volumeMounts`, empty when unset.
    pub fn volume_mounts(&self) -> &'w [core::VolumeMount] {
        self.container
            .volume_mounts
            .get_at(|| self.field("volumeMounts"))
            .map_or(&[], Vec::as_slice)
    }

    pub fn resources(&self) -> Option<&'w core::ResourceRequirements> {
        self.container.resources.get_at(|| self.field("resources"))
    }

    pub fn liveness_probe(&self) -> Option<&'w core::Probe> {
        self.container
            .liveness_probe
            .get_at(|| self.field("livenessProbe"))
    }

    pub fn readiness_probe(&self) -> Option<&'w core::Probe> {
        self.container
            .readiness_probe
            .get_at(|| self.field("readinessProbe"))
    }

    pub fn startup_probe(&self) -> Option<&'w core::Probe> {
        self.container
            .startup_probe
            .get_at(|| self.field("startupProbe"))
    }

    pub fn lifecycle(&self) -> Option<&'w core::Lifecycle> {
        self.container.lifecycle.get_at(|| self.field("lifecycle"))
    }

    /// `lifecycle.preStop`.
    pub fn pre_stop(&self) -> Option<&'w core::LifecycleHandler> {
        self.lifecycle()?.pre_stop.as_ref()
    }

    pub fn security_context(&self) -> Option<&'w core::SecurityContext> {
        self.container
            .security_context
            .get_at(|| self.field("securityContext"))
    }

    /// `command` followed by `args`: what runs, when `command` is set.
    pub fn argv(&self) -> Vec<&'w str> {
        self.command()
            .iter()
            .chain(self.args())
            .map(String::as_str)
            .collect()
    }

    /// Port number of a declared port, by name.
    pub fn port_by_name(&self, name: &str) -> Option<i32> {
        self.ports()
            .iter()
            .find(|p| p.name.as_deref() == Some(name))
            .map(|p| p.container_port)
    }

    pub fn declares_port(&self, number: i32) -> bool {
        self.ports().iter().any(|p| p.container_port == number)
    }

    pub fn has_ports(&self) -> bool {
        !self.ports().is_empty()
    }
}

impl<'a> Workload<'a> {
    /// Path to a field of the pod spec, e.g. `spec.template.spec.terminationGracePeriodSeconds`.
    pub fn path(&self, rest: &str) -> String {
        format!("{}.{}", self.kind.pod_spec_path(), rest)
    }

    /// Path to a field of the pod's metadata, e.g. `spec.template.metadata.labels`.
    pub fn pod_metadata_path(&self, rest: &str) -> String {
        format!("{}.{}", self.kind.pod_metadata_path(), rest)
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

    fn list<'w>(
        &'w self,
        list: &'static str,
        items: &'w [Container<'a>],
        role: impl Fn(&Container<'a>) -> ContainerRole + 'w,
    ) -> impl Iterator<Item = ContainerRef<'w, 'a>> + 'w {
        let prefix = self.kind.pod_spec_path();
        items
            .iter()
            .enumerate()
            .map(move |(index, container)| ContainerRef {
                container,
                role: role(container),
                prefix,
                list,
                index,
            })
    }

    /// `containers`, in order.
    pub fn containers(&self) -> impl Iterator<Item = ContainerRef<'_, 'a>> {
        self.list("containers", &self.spec.containers, |_| ContainerRole::App)
    }

    /// `initContainers`, in order, sidecars among them.
    pub fn init_containers(&self) -> impl Iterator<Item = ContainerRef<'_, 'a>> {
        self.list("initContainers", &self.spec.init_containers, |c| {
            if c.restart_policy.as_deref() == Some("Always") {
                ContainerRole::Sidecar
            } else {
                ContainerRole::Init
            }
        })
    }

    /// Init containers first, then app containers (not ephemeral containers).
    pub fn all_containers(&self) -> impl Iterator<Item = ContainerRef<'_, 'a>> {
        self.init_containers().chain(self.containers())
    }

    /// `ephemeralContainers` (debug containers: no probes, ports or resources).
    pub fn ephemeral_containers(&self) -> impl Iterator<Item = ContainerRef<'_, 'a>> {
        self.list(
            "ephemeralContainers",
            &self.spec.ephemeral_containers,
            |_| ContainerRole::Ephemeral,
        )
    }

    /// Every container: init, app, then ephemeral. What checks of images, env and security
    /// contexts walk.
    pub fn every_container(&self) -> impl Iterator<Item = ContainerRef<'_, 'a>> {
        self.all_containers().chain(self.ephemeral_containers())
    }

    /// `volumes`, each with its path.
    pub fn volumes(&self) -> impl Iterator<Item = (String, &Volume<'a>)> {
        let prefix = self.kind.pod_spec_path();
        self.spec
            .volumes
            .iter()
            .enumerate()
            .map(move |(i, v)| (format!("{prefix}.volumes[{i}]"), v))
    }

    /// Termination grace period, with Kubernetes' default of 30 seconds.
    pub fn termination_grace_period_seconds(&self) -> i64 {
        self.spec.termination_grace_period_seconds.unwrap_or(30)
    }

    /// The service account the pods run as: `serviceAccountName` (or its deprecated alias),
    /// `default` when unset.
    pub fn service_account_name(&self) -> &str {
        self.spec
            .service_account_name
            .as_deref()
            .or(self.spec.service_account.as_deref())
            .filter(|s| !s.is_empty())
            .unwrap_or("default")
    }

    /// The controller's pod selector (`spec.selector`; a ReplicationController's map
    /// selector, which defaults to the template's labels). `None` for Pods and CronJobs.
    pub fn selector(&self) -> Option<Selector> {
        use crate::k8s::Controller as C;
        let label = |l: &crate::lazy::Lazy<'a, _>| {
            Selector::from_label_selector(l.get_at(|| "spec.selector".to_string()))
        };
        Some(match &self.controller {
            C::Pod | C::CronJob(_) => return None,
            C::Deployment(s) => label(&s.selector),
            C::StatefulSet(s) => label(&s.selector),
            C::DaemonSet(s) => label(&s.selector),
            C::ReplicaSet(s) => label(&s.selector),
            C::Job(s) => {
                // Jobs get a generated selector unless manualSelector is set.
                if s.manual_selector != Some(true) {
                    return None;
                }
                label(&s.selector)
            }
            C::ReplicationController(s) => match s.selector.get_at(|| "spec.selector".into()) {
                Some(m) if !m.is_empty() => Selector::from_map(Some(m)),
                _ => Selector::from_map(Some(&self.pod_labels)),
            },
        })
    }
}

// ---- parsing ---------------------------------------------------------------------------------

/// What came out of parsing a workload object: its metadata and the view.
pub(crate) struct Parsed<'a> {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub meta: Meta,
    pub workload: Workload<'a>,
}

fn from_template<'a>(
    kind: WorkloadKind,
    template: Option<Box<PodTemplate<'a>>>,
    missing: &str,
    controller: Controller<'a>,
) -> Result<Workload<'a>, String> {
    let template = *template.ok_or_else(|| format!("{missing} is required"))?;
    let spec = template
        .spec
        .ok_or_else(|| format!("{missing}.spec is required"))?;
    Ok(Workload {
        kind,
        pod_labels: template.metadata.labels,
        pod_annotations: template.metadata.annotations,
        spec,
        controller,
    })
}

fn parsed<'a, S, E: serde::de::Error>(
    doc: Doc<S>,
    f: impl FnOnce(S) -> Result<Workload<'a>, String>,
) -> Result<Parsed<'a>, E> {
    let spec = doc.spec.ok_or_else(|| E::custom("spec is required"))?;
    Ok(Parsed {
        api_version: doc.api_version,
        kind: doc.kind,
        meta: doc.metadata,
        workload: f(spec).map_err(E::custom)?,
    })
}

/// Parses a workload object from any serde_json deserializer borrowing from the input. Each
/// kind is parsed in a function of its own, kept out of line: one kind's frame is live at a
/// time, which keeps the guests' stack use low (the OPA flavour has 48 KiB).
pub(crate) fn parse_with<'de, D: serde::Deserializer<'de>>(
    kind: WorkloadKind,
    d: D,
) -> Result<Parsed<'de>, D::Error> {
    match kind {
        WorkloadKind::Pod => parse_pod(d),
        WorkloadKind::Deployment => parse_controller(
            d,
            kind,
            |s: &mut DeploymentSpec<'de>| s.template.take(),
            Controller::Deployment,
        ),
        WorkloadKind::StatefulSet => parse_controller(
            d,
            kind,
            |s: &mut StatefulSetSpec<'de>| s.template.take(),
            Controller::StatefulSet,
        ),
        WorkloadKind::DaemonSet => parse_controller(
            d,
            kind,
            |s: &mut DaemonSetSpec<'de>| s.template.take(),
            Controller::DaemonSet,
        ),
        WorkloadKind::ReplicaSet => parse_controller(
            d,
            kind,
            |s: &mut ReplicaSetSpec<'de>| s.template.take(),
            Controller::ReplicaSet,
        ),
        WorkloadKind::ReplicationController => parse_controller(
            d,
            kind,
            |s: &mut ReplicationControllerSpec<'de>| s.template.take(),
            Controller::ReplicationController,
        ),
        WorkloadKind::Job => parse_controller(
            d,
            kind,
            |s: &mut JobSpec<'de>| s.template.take(),
            Controller::Job,
        ),
        WorkloadKind::CronJob => parse_cronjob(d),
    }
}

#[inline(never)]
fn parse_pod<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Parsed<'de>, D::Error> {
    let doc = Doc::<Box<PodSpec<'de>>>::deserialize(d)?;
    let labels = doc.metadata.labels.clone();
    let annotations = doc.metadata.annotations.clone();
    parsed(doc, |spec| {
        Ok(Workload {
            kind: WorkloadKind::Pod,
            pod_labels: labels,
            pod_annotations: annotations,
            spec,
            controller: Controller::Pod,
        })
    })
}

#[inline(never)]
fn parse_controller<'de, D, S>(
    d: D,
    kind: WorkloadKind,
    template: impl FnOnce(&mut S) -> Option<Box<PodTemplate<'de>>>,
    wrap: impl FnOnce(S) -> Controller<'de>,
) -> Result<Parsed<'de>, D::Error>
where
    D: serde::Deserializer<'de>,
    S: Deserialize<'de>,
{
    parsed(Doc::<S>::deserialize(d)?, |mut spec| {
        let t = template(&mut spec);
        from_template(kind, t, "spec.template", wrap(spec))
    })
}

#[inline(never)]
fn parse_cronjob<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Parsed<'de>, D::Error> {
    parsed(Doc::<CronJobSpec<'de>>::deserialize(d)?, |mut s| {
        let job_template = s
            .job_template
            .take()
            .ok_or_else(|| "spec.jobTemplate is required".to_string())?;
        let mut job = job_template
            .spec
            .ok_or_else(|| "spec.jobTemplate.spec is required".to_string())?;
        let t = job.template.take();
        s.job_metadata = job_template.metadata;
        s.job = job;
        from_template(
            WorkloadKind::CronJob,
            t,
            "spec.jobTemplate.spec.template",
            Controller::CronJob(s),
        )
    })
}

/// Parses a workload object from its JSON text.
pub(crate) fn parse(kind: WorkloadKind, raw: &RawValue) -> Result<Parsed<'_>, String> {
    let mut de = serde_json::Deserializer::from_str(raw.get());
    parse_with(kind, &mut de).map_err(|e| format!("{} does not parse: {e}", kind.as_str()))
}

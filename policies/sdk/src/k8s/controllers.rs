//! The controllers' own fields, per kind: what a Deployment, StatefulSet, DaemonSet, ReplicaSet,
//! ReplicationController, Job or CronJob says beside its pod template. Scalars are read
//! eagerly; sub-trees (selectors, strategies, claim templates) are [`Lazy`].

use std::borrow::Cow;
use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Deserialize;

use super::pod::PodSpec;
use crate::lazy::Lazy;
use crate::object::{Meta, meta_object};

/// `PodTemplateSpec`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct PodTemplate<'a> {
    #[serde(default, deserialize_with = "meta_object")]
    pub metadata: Meta,
    /// Boxed: a pod spec is large, and a box keeps every view that holds a template small
    /// to build and move (and the OPA flavour within its stack).
    #[serde(borrow)]
    pub spec: Option<Box<PodSpec<'a>>>,
}

/// `DeploymentSpec` (apps/v1; also extensions/v1beta1 and apps/v1beta1/v1beta2).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec<'a> {
    pub replicas: Option<i32>,
    #[serde(borrow, default)]
    pub selector: Lazy<'a, LabelSelector>,
    #[serde(borrow, default)]
    pub strategy: Lazy<'a, apps::DeploymentStrategy>,
    pub min_ready_seconds: Option<i32>,
    pub revision_history_limit: Option<i32>,
    pub progress_deadline_seconds: Option<i32>,
    pub paused: Option<bool>,
    #[serde(borrow, default)]
    pub(crate) template: Option<Box<PodTemplate<'a>>>,
}

/// `StatefulSetSpec`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetSpec<'a> {
    pub replicas: Option<i32>,
    #[serde(borrow, default)]
    pub selector: Lazy<'a, LabelSelector>,
    #[serde(borrow)]
    pub service_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub pod_management_policy: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub update_strategy: Lazy<'a, apps::StatefulSetUpdateStrategy>,
    #[serde(borrow, default)]
    pub volume_claim_templates: Lazy<'a, Vec<core::PersistentVolumeClaim>>,
    #[serde(borrow, default)]
    pub persistent_volume_claim_retention_policy:
        Lazy<'a, apps::StatefulSetPersistentVolumeClaimRetentionPolicy>,
    pub min_ready_seconds: Option<i32>,
    pub revision_history_limit: Option<i32>,
    #[serde(borrow, default)]
    pub ordinals: Lazy<'a, apps::StatefulSetOrdinals>,
    #[serde(borrow, default)]
    pub(crate) template: Option<Box<PodTemplate<'a>>>,
}

/// `DaemonSetSpec`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DaemonSetSpec<'a> {
    #[serde(borrow, default)]
    pub selector: Lazy<'a, LabelSelector>,
    #[serde(borrow, default)]
    pub update_strategy: Lazy<'a, apps::DaemonSetUpdateStrategy>,
    pub min_ready_seconds: Option<i32>,
    pub revision_history_limit: Option<i32>,
    #[serde(borrow, default)]
    pub(crate) template: Option<Box<PodTemplate<'a>>>,
}

/// `ReplicaSetSpec`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaSetSpec<'a> {
    pub replicas: Option<i32>,
    #[serde(borrow, default)]
    pub selector: Lazy<'a, LabelSelector>,
    pub min_ready_seconds: Option<i32>,
    #[serde(borrow, default)]
    pub(crate) template: Option<Box<PodTemplate<'a>>>,
}

/// `ReplicationControllerSpec`: its selector is a plain map.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationControllerSpec<'a> {
    pub replicas: Option<i32>,
    #[serde(borrow, default)]
    pub selector: Lazy<'a, BTreeMap<String, String>>,
    pub min_ready_seconds: Option<i32>,
    #[serde(borrow, default)]
    pub(crate) template: Option<Box<PodTemplate<'a>>>,
}

/// `JobSpec` (a Job's, or a CronJob's `jobTemplate.spec`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec<'a> {
    pub parallelism: Option<i32>,
    pub completions: Option<i32>,
    pub active_deadline_seconds: Option<i64>,
    pub backoff_limit: Option<i32>,
    pub backoff_limit_per_index: Option<i32>,
    pub max_failed_indexes: Option<i32>,
    pub ttl_seconds_after_finished: Option<i32>,
    #[serde(borrow)]
    pub completion_mode: Option<Cow<'a, str>>,
    pub suspend: Option<bool>,
    pub manual_selector: Option<bool>,
    #[serde(borrow, default)]
    pub selector: Lazy<'a, LabelSelector>,
    #[serde(borrow, default)]
    pub pod_failure_policy: Lazy<'a, batch::PodFailurePolicy>,
    #[serde(borrow, default)]
    pub success_policy: Lazy<'a, batch::SuccessPolicy>,
    #[serde(borrow)]
    pub pod_replacement_policy: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(crate) template: Option<Box<PodTemplate<'a>>>,
}

/// `CronJobSpec`, with its job template's spec in `job`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobSpec<'a> {
    #[serde(borrow)]
    pub schedule: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub time_zone: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub concurrency_policy: Option<Cow<'a, str>>,
    pub starting_deadline_seconds: Option<i64>,
    pub successful_jobs_history_limit: Option<i32>,
    pub failed_jobs_history_limit: Option<i32>,
    pub suspend: Option<bool>,
    #[serde(borrow, default, rename = "jobTemplate")]
    pub(crate) job_template: Option<JobTemplate<'a>>,
    /// The job template's metadata.
    #[serde(skip)]
    pub job_metadata: Meta,
    /// The job template's spec (`spec.jobTemplate.spec`), without its pod template.
    #[serde(skip)]
    pub job: JobSpec<'a>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct JobTemplate<'a> {
    #[serde(default, deserialize_with = "meta_object")]
    pub metadata: Meta,
    #[serde(borrow)]
    pub spec: Option<JobSpec<'a>>,
}

/// A workload's controller and its own fields.
// The Pod variant is empty; the others are of similar size and live in a boxed-spec Workload.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Controller<'a> {
    /// A bare Pod: no controller fields.
    Pod,
    Deployment(DeploymentSpec<'a>),
    StatefulSet(StatefulSetSpec<'a>),
    DaemonSet(DaemonSetSpec<'a>),
    ReplicaSet(ReplicaSetSpec<'a>),
    ReplicationController(ReplicationControllerSpec<'a>),
    Job(JobSpec<'a>),
    CronJob(CronJobSpec<'a>),
}

impl Controller<'_> {
    /// `spec.replicas` as written, for the kinds that have it.
    pub fn replicas(&self) -> Option<i32> {
        match self {
            Controller::Deployment(s) => s.replicas,
            Controller::StatefulSet(s) => s.replicas,
            Controller::ReplicaSet(s) => s.replicas,
            Controller::ReplicationController(s) => s.replicas,
            _ => None,
        }
    }

    /// Whether the kind has `spec.replicas` (Deployment, StatefulSet, ReplicaSet,
    /// ReplicationController).
    pub fn has_replicas_field(&self) -> bool {
        matches!(
            self,
            Controller::Deployment(_)
                | Controller::StatefulSet(_)
                | Controller::ReplicaSet(_)
                | Controller::ReplicationController(_)
        )
    }

    /// The replica count the controller runs: `spec.replicas`, defaulting to 1 as the API
    /// server does. `None` for kinds without replicas.
    pub fn effective_replicas(&self) -> Option<i32> {
        self.has_replicas_field()
            .then(|| self.replicas().unwrap_or(1))
    }

    /// The controller's `spec.minReadySeconds`, where the kind has one.
    pub fn min_ready_seconds(&self) -> Option<i32> {
        match self {
            Controller::Deployment(s) => s.min_ready_seconds,
            Controller::StatefulSet(s) => s.min_ready_seconds,
            Controller::DaemonSet(s) => s.min_ready_seconds,
            Controller::ReplicaSet(s) => s.min_ready_seconds,
            Controller::ReplicationController(s) => s.min_ready_seconds,
            _ => None,
        }
    }
}

//! Typed views of Kubernetes objects, under k8s-openapi's field names and, for every part,
//! k8s-openapi's own types.
//!
//! - [`pod`]: the pod spec of the object under evaluation, with [`crate::lazy::Lazy`]
//!   sub-trees so each rule pays only for what it reads;
//! - [`controllers`]: the controllers' own fields (replicas, selector, strategies, ...);
//! - [`objects`]: slim owned views of other objects, for the context.

pub mod controllers;
pub mod objects;
pub mod pod;

pub use controllers::{
    Controller, CronJobSpec, DaemonSetSpec, DeploymentSpec, JobSpec, ReplicaSetSpec,
    ReplicationControllerSpec, StatefulSetSpec,
};
pub use objects::{Service, ServiceSpec};
pub use pod::{Container, PodSpec, Volume};

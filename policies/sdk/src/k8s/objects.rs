//! Slim owned views of objects read from the context (other objects of the manifest set),
//! parsed once per object with [`crate::context::ContextObject::get`].

use k8s_openapi::api::core::v1 as core;
use serde::Deserialize;

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

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
    /// `None` makes the Service headless.
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    #[serde(rename = "externalIPs")]
    pub external_ips: Option<Vec<String>>,
    pub external_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Regression (helper report): `rename_all = "camelCase"` spelt the field `clusterIp`, so
    // every Service read as not headless.
    #[test]
    fn a_headless_service_reads_as_one() {
        let s: Service = serde_json::from_value(serde_json::json!({
            "spec": {"clusterIP": "None", "externalIPs": ["192.0.2.7"], "type": "ClusterIP"}
        }))
        .unwrap();
        let spec = s.spec.unwrap();
        assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
        assert_eq!(spec.external_ips.unwrap(), ["192.0.2.7"]);
    }
}

use std::collections::BTreeMap;

use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the external-traffic rule. Every field has a documented default, and
/// `validate` names the field when a value is out of range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Whether rules may name wildcard hosts such as `*.example.com` (ingress-host).
    pub allow_wildcard_hosts: bool,
    /// Ingress classes an Ingress may use (ingress-class). Empty: any class.
    pub allowed_ingress_classes: Vec<String>,
    /// Namespaces whose Services may be of type NodePort or LoadBalancer
    /// (service-exposure): where the ingress controllers and gateways run.
    pub exposure_namespaces: Vec<String>,
    /// Labels that allow a Service of type NodePort or LoadBalancer anywhere
    /// (service-exposure): a Service carrying any one of these key/value pairs.
    pub exposure_labels: BTreeMap<String, String>,
    /// Namespaces whose Services may set `externalIPs` (service-exposure).
    #[serde(rename = "externalIPsNamespaces")]
    pub external_ips_namespaces: Vec<String>,
    /// Ingress annotations that say TLS is terminated by the load balancer with a
    /// certificate configured outside `spec.tls` (ingress-tls).
    pub tls_annotations: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // A wildcard host routes every subdomain (including ones nobody registered) to one
            // backend; multi-tenant platforms that mean it turn this on.
            allow_wildcard_hosts: false,
            // Which controllers run is the platform's to say.
            allowed_ingress_classes: Vec::new(),
            // The namespaces the install manifests of the widely used ingress controllers and
            // gateways create (ingress-nginx, Contour, Istio, Traefik, Kong, Envoy Gateway,
            // NGINX Gateway Fabric, AKS application routing), and kube-system, where k3s and
            // several managed distributions run theirs.
            exposure_namespaces: [
                "kube-system",
                "ingress-nginx",
                "projectcontour",
                "istio-system",
                "istio-ingress",
                "traefik",
                "kong",
                "envoy-gateway-system",
                "nginx-gateway",
                "app-routing-system",
            ]
            .into_iter()
            .map(str::to_string)
            .collect(),
            // No label is trusted until the platform says which one marks an approved
            // exposure.
            exposure_labels: BTreeMap::new(),
            // CVE-2020-8554: any Service author can claim any external IP; none is trusted
            // by default.
            external_ips_namespaces: Vec::new(),
            // Load balancers that terminate TLS with a certificate named in an annotation:
            // AWS Load Balancer Controller, GKE (managed and pre-shared certificates), and
            // Azure Application Gateway.
            tls_annotations: [
                "alb.ingress.kubernetes.io/certificate-arn",
                "networking.gke.io/managed-certificates",
                "ingress.gcp.kubernetes.io/pre-shared-cert",
                "appgw.ingress.kubernetes.io/appgw-ssl-certificate",
            ]
            .into_iter()
            .map(str::to_string)
            .collect(),
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        for (field, list) in [
            ("allowedIngressClasses", &self.allowed_ingress_classes),
            ("exposureNamespaces", &self.exposure_namespaces),
            ("externalIPsNamespaces", &self.external_ips_namespaces),
            ("tlsAnnotations", &self.tls_annotations),
        ] {
            if let Some(v) = list.iter().find(|v| v.trim().is_empty()) {
                return Err(format!("{field} must not hold an empty name ({v:?})"));
            }
        }
        if self.exposure_labels.keys().any(|k| k.trim().is_empty()) {
            return Err("exposureLabels must not hold an empty label key".to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_unknown_keys_are_refused() {
        assert_eq!(Settings::default().validate(), Ok(()));
        let r: Result<Settings, _> = serde_json::from_value(serde_json::json!({"wildcards": true}));
        assert!(r.is_err());
        let s: Settings =
            serde_json::from_value(serde_json::json!({"externalIPsNamespaces": ["edge"]})).unwrap();
        assert_eq!(s.external_ips_namespaces, vec!["edge".to_string()]);
    }

    #[test]
    fn empty_names_are_refused() {
        let s = Settings {
            exposure_namespaces: vec![String::new()],
            ..Settings::default()
        };
        assert!(s.validate().unwrap_err().starts_with("exposureNamespaces"));
    }
}

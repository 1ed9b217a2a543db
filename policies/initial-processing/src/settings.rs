use prodready_sdk::{Quantity, RuleSettings};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How far an init container's request may exceed the running pod's before it is reported
/// (init-request-footprint), per resource, as Kubernetes quantities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct MinExcess {
    pub cpu: String,
    pub memory: String,
}

impl Default for MinExcess {
    fn default() -> Self {
        MinExcess {
            // A tenth of a core held by a pod is below what a platform team would chase.
            cpu: "100m".to_string(),
            // The same for memory: a few tens of MiB per pod.
            memory: "64Mi".to_string(),
        }
    }
}

/// Settings of the initial-processing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Longest livenessProbe initialDelaySeconds accepted without a startupProbe
    /// (startup-probe-for-slow-start).
    pub max_liveness_initial_delay_seconds: i32,
    /// Images of proxies and agents that run until stopped (native-sidecar): as a regular
    /// container of a Job they keep it from completing. Matched on the image's repository
    /// without tag or digest, equal or ending in `/<entry>` (so `istio/proxyv2` matches
    /// `docker.io/istio/proxyv2:1.24.0`).
    pub sidecar_images: Vec<String>,
    /// Excess of an init container's request over the running pod's below which it is not
    /// reported (init-request-footprint).
    pub min_excess: MinExcess,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // Kubernetes' probes docs: a startupProbe, not a long initialDelaySeconds, protects
            // slow starters; half a minute is where a fixed delay starts to cost every restart.
            max_liveness_initial_delay_seconds: 30,
            // Proxies and agents that never exit on their own and are injected or added to
            // Jobs as regular containers: service-mesh proxies, the Cloud SQL proxy, log
            // shippers.
            sidecar_images: [
                "istio/proxyv2",
                "istio-release/proxyv2",
                "linkerd/proxy",
                "envoyproxy/envoy",
                "cloud-sql-connectors/cloud-sql-proxy",
                "cloudsql-docker/gce-proxy",
                "fluent/fluent-bit",
            ]
            .map(String::from)
            .to_vec(),
            min_excess: MinExcess::default(),
        }
    }
}

/// Parses a `minExcess` quantity, naming the field.
fn excess(field: &str, text: &str) -> Result<Quantity, String> {
    match Quantity::parse(text) {
        Ok(q) if q >= Quantity::ZERO => Ok(q),
        _ => Err(format!(
            "minExcess.{field} is {text:?}: write a quantity of zero or more, e.g. 100m (cpu) or 64Mi (memory)"
        )),
    }
}

impl Settings {
    /// The minimum excess for `cpu` or `memory` (zero when the setting does not parse, which
    /// validation refuses).
    pub fn min_excess(&self, resource: &str) -> Quantity {
        let text = match resource {
            "cpu" => &self.min_excess.cpu,
            _ => &self.min_excess.memory,
        };
        excess(resource, text).unwrap_or(Quantity::ZERO)
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        if self.max_liveness_initial_delay_seconds < 0 {
            return Err(format!(
                "maxLivenessInitialDelaySeconds must be 0 or more, not {}",
                self.max_liveness_initial_delay_seconds
            ));
        }
        if let Some((i, _)) = self
            .sidecar_images
            .iter()
            .enumerate()
            .find(|(_, s)| s.trim().is_empty() || s.contains(char::is_whitespace))
        {
            return Err(format!(
                "sidecarImages[{i}] is empty or holds whitespace: each entry is an image repository, e.g. istio/proxyv2"
            ));
        }
        excess("cpu", &self.min_excess.cpu)?;
        excess("memory", &self.min_excess.memory)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Settings, String> {
        let s: Settings = serde_json::from_value(v).map_err(|e| e.to_string())?;
        s.validate()?;
        Ok(s)
    }

    #[test]
    fn defaults_are_valid_and_unknown_keys_are_refused() {
        assert_eq!(parse(json!({})).unwrap(), Settings::default());
        assert!(parse(json!({"sidecarImage": []})).is_err());
        assert!(parse(json!({"minExcess": {"disk": "1Gi"}})).is_err());
        let s = parse(json!({"minExcess": {"cpu": "0"}})).unwrap();
        assert_eq!(s.min_excess("cpu"), Quantity::ZERO);
        assert_eq!(s.min_excess("memory"), Quantity::parse("64Mi").unwrap());
    }

    #[test]
    fn bad_values_name_the_field() {
        let e = parse(json!({"maxLivenessInitialDelaySeconds": -1})).unwrap_err();
        assert!(e.contains("maxLivenessInitialDelaySeconds"), "{e}");
        let e = parse(json!({"minExcess": {"memory": "64MB"}})).unwrap_err();
        assert!(e.contains("minExcess.memory"), "{e}");
        let e = parse(json!({"sidecarImages": ["istio/proxyv2", " "]})).unwrap_err();
        assert!(e.contains("sidecarImages[1]"), "{e}");
    }
}

//! Kubernetes behaviour this rule needs and the SDK does not offer yet.
//!
//! Candidate for the SDK: the effective pod request below is the same computation as
//! resource-management's `aggregate_container_request` (policies/resource-management/src/
//! checks.rs), split so a check can see each init container's share; requested in
//! /work/notes/sdk-requests.md. Image repository matching is shared with the ci-cd rule's
//! registry check.

use prodready_sdk::k8s_openapi::api::core::v1::ResourceRequirements;
use prodready_sdk::{ContainerRef, ContainerRole, Quantity, Workload};

/// A container's request of one resource after the API server's defaulting (the limit when
/// the request is unset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Absent,
    Valid(Quantity),
    /// Not a valid quantity (resource-management's resources-set reports it).
    Invalid,
}

fn quantity<'a>(r: Option<&'a ResourceRequirements>, name: &str, limits: bool) -> Option<&'a str> {
    let r = r?;
    let map = if limits { &r.limits } else { &r.requests };
    map.as_ref()?.get(name).map(|q| q.0.as_str())
}

/// The request of `name` for a container: `requests`, else `limits`.
pub fn effective_request(c: &ContainerRef<'_, '_>, name: &str) -> Request {
    let r = c.resources();
    let Some(text) = quantity(r, name, false).or_else(|| quantity(r, name, true)) else {
        return Request::Absent;
    };
    match Quantity::parse(text) {
        Ok(q) if q >= Quantity::ZERO => Request::Valid(q),
        _ => Request::Invalid,
    }
}

fn plus(a: Quantity, b: Quantity) -> Quantity {
    Quantity::from_nanos(a.nanos().saturating_add(b.nanos()))
}

/// The pod's requests of one resource, as Kubernetes aggregates them (component-helpers
/// `PodRequests`, KEP-753): app containers and sidecars run together; each regular init
/// container runs alone beside the sidecars started before it; the pod reserves the larger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// Sum of the app containers and every sidecar: what the running pod requests.
    pub running: Quantity,
    /// Per regular init container (its index in `initContainers`): its own request and its
    /// request plus the sidecars started before it.
    pub init: Vec<InitShare>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitShare {
    pub index: usize,
    pub own: Quantity,
    pub during: Quantity,
}

impl Footprint {
    /// The pod's effective request: max(running, the largest init share).
    pub fn effective(&self) -> Quantity {
        self.init
            .iter()
            .map(|i| i.during)
            .fold(self.running, Quantity::max)
    }
}

/// The footprint of `name`, or `None` when a quantity is invalid. Absent requests count as
/// zero.
pub fn footprint(w: &Workload<'_>, name: &str) -> Option<Footprint> {
    let value = |c: &ContainerRef<'_, '_>| match effective_request(c, name) {
        Request::Absent => Some(Quantity::ZERO),
        Request::Valid(q) => Some(q),
        Request::Invalid => None,
    };
    let mut running = Quantity::ZERO;
    for c in w.containers() {
        running = plus(running, value(&c)?);
    }
    let mut sidecars = Quantity::ZERO;
    let mut init = Vec::new();
    for (index, c) in w.init_containers().enumerate() {
        let q = value(&c)?;
        if c.role == ContainerRole::Sidecar {
            running = plus(running, q);
            sidecars = plus(sidecars, q);
        } else {
            init.push(InitShare {
                index,
                own: q,
                during: plus(q, sidecars),
            });
        }
    }
    Some(Footprint { running, init })
}

/// An image's repository: the reference without its digest and tag
/// (`docker.io/istio/proxyv2:1.24@sha256:...` is `docker.io/istio/proxyv2`).
pub fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image.get(last_slash..).and_then(|tail| tail.rfind(':')) {
        Some(colon) => image.get(..last_slash + colon).unwrap_or(image),
        None => image,
    }
}

/// Whether an image's repository is `pattern`, or ends with `/pattern` (a registry or
/// organisation in front).
pub fn image_matches(image: &str, pattern: &str) -> bool {
    let repo = repository(image.trim());
    let pattern = pattern.trim().trim_end_matches('/');
    repo == pattern
        || repo
            .strip_suffix(pattern)
            .is_some_and(|head| head.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::{WorkloadKind, testing};
    use serde_json::json;

    #[test]
    fn repositories_and_matches() {
        assert_eq!(
            repository("docker.io/istio/proxyv2:1.24.0"),
            "docker.io/istio/proxyv2"
        );
        assert_eq!(repository("localhost:5000/envoy"), "localhost:5000/envoy");
        assert_eq!(
            repository("localhost:5000/envoy:v1@sha256:ab"),
            "localhost:5000/envoy"
        );
        assert_eq!(repository("busybox"), "busybox");
        assert!(image_matches(
            "docker.io/istio/proxyv2:1.24.0",
            "istio/proxyv2"
        ));
        assert!(image_matches("istio/proxyv2", "istio/proxyv2"));
        assert!(image_matches(
            "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.14.1",
            "cloud-sql-connectors/cloud-sql-proxy"
        ));
        assert!(!image_matches(
            "docker.io/myistio/proxyv2:1",
            "istio/proxyv2"
        ));
        assert!(!image_matches(
            "docker.io/istio/proxyv2-debug:1",
            "istio/proxyv2"
        ));
    }

    #[test]
    fn footprint_counts_sidecars_beside_later_init_containers() {
        let w = testing::workload_of(
            WorkloadKind::Deployment,
            json!({"app": "web"}),
            json!({
                "initContainers": [
                    {"name": "mesh", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
                    {"name": "warm", "resources": {"limits": {"cpu": "2"}}}
                ],
                "containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]
            }),
        );
        let f = footprint(&w, "cpu").unwrap();
        assert_eq!(f.running, Quantity::parse("1100m").unwrap());
        assert_eq!(f.init.len(), 1);
        assert_eq!(f.init[0].index, 1);
        assert_eq!(f.init[0].during, Quantity::parse("2100m").unwrap());
        assert_eq!(f.effective(), Quantity::parse("2100m").unwrap());
        let bad = testing::workload_of(
            WorkloadKind::Deployment,
            json!({"app": "web"}),
            json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "lots"}}}]}),
        );
        assert_eq!(footprint(&bad, "cpu"), None);
    }
}

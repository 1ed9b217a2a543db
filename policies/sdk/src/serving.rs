//! Whether a workload's pods serve traffic, decided from what routes traffic to them — as the
//! kubelet and kube-proxy see it, readiness and a preStop delay only matter for pods that are
//! Service endpoints:
//!
//! 1. a Service of the namespace selects the pods and is not metrics-only (or an Ingress
//!    routes to it): the pods serve, through the containers that declare a port it targets;
//! 2. the namespace has Services but none that routes traffic selects the pods: they do not
//!    serve (a CNI agent whose one port is `healthz`, a worker with only a metrics Service);
//! 3. no Service is visible at all (a bare Deployment file, or no context): decided from the
//!    containers' ports, skipping ports named for metrics or health.
//!
//! Shared by the health-check rule (a readiness probe gates endpoints) and graceful-shutdown
//! (a preStop delay lets endpoints drain).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

use crate::context::{Context, ContextObject, selectors};
use crate::k8s::Service;
use crate::metadata::{ContextResource, Resource};
use crate::workload::{ContainerRef, Workload};

/// The core/v1 Service.
pub const SERVICE: Resource = Resource::namespaced("", &["v1"], "Service", "services");

/// The networking.k8s.io Ingress (and the removed extensions/v1beta1 one, read in manifest
/// sets).
pub const INGRESS: Resource = Resource::namespaced(
    "networking.k8s.io",
    &["v1", "v1beta1"],
    "Ingress",
    "ingresses",
);

/// What a rule deciding "serving" reads from the context.
pub const SERVING_CONTEXT: &[ContextResource] = &[
    ContextResource::new(SERVICE, &["spec"]),
    ContextResource::new(INGRESS, &["spec"]),
];

/// Words that, as a port name or a dash-separated part of one, say a port is for metrics or
/// health, not for traffic.
const MONITORING_WORDS: [&str; 10] = [
    "metrics",
    "prometheus",
    "prom",
    "monitoring",
    "health",
    "healthz",
    "probe",
    "pprof",
    "debug",
    "admin",
];

/// Port names that say a port is for metrics or health, not for traffic: one of the words, a
/// name starting or ending with one of them and a dash (`http-metrics`, `metrics-tls`), or any
/// name containing `metric`. ASCII case-insensitive; no allocation (it runs per port).
pub fn is_monitoring_port_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"metric")) {
        return true;
    }
    MONITORING_WORDS.iter().any(|w| {
        let w = w.as_bytes();
        let head = bytes
            .get(..w.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(w));
        let tail = bytes
            .len()
            .checked_sub(w.len())
            .and_then(|at| bytes.get(at..))
            .is_some_and(|t| t.eq_ignore_ascii_case(w));
        (head && (bytes.len() == w.len() || bytes.get(w.len()) == Some(&b'-')))
            || (tail
                && bytes.len() > w.len()
                && bytes.get(bytes.len() - w.len() - 1) == Some(&b'-'))
    })
}

/// Whether a Service carries only metrics or health ports (every port's name, or its
/// targetPort's name, says so). A Service without ports is not metrics-only.
pub fn is_metrics_only(svc: &Service) -> bool {
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    !ports.is_empty() && ports.iter().all(|p| {
        p.name.as_deref().is_some_and(is_monitoring_port_name)
            || matches!(&p.target_port, Some(IntOrString::String(t)) if is_monitoring_port_name(t))
    })
}

/// How traffic reaches a workload's pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Serving {
    /// Services that route traffic select the pods, with the ports they target.
    Routed {
        services: Vec<String>,
        /// Target ports: numbers and names.
        targets: Vec<IntOrString>,
    },
    /// The namespace has Services, none of them routing traffic to these pods (the names are
    /// metrics-only Services that do select them).
    NotRouted { metrics_only: Vec<String> },
    /// No Service is visible (or no context was given): decide from ports.
    Unknown,
}

#[derive(Deserialize)]
struct IngressView {
    spec: Option<IngressSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IngressSpec {
    default_backend: Option<Backend>,
    /// extensions/v1beta1.
    backend: Option<Backend>,
    #[serde(default)]
    rules: Vec<IngressRule>,
}

#[derive(Deserialize)]
struct IngressRule {
    http: Option<IngressHttp>,
}

#[derive(Deserialize)]
struct IngressHttp {
    #[serde(default)]
    paths: Vec<IngressPath>,
}

#[derive(Deserialize)]
struct IngressPath {
    backend: Option<Backend>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Backend {
    service: Option<BackendService>,
    /// extensions/v1beta1.
    service_name: Option<String>,
}

#[derive(Deserialize)]
struct BackendService {
    name: Option<String>,
}

impl Backend {
    fn service_name(&self) -> Option<&str> {
        self.service
            .as_ref()
            .and_then(|s| s.name.as_deref())
            .or(self.service_name.as_deref())
    }
}

/// The backend Services of every Ingress, by namespace (built once per context).
struct IngressBackends(BTreeMap<Option<String>, BTreeSet<String>>);

fn ingress_backends(context: &Context) -> &IngressBackends {
    context.memo(|ctx| {
        let mut m: BTreeMap<Option<String>, BTreeSet<String>> = BTreeMap::new();
        for o in ctx
            .of_kind(INGRESS.group, INGRESS.kind)
            .chain(ctx.of_kind("extensions", "Ingress"))
        {
            let Some(spec) = o.get::<IngressView>().and_then(|i| i.spec.as_ref()) else {
                continue;
            };
            let names = spec
                .default_backend
                .iter()
                .chain(&spec.backend)
                .chain(spec.rules.iter().flat_map(|r| {
                    r.http
                        .iter()
                        .flat_map(|h| h.paths.iter().filter_map(|p| p.backend.as_ref()))
                }))
                .filter_map(Backend::service_name);
            let entry = m.entry(o.namespace().map(str::to_string)).or_default();
            entry.extend(names.map(str::to_string));
        }
        IngressBackends(m)
    })
}

fn ingress_routes_to(context: &Context, svc: &ContextObject) -> bool {
    ingress_backends(context)
        .0
        .get(&svc.namespace().map(str::to_string))
        .is_some_and(|names| names.contains(svc.name()))
}

/// How traffic reaches the pods of `w`, in `namespace`.
pub fn serving(context: &Context, namespace: Option<&str>, w: &Workload<'_>) -> Serving {
    if !context.is_present()
        || context
            .in_namespace(SERVICE.group, SERVICE.kind, namespace)
            .next()
            .is_none()
    {
        return Serving::Unknown;
    }
    let mut services = Vec::new();
    let mut targets = Vec::new();
    let mut metrics_only = Vec::new();
    for o in context.selecting(
        SERVICE.group,
        SERVICE.kind,
        namespace,
        &w.pod_labels,
        selectors::service,
    ) {
        let Some(svc) = o.get::<Service>() else {
            continue;
        };
        if is_metrics_only(svc) && !ingress_routes_to(context, o) {
            metrics_only.push(o.name().to_string());
            continue;
        }
        services.push(o.name().to_string());
        for p in svc.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
            targets.push(target_of(p));
        }
    }
    if services.is_empty() {
        Serving::NotRouted { metrics_only }
    } else {
        Serving::Routed { services, targets }
    }
}

/// A Service port's target: `targetPort`, else its `port`.
fn target_of(p: &core::ServicePort) -> IntOrString {
    p.target_port.clone().unwrap_or(IntOrString::Int(p.port))
}

/// Why a long-running container serves traffic, or `None` when it does not.
pub fn container_serves(s: &Serving, w: &Workload<'_>, c: &ContainerRef<'_, '_>) -> Option<String> {
    if !c.is_long_running() || !w.is_long_running() {
        return None;
    }
    match s {
        Serving::NotRouted { .. } => None,
        Serving::Unknown => c
            .ports()
            .iter()
            .find(|p| !p.name.as_deref().is_some_and(is_monitoring_port_name))
            .map(|p| match &p.name {
                Some(n) => format!("it declares port \"{n}\" ({})", p.container_port),
                None => format!("it declares port {}", p.container_port),
            }),
        Serving::Routed { services, targets } => {
            let why = || format!("Service \"{}\" selects its pods", services.join("\", \""));
            let declares = |t: &IntOrString| match t {
                IntOrString::Int(n) => c.declares_port(*n),
                IntOrString::String(name) => c.port_by_name(name).is_some(),
            };
            if targets.iter().any(declares) {
                return Some(why());
            }
            // No container declares a targeted port (an undeclared number, say): every app
            // container may be the one serving it.
            let any_declares = w.all_containers().any(|other| {
                other.is_long_running()
                    && targets.iter().any(|t| match t {
                        IntOrString::Int(n) => other.declares_port(*n),
                        IntOrString::String(name) => other.port_by_name(name).is_some(),
                    })
            });
            (!any_declares && c.role == crate::ContainerRole::App).then(why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WorkloadKind;
    use crate::testing;
    use serde_json::json;

    fn ctx(objects: Vec<serde_json::Value>) -> Context {
        Context::from_json(&json!({ "objects": objects }).to_string()).unwrap()
    }

    fn svc(name: &str, selector: serde_json::Value, ports: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"},
               "spec": {"selector": selector, "ports": ports}})
    }

    fn web() -> Workload<'static> {
        testing::workload_of(
            WorkloadKind::Deployment,
            json!({"app": "web"}),
            json!({"containers": [{"name": "web", "image": "w:1",
                "ports": [{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}]}]}),
        )
    }

    #[test]
    fn metrics_port_names() {
        for n in [
            "metrics",
            "http-metrics",
            "metrics-tls",
            "prometheus",
            "healthz",
            "health",
        ] {
            assert!(is_monitoring_port_name(n), "{n}");
        }
        for n in ["http", "https", "grpc", "web", "dns", "dns-tcp", "postgres"] {
            assert!(!is_monitoring_port_name(n), "{n}");
        }
    }

    #[test]
    fn routed_not_routed_and_unknown() {
        let w = web();
        let c = w.containers().next().unwrap();
        // No Service at all: ports decide.
        let s = serving(&ctx(vec![]), Some("shop"), &w);
        assert_eq!(s, Serving::Unknown);
        assert!(container_serves(&s, &w, &c).is_some());
        // A metrics-only Service selects it: not serving.
        let metrics = svc(
            "web-metrics",
            json!({"app": "web"}),
            json!([{"name": "metrics", "port": 9090}]),
        );
        let s = serving(&ctx(vec![metrics.clone()]), Some("shop"), &w);
        assert_eq!(
            s,
            Serving::NotRouted {
                metrics_only: vec!["web-metrics".into()]
            }
        );
        assert!(container_serves(&s, &w, &c).is_none());
        // ... unless an Ingress routes to it.
        let ing = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "i", "namespace": "shop"},
            "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web-metrics", "port": {"number": 9090}}}}]}}]}});
        let s = serving(&ctx(vec![metrics, ing]), Some("shop"), &w);
        assert!(matches!(s, Serving::Routed { .. }));
        // A Service for other pods: not serving.
        let other = svc("api", json!({"app": "api"}), json!([{"port": 80}]));
        assert!(container_serves(&serving(&ctx(vec![other]), Some("shop"), &w), &w, &c).is_none());
        // Its own Service: serving.
        let own = svc(
            "web",
            json!({"app": "web"}),
            json!([{"port": 80, "targetPort": "http"}]),
        );
        let s = serving(&ctx(vec![own]), Some("shop"), &w);
        assert!(
            container_serves(&s, &w, &c)
                .unwrap()
                .contains("Service \"web\"")
        );
    }
}

//! The checks, as pure functions over the workload view.

use prodready_sdk::k8s_openapi::api::core::v1::Probe;
use prodready_sdk::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use prodready_sdk::serving::{Serving, container_serves};
use prodready_sdk::{ContainerRef, ContainerRole, Findings, Workload};

use crate::settings::{Require, Settings};
use crate::{
    LIVENESS_OUTLASTS_READINESS, PROBE_PORT_DECLARED, PROBE_TIMING, PROBES_DISTINCT,
    PROBES_REQUIRED,
};

/// Kubernetes' probe defaults.
const DEFAULT_PERIOD: i64 = 10;
const DEFAULT_FAILURE_THRESHOLD: i64 = 3;
const DEFAULT_TIMEOUT: i64 = 1;

pub fn check_workload(w: &Workload<'_>, serving: &Serving, s: &Settings, out: &mut Findings) {
    for c in w.all_containers() {
        if w.is_long_running() {
            probes_required(w, &c, serving, s, out);
        }
        probes_distinct(&c, out);
        liveness_outlasts_readiness(&c, out);
        probe_port_declared(&c, out);
        probe_timing(&c, s, out);
    }
}

/// The probes a container has, by field name.
fn probes<'w>(c: &ContainerRef<'w, '_>) -> impl Iterator<Item = (&'static str, &'w Probe)> {
    [
        ("livenessProbe", c.liveness_probe()),
        ("readinessProbe", c.readiness_probe()),
        ("startupProbe", c.startup_probe()),
    ]
    .into_iter()
    .filter_map(|(name, p)| p.map(|p| (name, p)))
}

/// App containers need a livenessProbe; containers that serve traffic (app containers and
/// native sidecars that a Service routes to, or that declare traffic ports when the set has no
/// Service) need a readinessProbe too. Readiness decides Service endpoint membership: a
/// container nothing routes to gains nothing from it.
pub fn probes_required(
    w: &Workload<'_>,
    c: &ContainerRef<'_, '_>,
    serving: &Serving,
    s: &Settings,
    out: &mut Findings,
) {
    let (want_readiness, want_liveness) = match s.require {
        Require::Both => (true, true),
        Require::Readiness => (true, false),
        Require::Liveness => (false, true),
        Require::None => (false, false),
    };
    let serves = container_serves(serving, w, c);
    // Sidecars are held to the app's standard when they serve; init containers never.
    if c.role != ContainerRole::App && serves.is_none() {
        return;
    }
    if want_readiness
        && c.readiness_probe().is_none()
        && let Some(why) = &serves
    {
        out.report(
            &PROBES_REQUIRED,
            c.field("readinessProbe"),
            format!(
                "container \"{}\" serves traffic ({why}) but has no readinessProbe: add one that fails while it cannot serve, so the pod leaves Service endpoints instead of receiving traffic it drops",
                c.name()
            ),
        );
    }
    if want_liveness && c.liveness_probe().is_none() {
        out.report(
            &PROBES_REQUIRED,
            c.field("livenessProbe"),
            format!(
                "container \"{}\" has no livenessProbe: add one so a hung process is restarted instead of holding its slot forever",
                c.name()
            ),
        );
    }
}

/// A probe handler reduced to what decides what it asks.
#[derive(Debug, PartialEq, Eq)]
enum Handler {
    Http {
        scheme: String,
        host: Option<String>,
        path: String,
        port: Port,
    },
    Tcp {
        host: Option<String>,
        port: Port,
    },
    Grpc {
        port: i32,
        service: String,
    },
    Exec(Vec<String>),
}

/// A port, resolved to its number when the container names it.
#[derive(Debug, PartialEq, Eq)]
enum Port {
    Number(i32),
    Name(String),
}

fn port(c: &ContainerRef<'_, '_>, p: &IntOrString) -> Port {
    match p {
        IntOrString::Int(n) => Port::Number(*n),
        IntOrString::String(s) => match c.port_by_name(s) {
            Some(n) => Port::Number(n),
            // The kubelet resolves a name first, then tries it as a number.
            None => s
                .parse::<i32>()
                .map_or_else(|_| Port::Name(s.clone()), Port::Number),
        },
    }
}

fn handler(c: &ContainerRef<'_, '_>, p: &Probe) -> Option<Handler> {
    if let Some(h) = &p.http_get {
        let path = h.path.as_deref().unwrap_or_default();
        return Some(Handler::Http {
            scheme: h.scheme.as_deref().unwrap_or("HTTP").to_ascii_uppercase(),
            host: h.host.clone(),
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
            port: port(c, &h.port),
        });
    }
    if let Some(t) = &p.tcp_socket {
        return Some(Handler::Tcp {
            host: t.host.clone(),
            port: port(c, &t.port),
        });
    }
    if let Some(g) = &p.grpc {
        return Some(Handler::Grpc {
            port: g.port,
            service: g.service.clone().unwrap_or_default(),
        });
    }
    p.exec
        .as_ref()
        .map(|e| Handler::Exec(e.command.clone().unwrap_or_default()))
}

/// Whether an HTTP path is named for readiness (`/ready`, `/readyz`, `/readiness`,
/// `/actuator/health/readiness`): by convention such endpoints report dependencies and
/// drain state, which is what liveness must not restart a container for.
fn is_readiness_path(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.split('/').filter(|seg| !seg.is_empty()).any(|seg| {
        let seg = seg.to_ascii_lowercase();
        matches!(seg.as_str(), "ready" | "readyz" | "readiness" | "isready")
    })
}

/// The same handler for liveness and readiness is the pattern the Kubernetes docs recommend,
/// with a longer liveness failure budget (liveness-outlasts-readiness holds that part). It is
/// reported (as a warning) only when the shared endpoint is named for readiness, i.e. the
/// manifest shows readiness asks more than "is the process alive".
pub fn probes_distinct(c: &ContainerRef<'_, '_>, out: &mut Findings) {
    let (Some(live), Some(ready)) = (c.liveness_probe(), c.readiness_probe()) else {
        return;
    };
    let (Some(lh), Some(rh)) = (handler(c, live), handler(c, ready)) else {
        return;
    };
    if lh != rh {
        return;
    }
    let Handler::Http { path, .. } = &lh else {
        return;
    };
    if !is_readiness_path(path) {
        return;
    }
    out.report(
        &PROBES_DISTINCT,
        c.field("livenessProbe.httpGet.path"),
        format!(
            "container \"{}\": livenessProbe uses the readiness endpoint {path}; readiness endpoints report dependencies and drain state, so an outage of a dependency restarts every replica at once. Point liveness at an endpoint that only says the process is alive (e.g. /livez or /healthz)",
            c.name()
        ),
    );
}

/// Seconds from start (or first failure) until a probe gives up:
/// `initialDelaySeconds + periodSeconds × failureThreshold`, with Kubernetes' defaults.
pub fn failure_budget(p: &Probe) -> i64 {
    let delay = i64::from(p.initial_delay_seconds.unwrap_or(0));
    let period = p.period_seconds.map_or(DEFAULT_PERIOD, i64::from);
    let threshold = p
        .failure_threshold
        .map_or(DEFAULT_FAILURE_THRESHOLD, i64::from);
    delay.saturating_add(period.saturating_mul(threshold))
}

pub fn liveness_outlasts_readiness(c: &ContainerRef<'_, '_>, out: &mut Findings) {
    let (Some(live), Some(ready)) = (c.liveness_probe(), c.readiness_probe()) else {
        return;
    };
    let (l, r) = (failure_budget(live), failure_budget(ready));
    if l > r {
        return;
    }
    let budgets = if l == r {
        format!("livenessProbe and readinessProbe both give up after {l}s")
    } else {
        format!("livenessProbe gives up after {l}s, before readinessProbe does ({r}s)")
    };
    out.report(
        &LIVENESS_OUTLASTS_READINESS,
        c.field("livenessProbe"),
        format!(
            "container \"{}\": {budgets}; a slow pod is restarted before it has left rotation. Make liveness's initialDelaySeconds + periodSeconds x failureThreshold exceed {r}s (e.g. a higher failureThreshold)",
            c.name()
        ),
    );
}

/// A named probe port must be declared (the kubelet resolves names only in the container's
/// `ports`, so an undeclared name never succeeds); a numeric one works whatever `ports` says
/// (the kubelet probes the pod IP), so it is only a warning.
pub fn probe_port_declared(c: &ContainerRef<'_, '_>, out: &mut Findings) {
    for (field, p) in probes(c) {
        let (sub, port) = if let Some(h) = &p.http_get {
            ("httpGet.port", port(c, &h.port))
        } else if let Some(t) = &p.tcp_socket {
            ("tcpSocket.port", port(c, &t.port))
        } else if let Some(g) = &p.grpc {
            ("grpc.port", Port::Number(g.port))
        } else {
            continue;
        };
        let path = || c.field(&format!("{field}.{sub}"));
        match port {
            Port::Number(n) if !c.declares_port(n) => out.warn(
                &PROBE_PORT_DECLARED,
                path(),
                format!(
                    "container \"{}\": {field} probes port {n}, which the container does not declare; the probe works (the kubelet probes the pod IP whatever ports lists), but declare it under ports, with a name, so the port is documented and Services can target it by name",
                    c.name()
                ),
            ),
            Port::Name(name) => out.report(
                &PROBE_PORT_DECLARED,
                path(),
                format!(
                    "container \"{}\": {field} probes the port named \"{name}\", which the container does not declare, so the probe can never succeed (the kubelet resolves port names only in the container's own ports). Declare a port named \"{name}\" or probe a declared one",
                    c.name()
                ),
            ),
            Port::Number(_) => {}
        }
    }
}

pub fn probe_timing(c: &ContainerRef<'_, '_>, s: &Settings, out: &mut Findings) {
    for (field, p) in probes(c) {
        let timeout = p.timeout_seconds.map_or(DEFAULT_TIMEOUT, i64::from);
        let period = p.period_seconds.map_or(DEFAULT_PERIOD, i64::from);
        if timeout >= period {
            let relation = if timeout == period {
                "equals"
            } else {
                "is above"
            };
            out.report(
                &PROBE_TIMING,
                c.field(&format!("{field}.timeoutSeconds")),
                format!(
                    "container \"{}\": {field} timeoutSeconds ({timeout}) {relation} periodSeconds ({period}); against a hanging endpoint the kubelet runs the probes back to back with no pause, and a failure takes failureThreshold x {timeout}s to notice. Lower timeoutSeconds below periodSeconds",
                    c.name()
                ),
            );
        }
    }
    if let Some(live) = c.liveness_probe() {
        let threshold = live
            .failure_threshold
            .map_or(DEFAULT_FAILURE_THRESHOLD, i64::from);
        if threshold < i64::from(s.min_liveness_failure_threshold) {
            out.report(
                &PROBE_TIMING,
                c.field("livenessProbe.failureThreshold"),
                format!(
                    "container \"{}\": livenessProbe failureThreshold is {threshold}; one or two slow answers restart it. Set it to at least {}",
                    c.name(),
                    s.min_liveness_failure_threshold
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::{WorkloadKind, testing};
    use serde_json::{Value, json};

    fn deployment(spec: Value) -> Workload<'static> {
        testing::workload_of(WorkloadKind::Deployment, json!({"app": "web"}), spec)
    }

    fn run_as(w: &Workload<'_>, serving: &Serving) -> Vec<(&'static str, String)> {
        let mut out = Findings::new();
        check_workload(w, serving, &Settings::default(), &mut out);
        out.items()
            .iter()
            .map(|f| (f.check.id, f.path.clone()))
            .collect()
    }

    fn run(w: &Workload<'_>) -> Vec<(&'static str, String)> {
        run_as(w, &Serving::Unknown)
    }

    fn c0(rest: &str) -> String {
        format!("spec.template.spec.containers[0].{rest}")
    }

    fn good_container() -> Value {
        json!({
            "name": "web", "image": "web:1",
            "ports": [{"name": "http", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5},
            "livenessProbe": {"httpGet": {"path": "/alive", "port": 8080}, "initialDelaySeconds": 10}
        })
    }

    #[test]
    fn a_well_probed_container_passes() {
        assert_eq!(
            run(&deployment(json!({"containers": [good_container()]}))),
            vec![]
        );
    }

    #[test]
    fn missing_probes_are_reported_per_probe() {
        let w = deployment(json!({"containers": [{"name": "web", "image": "web:1",
            "ports": [{"containerPort": 8080}]}]}));
        assert_eq!(
            run(&w),
            vec![
                ("probes-required", c0("readinessProbe")),
                ("probes-required", c0("livenessProbe")),
            ]
        );
    }

    #[test]
    fn readiness_only_for_containers_that_serve() {
        // No ports and no Service: liveness only.
        let w = deployment(json!({"containers": [{"name": "worker", "image": "w:1"}]}));
        assert_eq!(run(&w), vec![("probes-required", c0("livenessProbe"))]);
        // Only a metrics port: not serving.
        let w = deployment(json!({"containers": [{"name": "agent", "image": "a:1",
            "ports": [{"name": "metrics", "containerPort": 9090}]}]}));
        assert_eq!(run(&w), vec![("probes-required", c0("livenessProbe"))]);
        // A Service routes to it: readiness too, even with a metrics-named port.
        let routed = Serving::Routed {
            services: vec!["agent".into()],
            targets: vec![IntOrString::Int(9090)],
        };
        assert_eq!(
            run_as(&w, &routed),
            vec![
                ("probes-required", c0("readinessProbe")),
                ("probes-required", c0("livenessProbe"))
            ]
        );
        // Services exist, none routes here.
        let not = Serving::NotRouted {
            metrics_only: vec![],
        };
        let w = deployment(json!({"containers": [{"name": "web", "image": "w:1",
            "ports": [{"name": "http", "containerPort": 8080}]}]}));
        assert_eq!(
            run_as(&w, &not),
            vec![("probes-required", c0("livenessProbe"))]
        );
    }

    #[test]
    fn serving_native_sidecars_need_probes() {
        let w = deployment(json!({
            "initContainers": [
                {"name": "proxy", "image": "p:1", "restartPolicy": "Always",
                 "ports": [{"name": "https", "containerPort": 8443}]},
                {"name": "shipper", "image": "s:1", "restartPolicy": "Always"},
                {"name": "migrate", "image": "m:1"}
            ],
            "containers": [good_container()]
        }));
        assert_eq!(
            run(&w),
            vec![
                (
                    "probes-required",
                    "spec.template.spec.initContainers[0].readinessProbe".to_string()
                ),
                (
                    "probes-required",
                    "spec.template.spec.initContainers[0].livenessProbe".to_string()
                ),
            ]
        );
    }

    #[test]
    fn jobs_need_no_probes() {
        let w = testing::workload_of(
            WorkloadKind::Job,
            json!({"app": "job"}),
            json!({"restartPolicy": "Never", "containers": [{"name": "job", "image": "j:1"}]}),
        );
        assert_eq!(run(&w), vec![]);
    }

    #[test]
    fn the_same_endpoint_with_a_longer_liveness_budget_is_the_documented_pattern() {
        let mut c = good_container();
        c["readinessProbe"] =
            json!({"httpGet": {"path": "/healthz", "port": "http"}, "failureThreshold": 3});
        c["livenessProbe"] =
            json!({"httpGet": {"path": "/healthz", "port": 8080}, "failureThreshold": 5});
        assert_eq!(run(&deployment(json!({"containers": [c.clone()]}))), vec![]);
        // The same with gRPC and a longer liveness period.
        c["readinessProbe"] = json!({"grpc": {"port": 8080}, "periodSeconds": 5});
        c["livenessProbe"] = json!({"grpc": {"port": 8080}, "periodSeconds": 10});
        assert_eq!(run(&deployment(json!({"containers": [c]}))), vec![]);
    }

    #[test]
    fn a_shared_readiness_endpoint_is_a_warning() {
        let mut c = good_container();
        c["livenessProbe"] =
            json!({"httpGet": {"path": "/ready", "port": 8080}, "initialDelaySeconds": 10});
        let w = deployment(json!({"containers": [c]}));
        assert_eq!(
            run(&w),
            vec![("probes-distinct", c0("livenessProbe.httpGet.path"))]
        );
        for p in [
            "/ready",
            "/readyz",
            "/api/v1/readiness",
            "/actuator/health/readiness",
            "/ready?full=1",
        ] {
            assert!(is_readiness_path(p), "{p}");
        }
        for p in [
            "/",
            "/healthz",
            "/health",
            "/live",
            "/already",
            "/readyness-report",
        ] {
            assert!(!is_readiness_path(p), "{p}");
        }
    }

    #[test]
    fn equal_budgets_are_one_finding_with_an_honest_message() {
        let mut c = good_container();
        c["livenessProbe"] =
            json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 15});
        c["readinessProbe"] =
            json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 15});
        let w = deployment(json!({"containers": [c]}));
        let mut out = Findings::new();
        check_workload(&w, &Serving::Unknown, &Settings::default(), &mut out);
        assert_eq!(out.ids(), vec!["liveness-outlasts-readiness"]);
        assert!(
            out.items()[0].message.contains("both give up after 45s"),
            "{}",
            out.items()[0].message
        );
    }

    #[test]
    fn failure_budget_uses_kubernetes_defaults() {
        let p: Probe = serde_json::from_value(json!({"exec": {"command": ["true"]}})).unwrap();
        assert_eq!(failure_budget(&p), 30);
        let p: Probe = serde_json::from_value(
            json!({"initialDelaySeconds": 60, "periodSeconds": 5, "failureThreshold": 5}),
        )
        .unwrap();
        assert_eq!(failure_budget(&p), 85);
    }

    #[test]
    fn undeclared_ports_by_number_warn_and_by_name_fail() {
        let mut c = good_container();
        c["livenessProbe"]["httpGet"]["port"] = json!(9090);
        c["readinessProbe"]["httpGet"]["port"] = json!("metrics");
        let w = deployment(json!({"containers": [c]}));
        let mut out = Findings::new();
        check_workload(&w, &Serving::Unknown, &Settings::default(), &mut out);
        let got: Vec<_> = out
            .items()
            .iter()
            .map(|f| (f.check.id, f.severity, f.path.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "probe-port-declared",
                    prodready_sdk::Severity::Warning,
                    c0("livenessProbe.httpGet.port")
                ),
                (
                    "probe-port-declared",
                    prodready_sdk::Severity::Error,
                    c0("readinessProbe.httpGet.port")
                ),
            ]
        );
    }

    #[test]
    fn timing_checks_timeout_and_liveness_threshold() {
        let mut c = good_container();
        c["readinessProbe"]["timeoutSeconds"] = json!(5);
        c["livenessProbe"]["failureThreshold"] = json!(1);
        c["livenessProbe"]["initialDelaySeconds"] = json!(30);
        let w = deployment(json!({"containers": [c]}));
        assert_eq!(
            run(&w),
            vec![
                ("probe-timing", c0("readinessProbe.timeoutSeconds")),
                ("probe-timing", c0("livenessProbe.failureThreshold")),
            ]
        );
        let mut out = Findings::new();
        check_workload(&w, &Serving::Unknown, &Settings::default(), &mut out);
        assert!(
            out.items()[0]
                .message
                .contains("(5) equals periodSeconds (5)")
        );
        assert!(!out.items()[0].message.contains("overlap"));
    }
}

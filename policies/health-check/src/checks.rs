//! The checks, as pure functions over the workload view.

use prodready_sdk::k8s_openapi::api::core::v1::Probe;
use prodready_sdk::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
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

pub fn check_workload(w: &Workload, s: &Settings, out: &mut Findings) {
    for c in w.all_containers() {
        if c.role == ContainerRole::App && w.is_long_running() {
            probes_required(&c, s, out);
        }
        probes_distinct(&c, out);
        liveness_outlasts_readiness(&c, out);
        probe_port_declared(&c, out);
        probe_timing(&c, s, out);
    }
}

/// The probes a container has, by field name.
fn probes<'a>(c: &ContainerRef<'a>) -> impl Iterator<Item = (&'static str, &'a Probe)> {
    let k = c.container;
    [
        ("livenessProbe", k.liveness_probe.as_ref()),
        ("readinessProbe", k.readiness_probe.as_ref()),
        ("startupProbe", k.startup_probe.as_ref()),
    ]
    .into_iter()
    .filter_map(|(name, p)| p.map(|p| (name, p)))
}

pub fn probes_required(c: &ContainerRef<'_>, s: &Settings, out: &mut Findings) {
    let (readiness, liveness) = match s.require {
        Require::Both => (true, true),
        Require::Readiness => (true, false),
        Require::Liveness => (false, true),
        Require::None => (false, false),
    };
    if readiness && c.container.readiness_probe.is_none() {
        out.report(
            &PROBES_REQUIRED,
            c.field("readinessProbe"),
            format!(
                "container \"{}\" has no readinessProbe: add one that fails while it cannot serve, so the pod leaves Service endpoints instead of receiving traffic it drops",
                c.name()
            ),
        );
    }
    if liveness && c.container.liveness_probe.is_none() {
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

fn port(c: &ContainerRef<'_>, p: &IntOrString) -> Port {
    match p {
        IntOrString::Int(n) => Port::Number(*n),
        IntOrString::String(s) => match s.parse::<i32>() {
            Ok(n) => Port::Number(n),
            Err(_) => c
                .port_by_name(s)
                .map_or_else(|| Port::Name(s.clone()), Port::Number),
        },
    }
}

fn handler(c: &ContainerRef<'_>, p: &Probe) -> Option<Handler> {
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

pub fn probes_distinct(c: &ContainerRef<'_>, out: &mut Findings) {
    let k = c.container;
    let (Some(live), Some(ready)) = (&k.liveness_probe, &k.readiness_probe) else {
        return;
    };
    let (Some(lh), Some(rh)) = (handler(c, live), handler(c, ready)) else {
        return;
    };
    if lh == rh {
        out.report(
            &PROBES_DISTINCT,
            c.field("livenessProbe"),
            format!(
                "container \"{}\": livenessProbe and readinessProbe use the same handler; a pod that is only busy fails both and is restarted. Give liveness its own cheap endpoint",
                c.name()
            ),
        );
    }
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

pub fn liveness_outlasts_readiness(c: &ContainerRef<'_>, out: &mut Findings) {
    let k = c.container;
    let (Some(live), Some(ready)) = (&k.liveness_probe, &k.readiness_probe) else {
        return;
    };
    let (l, r) = (failure_budget(live), failure_budget(ready));
    if l <= r {
        out.report(
            &LIVENESS_OUTLASTS_READINESS,
            c.field("livenessProbe"),
            format!(
                "container \"{}\": livenessProbe gives up after {l}s but readinessProbe after {r}s; a slow pod is restarted before it leaves rotation. Make liveness's initialDelaySeconds + periodSeconds x failureThreshold exceed {r}s",
                c.name()
            ),
        );
    }
}

pub fn probe_port_declared(c: &ContainerRef<'_>, out: &mut Findings) {
    for (field, p) in probes(c) {
        let (sub, port) = if let Some(h) = &p.http_get {
            ("httpGet.port", Some(port(c, &h.port)))
        } else if let Some(t) = &p.tcp_socket {
            ("tcpSocket.port", Some(port(c, &t.port)))
        } else if let Some(g) = &p.grpc {
            ("grpc.port", Some(Port::Number(g.port)))
        } else {
            ("", None)
        };
        let problem = match port {
            Some(Port::Number(n)) if !c.declares_port(n) => {
                format!("probes port {n}, which the container does not declare")
            }
            Some(Port::Name(name)) => format!(
                "probes the port named \"{name}\", which the container does not declare (the probe can never succeed)"
            ),
            _ => continue,
        };
        out.report(
            &PROBE_PORT_DECLARED,
            c.field(&format!("{field}.{sub}")),
            format!(
                "container \"{}\": {field} {problem}; declare it under ports or probe a declared port",
                c.name()
            ),
        );
    }
}

pub fn probe_timing(c: &ContainerRef<'_>, s: &Settings, out: &mut Findings) {
    for (field, p) in probes(c) {
        let timeout = p.timeout_seconds.map_or(DEFAULT_TIMEOUT, i64::from);
        let period = p.period_seconds.map_or(DEFAULT_PERIOD, i64::from);
        if timeout >= period {
            out.report(
                &PROBE_TIMING,
                c.field(&format!("{field}.timeoutSeconds")),
                format!(
                    "container \"{}\": {field} timeoutSeconds ({timeout}) is not below periodSeconds ({period}); probes overlap. Lower timeoutSeconds",
                    c.name()
                ),
            );
        }
    }
    if let Some(live) = &c.container.liveness_probe {
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
    use prodready_sdk::k8s::PodSpec;
    use prodready_sdk::{Workload, WorkloadKind};
    use serde_json::json;

    fn deployment(spec: serde_json::Value) -> Workload {
        Workload {
            kind: WorkloadKind::Deployment,
            pod_labels: Default::default(),
            pod_annotations: Default::default(),
            spec: serde_json::from_value::<PodSpec>(spec).unwrap(),
        }
    }

    fn run(w: &Workload) -> Vec<(&'static str, String)> {
        let mut out = Findings::new();
        check_workload(w, &Settings::default(), &mut out);
        out.items()
            .iter()
            .map(|f| (f.check.id, f.path.clone()))
            .collect()
    }

    fn good_container() -> serde_json::Value {
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
        let w = deployment(json!({"containers": [{"name": "web", "image": "web:1"}]}));
        assert_eq!(
            run(&w),
            vec![
                (
                    "probes-required",
                    "spec.template.spec.containers[0].readinessProbe".to_string()
                ),
                (
                    "probes-required",
                    "spec.template.spec.containers[0].livenessProbe".to_string()
                ),
            ]
        );
    }

    #[test]
    fn jobs_need_no_probes() {
        let mut w = deployment(json!({"containers": [{"name": "job", "image": "j:1"}]}));
        w.kind = WorkloadKind::Job;
        assert_eq!(run(&w), vec![]);
    }

    #[test]
    fn same_endpoint_through_a_named_port_is_the_same_handler() {
        let mut c = good_container();
        c["livenessProbe"] =
            json!({"httpGet": {"path": "/ready", "port": 8080}, "initialDelaySeconds": 10});
        let ids: Vec<_> = run(&deployment(json!({"containers": [c]})))
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(ids, vec!["probes-distinct"]);
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
    fn equal_budgets_fail_liveness_outlasts_readiness() {
        let mut c = good_container();
        c["livenessProbe"]["initialDelaySeconds"] = json!(0);
        c["readinessProbe"]["periodSeconds"] = json!(10);
        assert_eq!(
            run(&deployment(json!({"containers": [c]}))),
            vec![(
                "liveness-outlasts-readiness",
                "spec.template.spec.containers[0].livenessProbe".to_string()
            )]
        );
    }

    #[test]
    fn undeclared_ports_by_number_and_name() {
        let mut c = good_container();
        c["livenessProbe"]["httpGet"]["port"] = json!(9090);
        c["readinessProbe"]["httpGet"]["port"] = json!("metrics");
        assert_eq!(
            run(&deployment(json!({"containers": [c]}))),
            vec![
                (
                    "probe-port-declared",
                    "spec.template.spec.containers[0].livenessProbe.httpGet.port".to_string()
                ),
                (
                    "probe-port-declared",
                    "spec.template.spec.containers[0].readinessProbe.httpGet.port".to_string()
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
        assert_eq!(
            run(&deployment(json!({"containers": [c]}))),
            vec![
                (
                    "probe-timing",
                    "spec.template.spec.containers[0].readinessProbe.timeoutSeconds".to_string()
                ),
                (
                    "probe-timing",
                    "spec.template.spec.containers[0].livenessProbe.failureThreshold".to_string()
                ),
            ]
        );
    }
}

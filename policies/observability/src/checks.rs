//! The checks, as pure functions over the workload view, a Service and a ServiceMonitor.

use std::collections::{BTreeMap, BTreeSet};

use prodready_sdk::k8s::Service;
use prodready_sdk::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use prodready_sdk::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use prodready_sdk::run::Mode;
use prodready_sdk::serving::SERVICE;
use prodready_sdk::{Cx, Findings, Object, Selector, Workload, WorkloadKind};
use serde::Deserialize;

use crate::settings::Settings;
use crate::{CONTAINER_PORTS_NAMED, METRICS_PORT_DECLARED, MONITOR_SELECTS_SERVICE, TELEMETRY_ENV};

pub fn check_workload(object: &Object<'_>, w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    scrape_annotations_workload(object, w, s, out);
    container_ports_named(w, out);
    telemetry_env(w, s, out);
}

// ---- metrics-port-declared -------------------------------------------------------------------

/// What the scrape annotations of one object say.
enum Scrape<'a> {
    /// No scrape annotation, or `"false"`.
    Off,
    /// `"true"`, with the port annotation if any.
    On { port: Option<&'a str> },
}

/// Reads `<prefix>/scrape` and `<prefix>/port`; warns about a scrape value that no scrape
/// config reads as true or false.
fn scrape<'a>(
    annotations: &'a BTreeMap<String, String>,
    s: &Settings,
    path: &str,
    whose: &str,
    out: &mut Findings,
) -> Scrape<'a> {
    let key = format!("{}/scrape", s.annotation_prefix);
    let Some(value) = annotations.get(&key) else {
        return Scrape::Off;
    };
    match value.as_str() {
        "true" => Scrape::On {
            port: annotations
                .get(&format!("{}/port", s.annotation_prefix))
                .map(String::as_str),
        },
        "false" => Scrape::Off,
        other => {
            out.warn(
                &METRICS_PORT_DECLARED,
                path.to_string(),
                format!(
                    "{whose} annotation {key} is {other:?}: scrape configs keep targets whose annotation matches exactly \"true\" (the relabelling regex is case-sensitive), so this one is not scraped. Write \"true\" or \"false\""
                ),
            );
            Scrape::Off
        }
    }
}

/// A port annotation's number, when it is one Kubernetes and Prometheus accept (1-65535,
/// digits only).
pub fn port_number(text: &str) -> Option<i32> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i32>().ok().filter(|n| (1..=65535).contains(n))
}

fn invalid_port(key: &str, text: &str, path: String, whose: &str, out: &mut Findings) {
    out.report(
        &METRICS_PORT_DECLARED,
        path,
        format!(
            "{whose} annotation {key} is {text:?}, which is not a port number (1-65535): the scrape config rewrites the target's address with it, so the target is dropped or scraped at a wrong address. Set it to the metrics port's number, e.g. \"9090\""
        ),
    );
}

/// Scrape annotations of a workload: on the pod template, valid, and naming a declared port.
pub fn scrape_annotations_workload(
    object: &Object<'_>,
    w: &Workload<'_>,
    s: &Settings,
    out: &mut Findings,
) {
    let scrape_key = format!("{}/scrape", s.annotation_prefix);
    let port_key = format!("{}/port", s.annotation_prefix);
    // On a controller's own metadata, the annotations reach no pod.
    if w.kind != WorkloadKind::Pod
        && object.meta.annotations.get(&scrape_key).map(String::as_str) == Some("true")
        && !w.pod_annotations.contains_key(&scrape_key)
    {
        out.warn(
            &METRICS_PORT_DECLARED,
            "metadata.annotations".to_string(),
            format!(
                "{} carries {scrape_key}: \"true\" on its own metadata, where Prometheus' pod discovery never sees it (it reads the pods' annotations). Move the {} annotations to {}",
                w.kind.as_str(),
                s.annotation_prefix,
                w.pod_metadata_path("annotations")
            ),
        );
    }
    let path = w.pod_metadata_path("annotations");
    let Scrape::On { port } = scrape(&w.pod_annotations, s, &path, "the pod template's", out)
    else {
        return;
    };
    let declared: Vec<(String, i32)> = w
        .all_containers()
        .filter(|c| c.is_long_running())
        .flat_map(|c| {
            c.ports()
                .iter()
                .map(move |p| (c.name().to_string(), p.container_port))
        })
        .collect();
    match port {
        None => {
            if declared.len() > 1 {
                out.warn(
                    &METRICS_PORT_DECLARED,
                    path,
                    format!(
                        "{scrape_key} is \"true\" without {port_key}: Prometheus' pod discovery then scrapes every declared port ({}), and all but the metrics port fail. Set {port_key} to the metrics port",
                        join_ports(&declared)
                    ),
                );
            } else if declared.is_empty() {
                out.warn(
                    &METRICS_PORT_DECLARED,
                    path,
                    format!(
                        "{scrape_key} is \"true\" but the pod declares no port and has no {port_key}: Prometheus then scrapes the pod's address on port 80. Declare the metrics port (named, e.g. metrics) and set {port_key} to it"
                    ),
                );
            }
        }
        Some(text) => match port_number(text) {
            None => invalid_port(&port_key, text, path, "the pod template's", out),
            Some(n) if !declared.iter().any(|(_, p)| *p == n) => out.warn(
                &METRICS_PORT_DECLARED,
                path,
                format!(
                    "{port_key} is \"{n}\", which no container of the pod declares{}: annotation-based scraping works, but PodMonitors, Services and NetworkPolicies refer to ports by name, which only declared ports have. Declare containerPort {n} (named, e.g. metrics) on the container that serves metrics",
                    if declared.is_empty() {
                        String::new()
                    } else {
                        format!(" (declared: {})", join_ports(&declared))
                    }
                ),
            ),
            Some(_) => {}
        },
    }
}

fn join_ports(ports: &[(String, i32)]) -> String {
    ports
        .iter()
        .map(|(c, p)| format!("{p} on \"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Scrape annotations of a Service (the endpoints role): a valid port the Service exposes.
/// The annotation replaces the port of each endpoint (a pod address), so a targetPort number
/// counts; a named targetPort may resolve to it, so then it is not judged.
pub fn scrape_annotations_service(
    object: &Object<'_>,
    svc: &Service,
    s: &Settings,
    out: &mut Findings,
) {
    let port_key = format!("{}/port", s.annotation_prefix);
    let whose = format!("Service \"{}\"'s", object.reference.name);
    let path = "metadata.annotations";
    let Scrape::On { port } = scrape(&object.meta.annotations, s, path, &whose, out) else {
        return;
    };
    let Some(text) = port else {
        return;
    };
    let Some(n) = port_number(text) else {
        invalid_port(&port_key, text, path.to_string(), &whose, out);
        return;
    };
    let ports = svc
        .spec
        .as_ref()
        .and_then(|s| s.ports.as_deref())
        .unwrap_or_default();
    let named_target = ports
        .iter()
        .any(|p| matches!(p.target_port, Some(IntOrString::String(_))));
    let exposed = ports.iter().any(|p| {
        p.port == n
            || match &p.target_port {
                Some(IntOrString::Int(t)) => *t == n,
                Some(IntOrString::String(t)) => t.parse::<i32>().ok() == Some(n),
                None => false,
            }
    });
    if !exposed && !named_target {
        let listed: Vec<String> = ports.iter().map(|p| p.port.to_string()).collect();
        out.warn(
            &METRICS_PORT_DECLARED,
            path.to_string(),
            format!(
                "{whose} {port_key} is \"{n}\", which is neither a port nor a targetPort of the Service (ports: {}): the endpoints are scraped on a port the Service does not document, which ServiceMonitors cannot select. Add the metrics port to spec.ports, with a name (e.g. metrics)",
                if listed.is_empty() {
                    "none".to_string()
                } else {
                    listed.join(", ")
                }
            ),
        );
    }
}

// ---- container-ports-named -------------------------------------------------------------------

/// Why a port name is not an IANA service name as Kubernetes validates it
/// (`validation.IsValidPortName`), or `None` when it is one.
pub fn invalid_port_name(name: &str) -> Option<&'static str> {
    if name.len() > 15 {
        return Some("is longer than 15 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("may hold only lowercase letters, digits and '-'");
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        return Some("must contain at least one letter");
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Some("may not begin or end with '-' or hold \"--\"");
    }
    None
}

/// Ports of long-running containers have valid names, unique in the pod (the first port with
/// a name wins when Services and probes look it up).
pub fn container_ports_named(w: &Workload<'_>, out: &mut Findings) {
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for c in w.all_containers() {
        if !c.is_long_running() {
            continue;
        }
        let mut unnamed = Vec::new();
        let mut first_unnamed = None;
        for (i, p) in c.ports().iter().enumerate() {
            let path = c.field(&format!("ports[{i}]"));
            let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) else {
                unnamed.push(p.container_port.to_string());
                first_unnamed.get_or_insert(path);
                continue;
            };
            if let Some(why) = invalid_port_name(name) {
                out.report(
                    &CONTAINER_PORTS_NAMED,
                    format!("{path}.name"),
                    format!(
                        "container \"{}\": port name \"{name}\" {why}; the API server refuses it (an IANA service name: at most 15 lowercase letters, digits and '-'). Rename it, e.g. http or metrics",
                        c.name()
                    ),
                );
                continue;
            }
            match seen.get(name) {
                Some(first) => out.report(
                    &CONTAINER_PORTS_NAMED,
                    format!("{path}.name"),
                    format!(
                        "container \"{}\": port name \"{name}\" is already used by {first}; Services, probes and monitors that select the port by name all get the first one. Give this port its own name",
                        c.name()
                    ),
                ),
                None => {
                    seen.insert(name, path);
                }
            }
        }
        if let Some(path) = first_unnamed {
            let (what, verb) = if unnamed.len() == 1 {
                (format!("port {}", unnamed.join("")), "has")
            } else {
                (format!("ports {}", unnamed.join(", ")), "have")
            };
            out.report(
                &CONTAINER_PORTS_NAMED,
                path,
                format!(
                    "container \"{}\": {what} {verb} no name; ServiceMonitors and PodMonitors select ports by name, and a Service's targetPort by name survives a port renumbering. Name each port, e.g. http, grpc or metrics",
                    c.name()
                ),
            );
        }
    }
}

// ---- telemetry-env ---------------------------------------------------------------------------

/// App containers define the required variables. A container with `envFrom` may get them
/// from its sources, which this rule does not read: it is not judged.
pub fn telemetry_env(w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    if s.required_env.is_empty() {
        return;
    }
    for c in w.containers() {
        if !c.env_from().is_empty() {
            continue;
        }
        let names: BTreeSet<&str> = c.env().iter().map(|e| e.name.as_str()).collect();
        let missing: Vec<String> = s
            .required()
            .filter(|alternatives| !alternatives.iter().any(|a| names.contains(a)))
            .map(|alternatives| alternatives.join(" or "))
            .collect();
        if missing.is_empty() {
            continue;
        }
        out.report(
            &TELEMETRY_ENV,
            c.field("env"),
            format!(
                "container \"{}\" does not define {}, which the platform requires for telemetry (requiredEnv): without it the container's metrics, traces or logs do not reach the collector. Add it to env",
                c.name(),
                missing.join(", ")
            ),
        );
    }
}

// ---- monitor-selects-service -----------------------------------------------------------------

/// A ServiceMonitor, as far as the check reads it.
#[derive(Debug, Default, Deserialize)]
pub struct ServiceMonitor {
    #[serde(default)]
    pub spec: Option<MonitorSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorSpec {
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    #[serde(default)]
    pub namespace_selector: Option<NamespaceSelector>,
    #[serde(default)]
    pub endpoints: Option<Vec<Endpoint>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceSelector {
    #[serde(default)]
    pub any: Option<bool>,
    #[serde(default)]
    pub match_names: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    #[serde(default)]
    pub port: Option<String>,
    #[serde(default)]
    pub target_port: Option<IntOrString>,
}

/// The namespaces a ServiceMonitor selects Services from: `None` is every namespace.
fn monitor_namespaces(spec: &MonitorSpec, own: Option<&str>) -> Vec<Option<String>> {
    let ns = spec.namespace_selector.as_ref();
    if ns.and_then(|n| n.any) == Some(true) {
        return vec![None];
    }
    match ns.and_then(|n| n.match_names.as_ref()) {
        Some(names) if !names.is_empty() => names.iter().map(|n| Some(n.clone())).collect(),
        _ => vec![own.map(str::to_string)],
    }
}

fn describe(namespaces: &[Option<String>]) -> String {
    if namespaces.iter().any(Option::is_none) {
        return "any namespace".to_string();
    }
    let names: Vec<&str> = namespaces.iter().flatten().map(String::as_str).collect();
    if names.len() == 1 {
        format!("namespace {}", names.join(""))
    } else {
        format!("namespaces {}", names.join(", "))
    }
}

/// A Service port: its name (if any) and number.
type NamedPort<'a> = (Option<&'a str>, i32);

/// The namespaces of the context's Services, sorted, computed once per context (candidate for
/// the SDK: `labelled_selected_by` across every namespace).
struct ServiceNamespaces(Vec<String>);

fn service_namespaces(context: &prodready_sdk::Context) -> &ServiceNamespaces {
    context.memo(|ctx| {
        let set: BTreeSet<String> = ctx
            .of_kind(SERVICE.group, SERVICE.kind)
            .filter_map(|o| o.namespace().map(str::to_string))
            .collect();
        ServiceNamespaces(set.into_iter().collect())
    })
}

pub fn monitor_selects_service<S>(
    object: &Object<'_>,
    monitor: &ServiceMonitor,
    cx: &Cx<'_, S>,
    out: &mut Findings,
) {
    if !cx.has_context() {
        out.skip(
            &MONITOR_SELECTS_SERVICE,
            "no context was given: the Services it selects are not visible".to_string(),
        );
        return;
    }
    let Some(spec) = monitor.spec.as_ref() else {
        return;
    };
    let own = object.namespace();
    let namespaces = monitor_namespaces(spec, own);
    if cx.mode == Mode::Admission && namespaces.iter().any(|n| n.as_deref() != own) {
        out.skip(
            &MONITOR_SELECTS_SERVICE,
            format!(
                "it selects Services from {}, and at admission only its own namespace's Services are listed",
                describe(&namespaces)
            ),
        );
        return;
    }
    let with_services = service_namespaces(cx.context);
    let any_service = namespaces.iter().any(|ns| match ns {
        Some(ns) => with_services.0.binary_search(ns).is_ok(),
        None => !with_services.0.is_empty(),
    });
    if !any_service {
        out.skip(
            &MONITOR_SELECTS_SERVICE,
            format!(
                "the set holds no Service of {}: the Services it selects are managed elsewhere",
                describe(&namespaces)
            ),
        );
        return;
    }
    let selector = Selector::from_label_selector(spec.selector.as_ref());
    let mut selected = Vec::new();
    for ns in &namespaces {
        match ns {
            Some(ns) => selected.extend(cx.context.labelled_selected_by(
                SERVICE.group,
                SERVICE.kind,
                Some(ns),
                &selector,
            )),
            // `any: true`. The SDK's label index answers a `None` namespace with
            // cluster-scoped objects only, so ask each namespace that has Services.
            None => {
                for ns in &service_namespaces(cx.context).0 {
                    selected.extend(cx.context.labelled_selected_by(
                        SERVICE.group,
                        SERVICE.kind,
                        Some(ns),
                        &selector,
                    ));
                }
            }
        }
    }
    if selected.is_empty() {
        let why = if spec.selector.is_none() {
            "has no spec.selector, so it selects nothing".to_string()
        } else {
            format!(
                "selects no Service of {} ({selector})",
                describe(&namespaces)
            )
        };
        out.report(
            &MONITOR_SELECTS_SERVICE,
            "spec.selector".to_string(),
            format!(
                "ServiceMonitor {} {why}: Prometheus gets no target from it. Make spec.selector match the metrics Service's metadata.labels{}",
                object.reference.name,
                if spec.namespace_selector.is_none() {
                    " (and add spec.namespaceSelector if the Service is in another namespace)"
                } else {
                    " and spec.namespaceSelector its namespace"
                }
            ),
        );
        return;
    }
    let services: Vec<(&str, Vec<NamedPort<'_>>)> = selected
        .iter()
        .map(|o| {
            let ports = o
                .get::<Service>()
                .and_then(|s| s.spec.as_ref()?.ports.as_ref())
                .map(|ports| {
                    ports
                        .iter()
                        .map(|p| (p.name.as_deref().filter(|n| !n.is_empty()), p.port))
                        .collect()
                })
                .unwrap_or_default();
            (o.name(), ports)
        })
        .collect();
    for (i, e) in spec.endpoints.iter().flatten().enumerate() {
        let Some(port) = e.port.as_deref().filter(|p| !p.is_empty()) else {
            continue;
        };
        if services
            .iter()
            .any(|(_, ports)| ports.iter().any(|(n, _)| *n == Some(port)))
        {
            continue;
        }
        let names: BTreeSet<&str> = services
            .iter()
            .flat_map(|(_, ports)| ports.iter().filter_map(|(n, _)| *n))
            .collect();
        let by_number = port.parse::<i32>().ok().and_then(|n| {
            services.iter().find_map(|(svc, ports)| {
                ports
                    .iter()
                    .find(|(_, p)| *p == n)
                    .map(|(name, _)| (*svc, *name))
            })
        });
        let hint = match by_number {
            Some((svc, Some(name))) => format!(
                "endpoints[].port is the Service port's name, not its number: Service \"{svc}\" names port {port} \"{name}\"; write port: {name}"
            ),
            Some((svc, None)) => format!(
                "endpoints[].port is the Service port's name, not its number, and Service \"{svc}\"'s port {port} has no name: name it and use that name"
            ),
            None if names.is_empty() => {
                "the selected Services' ports have no names: name the metrics port and use that name".to_string()
            }
            None => format!(
                "their named ports are {}; use one of them, or add the metrics port to the Service",
                names.into_iter().collect::<Vec<_>>().join(", ")
            ),
        };
        let svc_names: Vec<&str> = services.iter().map(|(n, _)| *n).collect();
        out.report(
            &MONITOR_SELECTS_SERVICE,
            format!("spec.endpoints[{i}].port"),
            format!(
                "ServiceMonitor {} scrapes port \"{port}\", which no selected Service (\"{}\") has, so this endpoint yields no target: {hint}",
                object.reference.name,
                svc_names.join("\", \"")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    use crate::Observability;

    fn ids(v: &prodready_sdk::Verdict) -> Vec<&str> {
        testing::ids(v)
    }

    fn deployment(annotations: Value, spec: Value) -> Value {
        let mut d = testing::object(WorkloadKind::Deployment, "web", json!({"app": "web"}), spec);
        d["spec"]["template"]["metadata"]["annotations"] = annotations;
        d
    }

    fn web(ports: Value) -> Value {
        json!({"containers": [{"name": "web", "image": "r/web:1", "ports": ports}]})
    }

    fn run(object: &Value) -> prodready_sdk::Verdict {
        testing::evaluate::<Observability>(object, &Value::Null)
    }

    #[test]
    fn a_declared_valid_port_passes() {
        let d = deployment(
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}),
            web(
                json!([{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}]),
            ),
        );
        assert_eq!(ids(&run(&d)), Vec::<&str>::new());
    }

    #[test]
    fn an_invalid_port_is_an_error_and_an_undeclared_one_a_warning() {
        for bad in ["metrics", "0", "70000", "90 90", ""] {
            let d = deployment(
                json!({"prometheus.io/scrape": "true", "prometheus.io/port": bad}),
                web(json!([{"name": "metrics", "containerPort": 9090}])),
            );
            let v = run(&d);
            assert_eq!(ids(&v), vec!["metrics-port-declared"], "{bad}");
            assert!(!v.allowed, "{bad}");
        }
        let d = deployment(
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9102"}),
            web(json!([{"name": "http", "containerPort": 8080}])),
        );
        let v = run(&d);
        assert_eq!(ids(&v), vec!["metrics-port-declared"]);
        assert!(v.allowed);
        assert_eq!(v.violations[0].path, "spec.template.metadata.annotations");
    }

    #[test]
    fn scrape_without_port_warns_only_when_ambiguous() {
        let one = deployment(
            json!({"prometheus.io/scrape": "true"}),
            web(json!([{"name": "metrics", "containerPort": 9090}])),
        );
        assert_eq!(ids(&run(&one)), Vec::<&str>::new());
        let two = deployment(
            json!({"prometheus.io/scrape": "true"}),
            web(
                json!([{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}]),
            ),
        );
        let v = run(&two);
        assert_eq!(ids(&v), vec!["metrics-port-declared"]);
        assert!(v.allowed);
        let off = deployment(
            json!({"prometheus.io/scrape": "false", "prometheus.io/port": "nope"}),
            web(json!([{"name": "http", "containerPort": 8080}])),
        );
        assert_eq!(ids(&run(&off)), Vec::<&str>::new());
    }

    #[test]
    fn annotations_on_the_controller_and_odd_values_warn() {
        let mut d = deployment(
            json!({}),
            web(json!([{"name": "metrics", "containerPort": 9090}])),
        );
        d["metadata"]["annotations"] =
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9090"});
        let v = run(&d);
        assert_eq!(ids(&v), vec!["metrics-port-declared"]);
        assert_eq!(v.violations[0].path, "metadata.annotations");
        let d = deployment(
            json!({"prometheus.io/scrape": "True"}),
            web(json!([{"name": "metrics", "containerPort": 9090}])),
        );
        let v = run(&d);
        assert_eq!(ids(&v), vec!["metrics-port-declared"]);
        assert!(v.allowed);
    }

    #[test]
    fn service_annotations() {
        let svc = |ann: Value, ports: Value| {
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "shop", "annotations": ann},
                "spec": {"selector": {"app": "web"}, "ports": ports}})
        };
        let ok = svc(
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}),
            json!([{"name": "metrics", "port": 80, "targetPort": 9090}]),
        );
        assert_eq!(ids(&run(&ok)), Vec::<&str>::new());
        let named = svc(
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}),
            json!([{"name": "http", "port": 80, "targetPort": "http"}]),
        );
        assert_eq!(ids(&run(&named)), Vec::<&str>::new());
        let undeclared = svc(
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "9090"}),
            json!([{"name": "http", "port": 80, "targetPort": 8080}]),
        );
        let v = run(&undeclared);
        assert_eq!(ids(&v), vec!["metrics-port-declared"]);
        assert!(v.allowed);
        let bad = svc(
            json!({"prometheus.io/scrape": "true", "prometheus.io/port": "http"}),
            json!([{"name": "http", "port": 80}]),
        );
        assert!(!run(&bad).allowed);
    }

    #[test]
    fn port_names() {
        for ok in ["http", "metrics", "h2c", "grpc-web", "a1", "http-metrics"] {
            assert_eq!(invalid_port_name(ok), None, "{ok}");
        }
        for bad in [
            "HTTP",
            "http_metrics",
            "1234",
            "-http",
            "http-",
            "a--b",
            "much-too-long-name",
        ] {
            assert!(invalid_port_name(bad).is_some(), "{bad}");
        }
        let d = testing::object(
            WorkloadKind::Deployment,
            "web",
            json!({"app": "web"}),
            json!({
                "initContainers": [
                    {"name": "proxy", "image": "p:1", "restartPolicy": "Always",
                     "ports": [{"name": "http", "containerPort": 8443}]},
                    {"name": "setup", "image": "s:1", "ports": [{"containerPort": 1234}]}
                ],
                "containers": [{"name": "web", "image": "w:1", "ports": [
                    {"name": "http", "containerPort": 8080},
                    {"containerPort": 9090}, {"containerPort": 9091},
                    {"name": "Bad_Name", "containerPort": 7070}
                ]}]
            }),
        );
        let v = run(&d);
        let paths: Vec<&str> = v.violations.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "spec.template.spec.containers[0].ports[0].name",
                "spec.template.spec.containers[0].ports[3].name",
                "spec.template.spec.containers[0].ports[1]",
            ]
        );
        assert!(
            v.violations[2]
                .message
                .contains("ports 9090, 9091 have no name")
        );
    }

    #[test]
    fn telemetry_env_with_alternatives_and_env_from() {
        let s = json!({"requiredEnv": ["OTEL_EXPORTER_OTLP_ENDPOINT|OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SERVICE_NAME"]});
        let d = |env: Value, env_from: Value| {
            testing::object(
                WorkloadKind::Deployment,
                "web",
                json!({"app": "web"}),
                json!({"containers": [{"name": "web", "image": "w:1", "env": env, "envFrom": env_from}]}),
            )
        };
        let ok = d(
            json!([{"name": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "value": "http://c:4317"},
                   {"name": "OTEL_SERVICE_NAME", "value": "web"}]),
            Value::Null,
        );
        assert_eq!(
            ids(&testing::evaluate::<Observability>(&ok, &s)),
            Vec::<&str>::new()
        );
        let missing = d(
            json!([{"name": "OTEL_SERVICE_NAME", "value": "web"}]),
            Value::Null,
        );
        let v = testing::evaluate::<Observability>(&missing, &s);
        assert_eq!(ids(&v), vec!["telemetry-env"]);
        assert!(
            v.violations[0]
                .message
                .contains("OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        );
        let from = d(Value::Null, json!([{"configMapRef": {"name": "otel"}}]));
        assert_eq!(
            ids(&testing::evaluate::<Observability>(&from, &s)),
            Vec::<&str>::new()
        );
        // Off by default.
        assert_eq!(ids(&run(&missing)), Vec::<&str>::new());
    }

    fn service(name: &str, ns: &str, labels: Value, ports: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"selector": {"app": name}, "ports": ports}})
    }

    fn monitor(ns_selector: Value, selector: Value, endpoints: Value) -> Value {
        let mut m = json!({"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"selector": selector, "endpoints": endpoints}});
        if !ns_selector.is_null() {
            m["spec"]["namespaceSelector"] = ns_selector;
        }
        m
    }

    #[test]
    fn monitors_select_services_and_port_names() {
        let ctx = vec![
            service(
                "web",
                "shop",
                json!({"app": "web"}),
                json!([{"name": "http", "port": 80}, {"name": "metrics", "port": 9090}]),
            ),
            service("db", "data", json!({"app": "db"}), json!([{"port": 9187}])),
        ];
        let eval = |m: &Value| testing::evaluate_in::<Observability>(m, &Value::Null, &ctx);
        let ok = monitor(
            Value::Null,
            json!({"matchLabels": {"app": "web"}}),
            json!([{"port": "metrics"}]),
        );
        assert_eq!(ids(&eval(&ok)), Vec::<&str>::new());
        let typo = monitor(
            Value::Null,
            json!({"matchLabels": {"app": "webb"}}),
            json!([{"port": "metrics"}]),
        );
        assert_eq!(ids(&eval(&typo)), vec!["monitor-selects-service"]);
        let wrong_port = monitor(
            Value::Null,
            json!({"matchLabels": {"app": "web"}}),
            json!([{"port": "9090"}, {"targetPort": 9090}]),
        );
        let v = eval(&wrong_port);
        assert_eq!(ids(&v), vec!["monitor-selects-service"]);
        assert_eq!(v.violations[0].path, "spec.endpoints[0].port");
        assert!(
            v.violations[0].message.contains("write port: metrics"),
            "{}",
            v.violations[0].message
        );
        // Another namespace: not selected without namespaceSelector, selected with it.
        let db = monitor(
            Value::Null,
            json!({"matchLabels": {"app": "db"}}),
            json!([{"targetPort": 9187}]),
        );
        assert_eq!(ids(&eval(&db)), vec!["monitor-selects-service"]);
        let db = monitor(
            json!({"matchNames": ["data"]}),
            json!({"matchLabels": {"app": "db"}}),
            json!([{"port": "metrics"}]),
        );
        let v = eval(&db);
        assert_eq!(ids(&v), vec!["monitor-selects-service"]);
        assert!(
            v.violations[0].message.contains("ports have no names"),
            "{}",
            v.violations[0].message
        );
        let any = monitor(
            json!({"any": true}),
            json!({"matchLabels": {"app": "db"}}),
            json!([{"targetPort": 9187}]),
        );
        assert_eq!(ids(&eval(&any)), Vec::<&str>::new());
        // No Service in the namespaces it selects from: skipped.
        let elsewhere = monitor(
            json!({"matchNames": ["ops"]}),
            json!({"matchLabels": {"app": "x"}}),
            json!([]),
        );
        let v = eval(&elsewhere);
        assert_eq!(ids(&v), Vec::<&str>::new());
        assert_eq!(v.skipped_checks.len(), 1);
    }

    #[test]
    fn at_admission_other_namespaces_are_skipped() {
        let ctx = vec![service(
            "web",
            "shop",
            json!({"app": "web"}),
            json!([{"name": "metrics", "port": 9090}]),
        )];
        let m = monitor(
            json!({"any": true}),
            json!({"matchLabels": {"app": "nope"}}),
            json!([]),
        );
        let v =
            testing::evaluate_with::<Observability>(&m, &Value::Null, Some(&ctx), Mode::Admission);
        assert!(v.violations.is_empty());
        assert_eq!(v.skipped_checks.len(), 1);
        let v =
            testing::evaluate_with::<Observability>(&m, &Value::Null, Some(&ctx), Mode::Manifest);
        assert_eq!(ids(&v), vec!["monitor-selects-service"]);
    }
}

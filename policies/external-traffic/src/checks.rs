//! The checks: pure functions over the Ingress's and Service's slim views and the context.

use std::collections::BTreeMap;

use prodready_sdk::serving::SERVICE;
use prodready_sdk::{Cx, Findings, Mode, Object};
use serde::Deserialize;
use serde_json::Value;

use crate::ingress::{
    self, CANARY_ANNOTATION, CLASS_ANNOTATION, IngressSpec, IngressView, Match, PortRef,
};
use crate::settings::Settings;
use crate::{
    INGRESS_BACKEND_EXISTS, INGRESS_CLASS_CHECK, INGRESS_HOST, INGRESS_TLS, INGRESS_UNIQUE,
    SERVICE_EXPOSURE,
};

/// A Service, as far as the checks read it; lenient, so a malformed port is not a parse
/// failure of the whole Service here.
#[derive(Debug, Default, Deserialize)]
pub struct ServiceView {
    #[serde(default)]
    pub spec: Option<ServiceSpecView>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpecView {
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default, rename = "externalIPs")]
    pub external_ips: Option<Vec<String>>,
    #[serde(default)]
    pub ports: Option<Vec<ServicePortView>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePortView {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub port: Option<i64>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub app_protocol: Option<String>,
    #[serde(default)]
    pub target_port: Option<Value>,
}

impl ServiceView {
    fn type_(&self) -> &str {
        self.spec
            .as_ref()
            .and_then(|s| s.type_.as_deref())
            .unwrap_or("ClusterIP")
    }

    fn ports(&self) -> &[ServicePortView] {
        self.spec
            .as_ref()
            .and_then(|s| s.ports.as_deref())
            .unwrap_or_default()
    }
}

impl ServicePortView {
    fn is_udp_or_sctp(&self) -> bool {
        matches!(self.protocol.as_deref(), Some("UDP") | Some("SCTP"))
    }

    /// Whether the port carries HTTP(S), which an Ingress controller can carry: its
    /// appProtocol says so, its name does (`http`, `https-web`), or it is one of the ports HTTP
    /// is served on (80, 443, 8080, 8443) and its name does not say otherwise (`tcp-*`,
    /// `tls-*`, `grpc-*`).
    fn is_http(&self) -> bool {
        if self.is_udp_or_sctp() {
            return false;
        }
        let app = self.app_protocol.as_deref().unwrap_or_default();
        let app = app.strip_prefix("kubernetes.io/").unwrap_or(app);
        if ["http", "https", "http2", "h2c", "ws", "wss"]
            .iter()
            .any(|p| app.eq_ignore_ascii_case(p))
        {
            return true;
        }
        let name = self
            .name
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let named = |prefixes: &[&str]| {
            prefixes
                .iter()
                .any(|p| name == *p || name.starts_with(&format!("{p}-")))
        };
        if named(&["http", "https", "http2", "h2c"]) {
            return true;
        }
        // Istio's port-naming convention: `tcp-*` and `tls-*` say the port is not HTTP to the
        // proxy (TLS passed through), whatever its number; gRPC often runs mTLS end to end,
        // which an Ingress would terminate.
        if named(&["tcp", "tls", "grpc"]) {
            return false;
        }
        matches!(self.port, Some(80 | 443 | 8080 | 8443))
    }

    fn describe(&self) -> String {
        let port = self.port.map_or("?".to_string(), |p| p.to_string());
        match &self.name {
            Some(n) if !n.is_empty() => format!("{port} ({n})"),
            _ => port,
        }
    }
}

/// Annotations that make a LoadBalancer Service internal to the cloud network.
const INTERNAL_LB: &[(&str, &[&str])] = &[
    (
        "service.beta.kubernetes.io/aws-load-balancer-internal",
        &["true", "0.0.0.0/0"],
    ),
    (
        "service.beta.kubernetes.io/aws-load-balancer-scheme",
        &["internal"],
    ),
    ("networking.gke.io/load-balancer-type", &["Internal"]),
    ("cloud.google.com/load-balancer-type", &["Internal"]),
    (
        "service.beta.kubernetes.io/azure-load-balancer-internal",
        &["true"],
    ),
    (
        "service.beta.kubernetes.io/openstack-internal-load-balancer",
        &["true"],
    ),
    (
        "service.beta.kubernetes.io/oci-load-balancer-internal",
        &["true"],
    ),
];

fn is_internal_lb(annotations: &BTreeMap<String, String>) -> bool {
    INTERNAL_LB.iter().any(|(k, values)| {
        annotations
            .get(*k)
            .is_some_and(|v| values.iter().any(|x| v.eq_ignore_ascii_case(x)))
    })
}

/// NodePort and LoadBalancer Services carrying HTTP only where the platform allows them;
/// no externalIPs (CVE-2020-8554).
pub fn service_exposure(object: &Object<'_>, svc: &ServiceView, s: &Settings, out: &mut Findings) {
    let ns = object.namespace().unwrap_or("default");
    let external_ips = svc
        .spec
        .as_ref()
        .and_then(|s| s.external_ips.as_deref())
        .unwrap_or_default();
    if !external_ips.is_empty() && !s.external_ips_namespaces.iter().any(|n| n == ns) {
        out.report(
            &SERVICE_EXPOSURE,
            "spec.externalIPs".into(),
            format!(
                "Service sets externalIPs ({}): nodes accept traffic for those IPs on its ports, and since any Service author can claim any IP, this is how CVE-2020-8554 intercepts other workloads' traffic. Remove spec.externalIPs and publish through an Ingress or a LoadBalancer in an allowed namespace (externalIPsNamespaces)",
                external_ips.join(", ")
            ),
        );
    }
    let kind = svc.type_();
    if kind != "NodePort" && kind != "LoadBalancer" {
        return;
    }
    let allowed_ns = s.exposure_namespaces.iter().any(|n| n == ns);
    let allowed_label = s
        .exposure_labels
        .iter()
        .any(|(k, v)| object.meta.labels.get(k) == Some(v));
    if allowed_ns || allowed_label {
        return;
    }
    let ports = svc.ports();
    let how = if kind == "NodePort" {
        "opens its ports on every node"
    } else {
        "gets its own load balancer (and NodePorts on every node)"
    };
    let fix = "Make it type ClusterIP and publish it through an Ingress, or, if this is an ingress controller or gateway, run it in one of exposureNamespaces or give it one of exposureLabels";
    if kind == "LoadBalancer" && is_internal_lb(&object.meta.annotations) {
        out.warn(
            &SERVICE_EXPOSURE,
            "spec.type".into(),
            format!(
                "Service is an internal LoadBalancer in namespace {ns}: it is reachable from the private network beside the Ingress controller, without its TLS, routing and access logs. {fix}"
            ),
        );
        return;
    }
    let http: Vec<String> = ports
        .iter()
        .filter(|p| p.is_http())
        .map(ServicePortView::describe)
        .collect();
    if !http.is_empty() {
        out.report(
            &SERVICE_EXPOSURE,
            "spec.type".into(),
            format!(
                "Service is type {kind} in namespace {ns} and carries HTTP on port {}: it {how}, so L7 traffic bypasses the Ingress controller (its TLS, host routing and access logs). {fix}",
                http.join(", ")
            ),
        );
        return;
    }
    if !ports.is_empty() && ports.iter().all(ServicePortView::is_udp_or_sctp) {
        // UDP and SCTP cannot go through an Ingress: an L4 door is the only way in.
        return;
    }
    let tcp: Vec<String> = ports.iter().map(ServicePortView::describe).collect();
    out.warn(
        &SERVICE_EXPOSURE,
        "spec.type".into(),
        format!(
            "Service is type {kind} in namespace {ns} (port {}): it {how}. If this is HTTP, publish it through an Ingress; if it is L4 traffic an Ingress cannot carry, allow it with exposureNamespaces or exposureLabels",
            if tcp.is_empty() { "none".to_string() } else { tcp.join(", ") }
        ),
    );
}

pub fn check_ingress(
    object: &Object<'_>,
    ing: &IngressView,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let s = cx.settings;
    let spec = ing.spec.as_ref();
    ingress_class(object, spec, s, out);
    let Some(spec) = spec else {
        return;
    };
    ingress_host(spec, s, out);
    ingress_tls(object, spec, s, out);
    ingress_backend_exists(object, spec, cx, out);
    ingress_unique(object, spec, cx, out);
}

pub fn ingress_host(spec: &IngressSpec, s: &Settings, out: &mut Findings) {
    for (i, r) in spec.rules().iter().enumerate() {
        match r.host.as_deref().filter(|h| !h.is_empty()) {
            // The docs' own minimal Ingress has a host-less rule, and controllers that give
            // every Ingress its own load balancer (ALB, GCE) make it the usual form: a warning.
            None => out.warn(
                &INGRESS_HOST,
                format!("spec.rules[{i}]"),
                format!(
                    "spec.rules[{i}] names no host: on a shared controller it answers for every host name that reaches it (the node and load-balancer addresses included) and its paths can collide with any other Ingress's. Set spec.rules[{i}].host to the name the service is published under"
                ),
            ),
            Some(h) if h.starts_with('*') && !s.allow_wildcard_hosts => out.report(
                &INGRESS_HOST,
                format!("spec.rules[{i}].host"),
                format!(
                    "spec.rules[{i}].host is the wildcard {h:?}: every subdomain, registered or not, reaches this backend. Name each host, or set allowWildcardHosts if the platform means it"
                ),
            ),
            Some(_) => {}
        }
    }
}

pub fn ingress_tls(object: &Object<'_>, spec: &IngressSpec, s: &Settings, out: &mut Findings) {
    let ann = &object.meta.annotations;
    if s.tls_annotations.iter().any(|k| ann.contains_key(k)) {
        return;
    }
    // AWS Load Balancer Controller: an HTTPS listener finds its ACM certificate by host.
    if ann
        .get("alb.ingress.kubernetes.io/listen-ports")
        .is_some_and(|v| v.contains("HTTPS"))
    {
        return;
    }
    let tls = spec.tls();
    // An entry without hosts takes the controller's wildcard/default certificate for every
    // host (the API's documented default).
    if tls
        .iter()
        .any(|t| t.hosts.as_ref().is_none_or(Vec::is_empty))
    {
        return;
    }
    for (i, r) in spec.rules().iter().enumerate() {
        let Some(host) = r.host.as_deref().filter(|h| !h.is_empty()) else {
            // No host (ingress-host's warning): only a tls entry without hosts covers it, and
            // there is none (checked above); without any tls entry its traffic is plain HTTP.
            if tls.is_empty() {
                out.report(
                    &INGRESS_TLS,
                    format!("spec.rules[{i}]"),
                    format!(
                        "spec.rules[{i}] (every host) has no TLS: spec.tls is empty, so its traffic from outside is unencrypted. Add a spec.tls entry (without hosts it takes the controller's default certificate) or a load balancer's certificate annotation"
                    ),
                );
            }
            continue;
        };
        let covered = tls
            .iter()
            .flat_map(|t| t.hosts.iter().flatten())
            .any(|t| ingress::tls_covers(t, host));
        if !covered {
            out.report(
                &INGRESS_TLS,
                format!("spec.rules[{i}].host"),
                format!(
                    "host {host:?} is not covered by spec.tls: its traffic from outside is unencrypted. Add {host:?} to spec.tls[].hosts with the Secret holding its certificate (cert-manager can issue it)"
                ),
            );
        }
    }
}

pub fn ingress_class(
    object: &Object<'_>,
    spec: Option<&IngressSpec>,
    s: &Settings,
    out: &mut Findings,
) {
    let field = spec
        .and_then(|s| s.ingress_class_name.as_deref())
        .filter(|c| !c.is_empty());
    let ann = object
        .meta
        .annotations
        .get(CLASS_ANNOTATION)
        .map(String::as_str);
    match (field, ann) {
        (Some(f), Some(a)) => out.report(
            &INGRESS_CLASS_CHECK,
            "metadata.annotations".into(),
            format!(
                "the Ingress sets both spec.ingressClassName ({f:?}) and the annotation {CLASS_ANNOTATION} ({a:?}): the API server refuses this on create (\"can not be set when the class field is also set\"). Remove the annotation"
            ),
        ),
        (None, Some(a)) => out.warn(
            &INGRESS_CLASS_CHECK,
            "metadata.annotations".into(),
            format!(
                "the Ingress names its class with the deprecated annotation {CLASS_ANNOTATION} ({a:?}): set spec.ingressClassName: {a} and remove the annotation"
            ),
        ),
        (None, None) => out.warn(
            &INGRESS_CLASS_CHECK,
            "spec.ingressClassName".into(),
            "the Ingress names no class: it is served by the cluster's default IngressClass if there is one, and otherwise by no controller (or by every controller that takes unclassed Ingresses). Set spec.ingressClassName".to_string(),
        ),
        (Some(_), None) => {}
    }
    if let Some(class) = field.or(ann)
        && !s.allowed_ingress_classes.is_empty()
        && !s.allowed_ingress_classes.iter().any(|a| a == class)
    {
        out.warn(
            &INGRESS_CLASS_CHECK,
            "spec.ingressClassName".into(),
            format!(
                "the Ingress uses class {class:?}, which is not in allowedIngressClasses ({}): use one of those",
                s.allowed_ingress_classes.join(", ")
            ),
        );
    }
}

/// The path of a backend's port field, in the shape the backend uses.
fn port_path(backend_path: &str, b: &ingress::Backend, port: &PortRef) -> String {
    if b.service.is_some() {
        let leaf = match port {
            PortRef::Name(_) => "name",
            PortRef::Number(_) => "number",
        };
        format!("{backend_path}.service.port.{leaf}")
    } else {
        format!("{backend_path}.servicePort")
    }
}

pub fn ingress_backend_exists(
    object: &Object<'_>,
    spec: &IngressSpec,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let backends = spec.backends();
    if backends.iter().all(|(_, b)| b.service().is_none()) {
        return;
    }
    if !cx.has_context() {
        out.skip(
            &INGRESS_BACKEND_EXISTS,
            "no context was given: the backend Services cannot be looked up".into(),
        );
        return;
    }
    let ns = object.namespace();
    let ns_text = ns.unwrap_or("default");
    let any_service = namespace_has_services(cx.context, ns);
    for (path, b) in backends {
        let Some((name, port)) = b.service() else {
            continue;
        };
        let Some(found) = cx.context.get(SERVICE.group, SERVICE.kind, ns, name) else {
            if !any_service {
                out.skip(
                    &INGRESS_BACKEND_EXISTS,
                    format!(
                        "no Service of namespace {ns_text} is in the context: the backends may be applied separately"
                    ),
                );
                continue;
            }
            let message = format!(
                "{path} routes to Service \"{name}\", which namespace {ns_text} does not have: the controller answers 503 for it. Point the backend at an existing Service (an Ingress reaches Services of its own namespace only)"
            );
            let field = if b.service.is_some() {
                format!("{path}.service.name")
            } else {
                format!("{path}.serviceName")
            };
            if cx.mode == Mode::Admission {
                // The Service may be created later in the same apply.
                out.warn(&INGRESS_BACKEND_EXISTS, field, message);
            } else {
                out.report(&INGRESS_BACKEND_EXISTS, field, message);
            }
            continue;
        };
        let Some(port) = port else {
            continue;
        };
        let Some(svc) = found.get::<ServiceView>() else {
            continue;
        };
        let ports = svc.ports();
        if svc.type_() == "ExternalName" && ports.is_empty() {
            // A DNS alias: the controller connects to the external name on the backend's port.
            continue;
        }
        let exposed = ports.iter().any(|p| match &port {
            PortRef::Name(n) => p.name.as_deref() == Some(n.as_str()),
            PortRef::Number(n) => p.port == Some(*n),
        });
        if exposed {
            continue;
        }
        let listed: Vec<String> = ports.iter().map(ServicePortView::describe).collect();
        let hint = match &port {
            PortRef::Number(n)
                if ports.iter().any(
                    |p| matches!(&p.target_port, Some(Value::Number(t)) if t.as_i64() == Some(*n)),
                ) =>
            {
                format!(" ({n} is a targetPort: a backend names the Service's port, not the pod's)")
            }
            PortRef::Name(n)
                if ports
                    .iter()
                    .any(|p| matches!(&p.target_port, Some(Value::String(t)) if t == n)) =>
            {
                format!(
                    " (\"{n}\" is a targetPort name: a backend names the Service port's own name)"
                )
            }
            _ => String::new(),
        };
        out.report(
            &INGRESS_BACKEND_EXISTS,
            port_path(&path, b, &port),
            format!(
                "{path} routes to {port} of Service \"{name}\", which exposes {}{hint}: the controller has no endpoint to send it to. Use one of the Service's ports, by its name or its port number",
                if listed.is_empty() { "no port".to_string() } else { format!("port {}", listed.join(", ")) }
            ),
        );
    }
}

/// The namespaces with at least one Service in the context, computed once per context, so
/// "does the set hold this namespace's Services at all" costs a lookup, not a scan.
/// Candidate for the SDK (an indexed `Context::any_in_namespace`; also used by the other rule
/// of helper d, see /work/notes/sdk-requests.md).
struct ServiceNamespaces(std::collections::HashSet<Option<String>>);

fn namespace_has_services(ctx: &prodready_sdk::Context, namespace: Option<&str>) -> bool {
    let set = ctx.memo(|c| {
        ServiceNamespaces(
            c.of_kind(SERVICE.group, SERVICE.kind)
                .map(|o| o.namespace().map(str::to_string))
                .collect(),
        )
    });
    // As `Context::in_namespace` sees them: the namespace's own, and cluster-scoped ones.
    match namespace {
        Some(ns) => set.0.contains(&None) || set.0.contains(&Some(ns.to_string())),
        None => !set.0.is_empty(),
    }
}

fn match_name(m: Match) -> &'static str {
    match m {
        Match::Exact => "Exact",
        Match::Prefix => "Prefix",
        Match::ImplementationSpecific => "ImplementationSpecific",
    }
}

pub fn ingress_unique(
    object: &Object<'_>,
    spec: &IngressSpec,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    if spec.rules().is_empty() {
        return;
    }
    if !cx.has_context() {
        out.skip(
            &INGRESS_UNIQUE,
            "no context was given: the other Ingresses cannot be compared".into(),
        );
        return;
    }
    if object
        .meta
        .annotations
        .get(CANARY_ANNOTATION)
        .is_some_and(|v| v == "true")
    {
        return;
    }
    let index = ingress::claim_index(cx.context);
    let class = ingress::resolved_class(
        ingress::class_of(Some(spec), &object.meta.annotations),
        index.default_class.as_deref(),
    );
    let own_ns = object.namespace();
    let own_name = object.reference.name.as_str();
    for (key, path) in ingress::claims(spec, &class) {
        let Some(list) = index.by_key.get(&key) else {
            continue;
        };
        let mut others: Vec<String> = Vec::new();
        for c in list {
            if c.namespace.as_deref() == own_ns && c.name == own_name {
                continue;
            }
            let who = match &c.namespace {
                Some(ns) => format!("{ns}/{}", c.name),
                None => c.name.clone(),
            };
            if !others.contains(&who) {
                others.push(who);
            }
        }
        if others.is_empty() {
            continue;
        }
        let host = if key.host.is_empty() {
            "every host (no host)".to_string()
        } else {
            format!("host {:?}", key.host)
        };
        let class_text = if key.class.is_empty() {
            "the default class".to_string()
        } else {
            format!("class {:?}", key.class)
        };
        out.report(
            &INGRESS_UNIQUE,
            path,
            format!(
                "{host} and {} path {:?} of {class_text} are also claimed by Ingress {}: the controller serves only one of them (ingress-nginx: the oldest), and the other silently loses this route. Merge the paths into one Ingress, or change the host or path",
                match_name(key.matching),
                key.path,
                others.join(", ")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ExternalTraffic;
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    fn ing(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": name, "namespace": "shop"}, "spec": spec})
    }

    fn svc(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": name, "namespace": "shop"}, "spec": spec})
    }

    fn web_svc() -> Value {
        svc(
            "web",
            json!({"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}),
        )
    }

    fn good(name: &str, host: &str, path: &str, backend_port: Value) -> Value {
        ing(
            name,
            json!({"ingressClassName": "nginx",
                "tls": [{"hosts": [host], "secretName": "tls"}],
                "rules": [{"host": host, "http": {"paths": [{"path": path, "pathType": "Prefix",
                    "backend": {"service": {"name": "web", "port": backend_port}}}]}}]}),
        )
    }

    fn ids(o: &Value, settings: Value, ctx: &[Value]) -> Vec<String> {
        let v = testing::evaluate_in::<ExternalTraffic>(o, &settings, ctx);
        assert!(v.error.is_none(), "{:?}", v.error);
        testing::ids(&v).iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_good_ingress_passes() {
        let o = good("web", "shop.example.com", "/", json!({"number": 80}));
        assert!(ids(&o, json!({}), &[web_svc(), o.clone()]).is_empty());
        let by_name = good("web", "shop.example.com", "/", json!({"name": "http"}));
        assert!(ids(&by_name, json!({}), &[web_svc(), by_name.clone()]).is_empty());
    }

    #[test]
    fn hosts_tls_and_class() {
        let o = ing(
            "bare",
            json!({"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}},
                {"host": "*.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}),
        );
        let mut got = ids(&o, json!({}), &[web_svc()]);
        got.sort();
        assert_eq!(
            got,
            vec![
                "ingress-class",
                "ingress-host",
                "ingress-host",
                "ingress-tls",
                "ingress-tls"
            ]
        );
        let mut got = ids(&o, json!({"allowWildcardHosts": true}), &[web_svc()]);
        got.sort();
        assert_eq!(
            got,
            vec![
                "ingress-class",
                "ingress-host",
                "ingress-tls",
                "ingress-tls"
            ]
        );
        // A load-balancer certificate annotation covers TLS.
        let mut alb = good("alb", "shop.example.com", "/", json!({"number": 80}));
        alb["spec"].as_object_mut().unwrap().remove("tls");
        assert_eq!(ids(&alb, json!({}), &[web_svc()]), vec!["ingress-tls"]);
        alb["metadata"]["annotations"] =
            json!({"alb.ingress.kubernetes.io/certificate-arn": "arn:aws:acm:x"});
        assert!(ids(&alb, json!({}), &[web_svc()]).is_empty());
    }

    #[test]
    fn class_annotation_both_and_allowed() {
        let mut o = good("web", "shop.example.com", "/", json!({"number": 80}));
        o["metadata"]["annotations"] = json!({"kubernetes.io/ingress.class": "nginx"});
        let v = testing::evaluate_in::<ExternalTraffic>(&o, &json!({}), &[web_svc()]);
        assert_eq!(testing::ids(&v), vec!["ingress-class"]);
        assert!(v.violations[0].message.contains("refuses this on create"));
        o["spec"]
            .as_object_mut()
            .unwrap()
            .remove("ingressClassName");
        let v = testing::evaluate_in::<ExternalTraffic>(&o, &json!({}), &[web_svc()]);
        assert!(v.violations[0].message.contains("deprecated"));
        let o = good("web", "shop.example.com", "/", json!({"number": 80}));
        assert_eq!(
            ids(
                &o,
                json!({"allowedIngressClasses": ["internal"]}),
                &[web_svc()]
            ),
            vec!["ingress-class"]
        );
    }

    #[test]
    fn backends_exist_and_expose_the_port() {
        let missing_port = good("web", "shop.example.com", "/", json!({"number": 8080}));
        let v = testing::evaluate_in::<ExternalTraffic>(&missing_port, &json!({}), &[web_svc()]);
        assert_eq!(testing::ids(&v), vec!["ingress-backend-exists"]);
        assert!(v.violations[0].message.contains("is a targetPort"));
        assert_eq!(
            v.violations[0].path,
            "spec.rules[0].http.paths[0].backend.service.port.number"
        );
        let wrong_name = good("web", "shop.example.com", "/", json!({"name": "web"}));
        assert_eq!(
            ids(&wrong_name, json!({}), &[web_svc()]),
            vec!["ingress-backend-exists"]
        );
        // The Service is missing but the namespace has others: reported (a warning at
        // admission).
        let other = svc("api", json!({"ports": [{"port": 80}]}));
        let o = good("web", "shop.example.com", "/", json!({"number": 80}));
        assert_eq!(
            ids(&o, json!({}), std::slice::from_ref(&other)),
            vec!["ingress-backend-exists"]
        );
        let v = testing::evaluate_with::<ExternalTraffic>(
            &o,
            &json!({}),
            Some(&[other]),
            Mode::Admission,
        );
        assert_eq!(testing::ids(&v), vec!["ingress-backend-exists"]);
        assert!(v.allowed);
        // No Service of the namespace at all: skipped.
        let v = testing::evaluate_in::<ExternalTraffic>(&o, &json!({}), &[]);
        assert!(v.violations.is_empty());
        assert_eq!(v.skipped_checks[0].check, "ingress-backend-exists");
        // No context: both cross-object checks skipped.
        let v = testing::evaluate::<ExternalTraffic>(&o, &json!({}));
        let skipped: Vec<_> = v.skipped_checks.iter().map(|s| s.check.as_str()).collect();
        assert_eq!(skipped, vec!["ingress-backend-exists", "ingress-unique"]);
        // ExternalName without ports, and v1beta1 shapes.
        let ext = svc(
            "web",
            json!({"type": "ExternalName", "externalName": "web.example.org"}),
        );
        assert!(ids(&o, json!({}), &[ext]).is_empty());
        let old = json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress",
            "metadata": {"name": "old", "namespace": "shop"},
            "spec": {"ingressClassName": "nginx", "tls": [{"hosts": ["a.example.com"]}],
                "rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/",
                "backend": {"serviceName": "web", "servicePort": "http"}}]}}]}});
        assert!(ids(&old, json!({}), &[web_svc()]).is_empty());
        let mut old_bad = old.clone();
        old_bad["spec"]["rules"][0]["http"]["paths"][0]["backend"]["servicePort"] = json!(81);
        let v = testing::evaluate_in::<ExternalTraffic>(&old_bad, &json!({}), &[web_svc()]);
        assert_eq!(
            v.violations[0].path,
            "spec.rules[0].http.paths[0].backend.servicePort"
        );
        // A resource backend is not a Service.
        let res = ing(
            "static",
            json!({"ingressClassName": "nginx", "defaultBackend": {"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "b"}}}),
        );
        assert!(ids(&res, json!({}), &[web_svc()]).is_empty());
    }

    #[test]
    fn unique_routes_per_class() {
        let a = good("a", "shop.example.com", "/api/", json!({"number": 80}));
        let b = good("b", "shop.example.com", "/api", json!({"number": 80}));
        let ctx = [web_svc(), a.clone(), b.clone()];
        assert_eq!(ids(&a, json!({}), &ctx), vec!["ingress-unique"]);
        assert_eq!(ids(&b, json!({}), &ctx), vec!["ingress-unique"]);
        // Another class: another controller.
        let mut c = b.clone();
        c["spec"]["ingressClassName"] = json!("internal");
        let ctx = [web_svc(), a.clone(), c.clone()];
        assert!(ids(&a, json!({}), &ctx).is_empty());
        // Exact and Prefix on the same path do not conflict.
        let mut e = b.clone();
        e["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!("Exact");
        let ctx = [web_svc(), a.clone(), e];
        assert!(ids(&a, json!({}), &ctx).is_empty());
        // A canary shares the route on purpose.
        let mut canary = b.clone();
        canary["metadata"]["annotations"] = json!({"nginx.ingress.kubernetes.io/canary": "true"});
        let ctx = [web_svc(), a.clone(), canary.clone()];
        assert!(ids(&a, json!({}), &ctx).is_empty());
        assert!(ids(&canary, json!({}), &ctx).is_empty());
        // The default IngressClass resolves an unclassed Ingress.
        let mut unclassed = b.clone();
        unclassed["spec"]
            .as_object_mut()
            .unwrap()
            .remove("ingressClassName");
        let class = json!({"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
            "spec": {"controller": "k8s.io/ingress-nginx"}});
        let ctx = [web_svc(), a.clone(), unclassed.clone(), class];
        assert_eq!(ids(&a, json!({}), &ctx), vec!["ingress-unique"]);
        let ctx = [web_svc(), a.clone(), unclassed];
        assert!(ids(&a, json!({}), &ctx).is_empty());
    }

    fn svc_ns(ns: &str, spec: Value, labels: Value, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "edge", "namespace": ns, "labels": labels, "annotations": annotations},
               "spec": spec})
    }

    #[test]
    fn service_exposure_cases() {
        let lb_http = json!({"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]});
        let v = testing::evaluate::<ExternalTraffic>(
            &svc_ns("shop", lb_http.clone(), json!({}), json!({})),
            &json!({}),
        );
        assert_eq!(testing::ids(&v), vec!["service-exposure"]);
        assert!(!v.allowed);
        let v = testing::evaluate::<ExternalTraffic>(
            &svc_ns("ingress-nginx", lb_http.clone(), json!({}), json!({})),
            &json!({}),
        );
        assert!(v.violations.is_empty());
        let labelled = json!({"exposureLabels": {"platform.example.com/exposure": "approved"}});
        let v = testing::evaluate::<ExternalTraffic>(
            &svc_ns(
                "shop",
                lb_http.clone(),
                json!({"platform.example.com/exposure": "approved"}),
                json!({}),
            ),
            &labelled,
        );
        assert!(v.violations.is_empty());
        // Internal load balancer, plain TCP: warnings; UDP: nothing.
        let v = testing::evaluate::<ExternalTraffic>(
            &svc_ns(
                "shop",
                lb_http,
                json!({}),
                json!({"networking.gke.io/load-balancer-type": "Internal"}),
            ),
            &json!({}),
        );
        assert_eq!(testing::ids(&v), vec!["service-exposure"]);
        assert!(v.allowed);
        let tcp = json!({"type": "NodePort", "ports": [{"name": "postgres", "port": 5432}]});
        let v = testing::evaluate::<ExternalTraffic>(
            &svc_ns("shop", tcp, json!({}), json!({})),
            &json!({}),
        );
        assert_eq!(testing::ids(&v), vec!["service-exposure"]);
        assert!(v.allowed);
        let udp = json!({"type": "LoadBalancer", "ports": [{"name": "game", "port": 7777, "protocol": "UDP"}]});
        let v = testing::evaluate::<ExternalTraffic>(
            &svc_ns("shop", udp, json!({}), json!({})),
            &json!({}),
        );
        assert!(v.violations.is_empty());
        // externalIPs.
        let ext = json!({"ports": [{"port": 80}], "externalIPs": ["203.0.113.7"]});
        let v = testing::evaluate::<ExternalTraffic>(
            &svc_ns("shop", ext.clone(), json!({}), json!({})),
            &json!({}),
        );
        assert_eq!(testing::ids(&v), vec!["service-exposure"]);
        assert_eq!(v.violations[0].path, "spec.externalIPs");
        let v = testing::evaluate::<ExternalTraffic>(
            &svc_ns("shop", ext, json!({}), json!({})),
            &json!({"externalIPsNamespaces": ["shop"]}),
        );
        assert!(v.violations.is_empty());
    }
}

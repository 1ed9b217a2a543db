//! The Ingress as the checks read it — both shapes: networking.k8s.io/v1 (`defaultBackend`,
//! `service.name` / `service.port.{name,number}`, required `pathType`) and the v1beta1 APIs
//! (`backend`, `serviceName` / `servicePort`, optional `pathType`) — leniently, so a field the
//! API server would refuse is reported by a check instead of failing the parse. And the index
//! of every Ingress's (class, host, path) claims for ingress-unique, built once per context.

use std::collections::{BTreeMap, HashMap};

use prodready_sdk::Context;
use prodready_sdk::serving::INGRESS;
use serde::Deserialize;
use serde_json::Value;

use crate::INGRESS_CLASS;

/// The deprecated annotation that named the class before `spec.ingressClassName`.
pub const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";

/// The annotation that makes an IngressClass the default.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// ingress-nginx's canary annotation: such an Ingress shares host and path with the main one
/// on purpose.
pub const CANARY_ANNOTATION: &str = "nginx.ingress.kubernetes.io/canary";

#[derive(Debug, Default, Deserialize)]
pub struct IngressView {
    #[serde(default)]
    pub spec: Option<IngressSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressSpec {
    #[serde(default)]
    pub ingress_class_name: Option<String>,
    #[serde(default)]
    pub default_backend: Option<Backend>,
    /// v1beta1's name for `defaultBackend`.
    #[serde(default)]
    pub backend: Option<Backend>,
    #[serde(default)]
    pub rules: Option<Vec<IngressRule>>,
    #[serde(default)]
    pub tls: Option<Vec<IngressTls>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct IngressRule {
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub http: Option<HttpRule>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HttpRule {
    #[serde(default)]
    pub paths: Option<Vec<HttpPath>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpPath {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub path_type: Option<String>,
    #[serde(default)]
    pub backend: Option<Backend>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backend {
    #[serde(default)]
    pub service: Option<ServiceBackend>,
    /// v1beta1.
    #[serde(default)]
    pub service_name: Option<String>,
    /// v1beta1: a number or a port name.
    #[serde(default)]
    pub service_port: Option<Value>,
    /// A backend that is not a Service (a custom resource, e.g. a storage bucket).
    #[serde(default)]
    pub resource: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ServiceBackend {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub port: Option<ServiceBackendPort>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ServiceBackendPort {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub number: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
pub struct IngressTls {
    #[serde(default)]
    pub hosts: Option<Vec<String>>,
}

/// A backend's Service port: by name (a Service port's `name`) or by number (its `port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    Name(String),
    Number(i64),
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortRef::Name(n) => write!(f, "port named \"{n}\""),
            PortRef::Number(n) => write!(f, "port {n}"),
        }
    }
}

impl Backend {
    /// The Service it routes to, and the port; `None` for a `resource` backend (or one
    /// without a Service name, which the API server refuses).
    pub fn service(&self) -> Option<(&str, Option<PortRef>)> {
        if let Some(s) = &self.service {
            let name = s.name.as_deref().filter(|n| !n.is_empty())?;
            let port = s.port.as_ref().and_then(|p| {
                match (p.name.as_deref().filter(|n| !n.is_empty()), p.number) {
                    (Some(n), _) => Some(PortRef::Name(n.to_string())),
                    (None, Some(n)) => Some(PortRef::Number(n)),
                    _ => None,
                }
            });
            return Some((name, port));
        }
        let name = self.service_name.as_deref().filter(|n| !n.is_empty())?;
        let port = match &self.service_port {
            Some(Value::Number(n)) => n.as_i64().map(PortRef::Number),
            // An IntOrString written as a quoted number means the number.
            Some(Value::String(s)) => Some(match s.parse::<i64>() {
                Ok(n) => PortRef::Number(n),
                Err(_) => PortRef::Name(s.clone()),
            }),
            _ => None,
        };
        Some((name, port))
    }
}

impl IngressSpec {
    pub fn rules(&self) -> &[IngressRule] {
        self.rules.as_deref().unwrap_or_default()
    }

    pub fn tls(&self) -> &[IngressTls] {
        self.tls.as_deref().unwrap_or_default()
    }

    /// Every backend with its path: the default backend, then each rule's paths.
    pub fn backends(&self) -> Vec<(String, &Backend)> {
        let mut out = Vec::new();
        if let Some(b) = &self.default_backend {
            out.push(("spec.defaultBackend".to_string(), b));
        }
        if let Some(b) = &self.backend {
            out.push(("spec.backend".to_string(), b));
        }
        for (i, r) in self.rules().iter().enumerate() {
            for (j, p) in r
                .http
                .iter()
                .flat_map(|h| h.paths.iter().flatten())
                .enumerate()
            {
                if let Some(b) = &p.backend {
                    out.push((format!("spec.rules[{i}].http.paths[{j}].backend"), b));
                }
            }
        }
        out
    }
}

/// The class an Ingress names: `spec.ingressClassName`, else the annotation.
pub fn class_of<'a>(
    spec: Option<&'a IngressSpec>,
    annotations: &'a BTreeMap<String, String>,
) -> Option<&'a str> {
    spec.and_then(|s| s.ingress_class_name.as_deref())
        .filter(|c| !c.is_empty())
        .or_else(|| {
            annotations
                .get(CLASS_ANNOTATION)
                .map(String::as_str)
                .filter(|c| !c.is_empty())
        })
}

/// Whether a wildcard or exact TLS host covers a rule's host: equal (ignoring case), or
/// `*.example.com` covering exactly one more label (`a.example.com`, not `example.com` nor
/// `a.b.example.com`), as Ingress wildcard hosts match.
pub fn tls_covers(tls_host: &str, host: &str) -> bool {
    let (t, h) = (tls_host.to_ascii_lowercase(), host.to_ascii_lowercase());
    if t == h {
        return true;
    }
    let Some(suffix) = t.strip_prefix("*.") else {
        return false;
    };
    match h.split_once('.') {
        Some((first, rest)) => !first.is_empty() && first != "*" && rest == suffix,
        None => false,
    }
}

/// How a path matches, for comparing claims: Kubernetes defines Exact and Prefix matching
/// (a Prefix path's trailing slash is ignored); an ImplementationSpecific path means what its
/// controller says, so only the same text is the same claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Match {
    Exact,
    Prefix,
    ImplementationSpecific,
}

/// One route an Ingress claims.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimKey {
    pub class: String,
    pub host: String,
    pub matching: Match,
    pub path: String,
}

/// A claim's place: the Ingress and the field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimAt {
    pub namespace: Option<String>,
    pub name: String,
    pub path: String,
}

/// The route keys of an Ingress's paths, each with its field path. `class` is the resolved
/// class (`""`: the default class, when none is known).
pub fn claims(spec: &IngressSpec, class: &str) -> Vec<(ClaimKey, String)> {
    let mut out = Vec::new();
    for (i, r) in spec.rules().iter().enumerate() {
        let host = r.host.as_deref().unwrap_or_default().to_ascii_lowercase();
        for (j, p) in r
            .http
            .iter()
            .flat_map(|h| h.paths.iter().flatten())
            .enumerate()
        {
            let raw = p.path.as_deref().filter(|p| !p.is_empty()).unwrap_or("/");
            let (matching, path) = match p.path_type.as_deref() {
                Some("Exact") => (Match::Exact, raw.to_string()),
                Some("Prefix") => {
                    let trimmed = raw.trim_end_matches('/');
                    (
                        Match::Prefix,
                        if trimmed.is_empty() { "/" } else { trimmed }.to_string(),
                    )
                }
                // v1beta1 defaulted an unset pathType to ImplementationSpecific.
                _ => (Match::ImplementationSpecific, raw.to_string()),
            };
            out.push((
                ClaimKey {
                    class: class.to_string(),
                    host: host.clone(),
                    matching,
                    path,
                },
                format!("spec.rules[{i}].http.paths[{j}].path"),
            ));
        }
    }
    out
}

/// The default IngressClass of the context: the one class annotated as default (several, or
/// none: unknown).
pub fn default_class(ctx: &Context) -> Option<String> {
    let mut defaults = ctx
        .of_kind(INGRESS_CLASS.group, INGRESS_CLASS.kind)
        .filter(|o| {
            o.meta
                .annotations
                .get(DEFAULT_CLASS_ANNOTATION)
                .is_some_and(|v| v == "true")
        })
        .map(|o| o.name().to_string());
    let first = defaults.next()?;
    defaults.next().is_none().then_some(first)
}

/// The class an Ingress is served by, as the claim index keys it.
pub fn resolved_class(named: Option<&str>, default: Option<&str>) -> String {
    named.or(default).unwrap_or_default().to_string()
}

/// Every Ingress claim of the context, by route (built once per context).
pub struct ClaimIndex {
    pub by_key: HashMap<ClaimKey, Vec<ClaimAt>>,
    pub default_class: Option<String>,
}

pub fn claim_index(ctx: &Context) -> &ClaimIndex {
    ctx.memo(|ctx| {
        let default = default_class(ctx);
        let mut by_key: HashMap<ClaimKey, Vec<ClaimAt>> = HashMap::new();
        for o in ctx.of_kind(INGRESS.group, INGRESS.kind) {
            if o.meta
                .annotations
                .get(CANARY_ANNOTATION)
                .is_some_and(|v| v == "true")
            {
                continue;
            }
            let Some(spec) = o.get::<IngressView>().and_then(|v| v.spec.as_ref()) else {
                continue;
            };
            let class = resolved_class(
                class_of(Some(spec), &o.meta.annotations),
                default.as_deref(),
            );
            for (key, path) in claims(spec, &class) {
                by_key.entry(key).or_default().push(ClaimAt {
                    namespace: o.namespace().map(str::to_string),
                    name: o.name().to_string(),
                    path,
                });
            }
        }
        ClaimIndex {
            by_key,
            default_class: default,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_tls_hosts_cover_exactly_one_label() {
        assert!(tls_covers("shop.example.com", "SHOP.example.com"));
        assert!(tls_covers("*.example.com", "shop.example.com"));
        assert!(tls_covers("*.example.com", "*.example.com"));
        assert!(!tls_covers("*.example.com", "example.com"));
        assert!(!tls_covers("*.example.com", "a.shop.example.com"));
        assert!(!tls_covers("shop.example.com", "*.example.com"));
        assert!(!tls_covers("example.com", "shop.example.com"));
    }

    #[test]
    fn claims_compare_prefix_paths_without_their_trailing_slash() {
        let spec: IngressSpec = serde_json::from_value(serde_json::json!({
            "rules": [{"host": "Shop.example.com", "http": {"paths": [
                {"path": "/api/", "pathType": "Prefix"},
                {"path": "/api", "pathType": "Exact"},
                {"path": "/", "pathType": "Prefix"},
                {"path": "/img"}
            ]}}]
        }))
        .unwrap();
        let keys: Vec<_> = claims(&spec, "nginx").into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys[0].path, "/api");
        assert_eq!(keys[0].host, "shop.example.com");
        assert_eq!(keys[1].matching, Match::Exact);
        assert_eq!(keys[2].path, "/");
        assert_eq!(keys[3].matching, Match::ImplementationSpecific);
    }

    #[test]
    fn v1beta1_backends_read_names_and_numbers() {
        let b: Backend = serde_json::from_value(
            serde_json::json!({"serviceName": "web", "servicePort": "http"}),
        )
        .unwrap();
        assert_eq!(
            b.service(),
            Some(("web", Some(PortRef::Name("http".into()))))
        );
        let b: Backend =
            serde_json::from_value(serde_json::json!({"serviceName": "web", "servicePort": 80}))
                .unwrap();
        assert_eq!(b.service(), Some(("web", Some(PortRef::Number(80)))));
        let b: Backend = serde_json::from_value(
            serde_json::json!({"resource": {"apiGroup": "k8s.example.com", "kind": "Bucket", "name": "static"}}),
        )
        .unwrap();
        assert_eq!(b.service(), None);
    }
}

//! Rule 13 of the talk, external traffic (slides 69-70): HTTP(S) from outside reaches the
//! cluster through an Ingress controller, over TLS, for named hosts, with an explicit class;
//! every backend exists, no two Ingresses claim the same route, and Services do not open
//! their own doors (NodePort, LoadBalancer, externalIPs) beside it.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod checks;
pub mod ingress;
pub mod settings;

use prodready_sdk::serving::{INGRESS, SERVICE};
use prodready_sdk::{
    CREATE_UPDATE, Check, ContextResource, Cx, Findings, Object, Resource, Rule, RuleInfo, Severity,
};

pub use settings::Settings;

/// The Ingress of the removed extensions/v1beta1 API, still found in old manifests. It is
/// evaluated, but not read from the context: a cluster that no longer serves it cannot list
/// it at admission (docs/precision.md, ingress-unique).
pub const INGRESS_EXTENSIONS: Resource =
    Resource::namespaced("extensions", &["v1beta1"], "Ingress", "ingresses");

/// The cluster-scoped IngressClass, read for the default class.
pub const INGRESS_CLASS: Resource = Resource::cluster(
    "networking.k8s.io",
    &["v1", "v1beta1"],
    "IngressClass",
    "ingressclasses",
);

pub const INGRESS_TLS: Check = Check {
    id: "ingress-tls",
    severity: Severity::Error,
    description: "Every host of every Ingress rule is covered by spec.tls (a `*.example.com` entry covers exactly one more label), or the Ingress names a load-balancer certificate in one of tlsAnnotations.",
    remediation: "Add the host to spec.tls[].hosts with the Secret holding its certificate (cert-manager can issue it), so traffic from outside is encrypted.",
    context: "",
};

pub const INGRESS_HOST: Check = Check {
    id: "ingress-host",
    severity: Severity::Error,
    description: "Every Ingress rule names a host; wildcard hosts only when allowWildcardHosts is true.",
    remediation: "Set spec.rules[].host to the fully qualified name the service is published under, one rule per host.",
    context: "",
};

/// Declared an error for its one error case (both the field and the annotation, which the
/// API server refuses on create); every other finding is a warning (`Findings::warn`), as
/// issue 14 grades the check.
pub const INGRESS_CLASS_CHECK: Check = Check {
    id: "ingress-class",
    severity: Severity::Error,
    description: "An Ingress sets spec.ingressClassName (warning: not the deprecated kubernetes.io/ingress.class annotation, nor no class at all), to a class in allowedIngressClasses when that is non-empty (warning); never both the field and the annotation (error: the API server refuses that on create).",
    remediation: "Set spec.ingressClassName to the IngressClass of the controller that should serve it, and remove the kubernetes.io/ingress.class annotation.",
    context: "",
};

pub const SERVICE_EXPOSURE: Check = Check {
    id: "service-exposure",
    severity: Severity::Error,
    description: "Services of type NodePort or LoadBalancer that carry HTTP(S) are only in exposureNamespaces or carry one of exposureLabels (L7 goes through the Ingress controller; other TCP ports and internal load balancers are warnings, UDP is not reported); no Service sets externalIPs outside externalIPsNamespaces (CVE-2020-8554).",
    remediation: "Make the Service type ClusterIP and publish it through an Ingress; remove spec.externalIPs (CVE-2020-8554 lets any Service author intercept traffic to those IPs).",
    context: "",
};

pub const INGRESS_BACKEND_EXISTS: Check = Check {
    id: "ingress-backend-exists",
    severity: Severity::Error,
    description: "Every backend Service of an Ingress (rules' paths and the default backend) exists in the Ingress's namespace and exposes the port named (service.port.name: a Service port's name) or numbered (service.port.number: a Service port's port).",
    remediation: "Point the backend at an existing Service and at one of its ports: by name (spec.ports[].name) or by number (spec.ports[].port, not the targetPort).",
    context: "Reads the Services of the Ingress's namespace (the manifest set; at admission, the cluster's Services of the namespace). Without context, or when the set holds no Service of that namespace, the check is skipped; at admission a Service that does not exist yet is a warning, since it may be applied in the same change.",
};

pub const INGRESS_UNIQUE: Check = Check {
    id: "ingress-unique",
    severity: Severity::Error,
    description: "No two Ingresses of the same ingress class claim the same host and path (the same pathType, Prefix paths compared without a trailing slash); ingress-nginx canary Ingresses are meant to.",
    remediation: "Merge the paths into one Ingress, or give one of them another host or path: the controller serves only one of them (ingress-nginx: the oldest) and the other silently loses its traffic.",
    context: "Reads the other Ingresses (networking.k8s.io) and the IngressClasses of the manifest set, across namespaces; at admission, the cluster's Ingresses of the request's namespace and every IngressClass. Without context the check is skipped.",
};

pub struct ExternalTraffic;

impl Rule for ExternalTraffic {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 13,
        id: "external-traffic",
        title: "External traffic",
        description: "HTTP(S) from outside enters through an Ingress: TLS for every named host, an explicit class, backends that exist, routes no other Ingress claims, and no Service that opens its own NodePort, load balancer or external IP.",
        slide: "slides 69-70",
        checks: &[
            INGRESS_TLS,
            INGRESS_HOST,
            INGRESS_CLASS_CHECK,
            SERVICE_EXPOSURE,
            INGRESS_BACKEND_EXISTS,
            INGRESS_UNIQUE,
        ],
        resources: &[INGRESS, INGRESS_EXTENSIONS, SERVICE],
        context: &[
            ContextResource::new(SERVICE, &["spec"]),
            ContextResource::new(INGRESS, &["spec"]),
            ContextResource::new(INGRESS_CLASS, &["spec"]),
        ],
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        if object.is(SERVICE.group, SERVICE.kind) {
            let svc: checks::ServiceView = object.parse()?;
            checks::service_exposure(object, &svc, cx.settings, out);
            return Ok(());
        }
        if object.reference.kind == INGRESS.kind {
            let ing: ingress::IngressView = object.parse()?;
            checks::check_ingress(object, &ing, cx, out);
        }
        Ok(())
    }
}

prodready_sdk::export_rule!(ExternalTraffic);

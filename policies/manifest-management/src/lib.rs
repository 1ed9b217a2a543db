//! Rule 2 of the talk, manifest management (slides 12-15): manifests are code, kept in one
//! source of truth (Helm, Kustomize, a GitOps controller) and consistently labelled, so every
//! object says what application and installation it belongs to and who manages it; they are
//! namespaced on purpose, their controllers select their own pods, and they do not carry
//! definitions the API server hides.
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
pub mod patterns;
pub mod settings;

use prodready_sdk::{
    CREATE_UPDATE, Check, Cx, Findings, Object, Resource, Rule, RuleInfo, Severity,
    WORKLOAD_CONTEXT,
};

pub use settings::Settings;

pub const RECOMMENDED_LABELS: Check = Check {
    id: "recommended-labels",
    severity: Severity::Warning,
    description: "Workloads and their pod templates, Services, Ingresses, HorizontalPodAutoscalers and PodDisruptionBudgets carry every label of requiredLabels (default app.kubernetes.io/name and app.kubernetes.io/instance), non-empty and matching its pattern when one is given.",
    remediation: "Add the labels to metadata.labels (and the pod template's labels), e.g. app.kubernetes.io/name: checkout and app.kubernetes.io/instance: checkout-prod; Helm's and Kustomize's common labels set them on every object.",
    context: "",
};

pub const MANAGED_BY: Check = Check {
    id: "managed-by",
    severity: Severity::Warning,
    description: "Workloads, Services, Ingresses, HorizontalPodAutoscalers and PodDisruptionBudgets say which tool manages them: app.kubernetes.io/managed-by is set (and in allowedManagers when that is set), or, with allowedManagers empty, Helm's, Argo CD's or Flux's own markers are present.",
    remediation: "Set app.kubernetes.io/managed-by to the tool that applies the object (Helm, Kustomize, argocd, flux), e.g. with Kustomize's labels or Helm's standard labels, so nobody edits it by hand beside that tool.",
    context: "",
};

pub const SELECTOR_MATCHES_TEMPLATE: Check = Check {
    id: "selector-matches-template",
    severity: Severity::Error,
    description: "A Deployment's, ReplicaSet's, StatefulSet's, DaemonSet's, ReplicationController's or manual-selector Job's selector (matchLabels and matchExpressions) is set, not empty, and selects its own pod template's labels, which the API server requires.",
    remediation: "Make spec.selector select the pod template's labels: put the selector's labels in spec.template.metadata.labels (the selector is immutable once created, so change the template).",
    context: "",
};

pub const NO_DEFAULT_NAMESPACE: Check = Check {
    id: "no-default-namespace",
    severity: Severity::Warning,
    description: "Namespaced objects are not in the default namespace: in a manifest, metadata.namespace is not explicitly default; at admission, the request's namespace is not default. Cluster-scoped kinds and the objects Kubernetes itself keeps in default are never flagged.",
    remediation: "Give the application its own namespace (metadata.namespace, or kubectl apply -n / the tool's namespace setting), so its quotas, RBAC and network policies are its own.",
    context: "",
};

pub const DUPLICATE_ENV: Check = Check {
    id: "duplicate-env",
    severity: Severity::Error,
    description: "No env name appears twice in one container's env, except a redefinition that extends the earlier value through $(NAME) (the one case the API server does not warn about).",
    remediation: "Keep one entry per name: delete the earlier definition or merge the two values.",
    context: "",
};

pub const SERVICE_SELECTS_WORKLOAD: Check = Check {
    id: "service-selects-workload",
    severity: Severity::Warning,
    description: "A Service with a selector (not ExternalName) selects the pods of some workload (Pod or pod template) in its namespace.",
    remediation: "Fix the Service's spec.selector (or the pod template's labels) so they match, or remove the selector if the Service's endpoints are managed by hand.",
    context: "Reads the Pods and workload controllers (Deployments, StatefulSets, DaemonSets, ReplicaSets, ReplicationControllers, Jobs, CronJobs) of the Service's namespace: the manifest set, or at admission the cluster's (Kubewarden lists them; Gatekeeper needs them synced). Skipped without context, and when no workload of the namespace is visible at all; at admission a Service created before its workload is warned about.",
};

/// Every object: no-default-namespace applies to every namespaced kind; the other checks
/// pick their kinds.
pub const EVERY_OBJECT: &[Resource] = &[Resource::namespaced("*", &["*"], "*", "*")];

pub struct ManifestManagement;

impl Rule for ManifestManagement {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 2,
        id: "manifest-management",
        title: "Manifest management",
        description: "Objects carry the recommended app labels and say which tool manages them, live outside the default namespace, select their own pods, define each env variable once, and Services select some workload.",
        slide: "slides 12-15",
        checks: &[
            RECOMMENDED_LABELS,
            MANAGED_BY,
            SELECTOR_MATCHES_TEMPLATE,
            NO_DEFAULT_NAMESPACE,
            DUPLICATE_ENV,
            SERVICE_SELECTS_WORKLOAD,
        ],
        resources: EVERY_OBJECT,
        context: WORKLOAD_CONTEXT,
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        // What a controller made (a ReplicaSet's Pods, an operator's StatefulSet) carries its
        // maker's labels, namespace and env: the maker is where they are fixed.
        if object.meta.controller_owner().is_some() {
            return Ok(());
        }
        checks::no_default_namespace(object, cx.mode, out);
        let labelled = checks::labelled_kind(object);
        if labelled {
            checks::managed_by(object, cx.settings, out);
        }
        if let Some(w) = object.workload() {
            checks::recommended_labels(object, Some(w), cx.settings, out);
            checks::selector_matches_template(object, w, out);
            checks::duplicate_env(w, out);
        } else if labelled {
            checks::recommended_labels(object, None, cx.settings, out);
        }
        if object.is("", "Service") {
            checks::service_selects_workload(object, cx, out)?;
        }
        Ok(())
    }
}

prodready_sdk::export_rule!(ManifestManagement);

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    fn evaluate(object: Value, settings: Value) -> Value {
        let envelope = json!({"request": {"operation": "CREATE", "object": object}, "settings": settings, "mode": "manifest"});
        serde_json::from_slice(&super::evaluate_json(envelope.to_string().as_bytes())).unwrap()
    }

    #[test]
    fn metadata_lists_the_checks_the_context_and_a_strict_schema() {
        let m: Value = serde_json::from_slice(&super::metadata_json()).unwrap();
        assert_eq!(m["id"], "manifest-management");
        assert_eq!(m["number"], 2);
        let checks: Vec<&str> = m["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            checks,
            [
                "recommended-labels",
                "managed-by",
                "selector-matches-template",
                "no-default-namespace",
                "duplicate-env",
                "service-selects-workload"
            ]
        );
        let kinds: Vec<&str> = m["contextResources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"Deployment") && kinds.contains(&"Pod"),
            "{kinds:?}"
        );
        let props = m["settingsSchema"]["properties"].as_object().unwrap();
        for key in [
            "requiredLabels",
            "checkPodTemplates",
            "allowedManagers",
            "audit",
            "severity",
        ] {
            assert!(props.contains_key(key), "schema lacks {key}");
        }
    }

    #[test]
    fn settings_validation_through_the_abi() {
        let check = |s: Value| -> Value {
            serde_json::from_slice(&super::validate_settings_json(s.to_string().as_bytes()))
                .unwrap()
        };
        assert_eq!(
            check(
                json!({"requiredLabels": ["app.kubernetes.io/name", {"key": "team", "pattern": "[a-z]+"}]})
            )["valid"],
            true
        );
        let bad = check(json!({"requiredLabels": [{"key": "team", "pattern": "[a-z"}]}));
        assert_eq!(bad["valid"], false);
        assert!(
            bad["message"]
                .as_str()
                .unwrap()
                .contains("requiredLabels[0].pattern"),
            "{bad}"
        );
        assert_eq!(
            check(json!({"requiredLabels": [{"key": "team", "regex": "x"}]}))["valid"],
            false
        );
        assert_eq!(check(json!({"requiredLabels": [""]}))["valid"], false);
        assert_eq!(check(json!({"allowedManagers": [" "]}))["valid"], false);
    }

    #[test]
    fn objects_a_controller_made_are_not_checked_again() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-abc", "namespace": "default", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d", "uid": "u", "controller": true}]},
            "spec": {"containers": [{"name": "web", "image": "nginx:1", "env": [{"name": "A"}, {"name": "A"}]}]}});
        let v = evaluate(pod, Value::Null);
        assert_eq!(v["violations"], json!([]), "{v}");
    }

    #[test]
    fn a_service_that_does_not_parse_is_an_error() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "shop"},
            "spec": {"selector": ["app"]}});
        let v = evaluate(svc, Value::Null);
        assert_eq!(v["error"]["code"], "invalid-object", "{v}");
    }
}

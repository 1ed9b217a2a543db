//! Rule 1 of the talk, CI/CD (slides 7-10): what runs in the cluster is what the pipeline
//! built. Every image is pinned by a version tag or a digest (a moving tag such as `latest`
//! means a restart can run different code), comes from a registry the pipeline publishes to,
//! the manifest uses API versions the target cluster still serves, and the version label the
//! workload carries is the version of the image it runs.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod apis;
pub mod checks;
pub mod image;
pub mod settings;

use prodready_sdk::{
    CREATE_UPDATE, Check, Cx, Findings, Object, Resource, Rule, RuleInfo, Severity,
};

pub use settings::Settings;

pub const IMAGE_TAG_PINNED: Check = Check {
    id: "image-tag-pinned",
    severity: Severity::Error,
    description: "Every container, init container and ephemeral container names a valid image pinned by a digest or by a tag that is not in deniedTags (default latest); an image without a tag runs :latest; with requireDigest, every image has a digest.",
    remediation: "Pin the image to the version CI built, e.g. registry.example.com/team/app:1.4.2, or by digest (app@sha256:...), which cannot be re-pushed.",
    context: "",
};

pub const IMAGE_REGISTRY_ALLOWED: Check = Check {
    id: "image-registry-allowed",
    severity: Severity::Error,
    description: "Every image's full name (registry host and repository, Docker Hub spelt out as docker.io/library/...) is under one of allowedRegistries, on a '/' boundary; off while allowedRegistries is empty.",
    remediation: "Pull the image from an allowed registry (mirror it there from CI), or add its registry or repository prefix to allowedRegistries.",
    context: "",
};

pub const DEPRECATED_API: Check = Check {
    id: "deprecated-api",
    severity: Severity::Error,
    description: "The object's apiVersion is served by the kubernetesVersion release (default 1.33): one removed at or before it is an error, one deprecated but still served a warning (the published deprecation and removal table of built-in APIs).",
    remediation: "Move the manifest to the replacement apiVersion (kubectl-convert rewrites it; the Deprecated API Migration Guide lists the field changes).",
    context: "",
};

pub const VERSION_LABEL_MATCHES_TAG: Check = Check {
    id: "version-label-matches-tag",
    severity: Severity::Warning,
    description: "When a workload or its pod template sets app.kubernetes.io/version, it equals the image tag of its main container (mainContainer, else the pod's default-container annotation, else the container named after the app.kubernetes.io/name or component label), a leading 'v' and a variant suffix after '-' aside; digest-only images are not compared.",
    remediation: "Set app.kubernetes.io/version from the same value CI tags the image with (e.g. the chart's appVersion used for both), or set mainContainer to the container that runs the application.",
    context: "",
};

/// Every object: deprecated-api reads the header of any kind.
pub const EVERY_OBJECT: &[Resource] = &[Resource::namespaced("*", &["*"], "*", "*")];

pub struct CiCd;

impl Rule for CiCd {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 1,
        id: "ci-cd",
        title: "CI/CD",
        description: "Images are pinned by version tag or digest and come from allowed registries, manifests use API versions the target release serves, and the version label is the version of the image that runs.",
        slide: "slides 7-10",
        checks: &[
            IMAGE_TAG_PINNED,
            IMAGE_REGISTRY_ALLOWED,
            DEPRECATED_API,
            VERSION_LABEL_MATCHES_TAG,
        ],
        resources: EVERY_OBJECT,
        context: &[],
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        checks::deprecated_api(object, cx.settings, out);
        let Some(workload) = object.workload() else {
            return Ok(());
        };
        // A Pod or ReplicaSet a built-in controller made carries its owner's template: the
        // owner was checked (one finding per cause).
        if checks::made_by_workload_controller(object) {
            return Ok(());
        }
        checks::check_images(workload, cx.settings, out);
        checks::version_label_matches_tag(object, workload, cx.settings, out);
        Ok(())
    }
}

prodready_sdk::export_rule!(CiCd);

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    fn evaluate(object: Value, settings: Value) -> Value {
        let envelope =
            json!({"request": {"operation": "CREATE", "object": object}, "settings": settings});
        serde_json::from_slice(&super::evaluate_json(envelope.to_string().as_bytes())).unwrap()
    }

    fn ids(verdict: &Value) -> Vec<String> {
        verdict["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["check"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn metadata_lists_the_checks_every_object_and_a_strict_schema() {
        let m: Value = serde_json::from_slice(&super::metadata_json()).unwrap();
        assert_eq!(m["id"], "ci-cd");
        assert_eq!(m["number"], 1);
        let checks: Vec<&str> = m["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            checks,
            [
                "image-tag-pinned",
                "image-registry-allowed",
                "deprecated-api",
                "version-label-matches-tag"
            ]
        );
        assert_eq!(m["resources"][0]["apiGroups"], json!(["*"]));
        assert_eq!(m["resources"][0]["kinds"], json!(["*"]));
        let props = m["settingsSchema"]["properties"].as_object().unwrap();
        for key in [
            "deniedTags",
            "requireDigest",
            "allowedRegistries",
            "kubernetesVersion",
            "mainContainer",
            "audit",
            "severity",
        ] {
            assert!(props.contains_key(key), "schema lacks {key}");
        }
        assert_eq!(m["settingsSchema"]["additionalProperties"], false);
    }

    #[test]
    fn settings_validation_through_the_abi() {
        let check = |s: Value| -> Value {
            serde_json::from_slice(&super::validate_settings_json(s.to_string().as_bytes()))
                .unwrap()
        };
        assert_eq!(
            check(
                json!({"kubernetesVersion": "v1.29.4", "allowedRegistries": ["registry.example.com", "docker.io/library"]})
            )["valid"],
            true
        );
        let bad = check(json!({"kubernetesVersion": "2.0"}));
        assert_eq!(bad["valid"], false);
        assert!(
            bad["message"]
                .as_str()
                .unwrap()
                .contains("kubernetesVersion")
        );
        let bad = check(json!({"allowedRegistries": ["registry.example.com", "bitnami"]}));
        assert_eq!(bad["valid"], false);
        assert!(
            bad["message"]
                .as_str()
                .unwrap()
                .contains("allowedRegistries[1]")
        );
        assert!(
            bad["message"]
                .as_str()
                .unwrap()
                .contains("docker.io/bitnami")
        );
        assert_eq!(check(json!({"deniedTags": [""]}))["valid"], false);
        assert_eq!(check(json!({"deniedTag": ["latest"]}))["valid"], false);
    }

    #[test]
    fn any_kind_is_evaluated_and_only_its_header_is_read() {
        // A kind no other rule reads, with a body this rule does not understand.
        let ing = json!({"apiVersion": "extensions/v1beta1", "kind": "Ingress",
            "metadata": {"name": "old", "namespace": "shop"}, "spec": {"backend": 7}});
        let v = evaluate(ing, Value::Null);
        assert!(v["error"].is_null(), "{v}");
        assert_eq!(ids(&v), ["deprecated-api"]);
        assert_eq!(v["allowed"], false);
        assert_eq!(v["violations"][0]["path"], "apiVersion");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}});
        let v = evaluate(cm, Value::Null);
        assert!(v["skipped"].is_null(), "{v}");
        assert_eq!(ids(&v), Vec::<String>::new());
        let cr = json!({"apiVersion": "example.com/v1alpha1", "kind": "Widget", "metadata": {"name": "w"}});
        assert_eq!(ids(&evaluate(cr, Value::Null)), Vec::<String>::new());
    }

    #[test]
    fn deprecated_but_served_is_a_warning_that_allows() {
        let ep = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "ext", "namespace": "shop"}, "subsets": []});
        let v = evaluate(ep.clone(), Value::Null);
        assert_eq!(ids(&v), ["deprecated-api"]);
        assert_eq!(v["violations"][0]["severity"], "warning");
        assert_eq!(v["allowed"], true);
        // Before 1.33 it was not deprecated.
        let v = evaluate(ep, json!({"kubernetesVersion": "1.32"}));
        assert_eq!(ids(&v), Vec::<String>::new());
        // An old target: removed later, deprecated then.
        let hpa = json!({"apiVersion": "autoscaling/v2beta2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"}, "spec": {}});
        let v = evaluate(hpa.clone(), json!({"kubernetesVersion": "1.25"}));
        assert_eq!(v["violations"][0]["severity"], "warning");
        let v = evaluate(hpa, Value::Null);
        assert_eq!(v["violations"][0]["severity"], "error");
    }

    #[test]
    fn owned_pods_are_not_checked_again_and_exemptions_apply() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-abc", "namespace": "shop", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d", "uid": "u", "controller": true}]},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
        assert_eq!(ids(&evaluate(pod, Value::Null)), Vec::<String>::new());
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "dev", "namespace": "shop",
                "annotations": {"prodready.io/skip-image-tag-pinned": "throwaway debugging pod"}},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]}});
        let v = evaluate(pod, Value::Null);
        assert_eq!(ids(&v), Vec::<String>::new());
        assert_eq!(v["exempted"][0]["check"], "image-tag-pinned");
        // An operator's object (a custom owner) is checked: the fix may be in its resource.
        let sts = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "db", "namespace": "shop", "ownerReferences": [
                {"apiVersion": "example.com/v1", "kind": "Database", "name": "db", "uid": "u", "controller": true}]},
            "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "db", "image": "postgres"}]}}}});
        assert_eq!(ids(&evaluate(sts, Value::Null)), ["image-tag-pinned"]);
    }
}

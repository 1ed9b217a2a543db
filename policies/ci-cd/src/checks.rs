//! The checks, as pure functions over the object and its workload view.

use std::collections::BTreeMap;

use prodready_sdk::object::split_api_version;
use prodready_sdk::{ContainerRef, ContainerRole, Findings, Object, Workload, WorkloadKind};

use crate::apis::{self, Status};
use crate::image::{self, ImageRef};
use crate::settings::Settings;
use crate::{DEPRECATED_API, IMAGE_REGISTRY_ALLOWED, IMAGE_TAG_PINNED, VERSION_LABEL_MATCHES_TAG};

/// The recommended label carrying the application's version.
pub const VERSION_LABEL: &str = "app.kubernetes.io/version";
const NAME_LABEL: &str = "app.kubernetes.io/name";
const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
/// The annotation `kubectl logs/exec` read to pick a pod's main container.
pub const DEFAULT_CONTAINER: &str = "kubectl.kubernetes.io/default-container";

/// Whether the object was made by a built-in workload controller (a Pod of a ReplicaSet, a
/// ReplicaSet of a Deployment, a Job of a CronJob): its pod template is its owner's, and the
/// owner's findings are the ones to fix.
pub fn made_by_workload_controller(object: &Object<'_>) -> bool {
    object.meta.controller_owner().is_some_and(|o| {
        let group = split_api_version(&o.api_version).0;
        WorkloadKind::from_group_kind(group, &o.kind).is_some()
    })
}

// ---- deprecated-api ----------------------------------------------------------------------

pub fn deprecated_api(object: &Object<'_>, s: &Settings, out: &mut Findings) {
    let (group, version) = split_api_version(&object.reference.api_version);
    let kind = object.reference.kind.as_str();
    let Some(api) = apis::lookup(group, version, kind) else {
        return;
    };
    let target = s.target_minor();
    let av = &object.reference.api_version;
    let since = |d: Option<apis::Minor>| {
        d.map(|d| format!(" (deprecated since 1.{d})"))
            .unwrap_or_default()
    };
    match api.status_at(target) {
        Status::Current => {}
        Status::Removed => out.report(
            &DEPRECATED_API,
            "apiVersion".into(),
            format!(
                "{}: apiVersion {av} of {kind} was removed in Kubernetes 1.{}{}, so a {} API server refuses it (kubernetesVersion): use {} (kubectl-convert rewrites the manifest; the Deprecated API Migration Guide lists the field changes)",
                object.display(),
                api.removed.unwrap_or_default(),
                since(api.deprecated),
                s.kubernetes_version.trim(),
                api.replacement,
            ),
        ),
        Status::Deprecated => {
            let when = match api.removed {
                Some(r) => format!("and is removed in 1.{r}"),
                None => "and stays served, with a warning on every use".to_string(),
            };
            out.warn(
                &DEPRECATED_API,
                "apiVersion".into(),
                format!(
                    "{}: apiVersion {av} of {kind} is deprecated since Kubernetes 1.{} {when}: move to {}",
                    object.display(),
                    api.deprecated.unwrap_or_default(),
                    api.replacement,
                ),
            );
        }
    }
}

// ---- image-tag-pinned, image-registry-allowed --------------------------------------------

pub fn check_images(w: &Workload<'_>, s: &Settings, out: &mut Findings) {
    let prefixes = s.registry_prefixes();
    for c in w.every_container() {
        let Some(text) = c.container.image.as_deref().filter(|i| !i.is_empty()) else {
            out.report(
                &IMAGE_TAG_PINNED,
                c.field("image"),
                format!(
                    "{} \"{}\" names no image: set image to the image CI built, pinned by a version tag or a digest (e.g. registry.example.com/team/app:1.4.2)",
                    role_name(&c),
                    c.name()
                ),
            );
            continue;
        };
        let parsed = match image::parse(text) {
            Ok(p) => p,
            Err(why) => {
                out.report(
                    &IMAGE_TAG_PINNED,
                    c.field("image"),
                    format!(
                        "{} \"{}\": image \"{text}\" is not a valid image reference ({why}), so it cannot be pulled: write registry/repository:tag or repository@sha256:<digest>",
                        role_name(&c),
                        c.name()
                    ),
                );
                continue;
            }
        };
        image_tag_pinned(&c, text, &parsed, s, out);
        if !prefixes.is_empty() {
            image_registry_allowed(&c, text, &parsed, &prefixes, out);
        }
    }
}

fn role_name(c: &ContainerRef<'_, '_>) -> &'static str {
    match c.role {
        ContainerRole::App => "container",
        ContainerRole::Init => "init container",
        ContainerRole::Sidecar => "sidecar container",
        ContainerRole::Ephemeral => "ephemeral container",
    }
}

fn image_tag_pinned(
    c: &ContainerRef<'_, '_>,
    text: &str,
    r: &ImageRef<'_>,
    s: &Settings,
    out: &mut Findings,
) {
    let who = format!("{} \"{}\"", role_name(c), c.name());
    if r.digest.is_some() {
        return;
    }
    let problem = match r.tag {
        _ if s.require_digest => format!(
            "image \"{text}\" has no digest and requireDigest is set: a tag can be re-pushed; pin it as {}@sha256:<digest> (a tag may stay beside the digest for readability)",
            r.name()
        ),
        None => format!(
            "image \"{text}\" has no tag, so the runtime pulls {}:latest, which moves with every push: pin the version CI built ({}:<version>) or a digest",
            r.name(),
            r.name()
        ),
        Some(tag)
            if s.denied_tags
                .iter()
                .any(|d| d.trim().eq_ignore_ascii_case(tag)) =>
        {
            format!(
                "image \"{text}\" uses the tag \"{tag}\" (in deniedTags), which moves: a restart or a new node can run different code; pin the version CI built or a digest"
            )
        }
        Some(_) => return,
    };
    out.report(
        &IMAGE_TAG_PINNED,
        c.field("image"),
        format!("{who}: {problem}"),
    );
}

fn image_registry_allowed(
    c: &ContainerRef<'_, '_>,
    text: &str,
    r: &ImageRef<'_>,
    prefixes: &[String],
    out: &mut Findings,
) {
    let name = r.name();
    if prefixes.iter().any(|p| image::under_prefix(&name, p)) {
        return;
    }
    out.report(
        &IMAGE_REGISTRY_ALLOWED,
        c.field("image"),
        format!(
            "{} \"{}\": image \"{text}\" is {name}, which is not under any of allowedRegistries ({}): pull it from an allowed registry (mirror it there from CI) or allow its registry",
            role_name(c),
            c.name(),
            prefixes.join(", ")
        ),
    );
}

// ---- version-label-matches-tag -----------------------------------------------------------

pub fn version_label_matches_tag(
    object: &Object<'_>,
    w: &Workload<'_>,
    s: &Settings,
    out: &mut Findings,
) {
    // Where the label is set: the object's own labels and (for controllers) the template's.
    let mut places: Vec<(String, &str)> = Vec::new();
    if let Some(v) = object.meta.labels.get(VERSION_LABEL) {
        places.push((format!("metadata.labels.{VERSION_LABEL}"), v.as_str()));
    }
    if w.kind != WorkloadKind::Pod
        && let Some(v) = w.pod_labels.get(VERSION_LABEL)
        && places.iter().all(|(_, other)| *other != v.as_str())
    {
        places.push((
            w.pod_metadata_path(&format!("labels.{VERSION_LABEL}")),
            v.as_str(),
        ));
    }
    if places.is_empty() {
        return;
    }
    let Some((main, why)) = main_container(object, w, s) else {
        return;
    };
    let Some(text) = main.container.image.as_deref() else {
        return;
    };
    // An invalid image is image-tag-pinned's; a digest-only one has no tag to compare.
    let Ok(r) = image::parse(text) else {
        return;
    };
    let Some(tag) = r.tag else {
        return;
    };
    for (path, label) in places {
        if version_matches(label, tag) {
            continue;
        }
        out.report(
            &VERSION_LABEL_MATCHES_TAG,
            path.clone(),
            format!(
                "{} says {VERSION_LABEL}: \"{label}\" at {path}, but its main container \"{}\" ({why}) runs image tag \"{tag}\": the label is not the version that runs; set both from the version CI built, or set mainContainer if another container runs the application",
                object.display(),
                main.name(),
            ),
        );
    }
}

/// Whether a version label and an image tag name the same version: equal, once a leading
/// `v` is dropped from each (`1.15.1` and `v1.15.1`, as kube-state-metrics, ingress-nginx and
/// kube-prometheus publish them), or the tag is the version with a variant suffix after '-',
/// '_' or '+' (`3.6.7-alpine`, `8.2.1-debian-12-r0`).
pub fn version_matches(label: &str, tag: &str) -> bool {
    let strip = |s: &str| -> String {
        let s = s.trim();
        match s.strip_prefix(['v', 'V']) {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest.to_string(),
            _ => s.to_string(),
        }
    };
    let (label, tag) = (strip(label), strip(tag));
    if label.is_empty() {
        return false;
    }
    tag == label
        || tag
            .strip_prefix(label.as_str())
            .is_some_and(|rest| rest.starts_with(['-', '_', '+']))
}

/// The container whose image carries the application's version, and how it was chosen:
/// the `mainContainer` setting (when the pod has such a container); the pod's
/// `kubectl.kubernetes.io/default-container` annotation; the app container named after the
/// workload's `app.kubernetes.io/name` or `app.kubernetes.io/component` label (by container
/// name or image repository); the first container when the workload has neither label.
/// `None` when the labels name the application and no container relates to them: a helper
/// image (a certificate Job of an ingress controller's release) carries the release's
/// version label, not its own.
pub fn main_container<'w, 'a>(
    object: &Object<'_>,
    w: &'w Workload<'a>,
    s: &Settings,
) -> Option<(ContainerRef<'w, 'a>, &'static str)> {
    let by_name = |name: &str| w.containers().find(|c| c.name() == name);
    if !s.main_container.is_empty()
        && let Some(c) = by_name(&s.main_container)
    {
        return Some((c, "mainContainer"));
    }
    if let Some(c) = w
        .pod_annotations
        .get(DEFAULT_CONTAINER)
        .or_else(|| {
            (w.kind == WorkloadKind::Pod)
                .then(|| object.meta.annotations.get(DEFAULT_CONTAINER))
                .flatten()
        })
        .and_then(|n| by_name(n))
    {
        return Some((c, "the pod's kubectl.kubernetes.io/default-container"));
    }
    let hints = app_hints(&object.meta.labels, &w.pod_labels);
    if hints.is_empty() {
        return w.containers().next().map(|c| (c, "the first container"));
    }
    let repo = |c: &ContainerRef<'_, '_>| -> String {
        c.container
            .image
            .as_deref()
            .and_then(|i| image::parse(i).ok())
            .map(|r| r.short_name().to_string())
            .unwrap_or_default()
    };
    // An exact name first, then a container or repository that contains the hint.
    for hint in &hints {
        if let Some(c) = w
            .containers()
            .find(|c| c.name() == *hint || repo(c) == *hint)
        {
            return Some((c, "named after the app's labels"));
        }
    }
    for hint in &hints {
        if let Some(c) = w
            .containers()
            .find(|c| related(c.name(), hint) || related(&repo(c), hint))
        {
            return Some((c, "named after the app's labels"));
        }
    }
    None
}

/// The values of `app.kubernetes.io/name` and `component` (the template's, else the
/// object's), at least 3 characters long.
fn app_hints<'l>(
    meta: &'l BTreeMap<String, String>,
    pod: &'l BTreeMap<String, String>,
) -> Vec<&'l str> {
    let mut hints = Vec::new();
    for key in [NAME_LABEL, COMPONENT_LABEL] {
        for v in [pod.get(key), meta.get(key)].into_iter().flatten() {
            let v = v.as_str();
            if v.len() >= 3 && !hints.contains(&v) {
                hints.push(v);
            }
        }
    }
    hints
}

/// `emojivoto-emoji-svc` relates to `emoji`; `prometheus-server` to `prometheus`.
fn related(candidate: &str, hint: &str) -> bool {
    !candidate.is_empty()
        && (candidate.contains(hint) || hint.contains(candidate) && candidate.len() >= 3)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    use crate::CiCd;

    fn run(object: Value, settings: Value) -> Vec<String> {
        let v = testing::evaluate::<CiCd>(&object, &settings);
        assert!(v.error.is_none(), "{:?}", v.error);
        testing::ids(&v).into_iter().map(str::to_string).collect()
    }

    fn deployment(labels: Value, template_labels: Value, containers: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": labels},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": template_labels},
                    "spec": {"containers": containers}}}})
    }

    fn with_image(image: &str) -> Value {
        deployment(
            json!({}),
            json!({"app": "web"}),
            json!([{"name": "web", "image": image}]),
        )
    }

    const D: &str = "sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1";

    #[test]
    fn tags_and_digests() {
        let none = Value::Null;
        assert_eq!(
            run(with_image("nginx:1.27.3"), none.clone()),
            Vec::<String>::new()
        );
        assert_eq!(run(with_image("nginx"), none.clone()), ["image-tag-pinned"]);
        assert_eq!(
            run(with_image("nginx:latest"), none.clone()),
            ["image-tag-pinned"]
        );
        assert_eq!(
            run(with_image("nginx:LATEST"), none.clone()),
            ["image-tag-pinned"]
        );
        assert_eq!(
            run(with_image("registry:5000/team/app"), none.clone()),
            ["image-tag-pinned"]
        );
        assert_eq!(
            run(with_image("registry:5000/team/app:2.1"), none.clone()),
            Vec::<String>::new()
        );
        assert_eq!(
            run(with_image(&format!("nginx:latest@{D}")), none.clone()),
            Vec::<String>::new()
        );
        assert_eq!(
            run(with_image(&format!("nginx@{D}")), none.clone()),
            Vec::<String>::new()
        );
        assert_eq!(
            run(with_image("Bad Image"), none.clone()),
            ["image-tag-pinned"]
        );
        let denied = json!({"deniedTags": ["latest", "main"]});
        assert_eq!(
            run(with_image("ghcr.io/acme/app:main"), denied),
            ["image-tag-pinned"]
        );
        let digest = json!({"requireDigest": true});
        assert_eq!(
            run(with_image("nginx:1.27.3"), digest.clone()),
            ["image-tag-pinned"]
        );
        assert_eq!(
            run(with_image(&format!("nginx:1.27.3@{D}")), digest),
            Vec::<String>::new()
        );
    }

    #[test]
    fn every_container_kind_is_checked() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
            "spec": {
                "initContainers": [{"name": "init", "image": "busybox"}, {"name": "side", "image": "envoy:latest", "restartPolicy": "Always"}],
                "containers": [{"name": "app", "image": "app:1"}, {"name": "noimage"}],
                "ephemeralContainers": [{"name": "debug", "image": "busybox"}]}});
        let v = testing::evaluate::<CiCd>(&pod, &Value::Null);
        let paths: Vec<&str> = v.violations.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.initContainers[0].image",
                "spec.initContainers[1].image",
                "spec.containers[1].image",
                "spec.ephemeralContainers[0].image"
            ]
        );
        assert!(
            v.violations[1]
                .message
                .contains("sidecar container \"side\"")
        );
        assert!(
            v.violations[3]
                .message
                .contains("ephemeral container \"debug\"")
        );
        let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c", "namespace": "shop"},
            "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "alpine:latest"}]}}}}}});
        let v = testing::evaluate::<CiCd>(&cron, &Value::Null);
        assert_eq!(
            v.violations[0].path,
            "spec.jobTemplate.spec.template.spec.containers[0].image"
        );
    }

    #[test]
    fn registries_on_a_slash_boundary() {
        let s = json!({"allowedRegistries": ["registry.example.com", "docker.io/library", "registry:5000/team"]});
        assert_eq!(
            run(with_image("registry.example.com/shop/web:1"), s.clone()),
            Vec::<String>::new()
        );
        assert_eq!(
            run(with_image("nginx:1.27"), s.clone()),
            Vec::<String>::new()
        );
        assert_eq!(
            run(with_image("docker.io/libraryx/nginx:1"), s.clone()),
            ["image-registry-allowed"]
        );
        assert_eq!(
            run(with_image("bitnami/redis:7"), s.clone()),
            ["image-registry-allowed"]
        );
        assert_eq!(
            run(with_image("registry.example.com.evil.io/x:1"), s.clone()),
            ["image-registry-allowed"]
        );
        assert_eq!(
            run(with_image("registry:5000/team/app:1"), s.clone()),
            Vec::<String>::new()
        );
        assert_eq!(
            run(with_image("registry:5000/teamx/app:1"), s.clone()),
            ["image-registry-allowed"]
        );
        // Both checks speak for an unpinned image from elsewhere; an invalid one only once.
        assert_eq!(
            run(with_image("quay.io/x/y"), s.clone()),
            ["image-tag-pinned", "image-registry-allowed"]
        );
        assert_eq!(
            run(with_image("quay.io/X/y:1"), s.clone()),
            ["image-tag-pinned"]
        );
        // Off by default.
        assert_eq!(
            run(with_image("quay.io/x/y:1"), Value::Null),
            Vec::<String>::new()
        );
        let v = testing::evaluate::<CiCd>(&with_image("bitnami/redis:7"), &s);
        assert!(
            v.violations[0].message.contains("docker.io/bitnami/redis"),
            "{}",
            v.violations[0].message
        );
    }

    #[test]
    fn versions_match_with_a_v_or_a_variant_suffix() {
        assert!(version_matches("1.15.1", "v1.15.1"));
        assert!(version_matches("v11", "v11"));
        assert!(version_matches("v2.0", "2.0"));
        assert!(version_matches("3.6.7", "3.6.7-alpine"));
        assert!(version_matches("8.2.1", "8.2.1-debian-12-r0"));
        assert!(!version_matches("2.27.0", "v2.27"));
        assert!(!version_matches("1.2", "1.2.3"));
        assert!(!version_matches("1.15.1", "v1.6.9"));
        assert!(!version_matches("v1.12.0-dev", "master-head"));
        assert!(!version_matches("", "1"));
        assert!(!version_matches("version", "v"));
    }

    #[test]
    fn the_version_label_is_compared_with_the_main_container() {
        let v = |meta: Value, tmpl: Value, containers: Value| {
            run(deployment(meta, tmpl, containers), Value::Null)
        };
        let one = json!([{"name": "web", "image": "r.example.com/web:1.2.3"}]);
        assert_eq!(
            v(
                json!({"app.kubernetes.io/version": "1.2.3"}),
                json!({"app": "web"}),
                one.clone()
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            v(
                json!({"app.kubernetes.io/version": "1.2.4"}),
                json!({"app": "web"}),
                one.clone()
            ),
            ["version-label-matches-tag"]
        );
        // The same value in both places is one finding; different values are two.
        let both = |m: &str, t: &str| {
            v(
                json!({"app.kubernetes.io/version": m}),
                json!({"app": "web", "app.kubernetes.io/version": t}),
                one.clone(),
            )
        };
        assert_eq!(both("1.2.4", "1.2.4"), ["version-label-matches-tag"]);
        assert_eq!(
            both("1.2.4", "1.2.5"),
            ["version-label-matches-tag", "version-label-matches-tag"]
        );
        assert_eq!(both("1.2.3", "1.2.5"), ["version-label-matches-tag"]);
        // Only on the template.
        assert_eq!(
            v(
                json!({}),
                json!({"app": "web", "app.kubernetes.io/version": "2"}),
                one.clone()
            ),
            ["version-label-matches-tag"]
        );
        // No label: nothing to compare. A digest-only image: no tag.
        assert_eq!(
            v(json!({}), json!({"app": "web"}), one.clone()),
            Vec::<String>::new()
        );
        let digest = json!([{"name": "web", "image": format!("r.example.com/web@{D}")}]);
        assert_eq!(
            v(
                json!({"app.kubernetes.io/version": "1.2.4"}),
                json!({"app": "web"}),
                digest
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_main_container_is_the_applications() {
        let labels =
            json!({"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/version": "v3.1.0"});
        let sidecar_first = json!([
            {"name": "config-reload", "image": "ghcr.io/acme/config-reloader:v0.89.0"},
            {"name": "prometheus-server", "image": "docker.io/prom/prometheus:v3.1.0"}]);
        assert_eq!(
            run(
                deployment(labels.clone(), json!({"app": "web"}), sidecar_first.clone()),
                Value::Null
            ),
            Vec::<String>::new()
        );
        // A helper image unrelated to the app's labels carries the release's version: not compared.
        let helper = json!({"app.kubernetes.io/name": "ingress-gate", "app.kubernetes.io/component": "admission-webhook", "app.kubernetes.io/version": "1.15.1"});
        let certgen = json!([{"name": "create", "image": "registry.example.com/ingress-gate/webhook-certgen:v1.6.9"}]);
        assert_eq!(
            run(
                deployment(helper.clone(), json!({"app": "web"}), certgen.clone()),
                Value::Null
            ),
            Vec::<String>::new()
        );
        // ... unless mainContainer names it.
        assert_eq!(
            run(
                deployment(helper, json!({"app": "web"}), certgen),
                json!({"mainContainer": "create"})
            ),
            ["version-label-matches-tag"]
        );
        // The default-container annotation picks the container.
        let mut d = deployment(
            json!({"app.kubernetes.io/version": "v3.1.0"}),
            json!({"app": "web"}),
            sidecar_first,
        );
        d["spec"]["template"]["metadata"]["annotations"] =
            json!({"kubectl.kubernetes.io/default-container": "config-reload"});
        assert_eq!(run(d, Value::Null), ["version-label-matches-tag"]);
        // Without name or component labels, the first container.
        let two = json!([{"name": "a", "image": "r.example.com/a:2"}, {"name": "b", "image": "r.example.com/b:1"}]);
        assert_eq!(
            run(
                deployment(
                    json!({"app.kubernetes.io/version": "1"}),
                    json!({"app": "web"}),
                    two
                ),
                Value::Null
            ),
            ["version-label-matches-tag"]
        );
        // A mainContainer the pod does not have falls back to the pod's own choice.
        let one = json!([{"name": "web", "image": "r.example.com/web:1.2.3"}]);
        assert_eq!(
            run(
                deployment(
                    json!({"app.kubernetes.io/version": "1.2.3"}),
                    json!({"app": "web"}),
                    one
                ),
                json!({"mainContainer": "server"})
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_pods_own_labels_are_its_template() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "shop", "labels": {"app.kubernetes.io/version": "1.0"}},
            "spec": {"containers": [{"name": "p", "image": "r.example.com/p:1.1"}]}});
        let v = testing::evaluate::<CiCd>(&pod, &Value::Null);
        assert_eq!(testing::ids(&v), ["version-label-matches-tag"]);
        assert_eq!(
            v.violations[0].path,
            "metadata.labels.app.kubernetes.io/version"
        );
        assert_eq!(v.violations[0].severity, prodready_sdk::Severity::Warning);
        assert!(v.allowed);
    }
}

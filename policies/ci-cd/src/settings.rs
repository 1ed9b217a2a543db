use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{apis, image};

/// Settings of the ci-cd rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Tags that do not pin an image (image-tag-pinned), compared case-insensitively, e.g.
    /// `["latest", "main", "master"]`. An image with a digest is pinned whatever its tag.
    pub denied_tags: Vec<String>,
    /// Every image is pinned by digest (`@sha256:...`), not only by tag (image-tag-pinned).
    pub require_digest: bool,
    /// Registries (and repository prefixes) images may come from (image-registry-allowed),
    /// each starting with a registry host, matched on a '/' boundary against the image's
    /// full name (`docker.io/library/nginx` for `nginx`): `registry.example.com`,
    /// `ghcr.io/acme`, `docker.io/library`. Empty: the check is off.
    pub allowed_registries: Vec<String>,
    /// The Kubernetes release the manifests are for (deprecated-api): `1.33`, `v1.33` or
    /// `1.33.2`. An API version removed at or before it is an error, one deprecated but still
    /// served a warning.
    pub kubernetes_version: String,
    /// The container whose image tag `app.kubernetes.io/version` must equal
    /// (version-label-matches-tag), where a pod has one of that name. Empty: the pod's
    /// `kubectl.kubernetes.io/default-container`, else the app container named after the
    /// workload's `app.kubernetes.io/name` (or `component`) label, else the first container
    /// when the workload has neither label.
    pub main_container: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // `latest` is what a missing tag means and what every registry moves on each
            // push; the default. Teams with branch tags add `main`, `master`, `dev`.
            denied_tags: vec!["latest".to_string()],
            // A version tag is the common practice (and readable); a digest is stronger
            // (tags can be re-pushed) but needs tooling to keep manifests current: opt in.
            require_digest: false,
            // No registry is known in advance; an empty list switches the check off.
            allowed_registries: Vec::new(),
            // The release this project targets (k8s-openapi's v1_33 feature).
            kubernetes_version: "1.33".to_string(),
            // Decided per pod (see the field's documentation).
            main_container: String::new(),
        }
    }
}

impl Settings {
    /// The target minor release (validated).
    pub fn target_minor(&self) -> apis::Minor {
        apis::parse_version(&self.kubernetes_version).unwrap_or(33)
    }

    /// The allowed registries, normalized (validated).
    pub fn registry_prefixes(&self) -> Vec<String> {
        self.allowed_registries
            .iter()
            .filter_map(|r| image::normalize_prefix(r))
            .collect()
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        if apis::parse_version(&self.kubernetes_version).is_none() {
            return Err(format!(
                "kubernetesVersion must be a Kubernetes 1.x release such as \"1.33\", not {:?}",
                self.kubernetes_version
            ));
        }
        for (i, r) in self.allowed_registries.iter().enumerate() {
            if image::normalize_prefix(r).is_none() {
                return Err(format!(
                    "allowedRegistries[{i}] ({r:?}) must start with a registry host (with a '.' or a port, or localhost), e.g. \"registry.example.com\" or \"docker.io/{}\"",
                    r.trim().trim_end_matches('/')
                ));
            }
        }
        for (i, t) in self.denied_tags.iter().enumerate() {
            if t.trim().is_empty() {
                return Err(format!("deniedTags[{i}] must not be empty"));
            }
        }
        Ok(())
    }
}

use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A label recommended-labels requires: its key, or its key and a pattern its value must
/// match in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RequiredLabel {
    /// The key alone, e.g. `"app.kubernetes.io/name"`.
    Key(String),
    /// `{"key": "team", "pattern": "[a-z]+(-[a-z]+)*"}`.
    WithPattern(LabelPattern),
}

/// A required label with a pattern for its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LabelPattern {
    pub key: String,
    /// A regular expression the whole value must match (it is anchored at both ends);
    /// absent: any non-empty value.
    #[serde(default)]
    pub pattern: Option<String>,
}

impl RequiredLabel {
    pub fn key(&self) -> &str {
        match self {
            RequiredLabel::Key(k) => k,
            RequiredLabel::WithPattern(p) => &p.key,
        }
    }

    pub fn pattern(&self) -> Option<&str> {
        match self {
            RequiredLabel::Key(_) => None,
            RequiredLabel::WithPattern(p) => p.pattern.as_deref(),
        }
    }
}

/// Settings of the manifest-management rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Labels every workload and its pod template, Service, Ingress, HorizontalPodAutoscaler
    /// and PodDisruptionBudget carries (recommended-labels): a key, or `{key, pattern}` whose
    /// pattern the whole value must match.
    pub required_labels: Vec<RequiredLabel>,
    /// Also require requiredLabels on pod templates (recommended-labels): the labels the pods
    /// carry, which is what `kubectl get pods -l`, dashboards and cost reports select on.
    pub check_pod_templates: bool,
    /// Values `app.kubernetes.io/managed-by` may take, compared case-insensitively
    /// (managed-by), e.g. `["Helm", "Kustomize", "argocd"]`. Empty: any non-empty value, or a
    /// marker that Helm, Argo CD or Flux manages the object.
    pub allowed_managers: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // The two labels the Kubernetes docs' "Recommended Labels" page builds on: what
            // the application is, and which installation of it. Helm's `helm create` charts
            // put exactly these in their selector labels.
            required_labels: vec![
                RequiredLabel::Key("app.kubernetes.io/name".into()),
                RequiredLabel::Key("app.kubernetes.io/instance".into()),
            ],
            // The issue asks for workloads and their pod templates.
            check_pod_templates: true,
            // Teams use different tools; any stated manager is one source of truth.
            allowed_managers: Vec::new(),
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        for (i, l) in self.required_labels.iter().enumerate() {
            if l.key().trim().is_empty() {
                return Err(format!("requiredLabels[{i}]: the key must not be empty"));
            }
            if let Some(p) = l.pattern() {
                crate::patterns::compile(p).map_err(|e| {
                    format!(
                        "requiredLabels[{i}].pattern {p:?} is not a valid regular expression: {e}"
                    )
                })?;
            }
        }
        for (i, m) in self.allowed_managers.iter().enumerate() {
            if m.trim().is_empty() {
                return Err(format!("allowedManagers[{i}] must not be empty"));
            }
        }
        Ok(())
    }
}

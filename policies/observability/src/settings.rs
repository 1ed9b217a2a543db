use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the observability rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Environment variables every app container defines (telemetry-env), e.g.
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`; an entry `A|B` is met by either name. Empty: the check is
    /// off.
    pub required_env: Vec<String>,
    /// The prefix of the scrape annotations (metrics-port-declared): `<prefix>/scrape` and
    /// `<prefix>/port`.
    pub annotation_prefix: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // Which telemetry a platform injects is the platform's choice (OpenTelemetry,
            // Datadog, a mesh): nothing is required until a team says what.
            required_env: Vec::new(),
            // The prefix the Prometheus community chart's kubernetes-pods and
            // kubernetes-service-endpoints jobs read (upstream's example config now uses a
            // placeholder prefix; set yours if your scrape config reads another).
            annotation_prefix: "prometheus.io".to_string(),
        }
    }
}

/// Whether a name is a valid environment variable name as Kubernetes accepts it (a C
/// identifier; Kubernetes 1.34 relaxed this to any printable ASCII but `=`).
fn valid_env_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'=')
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        for (i, entry) in self.required_env.iter().enumerate() {
            for name in entry.split('|') {
                if !valid_env_name(name.trim()) {
                    return Err(format!(
                        "requiredEnv[{i}] is {entry:?}: each entry is an environment variable name, or names separated by '|' (any one of them satisfies it)"
                    ));
                }
            }
        }
        let p = &self.annotation_prefix;
        if p.is_empty() || p.contains('/') || p.contains(char::is_whitespace) {
            return Err(format!(
                "annotationPrefix is {p:?}: it is the part of the annotation keys before '/', e.g. prometheus.io"
            ));
        }
        Ok(())
    }
}

impl Settings {
    /// Each required entry's alternatives.
    pub fn required(&self) -> impl Iterator<Item = Vec<&str>> + '_ {
        self.required_env
            .iter()
            .map(|e| e.split('|').map(str::trim).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<Settings, String> {
        let s: Settings = serde_json::from_value(v).map_err(|e| e.to_string())?;
        s.validate()?;
        Ok(s)
    }

    #[test]
    fn defaults_are_valid_and_unknown_keys_are_refused() {
        assert_eq!(parse(json!({})).unwrap(), Settings::default());
        assert!(parse(json!({"requireEnv": []})).is_err());
    }

    #[test]
    fn bad_values_name_the_field() {
        let e = parse(json!({"requiredEnv": ["OTEL_EXPORTER_OTLP_ENDPOINT", "A||B"]})).unwrap_err();
        assert!(e.contains("requiredEnv[1]"), "{e}");
        let e = parse(json!({"annotationPrefix": "prometheus.io/"})).unwrap_err();
        assert!(e.contains("annotationPrefix"), "{e}");
        let s = parse(json!({"requiredEnv": ["A|B", "C"]})).unwrap();
        assert_eq!(
            s.required().collect::<Vec<_>>(),
            vec![vec!["A", "B"], vec!["C"]]
        );
    }
}

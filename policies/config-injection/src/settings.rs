use prodready_sdk::RuleSettings;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Settings of the config-injection rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Settings {
    /// Substrings that mark a variable, argument or ConfigMap key as a credential
    /// (env-literal-credential, configmap-sensitive). Matched case-insensitively, ignoring
    /// `_`, `-` and `.` (so `api_key` matches `API_KEY`, `apiKey` and `api-key`).
    pub sensitive_name_patterns: Vec<String>,
    /// Last words of a name that make it name *where* a credential is, not the credential:
    /// `TOKEN_FILE`, `PASSWORD_PATH`, `SECRET_NAME`, `secretsFormat`. Case-insensitive.
    pub non_secret_name_suffixes: Vec<String>,
    /// Value prefixes that are references resolved at run time, not plaintext
    /// (secret-plaintext): Berglas, Vault webhooks, vals, argocd-vault-plugin.
    pub reference_prefixes: Vec<String>,
    /// Whether secret-plaintext also runs at admission (there, Helm releases, controllers and
    /// operators write Secrets with data all the time).
    pub enforce_at_admission: bool,
    /// At admission: kinds of owners (metadata.ownerReferences) whose Secrets are exempt — a
    /// controller decrypted or fetched them (secret-plaintext).
    pub allowed_owners: Vec<String>,
    /// Secret types that are exempt (secret-plaintext), at admission and in manifests.
    pub allowed_types: Vec<String>,
    /// At admission: users whose requests are exempt (secret-plaintext). Not supported yet:
    /// the SDK does not pass the request's userInfo to rules, so a non-empty list is refused
    /// rather than silently ignored.
    pub allowed_users: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            // The names credentials go by in the wild (the list).
            sensitive_name_patterns: [
                "password",
                "passwd",
                "secret",
                "token",
                "api_key",
                "apikey",
                "private_key",
                "credential",
                "bearer",
            ]
            .map(String::from)
            .to_vec(),
            // Names ending in these point at a credential (a file, a Secret's name, a URL to
            // fetch one) or configure it (a length, a TTL), as public manifests use them:
            // METALLB_ML_SECRET_NAME, --service-account-token-path, bearer_token_file.
            non_secret_name_suffixes: [
                "file",
                "files",
                "path",
                "paths",
                "dir",
                "directory",
                "name",
                "names",
                "ref",
                "namespace",
                "url",
                "uri",
                "endpoint",
                "host",
                "port",
                "enabled",
                "enable",
                "disabled",
                "ttl",
                "timeout",
                "expiry",
                "expiration",
                "length",
                "size",
                "type",
                "header",
                "format",
                "mode",
                "method",
                "version",
                "annotation",
                "label",
                "location",
                "provider",
                "issuer",
                "audience",
                "scope",
                "scopes",
                "mount",
                "env",
                "source",
                "store",
                "field",
                "prefix",
                "suffix",
                "algorithm",
            ]
            .map(String::from)
            .to_vec(),
            // Berglas (berglas://, sm://), Bank-Vaults' webhook (vault:), vals (ref+...), the
            // argocd-vault-plugin (<path:...>): the talk's slide 40 stores only references.
            reference_prefixes: ["berglas://", "sm://", "vault:", "ref+", "<path:"]
                .map(String::from)
                .to_vec(),
            // At admission every Secret holds data; the risk the check names is git.
            enforce_at_admission: false,
            // Their controllers write the decrypted Secret; it never was in git.
            allowed_owners: ["SealedSecret", "ExternalSecret"]
                .map(String::from)
                .to_vec(),
            // Token Secrets the control plane fills, and Helm's release records.
            allowed_types: ["kubernetes.io/service-account-token", "helm.sh/release.v1"]
                .map(String::from)
                .to_vec(),
            allowed_users: Vec::new(),
        }
    }
}

impl RuleSettings for Settings {
    fn validate(&self) -> Result<(), String> {
        let lists = [
            ("sensitiveNamePatterns", &self.sensitive_name_patterns),
            ("nonSecretNameSuffixes", &self.non_secret_name_suffixes),
            ("referencePrefixes", &self.reference_prefixes),
            ("allowedOwners", &self.allowed_owners),
            ("allowedTypes", &self.allowed_types),
        ];
        for (field, list) in lists {
            if let Some(i) = list.iter().position(|s| s.trim().is_empty()) {
                return Err(format!(
                    "{field}[{i}] is empty: every entry must say something"
                ));
            }
        }
        if let Some(i) = self
            .sensitive_name_patterns
            .iter()
            .position(|p| crate::credentials::normalize(p).is_empty())
        {
            return Err(format!(
                "sensitiveNamePatterns[{i}] has no letter or digit: patterns are matched ignoring '_', '-' and '.'"
            ));
        }
        if !self.allowed_users.is_empty() {
            return Err(
                "allowedUsers is not supported yet: this version cannot read the admission request's userInfo; exempt the objects with the prodready.io/skip-secret-plaintext annotation instead, or leave allowedUsers empty"
                    .into(),
            );
        }
        Ok(())
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
        assert!(parse(json!({"enforceAtAdmision": true})).is_err());
    }

    #[test]
    fn bad_values_name_the_field() {
        let e = parse(json!({"sensitiveNamePatterns": ["password", "--"]})).unwrap_err();
        assert!(e.contains("sensitiveNamePatterns[1]"), "{e}");
        let e = parse(json!({"allowedTypes": [""]})).unwrap_err();
        assert!(e.contains("allowedTypes[0]"), "{e}");
        let e = parse(
            json!({"allowedUsers": ["system:serviceaccount:flux-system:kustomize-controller"]}),
        )
        .unwrap_err();
        assert!(e.contains("allowedUsers is not supported yet"), "{e}");
    }
}

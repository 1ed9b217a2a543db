//! Rule 7 of the talk, config injection (slides 38-40): configuration comes from outside the
//! image, and secrets stay secret. Secrets are not committed as base64 plaintext, credentials
//! are not written into env values, arguments or ConfigMaps, Secrets reach containers as files
//! rather than environment variables, and every ConfigMap and Secret a pod references exists.
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
pub mod credentials;
pub mod settings;

use prodready_sdk::metadata::{
    CRON_JOB, DAEMON_SET, DEPLOYMENT, JOB, POD, REPLICA_SET, REPLICATION_CONTROLLER, STATEFUL_SET,
};
use prodready_sdk::{
    CREATE_UPDATE, Check, ContextResource, Cx, Findings, Object, Resource, Rule, RuleInfo, Severity,
};

pub use settings::Settings;

pub const SECRET_PLAINTEXT: Check = Check {
    id: "secret-plaintext",
    severity: Severity::Error,
    description: "In a manifest set (files headed for git), a Secret holds no plaintext in data or stringData (base64 is an encoding, not encryption): SOPS-encrypted values (ENC[...] with a sops key), references (berglas://, vault:, ref+...), empty values and allowedTypes pass. At admission only with enforceAtAdmission: true, exempting allowedOwners and allowedTypes.",
    remediation: "Commit a SealedSecret or an ExternalSecret instead of the Secret, encrypt the file with SOPS, or store references that a webhook resolves (Berglas, Vault).",
    context: "",
};

pub const ENV_LITERAL_CREDENTIAL: Check = Check {
    id: "env-literal-credential",
    severity: Severity::Error,
    description: "No container has a literal env value that is a credential: a variable whose name matches sensitiveNamePatterns (not one naming a file, path or secret, such as TOKEN_FILE or SECRET_NAME), or a value that is a PEM private key, a JWT, a bearer token or a URL with a password; nor a --password=... style argument.",
    remediation: "Put the credential in a Secret and reference it (env[].valueFrom.secretKeyRef, or better a mounted secret volume), and pass arguments as $(VAR) references to such variables.",
    context: "",
};

pub const CONFIGMAP_SENSITIVE: Check = Check {
    id: "configmap-sensitive",
    severity: Severity::Error,
    description: "No ConfigMap holds a credential: a key matching sensitiveNamePatterns with a literal value, a `key: value` / `key = value` line of an embedded config file whose key matches, or a value that is a PEM private key, a JWT, a bearer token or a URL with a password.",
    remediation: "Move the credential to a Secret (kept out of git with SealedSecrets, ExternalSecrets or SOPS) and have the config file reference it, e.g. a ${VAR} placeholder or a *_file path.",
    context: "",
};

pub const SECRET_ENV_VAR: Check = Check {
    id: "secret-env-var",
    severity: Severity::Warning,
    description: "Containers do not read Secrets as environment variables (env[].valueFrom.secretKeyRef, envFrom[].secretRef): the environment leaks into crash dumps, logs, child processes and `kubectl describe` output of debug tooling, and does not follow a rotated Secret.",
    remediation: "Mount the Secret as a volume (secret or projected) and have the application read the file, e.g. DB_PASSWORD_FILE=/var/run/secrets/db/password.",
    context: "",
};

pub const CONFIG_REF_EXISTS: Check = Check {
    id: "config-ref-exists",
    severity: Severity::Error,
    description: "Every ConfigMap a pod references (env valueFrom, envFrom, configMap and projected volumes) exists, and every ConfigMap and Secret it reads keys of has those keys, unless the reference is optional: true (error); a missing Secret is a warning, since controllers (cert-manager, ExternalSecrets, SealedSecrets, operators) create Secrets at run time.",
    remediation: "Create the ConfigMap or Secret (or fix the name or key), or mark the reference optional: true if the pod works without it.",
    context: "Reads the ConfigMaps and Secrets of the pod's namespace (their keys and type, never their values). Skipped without context, and for a kind of which the set holds no object in that namespace (they are managed outside the set). At admission every finding is a warning: Kubernetes starts the pod once the object appears, and tools and controllers create objects in their own order. kube-root-ca.crt and istio-ca-root-cert, published in every namespace, always exist.",
};

pub const CONFIG_MAP: Resource = Resource::namespaced("", &["v1"], "ConfigMap", "configmaps");
pub const SECRET: Resource = Resource::namespaced("", &["v1"], "Secret", "secrets");

/// Every workload kind, ConfigMaps and Secrets.
pub const RESOURCES: &[Resource] = &[
    POD,
    REPLICATION_CONTROLLER,
    DEPLOYMENT,
    STATEFUL_SET,
    DAEMON_SET,
    REPLICA_SET,
    JOB,
    CRON_JOB,
    CONFIG_MAP,
    SECRET,
];

pub struct ConfigInjection;

impl Rule for ConfigInjection {
    type Settings = Settings;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const INFO: RuleInfo = RuleInfo {
        number: 7,
        id: "config-injection",
        title: "Config injection",
        description: "Configuration comes from outside the image and secrets stay secret: no plaintext Secrets in git, no credentials in env values, arguments or ConfigMaps, Secrets mounted rather than exported, and every referenced ConfigMap and Secret exists.",
        slide: "slides 38-40",
        checks: &[
            SECRET_PLAINTEXT,
            ENV_LITERAL_CREDENTIAL,
            CONFIGMAP_SENSITIVE,
            SECRET_ENV_VAR,
            CONFIG_REF_EXISTS,
        ],
        resources: RESOURCES,
        context: &[
            ContextResource::new(CONFIG_MAP, &["data:keys", "binaryData:keys"]),
            ContextResource::new(SECRET, &["data:keys", "stringData:keys", "type"]),
        ],
        operations: CREATE_UPDATE,
    };

    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Settings>,
        out: &mut Findings,
    ) -> Result<(), String> {
        if let Some(workload) = object.workload() {
            checks::check_workload(object, workload, cx, out);
        } else if object.is(SECRET.group, SECRET.kind) {
            let secret: checks::SecretView = object.parse()?;
            checks::secret_plaintext(object, &secret, cx, out);
        } else if object.is(CONFIG_MAP.group, CONFIG_MAP.kind) {
            let cm: checks::ConfigMapView = object.parse()?;
            checks::configmap_sensitive(&cm, cx.settings, out);
        }
        Ok(())
    }
}

prodready_sdk::export_rule!(ConfigInjection);

#[cfg(test)]
mod tests {
    use prodready_sdk::testing;
    use serde_json::{Value, json};

    use super::ConfigInjection;

    #[test]
    fn config_ref_exists_is_skipped_without_context() {
        let d = testing::object(
            prodready_sdk::WorkloadKind::Deployment,
            "web",
            json!({"app": "web"}),
            json!({"containers": [{"name": "web", "image": "w:1",
                "envFrom": [{"configMapRef": {"name": "web-config"}}]}]}),
        );
        let v = testing::evaluate::<ConfigInjection>(&d, &Value::Null);
        assert!(v.violations.is_empty(), "{v:?}");
        assert_eq!(v.skipped_checks.len(), 1);
        assert_eq!(v.skipped_checks[0].check, "config-ref-exists");
    }

    #[test]
    fn metadata_lists_the_checks_and_a_strict_schema() {
        let m: Value = serde_json::from_slice(&super::metadata_json()).unwrap();
        assert_eq!(m["id"], "config-injection");
        assert_eq!(m["number"], 7);
        let props = m["settingsSchema"]["properties"].as_object().unwrap();
        for key in [
            "sensitiveNamePatterns",
            "nonSecretNameSuffixes",
            "referencePrefixes",
            "enforceAtAdmission",
            "allowedOwners",
            "allowedTypes",
            "allowedUsers",
            "audit",
            "severity",
        ] {
            assert!(props.contains_key(key), "schema lacks {key}");
        }
        assert_eq!(
            m["contextResources"][1]["fields"],
            json!(["data:keys", "stringData:keys", "type"])
        );
    }
}

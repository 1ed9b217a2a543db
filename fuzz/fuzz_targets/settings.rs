//! The bytes as settings: every rule's `validate_settings_json` answers `{"valid", "message"}`,
//! and, when the bytes are JSON, evaluating a fixed well-formed envelope with them as
//! `settings` agrees with it: valid settings never give an `invalid-settings` error (nor any
//! error, the object being well-formed), invalid ones always give an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prodready_fuzz::{check_enforced, check_validation, check_verdict, rules};
use prodready_sdk::ErrorCode;
use serde_json::Value;

/// A Deployment that fails checks of every rule (no probes on one container, a probe on an
/// undeclared port, a short grace period, no limits, an emptyDir without sizeLimit).
const OBJECT: &str = r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","annotations":{"prodready.io/skip-probe-timing":"legacy"}},"spec":{"template":{"metadata":{"labels":{"app":"web"}},"spec":{"terminationGracePeriodSeconds":10,"priorityClassName":"critical","containers":[{"name":"api","image":"r/api:1","command":["/bin/sh","-c","exec api"],"ports":[{"name":"http","containerPort":8080}],"readinessProbe":{"httpGet":{"path":"/ready","port":"http"},"periodSeconds":5,"timeoutSeconds":5},"livenessProbe":{"httpGet":{"path":"/ready","port":9090},"failureThreshold":1},"lifecycle":{"preStop":{"sleep":{"seconds":28}}},"resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"1","memory":"1Gi"}}},{"name":"worker","image":"r/worker:1","resources":{"requests":{"cpu":"1"}}}],"initContainers":[{"name":"proxy","image":"r/proxy:1","restartPolicy":"Always"}],"volumes":[{"name":"tmp","emptyDir":{}}]}}}}"#;

fuzz_target!(|data: &[u8]| {
    let json = std::str::from_utf8(data)
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    for rule in rules() {
        let validation = check_validation(rule, &(rule.validate_settings)(data));
        let Some(settings) = &json else { continue };
        let text = std::str::from_utf8(data).unwrap_or_default();
        let envelope = format!(
            r#"{{"request":{{"kind":{{"group":"apps","version":"v1","kind":"Deployment"}},"operation":"CREATE","object":{OBJECT}}},"settings":{text}}}"#
        );
        let verdict = check_verdict(rule, &(rule.evaluate)(envelope.as_bytes()));
        let code = verdict.error.as_ref().map(|e| e.code);
        if validation.valid {
            assert_ne!(
                code,
                Some(ErrorCode::InvalidSettings),
                "{}: valid settings, invalid-settings verdict",
                rule.id
            );
            assert_eq!(code, None, "{}: valid settings, error verdict", rule.id);
            if settings.get("audit") == Some(&Value::Bool(true)) {
                assert!(verdict.allowed, "{}: audit mode denies", rule.id);
            } else {
                check_enforced(rule, &verdict);
            }
        } else {
            assert!(
                code.is_some(),
                "{}: invalid settings ({:?}), but a verdict without error",
                rule.id,
                validation.message
            );
        }
    }
});

//! The Kubewarden flavour: the same rule, answering Kubewarden's waPC policy protocol.
//!
//! Kubewarden calls three operations (docs/abi.md §7):
//! - `validate`: payload `{"request": AdmissionRequest, "settings": {...}}`, which is the core
//!   ABI's envelope without `context` and `mode`; the answer is a [`ValidationResponse`].
//! - `validate_settings`: the bare settings; the answer is `{"valid", "message"}`.
//! - `protocol_version`: the JSON string `"v1"`.
//!
//! Rules that read other objects (`RuleInfo::context`) fetch them from the cluster through
//! Kubewarden's host capabilities (`kubewarden`/`kubernetes`): namespaced kinds with
//! `list_resources_by_namespace` in the request's namespace, cluster-scoped kinds (and every
//! kind when the request has no namespace) with `list_resources_all` — so the cross-object
//! checks run at admission too.
//!
//! Everything here is plain Rust, tested natively; the waPC glue (`wapc_init`, host calls)
//! lives in [`crate::__export_kubewarden`] and needs the `kubewarden` feature on wasm32.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::context::{self, Context};
use crate::metadata::Resource;
use crate::object::split_api_version;
use crate::run;
use crate::verdict::{ErrorCode, Severity, Verdict};
use crate::{Rule, Violation};

/// The waPC protocol version this flavour speaks.
pub const PROTOCOL_VERSION: &str = "v1";

/// Kubewarden's answer to `validate` (its field names are snake_case).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationResponse {
    pub accepted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_annotations: Option<BTreeMap<String, String>>,
}

/// A request for the objects of one kind, in one namespace or (`namespace: None`) in all.
/// Answered by the host with a Kubernetes list (`{"items": [...]}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListRequest {
    pub api_version: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
}

impl ListRequest {
    /// The host capability operation that answers this request.
    pub fn operation(&self) -> &'static str {
        if self.namespace.is_some() {
            "list_resources_by_namespace"
        } else {
            "list_resources_all"
        }
    }
}

#[derive(Deserialize)]
struct List {
    #[serde(default)]
    items: Option<Vec<Box<RawValue>>>,
}

/// The list requests a `validate` payload needs answered: one per context resource of the
/// rule, when the rule evaluates the request at all. Unreadable payloads need none (the
/// evaluation reports them).
pub fn context_requests<R: Rule>(payload: &[u8]) -> Vec<ListRequest> {
    let Some(needed) = context::needed(&R::INFO, payload) else {
        return Vec::new();
    };
    needed
        .lists
        .into_iter()
        .map(|w| ListRequest {
            api_version: w.resource.api_version(),
            kind: w.resource.kind.to_string(),
            namespace: w.namespace,
            label_selector: None,
            field_selector: None,
        })
        .collect()
}

/// Answers `validate`. `fetch` answers a [`ListRequest`] with the host's raw list JSON.
///
/// Fail-closed: a payload the rule cannot read, a failed fetch, or any other error verdict
/// rejects, with a message that says what went wrong.
pub fn validate<R: Rule>(
    payload: &[u8],
    mut fetch: impl FnMut(&ListRequest) -> Result<Vec<u8>, String>,
) -> ValidationResponse {
    let mut objects = Vec::new();
    for request in context_requests::<R>(payload) {
        let listed = fetch(&request).and_then(|bytes| {
            serde_json::from_slice::<List>(&bytes)
                .map_err(|e| format!("the host's answer is not a Kubernetes list: {e}"))
        });
        match listed {
            Ok(list) => objects.extend(
                list.items
                    .unwrap_or_default()
                    .into_iter()
                    .map(|item| (request.api_version.clone(), request.kind.clone(), item)),
            ),
            Err(e) => {
                let verdict = Verdict::error(
                    ErrorCode::InvalidContext,
                    format!(
                        "cannot list {} {} {} from the cluster: {e}. The policy needs \
                         contextAwareResources for {} {}",
                        request.api_version,
                        request.kind,
                        match &request.namespace {
                            Some(ns) => format!("in namespace {ns}"),
                            None => "in all namespaces".to_string(),
                        },
                        request.api_version,
                        request.kind
                    ),
                );
                return response(R::INFO.id, &verdict);
            }
        }
    }
    let verdict = match Context::from_listed(objects) {
        Ok(context) => run::evaluate_with::<R>(payload, &context),
        Err(e) => Verdict::error(ErrorCode::InvalidContext, e),
    };
    response(R::INFO.id, &verdict)
}

/// Answers `validate_settings`.
pub fn validate_settings<R: Rule>(payload: &[u8]) -> Vec<u8> {
    run::validate_settings_json::<R>(payload)
}

/// Answers `protocol_version`.
pub fn protocol_version() -> Vec<u8> {
    format!("\"{PROTOCOL_VERSION}\"").into_bytes()
}

/// The audit annotation listing a rule's violations: `prodready.io/<rule>`.
pub fn violations_annotation(rule: &str) -> String {
    format!("prodready.io/{rule}")
}

/// The audit annotation listing a rule's exemptions: `prodready.io/<rule>-exempted`, a JSON
/// array of `{"check", "reason"}`.
pub fn exemptions_annotation(rule: &str) -> String {
    format!("prodready.io/{rule}-exempted")
}

/// Maps a verdict to Kubewarden's answer.
///
/// - an error verdict rejects: code 400 when the request could not be read, 500 otherwise;
/// - error-severity violations reject, every message in `message`;
/// - warning-severity violations become `warnings` (shown to the user by kubectl);
/// - in audit mode every violation becomes a warning and the request is accepted;
/// - the violated check ids and the exemptions go into `audit_annotations`.
pub fn response(rule: &str, verdict: &Verdict) -> ValidationResponse {
    if let Some(error) = &verdict.error {
        let code = match error.code {
            ErrorCode::InvalidUtf8
            | ErrorCode::InvalidEnvelope
            | ErrorCode::InvalidObject
            | ErrorCode::KindMismatch
            | ErrorCode::TooLarge => 400,
            _ => 500,
        };
        let code_name = serde_json::to_value(error.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        return ValidationResponse {
            accepted: false,
            message: Some(format!(
                "prodready {rule} cannot evaluate this request ({code_name}): {}",
                error.message
            )),
            code: Some(code),
            ..ValidationResponse::default()
        };
    }
    let line = |v: &Violation| format!("[{}] {}", v.check, v.message);
    let mut denials = Vec::new();
    let mut warnings = Vec::new();
    for v in &verdict.violations {
        match (v.severity, verdict.allowed) {
            (Severity::Error, false) => denials.push(line(v)),
            (Severity::Error, true) => warnings.push(format!("(audit) {}", line(v))),
            (Severity::Warning, _) => warnings.push(line(v)),
        }
    }
    let mut annotations = BTreeMap::new();
    if !verdict.violations.is_empty() {
        let ids: Vec<&str> = verdict
            .violations
            .iter()
            .map(|v| v.check.as_str())
            .collect();
        annotations.insert(violations_annotation(rule), ids.join(","));
    }
    if !verdict.exempted.is_empty() {
        // JSON: reasons are free text and may hold any separator.
        let exempted: Vec<serde_json::Value> = verdict
            .exempted
            .iter()
            .map(|e| serde_json::json!({"check": e.check, "reason": e.reason}))
            .collect();
        annotations.insert(
            exemptions_annotation(rule),
            serde_json::Value::Array(exempted).to_string(),
        );
    }
    let message = (!denials.is_empty()).then(|| {
        let object = verdict
            .violations
            .first()
            .map(|v| {
                let o = &v.object;
                match &o.namespace {
                    Some(ns) => format!("{} {ns}/{}", o.kind, o.name),
                    None => format!("{} {}", o.kind, o.name),
                }
            })
            .unwrap_or_default();
        format!(
            "{object} is not production-ready (prodready {rule}): {}",
            denials.join("; ")
        )
    });
    ValidationResponse {
        accepted: verdict.allowed,
        message,
        code: None,
        warnings: (!warnings.is_empty()).then_some(warnings),
        audit_annotations: (!annotations.is_empty()).then_some(annotations),
    }
}

/// The Kubewarden metadata's `contextAwareResources` entry for a resource (its served
/// version: what the flavour lists at admission).
pub fn context_aware_resource(r: &Resource) -> serde_json::Value {
    serde_json::json!({ "apiVersion": r.api_version(), "kind": r.kind })
}

/// Splits `apps/v1` into (`apps`, `v1`); re-exported for hosts answering list requests.
pub fn group_version(api_version: &str) -> (&str, &str) {
    split_api_version(api_version)
}

/// Exports the waPC flavour of a rule. Use through [`crate::export_rule!`] with the
/// `kubewarden` feature.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_kubewarden {
    ($rule:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        type __ProdreadyRule = $rule;

        #[cfg(target_arch = "wasm32")]
        mod __prodready_wapc {
            /// Registers the operations; the waPC host calls this once, before any call.
            #[unsafe(no_mangle)]
            pub extern "C" fn wapc_init() {
                $crate::kubewarden::wapc::register::<super::__ProdreadyRule>();
            }
        }
    };
}

/// The waPC glue: handlers and host calls (wasm32 with the `kubewarden` feature).
#[cfg(all(target_arch = "wasm32", feature = "kubewarden"))]
pub mod wapc {
    use super::ListRequest;
    use crate::Rule;

    type CallResult = wapc_guest::CallResult;

    /// Registers `validate`, `validate_settings` and `protocol_version` for rule `R`.
    pub fn register<R: Rule>() {
        wapc_guest::register_function("validate", validate::<R>);
        wapc_guest::register_function("validate_settings", validate_settings::<R>);
        wapc_guest::register_function("protocol_version", protocol_version);
    }

    fn validate<R: Rule>(payload: &[u8]) -> CallResult {
        let answer = super::validate::<R>(payload, fetch);
        Ok(crate::run::to_json(&answer))
    }

    fn validate_settings<R: Rule>(payload: &[u8]) -> CallResult {
        Ok(super::validate_settings::<R>(payload))
    }

    fn protocol_version(_payload: &[u8]) -> CallResult {
        Ok(super::protocol_version())
    }

    /// Asks Kubewarden for a list of objects (`kubewarden`/`kubernetes` host capability).
    fn fetch(request: &ListRequest) -> Result<Vec<u8>, String> {
        let message = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        wapc_guest::host_call("kubewarden", "kubernetes", request.operation(), &message)
            .map_err(|e| e.to_string())
    }
}

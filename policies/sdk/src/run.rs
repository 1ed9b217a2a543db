//! The evaluation pipeline, the same natively and in wasm: envelope → settings → object →
//! the rule's checks → severities, exemptions, audit → verdict.

use std::cell::RefCell;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::context::Context;
use crate::envelope::{self, ObjectIn, Request};
use crate::metadata::{Check, Metadata};
use crate::object::{Body, Header, Meta, Object, split_api_version};
use crate::settings::{RuleSettings, Settings, schema};
use crate::verdict::{ErrorCode, Exemption, ObjectRef, SettingsValidation, Verdict, Violation};
use crate::workload::{self, WorkloadKind};
use crate::{Rule, annotations};

/// Where a check runs: on a manifest set (CLI, CI) or on one API request at admission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Admission,
    Manifest,
}

/// What a check function sees besides the object.
#[derive(Debug)]
pub struct Cx<'a, S> {
    pub settings: &'a S,
    pub mode: Mode,
    pub context: &'a Context,
}

/// One finding of a check, before severities and exemptions apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static Check,
    pub path: String,
    pub message: String,
}

/// Where checks put what they find.
#[derive(Debug, Default)]
pub struct Findings {
    items: Vec<Finding>,
}

impl Findings {
    pub fn new() -> Findings {
        Findings::default()
    }

    /// Reports a violation of `check` at `path`. The message names the container or field and
    /// says what to change.
    pub fn report(&mut self, check: &'static Check, path: String, message: String) {
        self.items.push(Finding {
            check,
            path,
            message,
        });
    }

    pub fn items(&self) -> &[Finding] {
        &self.items
    }

    /// The check ids found, in order: what tests compare.
    pub fn ids(&self) -> Vec<&'static str> {
        self.items.iter().map(|f| f.check.id).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

thread_local! {
    /// The context loaded with `context_load`, used by every `evaluate` whose envelope
    /// carries no context of its own.
    static LOADED: RefCell<Context> = RefCell::new(Context::default());
}

/// Loads `{"objects": [...]}` as the instance's context. Returns `{"loaded": n}` or an error
/// verdict.
pub fn context_load_json(input: &[u8]) -> Vec<u8> {
    let result = std::str::from_utf8(input)
        .map_err(|e| Verdict::error(ErrorCode::InvalidUtf8, format!("context is not UTF-8: {e}")))
        .and_then(|s| {
            Context::from_json(s).map_err(|e| Verdict::error(ErrorCode::InvalidContext, e))
        });
    match result {
        Ok(ctx) => {
            let n = ctx.len();
            LOADED.with(|l| *l.borrow_mut() = ctx);
            format!("{{\"loaded\":{n}}}").into_bytes()
        }
        Err(v) => to_json(&v),
    }
}

/// Forgets the loaded context.
pub fn context_clear() {
    LOADED.with(|l| *l.borrow_mut() = Context::default());
}

pub fn metadata<R: Rule>() -> Metadata {
    Metadata::new(&R::INFO, R::VERSION, schema::<R::Settings>())
}

pub fn metadata_json<R: Rule>() -> Vec<u8> {
    to_json(&metadata::<R>())
}

pub fn validate_settings<R: Rule>(input: &[u8]) -> SettingsValidation {
    let parsed = std::str::from_utf8(input)
        .map_err(|e| format!("settings are not UTF-8: {e}"))
        .and_then(|s| {
            let s = s.trim();
            Settings::<R::Settings>::parse(&R::INFO, (!s.is_empty()).then_some(s))
        });
    match parsed {
        Ok(_) => SettingsValidation {
            valid: true,
            message: None,
        },
        Err(message) => SettingsValidation {
            valid: false,
            message: Some(message),
        },
    }
}

pub fn validate_settings_json<R: Rule>(input: &[u8]) -> Vec<u8> {
    to_json(&validate_settings::<R>(input))
}

pub fn evaluate_json<R: Rule>(input: &[u8]) -> Vec<u8> {
    to_json(&evaluate::<R>(input))
}

/// Evaluates one envelope. Never panics on any input; anything not understood is an error
/// verdict, which never allows.
pub fn evaluate<R: Rule>(input: &[u8]) -> Verdict {
    LOADED.with(|l| match l.try_borrow() {
        Ok(loaded) => evaluate_with::<R>(input, &loaded),
        Err(_) => Verdict::error(ErrorCode::InvalidContext, "context is busy"),
    })
}

/// [`evaluate`], with `loaded` as the context when the envelope carries none.
pub fn evaluate_with<R: Rule>(input: &[u8], loaded: &Context) -> Verdict {
    let text = match std::str::from_utf8(input) {
        Ok(t) => t,
        Err(e) => {
            return Verdict::error(ErrorCode::InvalidUtf8, format!("input is not UTF-8: {e}"));
        }
    };
    let envelope = match envelope::parse(text, &R::INFO) {
        Ok(e) => e,
        Err((code, message)) => return Verdict::error(code, message),
    };
    let settings =
        match Settings::<R::Settings>::parse(&R::INFO, envelope.settings.map(RawValue::get)) {
            Ok(s) => s,
            Err(e) => return Verdict::error(ErrorCode::InvalidSettings, e),
        };
    match envelope.context {
        Some(ctx) => {
            let owned = ctx
                .objects
                .into_iter()
                .map(|r| r.to_owned())
                .collect::<Vec<_>>();
            match Context::from_raw(owned) {
                Ok(context) => {
                    evaluate_request::<R>(envelope.request, envelope.mode, &settings, &context)
                }
                Err(e) => Verdict::error(ErrorCode::InvalidContext, e),
            }
        }
        None => evaluate_request::<R>(envelope.request, envelope.mode, &settings, loaded),
    }
}

fn evaluate_request<R: Rule>(
    request: Request<'_>,
    mode: Mode,
    settings: &Settings<R::Settings>,
    context: &Context,
) -> Verdict {
    let info = &R::INFO;
    let operation = request.operation.as_deref().unwrap_or("CREATE");
    if !info.operations.contains(&operation) {
        return Verdict::skipped(format!(
            "rule {} does not check {operation} requests",
            info.id
        ));
    }
    let raw = match &request.object {
        ObjectIn::Absent => {
            return Verdict::error(
                ErrorCode::InvalidEnvelope,
                format!("request.object is required for a {operation} request"),
            );
        }
        ObjectIn::Raw(raw) => Some(*raw),
        ObjectIn::Workload(_) => None,
    };
    // Group and kind: from request.kind, else from the object itself.
    let (group, version, kind) = match (&request.kind, raw) {
        (Some(gvk), _) => (gvk.group.clone(), gvk.version.clone(), gvk.kind.clone()),
        (None, None) => {
            return Verdict::error(ErrorCode::InvalidEnvelope, "request.kind is required");
        }
        (None, Some(raw)) => {
            let header: Header = match serde_json::from_str(raw.get()) {
                Ok(h) => h,
                Err(e) => {
                    return Verdict::error(
                        ErrorCode::InvalidObject,
                        format!("request.object is not a Kubernetes object: {e}"),
                    );
                }
            };
            let (Some(api_version), Some(kind)) = (header.api_version, header.kind) else {
                return Verdict::error(
                    ErrorCode::InvalidObject,
                    "request.object has no apiVersion or kind, and request.kind is not set",
                );
            };
            let (g, v) = split_api_version(&api_version);
            (g.to_string(), v.to_string(), kind)
        }
    };
    if !info.handles(&group, &kind) {
        let gv = if group.is_empty() {
            version.clone()
        } else {
            format!("{group}/{version}")
        };
        return Verdict::skipped(format!("rule {} does not apply to {gv} {kind}", info.id));
    }
    let object = match parse_object(&group, &version, &kind, request) {
        Ok(o) => o,
        Err(v) => return v,
    };
    let cx = Cx {
        settings: &settings.rule,
        mode,
        context,
    };
    let mut findings = Findings::new();
    if let Err(message) = R::evaluate(&object, &cx, &mut findings) {
        return Verdict::error(ErrorCode::InvalidObject, message);
    }
    finish(info.id, &object, settings, findings)
}

fn parse_object<'a>(
    group: &str,
    version: &str,
    kind: &str,
    request: Request<'a>,
) -> Result<Object<'a>, Verdict> {
    let workload_kind = WorkloadKind::from_group_kind(group, kind);
    let (api_version, object_kind, meta, body) = match (request.object, workload_kind) {
        (ObjectIn::Workload(parsed), _) => {
            let parsed = *parsed;
            (
                parsed.api_version,
                parsed.kind,
                parsed.meta,
                Body::Workload(Box::new(parsed.workload)),
            )
        }
        (ObjectIn::Absent, _) => {
            return Err(Verdict::error(
                ErrorCode::InvalidEnvelope,
                "request.object is required",
            ));
        }
        (ObjectIn::Raw(raw), Some(wk)) => {
            let parsed = workload::parse(wk, raw)
                .map_err(|e| Verdict::error(ErrorCode::InvalidObject, e))?;
            (
                parsed.api_version,
                parsed.kind,
                parsed.meta,
                Body::Workload(Box::new(parsed.workload)),
            )
        }
        (ObjectIn::Raw(raw), None) => {
            let header: Header = serde_json::from_str(raw.get()).map_err(|e| {
                Verdict::error(
                    ErrorCode::InvalidObject,
                    format!("{kind} is not a Kubernetes object: {e}"),
                )
            })?;
            (
                header.api_version,
                header.kind,
                header.metadata,
                Body::Raw(raw),
            )
        }
    };
    let expected_api_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    if let Some(k) = object_kind.as_deref().filter(|k| *k != kind) {
        return Err(Verdict::error(
            ErrorCode::KindMismatch,
            format!("request.kind is {kind} but the object is a {k}"),
        ));
    }
    if let Some(av) = api_version
        .as_deref()
        .filter(|av| split_api_version(av).0 != group)
    {
        return Err(Verdict::error(
            ErrorCode::KindMismatch,
            format!("request.kind is {expected_api_version} {kind} but the object is {av}"),
        ));
    }
    let reference = object_ref(
        api_version.unwrap_or(expected_api_version),
        kind.to_string(),
        &meta,
        request.namespace,
        request.name,
    );
    Ok(Object {
        reference,
        meta,
        body,
    })
}

fn object_ref(
    api_version: String,
    kind: String,
    meta: &Meta,
    namespace: Option<String>,
    name: Option<String>,
) -> ObjectRef {
    let name = meta
        .name
        .clone()
        .or_else(|| name.filter(|n| !n.is_empty()))
        .or_else(|| meta.generate_name.as_ref().map(|g| format!("{g}*")))
        .unwrap_or_default();
    ObjectRef {
        api_version,
        kind,
        namespace: meta
            .namespace
            .clone()
            .or_else(|| namespace.filter(|n| !n.is_empty())),
        name,
    }
}

/// Applies severity overrides, exemptions and audit mode.
fn finish<S: RuleSettings>(
    rule: &str,
    object: &Object<'_>,
    settings: &Settings<S>,
    findings: Findings,
) -> Verdict {
    let mut violations = Vec::new();
    let mut exempted = Vec::new();
    for f in findings.items {
        let Some(severity) = settings.severity_of(f.check) else {
            continue;
        };
        let mut message = f.message;
        match annotations::exemption(&object.meta, f.check.id) {
            annotations::Exempt::Yes(reason) => {
                exempted.push(Exemption {
                    check: f.check.id.to_string(),
                    reason: reason.to_string(),
                    path: f.path,
                    message,
                });
                continue;
            }
            annotations::Exempt::NoReason(key) => {
                message.push_str(&format!(
                    " (the annotation {key} does not exempt this: it needs a reason as its value)"
                ));
            }
            annotations::Exempt::No => {}
        }
        violations.push(Violation {
            rule: rule.to_string(),
            check: f.check.id.to_string(),
            severity,
            message,
            path: f.path,
            object: object.reference.clone(),
        });
    }
    let denies = violations
        .iter()
        .any(|v| v.severity == crate::Severity::Error);
    Verdict {
        allowed: settings.common.audit || !denies,
        violations,
        exempted,
        skipped: None,
        error: None,
    }
}

#[doc(hidden)]
pub fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    match serde_json::to_vec(value) {
        Ok(v) => v,
        // Our own types always serialize; if one ever did not, say so as an error verdict
        // (which is a fixed, valid JSON text).
        Err(_) => br#"{"allowed":false,"violations":[],"error":{"code":"bad-output","message":"the module could not serialize its answer"}}"#.to_vec(),
    }
}

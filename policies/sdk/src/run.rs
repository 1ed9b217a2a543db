//! The evaluation pipeline, the same natively and in wasm: envelope → settings → object →
//! the rule's checks → severities, exemptions, audit → verdict.

use std::cell::RefCell;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::context::Context;
use crate::envelope::{self, ObjectIn, Request};
use crate::lazy;
use crate::metadata::{Check, Metadata, join_api_version};
use crate::object::{Body, Header, Meta, Object, RawSource, split_api_version};
use crate::settings::{RuleSettings, Settings, schema};
use crate::verdict::{
    ErrorCode, Exemption, ObjectRef, SettingsValidation, SkippedCheck, Verdict, Violation,
};
use crate::workload::{self, WorkloadKind};
use crate::{Rule, annotations, scope};

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
    common: &'a crate::settings::CommonSettings,
}

impl<'a, S> Cx<'a, S> {
    /// A context for calling checks directly (tests, other hosts), with the shared settings
    /// at their defaults.
    pub fn new(settings: &'a S, mode: Mode, context: &'a Context) -> Cx<'a, S> {
        static DEFAULT: std::sync::OnceLock<crate::settings::CommonSettings> =
            std::sync::OnceLock::new();
        Cx {
            settings,
            mode,
            context,
            common: DEFAULT.get_or_init(Default::default),
        }
    }

    /// Whether findings of `check` are reported (its severity is not overridden to `off`):
    /// lets a check that would repeat another's finding for the same cause step back only
    /// when the other one speaks.
    pub fn reports(&self, check: &Check) -> bool {
        !matches!(
            self.common.severity.get(check.id),
            Some(crate::settings::SeverityOverride::Off)
        )
    }

    /// Whether other objects were given at all (the manifest set, or the cluster's objects
    /// at admission). Checks that need them are skipped — reported with
    /// [`Findings::skip`], not failed — when they were not.
    pub fn has_context(&self) -> bool {
        self.context.is_present()
    }
}

/// One finding of a check, before severities and exemptions apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub check: &'static Check,
    /// The check's severity, or a lower one for this finding ([`Findings::warn`]).
    pub severity: crate::Severity,
    pub path: String,
    pub message: String,
}

/// Where checks put what they find.
#[derive(Debug, Default)]
pub struct Findings {
    items: Vec<Finding>,
    skipped: Vec<(&'static Check, String)>,
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
            severity: check.severity,
            path,
            message,
        });
    }

    /// Reports a violation of `check` as a warning, whatever the check's own severity: for
    /// the cases of an error check that are suspicious but may be right (a probe to an
    /// undeclared numeric port works; a named one never does). A user's severity override
    /// for the check still applies to every finding.
    pub fn warn(&mut self, check: &'static Check, path: String, message: String) {
        self.items.push(Finding {
            check,
            severity: crate::Severity::Warning,
            path,
            message,
        });
    }

    /// Says that `check` did not run on this object and why (it needs an object the context
    /// does not hold, or no context was given). Skips never deny; they are listed in the
    /// verdict's `skippedChecks`.
    pub fn skip(&mut self, check: &'static Check, reason: String) {
        if !self.skipped.iter().any(|(c, _)| c.id == check.id) {
            self.skipped.push((check, reason));
        }
    }

    pub fn items(&self) -> &[Finding] {
        &self.items
    }

    /// The checks skipped, with their reasons.
    pub fn skipped(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.skipped.iter().map(|(c, r)| (c.id, r.as_str()))
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
    static LOADED: RefCell<Context> = RefCell::new(Context::absent());
}

/// Loads `{"objects": [...]}` as the instance's context. Returns `{"loaded": n}` or an error
/// verdict.
pub fn context_load_json(input: &[u8]) -> Vec<u8> {
    let result = std::str::from_utf8(input)
        .map_err(|e| (ErrorCode::InvalidUtf8, format!("context is not UTF-8: {e}")))
        .and_then(|s| Context::from_json(s).map_err(|e| (ErrorCode::InvalidContext, e)));
    match result {
        Ok(ctx) => {
            let n = ctx.len();
            LOADED.with(|l| *l.borrow_mut() = ctx);
            format!("{{\"loaded\":{n}}}").into_bytes()
        }
        Err((code, message)) => to_json(&Verdict::error(code, message)),
    }
}

/// Forgets the loaded context.
pub fn context_clear() {
    LOADED.with(|l| *l.borrow_mut() = Context::absent());
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
            match Context::from_raw(owned, ctx.namespace) {
                Ok(context) => evaluate_request::<R>(
                    text,
                    envelope.request,
                    envelope.mode,
                    &settings,
                    &context,
                ),
                Err(e) => Verdict::error(ErrorCode::InvalidContext, e),
            }
        }
        None => evaluate_request::<R>(text, envelope.request, envelope.mode, &settings, loaded),
    }
}

fn evaluate_request<'a, R: Rule>(
    text: &'a str,
    request: Request<'a>,
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
    if !info.handles(&group, &version, &kind) {
        let gv = join_api_version(&group, &version);
        return Verdict::skipped(format!("rule {} does not apply to {gv} {kind}", info.id));
    }
    let object = match parse_object(&group, &version, &kind, text, request, context) {
        Ok(o) => o,
        Err(v) => return *v,
    };
    let cx = Cx {
        settings: &settings.rule,
        mode,
        context,
        common: &settings.common,
    };
    let mut findings = Findings::new();
    lazy::clear_failures();
    let result = R::evaluate(&object, &cx, &mut findings);
    // A part of the object that did not parse when a check read it: the checks' findings
    // cannot be trusted, so the verdict is an error whatever they found.
    if let Some(failure) = lazy::first_failure() {
        lazy::clear_failures();
        return Verdict::error(
            ErrorCode::InvalidObject,
            format!("{kind} does not parse: {failure}"),
        );
    }
    if let Err(message) = result {
        return Verdict::error(ErrorCode::InvalidObject, message);
    }
    finish(info.id, &object, settings, findings)
}

fn parse_object<'a>(
    group: &str,
    version: &str,
    kind: &str,
    text: &'a str,
    request: Request<'a>,
    context: &Context,
) -> Result<Object<'a>, Box<Verdict>> {
    let (api_version, object_kind, meta, raw, body) =
        match (request.object, WorkloadKind::from_group_kind(group, kind)) {
            (ObjectIn::Workload(parsed), _) => {
                let parsed = *parsed;
                (
                    parsed.api_version,
                    parsed.kind,
                    parsed.meta,
                    RawSource::Envelope(text, std::cell::OnceCell::new()),
                    Body::Workload(Box::new(parsed.workload)),
                )
            }
            (ObjectIn::Absent, _) => {
                return Err(Box::new(Verdict::error(
                    ErrorCode::InvalidEnvelope,
                    "request.object is required",
                )));
            }
            (ObjectIn::Raw(raw), Some(wk)) => {
                let parsed = workload::parse(wk, raw)
                    .map_err(|e| Box::new(Verdict::error(ErrorCode::InvalidObject, e)))?;
                (
                    parsed.api_version,
                    parsed.kind,
                    parsed.meta,
                    RawSource::Raw(raw),
                    Body::Workload(Box::new(parsed.workload)),
                )
            }
            (ObjectIn::Raw(raw), None) => {
                let header: Header = serde_json::from_str(raw.get()).map_err(|e| {
                    Box::new(Verdict::error(
                        ErrorCode::InvalidObject,
                        format!("{kind} is not a Kubernetes object: {e}"),
                    ))
                })?;
                (
                    header.api_version,
                    header.kind,
                    header.metadata,
                    RawSource::Raw(raw),
                    Body::Raw,
                )
            }
        };
    let expected_api_version = join_api_version(group, version);
    if let Some(k) = object_kind.as_deref().filter(|k| *k != kind) {
        return Err(Box::new(Verdict::error(
            ErrorCode::KindMismatch,
            format!("request.kind is {kind} but the object is a {k}"),
        )));
    }
    if let Some(av) = api_version
        .as_deref()
        .filter(|av| split_api_version(av).0 != group)
    {
        return Err(Box::new(Verdict::error(
            ErrorCode::KindMismatch,
            format!("request.kind is {expected_api_version} {kind} but the object is {av}"),
        )));
    }
    let reference = object_ref(
        api_version.unwrap_or(expected_api_version),
        kind.to_string(),
        &meta,
        request.namespace,
        request.name,
    );
    let namespace = scope::resolve(
        group,
        kind,
        reference.namespace.as_deref(),
        context.default_namespace(),
    )
    .map(str::to_string);
    Ok(Object {
        reference,
        namespace,
        meta,
        raw,
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
        let Some(severity) = settings.severity_of(f.check, f.severity) else {
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
        skipped_checks: findings
            .skipped
            .into_iter()
            .filter(|(c, _)| settings.severity_of(c, c.severity).is_some())
            .map(|(c, reason)| SkippedCheck {
                check: c.id.to_string(),
                reason,
            })
            .collect(),
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

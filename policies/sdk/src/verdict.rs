//! What an evaluation returns: violations, exemptions and errors, as the ABI's JSON shapes.

use serde::{Deserialize, Serialize};

/// How serious a violation is. `Error` denies at admission and fails `prodready check`;
/// `Warning` is reported but never denies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The object a verdict speaks of.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: String,
}

/// One failed check on one field of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: String,
    pub check: String,
    pub severity: Severity,
    pub message: String,
    /// Field path from the object's root, e.g. `spec.template.spec.containers[0].livenessProbe`.
    pub path: String,
    pub object: ObjectRef,
}

/// A violation that an annotation `prodready.io/skip-<check>: "<reason>"` exempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exemption {
    pub check: String,
    pub reason: String,
    pub path: String,
    pub message: String,
}

/// A check that did not run on the object, and why (it needs other objects that were not
/// given). A skip never denies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedCheck {
    pub check: String,
    pub reason: String,
}

/// Why a module could not evaluate a request. An error verdict never allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictError {
    pub code: ErrorCode,
    pub message: String,
}

/// Stable error codes (part of ABI v1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    /// The input bytes are not UTF-8.
    InvalidUtf8,
    /// The input is not JSON, or not the envelope's shape.
    InvalidEnvelope,
    /// Settings do not match the rule's settings schema.
    InvalidSettings,
    /// The object is of a kind the rule handles but does not parse as that kind.
    InvalidObject,
    /// `request.kind` and the object's own `apiVersion`/`kind` disagree.
    KindMismatch,
    /// A context object could not be read.
    InvalidContext,
    /// The input is larger than the module accepts.
    TooLarge,
    /// Reported by hosts, never by a module: the guest trapped.
    Trap,
    /// Reported by hosts: the guest ran past its deadline.
    Timeout,
    /// Reported by hosts: the guest's output was not a verdict.
    BadOutput,
    /// Reported by hosts: the module does not speak this ABI.
    Abi,
}

/// The result of evaluating one object against one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub allowed: bool,
    #[serde(default)]
    pub violations: Vec<Violation>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exempted: Vec<Exemption>,
    /// Set when the rule does not apply to the object's kind: the object was not examined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Checks that did not run on this object (omitted when none).
    #[serde(
        default,
        rename = "skippedChecks",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub skipped_checks: Vec<SkippedCheck>,
    #[serde(default)]
    pub error: Option<VerdictError>,
}

impl Verdict {
    /// An error verdict: never allowed (fail-closed).
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Verdict {
        Verdict {
            allowed: false,
            violations: Vec::new(),
            exempted: Vec::new(),
            skipped: None,
            skipped_checks: Vec::new(),
            error: Some(VerdictError {
                code,
                message: message.into(),
            }),
        }
    }

    pub fn skipped(reason: impl Into<String>) -> Verdict {
        Verdict {
            allowed: true,
            violations: Vec::new(),
            exempted: Vec::new(),
            skipped: Some(reason.into()),
            skipped_checks: Vec::new(),
            error: None,
        }
    }
}

/// `{"valid": bool, "message": ...}`, the answer to `validate_settings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsValidation {
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

//! Gatekeeper semantics, shared by the OPA-ABI flavour (the module evaluates Gatekeeper's input
//! itself) and the external-data provider (the host evaluates, Rego only relays).
//!
//! Input: `{"review": <AdmissionRequest>, "parameters": <settings>}`, which maps onto the core
//! envelope `{"request": review, "settings": parameters}`. Output: the Rego `violation` set,
//! entries `{"msg": ..., "details": {"rule", "check", "severity", "path"}}`.
//!
//! - error-severity violations that deny are `violation` entries;
//! - warning-severity ones (and, with `audit: true`, every one) are `warn` entries, a second
//!   entrypoint Gatekeeper users can read with `enforcementAction: warn` constraints;
//! - an error verdict is one `violation` entry with `check: "error"` and the error code: input
//!   the rule cannot read is never an empty (allowing) result.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::verdict::{Severity, Verdict};

/// One entry of the `violation` (or `warn`) set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GkViolation {
    pub msg: String,
    pub details: Details,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Details {
    pub rule: String,
    /// The check id, or `error` for an error verdict.
    pub check: String,
    pub severity: Severity,
    /// Field path of the violation; for an error, empty.
    #[serde(default)]
    pub path: String,
    /// For an error verdict: the ABI error code (`invalid-object`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The `violation` and `warn` sets of a verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sets {
    pub violation: Vec<GkViolation>,
    pub warn: Vec<GkViolation>,
}

/// Gatekeeper's input, borrowed.
#[derive(Deserialize)]
struct Input<'a> {
    #[serde(borrow)]
    review: &'a RawValue,
    #[serde(default, borrow)]
    parameters: Option<&'a RawValue>,
}

/// Maps Gatekeeper's input `{"review", "parameters"}` to a core envelope. `Err` holds the
/// message of an `invalid-envelope` error (the caller turns it into a violation).
pub fn envelope(input: &[u8]) -> Result<Vec<u8>, String> {
    let input: Input<'_> = serde_json::from_slice(input)
        .map_err(|e| format!("input is not Gatekeeper's {{\"review\", \"parameters\"}}: {e}"))?;
    let settings = match input.parameters {
        Some(p) if p.get() != "null" => p.get(),
        _ => "{}",
    };
    let mut out = Vec::with_capacity(input.review.get().len() + settings.len() + 32);
    out.extend_from_slice(b"{\"request\":");
    out.extend_from_slice(input.review.get().as_bytes());
    out.extend_from_slice(b",\"settings\":");
    out.extend_from_slice(settings.as_bytes());
    out.push(b'}');
    Ok(out)
}

/// The sets for a verdict of rule `rule`.
pub fn sets(rule: &str, verdict: &Verdict) -> Sets {
    let mut out = Sets::default();
    if let Some(e) = &verdict.error {
        let code = serde_json::to_value(e.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.violation.push(error(rule, &code, &e.message));
        return out;
    }
    for v in &verdict.violations {
        let entry = GkViolation {
            msg: format!("[{}] {}", v.check, v.message),
            details: Details {
                rule: rule.to_string(),
                check: v.check.clone(),
                severity: v.severity,
                path: v.path.clone(),
                code: None,
            },
        };
        if v.severity == Severity::Error && !verdict.allowed {
            out.violation.push(entry);
        } else {
            out.warn.push(entry);
        }
    }
    out
}

/// The `violation` entry for an error: the rule could not evaluate the input.
pub fn error(rule: &str, code: &str, message: &str) -> GkViolation {
    GkViolation {
        msg: format!("prodready {rule} cannot evaluate this request ({code}): {message}"),
        details: Details {
            rule: rule.to_string(),
            check: "error".to_string(),
            severity: Severity::Error,
            path: String::new(),
            code: Some(code.to_string()),
        },
    }
}

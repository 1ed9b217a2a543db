//! The OPA flavour: the same rule as a module any OPA WebAssembly host accepts as if
//! `opa build -t wasm` had made it (ABI 1.3), with Gatekeeper's semantics (docs/abi.md §8).
//!
//! - entrypoint 0 `prodready/<rule>/violation`, entrypoint 1 `prodready/<rule>/warn`;
//! - input `{"review": AdmissionRequest, "parameters": settings}`, data `{}` or Gatekeeper's
//!   `{"inventory": ...}` (objects the rule reads for cross-object checks);
//! - result the set `{{"result": <set of {"msg", "details"}>}}`, never undefined: input the
//!   rule cannot read is a violation that says so ([`crate::gatekeeper`]).
//!
//! This module is plain Rust, tested natively. The wasm side — a bump heap that
//! `opa_heap_ptr_set` can rewind, the OPA exports — is in [`heap`] and [`exports`], built with
//! the `opa` feature on wasm32; the imports and the ABI version globals are added after linking
//! (host-harness/src/opa_link.rs), because stable Rust cannot declare either.

pub mod value;

#[cfg(all(target_arch = "wasm32", feature = "opa"))]
pub mod exports;
#[cfg(all(target_arch = "wasm32", feature = "opa"))]
pub mod heap;

use serde_json::value::RawValue;

use crate::Rule;
use crate::context::{self, Context, Wanted};
use crate::gatekeeper;
use crate::run;
use crate::verdict::{ErrorCode, Verdict};
use value::Val;

/// OPA WebAssembly ABI version this flavour implements.
pub const ABI_VERSION: i32 = 1;
pub const ABI_MINOR_VERSION: i32 = 3;

/// Entrypoint ids.
pub const VIOLATION: i32 = 0;
pub const WARN: i32 = 1;

/// Result formats of `opa_eval`.
pub const FORMAT_JSON: i32 = 0;
pub const FORMAT_VALUE: i32 = 1;

/// The entrypoint paths of a rule, by id.
pub fn entrypoints(rule: &str) -> [(String, i32); 2] {
    [
        (format!("prodready/{rule}/violation"), VIOLATION),
        (format!("prodready/{rule}/warn"), WARN),
    ]
}

/// The value `entrypoints()` returns: `{"prodready/<rule>/violation": 0, ...}`.
pub fn entrypoints_value(rule: &str) -> Val {
    let mut entries: Vec<(String, Val)> = entrypoints(rule)
        .into_iter()
        .map(|(path, id)| (path, Val::Num(id.into())))
        .collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Val::Obj(entries)
}

/// The result set of one entrypoint: `{{"result": {entries...}}}`.
fn result_set(entries: Vec<gatekeeper::GkViolation>) -> Val {
    let mut items: Vec<Val> = entries
        .into_iter()
        .map(|e| Val::from(serde_json::to_value(e).unwrap_or(serde_json::Value::Null)))
        .collect();
    items.dedup();
    Val::Set(vec![Val::Obj(vec![(
        "result".to_string(),
        Val::Set(items),
    )])])
}

/// The objects a rule reads, from Gatekeeper's inventory in `data`: namespaced kinds from
/// `data.inventory.namespace[<ns>][<apiVersion>][<kind>][<name>]` (every namespace when the
/// review names none), cluster-scoped kinds from
/// `data.inventory.cluster[<apiVersion>][<kind>][<name>]` — every version the rule reads.
/// `None` when `data` has no inventory at all (Gatekeeper syncs nothing): the rule then has
/// no context, and its cross-object checks are skipped.
fn inventory(data: Option<&Val>, lists: &[Wanted]) -> Option<Vec<(String, String, Box<RawValue>)>> {
    let inventory = data.and_then(|d| d.get("inventory"))?;
    let mut out = Vec::new();
    for w in lists {
        let mut scopes: Vec<&Val> = Vec::new();
        if w.resource.is_namespaced() {
            if let Some(Val::Obj(namespaces)) = inventory.get("namespace") {
                for (ns, objects) in namespaces {
                    if w.namespace.as_deref().is_none_or(|want| want == ns) {
                        scopes.push(objects);
                    }
                }
            }
        } else if let Some(cluster) = inventory.get("cluster") {
            scopes.push(cluster);
        }
        for api_version in w.resource.api_versions() {
            for scope in &scopes {
                let Some(Val::Obj(objects)) = scope
                    .get(&api_version)
                    .and_then(|kinds| kinds.get(w.resource.kind))
                else {
                    continue;
                };
                for (_, object) in objects {
                    if let Ok(raw) = RawValue::from_string(object.dump_json()) {
                        out.push((api_version.clone(), w.resource.kind.to_string(), raw));
                    }
                }
            }
        }
    }
    Some(out)
}

/// Evaluates an entrypoint on Gatekeeper's input (JSON text; `None` when the host gave none)
/// and `data`. Always a defined result: errors are `violation` entries.
pub fn evaluate<R: Rule>(entrypoint: i32, input: Option<&[u8]>, data: Option<&Val>) -> Val {
    let rule = R::INFO.id;
    let sets = match input {
        None => gatekeeper::Sets {
            violation: vec![gatekeeper::error(
                rule,
                "invalid-envelope",
                "no input was given",
            )],
            warn: Vec::new(),
        },
        Some(input) => evaluate_sets::<R>(input, data),
    };
    match entrypoint {
        VIOLATION => result_set(sets.violation),
        WARN => result_set(sets.warn),
        other => result_set(vec![gatekeeper::error(
            rule,
            "abi",
            &format!("no entrypoint {other}; this module has 0 (violation) and 1 (warn)"),
        )]),
    }
}

fn evaluate_sets<R: Rule>(input: &[u8], data: Option<&Val>) -> gatekeeper::Sets {
    let rule = R::INFO.id;
    let verdict = match gatekeeper::envelope(input) {
        Err(message) => Verdict::error(ErrorCode::InvalidEnvelope, message),
        Ok(envelope) => {
            let context = match context::needed(&R::INFO, &envelope) {
                None => Ok(Context::absent()),
                Some(needed) => match inventory(data, &needed.lists) {
                    Some(objects) => Context::from_listed(objects),
                    None => Ok(Context::absent()),
                },
            };
            match context {
                Ok(context) => run::evaluate_with::<R>(&envelope, &context),
                Err(e) => Verdict::error(ErrorCode::InvalidContext, e),
            }
        }
    };
    gatekeeper::sets(rule, &verdict)
}

//! The guest side of prodready's evaluation ABI.
//!
//! A rule crate is a settings struct, a [`RuleInfo`] and check functions over typed objects;
//! [`export_rule!`] turns it into a wasm module speaking ABI v1 (docs/abi.md) and gives it the
//! same entry points natively, for tests and benchmarks.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod abi;
pub mod annotations;
pub mod availability;
pub mod context;
mod envelope;
pub mod gatekeeper;
pub mod k8s;
pub mod kubewarden;
pub mod lazy;
pub mod metadata;
pub mod object;
pub mod opa;
pub mod quantity;
pub mod run;
pub mod scope;
pub mod selector;
pub mod serving;
pub mod settings;
pub mod shell;
pub mod testing;
pub mod verdict;
pub mod workload;

pub use context::{Context, ContextObject, ContextWorkload, selectors};
pub use lazy::Lazy;
pub use metadata::{
    Check, ContextResource, Listing, Resource, RuleInfo, Scope, WORKLOAD_CONTEXT, WORKLOADS,
};
pub use object::Object;
pub use quantity::Quantity;
pub use run::{Cx, Finding, Findings, Mode};
pub use selector::Selector;
pub use settings::RuleSettings;
pub use verdict::{ErrorCode, ObjectRef, Severity, Verdict, Violation};
pub use workload::{ContainerRef, ContainerRole, Workload, WorkloadKind};

/// Re-exports rule crates use, so their versions are pinned once.
pub use k8s_openapi;
pub use schemars;
pub use serde;

/// The ABI version this SDK speaks.
pub const ABI_VERSION: u32 = 1;

/// Admission operations most rules check.
pub const CREATE_UPDATE: &[&str] = &["CREATE", "UPDATE"];

/// A rule: its description, its settings and its checks.
pub trait Rule {
    type Settings: RuleSettings;
    const INFO: RuleInfo;
    /// The rule crate's version (`env!("CARGO_PKG_VERSION")`).
    const VERSION: &'static str;

    /// Runs every check on one object. An `Err` is for input the rule cannot understand; it
    /// becomes an error verdict, which never allows.
    fn evaluate(
        object: &Object<'_>,
        cx: &Cx<'_, Self::Settings>,
        out: &mut Findings,
    ) -> Result<(), String>;
}

/// Turns a [`Rule`] into a module: wasm exports (ABI v1) on `wasm32`, and the same entry points
/// as plain functions everywhere (`metadata_json`, `validate_settings_json`, `evaluate_json`,
/// `context_load_json`).
#[macro_export]
macro_rules! export_rule {
    ($rule:ty) => {
        /// The rule's metadata JSON.
        pub fn metadata_json() -> Vec<u8> {
            $crate::run::metadata_json::<$rule>()
        }

        /// Validates settings JSON: `{"valid": bool, "message": ...}`.
        pub fn validate_settings_json(input: &[u8]) -> Vec<u8> {
            $crate::run::validate_settings_json::<$rule>(input)
        }

        /// Evaluates an envelope; returns the verdict JSON.
        pub fn evaluate_json(input: &[u8]) -> Vec<u8> {
            $crate::run::evaluate_json::<$rule>(input)
        }

        /// Loads the context for later `evaluate_json` calls on this thread.
        pub fn context_load_json(input: &[u8]) -> Vec<u8> {
            $crate::run::context_load_json(input)
        }

        $crate::__export_flavour!($rule);
    };
}

#[cfg(all(feature = "kubewarden", feature = "opa"))]
compile_error!("the kubewarden and opa features are two flavours of one module: pick one");

#[cfg(all(feature = "linked", any(feature = "kubewarden", feature = "opa")))]
compile_error!("the linked feature builds rules into another program, not a module: no flavour");

/// The core ABI flavour (the default build).
#[cfg(not(any(feature = "kubewarden", feature = "opa", feature = "linked")))]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_flavour {
    ($rule:ty) => {
        $crate::__export_abi!($rule);
    };
}

/// Rules linked into one program (`--features prodready-sdk/linked`, the playground): no
/// module exports, whose names every rule shares; the plain functions of [`export_rule!`]
/// are the entry points.
#[cfg(feature = "linked")]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_flavour {
    ($rule:ty) => {};
}

/// The Kubewarden (waPC) flavour: `--features prodready-sdk/kubewarden`.
#[cfg(feature = "kubewarden")]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_flavour {
    ($rule:ty) => {
        $crate::__export_kubewarden!($rule);
    };
}

/// The OPA flavour: `--features prodready-sdk/opa`.
#[cfg(feature = "opa")]
#[doc(hidden)]
#[macro_export]
macro_rules! __export_flavour {
    ($rule:ty) => {
        $crate::__export_opa!($rule);
    };
}

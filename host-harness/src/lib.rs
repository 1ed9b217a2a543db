//! The prodready host: loads rule modules (ABI v1, docs/abi.md) into wasmtime and evaluates
//! Kubernetes objects with them under a deadline and a memory cap. The `prodready` CLI is a
//! thin layer over this library.

pub mod baseline;
pub mod bundle;
pub mod catalogue;
pub mod check;
pub mod config;
// The loader and the findings model live in prodready-core (no wasmtime), shared with the
// playground; re-exported here under their old paths.
pub use prodready_core::{findings, loader, report};
pub mod engine;
mod engine_config;
pub mod guest;
pub mod kubewarden;
pub mod lists;
pub mod module;
pub mod opa;
pub mod opa_link;
pub mod provider;
pub mod scaffold;
pub mod suite;

pub use engine::{Host, Limits};
pub use module::{EmbeddedModule, ModuleMetadata, RuleModule, Session, embedded};

/// Loads every embedded module.
pub fn load_embedded(host: &Host) -> Result<Vec<RuleModule>, module::LoadError> {
    embedded()
        .iter()
        .map(|m| RuleModule::from_embedded(host, m))
        .collect()
}

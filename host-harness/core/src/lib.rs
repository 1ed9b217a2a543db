//! The engine-free half of the prodready host, shared by every host of the rules: the
//! wasmtime host and CLI (`prodready-host`) and the browser playground, which links the rule
//! crates natively. One loader, one envelope, one findings model, one JSON report, so the
//! playground's verdicts are the CLI's.

pub mod check;
pub mod findings;
pub mod loader;
pub mod metadata;
pub mod report;

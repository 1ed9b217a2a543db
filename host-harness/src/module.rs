//! A loaded rule module: compiled once, checked against ABI v1, described by its metadata,
//! ready to instantiate cheaply (`InstancePre`).

use std::sync::Arc;

use prodready_sdk::verdict::{ErrorCode, SettingsValidation, Verdict};
use wasmtime::{InstancePre, Linker, Module};

use crate::engine::Host;
use crate::guest::{Entry, Exports, Guest, GuestError, StoreData, probe_abi_version};

/// A module the binary carries: its wasm and the code build.rs compiled from it.
#[derive(Debug)]
pub struct EmbeddedModule {
    pub id: &'static str,
    pub wasm: &'static [u8],
    pub precompiled: &'static [u8],
    /// The same rule built in the Kubewarden (waPC) flavour, without its metadata section
    /// (`prodready bundle kubewarden` annotates it).
    pub kubewarden: &'static [u8],
    /// The same rule built in the OPA flavour (OPA WebAssembly ABI 1.3, Gatekeeper semantics).
    pub opa: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The rule modules built from this workspace, embedded in the binary.
pub fn embedded() -> &'static [EmbeddedModule] {
    EMBEDDED
}

pub use prodready_core::metadata::{
    CheckMeta, ContextResourceMeta, ModuleMetadata, ResourceRuleMeta,
};

/// Why a module could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{origin}: not a valid wasm module: {source:#}")]
    Compile {
        origin: String,
        source: wasmtime::Error,
    },
    #[error("{origin}: {message}")]
    Abi { origin: String, message: String },
}

/// A compiled, checked rule module (cloning shares the compiled code).
#[derive(Clone)]
pub struct RuleModule {
    origin: String,
    module: Module,
    pre: InstancePre<StoreData>,
    exports: Exports,
    metadata: Arc<ModuleMetadata>,
}

impl std::fmt::Debug for RuleModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleModule")
            .field("origin", &self.origin)
            .field("id", &self.metadata.id)
            .finish()
    }
}

impl RuleModule {
    /// Loads an embedded module from its precompiled code (no Cranelift at run time), or
    /// compiles its wasm when the engine differs from the one it was built for (fuel on).
    pub fn from_embedded(host: &Host, m: &EmbeddedModule) -> Result<RuleModule, LoadError> {
        let origin = format!("embedded module {}", m.id);
        let module = if host.limits().fuel.is_none() {
            // SAFETY: the bytes are wasmtime's own output for this wasmtime version, made by
            // build.rs from the same engine configuration (engine_config.rs) and embedded
            // read-only in this binary; wasmtime still checks version and settings and errors
            // on a mismatch, which falls back to compiling the wasm below.
            unsafe { Module::deserialize(host.engine(), m.precompiled) }.ok()
        } else {
            None
        };
        let module = match module {
            Some(module) => module,
            None => Module::new(host.engine(), m.wasm).map_err(|source| LoadError::Compile {
                origin: origin.clone(),
                source,
            })?,
        };
        RuleModule::from_module(host, module, origin)
    }

    /// Compiles a module from wasm bytes (`--policy FILE.wasm`).
    pub fn from_wasm(host: &Host, bytes: &[u8], origin: &str) -> Result<RuleModule, LoadError> {
        let module = Module::new(host.engine(), bytes).map_err(|source| LoadError::Compile {
            origin: origin.to_string(),
            source,
        })?;
        RuleModule::from_module(host, module, origin.to_string())
    }

    fn from_module(host: &Host, module: Module, origin: String) -> Result<RuleModule, LoadError> {
        let abi = |message: String| LoadError::Abi {
            origin: origin.clone(),
            message,
        };
        let imports: Vec<String> = module
            .imports()
            .map(|i| format!("{}.{}", i.module(), i.name()))
            .collect();
        if !imports.is_empty() {
            return Err(abi(format!(
                "a rule module must have no imports, this one imports {}",
                imports.join(", ")
            )));
        }
        let linker: Linker<StoreData> = Linker::new(host.engine());
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| abi(format!("cannot be instantiated: {e:#}")))?;
        let exports = match Exports::resolve(&module) {
            Ok(x) => x,
            Err(e) => {
                return Err(abi(match probe_abi_version(host, &pre) {
                    Some(v) if v != 1 => format!("it reports ABI version {v}, this host speaks 1"),
                    _ => e.to_string(),
                }));
            }
        };
        let mut rule = RuleModule {
            origin: origin.clone(),
            module,
            pre,
            exports,
            metadata: Arc::new(placeholder_metadata()),
        };
        let mut guest = Guest::new(host, &rule, true).map_err(|e| abi(e.to_string()))?;
        let bytes = guest.metadata().map_err(|e| abi(e.to_string()))?;
        let metadata: ModuleMetadata = serde_json::from_slice(&bytes)
            .map_err(|e| abi(format!("its metadata is not valid: {e}")))?;
        if metadata.abi_version != 1 {
            return Err(abi(format!(
                "its metadata reports ABI version {}, this host speaks 1",
                metadata.abi_version
            )));
        }
        rule.metadata = Arc::new(metadata);
        Ok(rule)
    }

    pub fn metadata(&self) -> &ModuleMetadata {
        &self.metadata
    }

    pub fn id(&self) -> &str {
        &self.metadata.id
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn module(&self) -> &Module {
        &self.module
    }

    pub(crate) fn instance_pre(&self) -> &InstancePre<StoreData> {
        &self.pre
    }

    pub(crate) fn exports(&self) -> &Exports {
        &self.exports
    }

    /// A fresh instance, checked to speak ABI v1.
    pub fn instantiate(&self, host: &Host) -> Result<Guest, GuestError> {
        Guest::new(host, self, false)
    }

    /// Evaluates one envelope on a fresh instance (what an admission server does).
    pub fn evaluate(&self, host: &Host, envelope: &[u8]) -> Verdict {
        match Guest::new(host, self, false) {
            Ok(mut guest) => to_verdict(guest.call(Entry::Evaluate, envelope)),
            Err(e) => guest_error_verdict(&e),
        }
    }

    /// Asks the module whether settings are valid.
    pub fn validate_settings(&self, host: &Host, settings: &[u8]) -> SettingsValidation {
        let answer = Guest::new(host, self, false)
            .and_then(|mut g| g.call(Entry::ValidateSettings, settings));
        match answer {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| SettingsValidation {
                valid: false,
                message: Some(format!(
                    "the module's answer to validate_settings is not valid: {e}"
                )),
            }),
            Err(e) => SettingsValidation {
                valid: false,
                message: Some(e.to_string()),
            },
        }
    }
}

fn placeholder_metadata() -> ModuleMetadata {
    ModuleMetadata {
        abi_version: 1,
        number: 0,
        id: String::new(),
        version: String::new(),
        title: String::new(),
        description: String::new(),
        slide: String::new(),
        checks: Vec::new(),
        resources: Vec::new(),
        context_resources: Vec::new(),
        settings_schema: serde_json::Value::Null,
    }
}

/// The verdict for a failed guest call: never allowed.
pub fn guest_error_verdict(e: &GuestError) -> Verdict {
    let code = match e {
        GuestError::Timeout(_) | GuestError::OutOfFuel => ErrorCode::Timeout,
        GuestError::Memory(_) | GuestError::Trap(_) => ErrorCode::Trap,
        GuestError::Abi(_) => ErrorCode::Abi,
        GuestError::BadOutput(_) => ErrorCode::BadOutput,
    };
    Verdict::error(code, e.to_string())
}

/// A limit a module hit with a context loaded: the context grows with the manifest set, so
/// say how large it was and which limit to raise.
fn context_error_verdict(e: &GuestError, bytes: usize) -> Verdict {
    let mut v = guest_error_verdict(e);
    let hint = match e {
        GuestError::Memory(_) => "; the context grows with the set: raise the cap (--memory-mib)",
        GuestError::Timeout(_) => {
            "; the context grows with the set: raise the deadline (--deadline-ms)"
        }
        _ => "",
    };
    if let Some(error) = &mut v.error {
        error.message = format!(
            "with a context of {:.1} MB (the objects the rule reads): {}{hint}",
            bytes as f64 / 1e6,
            error.message
        );
    }
    v
}

/// Parses a guest's evaluate answer; anything but a well-formed verdict is an error verdict.
pub(crate) fn to_verdict(answer: Result<Vec<u8>, GuestError>) -> Verdict {
    match answer {
        Ok(bytes) => prodready_core::check::verdict_from_json(&bytes),
        Err(e) => guest_error_verdict(&e),
    }
}

/// A warm instance of one module, reused across evaluations of a manifest set, with the
/// set's context loaded once. A failed call discards the instance; the next call starts a
/// fresh one and loads the context again.
pub struct Session<'m> {
    host: &'m Host,
    module: &'m RuleModule,
    guest: Option<Guest>,
    context: Option<Arc<Vec<u8>>>,
}

impl<'m> Session<'m> {
    pub fn new(host: &'m Host, module: &'m RuleModule) -> Session<'m> {
        Session {
            host,
            module,
            guest: None,
            context: None,
        }
    }

    /// Sets the context (`{"objects": [...]}`) every later evaluation sees.
    pub fn set_context(&mut self, context: Arc<Vec<u8>>) -> Result<(), Verdict> {
        self.context = Some(context);
        // Load it now so a bad context is reported once, up front.
        self.guest = None;
        self.ready().map(|_| ())
    }

    fn ready(&mut self) -> Result<&mut Guest, Verdict> {
        if self.guest.is_none() {
            let mut guest =
                Guest::new(self.host, self.module, false).map_err(|e| guest_error_verdict(&e))?;
            if let Some(ctx) = &self.context {
                let answer = guest
                    .call(Entry::ContextLoad, ctx)
                    .map_err(|e| context_error_verdict(&e, ctx.len()))?;
                if let Ok(v) = serde_json::from_slice::<Verdict>(&answer)
                    && v.error.is_some()
                {
                    return Err(v);
                }
            }
            self.guest = Some(guest);
        }
        self.guest
            .as_mut()
            .ok_or_else(|| Verdict::error(ErrorCode::Trap, "the module could not be instantiated"))
    }

    pub fn evaluate(&mut self, envelope: &[u8]) -> Verdict {
        let guest = match self.ready() {
            Ok(g) => g,
            Err(v) => return v,
        };
        let answer = guest.call(Entry::Evaluate, envelope);
        if answer.is_err() {
            self.guest = None;
        }
        match (&answer, &self.context) {
            // Out of memory with a context loaded: most of the memory is the context.
            (Err(e @ GuestError::Memory(_)), Some(ctx)) => context_error_verdict(e, ctx.len()),
            _ => to_verdict(answer),
        }
    }
}

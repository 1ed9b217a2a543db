//! A loaded rule module: compiled once, checked against ABI v1, described by its metadata,
//! ready to instantiate cheaply (`InstancePre`).

use std::sync::Arc;

use prodready_sdk::verdict::{ErrorCode, SettingsValidation, Verdict};
use serde::{Deserialize, Serialize};
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

/// One check, as the metadata export describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckMeta {
    pub id: String,
    pub severity: prodready_sdk::Severity,
    pub description: String,
    pub remediation: String,
    /// For a check that reads other objects: what it reads and what it does without them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRuleMeta {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub kinds: Vec<String>,
    pub operations: Vec<String>,
    /// `Namespaced`, `Cluster` or `*`; absent in modules built before it existed.
    #[serde(default = "any_scope")]
    pub scope: String,
}

fn any_scope() -> String {
    "*".to_string()
}

/// A kind the module reads from the context (docs/abi.md §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextResourceMeta {
    /// The served version, listed from a cluster at admission.
    pub api_version: String,
    /// Every apiVersion read (`group/*` for any version); defaults to `apiVersion` alone.
    #[serde(default)]
    pub api_versions: Vec<String>,
    pub kind: String,
    /// The plural resource name (RBAC, Gatekeeper's sync); may be absent in old modules.
    #[serde(default)]
    pub resource: String,
    #[serde(default = "yes")]
    pub namespaced: bool,
    /// The top-level fields the module reads (besides apiVersion, kind and metadata).
    #[serde(default)]
    pub fields: Vec<String>,
    /// Where admission-time hosts list it: `namespace`, `allNamespaces`, or `manifestOnly`
    /// (never listed at admission).
    #[serde(default = "namespace_listing")]
    pub listing: String,
}

fn namespace_listing() -> String {
    "namespace".to_string()
}

fn yes() -> bool {
    true
}

impl ContextResourceMeta {
    /// Whether admission-time hosts list it at all.
    pub fn at_admission(&self) -> bool {
        self.listing != "manifestOnly"
    }

    /// Whether admission-time hosts list it from every namespace.
    pub fn all_namespaces(&self) -> bool {
        self.listing == "allNamespaces"
    }

    /// The API group, from `apiVersion`.
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// Every apiVersion read.
    pub fn versions(&self) -> Vec<&str> {
        if self.api_versions.is_empty() {
            vec![self.api_version.as_str()]
        } else {
            self.api_versions.iter().map(String::as_str).collect()
        }
    }

    /// Whether an object of this apiVersion and kind is one of these.
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        if self.kind != kind {
            return false;
        }
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.versions().iter().any(|av| {
            let (g, v) = av.rsplit_once('/').unwrap_or(("", av));
            g == group && (v == "*" || v == version)
        })
    }
}

/// The `prodready_metadata` export's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModuleMetadata {
    pub abi_version: u32,
    pub number: u8,
    pub id: String,
    pub version: String,
    pub title: String,
    pub description: String,
    pub slide: String,
    pub checks: Vec<CheckMeta>,
    pub resources: Vec<ResourceRuleMeta>,
    #[serde(default)]
    pub context_resources: Vec<ContextResourceMeta>,
    pub settings_schema: serde_json::Value,
}

impl ModuleMetadata {
    /// Whether the module evaluates objects of this group, version and kind (`*` matches
    /// any).
    pub fn handles(&self, group: &str, version: &str, kind: &str) -> bool {
        let any = |list: &[String], x: &str| list.iter().any(|v| v == "*" || v == x);
        self.resources.iter().any(|r| {
            any(&r.api_groups, group) && any(&r.api_versions, version) && any(&r.kinds, kind)
        })
    }

    /// The context kinds admission-time hosts list (every one but the manifest-only ones).
    pub fn admission_context(&self) -> Vec<&ContextResourceMeta> {
        self.context_resources
            .iter()
            .filter(|c| c.at_admission())
            .collect()
    }

    /// Whether the module reads objects of this apiVersion and kind from the context.
    pub fn wants_context(&self, api_version: &str, kind: &str) -> bool {
        self.context_resources
            .iter()
            .any(|c| c.matches(api_version, kind))
    }
}

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

/// The fields every verdict must carry (docs/abi.md §4.2): a module that leaves one out is
/// broken, and a broken module must not allow by omission.
#[derive(serde::Deserialize)]
struct VerdictShape {
    #[allow(dead_code)]
    allowed: bool,
    #[allow(dead_code)]
    violations: Vec<serde::de::IgnoredAny>,
    #[allow(dead_code)]
    error: serde_json::Value,
}

/// Parses a guest's evaluate answer; anything but a well-formed verdict is an error verdict.
pub(crate) fn to_verdict(answer: Result<Vec<u8>, GuestError>) -> Verdict {
    if let Ok(bytes) = &answer
        && let Err(e) = serde_json::from_slice::<VerdictShape>(bytes)
    {
        return Verdict::error(
            ErrorCode::BadOutput,
            format!("the module's answer is not a verdict: {e}"),
        );
    }
    match answer {
        Ok(bytes) => match serde_json::from_slice::<Verdict>(&bytes) {
            Ok(mut v) => {
                // An error never allows, whatever the module said.
                if v.error.is_some() {
                    v.allowed = false;
                }
                v
            }
            Err(e) => Verdict::error(
                ErrorCode::BadOutput,
                format!("the module's answer is not a verdict: {e}"),
            ),
        },
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

//! One instance of a rule module and the byte-moving calls of ABI v1 (docs/abi.md). Every
//! failure — trap, deadline, memory cap, a pointer out of bounds, output that is not UTF-8
//! JSON — comes back as a [`GuestError`]; the caller turns it into an error verdict and drops
//! the instance.

use wasmtime::{
    Instance, Memory, Module, ModuleExport, Store, StoreLimits, StoreLimitsBuilder, Trap, TypedFunc,
};

use crate::engine::Host;
use crate::module::RuleModule;

/// What a store carries: the memory limiter.
pub struct StoreData {
    limits: StoreLimits,
}

/// Why a guest call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuestError {
    #[error("the module ran past its deadline of {0:?}")]
    Timeout(std::time::Duration),
    #[error("the module ran out of fuel")]
    OutOfFuel,
    #[error("the module exceeded its memory limit of {0} bytes")]
    Memory(usize),
    #[error("the module trapped: {0}")]
    Trap(String),
    #[error("the module does not speak prodready ABI v1: {0}")]
    Abi(String),
    #[error("the module returned a bad answer: {0}")]
    BadOutput(String),
}

/// The entry points that take a buffer and return one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Evaluate,
    ValidateSettings,
    ContextLoad,
}

pub struct Guest {
    store: Store<StoreData>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    metadata: TypedFunc<(), u64>,
    evaluate: TypedFunc<(u32, u32), u64>,
    validate_settings: TypedFunc<(u32, u32), u64>,
    context_load: TypedFunc<(u32, u32), u64>,
    deadline_ticks: u64,
    limits: crate::engine::Limits,
}

/// Where a module's ABI exports are, resolved once per module so a fresh instance finds them
/// by index instead of by name.
#[derive(Clone)]
pub(crate) struct Exports {
    memory: ModuleExport,
    abi_version: ModuleExport,
    alloc: ModuleExport,
    free: ModuleExport,
    metadata: ModuleExport,
    evaluate: ModuleExport,
    validate_settings: ModuleExport,
    context_load: ModuleExport,
}

impl Exports {
    pub(crate) fn resolve(module: &Module) -> Result<Exports, GuestError> {
        let get = |name: &str| {
            module
                .get_export_index(name)
                .ok_or_else(|| GuestError::Abi(format!("export `{name}` is missing")))
        };
        Ok(Exports {
            memory: get("memory")?,
            abi_version: get("prodready_abi_version")?,
            alloc: get("prodready_alloc")?,
            free: get("prodready_free")?,
            metadata: get("prodready_metadata")?,
            evaluate: get("prodready_evaluate")?,
            validate_settings: get("prodready_validate_settings")?,
            context_load: get("prodready_context_load")?,
        })
    }
}

fn typed<P, R>(
    store: &mut Store<StoreData>,
    instance: &Instance,
    export: &ModuleExport,
    name: &str,
) -> Result<TypedFunc<P, R>, GuestError>
where
    P: wasmtime::WasmParams,
    R: wasmtime::WasmResults,
{
    instance
        .get_module_export(&mut *store, export)
        .and_then(|e| e.into_func())
        .ok_or_else(|| GuestError::Abi(format!("export `{name}` is not a function")))?
        .typed::<P, R>(&*store)
        .map_err(|e| GuestError::Abi(format!("export `{name}`: {e}")))
}

/// Calls `prodready_abi_version` on a bare instance: for a module whose other exports do not
/// match v1, saying which version it speaks is the better error.
pub(crate) fn probe_abi_version(
    host: &Host,
    pre: &wasmtime::InstancePre<StoreData>,
) -> Option<u32> {
    let mut store = Store::new(
        host.engine(),
        StoreData {
            limits: StoreLimitsBuilder::new()
                .memory_size(host.limits().memory_bytes)
                .build(),
        },
    );
    store.limiter(|d| &mut d.limits);
    store.set_epoch_deadline(host.deadline_ticks());
    let instance = pre.instantiate(&mut store).ok()?;
    let f = instance
        .get_typed_func::<(), u32>(&mut store, "prodready_abi_version")
        .ok()?;
    f.call(&mut store, ()).ok()
}

impl Guest {
    /// A fresh instance of `module`. `check_abi` calls `prodready_abi_version` first (done
    /// once, when the module is loaded).
    pub(crate) fn new(
        host: &Host,
        module: &RuleModule,
        check_abi: bool,
    ) -> Result<Guest, GuestError> {
        let limits = host.limits();
        let data = StoreData {
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .instances(1)
                .memories(1)
                .tables(4)
                .trap_on_grow_failure(true)
                .build(),
        };
        let mut store = Store::new(host.engine(), data);
        store.limiter(|d| &mut d.limits);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(host.deadline_ticks());
        if let Some(fuel) = limits.fuel {
            store
                .set_fuel(fuel)
                .map_err(|e| GuestError::Abi(e.to_string()))?;
        }
        let instance = module
            .instance_pre()
            .instantiate(&mut store)
            .map_err(|e| classify(e, limits))?;
        let x = module.exports();
        let memory = instance
            .get_module_export(&mut store, &x.memory)
            .and_then(|e| e.into_memory())
            .ok_or_else(|| GuestError::Abi("export `memory` is not a memory".into()))?;
        if check_abi {
            let version: TypedFunc<(), u32> = typed(
                &mut store,
                &instance,
                &x.abi_version,
                "prodready_abi_version",
            )?;
            let v = version
                .call(&mut store, ())
                .map_err(|e| classify(e, limits))?;
            if v != 1 {
                return Err(GuestError::Abi(format!(
                    "it reports ABI version {v}, this host speaks 1"
                )));
            }
        }
        Ok(Guest {
            alloc: typed(&mut store, &instance, &x.alloc, "prodready_alloc")?,
            free: typed(&mut store, &instance, &x.free, "prodready_free")?,
            metadata: typed(&mut store, &instance, &x.metadata, "prodready_metadata")?,
            evaluate: typed(&mut store, &instance, &x.evaluate, "prodready_evaluate")?,
            validate_settings: typed(
                &mut store,
                &instance,
                &x.validate_settings,
                "prodready_validate_settings",
            )?,
            context_load: typed(
                &mut store,
                &instance,
                &x.context_load,
                "prodready_context_load",
            )?,
            store,
            memory,
            deadline_ticks: host.deadline_ticks(),
            limits,
        })
    }

    /// Resets the deadline (and fuel) before a call.
    fn arm(&mut self) -> Result<(), GuestError> {
        self.store.set_epoch_deadline(self.deadline_ticks);
        if let Some(fuel) = self.limits.fuel {
            self.store
                .set_fuel(fuel)
                .map_err(|e| GuestError::Abi(e.to_string()))?;
        }
        Ok(())
    }

    pub fn metadata(&mut self) -> Result<Vec<u8>, GuestError> {
        self.arm()?;
        let packed = self
            .metadata
            .call(&mut self.store, ())
            .map_err(|e| classify(e, self.limits))?;
        self.take_output(packed)
    }

    /// Calls an entry point with `input`, returns its output bytes.
    pub fn call(&mut self, entry: Entry, input: &[u8]) -> Result<Vec<u8>, GuestError> {
        self.arm()?;
        let len =
            u32::try_from(input.len()).map_err(|_| GuestError::Memory(self.limits.memory_bytes))?;
        let ptr = self
            .alloc
            .call(&mut self.store, len)
            .map_err(|e| classify(e, self.limits))?;
        if ptr == 0 {
            return Err(GuestError::Memory(self.limits.memory_bytes));
        }
        if len > 0 {
            self.memory
                .write(&mut self.store, ptr as usize, input)
                .map_err(|_| {
                    GuestError::BadOutput(format!("prodready_alloc returned {ptr}, outside memory"))
                })?;
        }
        let func = match entry {
            Entry::Evaluate => &self.evaluate,
            Entry::ValidateSettings => &self.validate_settings,
            Entry::ContextLoad => &self.context_load,
        };
        let packed = func
            .call(&mut self.store, (ptr, len))
            .map_err(|e| classify(e, self.limits))?;
        self.free
            .call(&mut self.store, (ptr, len))
            .map_err(|e| classify(e, self.limits))?;
        self.take_output(packed)
    }

    /// Copies an output buffer out of guest memory and frees it.
    fn take_output(&mut self, packed: u64) -> Result<Vec<u8>, GuestError> {
        let ptr = (packed >> 32) as u32;
        let len = (packed & 0xffff_ffff) as u32;
        let data = self.memory.data(&self.store);
        let start = ptr as usize;
        let bytes = start
            .checked_add(len as usize)
            .and_then(|end| data.get(start..end))
            .ok_or_else(|| {
                GuestError::BadOutput(format!(
                    "output buffer {ptr}+{len} lies outside the module's {} bytes of memory",
                    data.len()
                ))
            })?
            .to_vec();
        self.free
            .call(&mut self.store, (ptr, len))
            .map_err(|e| classify(e, self.limits))?;
        Ok(bytes)
    }
}

/// Maps a wasmtime error to a typed guest error.
pub(crate) fn classify(e: wasmtime::Error, limits: crate::engine::Limits) -> GuestError {
    if let Some(trap) = e.downcast_ref::<Trap>() {
        return match trap {
            Trap::Interrupt => GuestError::Timeout(limits.deadline),
            Trap::OutOfFuel => GuestError::OutOfFuel,
            other => GuestError::Trap(other.to_string()),
        };
    }
    let text = format!("{e:#}");
    if text.contains("memory growth")
        || text.contains("forcing trap when growing memory")
        || text.contains("memory minimum size")
        || text.contains("exceeds memory limits")
    {
        return GuestError::Memory(limits.memory_bytes);
    }
    GuestError::Trap(text)
}

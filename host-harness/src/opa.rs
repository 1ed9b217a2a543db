//! A host for OPA-ABI modules, on the host's wasmtime engine: the two call paths OPA hosts use.
//!
//! - the `eval_ctx` sequence (`opa_heap_ptr_set`, `opa_malloc` + `opa_json_parse` for the input,
//!   `opa_eval_ctx_new`/`set_input`/`set_data`/`set_entrypoint`, `eval`,
//!   `opa_eval_ctx_get_result`, `opa_json_dump`) — what Kubewarden's Rego runtime and ABI 1.0
//!   hosts do;
//! - `opa_eval` (ABI 1.2) with the input written past the heap, in JSON or value format — what
//!   the npm SDK and OPA's own runtime do.
//!
//! Memory is imported, with the number of pages a host chooses, and capped; every call runs
//! under the host's deadline. The imports behave as a host with no builtins: `opa_abort` and
//! any builtin call trap.

use std::collections::BTreeMap;

use wasmtime::{
    Caller, Instance, Linker, Memory, MemoryType, Module, Store, StoreLimits, StoreLimitsBuilder,
};

use crate::engine::Host;
use crate::opa_link;

/// Why an OPA call failed.
#[derive(Debug, thiserror::Error)]
pub enum OpaError {
    #[error("{origin}: not an OPA ABI 1.x module: {message}")]
    Load { origin: String, message: String },
    #[error("{origin}: {call}: {message}")]
    Call {
        origin: String,
        call: String,
        message: String,
    },
}

struct State {
    limits: StoreLimits,
}

/// A compiled OPA-ABI module.
pub struct OpaModule {
    origin: String,
    module: Module,
}

impl std::fmt::Debug for OpaModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaModule")
            .field("origin", &self.origin)
            .finish()
    }
}

/// Reads a NUL-terminated string at `addr`.
fn c_string(memory: &[u8], addr: i32) -> Result<String, String> {
    let start = usize::try_from(addr).map_err(|_| format!("negative address {addr}"))?;
    let rest = memory
        .get(start..)
        .ok_or_else(|| format!("address {addr} is outside memory"))?;
    let len = rest
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| format!("the string at {addr} has no terminating NUL"))?;
    let bytes = rest.get(..len).unwrap_or_default();
    String::from_utf8(bytes.to_vec()).map_err(|e| format!("the string at {addr} is not UTF-8: {e}"))
}

impl OpaModule {
    /// Compiles `wasm` after checking its shape against the OPA ABI 1.3 export list.
    pub fn new(host: &Host, origin: impl Into<String>, wasm: &[u8]) -> Result<OpaModule, OpaError> {
        let origin = origin.into();
        let load = |message: String| OpaError::Load {
            origin: origin.clone(),
            message,
        };
        opa_link::check_opa_shape(wasm).map_err(|e| load(format!("{e:#}")))?;
        let module = Module::new(host.engine(), wasm).map_err(|e| load(format!("{e:#}")))?;
        Ok(OpaModule { origin, module })
    }

    /// Instantiates with an imported memory of `pages` initial pages (hosts use 2 to 5).
    pub fn instantiate(&self, host: &Host, pages: u32) -> Result<OpaInstance, OpaError> {
        let err = |call: &str, e: wasmtime::Error| OpaError::Call {
            origin: self.origin.clone(),
            call: call.to_string(),
            message: format!("{e:#}"),
        };
        let mut store = Store::new(
            host.engine(),
            State {
                limits: StoreLimitsBuilder::new()
                    .memory_size(host.limits().memory_bytes)
                    .instances(1)
                    .build(),
            },
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(host.deadline_ticks());
        let memory = Memory::new(&mut store, MemoryType::new(pages, None))
            .map_err(|e| err("env.memory", e))?;
        let mut linker: Linker<State> = Linker::new(host.engine());
        let fail = |name: &'static str| {
            move |mut caller: Caller<'_, State>, addr: i32| -> wasmtime::Result<()> {
                let text = caller
                    .get_export("memory")
                    .and_then(|m| m.into_memory())
                    .map(|m| c_string(m.data(&caller), addr).unwrap_or_default())
                    .unwrap_or_default();
                if name == "opa_println" {
                    let _ = caller.data_mut();
                    eprintln!("opa_println: {text}");
                    return Ok(());
                }
                Err(wasmtime::Error::msg(format!("{name}: {text}")))
            }
        };
        let no_builtin = |n: usize| format!("opa_builtin{n}: this host has no builtins");
        let define = |linker: &mut Linker<State>| -> wasmtime::Result<()> {
            linker.define(&store, "env", "memory", memory)?;
            linker.func_wrap("env", "opa_abort", fail("opa_abort"))?;
            linker.func_wrap("env", "opa_println", fail("opa_println"))?;
            let m0 = no_builtin(0);
            linker.func_wrap(
                "env",
                "opa_builtin0",
                move |_: i32, _: i32| -> wasmtime::Result<i32> {
                    Err(wasmtime::Error::msg(m0.clone()))
                },
            )?;
            let m1 = no_builtin(1);
            linker.func_wrap(
                "env",
                "opa_builtin1",
                move |_: i32, _: i32, _: i32| -> wasmtime::Result<i32> {
                    Err(wasmtime::Error::msg(m1.clone()))
                },
            )?;
            let m2 = no_builtin(2);
            linker.func_wrap(
                "env",
                "opa_builtin2",
                move |_: i32, _: i32, _: i32, _: i32| -> wasmtime::Result<i32> {
                    Err(wasmtime::Error::msg(m2.clone()))
                },
            )?;
            let m3 = no_builtin(3);
            linker.func_wrap(
                "env",
                "opa_builtin3",
                move |_: i32, _: i32, _: i32, _: i32, _: i32| -> wasmtime::Result<i32> {
                    Err(wasmtime::Error::msg(m3.clone()))
                },
            )?;
            let m4 = no_builtin(4);
            linker.func_wrap(
                "env",
                "opa_builtin4",
                move |_: i32, _: i32, _: i32, _: i32, _: i32, _: i32| -> wasmtime::Result<i32> {
                    Err(wasmtime::Error::msg(m4.clone()))
                },
            )?;
            Ok(())
        };
        define(&mut linker).map_err(|e| err("imports", e))?;
        let instance = linker
            .instantiate(&mut store, &self.module)
            .map_err(|e| err("instantiate", e))?;
        let mut inst = OpaInstance {
            origin: self.origin.clone(),
            deadline: host.deadline_ticks(),
            store,
            instance,
            memory,
            data: 0,
            base_heap: 0,
            data_heap: 0,
        };
        inst.set_data(&serde_json::json!({}))?;
        Ok(inst)
    }
}

/// An instance with its data loaded.
pub struct OpaInstance {
    origin: String,
    deadline: u64,
    store: Store<State>,
    instance: Instance,
    memory: Memory,
    data: i32,
    base_heap: i32,
    data_heap: i32,
}

impl OpaInstance {
    fn error(&self, call: &str, message: impl std::fmt::Display) -> OpaError {
        OpaError::Call {
            origin: self.origin.clone(),
            call: call.to_string(),
            message: message.to_string(),
        }
    }

    fn call<P, R>(&mut self, name: &str, params: P) -> Result<R, OpaError>
    where
        P: wasmtime::WasmParams,
        R: wasmtime::WasmResults,
    {
        let func = self
            .instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .map_err(|e| self.error(name, format!("{e:#}")))?;
        self.store.set_epoch_deadline(self.deadline);
        func.call(&mut self.store, params)
            .map_err(|e| self.error(name, format!("{e:#}")))
    }

    /// The imported memory's current size in pages.
    pub fn memory_pages(&self) -> u64 {
        self.memory.size(&self.store)
    }

    /// The values of `opa_wasm_abi_version` and `opa_wasm_abi_minor_version`.
    pub fn abi_version(&mut self) -> Result<(i32, i32), OpaError> {
        let mut read = |name: &str| {
            self.instance
                .get_global(&mut self.store, name)
                .and_then(|g| g.get(&mut self.store).i32())
                .ok_or_else(|| self.error(name, "no such i32 global"))
        };
        Ok((
            read("opa_wasm_abi_version")?,
            read("opa_wasm_abi_minor_version")?,
        ))
    }

    fn read_string(&self, addr: i32) -> Result<String, OpaError> {
        c_string(self.memory.data(&self.store), addr).map_err(|e| self.error("read", e))
    }

    /// Copies JSON into the module and parses it there (`opa_malloc` + `opa_json_parse`).
    fn load_json(&mut self, json: &[u8]) -> Result<i32, OpaError> {
        let len =
            i32::try_from(json.len()).map_err(|_| self.error("opa_malloc", "input too large"))?;
        let addr: i32 = self.call("opa_malloc", len)?;
        let start =
            usize::try_from(addr).map_err(|_| self.error("opa_malloc", "negative address"))?;
        self.memory
            .write(&mut self.store, start, json)
            .map_err(|e| self.error("opa_malloc", e))?;
        let value: i32 = self.call("opa_json_parse", (addr, len))?;
        if value == 0 {
            return Err(self.error("opa_json_parse", "the module could not parse the JSON"));
        }
        Ok(value)
    }

    fn dump_json(&mut self, value: i32) -> Result<serde_json::Value, OpaError> {
        let addr: i32 = self.call("opa_json_dump", value)?;
        let text = self.read_string(addr)?;
        serde_json::from_str(&text).map_err(|e| self.error("opa_json_dump", e))
    }

    /// `entrypoints()`: entrypoint path → id.
    pub fn entrypoints(&mut self) -> Result<BTreeMap<String, i32>, OpaError> {
        let value: i32 = self.call("entrypoints", ())?;
        let json = self.dump_json(value)?;
        serde_json::from_value(json).map_err(|e| self.error("entrypoints", e))
    }

    /// `builtins()`: builtin name → id.
    pub fn builtins(&mut self) -> Result<BTreeMap<String, i32>, OpaError> {
        let value: i32 = self.call("builtins", ())?;
        let json = self.dump_json(value)?;
        serde_json::from_value(json).map_err(|e| self.error("builtins", e))
    }

    /// Loads `data`, as hosts do: rewind to the base heap, parse, remember the heap pointer.
    pub fn set_data(&mut self, data: &serde_json::Value) -> Result<(), OpaError> {
        if self.base_heap == 0 {
            self.base_heap = self.call("opa_heap_ptr_get", ())?;
        }
        self.call::<i32, ()>("opa_heap_ptr_set", self.base_heap)?;
        let bytes = serde_json::to_vec(data).map_err(|e| self.error("set_data", e))?;
        self.data = self.load_json(&bytes)?;
        self.data_heap = self.call("opa_heap_ptr_get", ())?;
        Ok(())
    }

    /// Applies `opa_value_add_path` to the loaded data; returns the ABI's error code.
    pub fn data_add_path(
        &mut self,
        path: &[&str],
        value: &serde_json::Value,
    ) -> Result<i32, OpaError> {
        let path = serde_json::to_vec(path).map_err(|e| self.error("add_path", e))?;
        let path = self.load_json(&path)?;
        let value = serde_json::to_vec(value).map_err(|e| self.error("add_path", e))?;
        let value = self.load_json(&value)?;
        let code = self.call("opa_value_add_path", (self.data, path, value))?;
        self.data_heap = self.call("opa_heap_ptr_get", ())?;
        Ok(code)
    }

    /// The `eval_ctx` sequence; returns the result set as JSON (`[{"result": ...}]`).
    pub fn eval_ctx(
        &mut self,
        entrypoint: i32,
        input: &[u8],
    ) -> Result<serde_json::Value, OpaError> {
        self.call::<i32, ()>("opa_heap_ptr_set", self.data_heap)?;
        let input = self.load_json(input)?;
        let ctx: i32 = self.call("opa_eval_ctx_new", ())?;
        self.call::<(i32, i32), ()>("opa_eval_ctx_set_input", (ctx, input))?;
        self.call::<(i32, i32), ()>("opa_eval_ctx_set_data", (ctx, self.data))?;
        self.call::<(i32, i32), ()>("opa_eval_ctx_set_entrypoint", (ctx, entrypoint))?;
        let code: i32 = self.call("eval", ctx)?;
        if code != 0 {
            return Err(self.error("eval", format!("error code {code}")));
        }
        let result: i32 = self.call("opa_eval_ctx_get_result", ctx)?;
        self.dump_json(result)
    }

    /// `opa_eval`: the input is written past the heap (as the npm SDK does) and the result comes
    /// back as text, JSON (`format` 0) or Rego value syntax (1).
    pub fn opa_eval(
        &mut self,
        entrypoint: i32,
        input: &[u8],
        format: i32,
    ) -> Result<String, OpaError> {
        let len =
            i32::try_from(input.len()).map_err(|_| self.error("opa_eval", "input too large"))?;
        let at = usize::try_from(self.data_heap).map_err(|_| self.error("opa_eval", "bad heap"))?;
        let end = at + input.len();
        let size = self.memory.data_size(&self.store);
        if end > size {
            let pages = (end - size).div_ceil(65536) as u64;
            self.memory
                .grow(&mut self.store, pages)
                .map_err(|e| self.error("memory.grow", e))?;
        }
        self.memory
            .write(&mut self.store, at, input)
            .map_err(|e| self.error("opa_eval", e))?;
        let addr: i32 = self.call(
            "opa_eval",
            (
                0,
                entrypoint,
                self.data,
                self.data_heap,
                len,
                self.data_heap + len,
                format,
            ),
        )?;
        self.read_string(addr)
    }
}

//! The OPA ABI exports that do not depend on the rule: memory management, values, the
//! evaluation context. `eval`, `entrypoints` and `opa_eval` come from
//! [`crate::__export_opa!`]. Addresses are i32, as in the OPA ABI; every value address points
//! to a [`Val`] on the bump heap, opaque to the host.
//!
//! # Safety (all exports)
//! The host passes back only addresses this module handed out (values, contexts, strings) or
//! buffers it wrote through `opa_malloc`, as the OPA ABI requires; `0` is accepted wherever a
//! value is, and treated as "none".

use super::heap;
use super::value::{self, Val};

/// An evaluation context (`opa_eval_ctx_new`).
#[derive(Debug, Default)]
pub struct EvalCtx {
    pub input: i32,
    pub data: i32,
    pub entrypoint: i32,
    pub result: i32,
}

/// Puts a value on the heap; returns its address (0 if the heap is full).
pub fn store<T>(v: T) -> i32 {
    Box::into_raw(Box::new(v)) as usize as i32
}

/// Borrows a value the module handed out.
///
/// # Safety
/// `addr` is 0 or an address from [`store`] of a `T`, still on the heap.
pub unsafe fn load<'a, T>(addr: i32) -> Option<&'a mut T> {
    if addr == 0 {
        return None;
    }
    // SAFETY: the caller's contract.
    unsafe { (addr as usize as *mut T).as_mut() }
}

/// Borrows bytes the host wrote.
///
/// # Safety
/// `[addr, addr + len)` is memory the host wrote.
pub unsafe fn bytes<'a>(addr: i32, len: i32) -> &'a [u8] {
    if addr == 0 || len <= 0 {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(addr as usize as *const u8, len as usize) }
}

/// A NUL-terminated copy of `text` on the heap.
pub fn c_string(text: &str) -> i32 {
    let ptr = heap::bump(text.len() + 1, 1);
    if ptr.is_null() {
        return 0;
    }
    // SAFETY: `ptr` is a fresh block of len + 1 bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), ptr, text.len());
        *ptr.add(text.len()) = 0;
    }
    ptr as usize as i32
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_malloc(size: i32) -> i32 {
    heap::bump(size.max(0) as usize, 8) as usize as i32
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_free(_addr: i32) {
    // A bump heap frees on opa_heap_ptr_set.
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_value_free(_addr: i32) {}

#[unsafe(no_mangle)]
pub extern "C" fn opa_heap_ptr_get() -> i32 {
    heap::top() as i32
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_heap_ptr_set(addr: i32) {
    heap::set_top(addr as u32 as usize);
}

/// ABI 1.3: the free-list stash of OPA's allocator. A bump heap has no free list.
#[unsafe(no_mangle)]
pub extern "C" fn opa_heap_blocks_stash() {}

#[unsafe(no_mangle)]
pub extern "C" fn opa_heap_blocks_restore() {}

#[unsafe(no_mangle)]
pub extern "C" fn opa_heap_stash_clear() {}

/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_json_parse(addr: i32, len: i32) -> i32 {
    // SAFETY: the host wrote [addr, addr + len).
    let text = unsafe { bytes(addr, len) };
    Val::parse_json(text).map_or(0, store)
}

/// Rego value text; this module's values are JSON, which is what hosts give it.
///
/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_value_parse(addr: i32, len: i32) -> i32 {
    // SAFETY: the host wrote [addr, addr + len).
    unsafe { opa_json_parse(addr, len) }
}

/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_json_dump(addr: i32) -> i32 {
    // SAFETY: `addr` is a value of this module.
    let v = unsafe { load::<Val>(addr) };
    c_string(&v.map_or_else(|| "null".to_string(), |v| v.dump_json()))
}

/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_value_dump(addr: i32) -> i32 {
    // SAFETY: `addr` is a value of this module.
    let v = unsafe { load::<Val>(addr) };
    c_string(&v.map_or_else(|| "null".to_string(), |v| v.dump_value()))
}

/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_value_add_path(base: i32, path: i32, value: i32) -> i32 {
    // SAFETY: all three are values of this module; `base` differs from the others.
    let (Some(base), Some(path), Some(value)) = (
        unsafe { load::<Val>(base) },
        unsafe { load::<Val>(path) },
        unsafe { load::<Val>(value) },
    ) else {
        return value::ERR_INVALID_TYPE;
    };
    base.add_path(path, value.clone())
}

/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_value_remove_path(base: i32, path: i32) -> i32 {
    // SAFETY: both are values of this module.
    let (Some(base), Some(path)) = (unsafe { load::<Val>(base) }, unsafe { load::<Val>(path) })
    else {
        return value::ERR_INVALID_TYPE;
    };
    base.remove_path(path)
}

#[unsafe(no_mangle)]
pub extern "C" fn opa_eval_ctx_new() -> i32 {
    store(EvalCtx::default())
}

/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_eval_ctx_set_input(ctx: i32, input: i32) {
    // SAFETY: `ctx` is a context of this module.
    if let Some(ctx) = unsafe { load::<EvalCtx>(ctx) } {
        ctx.input = input;
    }
}

/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_eval_ctx_set_data(ctx: i32, data: i32) {
    // SAFETY: `ctx` is a context of this module.
    if let Some(ctx) = unsafe { load::<EvalCtx>(ctx) } {
        ctx.data = data;
    }
}

/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_eval_ctx_set_entrypoint(ctx: i32, entrypoint: i32) {
    // SAFETY: `ctx` is a context of this module.
    if let Some(ctx) = unsafe { load::<EvalCtx>(ctx) } {
        ctx.entrypoint = entrypoint;
    }
}

/// # Safety
/// See the module documentation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opa_eval_ctx_get_result(ctx: i32) -> i32 {
    // SAFETY: `ctx` is a context of this module.
    unsafe { load::<EvalCtx>(ctx) }.map_or(0, |ctx| ctx.result)
}

/// `builtins()`: the module calls no builtin.
#[unsafe(no_mangle)]
pub extern "C" fn builtins() -> i32 {
    store(Val::Obj(Vec::new()))
}

/// `eval(ctx)`: evaluates the context's entrypoint; the result set goes into the context.
///
/// # Safety
/// See the module documentation.
pub unsafe fn eval<R: crate::Rule>(ctx: i32) -> i32 {
    // SAFETY: `ctx` is a context of this module.
    let Some(ctx) = (unsafe { load::<EvalCtx>(ctx) }) else {
        return 1;
    };
    // SAFETY: input and data are values of this module (or 0).
    let input = unsafe { load::<Val>(ctx.input) }.map(|v| v.dump_json().into_bytes());
    // SAFETY: as above.
    let data = unsafe { load::<Val>(ctx.data) };
    let result = super::evaluate::<R>(ctx.entrypoint, input.as_deref(), data.as_deref());
    ctx.result = store(result);
    0
}

/// `entrypoints()`.
pub fn entrypoints<R: crate::Rule>() -> i32 {
    store(super::entrypoints_value(R::INFO.id))
}

/// `opa_eval` (ABI 1.2): evaluates the input JSON at `[input, input + len)` in one call,
/// allocating from `heap_ptr` on; returns the result as NUL-terminated text in `format`.
///
/// # Safety
/// See the module documentation.
#[allow(clippy::too_many_arguments)]
pub unsafe fn opa_eval<R: crate::Rule>(
    _reserved: i32,
    entrypoint: i32,
    data: i32,
    input: i32,
    input_len: i32,
    heap_ptr: i32,
    format: i32,
) -> i32 {
    heap::set_top(heap_ptr as u32 as usize);
    // SAFETY: the host wrote the input there.
    let input = (input != 0).then(|| unsafe { bytes(input, input_len) });
    // SAFETY: `data` is a value of this module (or 0).
    let data = unsafe { load::<Val>(data) };
    let result = super::evaluate::<R>(entrypoint, input, data.as_deref());
    let text = if format == super::FORMAT_VALUE {
        result.dump_value()
    } else {
        result.dump_json()
    };
    c_string(&text)
}

/// Exports the rule-specific OPA ABI functions. Use through [`crate::export_rule!`] with the
/// `opa` feature.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_opa {
    ($rule:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        type __ProdreadyRule = $rule;

        #[cfg(target_arch = "wasm32")]
        mod __prodready_opa {
            use super::__ProdreadyRule;

            /// # Safety
            /// `ctx` is a context from `opa_eval_ctx_new`.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn eval(ctx: i32) -> i32 {
                // SAFETY: the host's contract, stated above.
                unsafe { $crate::opa::exports::eval::<__ProdreadyRule>(ctx) }
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn entrypoints() -> i32 {
                $crate::opa::exports::entrypoints::<__ProdreadyRule>()
            }

            /// # Safety
            /// The OPA ABI's contract for `opa_eval`.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn opa_eval(
                reserved: i32,
                entrypoint: i32,
                data: i32,
                input: i32,
                input_len: i32,
                heap_ptr: i32,
                format: i32,
            ) -> i32 {
                // SAFETY: the host's contract, stated above.
                unsafe {
                    $crate::opa::exports::opa_eval::<__ProdreadyRule>(
                        reserved, entrypoint, data, input, input_len, heap_ptr, format,
                    )
                }
            }
        }
    };
}

//! The guest side of the wasm boundary (ABI v1). One concern: moving bytes across it.
//!
//! Ownership: the host allocates input buffers with `prodready_alloc`, writes them, calls an
//! entry point, and frees them with `prodready_free` afterwards. Entry points return a packed
//! `u64` = `(ptr << 32) | len` of an output buffer the guest allocated; the host reads it and
//! frees it with `prodready_free(ptr, len)`. Every buffer is a plain byte allocation of
//! alignment 1, so one free serves both directions.

use std::alloc::Layout;

/// Allocates `len` bytes for the host to write into. Returns 0 when the guest is out of
/// memory, and a non-zero dangling pointer for `len == 0` (nothing to write, nothing to free).
pub fn alloc(len: u32) -> u32 {
    if len == 0 {
        return 1;
    }
    let Ok(layout) = Layout::from_size_align(len as usize, 1) else {
        return 0;
    };
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc(layout) };
    ptr as usize as u32
}

/// Frees a buffer from [`alloc`] or an output buffer.
///
/// # Safety
/// `ptr` and `len` must describe a buffer this module allocated with [`alloc`] or returned from
/// an entry point, not yet freed.
pub unsafe fn free(ptr: u32, len: u32) {
    if len == 0 || ptr == 0 {
        return;
    }
    let Ok(layout) = Layout::from_size_align(len as usize, 1) else {
        return;
    };
    // SAFETY: by the caller's contract the buffer was allocated with this same layout.
    unsafe { std::alloc::dealloc(ptr as usize as *mut u8, layout) }
}

/// Borrows an input buffer.
///
/// # Safety
/// `ptr` and `len` must describe a live buffer from [`alloc`] that the host has written, and
/// that stays unfreed while the returned slice is used.
pub unsafe fn input<'a>(ptr: u32, len: u32) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: by the caller's contract the buffer is live, initialised and `len` bytes long.
    unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) }
}

/// Hands an output buffer to the host, packed as `(ptr << 32) | len`.
pub fn output(bytes: Vec<u8>) -> u64 {
    // A boxed slice is allocated with exactly `Layout::array::<u8>(len)`, which is what
    // [`free`] releases.
    let boxed = bytes.into_boxed_slice();
    let len = boxed.len() as u64;
    let ptr = Box::into_raw(boxed) as *mut u8 as usize as u64;
    (ptr << 32) | len
}

/// Exports the ABI v1 entry points for a rule. Use through [`crate::export_rule!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __export_abi {
    ($rule:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[doc(hidden)]
        type __ProdreadyRule = $rule;

        #[cfg(target_arch = "wasm32")]
        mod __prodready_abi {
            use super::__ProdreadyRule;

            /// ABI version this module speaks.
            #[unsafe(no_mangle)]
            pub extern "C" fn prodready_abi_version() -> u32 {
                $crate::ABI_VERSION
            }

            /// Allocates an input buffer; see `prodready_sdk::abi`.
            #[unsafe(no_mangle)]
            pub extern "C" fn prodready_alloc(len: u32) -> u32 {
                $crate::abi::alloc(len)
            }

            /// Frees a buffer.
            ///
            /// # Safety
            /// The host passes back only buffers this module handed out, once.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn prodready_free(ptr: u32, len: u32) {
                // SAFETY: the host's contract, stated above.
                unsafe { $crate::abi::free(ptr, len) }
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn prodready_metadata() -> u64 {
                $crate::abi::output($crate::run::metadata_json::<__ProdreadyRule>())
            }

            /// # Safety
            /// `ptr`/`len` is a live buffer from `prodready_alloc`, written by the host.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn prodready_validate_settings(ptr: u32, len: u32) -> u64 {
                // SAFETY: the host's contract, stated above.
                let input = unsafe { $crate::abi::input(ptr, len) };
                $crate::abi::output($crate::run::validate_settings_json::<__ProdreadyRule>(
                    input,
                ))
            }

            /// # Safety
            /// `ptr`/`len` is a live buffer from `prodready_alloc`, written by the host.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn prodready_context_load(ptr: u32, len: u32) -> u64 {
                // SAFETY: the host's contract, stated above.
                let input = unsafe { $crate::abi::input(ptr, len) };
                $crate::abi::output($crate::run::context_load_json(input))
            }

            #[unsafe(no_mangle)]
            pub extern "C" fn prodready_context_clear() {
                $crate::run::context_clear()
            }

            /// # Safety
            /// `ptr`/`len` is a live buffer from `prodready_alloc`, written by the host.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn prodready_evaluate(ptr: u32, len: u32) -> u64 {
                // SAFETY: the host's contract, stated above.
                let input = unsafe { $crate::abi::input(ptr, len) };
                $crate::abi::output($crate::run::evaluate_json::<__ProdreadyRule>(input))
            }
        }
    };
}

//! The OPA flavour's heap: a bump allocator, because OPA hosts manage a module's heap with
//! `opa_heap_ptr_get` / `opa_heap_ptr_set` — they remember the pointer after loading `data` and
//! rewind to it before every evaluation, freeing everything the evaluation allocated at once.
//! Memory is the host's (`env.memory`): the heap grows it when it needs to, and re-reads its
//! size every time, since hosts grow it too (the npm SDK writes the input past the heap).
//!
//! Nothing outlives a call: the flavour keeps no allocation across calls, so a rewind never
//! leaves a dangling pointer.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 64 * 1024;

unsafe extern "C" {
    /// The linker's end of static data: where the heap starts.
    static __heap_base: u8;
}

/// The next free byte; 0 until the first allocation.
static TOP: AtomicUsize = AtomicUsize::new(0);

fn heap_base() -> usize {
    // Only the address of the linker-defined symbol is taken, never its value.
    &raw const __heap_base as usize
}

/// The heap pointer (`opa_heap_ptr_get`).
pub fn top() -> usize {
    match TOP.load(Ordering::Relaxed) {
        0 => heap_base(),
        t => t,
    }
}

/// Moves the heap pointer (`opa_heap_ptr_set`). Never below the heap's base.
pub fn set_top(addr: usize) {
    TOP.store(addr.max(heap_base()), Ordering::Relaxed);
}

/// Makes sure memory reaches `end`, growing it; false when it cannot.
fn reach(end: usize) -> bool {
    let have = core::arch::wasm32::memory_size(0) * PAGE;
    if end <= have {
        return true;
    }
    let pages = (end - have).div_ceil(PAGE);
    core::arch::wasm32::memory_grow(0, pages) != usize::MAX
}

/// Allocates `size` bytes aligned to `align`; null when memory cannot grow.
pub fn bump(size: usize, align: usize) -> *mut u8 {
    let start = top().next_multiple_of(align.max(1));
    let Some(end) = start.checked_add(size) else {
        return std::ptr::null_mut();
    };
    if !reach(end) {
        return std::ptr::null_mut();
    }
    TOP.store(end, Ordering::Relaxed);
    start as *mut u8
}

pub struct Bump;

// SAFETY: allocations never overlap: each is carved from [top, top + size) and top only moves
// past it, except for dealloc/realloc of the block that ends at top, which nothing else uses.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(layout.size(), layout.align())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The last block goes back (a Vec that grew and was dropped); others wait for a rewind.
        if ptr as usize + layout.size() == TOP.load(Ordering::Relaxed) {
            TOP.store(ptr as usize, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        if start + layout.size() == TOP.load(Ordering::Relaxed) {
            // The last block grows (or shrinks) in place.
            let Some(end) = start.checked_add(new_size) else {
                return std::ptr::null_mut();
            };
            if reach(end) {
                TOP.store(end, Ordering::Relaxed);
                return ptr;
            }
            return std::ptr::null_mut();
        }
        let new = bump(new_size, layout.align());
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct (the new one lies past the old one's
            // end); the copy is the smaller size.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Bump = Bump;

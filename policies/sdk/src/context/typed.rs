//! A per-object cache of typed forms: one entry per type a rule asked for, parsed once and
//! kept until the context is dropped. (The cache this replaces held one type per object and
//! answered `None` to the second type asked for.)

use std::any::{Any, TypeId};
use std::cell::RefCell;

/// Typed forms of one object, keyed by type. Entries are only ever appended, never removed
/// or replaced, which is what lets [`TypedCache::get_or_insert`] hand out references that
/// outlive the `RefCell` borrow.
#[derive(Default)]
pub(crate) struct TypedCache {
    entries: RefCell<Vec<(TypeId, Box<dyn Any>)>>,
}

impl TypedCache {
    /// The cached `T`, or the one `make` builds (cached from then on). `make` runs without
    /// any borrow of the cache held, so it may itself use other caches.
    pub fn get_or_insert<T: 'static>(&self, make: impl FnOnce() -> T) -> &T {
        let id = TypeId::of::<T>();
        if let Some(found) = self.find::<T>(id) {
            return found;
        }
        let made: Box<dyn Any> = Box::new(make());
        // `make` may have inserted a `T` itself (re-entrantly); keep the first.
        if let Some(found) = self.find::<T>(id) {
            return found;
        }
        let ptr: *const dyn Any = &*made;
        match self.entries.try_borrow_mut() {
            Ok(mut entries) => entries.push((id, made)),
            // Unreachable (no borrow is held across calls); keep the value alive anyway.
            Err(_) => {
                let leaked: &'static dyn Any = Box::leak(made);
                return leaked
                    .downcast_ref::<T>()
                    .unwrap_or_else(|| unreachable_t());
            }
        }
        // SAFETY: `ptr` points into the heap allocation of a `Box` now owned by `entries`.
        // Entries are never removed or replaced while `self` lives (this type has no method
        // that does), and moving a `Box` (when the Vec reallocates) does not move its heap
        // contents, so the pointee lives as long as `&self`. It is a `T`: it was built as one.
        let any: &dyn Any = unsafe { &*ptr };
        any.downcast_ref::<T>().unwrap_or_else(|| unreachable_t())
    }

    fn find<T: 'static>(&self, id: TypeId) -> Option<&T> {
        let entries = self.entries.try_borrow().ok()?;
        let ptr: *const dyn Any = &**entries.iter().find(|(t, _)| *t == id).map(|(_, b)| b)?;
        drop(entries);
        // SAFETY: as in `get_or_insert`: the boxed value is never removed or replaced while
        // `self` lives, and its heap contents do not move.
        let any: &dyn Any = unsafe { &*ptr };
        any.downcast_ref::<T>()
    }
}

/// A `TypeId` matched but the downcast failed: impossible, and not reachable from input.
#[cold]
fn unreachable_t<T>() -> &'static T {
    // A process abort is the only honest answer; in wasm it is a trap (an error verdict).
    std::process::abort()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_one_value_per_type() {
        let cache = TypedCache::default();
        let a: &u32 = cache.get_or_insert(|| 7u32);
        let b: &String = cache.get_or_insert(|| "seven".to_string());
        // A second type does not shadow the first, and values are built once.
        assert_eq!(*cache.get_or_insert(|| 8u32), 7);
        assert_eq!(cache.get_or_insert(String::new), "seven");
        // More entries make the Vec reallocate; the references handed out stay valid.
        let _ = cache.get_or_insert(|| 1u8);
        let _ = cache.get_or_insert(|| 1u16);
        let _ = cache.get_or_insert(|| 1u64);
        let _ = cache.get_or_insert(|| 1i8);
        let _ = cache.get_or_insert(|| vec![1i16]);
        assert_eq!((*a, b.as_str()), (7, "seven"));
    }
}

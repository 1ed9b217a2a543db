//! Sub-trees of the object that are read only when a check asks for them.
//!
//! A [`Lazy`] field keeps its part of the input as borrowed JSON text (a scan of the input, no
//! allocation) and parses it into its type on first use, once. So a rule pays for the fields it
//! reads, not for every field some rule reads: health-check never builds a `SecurityContext`,
//! and the security rule never builds a `Probe`.
//!
//! Fail-closed: a sub-tree that does not parse as its type reads as absent, and the failure is
//! recorded; the evaluation pipeline turns any recorded failure into an `invalid-object` error
//! verdict after the rule's checks ran, whatever they found. A rule cannot allow an object
//! because a part it read was malformed.

use std::cell::{OnceCell, RefCell};
use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde_json::value::RawValue;

thread_local! {
    /// Parse failures of lazy fields during the current evaluation (the first few).
    static FAILURES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// At most this many failures are kept: the first one is what the verdict reports.
const MAX_FAILURES: usize = 8;

/// Records that a part of the object could not be read. The evaluation pipeline turns it into
/// an `invalid-object` error verdict.
pub fn record_failure(message: String) {
    FAILURES.with(|f| {
        if let Ok(mut f) = f.try_borrow_mut()
            && f.len() < MAX_FAILURES
        {
            f.push(message);
        }
    });
}

/// Forgets recorded failures (the pipeline calls this before an evaluation).
pub(crate) fn clear_failures() {
    FAILURES.with(|f| {
        if let Ok(mut f) = f.try_borrow_mut() {
            f.clear();
        }
    });
}

/// The first failure recorded since the last [`clear_failures`], if any.
pub(crate) fn first_failure() -> Option<String> {
    FAILURES.with(|f| f.try_borrow().ok().and_then(|f| f.first().cloned()))
}

/// Runs `f` and forgets the failures it records: for reading context objects, whose own
/// evaluation reports what is wrong with them.
pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> R {
    let saved = FAILURES.with(|cell| {
        cell.try_borrow_mut()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    });
    let result = f();
    FAILURES.with(|cell| {
        if let Ok(mut v) = cell.try_borrow_mut() {
            *v = saved;
        }
    });
    result
}

/// A field parsed on first use. Absent and `null` both read as `None`.
///
/// The parsed value is boxed, so a `Lazy` is four words whatever `T` is: a view with dozens
/// of lazy fields (a container, a pod spec) stays small to build and move.
pub struct Lazy<'a, T> {
    raw: Option<&'a RawValue>,
    parsed: OnceCell<Option<Box<T>>>,
}

impl<T> Default for Lazy<'_, T> {
    fn default() -> Self {
        Lazy {
            raw: None,
            parsed: OnceCell::new(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Lazy<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.parsed.get(), self.raw) {
            (Some(Some(v)), _) => v.fmt(f),
            (_, Some(raw)) => write!(f, "Lazy({})", raw.get()),
            (_, None) => f.write_str("None"),
        }
    }
}

impl<'de: 'a, 'a, T> Deserialize<'de> for Lazy<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        Ok(Lazy {
            raw: (raw.get() != "null").then_some(raw),
            parsed: OnceCell::new(),
        })
    }
}

impl<'a, T: Deserialize<'a>> Lazy<'a, T> {
    /// The value, parsed on first use. `None` when absent, `null`, or not of type `T` (then
    /// the failure is recorded and the verdict becomes an error).
    pub fn get(&self) -> Option<&T> {
        self.get_at(|| short_type_name::<T>().to_string())
    }

    /// [`Lazy::get`], naming the field (`spec.template.spec.containers[0].securityContext`)
    /// in the error when it does not parse.
    pub fn get_at(&self, path: impl FnOnce() -> String) -> Option<&T> {
        let raw = self.raw?;
        self.parsed
            .get_or_init(|| match serde_json::from_str::<T>(raw.get()) {
                Ok(v) => Some(Box::new(v)),
                Err(e) => {
                    record_failure(format!("{} does not parse: {e}", path()));
                    None
                }
            })
            .as_deref()
    }
}

impl<'a, T> Lazy<'a, T> {
    /// A lazy field holding `raw` (for tests and for views built by hand).
    pub fn from_raw(raw: &'a RawValue) -> Self {
        Lazy {
            raw: (raw.get() != "null").then_some(raw),
            parsed: OnceCell::new(),
        }
    }

    /// Whether the field is present and not `null` (without parsing it).
    pub fn is_present(&self) -> bool {
        self.raw.is_some()
    }

    /// The field's JSON text, unparsed.
    pub fn raw(&self) -> Option<&'a RawValue> {
        self.raw
    }
}

/// `k8s_openapi::api::core::v1::Probe` → `Probe`.
fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Holder<'a> {
        #[serde(borrow, default)]
        n: Lazy<'a, Vec<u32>>,
    }

    #[test]
    fn parses_on_first_use_and_records_failures() {
        clear_failures();
        let text = r#"{"n": [1, 2]}"#;
        let h: Holder<'_> = serde_json::from_str(text).unwrap();
        assert!(h.n.is_present());
        assert_eq!(h.n.get(), Some(&vec![1, 2]));
        assert_eq!(first_failure(), None);

        let text = r#"{"n": "two"}"#;
        let h: Holder<'_> = serde_json::from_str(text).unwrap();
        assert_eq!(h.n.get_at(|| "spec.n".into()), None);
        let failure = first_failure().unwrap();
        assert!(
            failure.starts_with("spec.n does not parse: invalid type"),
            "{failure}"
        );
        clear_failures();

        for text in [r#"{}"#, r#"{"n": null}"#] {
            let h: Holder<'_> = serde_json::from_str(text).unwrap();
            assert!(!h.n.is_present());
            assert_eq!(h.n.get(), None);
        }
        assert_eq!(first_failure(), None);
    }

    #[test]
    fn a_lazy_field_is_small_whatever_its_type() {
        assert!(
            std::mem::size_of::<Lazy<'_, k8s_openapi::api::core::v1::SecurityContext>>()
                <= 4 * std::mem::size_of::<usize>()
        );
    }

    #[test]
    fn type_names_are_short() {
        assert_eq!(short_type_name::<Vec<u32>>(), "Vec");
        assert_eq!(
            short_type_name::<k8s_openapi::api::core::v1::Probe>(),
            "Probe"
        );
    }
}

//! Exemptions by annotation: `prodready.io/skip-<check-id>: "<reason>"` on the object's own
//! metadata. The reason is required; an empty one does not exempt, and the violation says so.

use crate::object::Meta;

/// The annotation prefix for exemptions.
pub const SKIP_PREFIX: &str = "prodready.io/skip-";

pub(crate) enum Exempt<'a> {
    Yes(&'a str),
    NoReason(String),
    No,
}

pub(crate) fn exemption<'a>(meta: &'a Meta, check: &str) -> Exempt<'a> {
    let key = format!("{SKIP_PREFIX}{check}");
    match meta.annotations.get(&key) {
        Some(reason) if !reason.trim().is_empty() => Exempt::Yes(reason.trim()),
        Some(_) => Exempt::NoReason(key),
        None => Exempt::No,
    }
}

/// The annotation that exempts an object from a check.
pub fn skip_annotation(check: &str) -> String {
    format!("{SKIP_PREFIX}{check}")
}

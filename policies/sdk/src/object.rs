//! The object under evaluation: a slim header read once, and a typed body for the kinds a
//! rule asked for. `metadata.managedFields` and `status` are never materialised.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::verdict::ObjectRef;
use crate::workload::Workload;

/// The parts of `ObjectMeta` checks read. Everything else (managedFields above all) is skipped
/// without being built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub generate_name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub owner_references: Vec<OwnerReference>,
}

/// `metadata.ownerReferences[]`, as far as checks read it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub controller: Option<bool>,
}

impl Meta {
    /// The owner that controls the object (`controller: true`), if any.
    pub fn controller_owner(&self) -> Option<&OwnerReference> {
        self.owner_references
            .iter()
            .find(|o| o.controller == Some(true))
    }
}

/// Accepts `null` where a map or list is expected, as the API server does.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `metadata` must be an object (or null): serde's derive would also take an array as a
/// tuple of fields, which the API server never would.
pub(crate) fn meta_object<'de, D: Deserializer<'de>>(d: D) -> Result<Meta, D::Error> {
    struct MetaVisitor;
    impl<'de> serde::de::Visitor<'de> for MetaVisitor {
        type Value = Meta;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an ObjectMeta object")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Meta, E> {
            Ok(Meta::default())
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Meta, E> {
            Ok(Meta::default())
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Meta, A::Error> {
            Meta::deserialize(serde::de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(MetaVisitor)
}

/// A Kubernetes document with a typed `spec`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Doc<S> {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "meta_object")]
    pub metadata: Meta,
    // No `#[serde(default)]` here: an absent Option is None already, and the attribute would
    // ask `S: Default` of every spec type.
    pub spec: Option<S>,
}

/// The header of any object: apiVersion, kind and slim metadata; the rest is skipped.
pub(crate) type Header = Doc<IgnoredAny>;

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    }
}

/// The object a rule evaluates.
#[derive(Debug)]
pub struct Object<'a> {
    pub reference: ObjectRef,
    /// The namespace the object is in: its own, the request's, else (in a manifest set) the
    /// namespace the set is applied to; `None` for a cluster-scoped kind. What cross-object
    /// lookups use.
    pub namespace: Option<String>,
    pub meta: Meta,
    pub(crate) raw: RawSource<'a>,
    pub body: Body<'a>,
}

/// Where an object's JSON text is: kept (objects parsed after the envelope), or to be found in
/// the envelope on first use (workloads parsed in the envelope's own pass).
#[derive(Debug)]
pub(crate) enum RawSource<'a> {
    Raw(&'a RawValue),
    Envelope(&'a str, std::cell::OnceCell<Option<&'a RawValue>>),
}

/// Only `request.object` of an envelope, borrowed; the rest is skipped.
#[derive(Deserialize)]
struct EnvelopeObject<'a> {
    #[serde(borrow)]
    request: RequestObject<'a>,
}

#[derive(Deserialize)]
struct RequestObject<'a> {
    #[serde(borrow, default)]
    object: Option<&'a RawValue>,
}

#[derive(Debug)]
pub enum Body<'a> {
    /// A Pod or a controller with a pod template, parsed into the workload view.
    Workload(Box<Workload<'a>>),
    /// Any other kind: the rule parses what it needs with [`Object::parse`].
    Raw,
}

impl<'a> Object<'a> {
    pub fn workload(&self) -> Option<&Workload<'a>> {
        match &self.body {
            Body::Workload(w) => Some(w),
            Body::Raw => None,
        }
    }

    /// The namespace the object is in (resolved); `None` when cluster-scoped.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// `Kind namespace/name` or `Kind name`, for messages.
    pub fn display(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{} {ns}/{}", self.reference.kind, self.reference.name),
            None => format!("{} {}", self.reference.kind, self.reference.name),
        }
    }

    /// API group (`""` for the core group), from `apiVersion`.
    pub fn group(&self) -> &str {
        split_api_version(&self.reference.api_version).0
    }

    /// Whether the object is of this group and kind (any version).
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.reference.kind == kind && self.group() == group
    }

    /// The object's JSON, as it came in. For a workload parsed in the envelope's own pass it
    /// is found on first use (one more scan of the envelope).
    pub fn raw(&self) -> Option<&'a RawValue> {
        match &self.raw {
            RawSource::Raw(raw) => Some(raw),
            RawSource::Envelope(text, found) => *found.get_or_init(|| {
                serde_json::from_str::<EnvelopeObject<'a>>(text)
                    .ok()
                    .and_then(|e| e.request.object)
            }),
        }
    }

    /// Parses the object into a typed struct (a k8s-openapi resource, or a slim view that
    /// borrows from the input). Works for workloads too.
    pub fn parse<T: Deserialize<'a>>(&self) -> Result<T, String> {
        let raw = self
            .raw()
            .ok_or_else(|| format!("{} has no JSON text to parse", self.reference.kind))?;
        serde_json::from_str(raw.get())
            .map_err(|e| format!("{} does not parse: {e}", self.reference.kind))
    }
}

//! The object under evaluation: a slim header read once, and a typed body for the kinds a
//! rule asked for. `metadata.managedFields` and `status` are never materialised.

use std::collections::BTreeMap;

use serde::de::{DeserializeOwned, IgnoredAny};
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
    pub meta: Meta,
    pub body: Body<'a>,
}

#[derive(Debug)]
pub enum Body<'a> {
    /// A Pod or a controller with a pod template, parsed into the workload view.
    Workload(Box<Workload>),
    /// Any other kind: the rule parses what it needs with [`Object::parse`].
    Raw(&'a RawValue),
}

impl Object<'_> {
    pub fn workload(&self) -> Option<&Workload> {
        match &self.body {
            Body::Workload(w) => Some(w),
            Body::Raw(_) => None,
        }
    }

    /// Parses a non-workload object into a typed struct (e.g. a k8s-openapi resource).
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, String> {
        match &self.body {
            Body::Raw(raw) => serde_json::from_str(raw.get())
                .map_err(|e| format!("{} does not parse: {e}", self.reference.kind)),
            Body::Workload(_) => Err(format!(
                "{} is a workload; use Object::workload",
                self.reference.kind
            )),
        }
    }
}

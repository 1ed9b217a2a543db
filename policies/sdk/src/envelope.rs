//! Reading the evaluation envelope (docs/abi.md §4.1) in one pass.
//!
//! `request.object` is kept as borrowed JSON text (a scan, no allocation) and parsed after the
//! envelope, into the workload view or whatever the rule asks for; its raw text stays
//! available to the rule. A parse error inside the object is reported as `invalid-object`, not
//! as a broken envelope.

use std::fmt;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::run::Mode;
use crate::verdict::ErrorCode;

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    pub kind: String,
}

pub(crate) struct Request<'a> {
    pub kind: Option<GroupVersionKind>,
    pub operation: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub object: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub(crate) struct ContextIn<'a> {
    #[serde(default, borrow)]
    pub objects: Vec<&'a RawValue>,
    /// The namespace objects without `metadata.namespace` are in.
    #[serde(default)]
    pub namespace: Option<String>,
}

pub(crate) struct Envelope<'a> {
    pub request: Request<'a>,
    pub settings: Option<&'a RawValue>,
    pub context: Option<ContextIn<'a>>,
    pub mode: Mode,
}

/// Parses an envelope; on failure, the error code and message for the verdict.
pub(crate) fn parse(text: &str) -> Result<Envelope<'_>, (ErrorCode, String)> {
    let mut de = serde_json::Deserializer::from_str(text);
    let result = EnvelopeSeed
        .deserialize(&mut de)
        .and_then(|env| de.end().map(|()| env));
    result.map_err(|e| {
        (
            ErrorCode::InvalidEnvelope,
            format!("input is not an evaluation envelope: {e}"),
        )
    })
}

struct EnvelopeSeed;

/// The envelope's keys. Without a catch-all variant, an unknown key is an error that names the
/// known ones: a misspelt `setings` must not run with defaults.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum EnvelopeField {
    Request,
    Settings,
    Context,
    Mode,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = Envelope<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed {
    type Value = Envelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with `request` and optional `settings`, `context`, `mode`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut request = None;
        let mut settings = None;
        let mut context = None;
        let mut mode = None;
        while let Some(key) = map.next_key::<EnvelopeField>()? {
            match key {
                EnvelopeField::Request if request.is_some() => {
                    return Err(A::Error::duplicate_field("request"));
                }
                EnvelopeField::Request => {
                    request = Some(map.next_value_seed(RequestSeed)?);
                }
                EnvelopeField::Settings if settings.is_some() => {
                    return Err(A::Error::duplicate_field("settings"));
                }
                EnvelopeField::Settings => settings = Some(map.next_value::<Option<&RawValue>>()?),
                EnvelopeField::Context if context.is_some() => {
                    return Err(A::Error::duplicate_field("context"));
                }
                EnvelopeField::Context => {
                    context = Some(map.next_value::<Option<ContextIn<'de>>>()?)
                }
                EnvelopeField::Mode if mode.is_some() => {
                    return Err(A::Error::duplicate_field("mode"));
                }
                EnvelopeField::Mode => mode = Some(map.next_value::<Mode>()?),
            }
        }
        Ok(Envelope {
            request: request.ok_or_else(|| A::Error::missing_field("request"))?,
            settings: settings.flatten(),
            context: context.flatten(),
            mode: mode.unwrap_or_default(),
        })
    }
}

struct RequestSeed;

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "camelCase")]
enum RequestField {
    Kind,
    Operation,
    Namespace,
    Name,
    Object,
    #[serde(other)]
    Other,
}

impl<'de> DeserializeSeed<'de> for RequestSeed {
    type Value = Request<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RequestSeed {
    type Value = Request<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an AdmissionRequest object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut request = Request {
            kind: None,
            operation: None,
            namespace: None,
            name: None,
            object: None,
        };
        while let Some(key) = map.next_key::<RequestField>()? {
            match key {
                RequestField::Kind => request.kind = map.next_value()?,
                RequestField::Operation => request.operation = map.next_value()?,
                RequestField::Namespace => request.namespace = map.next_value()?,
                RequestField::Name => request.name = map.next_value()?,
                RequestField::Object => {
                    request.object = map.next_value::<Option<&'de RawValue>>()?;
                }
                RequestField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(request)
    }
}

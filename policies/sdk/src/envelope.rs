//! Reading the evaluation envelope (docs/abi.md §4.1) in one pass.
//!
//! `request.object` is parsed straight into the workload view when `request.kind` came before
//! it (Kubernetes and the prodready CLI both write it first) and names a workload kind the rule
//! handles; otherwise it is kept as raw JSON (borrowed: a scan, no allocation) and parsed
//! afterwards. Either way each byte of the object is read once or twice, never more, and a parse
//! error inside the object is reported as `invalid-object`, not as a broken envelope. A rule that
//! wants a workload's raw JSON too gets it on demand (`Object::raw`), at the cost of one more
//! scan then.

use std::cell::Cell;
use std::fmt;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::metadata::RuleInfo;
use crate::run::Mode;
use crate::verdict::ErrorCode;
use crate::workload::{self, Parsed, WorkloadKind};

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GroupVersionKind {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    pub kind: String,
}

/// `request.object`, as far as the envelope pass got with it.
pub(crate) enum ObjectIn<'a> {
    Absent,
    Raw(&'a RawValue),
    Workload(Box<Parsed<'a>>),
}

pub(crate) struct Request<'a> {
    pub kind: Option<GroupVersionKind>,
    pub operation: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub object: ObjectIn<'a>,
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

/// Where the parser was when it failed.
#[derive(Clone, Copy)]
enum Stage {
    Envelope,
    Object(WorkloadKind),
}

/// Parses an envelope; on failure, the error code and message for the verdict.
pub(crate) fn parse<'a>(
    text: &'a str,
    info: &RuleInfo,
) -> Result<Envelope<'a>, (ErrorCode, String)> {
    let stage = Cell::new(Stage::Envelope);
    let mut de = serde_json::Deserializer::from_str(text);
    let result = EnvelopeSeed {
        info,
        stage: &stage,
    }
    .deserialize(&mut de)
    .and_then(|env| de.end().map(|()| env));
    result.map_err(|e| match stage.get() {
        Stage::Object(kind) => (
            ErrorCode::InvalidObject,
            format!("{} does not parse: {e}", kind.as_str()),
        ),
        Stage::Envelope => (
            ErrorCode::InvalidEnvelope,
            format!("input is not an evaluation envelope: {e}"),
        ),
    })
}

struct EnvelopeSeed<'s> {
    info: &'s RuleInfo,
    stage: &'s Cell<Stage>,
}

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

impl<'de> DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Envelope<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed<'_> {
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
                    request = Some(map.next_value_seed(RequestSeed {
                        info: self.info,
                        stage: self.stage,
                    })?);
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

struct RequestSeed<'s> {
    info: &'s RuleInfo,
    stage: &'s Cell<Stage>,
}

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

impl<'de> DeserializeSeed<'de> for RequestSeed<'_> {
    type Value = Request<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RequestSeed<'_> {
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
            object: ObjectIn::Absent,
        };
        while let Some(key) = map.next_key::<RequestField>()? {
            match key {
                RequestField::Kind => request.kind = map.next_value()?,
                RequestField::Operation => request.operation = map.next_value()?,
                RequestField::Namespace => request.namespace = map.next_value()?,
                RequestField::Name => request.name = map.next_value()?,
                RequestField::Object => {
                    let typed = request
                        .kind
                        .as_ref()
                        .filter(|k| self.info.handles(&k.group, &k.version, &k.kind))
                        .and_then(|k| WorkloadKind::from_group_kind(&k.group, &k.kind));
                    request.object = match typed {
                        Some(kind) => map.next_value_seed(ObjectSeed {
                            kind,
                            stage: self.stage,
                        })?,
                        None => match map.next_value::<Option<&RawValue>>()? {
                            Some(raw) => ObjectIn::Raw(raw),
                            None => ObjectIn::Absent,
                        },
                    };
                }
                RequestField::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(request)
    }
}

/// Parses `request.object` (or `null`) into the workload view.
struct ObjectSeed<'s> {
    kind: WorkloadKind,
    stage: &'s Cell<Stage>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_> {
    type Value = ObjectIn<'de>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_> {
    type Value = ObjectIn<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(ObjectIn::Absent)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(ObjectIn::Absent)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.stage.set(Stage::Object(self.kind));
        let parsed = workload::parse_with(self.kind, d)?;
        self.stage.set(Stage::Envelope);
        Ok(ObjectIn::Workload(Box::new(parsed)))
    }
}

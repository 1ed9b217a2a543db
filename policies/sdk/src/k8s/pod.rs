//! The pod spec as rules read it: scalars read eagerly (cheap: no allocation for numbers and
//! booleans, strings borrowed from the input), every sub-tree [`Lazy`] under k8s-openapi's
//! own type, parsed on first use. Field names are the API's.
//!
//! Why not k8s-openapi's `PodSpec` itself: building all of it costs ~25 µs per 3 KB Deployment
//! and makes each module ~800 KB, while a rule reads a tenth of it (docs/performance.md). With
//! lazy sub-trees a rule pays a scan of what it skips and a parse of what it reads.

use std::borrow::Cow;

use k8s_openapi::api::core::v1 as core;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::lazy::{Lazy, record_failure};

/// `PodSpec`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec<'a> {
    /// Required, as in the API.
    #[serde(borrow)]
    pub containers: Vec<Container<'a>>,
    #[serde(borrow, default, deserialize_with = "crate::object::null_as_default")]
    pub init_containers: Vec<Container<'a>>,
    #[serde(borrow, default, deserialize_with = "crate::object::null_as_default")]
    pub ephemeral_containers: Vec<Container<'a>>,
    #[serde(borrow, default, deserialize_with = "crate::object::null_as_default")]
    pub volumes: Vec<Volume<'a>>,

    pub termination_grace_period_seconds: Option<i64>,
    pub active_deadline_seconds: Option<i64>,
    #[serde(borrow)]
    pub restart_policy: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub priority_class_name: Option<Cow<'a, str>>,
    pub priority: Option<i32>,
    #[serde(borrow)]
    pub preemption_policy: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub service_account_name: Option<Cow<'a, str>>,
    /// Deprecated alias of `serviceAccountName`.
    #[serde(borrow)]
    pub service_account: Option<Cow<'a, str>>,
    pub automount_service_account_token: Option<bool>,
    pub host_network: Option<bool>,
    #[serde(rename = "hostPID")]
    pub host_pid: Option<bool>,
    #[serde(rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    pub host_users: Option<bool>,
    pub share_process_namespace: Option<bool>,
    #[serde(borrow)]
    pub node_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub scheduler_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub runtime_class_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub dns_policy: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub hostname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub subdomain: Option<Cow<'a, str>>,
    pub enable_service_links: Option<bool>,
    pub set_hostname_as_fqdn: Option<bool>,

    #[serde(borrow, default)]
    pub node_selector: Lazy<'a, std::collections::BTreeMap<String, String>>,
    #[serde(borrow, default)]
    pub affinity: Lazy<'a, core::Affinity>,
    #[serde(borrow, default)]
    pub tolerations: Lazy<'a, Vec<core::Toleration>>,
    #[serde(borrow, default)]
    pub topology_spread_constraints: Lazy<'a, Vec<core::TopologySpreadConstraint>>,
    #[serde(borrow, default)]
    pub security_context: Lazy<'a, core::PodSecurityContext>,
    #[serde(borrow, default)]
    pub dns_config: Lazy<'a, core::PodDNSConfig>,
    #[serde(borrow, default)]
    pub image_pull_secrets: Lazy<'a, Vec<core::LocalObjectReference>>,
    #[serde(borrow, default)]
    pub host_aliases: Lazy<'a, Vec<core::HostAlias>>,
    #[serde(borrow, default)]
    pub readiness_gates: Lazy<'a, Vec<core::PodReadinessGate>>,
    #[serde(borrow, default)]
    pub os: Lazy<'a, core::PodOS>,
    /// Pod-level resources (beta in Kubernetes 1.34).
    #[serde(borrow, default)]
    pub resources: Lazy<'a, core::ResourceRequirements>,
    #[serde(borrow, default)]
    pub overhead: Lazy<
        'a,
        std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >,
    #[serde(borrow, default)]
    pub scheduling_gates: Lazy<'a, Vec<core::PodSchedulingGate>>,
    #[serde(borrow, default)]
    pub resource_claims: Lazy<'a, Vec<core::PodResourceClaim>>,
}

/// `Container`, also used for init and ephemeral containers (the API's `EphemeralContainer`
/// has the same fields, most of them forbidden).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container<'a> {
    #[serde(borrow)]
    pub name: Cow<'a, str>,
    #[serde(borrow)]
    pub image: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub image_pull_policy: Option<Cow<'a, str>>,
    /// `Always` on an init container makes it a sidecar.
    #[serde(borrow)]
    pub restart_policy: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub working_dir: Option<Cow<'a, str>>,
    /// Ephemeral containers: the container whose namespaces it joins.
    #[serde(borrow)]
    pub target_container_name: Option<Cow<'a, str>>,
    pub stdin: Option<bool>,
    pub tty: Option<bool>,

    #[serde(borrow, default)]
    pub command: Lazy<'a, Vec<String>>,
    #[serde(borrow, default)]
    pub args: Lazy<'a, Vec<String>>,
    #[serde(borrow, default)]
    pub ports: Lazy<'a, Vec<core::ContainerPort>>,
    #[serde(borrow, default)]
    pub resources: Lazy<'a, core::ResourceRequirements>,
    #[serde(borrow, default)]
    pub liveness_probe: Lazy<'a, core::Probe>,
    #[serde(borrow, default)]
    pub readiness_probe: Lazy<'a, core::Probe>,
    #[serde(borrow, default)]
    pub startup_probe: Lazy<'a, core::Probe>,
    #[serde(borrow, default)]
    pub lifecycle: Lazy<'a, core::Lifecycle>,
    #[serde(borrow, default)]
    pub env: Lazy<'a, Vec<core::EnvVar>>,
    #[serde(borrow, default)]
    pub env_from: Lazy<'a, Vec<core::EnvFromSource>>,
    #[serde(borrow, default)]
    pub volume_mounts: Lazy<'a, Vec<core::VolumeMount>>,
    #[serde(borrow, default)]
    pub volume_devices: Lazy<'a, Vec<core::VolumeDevice>>,
    #[serde(borrow, default)]
    pub security_context: Lazy<'a, core::SecurityContext>,
    #[serde(borrow, default)]
    pub resize_policy: Lazy<'a, Vec<core::ContainerResizePolicy>>,
}

/// `Volume`: its name, and each volume source as unparsed JSON under its field name
/// (`emptyDir`, `hostPath`, ...), so a rule parses the sources it reads and can still see
/// every source that is set, including ones newer than this SDK.
#[derive(Debug, Default)]
pub struct Volume<'a> {
    pub name: Cow<'a, str>,
    sources: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Volume<'a> {
    /// The field names of the sources set (not `null`), in input order. The API allows one.
    pub fn source_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.sources.iter().map(|(k, _)| k.as_ref())
    }

    /// The JSON of one source, by field name.
    pub fn source_raw(&self, field: &str) -> Option<&'a RawValue> {
        self.sources
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, raw)| *raw)
    }

    /// One source parsed as `T`. A source that does not parse reads as absent and makes the
    /// verdict an error (see [`crate::lazy`]); `path` names the volume for that message.
    pub fn source<T: Deserialize<'a>>(
        &self,
        field: &str,
        path: impl FnOnce() -> String,
    ) -> Option<T> {
        let raw = self.source_raw(field)?;
        match serde_json::from_str::<T>(raw.get()) {
            Ok(v) => Some(v),
            Err(e) => {
                record_failure(format!("{}.{field} does not parse: {e}", path()));
                None
            }
        }
    }

    /// Whether a source with this field name is set.
    pub fn has_source(&self, field: &str) -> bool {
        self.source_raw(field).is_some()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Volume<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Volume<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a Volume object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Volume<'a>, A::Error> {
                let mut name: Option<Cow<'a, str>> = None;
                let mut sources = Vec::new();
                while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
                    if key == "name" {
                        if name.is_some() {
                            return Err(de::Error::duplicate_field("name"));
                        }
                        name = Some(map.next_value::<CowStr<'de>>()?.0);
                        continue;
                    }
                    let raw: &'de RawValue = map.next_value()?;
                    if raw.get() != "null" {
                        sources.push((key, raw));
                    }
                }
                let name = name.ok_or_else(|| de::Error::missing_field("name"))?;
                Ok(Volume { name, sources })
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A string borrowed from the input when it has no escapes, owned otherwise.
pub(crate) struct CowStr<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct S<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for S<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Owned(v)))
            }
        }
        d.deserialize_str(S(std::marker::PhantomData))
    }
}

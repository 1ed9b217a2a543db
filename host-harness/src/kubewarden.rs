//! Runs the Kubewarden (waPC) flavour of a rule module with the host libraries Kubewarden's own
//! policy evaluator uses: `wapc` and `wasmtime-provider`. Used by the parity tests and by
//! `prodready bundle kubewarden`, which asks each module for its protocol version the way
//! `kwctl annotate` does.
//!
//! Each call gets a fresh instance (as policy-server does), the host's deadline (epoch ticks on
//! the shared engine) and its memory cap. Host capability calls for Kubernetes objects are
//! answered from a [`Cluster`]: the manifest set under test.

use std::sync::Arc;

use prodready_sdk::kubewarden::ValidationResponse;
use prodready_sdk::verdict::SettingsValidation;
use serde::Deserialize;
use wasmtime_provider::{
    EpochDeadlines, ResourceLimits, WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre,
};

use crate::engine::Host;

/// Why a waPC call failed. Kubewarden rejects the request in every one of these cases.
#[derive(Debug, thiserror::Error)]
pub enum WapcError {
    #[error("{origin}: not a valid waPC module: {message}")]
    Load { origin: String, message: String },
    #[error("{origin}: {operation} failed: {message}")]
    Call {
        origin: String,
        operation: String,
        message: String,
    },
    #[error("{origin}: {operation} answered something that is not its response: {message}")]
    BadOutput {
        origin: String,
        operation: String,
        message: String,
    },
}

/// The objects a host capability call can see: what `list_resources_by_namespace` and
/// `list_resources_all` answer from — a cluster the manifest set was applied to. As the API
/// server would: an object of a namespaced kind without a namespace was created in the
/// namespace the set was applied to (`default`), a cluster-scoped object has none, and a
/// namespaced list of a cluster-scoped kind is refused (the API has no such path).
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    objects: Vec<serde_json::Value>,
    /// When set, every call fails with this message (a policy without the permission).
    refusal: Option<String>,
}

/// The namespace an object of a cluster lives in: its own, or `default` for a namespaced
/// kind; `None` for a cluster-scoped one.
fn cluster_namespace(o: &serde_json::Value) -> Option<String> {
    let api_version = o
        .get("apiVersion")
        .and_then(|v| v.as_str())
        .unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = o.get("kind").and_then(|v| v.as_str()).unwrap_or_default();
    prodready_sdk::scope::resolve(
        group,
        kind,
        o.pointer("/metadata/namespace").and_then(|v| v.as_str()),
        prodready_sdk::scope::DEFAULT_NAMESPACE,
    )
    .map(str::to_string)
}

#[derive(Deserialize)]
struct ListRequestIn {
    api_version: String,
    kind: String,
    #[serde(default)]
    namespace: Option<String>,
}

impl Cluster {
    /// A cluster holding `objects`, each created in its namespace (`default` when it names
    /// none and its kind is namespaced), as `kubectl apply` would create them.
    pub fn new(objects: Vec<serde_json::Value>) -> Cluster {
        let objects = objects
            .into_iter()
            .map(|mut o| {
                if let (Some(ns), Some(meta)) = (
                    cluster_namespace(&o),
                    o.get_mut("metadata").and_then(|m| m.as_object_mut()),
                ) {
                    meta.insert("namespace".into(), serde_json::Value::String(ns));
                }
                o
            })
            .collect();
        Cluster {
            objects,
            refusal: None,
        }
    }

    /// A cluster that refuses every host capability call with `message`.
    pub fn refusing(message: impl Into<String>) -> Cluster {
        Cluster {
            objects: Vec::new(),
            refusal: Some(message.into()),
        }
    }

    /// Answers one host capability call.
    pub fn answer(
        &self,
        binding: &str,
        namespace: &str,
        operation: &str,
        payload: &[u8],
    ) -> Result<Vec<u8>, String> {
        if let Some(refusal) = &self.refusal {
            return Err(refusal.clone());
        }
        if binding != "kubewarden" || namespace != "kubernetes" {
            return Err(format!(
                "unknown host capability {binding}/{namespace}/{operation}"
            ));
        }
        let request: ListRequestIn = match operation {
            "list_resources_by_namespace" | "list_resources_all" => serde_json::from_slice(payload)
                .map_err(|e| format!("{operation}: bad request: {e}"))?,
            other => return Err(format!("unsupported kubernetes operation {other}")),
        };
        let namespace = match operation {
            "list_resources_by_namespace" => match &request.namespace {
                None => return Err("list_resources_by_namespace: namespace is required".into()),
                Some(ns) => {
                    let group = request.api_version.rsplit_once('/').map_or("", |(g, _)| g);
                    if prodready_sdk::scope::is_cluster_scoped(group, &request.kind) {
                        return Err(format!(
                            "list_resources_by_namespace: {} {} is cluster-scoped: the server could not find the requested resource",
                            request.api_version, request.kind
                        ));
                    }
                    Some(ns.as_str())
                }
            },
            _ => None,
        };
        let items: Vec<&serde_json::Value> = self
            .objects
            .iter()
            .filter(|o| {
                o.get("apiVersion").and_then(|v| v.as_str()) == Some(request.api_version.as_str())
                    && o.get("kind").and_then(|v| v.as_str()) == Some(request.kind.as_str())
                    && namespace.is_none_or(|want| {
                        o.pointer("/metadata/namespace").and_then(|v| v.as_str()) == Some(want)
                    })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {},
            "items": items,
        }))
        .map_err(|e| e.to_string())
    }
}

/// A compiled waPC module, ready to instantiate per call.
pub struct WapcModule {
    origin: String,
    pre: WasmtimeEngineProviderPre,
    deadlines: EpochDeadlines,
}

impl std::fmt::Debug for WapcModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WapcModule")
            .field("origin", &self.origin)
            .finish()
    }
}

impl WapcModule {
    /// Compiles `wasm` on the host's engine, with its deadline and memory cap.
    pub fn new(
        host: &Host,
        origin: impl Into<String>,
        wasm: &[u8],
    ) -> Result<WapcModule, WapcError> {
        let origin = origin.into();
        let ticks = host.deadline_ticks();
        let deadlines = EpochDeadlines {
            wapc_init: ticks,
            wapc_func: ticks,
        };
        let pre = WasmtimeEngineProviderBuilder::new()
            .engine(host.engine().clone())
            .module_bytes(wasm)
            .enable_epoch_interruptions(deadlines)
            .enable_resource_limits(ResourceLimits {
                max_memory_size: Some(host.limits().memory_bytes),
                max_table_elements: Some(1 << 16),
            })
            .build_pre()
            .map_err(|e| WapcError::Load {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
        Ok(WapcModule {
            origin,
            pre,
            deadlines,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Calls `operation` on a fresh instance; host capability calls are answered by `cluster`.
    pub fn call(
        &self,
        operation: &str,
        payload: &[u8],
        cluster: Arc<Cluster>,
    ) -> Result<Vec<u8>, WapcError> {
        let call_error = |message: String| WapcError::Call {
            origin: self.origin.clone(),
            operation: operation.to_string(),
            message,
        };
        let provider = self
            .pre
            .rehydrate(Some(self.deadlines))
            .map_err(|e| call_error(e.to_string()))?;
        let callback = move |_id: u64, binding: &str, namespace: &str, op: &str, payload: &[u8]| {
            cluster
                .answer(binding, namespace, op, payload)
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { e.into() })
        };
        let host = wapc::WapcHost::new(Box::new(provider), Some(Box::new(callback)))
            .map_err(|e| call_error(e.to_string()))?;
        host.call(operation, payload)
            .map_err(|e| call_error(e.to_string()))
    }

    /// `validate` with a payload `{"request": ..., "settings": ...}`.
    pub fn validate(
        &self,
        payload: &[u8],
        cluster: Arc<Cluster>,
    ) -> Result<ValidationResponse, WapcError> {
        let out = self.call("validate", payload, cluster)?;
        self.parse("validate", &out)
    }

    /// `validate_settings` with bare settings JSON.
    pub fn validate_settings(&self, settings: &[u8]) -> Result<SettingsValidation, WapcError> {
        let out = self.call("validate_settings", settings, Arc::default())?;
        self.parse("validate_settings", &out)
    }

    /// `protocol_version`: `"v1"` for every prodready module.
    pub fn protocol_version(&self) -> Result<String, WapcError> {
        let out = self.call("protocol_version", b"", Arc::default())?;
        self.parse("protocol_version", &out)
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        out: &[u8],
    ) -> Result<T, WapcError> {
        serde_json::from_slice(out).map_err(|e| WapcError::BadOutput {
            origin: self.origin.clone(),
            operation: operation.to_string(),
            message: e.to_string(),
        })
    }
}

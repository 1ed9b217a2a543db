//! Gatekeeper's external-data provider: `prodready serve gatekeeper-provider`.
//!
//! Gatekeeper has no wasm engine, so the rules run here, in the same host and modules as
//! `prodready check`; the generated ConstraintTemplates (`bundle/gatekeeper.rs`) only build a
//! key and relay the answer. Gatekeeper POSTs
//!
//! ```json
//! {"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest",
//!  "request": {"keys": ["<key>", ...]}}
//! ```
//!
//! and gets one item per key:
//!
//! ```json
//! {"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderResponse",
//!  "response": {"idempotent": true, "systemError": "",
//!               "items": [{"key": "<key>", "value": {"violation": [...], "warn": [...]}}]}}
//! ```
//!
//! **The key** is a JSON text:
//! `{"rule": "<rule id>", "review": <Gatekeeper's input.review>, "parameters": <settings>,
//! "context": [<objects>]}` (`parameters` and `context` optional). The provider maps
//! `review`/`parameters` to a core envelope with [`prodready_sdk::gatekeeper::envelope`], adds
//! `context` as the envelope's `{"objects": [...]}`, evaluates it on a fresh instance of the
//! rule's module and answers [`prodready_sdk::gatekeeper::sets`] of the verdict: the same
//! `violation`/`warn` entries the OPA-ABI flavour produces. An error verdict is one `violation`
//! entry with `check: "error"`. A key the provider cannot read (not JSON, not that shape, an
//! unknown rule) gets an item with `error` set and no value, which the template turns into a
//! violation: nothing here allows by omission. Everything a verdict depends on is in the key,
//! so answers are idempotent and Gatekeeper may cache them.
//!
//! **The server** ([`server`]) is hyper's HTTP/1.1 over TLS 1.3 ([`tls`]) on tokio: `POST
//! /validate` answers ProviderRequests; `GET /healthz` and `GET /readyz` answer probes.
//! Connections are tasks, so idle and slow clients cost memory, not threads; evaluations run
//! on a bounded pool of threads beside it. Limits, timeouts and shutdown are described there.

use prodready_sdk::gatekeeper::{self, Sets};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::engine::Host;
use crate::module::RuleModule;

mod server;
mod tls;

pub use server::{Server, ServerLimits};
pub use tls::{RELOAD_CHECK, TlsFiles, tls_config, tls_config_from_pem, tls_config_reloading};

/// The API version of the requests Gatekeeper sends and of our answers.
pub const API_VERSION: &str = "externaldata.gatekeeper.sh/v1beta1";
/// The group every accepted request's `apiVersion` is in (v1alpha1 and v1beta1 alike).
const API_GROUP: &str = "externaldata.gatekeeper.sh/";
/// The `Provider` name the generated templates call.
pub const PROVIDER_NAME: &str = "prodready";
/// Where Gatekeeper POSTs.
pub const VALIDATE_PATH: &str = "/validate";
/// Where liveness probes GET: the process answers.
pub const HEALTH_PATH: &str = "/healthz";
/// Where readiness probes GET: the process answers, its rules loaded (they are before it
/// listens), and it is not shutting down (503 then). A separate path, so the two probes are
/// distinct as our own health-check rule asks.
pub const READY_PATH: &str = "/readyz";
/// Most keys one request may carry (Gatekeeper sends one per template evaluation).
pub const MAX_KEYS: usize = 1024;

/// One answered key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub key: String,
    /// The rule's answer; absent when `error` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Sets>,
    /// Why the key could not be evaluated; empty when `value` is set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
}

/// The `response` of a ProviderResponse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub idempotent: bool,
    pub items: Vec<Item>,
    #[serde(rename = "systemError", default)]
    pub system_error: String,
}

/// What the provider answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderResponse {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub response: Response,
}

impl ProviderResponse {
    fn new(items: Vec<Item>, system_error: String) -> ProviderResponse {
        ProviderResponse {
            api_version: API_VERSION.to_string(),
            kind: "ProviderResponse".to_string(),
            response: Response {
                idempotent: true,
                items,
                system_error,
            },
        }
    }

    /// A response that carries only a system error (the request as a whole failed).
    pub fn system_error(message: impl Into<String>) -> ProviderResponse {
        ProviderResponse::new(Vec::new(), message.into())
    }
}

/// Gatekeeper's request, as read.
#[derive(Deserialize)]
struct ProviderRequestIn {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: String,
    #[serde(default)]
    request: RequestIn,
}

#[derive(Default, Deserialize)]
struct RequestIn {
    #[serde(default)]
    keys: Vec<String>,
}

/// A key, borrowed from its text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyIn<'a> {
    rule: String,
    #[serde(borrow)]
    review: &'a RawValue,
    #[serde(default, borrow)]
    parameters: Option<&'a RawValue>,
    #[serde(default, borrow)]
    context: Option<Vec<&'a RawValue>>,
}

/// The rules the provider evaluates and the host they run in.
pub struct Provider<'h> {
    host: &'h Host,
    modules: Vec<RuleModule>,
}

impl<'h> Provider<'h> {
    pub fn new(host: &'h Host, modules: Vec<RuleModule>) -> Provider<'h> {
        Provider { host, modules }
    }

    /// Evaluations the host can run at once (its instance pool; 0 means unpooled, unbounded).
    pub fn max_parallel(&self) -> usize {
        match self.host.limits().pool_instances {
            0 => usize::MAX,
            n => n as usize,
        }
    }

    /// The rule ids it answers for.
    pub fn rules(&self) -> Vec<&str> {
        self.modules.iter().map(RuleModule::id).collect()
    }

    /// Answers one key (see the module documentation for its format).
    pub fn evaluate_key(&self, key: &str) -> Item {
        match self.try_evaluate_key(key) {
            Ok(sets) => Item {
                key: key.to_string(),
                value: Some(sets),
                error: String::new(),
            },
            Err(error) => Item {
                key: key.to_string(),
                value: None,
                error: format!("prodready: {error}"),
            },
        }
    }

    fn try_evaluate_key(&self, key: &str) -> Result<Sets, String> {
        let parsed: KeyIn<'_> = serde_json::from_str(key).map_err(|e| {
            format!(
                "the key is not {{\"rule\", \"review\", \"parameters\"?, \"context\"?}} as the prodready templates build it: {e}"
            )
        })?;
        let module = self
            .modules
            .iter()
            .find(|m| m.id() == parsed.rule)
            .ok_or_else(|| {
                format!(
                    "unknown rule {:?}; this provider evaluates {}",
                    parsed.rule,
                    self.rules().join(", ")
                )
            })?;
        if !parsed.review.get().starts_with('{') {
            return Err("`review` must be an object (Gatekeeper's input.review)".to_string());
        }
        let envelope = envelope(&parsed)?;
        let verdict = module.evaluate(self.host, &envelope);
        Ok(gatekeeper::sets(module.id(), &verdict))
    }

    /// Answers a request body: `Err` is the system error of a body that is not a
    /// ProviderRequest (the server answers it with 400).
    pub fn respond(&self, body: &[u8]) -> Result<ProviderResponse, String> {
        let request: ProviderRequestIn = serde_json::from_slice(body)
            .map_err(|e| format!("the body is not a ProviderRequest: {e}"))?;
        if request.kind != "ProviderRequest" {
            return Err(format!(
                "kind must be ProviderRequest, not {:?}",
                request.kind
            ));
        }
        if !request.api_version.starts_with(API_GROUP) {
            return Err(format!(
                "apiVersion must be {API_VERSION}, not {:?}",
                request.api_version
            ));
        }
        let keys = request.request.keys;
        if keys.len() > MAX_KEYS {
            return Err(format!(
                "{} keys in one request; at most {MAX_KEYS} are accepted",
                keys.len()
            ));
        }
        let items = keys.iter().map(|k| self.evaluate_key(k)).collect();
        Ok(ProviderResponse::new(items, String::new()))
    }
}

/// The core envelope for a key: Gatekeeper's input mapped by the SDK, plus the context.
fn envelope(key: &KeyIn<'_>) -> Result<Vec<u8>, String> {
    let mut input = String::with_capacity(key.review.get().len() + 64);
    input.push_str("{\"review\":");
    input.push_str(key.review.get());
    if let Some(p) = key.parameters {
        input.push_str(",\"parameters\":");
        input.push_str(p.get());
    }
    input.push('}');
    let mut envelope = gatekeeper::envelope(input.as_bytes())?;
    if let Some(objects) = &key.context {
        // The envelope is a JSON object: reopen it to add the context.
        if envelope.pop() != Some(b'}') {
            return Err("internal: the envelope is not a JSON object".to_string());
        }
        envelope.extend_from_slice(b",\"context\":{\"objects\":[");
        for (i, o) in objects.iter().enumerate() {
            if i > 0 {
                envelope.push(b',');
            }
            envelope.extend_from_slice(o.get().as_bytes());
        }
        envelope.extend_from_slice(b"]}}");
    }
    Ok(envelope)
}

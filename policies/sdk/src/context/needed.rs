//! What an admission request needs from outside its envelope before it is evaluated: the
//! rule's context resources, each listed cluster-wide (a cluster-scoped kind, or a request
//! with no namespace) or in the request's namespace. The Kubewarden flavour fetches them
//! through host capabilities; the OPA flavour reads them from Gatekeeper's inventory.

use serde::Deserialize;

use crate::metadata::{Listing, Resource, RuleInfo};

/// One list an admission-time host must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub resource: Resource,
    /// `None`: every namespace (or a cluster-scoped kind).
    pub namespace: Option<String>,
}

/// Everything an evaluation needs listed, and the request's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    pub lists: Vec<Wanted>,
    /// The request's namespace (else the object's own), if any.
    pub namespace: Option<String>,
}

/// Only what [`needed`] reads of an envelope; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Peek {
    request: PeekRequest,
}

#[derive(Deserialize)]
struct PeekRequest {
    #[serde(default)]
    kind: Option<PeekKind>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    object: Option<PeekObject>,
}

#[derive(Deserialize)]
struct PeekKind {
    #[serde(default)]
    group: String,
    #[serde(default)]
    version: String,
    kind: String,
}

#[derive(Deserialize)]
struct PeekObject {
    #[serde(default)]
    metadata: Option<PeekMeta>,
}

#[derive(Deserialize)]
struct PeekMeta {
    #[serde(default)]
    namespace: Option<String>,
}

/// The context an envelope's request needs: `None` when the rule reads no context, does not
/// evaluate this kind or operation, or the envelope cannot be read (the evaluation reports
/// that). The namespace is `request.namespace`, else the object's own.
pub fn needed(info: &RuleInfo, envelope: &[u8]) -> Option<Needed> {
    if info.context.is_empty() {
        return None;
    }
    let request = serde_json::from_slice::<Peek>(envelope).ok()?.request;
    let operation = request.operation.as_deref().unwrap_or("CREATE");
    let kind = request.kind?;
    if !info.handles(&kind.group, &kind.version, &kind.kind)
        || !info.operations.contains(&operation)
    {
        return None;
    }
    let namespace = request
        .namespace
        .filter(|n| !n.is_empty())
        .or_else(|| request.object?.metadata?.namespace)
        .filter(|n| !n.is_empty());
    let lists = info
        .context
        .iter()
        .filter(|c| c.listing != Listing::ManifestOnly)
        .map(|c| Wanted {
            resource: c.resource,
            namespace: match c.listing {
                Listing::Namespace if c.resource.is_namespaced() => namespace.clone(),
                _ => None,
            },
        })
        .collect();
    Some(Needed { lists, namespace })
}

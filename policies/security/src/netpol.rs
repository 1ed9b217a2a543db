//! NetworkPolicies: every workload's pods are selected by one, and each one selects some pods.
//!
//! A policy selects pods of its own namespace by `spec.podSelector` (`{}`: every pod); its
//! `policyTypes` default to `[Ingress]`, plus `Egress` when it has egress rules (API
//! defaulting, networking/v1 `NetworkPolicySpec`). A pod selected by a policy with Ingress is
//! isolated for ingress: only what some selecting policy allows gets in — so a namespace
//! default-deny (`podSelector: {}`, `policyTypes: [Ingress]`, no rules) covers every pod.

use std::collections::{BTreeMap, HashMap, HashSet};

use prodready_sdk::k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use prodready_sdk::selector::Requirement;
use prodready_sdk::{Context, ContextObject, Cx, Findings, Object, Selector, Workload, selectors};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::settings::Settings;
use crate::{NETWORK_POLICY_COVERAGE, NETWORK_POLICY_TARGETS};

pub const GROUP: &str = "networking.k8s.io";
pub const KIND: &str = "NetworkPolicy";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicySpec {
    #[serde(default)]
    pod_selector: Option<LabelSelector>,
    #[serde(default)]
    policy_types: Option<Vec<String>>,
    #[serde(default)]
    egress: Option<Vec<IgnoredAny>>,
}

#[derive(Debug, Default, Deserialize)]
struct PolicyDoc {
    #[serde(default)]
    spec: Option<PolicySpec>,
}

/// Which directions a policy isolates, with the API's defaulting of `policyTypes`.
fn directions(spec: Option<&PolicySpec>) -> (bool, bool) {
    let Some(spec) = spec else {
        return (true, false);
    };
    match spec.policy_types.as_deref() {
        Some(types) if !types.is_empty() => (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        ),
        _ => (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty())),
    }
}

fn context_directions(o: &ContextObject) -> (bool, bool) {
    directions(o.get::<PolicyDoc>().and_then(|d| d.spec.as_ref()))
}

/// network-policy-coverage for a workload.
pub fn coverage(object: &Object<'_>, w: &Workload<'_>, cx: &Cx<'_, Settings>, out: &mut Findings) {
    let check = &NETWORK_POLICY_COVERAGE;
    if !cx.has_context() {
        out.skip(
            check,
            "no context: the NetworkPolicies of the namespace are not known".into(),
        );
        return;
    }
    if w.spec.host_network == Some(true) {
        // NetworkPolicy does not apply to host-network pods (their traffic is the node's).
        return;
    }
    // No NetworkPolicy at all: in a manifest set they are managed elsewhere; at admission
    // the cluster has none (or they are not synced to the policy engine). Either way there
    // is nothing to judge coverage against.
    if cx.context.of_kind(GROUP, KIND).next().is_none() {
        out.skip(check, "no NetworkPolicy is in the set (or the cluster): they are applied elsewhere, or the namespace-level decision is still to be made".into());
        return;
    }
    let ns = object.namespace();
    let policies = cx
        .context
        .selecting(GROUP, KIND, ns, &w.pod_labels, selectors::network_policy);
    let (mut ingress, mut egress) = (false, false);
    for p in &policies {
        let (i, e) = context_directions(p);
        ingress |= i;
        egress |= e;
    }
    let ns_name = ns.unwrap_or("default");
    let labels = w.pod_metadata_path("labels");
    if !ingress {
        let what = if policies.is_empty() {
            "no NetworkPolicy selects its pods".to_string()
        } else {
            "the NetworkPolicies that select its pods cover only egress".to_string()
        };
        out.report(
            check,
            labels.clone(),
            format!("{} {}: {what}, so any pod of the cluster can connect to them; add a NetworkPolicy in namespace {ns_name} whose podSelector selects them (a default-deny with podSelector: {{}} and policyTypes: [Ingress] covers the whole namespace) and allows what must reach them", object.reference.kind, object.reference.name),
        );
    }
    if cx.settings.require_egress && !egress {
        out.report(
            check,
            labels,
            format!("{} {}: no NetworkPolicy covering egress selects its pods, so they can connect anywhere; add one in namespace {ns_name} with policyTypes: [Egress] allowing DNS and what they call", object.reference.kind, object.reference.name),
        );
    }
}

/// The Services of the context, indexed by namespace and each `key=value` of their selector,
/// built once: what [`service_routes_to`] looks up.
#[derive(Default)]
struct ServiceSelectors {
    /// (namespace, key, value) → selectors (as label sets) containing that pair.
    by_pair: HashMap<(Option<String>, String, String), Vec<usize>>,
    /// Per namespace, every selector (for selectors with no `key=value` requirement).
    by_namespace: HashMap<Option<String>, Vec<usize>>,
    selectors: Vec<BTreeMap<String, String>>,
}

impl ServiceSelectors {
    fn build(c: &Context) -> ServiceSelectors {
        let mut index = ServiceSelectors::default();
        for o in c.of_kind("", "Service") {
            let Some(sel) = o
                .get::<prodready_sdk::k8s::Service>()
                .and_then(|s| s.spec.as_ref()?.selector.clone())
                .filter(|m| !m.is_empty())
            else {
                continue;
            };
            let i = index.selectors.len();
            let ns = o.namespace().map(str::to_string);
            for (k, v) in &sel {
                index
                    .by_pair
                    .entry((ns.clone(), k.clone(), v.clone()))
                    .or_default()
                    .push(i);
            }
            index.by_namespace.entry(ns).or_default().push(i);
            index.selectors.push(sel);
        }
        index
    }
}

/// Whether a Service of the namespace routes to pods the policy selects: its selector, read as
/// the labels of the pods it routes to, meets the policy's podSelector. Operators create pods
/// from custom resources (a Prometheus, an Alertmanager) with no pod template in the set, and
/// ship a Service for them: the policy is for those pods.
fn service_routes_to(cx: &Cx<'_, Settings>, ns: Option<&str>, selector: &Selector) -> bool {
    let index = cx.context.memo(ServiceSelectors::build);
    let ns = ns.map(str::to_string);
    let candidates = selector.requirements().iter().find_map(|r| match r {
        Requirement::Equals(k, v) => Some(
            index
                .by_pair
                .get(&(ns.clone(), k.clone(), v.clone()))
                .map_or(&[][..], Vec::as_slice),
        ),
        _ => None,
    });
    let candidates =
        candidates.unwrap_or_else(|| index.by_namespace.get(&ns).map_or(&[][..], Vec::as_slice));
    candidates
        .iter()
        .filter_map(|i| index.selectors.get(*i))
        .any(|labels| selector.matches(labels))
}

/// Namespaces with at least one workload in the context.
struct WorkloadNamespaces(HashSet<Option<String>>);

/// network-policy-targets for a NetworkPolicy.
pub fn targets(
    object: &Object<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) -> Result<(), String> {
    let check = &NETWORK_POLICY_TARGETS;
    let doc: PolicyDoc = object.parse()?;
    let selector =
        Selector::from_label_selector(doc.spec.as_ref().and_then(|s| s.pod_selector.as_ref()));
    // `{}` is a namespace-wide policy: it applies to pods created later too.
    if selector.is_everything() {
        return Ok(());
    }
    if !cx.has_context() {
        out.skip(
            check,
            "no context: the workloads of the namespace are not known".into(),
        );
        return Ok(());
    }
    let ns = object.namespace();
    let spaces = cx.context.memo(|c| {
        WorkloadNamespaces(
            c.objects()
                .iter()
                .filter(|o| o.workload().is_some())
                .map(|o| o.namespace().map(str::to_string))
                .collect(),
        )
    });
    if !spaces.0.contains(&ns.map(str::to_string)) {
        out.skip(
            check,
            format!(
                "no workload of namespace {} is in the set",
                ns.unwrap_or("default")
            ),
        );
        return Ok(());
    }
    if cx.context.workloads_selected_by(ns, &selector).is_empty()
        && !service_routes_to(cx, ns, &selector)
    {
        out.report(
            check,
            "spec.podSelector".to_string(),
            format!("NetworkPolicy {}: spec.podSelector ({selector}) selects no pod template of namespace {}, so it protects nothing (a typo in a label isolates nobody); match the labels of the pods it is meant for", object.reference.name, ns.unwrap_or("default")),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> PolicySpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn policy_types_default_as_the_api_does() {
        assert_eq!(
            directions(Some(&spec(json!({"podSelector": {}})))),
            (true, false)
        );
        assert_eq!(
            directions(Some(&spec(json!({"egress": [{}]})))),
            (true, true)
        );
        assert_eq!(
            directions(Some(&spec(json!({"egress": []})))),
            (true, false)
        );
        assert_eq!(
            directions(Some(&spec(json!({"policyTypes": ["Egress"]})))),
            (false, true)
        );
        assert_eq!(
            directions(Some(&spec(json!({"policyTypes": ["Ingress", "Egress"]})))),
            (true, true)
        );
    }
}

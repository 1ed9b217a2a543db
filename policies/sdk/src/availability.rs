//! PodDisruptionBudgets and HorizontalPodAutoscalers as the maintenance and scaling rules read
//! them: slim views of both kinds (every served version), a PDB's selector with its
//! version's rules for `{}`, budget amounts as the API server validates and the disruption
//! controller scales them, and an index of HPAs by their target, built once per context.
//!
//! Shared by the maintenance and scaling rules (a PDB's budget against an HPA's floor is
//! both rules' business).

use std::collections::HashMap;

use crate::object::split_api_version;
use crate::{Context, ContextObject, Resource, Selector};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

/// The policy PodDisruptionBudget (v1; v1beta1, removed in Kubernetes 1.25, still read in
/// manifest sets).
pub const PDB: Resource = Resource::namespaced(
    "policy",
    &["v1", "v1beta1"],
    "PodDisruptionBudget",
    "poddisruptionbudgets",
);

/// The autoscaling HorizontalPodAutoscaler, every version (v2 served; v2beta2, v2beta1 and v1
/// read in manifest sets).
pub const HPA: Resource = Resource::namespaced(
    "autoscaling",
    &["v2", "v2beta2", "v2beta1", "v1"],
    "HorizontalPodAutoscaler",
    "horizontalpodautoscalers",
);

pub const PDB_GROUP: &str = "policy";
pub const PDB_KIND: &str = "PodDisruptionBudget";
pub const HPA_GROUP: &str = "autoscaling";
pub const HPA_KIND: &str = "HorizontalPodAutoscaler";

// ---- PodDisruptionBudget ----------------------------------------------------------------------

/// A PodDisruptionBudget.
#[derive(Debug, Default, Deserialize)]
pub struct PdbObject {
    pub spec: Option<PdbSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    pub min_available: Option<IntOrString>,
    pub max_unavailable: Option<IntOrString>,
    pub selector: Option<LabelSelector>,
}

/// A PDB's pod selector under its version's rules: nil selects nothing; `{}` selects every pod
/// of the namespace in policy/v1 and **none** in policy/v1beta1 (API reference of
/// `PodDisruptionBudgetSpec.selector`, both versions).
pub fn pdb_selector_of(version: &str, spec: Option<&PdbSpec>) -> Selector {
    let s = Selector::from_label_selector(spec.and_then(|s| s.selector.as_ref()));
    if version == "v1beta1" && s.is_everything() {
        Selector::Nothing
    } else {
        s
    }
}

/// [`pdb_selector_of`] for a context object, for `Context::selecting` (an index of its own).
pub fn pdb_selector(o: &ContextObject) -> Selector {
    pdb_selector_of(
        o.version(),
        o.get::<PdbObject>().and_then(|p| p.spec.as_ref()),
    )
}

/// A budget value (`minAvailable` or `maxUnavailable`) as the API server accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amount {
    Count(i32),
    /// 0 to 100.
    Percent(i32),
}

impl Amount {
    /// Validates as `ValidatePositiveIntOrPercent` and `IsNotMoreThan100Percent` do: an
    /// integer ≥ 0, or a string of digits followed by `%`, at most 100%.
    pub fn parse(v: &IntOrString) -> Result<Amount, String> {
        match v {
            IntOrString::Int(n) if *n >= 0 => Ok(Amount::Count(*n)),
            IntOrString::Int(n) => Err(format!("{n} is negative")),
            IntOrString::String(s) => {
                let digits = s.strip_suffix('%').unwrap_or_default();
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!(
                        "\"{s}\" is neither an integer nor a percentage such as \"50%\""
                    ));
                }
                match digits.parse::<i32>() {
                    Ok(p) if p <= 100 => Ok(Amount::Percent(p)),
                    _ => Err(format!("\"{s}\" is more than 100%")),
                }
            }
        }
    }

    /// The number of pods it stands for out of `total`, percentages rounded up — as the
    /// disruption controller resolves both fields (`GetScaledValueFromIntOrPercent(..., true)`).
    pub fn scaled_up(self, total: i32) -> i64 {
        match self {
            Amount::Count(n) => i64::from(n),
            Amount::Percent(p) => {
                let t = i64::from(total.max(0));
                (i64::from(p) * t + 99) / 100
            }
        }
    }

    pub fn is_zero(self) -> bool {
        matches!(self, Amount::Count(0) | Amount::Percent(0))
    }
}

impl std::fmt::Display for Amount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Amount::Count(n) => write!(f, "{n}"),
            Amount::Percent(p) => write!(f, "\"{p}%\""),
        }
    }
}

// ---- HorizontalPodAutoscaler ------------------------------------------------------------------

/// A HorizontalPodAutoscaler of any version: autoscaling/v1's
/// `targetCPUUtilizationPercentage`, v2beta1's `targetAverageUtilization`, v2beta2's and v2's
/// `target`.
#[derive(Debug, Default, Deserialize)]
pub struct HpaObject {
    pub spec: Option<HpaSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaSpec {
    pub scale_target_ref: Option<TargetRef>,
    pub min_replicas: Option<i32>,
    pub max_replicas: Option<i32>,
    /// autoscaling/v1.
    #[serde(rename = "targetCPUUtilizationPercentage")]
    pub target_cpu_utilization_percentage: Option<i32>,
    /// autoscaling/v2, v2beta2, v2beta1.
    pub metrics: Option<Vec<MetricSpec>>,
}

/// `CrossVersionObjectReference`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
}

impl TargetRef {
    /// The API group named by `apiVersion` (`""` when it is unset: the core group, which is
    /// where the HPA controller then looks the kind up).
    pub fn group(&self) -> &str {
        split_api_version(self.api_version.as_deref().unwrap_or_default()).0
    }

    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or_default()
    }

    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricSpec {
    #[serde(rename = "type")]
    pub type_: Option<String>,
    pub resource: Option<ResourceMetric>,
    pub container_resource: Option<ResourceMetric>,
}

/// A `Resource` or `ContainerResource` metric source.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceMetric {
    pub name: Option<String>,
    /// `ContainerResource` only.
    pub container: Option<String>,
    /// v2 and v2beta2.
    pub target: Option<MetricTarget>,
    /// v2beta1.
    pub target_average_utilization: Option<i32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricTarget {
    #[serde(rename = "type")]
    pub type_: Option<String>,
}

impl ResourceMetric {
    /// Whether the target is a utilisation (a percentage of the pods' requests).
    pub fn is_utilization(&self) -> bool {
        self.target_average_utilization.is_some()
            || self
                .target
                .as_ref()
                .and_then(|t| t.type_.as_deref())
                .is_some_and(|t| t == "Utilization")
    }
}

/// The HPA's `minReplicas`, defaulting to 1 as the API server does.
pub fn min_replicas(spec: &HpaSpec) -> i32 {
    spec.min_replicas.unwrap_or(1)
}

/// One HPA that targets a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Autoscaler {
    pub name: String,
    /// `minReplicas`, 1 when unset.
    pub min_replicas: i32,
    pub max_replicas: Option<i32>,
}

/// The HPAs of the context by what they scale: namespace, the target's API group, kind and
/// name, as the HPA controller resolves `scaleTargetRef` (in the HPA's own namespace). Built
/// once per context ([`Context::memo`]): every lookup is a hash probe, so a workload never
/// scans the HPAs.
#[derive(Debug, Default)]
pub struct HpaIndex {
    by_target: HashMap<(String, String, String, String), Vec<Autoscaler>>,
}

thread_local! {
    /// How many times an index was built on this thread: the rules' tests prove it is once
    /// per context (one increment per context in production).
    pub static BUILT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl HpaIndex {
    /// The context's index, built on first use.
    pub fn of(context: &Context) -> &HpaIndex {
        context.memo(HpaIndex::build)
    }

    fn build(context: &Context) -> HpaIndex {
        BUILT.with(|b| b.set(b.get().saturating_add(1)));
        let mut by_target: HashMap<_, Vec<Autoscaler>> = HashMap::new();
        for o in context.of_kind(HPA_GROUP, HPA_KIND) {
            let Some(spec) = o.get::<HpaObject>().and_then(|h| h.spec.as_ref()) else {
                continue;
            };
            let Some(target) = spec.scale_target_ref.as_ref() else {
                continue;
            };
            let key = (
                o.namespace().unwrap_or_default().to_string(),
                target.group().to_string(),
                target.kind().to_string(),
                target.name().to_string(),
            );
            by_target.entry(key).or_default().push(Autoscaler {
                name: o.name().to_string(),
                min_replicas: min_replicas(spec),
                max_replicas: spec.max_replicas,
            });
        }
        // Hosts pass the context in different orders (Gatekeeper's inventory is sorted by
        // name): sort, so messages are the same everywhere.
        for hpas in by_target.values_mut() {
            hpas.sort_by(|a, b| a.name.cmp(&b.name));
        }
        HpaIndex { by_target }
    }

    /// The HPAs in `namespace` whose `scaleTargetRef` names this group, kind and name.
    pub fn targeting(
        &self,
        namespace: Option<&str>,
        group: &str,
        kind: &str,
        name: &str,
    ) -> &[Autoscaler] {
        let key = (
            namespace.unwrap_or_default().to_string(),
            group.to_string(),
            kind.to_string(),
            name.to_string(),
        );
        self.by_target.get(&key).map_or(&[], Vec::as_slice)
    }
}

/// `app=web,tier=front`, for messages.
pub fn labels_text(labels: &std::collections::BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "none".to_string();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn amount(v: serde_json::Value) -> Result<Amount, String> {
        Amount::parse(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn amounts_as_the_api_server_validates_them() {
        assert_eq!(amount(json!(0)), Ok(Amount::Count(0)));
        assert_eq!(amount(json!(3)), Ok(Amount::Count(3)));
        assert_eq!(amount(json!("0%")), Ok(Amount::Percent(0)));
        assert_eq!(amount(json!("100%")), Ok(Amount::Percent(100)));
        assert!(amount(json!(-1)).is_err());
        assert!(amount(json!("50")).is_err());
        assert!(amount(json!("%")).is_err());
        assert!(amount(json!(" 5%")).is_err());
        assert!(amount(json!("-5%")).is_err());
        assert!(amount(json!("101%")).is_err());
        assert!(amount(json!("99999999999999%")).is_err());
    }

    #[test]
    fn percentages_round_up_as_the_disruption_controller_does() {
        // docs "Specifying a Disruption Budget": minAvailable 50% of 7 is 4.
        assert_eq!(Amount::Percent(50).scaled_up(7), 4);
        assert_eq!(Amount::Percent(50).scaled_up(1), 1);
        assert_eq!(Amount::Percent(1).scaled_up(3), 1);
        assert_eq!(Amount::Percent(0).scaled_up(3), 0);
        assert_eq!(
            Amount::Percent(100).scaled_up(i32::MAX),
            i64::from(i32::MAX)
        );
        assert_eq!(Amount::Count(2).scaled_up(7), 2);
    }

    #[test]
    fn empty_pdb_selectors_follow_their_version() {
        let spec: PdbSpec = serde_json::from_value(json!({"selector": {}})).unwrap();
        assert!(pdb_selector_of("v1", Some(&spec)).is_everything());
        assert!(pdb_selector_of("v1beta1", Some(&spec)).is_nothing());
        let nil = PdbSpec::default();
        assert!(pdb_selector_of("v1", Some(&nil)).is_nothing());
        let web: PdbSpec =
            serde_json::from_value(json!({"selector": {"matchLabels": {"app": "web"}}})).unwrap();
        assert!(!pdb_selector_of("v1beta1", Some(&web)).is_nothing());
    }
}

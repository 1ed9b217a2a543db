//! Label selectors, evaluated exactly as Kubernetes evaluates them
//! (`k8s.io/apimachinery/pkg/labels`, `metav1.LabelSelectorAsSelector`).
//!
//! Two shapes exist in the API, with different rules for "empty":
//! - a `LabelSelector` (`matchLabels` and `matchExpressions`, ANDed): **nil selects nothing,
//!   empty selects everything** — a PodDisruptionBudget with `selector: {}` covers every pod of
//!   its namespace (policy/v1), a NetworkPolicy with `podSelector: {}` every pod;
//! - a plain map (a Service's `spec.selector`, a ReplicationController's): **nil or empty
//!   selects nothing** — a Service without a selector gets no endpoints from pods.
//!
//! An expression Kubernetes would refuse (an unknown operator, `In`/`NotIn` without values,
//! `Exists`/`DoesNotExist` with values) makes the whole selector select nothing, as the API
//! server refuses such an object and controllers treat the conversion error as "no pods".

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` (matchLabels), or `In` with one value.
    Equals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Requirement {
    pub fn key(&self) -> &str {
        match self {
            Requirement::Equals(k, _)
            | Requirement::In(k, _)
            | Requirement::NotIn(k, _)
            | Requirement::Exists(k)
            | Requirement::DoesNotExist(k) => k,
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        }
    }

    /// Whether the requirement can only hold for objects that carry the key: what lets an
    /// index find candidates by key instead of scanning.
    pub fn needs_key(&self) -> bool {
        matches!(
            self,
            Requirement::Equals(..) | Requirement::In(..) | Requirement::Exists(_)
        )
    }
}

/// A selector: nothing, or every object meeting all of its requirements (none: everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Selects no object: a nil `LabelSelector`, an empty map selector, an invalid selector.
    Nothing,
    /// Selects objects whose labels meet every requirement; no requirement selects every
    /// object.
    All(Vec<Requirement>),
}

impl Selector {
    /// The selector that selects every object (`{}`).
    pub fn everything() -> Selector {
        Selector::All(Vec::new())
    }

    /// A `LabelSelector` field: `None` (nil) selects nothing, `{}` selects everything.
    pub fn from_label_selector(s: Option<&LabelSelector>) -> Selector {
        let Some(s) = s else {
            return Selector::Nothing;
        };
        let mut reqs = Vec::new();
        for (k, v) in s.match_labels.iter().flatten() {
            reqs.push(Requirement::Equals(k.clone(), v.clone()));
        }
        for e in s.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            let req = match e.operator.as_str() {
                "In" if !values.is_empty() => Requirement::In(e.key.clone(), values),
                "NotIn" if !values.is_empty() => Requirement::NotIn(e.key.clone(), values),
                "Exists" if values.is_empty() => Requirement::Exists(e.key.clone()),
                "DoesNotExist" if values.is_empty() => Requirement::DoesNotExist(e.key.clone()),
                _ => return Selector::Nothing,
            };
            reqs.push(req);
        }
        Selector::All(reqs)
    }

    /// A map selector (Service, ReplicationController): `None` or `{}` selects nothing.
    pub fn from_map(m: Option<&BTreeMap<String, String>>) -> Selector {
        match m {
            Some(m) if !m.is_empty() => Selector::All(
                m.iter()
                    .map(|(k, v)| Requirement::Equals(k.clone(), v.clone()))
                    .collect(),
            ),
            _ => Selector::Nothing,
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::All(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// Whether it selects every object (no requirement at all).
    pub fn is_everything(&self) -> bool {
        matches!(self, Selector::All(r) if r.is_empty())
    }

    pub fn is_nothing(&self) -> bool {
        matches!(self, Selector::Nothing)
    }

    /// The requirements (none for [`Selector::Nothing`]).
    pub fn requirements(&self) -> &[Requirement] {
        match self {
            Selector::Nothing => &[],
            Selector::All(r) => r,
        }
    }
}

impl std::fmt::Display for Selector {
    /// As `kubectl get -l` spells it: `app=web,tier in (a,b),!legacy`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reqs = match self {
            Selector::Nothing => return f.write_str("<nothing>"),
            Selector::All(r) if r.is_empty() => return f.write_str("<everything>"),
            Selector::All(r) => r,
        };
        let parts: Vec<String> = reqs
            .iter()
            .map(|r| match r {
                Requirement::Equals(k, v) => format!("{k}={v}"),
                Requirement::In(k, vs) => format!("{k} in ({})", vs.join(",")),
                Requirement::NotIn(k, vs) => format!("{k} notin ({})", vs.join(",")),
                Requirement::Exists(k) => k.clone(),
                Requirement::DoesNotExist(k) => format!("!{k}"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn ls(v: serde_json::Value) -> LabelSelector {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn nil_label_selector_selects_nothing_and_empty_selects_everything() {
        let any = labels(&[("app", "web")]);
        assert!(!Selector::from_label_selector(None).matches(&any));
        assert!(!Selector::from_label_selector(None).matches(&labels(&[])));
        let empty = Selector::from_label_selector(Some(&ls(json!({}))));
        assert!(empty.is_everything());
        assert!(empty.matches(&any));
        assert!(empty.matches(&labels(&[])));
        // Empty lists are the same as absent ones.
        let empty = ls(json!({"matchLabels": {}, "matchExpressions": []}));
        assert!(Selector::from_label_selector(Some(&empty)).matches(&any));
    }

    #[test]
    fn map_selectors_select_nothing_when_empty() {
        let any = labels(&[("app", "web")]);
        assert!(!Selector::from_map(None).matches(&any));
        assert!(!Selector::from_map(Some(&BTreeMap::new())).matches(&any));
        assert!(Selector::from_map(Some(&labels(&[("app", "web")]))).matches(&any));
        assert!(!Selector::from_map(Some(&labels(&[("app", "web"), ("tier", "x")]))).matches(&any));
    }

    #[test]
    fn match_expressions_as_kubernetes_evaluates_them() {
        let web = labels(&[("app", "web"), ("tier", "front")]);
        let bare = labels(&[]);
        let case = |expr: serde_json::Value, l: &BTreeMap<String, String>| {
            Selector::from_label_selector(Some(&ls(json!({"matchExpressions": [expr]})))).matches(l)
        };
        let op = |o: &str, values: &[&str]| json!({"key": "tier", "operator": o, "values": values});
        assert!(case(op("In", &["front", "back"]), &web));
        assert!(!case(op("In", &["back"]), &web));
        assert!(!case(op("In", &["front"]), &bare));
        assert!(!case(op("NotIn", &["front"]), &web));
        assert!(case(op("NotIn", &["back"]), &web));
        // NotIn holds for objects without the key, as in Kubernetes.
        assert!(case(op("NotIn", &["front"]), &bare));
        assert!(case(json!({"key": "tier", "operator": "Exists"}), &web));
        assert!(!case(json!({"key": "tier", "operator": "Exists"}), &bare));
        assert!(!case(
            json!({"key": "tier", "operator": "DoesNotExist"}),
            &web
        ));
        assert!(case(
            json!({"key": "tier", "operator": "DoesNotExist"}),
            &bare
        ));
        // Invalid expressions: the selector selects nothing.
        assert!(!case(op("In", &[]), &web));
        assert!(!case(op("Exists", &["front"]), &web));
        assert!(!case(op("Matches", &["front"]), &web));
        assert!(!case(op("in", &["front"]), &web));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let s = ls(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}]
        }));
        let s = Selector::from_label_selector(Some(&s));
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(s.matches(&labels(&[("app", "web"), ("track", "stable")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("track", "canary")])));
        assert!(!s.matches(&labels(&[("app", "api")])));
        assert_eq!(s.to_string(), "app=web,track notin (canary)");
    }
}

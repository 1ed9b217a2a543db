//! Indexes over the context, so cross-object lookups cost in proportion to their answer, not
//! to the size of the manifest set (a 10,000-object set stays linear).
//!
//! - [`SelectorIndex`]: objects that carry a selector (Services, PDBs, NetworkPolicies), found
//!   from the labels they must select. Each selector is filed under one requirement that an
//!   object must meet to be selected (a `key=value`, each value of an `In`, or the key of an
//!   `Exists`); selectors with no such requirement (`{}`, or only `NotIn`/`DoesNotExist`) are
//!   candidates for every lookup in their namespace.
//! - [`LabelIndex`]: labelled objects (pod templates, Services), found from a selector: the
//!   candidates of its most selective requirement, then the whole selector is evaluated.
//!
//! Both are namespaced: a lookup sees objects of its namespace and cluster-scoped ones.

use std::collections::{BTreeMap, HashMap};

use crate::selector::{Requirement, Selector};

type Ns = Option<String>;

/// Positions into the indexed list, per namespace, per label key and value.
#[derive(Debug, Default)]
struct Postings {
    by_pair: HashMap<Ns, HashMap<String, HashMap<String, Vec<u32>>>>,
    by_key: HashMap<Ns, HashMap<String, Vec<u32>>>,
    all: HashMap<Ns, Vec<u32>>,
}

impl Postings {
    fn pair(&self, ns: &Ns, k: &str, v: &str) -> &[u32] {
        self.by_pair
            .get(ns)
            .and_then(|m| m.get(k))
            .and_then(|m| m.get(v))
            .map_or(&[], Vec::as_slice)
    }

    fn key(&self, ns: &Ns, k: &str) -> &[u32] {
        self.by_key
            .get(ns)
            .and_then(|m| m.get(k))
            .map_or(&[], Vec::as_slice)
    }

    fn all(&self, ns: &Ns) -> &[u32] {
        self.all.get(ns).map_or(&[], Vec::as_slice)
    }
}

/// The namespaces a lookup in `ns` sees: `ns` itself and the cluster scope (`None`).
fn scopes(ns: Option<&str>) -> [Ns; 2] {
    [ns.map(str::to_string), None]
}

/// Objects with a selector, found from labels.
#[derive(Debug, Default)]
pub(crate) struct SelectorIndex {
    /// (object position in the context, namespace, selector)
    entries: Vec<(usize, Ns, Selector)>,
    anchored: Postings,
}

impl SelectorIndex {
    pub fn build(items: impl Iterator<Item = (usize, Ns, Selector)>) -> SelectorIndex {
        let mut index = SelectorIndex::default();
        for (object, ns, selector) in items {
            if selector.is_nothing() {
                continue;
            }
            let at = u32::try_from(index.entries.len()).unwrap_or(u32::MAX);
            let anchor = selector.requirements().iter().find(|r| r.needs_key());
            match anchor {
                Some(Requirement::Equals(k, v)) => push_pair(&mut index.anchored, &ns, k, v, at),
                Some(Requirement::In(k, vs)) => {
                    for v in vs {
                        push_pair(&mut index.anchored, &ns, k, v, at);
                    }
                }
                Some(Requirement::Exists(k)) => index
                    .anchored
                    .by_key
                    .entry(ns.clone())
                    .or_default()
                    .entry(k.clone())
                    .or_default()
                    .push(at),
                _ => index.anchored.all.entry(ns.clone()).or_default().push(at),
            }
            index.entries.push((object, ns, selector));
        }
        index
    }

    /// Positions (into the context) of the objects whose selector selects `labels`, in
    /// namespace `ns` (or cluster-scoped), in context order, and how many candidates were
    /// examined.
    pub fn selecting(
        &self,
        ns: Option<&str>,
        labels: &BTreeMap<String, String>,
    ) -> (Vec<usize>, usize) {
        let mut hits: Vec<u32> = Vec::new();
        for scope in scopes(ns) {
            for (k, v) in labels {
                hits.extend_from_slice(self.anchored.pair(&scope, k, v));
                hits.extend_from_slice(self.anchored.key(&scope, k));
            }
            hits.extend_from_slice(self.anchored.all(&scope));
        }
        hits.sort_unstable();
        hits.dedup();
        let examined = hits.len();
        let found = hits
            .into_iter()
            .filter_map(|at| self.entries.get(at as usize))
            .filter(|(_, _, selector)| selector.matches(labels))
            .map(|(object, _, _)| *object)
            .collect();
        (found, examined)
    }
}

fn push_pair(p: &mut Postings, ns: &Ns, k: &str, v: &str, at: u32) {
    p.by_pair
        .entry(ns.clone())
        .or_default()
        .entry(k.to_string())
        .or_default()
        .entry(v.to_string())
        .or_default()
        .push(at);
}

/// Labelled objects, found from a selector.
#[derive(Debug, Default)]
pub(crate) struct LabelIndex {
    /// (object position in the context, labels)
    entries: Vec<(usize, BTreeMap<String, String>)>,
    postings: Postings,
}

impl LabelIndex {
    pub fn build(items: impl Iterator<Item = (usize, Ns, BTreeMap<String, String>)>) -> LabelIndex {
        let mut index = LabelIndex::default();
        for (object, ns, labels) in items {
            let at = u32::try_from(index.entries.len()).unwrap_or(u32::MAX);
            for (k, v) in &labels {
                push_pair(&mut index.postings, &ns, k, v, at);
                index
                    .postings
                    .by_key
                    .entry(ns.clone())
                    .or_default()
                    .entry(k.clone())
                    .or_default()
                    .push(at);
            }
            index.postings.all.entry(ns).or_default().push(at);
            index.entries.push((object, labels));
        }
        index
    }

    /// Positions (into the context) of the objects `selector` selects in namespace `ns` (or
    /// cluster-scoped), in context order, and how many candidates were examined.
    pub fn selected_by(&self, ns: Option<&str>, selector: &Selector) -> (Vec<usize>, usize) {
        if selector.is_nothing() {
            return (Vec::new(), 0);
        }
        let mut hits: Vec<u32> = Vec::new();
        for scope in scopes(ns) {
            hits.extend(self.candidates(&scope, selector));
        }
        hits.sort_unstable();
        hits.dedup();
        let examined = hits.len();
        let found = hits
            .into_iter()
            .filter_map(|at| self.entries.get(at as usize))
            .filter(|(_, labels)| selector.matches(labels))
            .map(|(object, _)| *object)
            .collect();
        (found, examined)
    }

    /// The smallest candidate list among the selector's key-requiring requirements, or every
    /// object of the namespace when it has none.
    fn candidates(&self, ns: &Ns, selector: &Selector) -> Vec<u32> {
        let mut best: Option<Vec<u32>> = None;
        for r in selector.requirements() {
            let list: Vec<u32> = match r {
                Requirement::Equals(k, v) => self.postings.pair(ns, k, v).to_vec(),
                Requirement::In(k, vs) => vs
                    .iter()
                    .flat_map(|v| self.postings.pair(ns, k, v).iter().copied())
                    .collect(),
                Requirement::Exists(k) => self.postings.key(ns, k).to_vec(),
                Requirement::NotIn(..) | Requirement::DoesNotExist(_) => continue,
            };
            if best.as_ref().is_none_or(|b| list.len() < b.len()) {
                best = Some(list);
            }
        }
        best.unwrap_or_else(|| self.postings.all(ns).to_vec())
    }
}

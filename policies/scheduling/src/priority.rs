//! Priorities: the workload's priorityClassName (priority-class) and the PriorityClass objects
//! themselves (preemption-safe).
//!
//! Kubernetes facts relied on (`pkg/apis/scheduling`): values above 1,000,000,000 are
//! reserved for the system and refused for user classes; the `system-` prefix is reserved for
//! the two built-in classes, `system-cluster-critical` (2,000,000,000) and
//! `system-node-critical` (2,000,001,000), which exist in every cluster; preemptionPolicy is
//! `PreemptLowerPriority` (the default) or `Never`; one class at most is globalDefault.

use std::collections::HashMap;

use prodready_sdk::{Context, Cx, Findings, Object, Workload, WorkloadKind};
use serde::Deserialize;

use crate::settings::Settings;
use crate::{PREEMPTION_SAFE, PRIORITY_CLASS, PRIORITY_CLASS_CHECK, RESOURCE_QUOTA};

/// The highest value a user-defined PriorityClass may have.
pub const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;

/// The built-in classes and their values.
pub const SYSTEM_CLASSES: &[(&str, i64)] = &[
    ("system-cluster-critical", 2_000_000_000),
    ("system-node-critical", 2_000_001_000),
];

pub fn is_system_class(name: &str) -> bool {
    SYSTEM_CLASSES.iter().any(|(n, _)| *n == name)
}

/// A PriorityClass, as far as the checks read it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PriorityClassView {
    #[serde(default)]
    pub value: Option<i64>,
    #[serde(default)]
    pub global_default: Option<bool>,
    #[serde(default)]
    pub preemption_policy: Option<String>,
}

pub fn preemption_safe(
    object: &Object<'_>,
    pc: &PriorityClassView,
    s: &Settings,
    out: &mut Findings,
) {
    let name = object.reference.name.as_str();
    let Some(value) = pc.value else {
        out.report(
            &PREEMPTION_SAFE,
            "value".into(),
            format!("PriorityClass {name:?} has no value: the API server requires one. Set value to the class's priority (at most {HIGHEST_USER_PRIORITY})"),
        );
        return;
    };
    if name.starts_with("system-") {
        match SYSTEM_CLASSES.iter().find(|(n, _)| *n == name) {
            Some((_, v)) if *v == value && pc.global_default != Some(true) => {
                // A built-in class as Kubernetes defines it: meant to preempt.
                return;
            }
            Some((_, v)) => out.report(
                &PREEMPTION_SAFE,
                "value".into(),
                format!(
                    "PriorityClass {name:?} is built into Kubernetes with value {v} and globalDefault false: the API server refuses any other definition. Remove it from the manifests (every cluster has it)"
                ),
            ),
            None => out.report(
                &PREEMPTION_SAFE,
                "metadata.name".into(),
                format!(
                    "PriorityClass {name:?} uses the reserved prefix system-: the API server refuses it. Rename it"
                ),
            ),
        }
        return;
    }
    if value > HIGHEST_USER_PRIORITY {
        out.report(
            &PREEMPTION_SAFE,
            "value".into(),
            format!(
                "PriorityClass {name:?} has value {value}, above {HIGHEST_USER_PRIORITY}: values above it are reserved for system components, and the API server refuses it. Lower value to at most {HIGHEST_USER_PRIORITY}"
            ),
        );
    }
    let policy = pc.preemption_policy.as_deref();
    match policy {
        None | Some("PreemptLowerPriority") | Some("Never") => {}
        Some(other) => out.report(
            &PREEMPTION_SAFE,
            "preemptionPolicy".into(),
            format!(
                "PriorityClass {name:?} has preemptionPolicy {other:?}: the API server accepts only PreemptLowerPriority and Never"
            ),
        ),
    }
    if value > s.preempting_threshold && policy != Some("Never") {
        out.warn(
            &PREEMPTION_SAFE,
            "preemptionPolicy".into(),
            format!(
                "PriorityClass {name:?} (value {value}, above preemptingThreshold {}) preempts: when its pods do not fit, the scheduler evicts lower-priority pods to make room, and a rollout or a scale-up of them can evict a whole tier (the preemption outage the talk cites). Set preemptionPolicy: Never to queue ahead without evicting, unless evicting is the point",
                s.preempting_threshold
            ),
        );
    }
    if pc.global_default == Some(true) {
        out.warn(
            &PREEMPTION_SAFE,
            "globalDefault".into(),
            format!(
                "PriorityClass {name:?} is globalDefault: every pod created without a priorityClassName gets value {value}, including those of charts that never asked for it. Set globalDefault: false and name the class in the workloads that need it"
            ),
        );
    }
}

/// A ResourceQuota's scope selector, as far as priority-class reads it.
#[derive(Debug, Default, Deserialize)]
pub struct QuotaView {
    #[serde(default)]
    pub spec: Option<QuotaSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaSpec {
    #[serde(default)]
    pub scope_selector: Option<ScopeSelector>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeSelector {
    #[serde(default)]
    pub match_expressions: Option<Vec<ScopeRequirement>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeRequirement {
    #[serde(default)]
    pub scope_name: Option<String>,
    #[serde(default)]
    pub operator: Option<String>,
    #[serde(default)]
    pub values: Option<Vec<String>>,
}

/// What a ResourceQuota's scopeSelector admits: pods of the PriorityClasses it names
/// (`PriorityClass In [...]`), or of every class (`Exists`). With the ResourceQuota admission
/// plugin limiting a class (`limitedResources` with that scope, GKE's default for the system
/// classes), only namespaces with such a quota may use it ("Limit Priority Class consumption
/// by default", kubernetes.io resource-quotas).
#[derive(Debug, Default)]
struct Admits {
    classes: Vec<String>,
    every: bool,
}

/// What the context says about PriorityClasses, computed once per context (a manifest set of
/// thousands of workloads reads it once, not once per workload).
#[derive(Debug, Default)]
struct Classes {
    /// Whether any PriorityClass is in the context.
    any: bool,
    /// The globalDefault class, if one is.
    global_default: Option<String>,
    /// What the ResourceQuotas of each namespace admit.
    quotas: HashMap<Option<String>, Admits>,
}

impl Classes {
    fn read(ctx: &Context) -> Classes {
        let mut c = Classes::default();
        for o in ctx.of_kind(PRIORITY_CLASS.group, PRIORITY_CLASS.kind) {
            c.any = true;
            if c.global_default.is_none()
                && o.get::<PriorityClassView>()
                    .is_some_and(|p| p.global_default == Some(true))
            {
                c.global_default = Some(o.name().to_string());
            }
        }
        for o in ctx.of_kind(RESOURCE_QUOTA.group, RESOURCE_QUOTA.kind) {
            let Some(reqs) = o.get::<QuotaView>().and_then(|q| {
                q.spec
                    .as_ref()?
                    .scope_selector
                    .as_ref()?
                    .match_expressions
                    .as_ref()
            }) else {
                continue;
            };
            let admits = c
                .quotas
                .entry(o.namespace().map(str::to_string))
                .or_default();
            for r in reqs {
                if r.scope_name.as_deref() != Some("PriorityClass") {
                    continue;
                }
                match r.operator.as_deref() {
                    Some("In") => admits.classes.extend(r.values.iter().flatten().cloned()),
                    Some("Exists") => admits.every = true,
                    _ => {}
                }
            }
        }
        c
    }

    /// Whether a ResourceQuota of `namespace` admits pods of PriorityClass `class`.
    fn admitted_by_quota(&self, namespace: Option<&str>, class: &str) -> bool {
        let admits = |a: &Admits| a.every || a.classes.iter().any(|c| c == class);
        match namespace {
            Some(ns) => self.quotas.get(&Some(ns.to_string())).is_some_and(admits),
            // Seen from every namespace (as `Context::in_namespace(None)`): any quota.
            None => self.quotas.values().any(admits),
        }
    }
}

fn classes<'c, S>(cx: &Cx<'c, S>) -> &'c Classes {
    cx.context.memo(Classes::read)
}

pub fn priority_class(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let s = cx.settings;
    let path = w.path("priorityClassName");
    let known = classes(cx);
    let Some(name) = w
        .spec
        .priority_class_name
        .as_deref()
        .filter(|n| !n.is_empty())
    else {
        if known.global_default.is_some() {
            // The platform gives every unclassed pod a priority on purpose.
            return;
        }
        out.warn(
            &PRIORITY_CLASS_CHECK,
            path,
            "no priorityClassName: the pods get priority 0 (or the globalDefault class's), the same as every unclassified pod, and under pressure are preempted by any class above them. Set spec.priorityClassName to the platform class that matches how critical the workload is".to_string(),
        );
        return;
    };
    if is_system_class(name) {
        let ns = object.namespace().unwrap_or("default");
        if !s.system_priority_namespaces.iter().any(|n| n == ns)
            && !known.admitted_by_quota(object.namespace(), name)
        {
            if w.kind == WorkloadKind::DaemonSet {
                // A node agent (CNI, log and metrics collectors) in its own namespace is what the
                // critical classes are for ("Guaranteed scheduling for critical add-on pods");
                // whether the cluster admits it there depends on its ResourceQuota admission
                // configuration, which a manifest cannot show: a warning.
                out.warn(
                    &PRIORITY_CLASS_CHECK,
                    path,
                    format!(
                        "priorityClassName is {name} for a node agent in namespace {ns}: clusters that limit the critical classes to {} (GKE, and any cluster whose ResourceQuota admission limits them) refuse the pods unless a ResourceQuota scoped to the class admits them in the namespace. Ship that ResourceQuota with the DaemonSet, or add {ns} to systemPriorityNamespaces if the platform allows it",
                        s.system_priority_namespaces.join(", ")
                    ),
                );
                return;
            }
            out.report(
                &PRIORITY_CLASS_CHECK,
                path,
                format!(
                    "priorityClassName is {name} in namespace {ns}: system priorities rank above every user workload and let the pods preempt cluster add-ons; they belong to system components in {}. Many clusters refuse them elsewhere (GKE, and any cluster whose ResourceQuota admission limits these classes), unless a ResourceQuota scoped to the class admits them in the namespace. Use a platform PriorityClass (or, for a cluster component, ship that ResourceQuota)",
                    s.system_priority_namespaces.join(", ")
                ),
            );
        }
        return;
    }
    if !s.allowed_priority_classes.is_empty()
        && !s.allowed_priority_classes.iter().any(|a| a == name)
    {
        out.warn(
            &PRIORITY_CLASS_CHECK,
            path.clone(),
            format!(
                "priorityClassName {name:?} is not in allowedPriorityClasses ({}): use one of the platform's classes",
                s.allowed_priority_classes.join(", ")
            ),
        );
        return;
    }
    if known.any
        && cx
            .context
            .get(PRIORITY_CLASS.group, PRIORITY_CLASS.kind, None, name)
            .is_none()
    {
        out.warn(
            &PRIORITY_CLASS_CHECK,
            path,
            if cx.mode == prodready_sdk::Mode::Admission {
                format!(
                    "priorityClassName {name:?} names no PriorityClass of the cluster: the API server refuses the pods (\"no PriorityClass with name {name} was found\"), so the controller creates none until the class exists. Create the PriorityClass first, or fix the name"
                )
            } else {
                format!(
                    "priorityClassName {name:?} names none of the PriorityClasses the manifest set defines: unless the cluster has it already, the API server refuses the pods (\"no PriorityClass with name {name} was found\"). Add the PriorityClass, or fix the name"
                )
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::Scheduling;
    use prodready_sdk::{Mode, testing};
    use serde_json::{Value, json};

    fn pc(name: &str, value: Value, extra: Value) -> Value {
        let mut o = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "preemptionPolicy": "Never"});
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    }

    fn deploy(ns: &str, class: Option<&str>) -> Value {
        let mut spec = json!({"containers": [{"name": "web", "image": "r/web:1"}]});
        if let Some(c) = class {
            spec["priorityClassName"] = json!(c);
        }
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": ns},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": spec}}})
    }

    fn verdict(
        o: &Value,
        settings: Value,
        ctx: Option<&[Value]>,
        mode: Mode,
    ) -> (Vec<String>, bool) {
        let v = testing::evaluate_with::<Scheduling>(o, &settings, ctx, mode);
        assert!(v.error.is_none(), "{:?}", v.error);
        (
            testing::ids(&v).iter().map(|s| s.to_string()).collect(),
            v.allowed,
        )
    }

    #[test]
    fn priority_classes_are_checked() {
        let ok = |o: &Value, s: Value| verdict(o, s, None, Mode::Manifest);
        assert_eq!(
            ok(&pc("app-high", json!(100000), json!({})), json!({})),
            (vec![], true)
        );
        let (ids, allowed) = ok(&pc("huge", json!(1_500_000_000), json!({})), json!({}));
        assert_eq!((ids, allowed), (vec!["preemption-safe".to_string()], false));
        assert_eq!(
            ok(&pc("edge", json!(1_000_000_000), json!({})), json!({})).0,
            Vec::<String>::new()
        );
        let (ids, allowed) = ok(&pc("system-mine", json!(10), json!({})), json!({}));
        assert_eq!((ids.len(), allowed), (1, false));
        let builtin = json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "system-node-critical"}, "value": 2_000_001_000});
        assert_eq!(ok(&builtin, json!({})), (vec![], true));
        // Preempting above the threshold, and globalDefault: warnings.
        let preempting = pc(
            "app-high",
            json!(100000),
            json!({"preemptionPolicy": "PreemptLowerPriority"}),
        );
        assert_eq!(
            ok(&preempting, json!({})),
            (vec!["preemption-safe".to_string()], true)
        );
        assert_eq!(
            ok(&preempting, json!({"preemptingThreshold": 100000})),
            (vec![], true)
        );
        let mut unset = pc("app-high", json!(100000), json!({}));
        unset.as_object_mut().unwrap().remove("preemptionPolicy");
        assert_eq!(ok(&unset, json!({})).0, vec!["preemption-safe".to_string()]);
        assert_eq!(
            ok(
                &pc("d", json!(10), json!({"globalDefault": true})),
                json!({})
            ),
            (vec!["preemption-safe".to_string()], true)
        );
        assert!(
            !ok(
                &pc("bad", json!(10), json!({"preemptionPolicy": "Always"})),
                json!({})
            )
            .1
        );
    }

    #[test]
    fn workloads_name_a_class() {
        let run = |o: &Value, ctx: Option<&[Value]>| verdict(o, json!({}), ctx, Mode::Manifest);
        assert_eq!(
            run(&deploy("shop", None), None),
            (vec!["priority-class".to_string()], true)
        );
        assert_eq!(run(&deploy("shop", Some("app-high")), None), (vec![], true));
        // System classes: only in kube-system, an error elsewhere.
        assert_eq!(
            run(&deploy("shop", Some("system-node-critical")), None),
            (vec!["priority-class".to_string()], false)
        );
        assert_eq!(
            run(&deploy("kube-system", Some("system-node-critical")), None),
            (vec![], true)
        );
        // A ResourceQuota scoped to the class admits it in its namespace.
        let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "critical", "namespace": "shop"},
            "spec": {"hard": {"pods": "10"}, "scopeSelector": {"matchExpressions": [
                {"scopeName": "PriorityClass", "operator": "In", "values": ["system-node-critical"]}]}}});
        assert_eq!(
            run(
                &deploy("shop", Some("system-node-critical")),
                Some(std::slice::from_ref(&quota))
            ),
            (vec![], true)
        );
        assert!(
            !run(
                &deploy("shop", Some("system-cluster-critical")),
                Some(&[quota])
            )
            .1
        );
        // allowedPriorityClasses.
        let v = verdict(
            &deploy("shop", Some("app-high")),
            json!({"allowedPriorityClasses": ["tier-1"]}),
            None,
            Mode::Manifest,
        );
        assert_eq!(v, (vec!["priority-class".to_string()], true));
        // With PriorityClasses in the context: an unknown name is a warning; a globalDefault
        // class covers unclassed pods; built-in classes always exist.
        let classes = [
            pc("app-high", json!(1000), json!({})),
            pc("batch-low", json!(-10), json!({"globalDefault": true})),
        ];
        assert_eq!(
            run(&deploy("shop", Some("app-high")), Some(&classes)),
            (vec![], true)
        );
        assert_eq!(
            run(&deploy("shop", Some("app-hihg")), Some(&classes)),
            (vec!["priority-class".to_string()], true)
        );
        assert_eq!(run(&deploy("shop", None), Some(&classes)), (vec![], true));
        assert_eq!(
            run(
                &deploy("kube-system", Some("system-cluster-critical")),
                Some(&classes)
            ),
            (vec![], true)
        );
        // An empty context says nothing about classes.
        assert_eq!(
            run(&deploy("shop", Some("app-high")), Some(&[])),
            (vec![], true)
        );
        let v = verdict(
            &deploy("shop", Some("app-hihg")),
            json!({}),
            Some(&classes),
            Mode::Admission,
        );
        assert_eq!(v, (vec!["priority-class".to_string()], true));
    }
}

use super::*;
use crate::k8s::Service;
use serde_json::{Value, json};

fn ctx(objects: Vec<Value>) -> Context {
    Context::from_json(&json!({ "objects": objects }).to_string()).unwrap()
}

fn svc(name: &str, ns: Option<&str>, selector: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": ns}, "spec": {"selector": selector}})
}

fn pdb(name: &str, ns: &str, selector: Value) -> Value {
    let mut spec = json!({"minAvailable": 1});
    if !selector.is_null() {
        spec["selector"] = selector;
    }
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

fn deployment(name: &str, ns: Option<&str>, labels: Value) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": name, "namespace": ns},
           "spec": {"replicas": 3, "selector": {"matchLabels": labels.clone()},
                    "template": {"metadata": {"labels": labels},
                                 "spec": {"containers": [{"name": "app", "image": "a:1",
                                   "resources": {"requests": {"cpu": "100m"}}}]}}}})
}

fn names(v: Vec<&ContextObject>) -> Vec<String> {
    v.into_iter().map(|o| o.name().to_string()).collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn selecting_uses_every_pair_and_the_namespace() {
    let ctx = ctx(vec![
        svc("web", Some("shop"), json!({"app": "web"})),
        svc(
            "web-canary",
            Some("shop"),
            json!({"app": "web", "track": "canary"}),
        ),
        svc("other-ns", Some("ops"), json!({"app": "web"})),
        svc("defaulted", None, json!({"tier": "front"})),
        svc("headless", Some("shop"), json!({})),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
    ]);
    let shop = labels(&[("app", "web"), ("tier", "front")]);
    let got = ctx.selecting("", "Service", Some("shop"), &shop, selectors::service);
    assert_eq!(names(got), ["web"]);
    // The Service without a namespace is in the set's namespace (`default`), not everywhere.
    let got = ctx.selecting("", "Service", Some("default"), &shop, selectors::service);
    assert_eq!(names(got), ["defaulted"]);
    let canary = labels(&[("app", "web"), ("track", "canary")]);
    let got = ctx.selecting("", "Service", Some("shop"), &canary, selectors::service);
    assert_eq!(names(got), ["web", "web-canary"]);
    assert!(
        ctx.selecting(
            "",
            "Service",
            Some("shop"),
            &labels(&[]),
            selectors::service
        )
        .is_empty()
    );
}

#[test]
fn the_default_namespace_comes_from_the_context() {
    let ctx = Context::from_json(
        &json!({"namespace": "shop", "objects": [svc("web", None, json!({"app": "web"}))]})
            .to_string(),
    )
    .unwrap();
    assert_eq!(ctx.default_namespace(), "shop");
    let o = ctx.get("", "Service", Some("shop"), "web").unwrap();
    assert_eq!(o.namespace(), Some("shop"));
    assert!(ctx.get("", "Service", Some("default"), "web").is_none());
}

// Regression (SDK issue §3): `ContextObject::get::<T>` cached one type per object and
// answered `None` to the second type asked for.
#[test]
fn an_object_reads_as_several_types() {
    #[derive(Deserialize)]
    struct Named {
        metadata: Meta,
    }
    let ctx = ctx(vec![svc("web", Some("shop"), json!({"app": "web"}))]);
    let o = ctx.objects().first().unwrap();
    assert!(o.get::<Service>().is_some());
    assert_eq!(
        o.get::<Named>().and_then(|n| n.metadata.name.as_deref()),
        Some("web")
    );
    assert!(o.get::<Service>().and_then(|s| s.spec.as_ref()).is_some());
    assert!(o.get::<Value>().is_some());
}

// Regression (SDK issue §3): the selector index was keyed by kind, so a second selector over
// the same kind reused the first one's index.
#[test]
fn each_selector_function_has_its_own_index() {
    fn by_label_team(o: &ContextObject) -> Selector {
        Selector::from_map(
            o.get::<Value>()
                .and_then(|v| serde_json::from_value(v["metadata"]["annotations"].clone()).ok())
                .as_ref(),
        )
    }
    let mut s = svc("web", Some("shop"), json!({"app": "web"}));
    s["metadata"]["annotations"] = json!({"team": "payments"});
    let ctx = ctx(vec![s]);
    let by_app = labels(&[("app", "web")]);
    let by_team = labels(&[("team", "payments")]);
    assert_eq!(
        names(ctx.selecting("", "Service", Some("shop"), &by_app, selectors::service)),
        ["web"]
    );
    assert_eq!(
        names(ctx.selecting("", "Service", Some("shop"), &by_team, by_label_team)),
        ["web"]
    );
    assert!(
        ctx.selecting("", "Service", Some("shop"), &by_team, selectors::service)
            .is_empty()
    );
}

#[test]
fn pdb_selectors_follow_policy_v1() {
    let ctx = ctx(vec![
        pdb("everything", "shop", json!({})),
        pdb("nil", "shop", Value::Null),
        pdb("web", "shop", json!({"matchLabels": {"app": "web"}})),
        pdb(
            "not-canary",
            "shop",
            json!({"matchExpressions": [{"key": "track", "operator": "NotIn", "values": ["canary"]}]}),
        ),
        pdb(
            "tiers",
            "shop",
            json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]}),
        ),
        pdb(
            "has-team",
            "shop",
            json!({"matchExpressions": [{"key": "team", "operator": "Exists"}]}),
        ),
        pdb("elsewhere", "ops", json!({})),
    ]);
    let find = |l: &[(&str, &str)]| {
        names(ctx.selecting(
            "policy",
            "PodDisruptionBudget",
            Some("shop"),
            &labels(l),
            selectors::pdb,
        ))
    };
    assert_eq!(
        find(&[("app", "web"), ("tier", "back")]),
        ["everything", "web", "not-canary", "tiers"]
    );
    assert_eq!(
        find(&[("app", "web"), ("track", "canary"), ("team", "x")]),
        ["everything", "web", "has-team"]
    );
    assert_eq!(find(&[]), ["everything", "not-canary"]);
}

#[test]
fn workloads_selected_by_a_selector() {
    let ctx = ctx(vec![
        deployment("web", Some("shop"), json!({"app": "web", "tier": "front"})),
        deployment("api", Some("shop"), json!({"app": "api", "tier": "back"})),
        deployment("web-ops", Some("ops"), json!({"app": "web"})),
        deployment("web-default", None, json!({"app": "web"})),
        svc("web", Some("shop"), json!({"app": "web"})),
    ]);
    let sel = |v: Value| Selector::from_label_selector(Some(&serde_json::from_value(v).unwrap()));
    let find = |ns: &str, s: &Selector| names(ctx.workloads_selected_by(Some(ns), s));
    assert_eq!(
        find("shop", &sel(json!({"matchLabels": {"app": "web"}}))),
        ["web"]
    );
    assert_eq!(find("shop", &Selector::everything()), ["web", "api"]);
    assert_eq!(find("shop", &Selector::Nothing), Vec::<String>::new());
    assert_eq!(
        find(
            "shop",
            &sel(
                json!({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["front"]}]})
            )
        ),
        ["api"]
    );
    assert_eq!(
        find(
            "shop",
            &sel(
                json!({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["front", "back"]}]})
            )
        ),
        ["web", "api"]
    );
    assert_eq!(
        find("default", &sel(json!({"matchLabels": {"app": "web"}}))),
        ["web-default"]
    );
    let w = ctx
        .get("apps", "Deployment", Some("shop"), "web")
        .and_then(ContextObject::workload)
        .unwrap();
    assert_eq!(w.effective_replicas, Some(3));
    assert_eq!(w.containers.len(), 1);
    assert!(
        w.selector
            .as_ref()
            .unwrap()
            .matches(&labels(&[("app", "web"), ("tier", "front")]))
    );
}

#[test]
fn lookups_by_name_see_cluster_scoped_objects_from_every_namespace() {
    let ctx = ctx(vec![
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
               "metadata": {"name": "high"}, "value": 1000}),
        deployment("web", Some("shop"), json!({"app": "web"})),
        json!({"apiVersion": "apps/v1beta2", "kind": "Deployment",
               "metadata": {"name": "old", "namespace": "shop"}, "spec": {}}),
    ]);
    let pc = ctx
        .get("scheduling.k8s.io", "PriorityClass", Some("shop"), "high")
        .unwrap();
    assert_eq!(pc.namespace(), None);
    assert!(ctx.get("apps", "Deployment", Some("shop"), "web").is_some());
    assert!(ctx.get("apps", "Deployment", Some("ops"), "web").is_none());
    assert!(ctx.get("apps", "Deployment", None, "web").is_some());
    // Any version of the group and kind.
    assert!(ctx.get("apps", "Deployment", Some("shop"), "old").is_some());
    assert!(
        ctx.get("apps", "StatefulSet", Some("shop"), "web")
            .is_none()
    );
}

/// A 10,000-object set: every lookup examines a bounded number of candidates, so the total
/// work grows with the set, not with its square.
#[test]
fn lookups_on_a_large_set_stay_linear() {
    let n = 10_000;
    let mut objects = Vec::new();
    for i in 0..n / 2 {
        let app = format!("app-{i}");
        let ns = format!("ns-{}", i % 50);
        objects.push(deployment(
            &app,
            Some(&ns),
            json!({"app": app, "part-of": "shop"}),
        ));
        objects.push(pdb(&app, &ns, json!({"matchLabels": {"app": app}})));
    }
    let ctx = ctx(objects);
    let mut found = 0;
    for i in 0..n / 2 {
        let app = format!("app-{i}");
        let ns = format!("ns-{}", i % 50);
        let l = labels(&[("app", &app), ("part-of", "shop")]);
        found += ctx
            .selecting(
                "policy",
                "PodDisruptionBudget",
                Some(&ns),
                &l,
                selectors::pdb,
            )
            .len();
        let s = Selector::from_map(Some(&labels(&[("app", &app)])));
        found += ctx.workloads_selected_by(Some(&ns), &s).len();
    }
    assert_eq!(found, n);
    // One candidate per lookup: linear in the set, where a scan would examine 2,500 objects
    // per lookup (25 million in all).
    assert!(ctx.examined() <= n as u64, "examined {}", ctx.examined());
}

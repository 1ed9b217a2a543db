use prodready_sdk::{Context, run, testing};
use serde_json::{Value, json};

use crate::Scaling;
use prodready_sdk::availability::BUILT;

#[test]
fn metadata_lists_the_checks_context_and_a_strict_schema() {
    let m: Value = serde_json::from_slice(&crate::metadata_json()).unwrap();
    assert_eq!(m["id"], "scaling");
    assert_eq!(m["number"], 11);
    let checks: Vec<(&str, &str)> = m["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["severity"].as_str().unwrap()))
        .collect();
    assert_eq!(
        checks,
        [
            ("hpa-replicas-conflict", "error"),
            ("hpa-min-max", "error"),
            ("hpa-target-exists", "error"),
            ("hpa-target-requests", "error"),
            ("hpa-pdb-consistent", "error"),
            ("safe-to-evict", "warning"),
        ]
    );
    let hpa = &m["contextResources"][0];
    assert_eq!(hpa["kind"], "HorizontalPodAutoscaler");
    assert_eq!(
        hpa["apiVersions"],
        json!([
            "autoscaling/v2",
            "autoscaling/v2beta2",
            "autoscaling/v2beta1",
            "autoscaling/v1"
        ])
    );
    let props = m["settingsSchema"]["properties"].as_object().unwrap();
    for key in ["minReplicas", "safeToEvictNamespaces", "audit", "severity"] {
        assert!(props.contains_key(key), "schema lacks {key}");
    }
    assert_eq!(m["settingsSchema"]["additionalProperties"], false);
}

#[test]
fn exemptions_apply_to_hpas() {
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "h", "namespace": "shop",
                     "annotations": {"prodready.io/skip-hpa-min-max": "batch API, one pod is fine"}},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 1, "maxReplicas": 3,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                              "target": {"type": "AverageValue", "averageValue": "500m"}}}]}});
    let web = testing::object(
        prodready_sdk::WorkloadKind::Deployment,
        "web",
        json!({"app": "web"}),
        json!({"containers": [{"name": "app", "image": "r/app:1"}]}),
    );
    let v = testing::evaluate_in::<Scaling>(&hpa, &json!({}), &[web]);
    assert!(v.violations.is_empty(), "{:?}", v.violations);
    assert_eq!(v.exempted.len(), 1);
}

/// 10,000 objects: 2,000 HPAs over 2,000 of 4,000 Deployments, 2,000 PDBs (minAvailable, so
/// each one is also looked at from the workloads side), ConfigMaps.
fn large_set() -> Vec<Value> {
    let mut objects = Vec::new();
    for i in 0..4000 {
        let ns = format!("team-{}", i % 20);
        let app = format!("app-{i}");
        let labels = json!({"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop"});
        let mut spec = json!({
            "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "app", "image": "r/app:1",
                                  "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}
        });
        if i >= 2000 {
            spec["replicas"] = json!(3);
        }
        objects.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": app, "namespace": ns}, "spec": spec}));
        if i < 2000 {
            objects.push(json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                "metadata": {"name": app, "namespace": ns},
                "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app},
                         "minReplicas": 2, "maxReplicas": 10,
                         "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                                      "target": {"type": "Utilization", "averageUtilization": 70}}}]}}));
        }
        if i % 2 == 0 {
            objects.push(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": app, "namespace": ns},
                "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": app}}}}));
        }
    }
    let mut i = 0;
    while objects.len() < 10_000 {
        objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("config-{i}"), "namespace": format!("team-{}", i % 20)},
            "data": {"k": "v"}}));
        i += 1;
    }
    objects
}

/// Every object evaluated against the whole set: each HPA resolves its target by name, finds
/// the PDBs over the target's pods and the workloads each PDB selects through indexes (a
/// bounded number of candidates each), and workloads find their HPAs in an index built once.
#[test]
fn a_large_set_is_evaluated_in_linear_work() {
    let objects = large_set();
    let count = |kind: &str| objects.iter().filter(|o| o["kind"] == kind).count();
    assert_eq!(
        (
            objects.len(),
            count("PodDisruptionBudget"),
            count("HorizontalPodAutoscaler")
        ),
        (10_000, 2000, 2000)
    );
    let ctx = Context::from_json(&json!({ "objects": objects }).to_string()).unwrap();
    BUILT.with(|b| b.set(0));
    let mut evaluated = 0;
    for o in &objects {
        let envelope = json!({"request": {"operation": "CREATE", "object": o}, "mode": "manifest"});
        let v = run::evaluate_with::<Scaling>(envelope.to_string().as_bytes(), &ctx);
        assert!(v.error.is_none(), "{:?}", v.error);
        assert!(v.violations.is_empty(), "{:?}", v.violations);
        evaluated += 1;
    }
    assert_eq!(evaluated, 10_000);
    assert_eq!(BUILT.with(|b| b.get()), 1, "the HPA index is built once");
    // 1,000 HPAs with a PDB: one PDB candidate and one workload candidate each.
    let examined = ctx.examined();
    eprintln!(
        "examined {examined} candidates for {} objects",
        objects.len()
    );
    assert!(examined <= 10_000, "examined {examined} candidates");
}

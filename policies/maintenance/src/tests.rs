use prodready_sdk::{Context, run, testing};
use serde_json::{Value, json};

use crate::Maintenance;
use prodready_sdk::availability::BUILT;

fn metadata() -> Value {
    serde_json::from_slice(&crate::metadata_json()).unwrap()
}

#[test]
fn metadata_lists_the_checks_context_and_a_strict_schema() {
    let m = metadata();
    assert_eq!(m["id"], "maintenance");
    assert_eq!(m["number"], 8);
    let checks: Vec<&str> = m["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        [
            "pdb-required",
            "pdb-has-policy",
            "pdb-allows-drain",
            "min-replicas",
            "rolling-update",
            "no-bare-pods"
        ]
    );
    let severities: Vec<&str> = m["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["severity"].as_str().unwrap())
        .collect();
    assert_eq!(
        severities,
        ["error", "error", "error", "warning", "warning", "warning"]
    );
    let kinds: Vec<&str> = m["contextResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"PodDisruptionBudget") && kinds.contains(&"HorizontalPodAutoscaler"));
    let pdb = &m["contextResources"][0];
    assert_eq!(pdb["apiVersions"], json!(["policy/v1", "policy/v1beta1"]));
    let props = m["settingsSchema"]["properties"].as_object().unwrap();
    for key in [
        "pdbRequiredReplicas",
        "minReplicas",
        "allowOnDelete",
        "audit",
        "severity",
    ] {
        assert!(props.contains_key(key), "schema lacks {key}");
    }
    assert_eq!(m["settingsSchema"]["additionalProperties"], false);
}

#[test]
fn exemption_severity_and_audit_apply() {
    let mut d = testing::object(
        prodready_sdk::WorkloadKind::Deployment,
        "web",
        json!({"app": "web"}),
        json!({"containers": [{"name": "app", "image": "r/app:1"}]}),
    );
    d["spec"]["replicas"] = json!(3);
    d["metadata"]["annotations"] =
        json!({"prodready.io/skip-pdb-required": "budget lives in the platform repo"});
    let v = testing::evaluate_in::<Maintenance>(&d, &json!({}), &[]);
    assert!(v.violations.is_empty());
    assert_eq!(v.exempted.len(), 1);
    d["metadata"]["annotations"] = json!({});
    let v = testing::evaluate_in::<Maintenance>(&d, &json!({"audit": true}), &[]);
    assert_eq!(testing::ids(&v), ["pdb-required"]);
    assert!(v.allowed);
    let v = testing::evaluate_in::<Maintenance>(
        &d,
        &json!({"severity": {"pdb-required": "warning"}}),
        &[],
    );
    assert!(v.allowed);
}

/// The mix: 10,000 objects, 2,000 PDBs and 2,000 HPAs over 4,000 Deployments in 20
/// namespaces, plus Services and ConfigMaps.
pub fn large_set() -> Vec<Value> {
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
        // HPAs scale the first 2,000 (no spec.replicas); the others run 3.
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
        // PDBs cover every other Deployment.
        if i % 2 == 0 {
            objects.push(json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                "metadata": {"name": app, "namespace": ns},
                "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": app}}}}));
        }
    }
    let mut i = 0;
    while objects.len() < 10_000 {
        let ns = format!("team-{}", i % 20);
        objects.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("config-{i}"), "namespace": ns}, "data": {"k": "v"}}));
        i += 1;
    }
    objects
}

/// Every object of a 10,000-object set evaluated against the whole set: the indexed lookups
/// examine a bounded number of candidates per object, and the HPA index is built once — the
/// work grows with the set, not with its square (a scan per workload would examine 2,000 HPAs
/// and 2,000 PDBs for each of 4,000 Deployments: 16 million).
#[test]
fn a_large_set_is_evaluated_in_linear_work() {
    let objects = large_set();
    assert_eq!(objects.len(), 10_000);
    let count = |kind: &str| objects.iter().filter(|o| o["kind"] == kind).count();
    assert_eq!(count("PodDisruptionBudget"), 2000);
    assert_eq!(count("HorizontalPodAutoscaler"), 2000);
    let ctx = Context::from_json(&json!({ "objects": objects }).to_string()).unwrap();
    BUILT.with(|b| b.set(0));
    let mut findings = std::collections::BTreeMap::<String, usize>::new();
    for o in &objects {
        let envelope = json!({"request": {"operation": "CREATE", "object": o}, "mode": "manifest"});
        let v = run::evaluate_with::<Maintenance>(envelope.to_string().as_bytes(), &ctx);
        assert!(v.error.is_none(), "{:?}", v.error);
        for x in v.violations {
            *findings.entry(x.check).or_default() += 1;
        }
    }
    // The uncovered half of the Deployments with 3 replicas need a PDB; the autoscaled ones
    // without a PDB too.
    assert_eq!(findings.get("pdb-required"), Some(&2000), "{findings:?}");
    assert_eq!(BUILT.with(|b| b.get()), 1, "the HPA index is built once");
    let examined = ctx.examined();
    eprintln!(
        "examined {examined} candidates for {} objects",
        objects.len()
    );
    assert!(examined <= 10_000, "examined {examined} candidates");
}

//! Generates the benchmark corpus: a deterministic (seeded) mix of the objects a real cluster's
//! manifests hold — Deployments, StatefulSets, DaemonSets, CronJobs, Services, Ingresses, HPAs,
//! PDBs, ConfigMaps, Secrets, RBAC, NetworkPolicies — some admission-sized with
//! `managedFields`, as multi-document YAML on stdout.
//!
//!     cargo run --release --bin gen-corpus -- --objects 10000 --seed 42 > corpus-10k.yaml
//!
//! `--pdbs N --hpas M` (the cross-object mix): N PodDisruptionBudgets and M
//! HorizontalPodAutoscalers, each over one of the generated Deployments (PDBs from the first
//! Deployment on, HPAs from the last one back, so some Deployments have both), within the same
//! `--objects` total:
//!
//!     cargo run --release --bin gen-corpus -- --objects 10000 --pdbs 2000 --hpas 2000 > mix.yaml

use std::fmt::Write as _;
use std::io::Write as _;

use serde_json::{Value, json};

/// splitmix64: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len() as u64) as usize)
            .copied()
            .unwrap_or_default()
    }
}

const TEAMS: &[&str] = &[
    "shop", "payments", "search", "identity", "media", "ops", "data",
];
const WORDS: &[&str] = &[
    "api", "web", "worker", "gateway", "cache", "indexer", "billing", "auth", "cart", "orders",
    "catalog", "events", "notifier", "ledger", "reports", "sync",
];

fn labels(app: &str, team: &str) -> Value {
    json!({
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": team,
        "app.kubernetes.io/managed-by": "helm",
        "app.kubernetes.io/version": "1.4.2",
    })
}

fn container(r: &mut Rng, name: &str, serving: bool) -> Value {
    let mut c = json!({
        "name": name,
        "image": format!("registry.example.com/{name}:{}.{}.{}", r.below(5), r.below(20), r.below(10)),
        "env": [
            {"name": "LOG_LEVEL", "value": r.pick(&["info", "debug", "warn"])},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
    });
    if serving {
        c["ports"] = json!([{"name": "http", "containerPort": 8080}, {"name": "metrics", "containerPort": 9090}]);
        if r.chance(80) {
            c["readinessProbe"] =
                json!({"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 5});
        }
        if r.chance(70) {
            c["livenessProbe"] = json!({"httpGet": {"path": if r.chance(20) { "/ready" } else { "/live" }, "port": "http"}, "initialDelaySeconds": r.below(40)});
        }
        if r.chance(60) {
            c["lifecycle"] = json!({"preStop": {"sleep": {"seconds": 5 + r.below(30)}}});
        }
    }
    if r.chance(85) {
        let mut res = json!({"requests": {"cpu": format!("{}m", 50 + r.below(950)), "memory": format!("{}Mi", 64 + r.below(1984))}});
        if r.chance(75) {
            res["limits"] = json!({"memory": format!("{}Mi", 128 + r.below(4000))});
        }
        c["resources"] = res;
    }
    if r.chance(15) {
        c["command"] = json!(["/bin/sh", "-c", format!("/app/{name} --port 8080")]);
    }
    c
}

fn pod_template(r: &mut Rng, app: &str, team: &str, serving: bool) -> Value {
    let n = 1 + usize::from(r.chance(30));
    let containers: Vec<Value> = (0..n)
        .map(|i| container(r, if i == 0 { app } else { "sidecar" }, serving && i == 0))
        .collect();
    let mut spec = json!({"containers": containers, "serviceAccountName": app});
    if r.chance(40) {
        spec["terminationGracePeriodSeconds"] = json!(10 + r.below(80));
    }
    if r.chance(30) {
        spec["volumes"] = json!([{"name": "tmp", "emptyDir": if r.chance(50) { json!({"sizeLimit": "1Gi"}) } else { json!({}) }}]);
    }
    json!({"metadata": {"labels": labels(app, team), "annotations": {"prometheus.io/scrape": "true"}}, "spec": spec})
}

/// What the API server adds to an object it returns: what admission sees on UPDATE.
fn managed_fields(r: &mut Rng) -> Value {
    let entries: Vec<Value> = (0..3)
        .map(|i| {
            let manager = ["helm", "kube-controller-manager", "kubectl-client-side-apply"]
                .get(i)
                .copied()
                .unwrap_or("helm");
            json!({
                "manager": manager,
                "operation": if i == 1 { "Update" } else { "Apply" },
                "apiVersion": "apps/v1",
                "time": format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + r.below(27), r.below(24), r.below(60)),
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}, "f:app.kubernetes.io/part-of": {}}},
                             "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:resources": {"f:requests": {"f:cpu": {}, "f:memory": {}}}}}}}}},
            })
        })
        .collect();
    Value::Array(entries)
}

fn object(r: &mut Rng, i: usize) -> Value {
    let team = r.pick(TEAMS);
    let app = format!("{}-{}-{i}", team, r.pick(WORDS));
    let meta = |r: &mut Rng, with_managed: bool| {
        let mut m = json!({"name": app, "namespace": team, "labels": labels(&app, team)});
        if with_managed {
            m["managedFields"] = managed_fields(r);
            m["uid"] = json!(format!(
                "{:016x}-{:08x}",
                r.next(),
                r.below(u64::from(u32::MAX))
            ));
            m["resourceVersion"] = json!(r.below(10_000_000).to_string());
        }
        m
    };
    match r.below(100) {
        0..=34 => {
            let managed = r.chance(30);
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(r, managed),
                   "spec": {"replicas": 2 + r.below(8), "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                            "template": pod_template(r, &app, team, true)}})
        }
        35..=39 => {
            json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta(r, false),
                          "spec": {"serviceName": app, "replicas": 3, "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                                   "template": pod_template(r, &app, team, true),
                                   "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}}]}})
        }
        40..=42 => json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta(r, false),
                          "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": app}}, "template": pod_template(r, &app, team, false)}}),
        43..=47 => json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta(r, false),
                          "spec": {"schedule": format!("{} {} * * *", r.below(60), r.below(24)),
                                   "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "OnFailure", "containers": [container(r, &app, false)]}}}}}}),
        48..=62 => json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(r, false),
                          "spec": {"selector": {"app.kubernetes.io/name": app}, "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}),
        63..=67 => {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta(r, false),
                          "spec": {"ingressClassName": "nginx", "rules": [{"host": format!("{app}.example.com"), "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": app, "port": {"name": "http"}}}}]}}]}})
        }
        68..=72 => {
            json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(r, false),
                          "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": app}, "minReplicas": 2, "maxReplicas": 10 + r.below(20),
                                   "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}})
        }
        73..=77 => {
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(r, false),
                          "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": app}}}})
        }
        78..=85 => {
            let mut data = serde_json::Map::new();
            for k in 0..(3 + r.below(10)) {
                data.insert(format!("KEY_{k}"), json!(format!("value-{}", r.next())));
            }
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(r, false), "data": data})
        }
        86..=90 => {
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(r, false), "type": "Opaque",
                          "data": {"password": "c2VjcmV0LXZhbHVl", "token": "dG9rZW4tdmFsdWU="}})
        }
        91..=92 => {
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(r, false)})
        }
        93..=94 => {
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(r, false),
                          "rules": [{"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list", "watch"]}]})
        }
        95..=96 => {
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(r, false),
                          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": app},
                          "subjects": [{"kind": "ServiceAccount", "name": app, "namespace": team}]})
        }
        _ => {
            json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(r, false),
                    "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/name": app}}, "policyTypes": ["Ingress"],
                             "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": team}}}]}]}})
        }
    }
}

/// Block-style YAML, as `helm template` writes it. Strings are double-quoted (JSON escapes are
/// valid YAML), keys plain.
fn yaml(out: &mut String, v: &Value, indent: usize) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, val) in m {
                let key = if k
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
                {
                    k.clone()
                } else {
                    serde_json::to_string(k).unwrap_or_default()
                };
                match val {
                    Value::Object(x) if !x.is_empty() => {
                        let _ = writeln!(out, "{pad}{key}:");
                        yaml(out, val, indent + 2);
                    }
                    Value::Array(x) if !x.is_empty() => {
                        let _ = writeln!(out, "{pad}{key}:");
                        yaml(out, val, indent);
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}{key}: {}", scalar(val));
                    }
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Value::Object(x) if !x.is_empty() => {
                        let mut inner = String::new();
                        yaml(&mut inner, item, indent + 2);
                        let _ = write!(out, "{pad}- {}", inner.trim_start());
                    }
                    _ => {
                        let _ = writeln!(out, "{pad}- {}", scalar(item));
                    }
                }
            }
        }
        other => {
            let _ = writeln!(out, "{pad}{}", scalar(other));
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
        other => other.to_string(),
    }
}

/// A generated Deployment a PDB or HPA can point at: namespace, name, pod labels.
struct Target {
    namespace: String,
    name: String,
    labels: Value,
}

fn targets(generated: &[Value]) -> Vec<Target> {
    generated
        .iter()
        .filter(|o| o["kind"] == "Deployment")
        .map(|o| Target {
            namespace: o["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            name: o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            labels: o["spec"]["selector"]["matchLabels"].clone(),
        })
        .collect()
}

/// A PDB over a Deployment's pods: mostly `maxUnavailable: 1`, some `minAvailable: 1`.
fn pdb_for(r: &mut Rng, t: &Target) -> Value {
    let mut spec = json!({"selector": {"matchLabels": t.labels}});
    if r.chance(70) {
        spec["maxUnavailable"] = json!(1);
    } else {
        spec["minAvailable"] = json!(1);
    }
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": format!("{}-pdb", t.name), "namespace": t.namespace, "labels": {"app.kubernetes.io/name": t.name}},
           "spec": spec})
}

/// An HPA scaling a Deployment on cpu (sometimes memory) utilisation.
fn hpa_for(r: &mut Rng, t: &Target) -> Value {
    let mut metrics = vec![
        json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60 + r.below(25)}}}),
    ];
    if r.chance(30) {
        metrics.push(json!({"type": "Resource", "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}}}));
    }
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": format!("{}-hpa", t.name), "namespace": t.namespace, "labels": {"app.kubernetes.io/name": t.name}},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": t.name},
                    "minReplicas": 2 + r.below(2), "maxReplicas": 10 + r.below(20), "metrics": metrics}})
}

fn arg<T: std::str::FromStr>(args: &mut impl Iterator<Item = String>, default: T) -> T {
    args.next().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let mut objects = 1000usize;
    let mut seed = 42u64;
    let mut pdbs = 0usize;
    let mut hpas = 0usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--objects" => objects = arg(&mut args, objects),
            "--seed" => seed = arg(&mut args, seed),
            "--pdbs" => pdbs = arg(&mut args, pdbs),
            "--hpas" => hpas = arg(&mut args, hpas),
            _ => {
                eprintln!("usage: gen-corpus [--objects N] [--seed S] [--pdbs N] [--hpas N]");
                std::process::exit(2);
            }
        }
    }
    let mut r = Rng(seed);
    let mixed = objects.saturating_sub(pdbs.saturating_add(hpas));
    let generated: Vec<Value> = (0..mixed).map(|i| object(&mut r, i)).collect();
    let mut extra = Vec::new();
    if pdbs > 0 || hpas > 0 {
        let targets = targets(&generated);
        if targets.is_empty() {
            eprintln!("gen-corpus: no Deployment to point PDBs and HPAs at; raise --objects");
            std::process::exit(2);
        }
        for i in 0..pdbs {
            if let Some(t) = targets.get(i % targets.len()) {
                extra.push(pdb_for(&mut r, t));
            }
        }
        for i in 0..hpas {
            if let Some(t) = targets.get(targets.len() - 1 - i % targets.len()) {
                extra.push(hpa_for(&mut r, t));
            }
        }
    }
    let mut out = String::with_capacity(objects * 2048);
    for o in generated.iter().chain(&extra) {
        out.push_str("---\n");
        yaml(&mut out, o, 0);
    }
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

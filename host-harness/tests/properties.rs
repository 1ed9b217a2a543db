//! Property tests: random Kubernetes-like workloads (every workload kind, odd ports, probes,
//! quantities, preStop hooks, grace periods, shell scripts, exemption annotations, Services in
//! the context) through every rule, natively and in wasm.
//!
//! For every rule and input: no panic; the answer is a verdict; an error never allows; without
//! audit, a verdict without error allows exactly when no violation has error severity; every
//! violation names one of the rule's checks and a path into the object; evaluating twice gives
//! the same bytes; and the wasm module answers byte for byte what the native build answers.

mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use prodready_sdk::{Severity, Verdict};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};

/// Native cases per property; the wasm parity property runs fewer.
const CASES: u32 = 1024;
const PARITY_CASES: u32 = 128;

/// Every rule crate (the generated native list, which the lists meta-test holds to
/// policies/): a rule added later is covered with no edit here.
fn rules() -> &'static [&'static str] {
    static RULES: OnceLock<Vec<&'static str>> = OnceLock::new();
    RULES.get_or_init(common::native_ids)
}

/// The rules whose checks the generator below is built to reach (workloads with ports,
/// probes, quantities, hooks, grace periods, shells and Services): every property holds for
/// every rule, but `generated_cases_reach_every_check` asks only these rules' checks to fail
/// on some generated case. The other rules' checks are reached by their fixtures (the
/// catalogue test asks each check for a failing and a passing fixture object).
const GENERATED_FOR: &[&str] = &["graceful-shutdown", "health-check", "resource-management"];

/// Whether a rule reads objects of the workload's kind (its metadata's resource rules).
fn reads(rule: &str, w: &Workload) -> bool {
    common::module(rule)
        .metadata()
        .handles(w.group, "v1", w.kind)
}

/// Check ids of a rule, from its native metadata.
fn check_ids(id: &str) -> &'static [String] {
    static IDS: OnceLock<BTreeMap<&'static str, Vec<String>>> = OnceLock::new();
    let ids = IDS.get_or_init(|| {
        rules()
            .iter()
            .map(|rule| {
                let md: Value = serde_json::from_slice(&(common::native(rule).metadata)()).unwrap();
                let checks = md["checks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c["id"].as_str().unwrap().to_string())
                    .collect();
                (*rule, checks)
            })
            .collect()
    });
    &ids[id]
}

fn all_check_ids() -> Vec<String> {
    rules().iter().flat_map(|r| check_ids(r).to_vec()).collect()
}

// ---- building blocks ------------------------------------------------------------------------

/// An object from (key, value) pairs, leaving out the absent ones.
fn object(fields: Vec<(&str, Option<Value>)>) -> Value {
    let mut m = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
        }
    }
    Value::Object(m)
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(vec!["app", "web", "api", "sidecar", "proxy", "worker", "init", "db"])
            .prop_map(str::to_string),
        1 => prop::collection::vec(select(vec!['a', 'b', 'z', '-', '0', '.', 'é', ' ']), 0..10)
            .prop_map(String::from_iter),
    ]
}

/// Port names: a small pool, so probes often name a port a container declares.
fn port_name() -> impl Strategy<Value = String> {
    select(vec![
        "http",
        "grpc",
        "admin",
        "metrics",
        "",
        "HTTP",
        "h",
        "web-port-01234",
    ])
    .prop_map(str::to_string)
}

/// Port numbers: common ones, the edges of the valid range and beyond, anything.
fn port_number() -> impl Strategy<Value = i32> {
    prop_oneof![
        3 => select(vec![80, 443, 8080, 8443, 9090, 9901, 1, 65535]),
        2 => select(vec![0, -1, 65536, i32::MAX, i32::MIN]),
        1 => any::<i32>(),
    ]
}

/// Probe timing fields and other i32 seconds: typical, zero, negative, huge.
fn seconds_i32() -> impl Strategy<Value = i32> {
    prop_oneof![
        3 => select(vec![1, 2, 3, 5, 10, 15, 30, 60]),
        2 => select(vec![0, -1, -30, i32::MAX, i32::MIN]),
        1 => any::<i32>(),
    ]
}

/// i64 seconds (grace periods, preStop sleeps).
fn seconds_i64() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => select(vec![0i64, 1, 5, 10, 28, 30, 45, 60, 300, 3600]),
        2 => select(vec![-1i64, -30, i64::from(i32::MAX), i64::MAX, i64::MIN]),
        1 => any::<i64>(),
    ]
}

/// A probe or lifecycle port: by number, by name, or as a numeric string.
fn int_or_string() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => port_number().prop_map(|n| json!(n)),
        3 => port_name().prop_map(Value::String),
        1 => port_number().prop_map(|n| json!(n.to_string())),
    ]
}

/// Quantities: valid spellings and junk.
fn quantity() -> BoxedStrategy<Value> {
    prop_oneof![
        5 => select(vec![
            "100m", "250m", "1", "2", "0", "0.5", "1.5Gi", "2e3", "1E-3", "+2", "64Mi", "128Mi",
            "256Mi", "512Mi", "1Gi", "2Gi", "1Ki", "129e6", "10Ei", "500n", "3u", "1k", "2M",
            "0.0000000147573952589676412927Ei",
        ])
        .prop_map(|s| json!(s)),
        2 => select(vec![
            "", "Gi", "-1", "-1Gi", "1e99", "1e-99", "1.2.3", "1Gb", "512MB", "2gb", "abc", " ",
            "-0", "99999999999999999999999999999999", "9999999999999999999999999999999Ei", ".",
        ])
        .prop_map(|s| json!(s)),
        2 => (
            0u64..100_000,
            select(vec!["", "m", "k", "M", "G", "Ki", "Mi", "Gi", "Ti", "e3", "e-2", "E9", "x"]),
        )
            .prop_map(|(n, suffix)| json!(format!("{n}{suffix}"))),
    ]
    .boxed()
}

fn resource_map() -> BoxedStrategy<Value> {
    (
        prop::option::weighted(0.6, quantity()),
        prop::option::weighted(0.6, quantity()),
        prop::option::weighted(0.4, quantity()),
        prop::option::weighted(0.1, quantity()),
        prop::option::weighted(0.1, quantity()),
    )
        .prop_map(|(cpu, memory, ephemeral, gpu, hugepages)| {
            object(vec![
                ("cpu", cpu),
                ("memory", memory),
                ("ephemeral-storage", ephemeral),
                ("nvidia.com/gpu", gpu),
                ("hugepages-2Mi", hugepages),
            ])
        })
        .boxed()
}

fn resources() -> BoxedStrategy<Value> {
    (
        prop::option::weighted(0.8, resource_map()),
        prop::option::weighted(0.8, resource_map()),
    )
        .prop_map(|(requests, limits)| object(vec![("requests", requests), ("limits", limits)]))
        .boxed()
}

/// Shell scripts: fragments joined by separators, with sleeps, execs, traps and quoting.
fn script() -> BoxedStrategy<String> {
    prop::collection::vec(
        select(vec![
            "sleep 5",
            "sleep 30",
            "sleep -1",
            "sleep 1e9",
            "sleep abc",
            "/bin/sleep 10",
            "exec app",
            "exec \"$@\"",
            "nginx -s quit",
            "app --serve",
            "trap 'exit 0' TERM",
            "wait",
            "echo 'a;b' \"c&&d\"",
            "$(sleep 3)",
            "\\",
            "#",
            "",
        ]),
        0..4,
    )
    .prop_flat_map(|parts| {
        let n = parts.len();
        (
            Just(parts),
            prop::collection::vec(select(vec!["; ", " && ", " || ", " | ", "\n", " & "]), n),
        )
    })
    .prop_map(|(parts, seps)| {
        let mut s = String::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                s.push_str(seps[i - 1]);
            }
            s.push_str(p);
        }
        s
    })
    .boxed()
}

/// argv for `command` and exec handlers.
fn argv() -> BoxedStrategy<Vec<String>> {
    let fixed = select(vec![
        vec!["sleep", "5"],
        vec!["/bin/sleep", "28"],
        vec!["sleep"],
        vec![],
        vec!["tini", "--", "app"],
        vec!["/usr/bin/dumb-init", "app"],
        vec!["/app"],
        vec!["npm", "start"],
    ])
    .prop_map(|v| v.into_iter().map(str::to_string).collect());
    let shell = (
        select(vec!["sh", "/bin/sh", "bash", "/bin/bash", "ash", "zsh"]),
        select(vec!["-c", "-ec", "-xc", "-e"]),
        script(),
    )
        .prop_map(|(sh, flag, script)| vec![sh.to_string(), flag.to_string(), script]);
    prop_oneof![1 => fixed, 2 => shell].boxed()
}

/// A probe or preStop handler.
fn handler() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => (
            select(vec!["/", "/ready", "/live", "/healthz"]),
            int_or_string(),
            prop::option::of(select(vec!["HTTP", "HTTPS"])),
        )
            .prop_map(|(path, port, scheme)| json!({"httpGet": object(vec![
                ("path", Some(json!(path))),
                ("port", Some(port)),
                ("scheme", scheme.map(|s| json!(s))),
            ])})),
        2 => int_or_string().prop_map(|port| json!({"tcpSocket": {"port": port}})),
        1 => (port_number(), prop::option::of(select(vec!["", "health"])))
            .prop_map(|(port, service)| json!({"grpc": object(vec![
                ("port", Some(json!(port))),
                ("service", service.map(|s| json!(s))),
            ])})),
        2 => argv().prop_map(|command| json!({"exec": {"command": command}})),
        1 => Just(json!({})),
    ]
    .boxed()
}

fn probe() -> BoxedStrategy<Value> {
    (
        handler(),
        prop::option::of(seconds_i32().prop_map(|n| json!(n))),
        prop::option::of(seconds_i32().prop_map(|n| json!(n))),
        prop::option::of(seconds_i32().prop_map(|n| json!(n))),
        prop::option::of(seconds_i32().prop_map(|n| json!(n))),
        prop::option::of(seconds_i32().prop_map(|n| json!(n))),
        prop::option::of(seconds_i64()),
    )
        .prop_map(
            |(handler, delay, period, timeout, failure, success, grace)| {
                let mut p = handler;
                if let Value::Object(m) = &mut p {
                    for (k, v) in [
                        ("initialDelaySeconds", delay),
                        ("periodSeconds", period),
                        ("timeoutSeconds", timeout),
                        ("failureThreshold", failure),
                        ("successThreshold", success),
                        ("terminationGracePeriodSeconds", grace.map(|g| json!(g))),
                    ] {
                        if let Some(v) = v {
                            m.insert(k.to_string(), v);
                        }
                    }
                }
                p
            },
        )
        .boxed()
}

fn pre_stop() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => seconds_i64().prop_map(|s| json!({"sleep": {"seconds": s}})),
        3 => argv().prop_map(|command| json!({"exec": {"command": command}})),
        1 => handler(),
    ]
    .boxed()
}

fn ports() -> BoxedStrategy<Value> {
    prop::collection::vec(
        (
            port_number().prop_map(|n| json!(n)),
            prop::option::of(port_name()),
            prop::option::of(select(vec!["TCP", "UDP", "SCTP"])),
        )
            .prop_map(|(number, name, protocol)| {
                object(vec![
                    ("containerPort", Some(number)),
                    ("name", name.map(Value::String)),
                    ("protocol", protocol.map(|p| json!(p))),
                ])
            }),
        0..4,
    )
    .prop_map(Value::Array)
    .boxed()
}

fn container() -> BoxedStrategy<Value> {
    (
        (
            name(),
            prop::option::of(select(vec!["nginx:1.27", "registry.example.com/app:1", ""])),
            prop::option::of(argv()),
            prop::option::of(prop::collection::vec(
                select(vec!["--port=8080", "serve", "-c", "sleep 5"]),
                0..3,
            )),
            prop::option::of(ports()),
        ),
        (
            prop::option::weighted(0.8, resources()),
            prop::option::of(probe()),
            prop::option::of(probe()),
            prop::option::of(probe()),
            prop::option::of(pre_stop()),
            prop::option::of(select(vec!["Always", "Never", "OnFailure"])),
            prop::bool::weighted(0.25),
        ),
    )
        .prop_map(
            |(
                (name, image, command, args, ports),
                (resources, readiness, liveness, startup, pre_stop, restart, same_handler),
            )| {
                // Liveness asking readiness' question, with its own timing.
                let liveness = match (&readiness, liveness) {
                    (Some(Value::Object(r)), Some(Value::Object(mut l))) if same_handler => {
                        for key in ["httpGet", "tcpSocket", "grpc", "exec"] {
                            l.remove(key);
                            if let Some(h) = r.get(key) {
                                l.insert(key.to_string(), h.clone());
                            }
                        }
                        Some(Value::Object(l))
                    }
                    (_, l) => l,
                };
                object(vec![
                    ("name", Some(json!(name))),
                    ("image", image.map(|i| json!(i))),
                    ("command", command.map(|c| json!(c))),
                    ("args", args.map(|a| json!(a))),
                    ("ports", ports),
                    ("resources", resources),
                    ("readinessProbe", readiness),
                    ("livenessProbe", liveness),
                    ("startupProbe", startup),
                    ("lifecycle", pre_stop.map(|p| json!({"preStop": p}))),
                    ("restartPolicy", restart.map(|r| json!(r))),
                ])
            },
        )
        .boxed()
}

fn empty_dir_volume() -> BoxedStrategy<Value> {
    (
        name(),
        prop::option::of(quantity()),
        prop::option::of(select(vec!["", "Memory"])),
        any::<bool>(),
    )
        .prop_map(|(name, size, medium, is_empty_dir)| {
            if is_empty_dir {
                json!({"name": name, "emptyDir": object(vec![
                    ("sizeLimit", size),
                    ("medium", medium.map(|m| json!(m))),
                ])})
            } else {
                json!({"name": name, "configMap": {"name": "cfg"}})
            }
        })
        .boxed()
}

fn pod_spec() -> BoxedStrategy<Value> {
    (
        prop::collection::vec(container(), 0..=4),
        prop::option::of(prop::collection::vec(container(), 0..=2)),
        prop::option::of(seconds_i64()),
        prop::option::of(select(vec!["Always", "Never", "OnFailure"])),
        prop::option::of(select(vec!["critical", "batch", ""])),
        prop::option::of(prop::collection::vec(empty_dir_volume(), 0..3)),
        prop::option::weighted(0.1, resources()),
    )
        .prop_map(
            |(containers, init, grace, restart, priority, volumes, pod_resources)| {
                object(vec![
                    ("containers", Some(json!(containers))),
                    ("initContainers", init.map(|c| json!(c))),
                    ("terminationGracePeriodSeconds", grace.map(|g| json!(g))),
                    ("restartPolicy", restart.map(|r| json!(r))),
                    ("priorityClassName", priority.map(|p| json!(p))),
                    ("volumes", volumes.map(|v| json!(v))),
                    ("resources", pod_resources),
                ])
            },
        )
        .boxed()
}

fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        select(vec!["app", "tier", "team"]).prop_map(str::to_string),
        select(vec!["web", "api", "db", ""]).prop_map(str::to_string),
        0..3,
    )
}

/// Exemption annotations, for any rule's checks, with or without a reason.
fn annotations(checks: Vec<String>) -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        prop_oneof![
            3 => select(checks).prop_map(|c| format!("prodready.io/skip-{c}")),
            1 => Just("example.com/other".to_string()),
        ],
        select(vec!["legacy service, owner: team-a", ""]).prop_map(str::to_string),
        0..3,
    )
}

const KINDS: [(&str, &str); 7] = [
    ("", "Pod"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "Job"),
    ("batch", "CronJob"),
];

/// A workload object with its group and kind.
#[derive(Debug, Clone)]
struct Workload {
    group: &'static str,
    kind: &'static str,
    object: Value,
}

fn workload() -> BoxedStrategy<Workload> {
    (
        select(KINDS.to_vec()),
        prop::option::of(name()),
        prop::option::of(select(vec!["default", "shop"])),
        labels(),
        annotations(all_check_ids()),
        pod_spec(),
        prop::bool::weighted(0.9),
    )
        .prop_map(
            |((group, kind), name, namespace, labels, annotations, spec, with_header)| {
                let template = json!({"metadata": {"labels": labels}, "spec": spec});
                let spec = match kind {
                    "Pod" => template["spec"].clone(),
                    "CronJob" => json!({"schedule": "*/5 * * * *",
                                        "jobTemplate": {"spec": {"template": template}}}),
                    _ => json!({"selector": {"matchLabels": labels}, "template": template}),
                };
                // A Pod's own labels are its pods' labels.
                let meta_labels = if kind == "Pod" {
                    template["metadata"]["labels"].clone()
                } else {
                    json!({"team": "shop"})
                };
                let api_version = if group.is_empty() {
                    "v1".to_string()
                } else {
                    format!("{group}/v1")
                };
                let metadata = object(vec![
                    ("name", name.map(Value::String)),
                    ("namespace", namespace.map(|n| json!(n))),
                    ("labels", Some(meta_labels)),
                    ("annotations", Some(json!(annotations))),
                ]);
                let object = object(vec![
                    ("apiVersion", with_header.then(|| json!(api_version))),
                    ("kind", with_header.then(|| json!(kind))),
                    ("metadata", Some(metadata)),
                    ("spec", Some(spec)),
                ]);
                Workload {
                    group,
                    kind,
                    object,
                }
            },
        )
        .boxed()
}

/// A Service for the context, selecting some of the labels workloads use.
fn service() -> BoxedStrategy<Value> {
    (
        name(),
        prop::option::of(select(vec!["default", "shop"])),
        labels(),
        prop::collection::vec((port_number(), int_or_string()), 0..3),
        prop::option::of(select(vec![
            "ClusterIP",
            "NodePort",
            "LoadBalancer",
            "ExternalName",
        ])),
    )
        .prop_map(|(name, namespace, selector, ports, type_)| {
            let ports: Vec<Value> = ports
                .into_iter()
                .map(|(port, target)| json!({"port": port, "targetPort": target}))
                .collect();
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": object(vec![
                    ("name", Some(json!(name))),
                    ("namespace", namespace.map(|n| json!(n))),
                ]),
                "spec": object(vec![
                    ("selector", Some(json!(selector))),
                    ("ports", Some(json!(ports))),
                    ("type", type_.map(|t| json!(t))),
                ]),
            })
        })
        .boxed()
}

/// Settings: audit and severity overrides (as indices into the rule's checks), and for some
/// cases the rule's own settings (valid ones: invalid settings are the settings fuzz
/// target's business).
#[derive(Debug, Clone)]
struct Settings {
    audit: Option<bool>,
    severity: Vec<(usize, &'static str)>,
    own: BTreeMap<&'static str, Value>,
}

impl Settings {
    fn json(&self, rule: &str, checks: &[String]) -> Value {
        let severity: BTreeMap<&str, &str> = self
            .severity
            .iter()
            .map(|(i, level)| (checks[i % checks.len()].as_str(), *level))
            .collect();
        let mut settings = self.own.get(rule).cloned().unwrap_or_else(|| json!({}));
        if let Some(audit) = self.audit {
            settings["audit"] = Value::Bool(audit);
        }
        if !severity.is_empty() {
            settings["severity"] = json!(severity);
        }
        settings
    }

    fn audit(&self) -> bool {
        self.audit == Some(true)
    }
}

fn own_settings() -> BoxedStrategy<BTreeMap<&'static str, Value>> {
    let health = (
        select(vec!["both", "readiness", "liveness", "none"]),
        1i32..6,
    )
        .prop_map(|(require, min)| json!({"require": require, "minLivenessFailureThreshold": min}));
    let shutdown =
        (0i64..40, 0i64..40, 0i64..60, 60i64..600).prop_map(|(budget, pre, min, max)| {
            json!({"shutdownBudgetSeconds": budget, "minPreStopSeconds": pre,
               "minGracePeriodSeconds": min, "maxGracePeriodSeconds": max})
        });
    let resources = (
        select(vec!["require", "forbid", "ignore"]),
        select(vec!["BestEffort", "Burstable"]),
        prop::option::of(select(vec![1.0, 1.5, 2.0, 4.0])),
        prop::option::of(select(vec![1.0, 2.0, 3.0])),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(cpu_limit, min_qos, cpu, memory, ephemeral, size_limit)| {
            json!({"cpuLimit": cpu_limit, "minQos": min_qos,
                   "minQosByPriorityClass": {"critical": "Burstable", "batch": "BestEffort"},
                   "maxLimitRequestRatio": {"cpu": cpu, "memory": memory},
                   "requireEphemeralStorage": ephemeral, "requireEmptyDirSizeLimit": size_limit})
        });
    (
        prop::option::of(health),
        prop::option::of(shutdown),
        prop::option::of(resources),
    )
        .prop_map(|(h, g, r)| {
            [
                ("health-check", h),
                ("graceful-shutdown", g),
                ("resource-management", r),
            ]
            .into_iter()
            .filter_map(|(rule, s)| s.map(|s| (rule, s)))
            .collect()
        })
        .boxed()
}

/// Replaces the value at a random path of `value` (each step picks a child by index) with
/// `replacement`: a wrong type somewhere in the object.
fn corrupt(value: &mut Value, steps: &[usize], replacement: Value) {
    let child = match (value, steps.split_first()) {
        (Value::Object(m), Some((i, _))) if !m.is_empty() => {
            let key = m.keys().nth(i % m.len()).unwrap().clone();
            m.get_mut(&key).unwrap()
        }
        (Value::Array(a), Some((i, _))) if !a.is_empty() => {
            let n = a.len();
            &mut a[i % n]
        }
        (v, _) => {
            *v = replacement;
            return;
        }
    };
    corrupt(child, &steps[1..], replacement);
}

/// One evaluation input: a workload, its request, settings and context.
#[derive(Debug, Clone)]
struct Case {
    workload: Workload,
    operation: &'static str,
    mode: &'static str,
    settings: Settings,
    context: Option<Vec<Value>>,
}

impl Case {
    fn envelope(&self, rule: &str) -> Vec<u8> {
        let w = &self.workload;
        let mut env = json!({
            "request": {
                "uid": "7",
                "kind": {"group": w.group, "version": "v1", "kind": w.kind},
                "operation": self.operation,
                "object": w.object,
            },
            "settings": self.settings.json(rule, check_ids(rule)),
            "mode": self.mode,
        });
        if let Some(objects) = &self.context {
            let mut objects = objects.clone();
            // The workload itself is part of the set, as `prodready check` sends it (when it
            // names its kind: context objects must).
            if w.object.get("kind").is_some() {
                objects.push(w.object.clone());
            }
            env["context"] = json!({"objects": objects});
        }
        serde_json::to_vec(&env).unwrap()
    }
}

fn case() -> BoxedStrategy<Case> {
    let corruption = prop::option::weighted(
        0.1,
        (
            prop::collection::vec(any::<usize>(), 1..12),
            select(vec![
                json!(null),
                json!("5"),
                json!(1.5),
                json!(-1),
                json!(4_294_967_296i64),
                json!([]),
                json!({}),
                json!(true),
            ]),
        ),
    );
    (
        (workload(), corruption).prop_map(|(mut w, corruption)| {
            if let Some((steps, replacement)) = corruption {
                corrupt(&mut w.object, &steps, replacement);
            }
            w
        }),
        prop_oneof![8 => Just("CREATE"), 2 => Just("UPDATE"), 1 => Just("DELETE")],
        select(vec!["admission", "manifest"]),
        (
            prop::option::of(any::<bool>()),
            prop::collection::vec(
                (any::<usize>(), select(vec!["error", "warning", "off"])),
                0..3,
            ),
            own_settings(),
        )
            .prop_map(|(audit, severity, own)| Settings {
                audit,
                severity,
                own,
            }),
        prop::option::of(prop::collection::vec(service(), 0..3)),
    )
        .prop_map(|(workload, operation, mode, settings, context)| Case {
            workload,
            operation,
            mode,
            settings,
            context,
        })
        .boxed()
}

// ---- properties -----------------------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // Failures print the shrunk input; nothing is written next to the sources.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The verdict promises, for one rule's answer to one case.
fn check_verdict(
    rule: &str,
    checks: &[String],
    audit: bool,
    bytes: &[u8],
) -> Result<Verdict, TestCaseError> {
    let verdict: Verdict = serde_json::from_slice(bytes).map_err(|e| {
        TestCaseError::fail(format!(
            "{rule}: not a verdict ({e}): {}",
            String::from_utf8_lossy(bytes)
        ))
    })?;
    if let Some(e) = &verdict.error {
        prop_assert!(!verdict.allowed, "{rule}: an error verdict allows: {e:?}");
        prop_assert!(
            verdict.violations.is_empty(),
            "{rule}: an error with violations"
        );
    } else if !audit {
        let denies = verdict
            .violations
            .iter()
            .any(|v| v.severity == Severity::Error);
        prop_assert_eq!(
            verdict.allowed,
            !denies,
            "{}: allowed disagrees with the violations: {:#?}",
            rule,
            verdict.violations
        );
    } else {
        prop_assert!(verdict.allowed, "{rule}: audit mode denies");
    }
    for v in verdict.violations.iter() {
        prop_assert_eq!(&v.rule, rule);
        prop_assert!(
            checks.contains(&v.check),
            "{rule}: unknown check {}",
            v.check
        );
        prop_assert!(
            v.path.starts_with("spec.") || v.path.starts_with("metadata"),
            "{rule}: {} has path {:?}",
            v.check,
            v.path
        );
    }
    for x in verdict.exempted.iter() {
        prop_assert!(
            checks.contains(&x.check),
            "{rule}: exempted unknown {}",
            x.check
        );
        prop_assert!(!x.reason.is_empty(), "{rule}: exempted without a reason");
    }
    Ok(verdict)
}

proptest! {
    #![proptest_config(config(CASES))]

    #[test]
    fn every_rule_answers_a_consistent_verdict(case in case()) {
        for rule in rules().iter().copied() {
            let checks = check_ids(rule);
            let native = common::native(rule);
            let env = case.envelope(rule);
            let bytes = (native.evaluate)(&env);
            let verdict = check_verdict(rule, checks, case.settings.audit(), &bytes)?;
            // Every rule checks CREATE and UPDATE only: a DELETE is skipped (or, when a field
            // of the object has the wrong type, an invalid-object error), never judged.
            if case.operation == "DELETE" {
                prop_assert!(
                    verdict.skipped.is_some() || verdict.error.is_some(),
                    "{rule}: DELETE was evaluated"
                );
                prop_assert!(verdict.violations.is_empty());
            } else if reads(rule, &case.workload) {
                prop_assert!(verdict.skipped.is_none(), "{rule}: skipped {:?}", verdict.skipped);
            } else {
                // A rule that does not read this kind skips it (or refuses what it cannot parse).
                prop_assert!(
                    verdict.skipped.is_some() || verdict.error.is_some(),
                    "{rule}: judged a {} it does not read",
                    case.workload.kind
                );
                prop_assert!(verdict.violations.is_empty());
            }
            prop_assert_eq!((native.evaluate)(&env), bytes, "{}: not deterministic", rule);
        }
    }
}

proptest! {
    #![proptest_config(config(PARITY_CASES))]

    #[test]
    fn wasm_answers_byte_for_byte_what_native_answers(case in case()) {
        for rule in rules().iter().copied() {
            let env = case.envelope(rule);
            let native_bytes = (common::native(rule).evaluate)(&env);
            let wasm = common::module(rule).evaluate(common::host(), &env);
            prop_assert_eq!(
                String::from_utf8(serde_json::to_vec(&wasm).unwrap()).unwrap(),
                String::from_utf8(native_bytes).unwrap(),
                "{}: wasm and native differ",
                rule
            );
        }
    }
}

/// The generator reaches the checks: with a fixed seed, every check of every rule fails on
/// some generated case, some findings are exempted, and most cases are evaluated rather than
/// rejected as malformed. Guards the strategies above against drifting into testing nothing.
#[test]
fn generated_cases_reach_every_check() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

    let mut runner = TestRunner::new_with_rng(
        config(CASES),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    let strategy = case();
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    let mut exempted = 0;
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..CASES {
        let case = strategy.new_tree(&mut runner).unwrap().current();
        for rule in rules().iter().copied() {
            let bytes = (common::native(rule).evaluate)(&case.envelope(rule));
            let v: Verdict = serde_json::from_slice(&bytes).unwrap();
            let outcome = match (&v.error, &v.skipped) {
                (Some(_), _) => "error",
                (None, Some(_)) => "skipped",
                (None, None) if v.violations.is_empty() => "clean",
                (None, None) => "violations",
            };
            *outcomes.entry(outcome).or_default() += 1;
            exempted += v.exempted.len();
            for x in &v.violations {
                *failed.entry(format!("{rule}/{}", x.check)).or_default() += 1;
            }
        }
    }
    let total = CASES as usize * rules().len();
    for rule in rules()
        .iter()
        .copied()
        .filter(|r| GENERATED_FOR.contains(r))
    {
        for check in check_ids(rule) {
            assert!(
                failed.contains_key(&format!("{rule}/{check}")),
                "no generated case fails {rule}/{check}: {failed:?}"
            );
        }
    }
    assert!(exempted > 0, "no finding was exempted");
    for outcome in ["clean", "violations", "skipped", "error"] {
        assert!(
            outcomes.contains_key(outcome),
            "no {outcome} verdict: {outcomes:?}"
        );
    }
    assert!(
        outcomes["error"] * 4 < total,
        "a quarter of the cases or more are rejected: {outcomes:?}"
    );
}

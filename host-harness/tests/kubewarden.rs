//! The Kubewarden flavour, run with `wapc` and `wasmtime-provider` (the host libraries
//! Kubewarden's policy evaluator uses): every fixture gives the same verdict through waPC as
//! through the core ABI; the operations answer as Kubewarden expects; the bundle's metadata
//! section, OCI layouts and manifests are right and the checked-in manifests are fresh.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use common::{Expect, Fixture, fixtures, key, module};
use prodready_host::bundle::{self, kubewarden as kw, oci};
use prodready_host::check::{self, Mode, Target};
use prodready_host::embedded;
use prodready_host::kubewarden::{Cluster, WapcModule};
use prodready_sdk::Verdict;
use prodready_sdk::kubewarden::{ValidationResponse, exemptions_annotation, violations_annotation};
use serde_json::{Value, json};

/// The waPC module of every embedded rule, compiled once.
fn wapc_modules() -> &'static BTreeMap<String, WapcModule> {
    static MODULES: OnceLock<BTreeMap<String, WapcModule>> = OnceLock::new();
    MODULES.get_or_init(|| {
        embedded()
            .iter()
            .map(|m| {
                let module = WapcModule::new(common::host(), m.id, m.kubewarden)
                    .unwrap_or_else(|e| panic!("{}: {e}", m.id));
                (m.id.to_string(), module)
            })
            .collect()
    })
}

fn wapc(id: &str) -> &'static WapcModule {
    wapc_modules()
        .get(id)
        .unwrap_or_else(|| panic!("no waPC module for {id}"))
}

/// Kubewarden's `validate` payload for a target: the core envelope without `mode` (the
/// context comes from the cluster through host capabilities, not from the payload).
fn payload(t: &Target, uid: usize, settings: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&check::envelope(t, uid, settings, Mode::Admission))
        .expect("the envelope is JSON");
    v.as_object_mut().expect("an object").remove("mode");
    serde_json::to_vec(&v).expect("serializes")
}

fn cluster(f: &Fixture) -> Arc<Cluster> {
    Arc::new(Cluster::new(
        f.documents.iter().map(|d| d.value.clone()).collect(),
    ))
}

fn settings_json(f: &Fixture) -> String {
    f.header
        .settings
        .as_ref()
        .map_or_else(|| "{}".to_string(), Value::to_string)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The check ids a response reports (from its audit annotation).
fn reported_ids(rule: &str, r: &ValidationResponse) -> Vec<String> {
    r.audit_annotations
        .as_ref()
        .and_then(|a| a.get(&violations_annotation(rule)))
        .map(|ids| ids.split(',').map(str::to_string).collect())
        .unwrap_or_default()
}

fn exempted_ids(rule: &str, r: &ValidationResponse) -> Vec<String> {
    r.audit_annotations
        .as_ref()
        .and_then(|a| a.get(&exemptions_annotation(rule)))
        .map(|s| {
            let list: Vec<Value> = serde_json::from_str(s).expect("a JSON array");
            list.iter()
                .map(|e| e["check"].as_str().expect("a check id").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Compares a waPC response with the core verdict for the same object.
fn same_verdict(rule: &str, core: &Verdict, r: &ValidationResponse) -> Result<(), String> {
    if core.allowed != r.accepted {
        return Err(format!(
            "core allowed={} but waPC accepted={} ({:?})",
            core.allowed, r.accepted, r.message
        ));
    }
    if let Some(e) = &core.error {
        let code = serde_json::to_value(e.code).unwrap();
        let code = code.as_str().unwrap();
        let message = r.message.as_deref().unwrap_or_default();
        if !message.contains(code) || !message.contains(&e.message) {
            return Err(format!("error {code} ({}) not in {message:?}", e.message));
        }
        return if matches!(r.code, Some(400 | 500)) {
            Ok(())
        } else {
            Err(format!("error verdict answered with code {:?}", r.code))
        };
    }
    let core_ids: Vec<String> = core.violations.iter().map(|v| v.check.clone()).collect();
    if core_ids != reported_ids(rule, r) {
        return Err(format!(
            "core {core_ids:?}, waPC {:?}",
            reported_ids(rule, r)
        ));
    }
    let core_exempt: Vec<String> = core.exempted.iter().map(|e| e.check.clone()).collect();
    if core_exempt != exempted_ids(rule, r) {
        return Err(format!(
            "exempted: core {core_exempt:?}, waPC {:?}",
            exempted_ids(rule, r)
        ));
    }
    // Every message reaches the user: error-severity ones in `message` when rejected, the
    // others (and all of them in audit mode) as warnings.
    let warnings = r.warnings.clone().unwrap_or_default();
    for v in &core.violations {
        let line = format!("[{}] {}", v.check, v.message);
        let in_message = r.message.as_deref().is_some_and(|m| m.contains(&line));
        let in_warnings = warnings.iter().any(|w| w.ends_with(&line));
        let denies = v.severity == prodready_sdk::Severity::Error && !core.allowed;
        if denies != in_message || denies == in_warnings {
            return Err(format!(
                "{line:?}: in message {in_message}, in warnings {in_warnings}"
            ));
        }
    }
    Ok(())
}

fn expected_ids(e: &Expect) -> Option<(Vec<String>, Vec<String>)> {
    match e {
        Expect::Ids(ids) => Some((sorted(ids.clone()), Vec::new())),
        Expect::Full(full) if full.error.is_none() => Some((
            sorted(full.violations.clone()),
            sorted(full.exempted.clone()),
        )),
        _ => None,
    }
}

#[test]
fn every_fixture_gives_the_same_verdict_through_wapc_as_through_the_core_abi() {
    let mut failures = Vec::new();
    let mut compared = 0;
    for f in fixtures() {
        let rule = f.header.rule.as_str();
        let m = module(rule);
        let w = wapc(rule);
        let settings = settings_json(&f);
        let (mut session, targets) = common::core_session(&f);
        let cluster = cluster(&f);
        for (i, t) in targets.iter().enumerate() {
            let k = key(&f.documents[i]);
            // As at admission: the request and the object name the namespace.
            let t = &common::admitted(t);
            let response = match w.validate(&payload(t, i, &settings), cluster.clone()) {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{}: {k}: {e}", f.path.display()));
                    continue;
                }
            };
            if !m.metadata().handles(&t.group, &t.version, &t.kind) {
                // Kubewarden's rules would not route this kind to the policy; if it did, the
                // policy accepts without a word.
                if !response.accepted || response.audit_annotations.is_some() {
                    failures.push(format!(
                        "{}: {k}: not skipped: {response:?}",
                        f.path.display()
                    ));
                }
                continue;
            }
            // The core ABI in admission mode, with the manifest set as the cluster's objects.
            let env = check::envelope(t, i, &settings, Mode::Admission);
            let core = session.evaluate(&env);
            if let Err(e) = same_verdict(rule, &core, &response) {
                failures.push(format!("{}: {k}: {e}", f.path.display()));
            }
            // And directly against the fixture's expectation at admission.
            if let Some((ids, exempted)) = f.header.admission_expect(&k).and_then(expected_ids) {
                let got = sorted(reported_ids(rule, &response));
                let got_exempted = sorted(exempted_ids(rule, &response));
                if got != ids || got_exempted != exempted {
                    failures.push(format!(
                        "{}: {k}: expected {ids:?} (exempted {exempted:?}), waPC {got:?} ({got_exempted:?})",
                        f.path.display()
                    ));
                }
            }
            compared += 1;
        }
    }
    assert!(compared > 50, "only {compared} objects compared");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn request(object: &Value, settings: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "request": common::admission_request(object),
        "settings": settings,
    }))
    .unwrap()
}

#[test]
fn a_full_admission_request_is_rejected_with_every_message() {
    let r = wapc("health-check")
        .validate(
            &request(&common::serving_deployment("web", "shop"), json!({})),
            Arc::default(),
        )
        .unwrap();
    assert!(!r.accepted);
    let message = r.message.unwrap();
    assert!(message.starts_with("Deployment shop/web is not production-ready (prodready health-check): [probes-required]"), "{message}");
    assert_eq!(
        reported_ids(
            "health-check",
            &ValidationResponse {
                audit_annotations: r.audit_annotations.clone(),
                ..Default::default()
            }
        ),
        ["probes-required", "probes-required"]
    );
    assert_eq!(r.code, None);
}

#[test]
fn audit_mode_accepts_and_reports_as_warnings() {
    let r = wapc("health-check")
        .validate(
            &request(
                &common::serving_deployment("web", "shop"),
                json!({"audit": true}),
            ),
            Arc::default(),
        )
        .unwrap();
    assert!(r.accepted);
    assert_eq!(r.message, None);
    let warnings = r.warnings.unwrap();
    assert_eq!(warnings.len(), 2);
    assert!(
        warnings
            .iter()
            .all(|w| w.starts_with("(audit) [probes-required]")),
        "{warnings:?}"
    );
}

#[test]
fn input_the_rule_cannot_read_is_rejected_with_a_code() {
    let w = wapc("resource-management");
    let mut broken = common::deployment("web", "shop");
    broken["spec"]["template"]["spec"]["containers"] = json!("not a list");
    let r = w
        .validate(&request(&broken, json!({})), Arc::default())
        .unwrap();
    assert!(!r.accepted);
    assert_eq!(r.code, Some(400));
    assert!(r.message.unwrap().contains("(invalid-object)"));

    let r = w.validate(b"{\"request\": 1", Arc::default()).unwrap();
    assert!(!r.accepted);
    assert_eq!(r.code, Some(400));
    assert!(r.message.unwrap().contains("(invalid-envelope)"));

    let r = w
        .validate(
            &request(&common::deployment("web", "shop"), json!({"nope": 1})),
            Arc::default(),
        )
        .unwrap();
    assert!(!r.accepted);
    assert_eq!(r.code, Some(500));
    assert!(r.message.unwrap().contains("nope"));
}

#[test]
fn cross_object_checks_read_services_through_host_capabilities() {
    // A Deployment behind a Service needs a preStop delay; the same Deployment with no Service
    // in its namespace does not. The Service lives in the cluster, not in the request.
    let w = wapc("graceful-shutdown");
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    });
    let with_service = Arc::new(Cluster::new(vec![service.clone()]));
    let r = w
        .validate(
            &request(&common::deployment("web", "shop"), json!({})),
            with_service.clone(),
        )
        .unwrap();
    assert_eq!(reported_ids("graceful-shutdown", &r), ["prestop-delay"]);
    let r = w
        .validate(
            &request(&common::deployment("web", "other"), json!({})),
            with_service,
        )
        .unwrap();
    assert_eq!(reported_ids("graceful-shutdown", &r), Vec::<String>::new());
    assert!(r.accepted);
}

#[test]
fn a_failed_host_capability_call_rejects_and_says_why() {
    // A cluster that refuses the list (no contextAwareResources granted): fail closed.
    let w = wapc("graceful-shutdown");
    let refusing = Arc::new(Cluster::refusing("policy has no access to v1/Service"));
    let r = w
        .validate(
            &request(&common::deployment("web", "shop"), json!({})),
            refusing,
        )
        .unwrap();
    assert!(!r.accepted);
    assert_eq!(r.code, Some(500));
    let message = r.message.unwrap();
    assert!(
        message.contains("cannot list v1 Service in namespace shop"),
        "{message}"
    );
    assert!(message.contains("contextAwareResources"), "{message}");
}

#[test]
fn validate_settings_and_protocol_version_answer_as_kubewarden_expects() {
    for (id, w) in wapc_modules() {
        assert_eq!(w.protocol_version().unwrap(), "v1", "{id}");
        let ok = w.validate_settings(b"{}").unwrap();
        assert!(ok.valid, "{id}: {ok:?}");
        let bad = w.validate_settings(br#"{"audit": "yes"}"#).unwrap();
        assert!(!bad.valid, "{id}");
        assert!(bad.message.unwrap().contains("audit"), "{id}");
        let unknown = w.validate_settings(br#"{"nope": 1}"#).unwrap();
        assert!(!unknown.valid);
        assert!(unknown.message.unwrap().contains("nope"), "{id}");
        // An operation the module does not know is a waPC error, which Kubewarden rejects.
        assert!(w.call("mutate", b"{}", Arc::default()).is_err(), "{id}");
    }
}

#[test]
fn an_error_verdict_never_accepts_whatever_the_settings() {
    // Fail-closed even in audit mode: audit reports violations, not unreadable input.
    for (id, w) in wapc_modules() {
        let broken = common::unreadable_object(common::module(id));
        let r = w
            .validate(&request(&broken, json!({"audit": true})), Arc::default())
            .unwrap();
        assert!(!r.accepted, "{id}: {r:?}");
        assert_eq!(r.code, Some(400), "{id}");
    }
}

#[test]
fn the_metadata_section_reads_back_as_kubewarden_metadata() {
    for m in prodready_host::load_embedded(common::host()).unwrap() {
        let md = m.metadata();
        let em = embedded().iter().find(|e| e.id == md.id).unwrap();
        assert_eq!(
            kw::read_metadata(em.kubewarden).unwrap(),
            None,
            "unannotated"
        );
        let metadata = kw::metadata(md, kw::DEFAULT_REGISTRY, Some("v1".into()));
        let annotated = kw::annotate(em.kubewarden, &metadata).unwrap();
        // Annotating twice replaces the section instead of adding a second one.
        let twice = kw::annotate(&annotated, &metadata).unwrap();
        assert_eq!(twice, annotated);
        let back = kw::read_metadata(&annotated).unwrap().expect("a section");
        assert_eq!(back, metadata);
        let raw: Value = {
            let section = wasmparser::Parser::new(0)
                .parse_all(&annotated)
                .filter_map(Result::ok)
                .find_map(|p| match p {
                    wasmparser::Payload::CustomSection(r) if r.name() == kw::METADATA_SECTION => {
                        Some(r.data().to_vec())
                    }
                    _ => None,
                })
                .unwrap();
            serde_json::from_slice(&section).unwrap()
        };
        assert_eq!(raw["protocolVersion"], "v1");
        assert_eq!(raw["executionMode"], "kubewarden-wapc");
        assert_eq!(raw["mutating"], false);
        assert_eq!(raw["backgroundAudit"], true);
        let rules = raw["rules"].as_array().unwrap();
        assert!(!rules.is_empty());
        for r in rules {
            for key in ["apiGroups", "apiVersions", "resources", "operations"] {
                assert!(
                    r[key].as_array().is_some_and(|a| !a.is_empty()),
                    "{}: {key}",
                    md.id
                );
            }
        }
        assert_eq!(
            raw.get("contextAwareResources").is_some(),
            !md.context_resources.is_empty(),
            "{}",
            md.id
        );
        for key in [
            "title",
            "description",
            "version",
            "author",
            "url",
            "source",
            "license",
            "severity",
            "category",
            "usage",
        ] {
            let v = &raw["annotations"][format!("io.kubewarden.policy.{key}")];
            assert!(
                v.as_str().is_some_and(|s| !s.is_empty()),
                "{}: {key}",
                md.id
            );
        }
        // Every check is documented in the usage text.
        let usage = raw["annotations"]["io.kubewarden.policy.usage"]
            .as_str()
            .unwrap();
        for c in &md.checks {
            assert!(
                usage.contains(&format!("`{}`", c.id)),
                "{}: {}",
                md.id,
                c.id
            );
        }
        // The annotated module still loads and answers.
        let w = WapcModule::new(common::host(), md.id.clone(), &annotated).unwrap();
        assert_eq!(w.protocol_version().unwrap(), "v1");
    }
}

#[test]
fn bundle_kubewarden_writes_verified_oci_layouts_and_manifests() {
    let out = std::env::temp_dir().join(format!("prodready-kw-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let packages = bundle::write_kubewarden(common::host(), &out, kw::DEFAULT_REGISTRY).unwrap();
    assert_eq!(packages.len(), embedded().len());
    for p in &packages {
        let (manifest, wasm) = oci::verify_wasm_layout(&p.dir.join("oci")).unwrap();
        assert_eq!(wasm, std::fs::read(p.dir.join("policy.wasm")).unwrap());
        assert_eq!(oci::digest(&wasm), manifest.layers[0].digest);
        let md = kw::read_metadata(&wasm).unwrap().unwrap();
        assert_eq!(md.protocol_version.as_deref(), Some("v1"));
        assert_eq!(
            manifest.annotations["io.kubewarden.policy.title"],
            format!("prodready-{}", p.id)
        );
        assert!(
            manifest
                .annotations
                .contains_key("org.opencontainers.image.source")
        );
        // A tampered blob fails verification.
        let blob = p
            .dir
            .join("oci/blobs/sha256")
            .join(manifest.layers[0].digest.trim_start_matches("sha256:"));
        let mut bytes = std::fs::read(&blob).unwrap();
        bytes[100] ^= 1;
        std::fs::write(&blob, &bytes).unwrap();
        assert!(oci::verify_wasm_layout(&p.dir.join("oci")).is_err());
        // The policy manifest points at the artifact and carries the rule's admission rules.
        let policy: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(p.dir.join("policy.yaml")).unwrap())
                .unwrap();
        assert_eq!(policy["apiVersion"], "policies.kubewarden.io/v1");
        assert_eq!(policy["kind"], "ClusterAdmissionPolicy");
        assert_eq!(
            policy["spec"]["module"],
            format!(
                "registry://{}/{}:v{}",
                kw::DEFAULT_REGISTRY,
                p.id,
                env!("CARGO_PKG_VERSION")
            )
        );
        assert_eq!(
            policy["spec"]["rules"],
            serde_json::to_value(&md.rules).unwrap()
        );
        assert_eq!(policy["spec"]["mode"], "protect");
        // Its default settings are valid settings.
        let settings = serde_json::to_vec(&policy["spec"]["settings"]).unwrap();
        let w = WapcModule::new(common::host(), p.id.clone(), &wasm).unwrap();
        assert!(w.validate_settings(&settings).unwrap().valid, "{}", p.id);
    }
    // Building again gives the same bytes: digests are reproducible.
    let again = bundle::write_kubewarden(common::host(), &out, kw::DEFAULT_REGISTRY).unwrap();
    for (a, b) in packages.iter().zip(&again) {
        assert_eq!(a.manifest.digest, b.manifest.digest);
    }
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn checked_in_kubewarden_manifests_are_fresh() {
    let modules = prodready_host::load_embedded(common::host()).unwrap();
    let metas: Vec<_> = modules.iter().map(|m| m.metadata()).collect();
    common::assert_fresh(
        &common::repo_root().join("bundles/kubewarden"),
        &bundle::kubewarden_files(&metas, kw::DEFAULT_REGISTRY).unwrap(),
        "cargo run --release -- bundle kubewarden --out bundles/kubewarden",
    );
}

/// A waPC guest whose `__guest_call` runs `body`, answering with the bytes `answer` when it
/// returns 1.
fn hostile(body: &str, answer: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (import "wapc" "__guest_response" (func $response (param i32 i32)))
            (import "wapc" "__guest_request" (func $request (param i32 i32)))
            (memory (export "memory") 1)
            (data (i32.const 1024) "{answer}")
            (func (export "wapc_init"))
            (func (export "__guest_call") (param i32 i32) (result i32)
                {body}
                (call $response (i32.const 1024) (i32.const {len}))
                (i32.const 1)))"#,
        len = answer.len()
    ))
    .unwrap()
}

#[test]
fn a_trapping_or_looping_wapc_guest_is_an_error_not_an_accept() {
    let cases = [
        ("loop", hostile("(loop $l (br $l))", "{}")),
        ("trap", hostile("unreachable", "{}")),
        (
            "memory bomb",
            hostile(
                "(drop (memory.grow (i32.const 65000))) (loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1)))) unreachable",
                "{}",
            ),
        ),
    ];
    let started = std::time::Instant::now();
    for (name, wasm) in cases {
        let w = WapcModule::new(common::host(), name, &wasm).unwrap();
        let r = w.validate(
            &request(&common::deployment("web", "shop"), json!({})),
            Arc::default(),
        );
        assert!(r.is_err(), "{name}: {r:?}");
    }
    // The loop is cut by the deadline (1 s by default), not by the test's patience.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    // An answer that is not a ValidationResponse is an error too, never an accept.
    let w = WapcModule::new(common::host(), "garbage", &hostile("", "not json")).unwrap();
    let r = w.validate(b"{}", Arc::default());
    assert!(
        matches!(
            r,
            Err(prodready_host::kubewarden::WapcError::BadOutput { .. })
        ),
        "{r:?}"
    );
    // A missing `accepted` is not an accept either.
    let w = WapcModule::new(common::host(), "empty", &hostile("", "{}")).unwrap();
    assert!(w.validate(b"{}", Arc::default()).is_err());
}

// Regression (SDK issue §5): the double put objects without a namespace into every namespace
// and answered namespaced lists of cluster-scoped kinds, which the API server refuses; a
// policy that passed against it would reject every request in a cluster.
#[test]
fn the_cluster_double_is_no_kinder_than_the_api_server() {
    let cluster = Cluster::new(vec![
        common::deployment("unnamespaced", "x")
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o["metadata"] = json!({"name": "unnamespaced"});
                Value::Object(o)
            })
            .unwrap(),
        common::deployment("shop-web", "shop"),
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
               "metadata": {"name": "high"}, "value": 1000}),
    ]);
    let list = |op: &str, av: &str, kind: &str, ns: Option<&str>| -> Result<Vec<String>, String> {
        let payload = json!({"api_version": av, "kind": kind, "namespace": ns});
        let bytes = cluster.answer(
            "kubewarden",
            "kubernetes",
            op,
            &serde_json::to_vec(&payload).unwrap(),
        )?;
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        Ok(v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                format!(
                    "{}/{}",
                    i["metadata"]["namespace"].as_str().unwrap_or("-"),
                    i["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect())
    };
    let by_ns = "list_resources_by_namespace";
    assert_eq!(
        list(by_ns, "apps/v1", "Deployment", Some("shop")).unwrap(),
        ["shop/shop-web"]
    );
    assert_eq!(
        list(by_ns, "apps/v1", "Deployment", Some("default")).unwrap(),
        ["default/unnamespaced"]
    );
    let refused = list(by_ns, "scheduling.k8s.io/v1", "PriorityClass", Some("shop")).unwrap_err();
    assert!(refused.contains("cluster-scoped"), "{refused}");
    assert_eq!(
        list(
            "list_resources_all",
            "scheduling.k8s.io/v1",
            "PriorityClass",
            None
        )
        .unwrap(),
        ["-/high"]
    );
    assert_eq!(
        list("list_resources_all", "apps/v1", "Deployment", None).unwrap(),
        ["default/unnamespaced", "shop/shop-web"]
    );
}

#[test]
fn context_requests_list_cluster_scoped_kinds_cluster_wide() {
    use prodready_sdk::context::{Wanted, needed};
    use prodready_sdk::{ContextResource, Resource, RuleInfo};
    const PC: Resource = Resource::cluster(
        "scheduling.k8s.io",
        &["v1"],
        "PriorityClass",
        "priorityclasses",
    );
    const SVC: Resource = Resource::namespaced("", &["v1"], "Service", "services");
    const INFO: RuleInfo = RuleInfo {
        number: 10,
        id: "probe",
        title: "",
        description: "",
        slide: "",
        checks: &[],
        resources: prodready_sdk::WORKLOADS,
        context: &[
            ContextResource::new(PC, &["value"]),
            ContextResource::new(SVC, &["spec"]),
        ],
        operations: prodready_sdk::CREATE_UPDATE,
    };
    let env = serde_json::to_vec(
        &json!({"request": common::admission_request(&common::deployment("web", "shop"))}),
    )
    .unwrap();
    let n = needed(&INFO, &env).unwrap();
    assert_eq!(
        n.lists,
        vec![
            Wanted {
                resource: PC,
                namespace: None
            },
            Wanted {
                resource: SVC,
                namespace: Some("shop".into())
            },
        ]
    );
}

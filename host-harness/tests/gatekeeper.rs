//! The Gatekeeper flavour: the generated ConstraintTemplates, run by a Rego interpreter
//! (regorus) whose `external_data` POSTs to the provider over TLS, give the same denying
//! checks as the core ABI for every fixture object; the provider answers bad input with
//! errors, never with an allow; the HTTP and TLS edges hold; the bundle is structural, clean
//! under our own rules, and fresh.

mod common;
mod https;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use common::{fixtures, key, module};
use https::*;
use prodready_host::bundle::{self, gatekeeper as gk};
use prodready_host::check::{self, Mode, Target};
use prodready_host::provider::{API_VERSION, ProviderResponse, ServerLimits};
use prodready_host::{Session, loader};
use prodready_sdk::{Severity, Verdict};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Gatekeeper's side: the templates' Rego in regorus, `external_data` over TLS.

/// What Gatekeeper's `external_data` returns to Rego, from a provider answer.
fn external_data(addr: SocketAddr, request: &Value) -> Value {
    let keys: Vec<String> = request["keys"]
        .as_array()
        .map(|ks| {
            ks.iter()
                .map(|k| k.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(request["provider"], "prodready", "the template's provider");
    let answer = std::panic::catch_unwind(|| raw(addr, &post_request(&provider_request(&keys))));
    let Ok(http) = answer else {
        return json!({"responses": [], "errors": [], "status_code": 0,
                      "system_error": "the provider could not be reached"});
    };
    let response: ProviderResponse = match serde_json::from_slice(&http.body) {
        Ok(r) => r,
        Err(e) => {
            return json!({"responses": [], "errors": [], "status_code": http.status,
                          "system_error": format!("bad answer: {e}")});
        }
    };
    let mut responses = Vec::new();
    let mut errors = Vec::new();
    for item in response.response.items {
        if item.error.is_empty() {
            responses.push(json!([item.key, item.value]));
        } else {
            errors.push(json!([item.key, item.error]));
        }
    }
    json!({
        "responses": responses,
        "errors": errors,
        "status_code": http.status,
        "system_error": response.response.system_error,
    })
}

fn to_regorus(v: &Value) -> regorus::Value {
    regorus::Value::from_json_str(&v.to_string()).unwrap()
}

/// Evaluates a template's `violation` set for one input and inventory.
fn evaluate_template(
    template: &Value,
    input: &Value,
    inventory: &Value,
    addr: SocketAddr,
) -> anyhow::Result<Vec<Value>> {
    let rego = template["spec"]["targets"][0]["rego"]
        .as_str()
        .expect("a rego target");
    let package = template["metadata"]["name"].as_str().unwrap();
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(true);
    engine.add_policy(format!("{package}.rego"), rego.to_string())?;
    engine.add_extension(
        "external_data".to_string(),
        1,
        Box::new(move |args: Vec<regorus::Value>| {
            let request: Value = serde_json::to_value(&args[0])?;
            Ok(to_regorus(&external_data(addr, &request)))
        }),
    )?;
    engine.add_data(to_regorus(&json!({"inventory": inventory})))?;
    engine.set_input(to_regorus(input));
    let result = engine.eval_rule(format!("data.{package}.violation"))?;
    let result: Value = serde_json::to_value(&result)?;
    Ok(match result {
        Value::Array(v) => v,
        Value::Null => Vec::new(),
        other => anyhow::bail!("violation is not a set: {other}"),
    })
}

fn checks_of(violations: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = violations
        .iter()
        .map(|v| v["details"]["check"].as_str().unwrap_or("?").to_string())
        .collect();
    ids.sort();
    ids
}

/// The check ids a verdict denies with: its error-severity violations when it does not
/// allow, or `error` for an error verdict.
fn denying(verdict: &Verdict) -> Vec<String> {
    if verdict.error.is_some() {
        return vec!["error".to_string()];
    }
    let mut ids: Vec<String> = verdict
        .violations
        .iter()
        .filter(|v| v.severity == Severity::Error && !verdict.allowed)
        .map(|v| v.check.clone())
        .collect();
    ids.sort();
    ids
}

fn templates() -> &'static Vec<(String, Value)> {
    static T: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    T.get_or_init(|| {
        common::modules()
            .iter()
            .map(|m| (m.id().to_string(), gk::template(m.metadata())))
            .collect()
    })
}

fn template(rule: &str) -> &'static Value {
    &templates().iter().find(|(id, _)| id == rule).unwrap().1
}

/// The fixture's settings with every check the settings do not re-grade made an error: every
/// violation then denies, so the template must relay all of them (warnings included, and the
/// cross-object ones that read the synced Services).
fn everything_denies(settings: Option<&Value>, rule: &str) -> Value {
    let mut s = settings.cloned().unwrap_or_else(|| json!({}));
    if s.get("severity").is_none() {
        s["severity"] = json!({});
    }
    for c in &module(rule).metadata().checks {
        if s["severity"].get(&c.id).is_none() {
            s["severity"][&c.id] = json!("error");
        }
    }
    s
}

#[derive(Default)]
struct Tally {
    compared: usize,
    denied: usize,
    failures: Vec<String>,
}

/// Runs every object of a fixture through the template (and so the provider) with
/// `parameters`, and through the core ABI with the same settings and the file as context.
fn compare_fixture(f: &common::Fixture, parameters: &Value, addr: SocketAddr, tally: &mut Tally) {
    let rule = f.header.rule.as_str();
    let m = module(rule);
    let settings = parameters.to_string();
    let targets: Vec<Target> = f.documents.iter().map(Target::new).collect();
    let mut session = Session::new(common::host(), m);
    if let Some(ctx) = check::context_json(m.metadata(), &targets, check::DEFAULT_NAMESPACE) {
        session.set_context(Arc::new(ctx)).unwrap();
    }
    let docs: Vec<Value> = f.documents.iter().map(|d| d.value.clone()).collect();
    let inventory = common::inventory(&docs);
    for (i, t) in targets.iter().enumerate() {
        let k = key(&f.documents[i]);
        let t = &common::admitted(t);
        let envelope = check::envelope(t, i, &settings, Mode::Admission);
        let core = session.evaluate(&envelope);
        let review = serde_json::from_slice::<Value>(&envelope).unwrap()["request"].clone();
        let input = json!({"review": review, "parameters": parameters});
        match evaluate_template(template(rule), &input, &inventory, addr) {
            Ok(violations) => {
                let got = checks_of(&violations);
                let want = denying(&core);
                if got != want {
                    tally.failures.push(format!(
                        "{}: {k} ({parameters}): core denies with {want:?}, the template with {got:?}: {violations:?}",
                        f.path.display()
                    ));
                }
                // Every entry carries the rule and a message.
                for v in &violations {
                    if v["details"]["rule"] != rule || !v["msg"].is_string() {
                        tally
                            .failures
                            .push(format!("{}: {k}: entry {v}", f.path.display()));
                    }
                }
                if !want.is_empty() {
                    tally.denied += 1;
                }
            }
            Err(e) => tally
                .failures
                .push(format!("{}: {k}: regorus: {e:#}", f.path.display())),
        }
        tally.compared += 1;
    }
}

#[test]
fn every_fixture_object_gets_the_same_denying_checks_through_the_template_and_the_provider() {
    let addr = provider_addr();
    let mut tally = Tally::default();
    let mut strict = Tally::default();
    for f in fixtures() {
        let parameters = f.header.settings.clone().unwrap_or_else(|| json!({}));
        compare_fixture(&f, &parameters, addr, &mut tally);
        let all = everything_denies(f.header.settings.as_ref(), &f.header.rule);
        compare_fixture(&f, &all, addr, &mut strict);
    }
    assert!(
        tally.compared > 50,
        "only {} objects compared",
        tally.compared
    );
    assert!(tally.denied > 10, "only {} denials compared", tally.denied);
    assert!(
        strict.denied > tally.denied,
        "re-grading to error denies more"
    );
    tally.failures.extend(strict.failures);
    assert!(tally.failures.is_empty(), "{}", tally.failures.join("\n"));
}

#[test]
fn cross_object_checks_read_the_synced_services_of_the_namespace() {
    let addr = provider_addr();
    let t = template("graceful-shutdown");
    let service = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop", "managedFields": [{"manager": "kubectl"}]},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
        "status": {"loadBalancer": {}},
    });
    let inv = common::inventory(std::slice::from_ref(&service));
    // prestop-delay is a warning by default: make it deny to see it.
    let parameters = json!({"severity": {"prestop-delay": "error"}});
    let input = json!({"review": common::admission_request(&common::deployment("web", "shop")), "parameters": parameters});
    let v = evaluate_template(t, &input, &inv, addr).unwrap();
    assert_eq!(checks_of(&v), ["prestop-delay"], "{v:?}");
    // The same Deployment in a namespace without Services needs no preStop delay.
    let input = json!({"review": common::admission_request(&common::deployment("web", "other")), "parameters": parameters});
    let v = evaluate_template(t, &input, &inv, addr).unwrap();
    assert_eq!(checks_of(&v), Vec::<String>::new(), "{v:?}");
}

#[test]
fn invalid_parameters_and_unreadable_objects_deny_through_the_template() {
    let addr = provider_addr();
    let t = template("health-check");
    let input = json!({"review": common::admission_request(&common::deployment("web", "shop")), "parameters": {"nope": 1}});
    let v = evaluate_template(t, &input, &json!({}), addr).unwrap();
    assert_eq!(checks_of(&v), ["error"]);
    assert_eq!(v[0]["details"]["code"], "invalid-settings");
    assert!(v[0]["msg"].as_str().unwrap().contains("nope"), "{v:?}");
    let mut broken = common::deployment("web", "shop");
    broken["spec"]["template"]["spec"]["containers"] = json!(7);
    // Even in audit mode: audit reports violations, not unreadable input.
    let input =
        json!({"review": common::admission_request(&broken), "parameters": {"audit": true}});
    let v = evaluate_template(t, &input, &json!({}), addr).unwrap();
    assert_eq!(checks_of(&v), ["error"]);
    assert_eq!(v[0]["details"]["code"], "invalid-object");
}

#[test]
fn an_unreachable_provider_denies_through_the_template() {
    // Nothing listens there: external_data answers a system error, the template denies.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let t = template("resource-management");
    let input = json!({"review": common::admission_request(&common::deployment("web", "shop")), "parameters": {}});
    let v = evaluate_template(t, &input, &json!({}), dead).unwrap();
    assert_eq!(checks_of(&v), ["error"], "{v:?}");
    assert_eq!(v[0]["details"]["code"], "provider-unavailable");
}

// ---------------------------------------------------------------------------------------------
// The provider's protocol.

#[test]
fn keys_are_answered_in_order_with_the_rules_violation_and_warn_sets() {
    let keys = vec![
        key_for(
            "health-check",
            &common::serving_deployment("web", "shop"),
            json!({}),
        ),
        key_for(
            "health-check",
            &common::serving_deployment("web", "shop"),
            json!({"audit": true}),
        ),
    ];
    let (status, r) = ask(provider_addr(), &keys);
    assert_eq!(status, 200);
    assert_eq!(r.api_version, API_VERSION);
    assert_eq!(r.kind, "ProviderResponse");
    assert!(r.response.idempotent);
    assert_eq!(r.response.system_error, "");
    assert_eq!(r.response.items.len(), 2);
    assert_eq!(r.response.items[0].key, keys[0]);
    assert_eq!(r.response.items[1].key, keys[1]);
    let enforced = r.response.items[0].value.as_ref().unwrap();
    assert_eq!(enforced.violation.len(), 2, "{enforced:?}");
    assert!(
        enforced
            .violation
            .iter()
            .all(|v| v.details.check == "probes-required")
    );
    assert!(
        enforced.violation[0]
            .msg
            .starts_with("[probes-required] container \"app\"")
    );
    // Audit mode: nothing denies, everything is a warning.
    let audit = r.response.items[1].value.as_ref().unwrap();
    assert!(audit.violation.is_empty());
    assert_eq!(audit.warn.len(), 2);
}

#[test]
fn bad_keys_get_an_error_item_and_no_value() {
    let cases = [
        ("not json", "not JSON".to_string()),
        ("not an object", "[1, 2]".to_string()),
        ("no review", json!({"rule": "health-check"}).to_string()),
        (
            "unknown field",
            json!({"rule": "health-check", "review": {}, "extra": 1}).to_string(),
        ),
        (
            "review not an object",
            json!({"rule": "health-check", "review": "x"}).to_string(),
        ),
        (
            "context not a list",
            json!({"rule": "graceful-shutdown", "review": {}, "context": {}}).to_string(),
        ),
    ];
    let keys: Vec<String> = cases.iter().map(|(_, k)| k.clone()).collect();
    let (status, r) = ask(provider_addr(), &keys);
    assert_eq!(status, 200);
    assert_eq!(r.response.items.len(), cases.len());
    for ((name, _), item) in cases.iter().zip(&r.response.items) {
        assert!(item.value.is_none(), "{name}: {item:?}");
        assert!(item.error.starts_with("prodready: "), "{name}: {item:?}");
    }
    let unknown = json!({"rule": "image-pinning", "review": common::admission_request(&common::deployment("web", "shop"))});
    let (_, r) = ask(provider_addr(), &[unknown.to_string()]);
    let item = &r.response.items[0];
    assert!(item.value.is_none());
    assert!(
        item.error.contains("unknown rule \"image-pinning\""),
        "{item:?}"
    );
    assert!(
        item.error.contains("health-check"),
        "names the rules it has: {item:?}"
    );
}

#[test]
fn an_error_verdict_is_a_violation_entry_not_an_allow() {
    let mut broken = common::deployment("web", "shop");
    broken["spec"]["template"]["spec"]["containers"] = json!(7);
    let (_, r) = ask(
        provider_addr(),
        &[key_for("resource-management", &broken, json!({}))],
    );
    let sets = r.response.items[0].value.as_ref().unwrap();
    assert_eq!(sets.violation.len(), 1);
    assert_eq!(sets.violation[0].details.check, "error");
    assert_eq!(
        sets.violation[0].details.code.as_deref(),
        Some("invalid-object")
    );
}

#[test]
fn context_objects_in_the_key_reach_the_rule() {
    let service = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let with = json!({"rule": "graceful-shutdown", "review": common::admission_request(&common::deployment("web", "shop")),
                      "parameters": {}, "context": [service]});
    let without = json!({"rule": "graceful-shutdown", "review": common::admission_request(&common::deployment("web", "shop")),
                         "parameters": {}, "context": []});
    let bad = json!({"rule": "graceful-shutdown", "review": common::admission_request(&common::deployment("web", "shop")),
                     "context": [7]});
    let (_, r) = ask(
        provider_addr(),
        &[with.to_string(), without.to_string(), bad.to_string()],
    );
    let warned: Vec<&str> = r.response.items[0]
        .value
        .as_ref()
        .unwrap()
        .warn
        .iter()
        .map(|w| w.details.check.as_str())
        .collect();
    assert_eq!(warned, ["prestop-delay"]);
    assert!(r.response.items[1].value.as_ref().unwrap().warn.is_empty());
    let bad = r.response.items[2].value.as_ref().unwrap();
    assert_eq!(
        bad.violation[0].details.code.as_deref(),
        Some("invalid-context")
    );
}

#[test]
fn a_body_that_is_not_a_provider_request_is_a_400_with_a_system_error() {
    for body in [
        b"garbage".as_slice(),
        br#"{"apiVersion": "v1", "kind": "Pod"}"#,
        br#"{"apiVersion": "externaldata.gatekeeper.sh/v1beta1", "kind": "ProviderRequest", "request": {"keys": 7}}"#,
    ] {
        let r = raw(provider_addr(), &post_request(body));
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        let response: ProviderResponse = serde_json::from_slice(&r.body).unwrap();
        assert!(!response.response.system_error.is_empty());
        assert!(response.response.items.is_empty());
        assert_eq!(r.header("connection"), Some("close"));
    }
    // No keys: an empty answer.
    let (status, r) = ask(provider_addr(), &[]);
    assert_eq!(status, 200);
    assert!(r.response.items.is_empty());
}

#[test]
fn http_edges_oversized_unframed_wrong_method_unknown_path_and_health() {
    let addr = provider_addr();
    // 413 from the header alone: the body is never read.
    let r = raw(
        addr,
        format!(
            "POST /validate HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            (4 << 20) + 1
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 413);
    assert!(
        !r.json()["response"]["systemError"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    // No Content-Length, or chunked: 411.
    let r = raw(addr, b"POST /validate HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 411);
    let r = raw(
        addr,
        b"POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    assert_eq!(r.status, 411);
    // Only POST.
    for method in ["GET", "PUT", "DELETE"] {
        let r = raw(
            addr,
            format!("{method} /validate HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("POST"));
    }
    let r = raw(addr, b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 404);
    let r = raw(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"ok\n");
    let r = raw(
        addr,
        b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(r.status, 405);
    // A malformed request line: 400.
    let r = raw(addr, b"NONSENSE\r\n\r\n");
    assert_eq!(r.status, 400);
    // A head that never ends: 431, not unbounded memory.
    let mut huge = b"GET /healthz HTTP/1.1\r\nX-Filler: ".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 64 << 10));
    let r = raw(addr, &huge);
    assert_eq!(r.status, 431);
}

#[test]
fn one_connection_serves_several_requests() {
    let mut s = connect(provider_addr(), tls13());
    for _ in 0..3 {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        s.flush().unwrap();
        assert_eq!(read_response(&mut s).unwrap().status, 200);
        s.write_all(&post_request(&provider_request(&[key_for(
            "health-check",
            &common::deployment("web", "shop"),
            json!({}),
        )])))
        .unwrap();
        s.flush().unwrap();
        let r = read_response(&mut s).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["response"]["items"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn a_tls_1_2_client_is_refused() {
    let config = client_config(&[&rustls::version::TLS12], false);
    let mut s = connect(provider_addr(), config);
    let sent = s
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .and_then(|()| s.flush());
    let answer = sent.and_then(|()| read_response(&mut s));
    assert!(answer.is_err(), "a TLS 1.2 client got {answer:?}");
    assert!(s.conn.protocol_version().is_none() || s.conn.is_handshaking());
}

#[test]
fn with_a_client_ca_only_clients_with_a_certificate_it_signed_get_in() {
    let addr = start(ServerLimits::default(), Some(&pki().ca_pem));
    let health = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut with = connect(addr, client_config(&[&rustls::version::TLS13], true));
    with.write_all(health).unwrap();
    with.flush().unwrap();
    assert_eq!(read_response(&mut with).unwrap().status, 200);
    let mut without = connect(addr, tls13());
    let answer = without
        .write_all(health)
        .and_then(|()| without.flush())
        .and_then(|()| read_response(&mut without));
    assert!(
        answer.is_err(),
        "a client without a certificate got {answer:?}"
    );
}

#[test]
fn a_slow_client_gets_a_408_not_a_thread_forever() {
    let addr = start(
        ServerLimits {
            io_timeout: std::time::Duration::from_millis(200),
            request_timeout: std::time::Duration::from_millis(500),
            ..ServerLimits::default()
        },
        None,
    );
    let mut s = connect(addr, tls13());
    s.write_all(b"POST /validate HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    s.flush().unwrap();
    let started = std::time::Instant::now();
    let r = read_response(&mut s).unwrap();
    assert_eq!(r.status, 408);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn certificate_files_load_and_a_mismatched_key_is_refused() {
    let dir = std::env::temp_dir().join(format!("prodready-gk-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = pki();
    std::fs::write(dir.join("tls.crt"), &p.server_cert_pem).unwrap();
    std::fs::write(dir.join("tls.key"), &p.server_key_pem).unwrap();
    std::fs::write(dir.join("other.key"), &p.client_key_pem).unwrap();
    let files = |key: &str| prodready_host::provider::TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join(key),
        client_ca: None,
    };
    assert!(prodready_host::provider::tls_config(&files("tls.key")).is_ok());
    let err = prodready_host::provider::tls_config(&files("other.key")).unwrap_err();
    assert!(format!("{err:#}").contains("do not go together"), "{err:#}");
    let err = prodready_host::provider::tls_config(&files("missing.key")).unwrap_err();
    assert!(format!("{err:#}").contains("missing.key"), "{err:#}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The bundle.

/// Keywords of Kubernetes' JSONSchemaProps (what a CRD's openAPIV3Schema may hold), less
/// `$ref`, `$schema`, `definitions`, `allOf`/`anyOf`/`oneOf`/`not`, which structural schemas
/// forbid or restrict.
const CRD_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "description",
    "default",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
    "minProperties",
    "maxProperties",
    "required",
    "items",
    "properties",
    "additionalProperties",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
];

/// The rules of a structural schema Kubernetes checks, over one node and its children.
fn check_structural(path: &str, s: &Value, errors: &mut Vec<String>) {
    let Some(o) = s.as_object() else {
        errors.push(format!("{path}: not an object"));
        return;
    };
    for k in o.keys() {
        if !CRD_KEYWORDS.contains(&k.as_str()) {
            errors.push(format!("{path}: keyword {k} is not allowed"));
        }
    }
    let preserve = o.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    match o.get("type").and_then(Value::as_str) {
        Some("object" | "array" | "string" | "integer" | "number" | "boolean") => {}
        Some(t) => errors.push(format!("{path}: type {t}")),
        None if preserve => {}
        None => errors.push(format!("{path}: no type")),
    }
    if o.contains_key("properties") && o.contains_key("additionalProperties") {
        errors.push(format!("{path}: properties and additionalProperties"));
    }
    if o.get("additionalProperties").is_some_and(Value::is_boolean) {
        errors.push(format!("{path}: boolean additionalProperties"));
    }
    if o.get("default") == Some(&Value::Null) {
        errors.push(format!("{path}: default null"));
    }
    for k in ["exclusiveMinimum", "exclusiveMaximum"] {
        if o.get(k).is_some_and(|v| !v.is_boolean()) {
            errors.push(format!("{path}: {k} must be a boolean"));
        }
    }
    if o.get("type") == Some(&json!("array")) && !o.contains_key("items") {
        errors.push(format!("{path}: an array without items"));
    }
    if let Some(props) = o.get("properties").and_then(Value::as_object) {
        for (k, v) in props {
            check_structural(&format!("{path}.{k}"), v, errors);
        }
    }
    for k in ["items", "additionalProperties"] {
        if let Some(v) = o.get(k).filter(|v| v.is_object()) {
            check_structural(&format!("{path}[{k}]"), v, errors);
        }
    }
}

#[test]
fn templates_have_structural_parameter_schemas_covering_every_setting() {
    for m in common::modules() {
        let md = m.metadata();
        let t = gk::template(md);
        assert_eq!(t["apiVersion"], "templates.gatekeeper.sh/v1");
        let kind = t["spec"]["crd"]["spec"]["names"]["kind"].as_str().unwrap();
        assert!(kind.starts_with("K8sProdready"), "{kind}");
        assert_eq!(t["metadata"]["name"], kind.to_ascii_lowercase());
        let schema = &t["spec"]["crd"]["spec"]["validation"]["openAPIV3Schema"];
        let mut errors = Vec::new();
        check_structural("parameters", schema, &mut errors);
        assert!(errors.is_empty(), "{}: {errors:#?}", md.id);
        assert_eq!(schema["type"], "object");
        let settings: Vec<&String> = md.settings_schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        let params: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        assert_eq!(settings, params, "{}", md.id);
        assert_eq!(
            t["spec"]["targets"][0]["target"],
            "admission.k8s.gatekeeper.sh"
        );
        // Templates that read other objects say so, for Gatekeeper's sync.
        let sync =
            t["metadata"]["annotations"]["metadata.gatekeeper.sh/requires-sync-data"].as_str();
        assert_eq!(
            sync.is_some(),
            !md.admission_context().is_empty(),
            "{}",
            md.id
        );
        if let Some(sync) = sync {
            let inner: Value = serde_json::from_str(sync.trim_matches('"')).unwrap();
            // One requirement per context kind, in order.
            let kinds: Vec<&str> = inner
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r[0]["kinds"][0].as_str().unwrap())
                .collect();
            let wanted: Vec<&str> = md
                .admission_context()
                .into_iter()
                .map(|c| c.kind.as_str())
                .collect();
            assert_eq!(kinds, wanted, "{}", md.id);
        }
    }
    assert_eq!(
        gk::kind(module("health-check").metadata()),
        "K8sProdreadyHealthCheck"
    );
}

#[test]
fn the_schema_conversion_handles_what_json_schema_says_and_crds_cannot() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Settings",
        "type": "object",
        "additionalProperties": false,
        "default": {},
        "properties": {
            "maybe": {"type": ["integer", "null"], "format": "uint32", "minimum": 0, "default": null},
            "level": {"oneOf": [{"const": "low", "description": "l"}, {"const": "high"}]},
            "ratio": {"type": "number", "exclusiveMinimum": 0},
            "nested": {"anyOf": [{"type": "object", "properties": {"a": {"type": "string"}},
                                  "additionalProperties": false}, {"type": "null"}]},
            "map": {"type": "object", "additionalProperties": {"enum": ["error", "warning", "off"]}},
            "list": {"type": "array", "items": {"type": "string"}},
        },
    });
    let out = gk::crd_schema(&schema);
    let mut errors = Vec::new();
    check_structural("parameters", &out, &mut errors);
    assert!(errors.is_empty(), "{errors:#?}\n{out:#}");
    let p = &out["properties"];
    assert_eq!(
        p["maybe"],
        json!({"type": "integer", "minimum": 0, "nullable": true})
    );
    assert_eq!(
        p["level"],
        json!({"type": "string", "enum": ["low", "high"]})
    );
    assert_eq!(
        p["ratio"],
        json!({"type": "number", "minimum": 0, "exclusiveMinimum": true})
    );
    assert_eq!(
        p["nested"],
        json!({"type": "object", "properties": {"a": {"type": "string"}}, "nullable": true})
    );
    assert_eq!(
        p["map"]["additionalProperties"],
        json!({"type": "string", "enum": ["error", "warning", "off"]})
    );
    assert!(out.get("$schema").is_none() && out.get("title").is_none());
    assert!(out.get("default").is_none());
}

#[test]
fn example_constraints_match_the_rules_kinds_with_valid_default_parameters() {
    for m in common::modules() {
        let md = m.metadata();
        let c = gk::constraint(md);
        assert_eq!(c["kind"], gk::kind(md));
        let kinds = c["spec"]["match"]["kinds"].as_array().unwrap();
        for r in &md.resources {
            assert!(
                kinds
                    .iter()
                    .any(|k| k["apiGroups"] == json!(r.api_groups) && k["kinds"] == json!(r.kinds)),
                "{}: {r:?}",
                md.id
            );
        }
        assert_eq!(
            c["spec"]["match"]["excludedNamespaces"],
            json!(["kube-system", "gatekeeper-system"])
        );
        let parameters = serde_json::to_vec(&c["spec"]["parameters"]).unwrap();
        let answer = m.validate_settings(common::host(), &parameters);
        assert!(answer.valid, "{}: {answer:?}", md.id);
    }
}

#[test]
fn the_provider_deployment_passes_our_own_rules() {
    let path = common::repo_root().join("bundles/gatekeeper/deployment.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let loaded = loader::load_str(
        loader::Source::File(path.clone()),
        &text,
        &loader::Limits::default(),
    )
    .unwrap();
    assert!(loaded.skipped.is_empty());
    let reports = check::check(
        common::host(),
        common::modules(),
        &Default::default(),
        &loaded.documents,
        Mode::Manifest,
    );
    let mut evaluated = 0;
    for r in &reports {
        for (rule, v) in &r.verdicts {
            assert!(v.error.is_none(), "{rule}: {:?}", v.error);
            // The one finding it keeps: no priorityClassName (a warning), because the class
            // is the platform's to choose; the install docs say to patch it in.
            let violations: Vec<_> = v
                .violations
                .iter()
                .filter(|x| {
                    !(x.check == "priority-class"
                        && x.severity == prodready_sdk::Severity::Warning
                        && x.message.starts_with("no priorityClassName"))
                })
                .collect();
            assert!(
                violations.is_empty() && v.exempted.is_empty(),
                "{} {}: {rule}: {:?} {:?}",
                r.object.kind,
                r.object.name,
                v.violations,
                v.exempted
            );
            if v.skipped.is_none() && r.object.kind == "Deployment" {
                evaluated += 1;
            }
        }
    }
    assert_eq!(
        evaluated,
        common::modules_handling("apps", "Deployment").len(),
        "every rule that reads Deployments evaluated it"
    );
    let deployment: Value = serde_saphyr::from_str(text.split("\n---\n").next().unwrap()).unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        container["image"],
        format!("ghcr.io/prodready/prodready:v{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(container["args"][0], "serve");
    assert_eq!(container["args"][1], "gatekeeper-provider");
}

#[test]
fn the_provider_manifest_points_at_the_service() {
    let p = gk::provider();
    assert_eq!(p["apiVersion"], "externaldata.gatekeeper.sh/v1beta1");
    assert_eq!(p["metadata"]["name"], "prodready");
    assert_eq!(
        p["spec"]["url"],
        "https://prodready-provider.gatekeeper-system:8443/validate"
    );
    let s = gk::service();
    assert_eq!(s["metadata"]["name"], "prodready-provider");
    assert_eq!(s["metadata"]["namespace"], "gatekeeper-system");
    assert_eq!(s["spec"]["ports"][0]["port"], 8443);
    let metas: Vec<_> = common::modules().iter().map(|m| m.metadata()).collect();
    let sync = gk::sync_config(&metas);
    let synced = sync["spec"]["sync"]["syncOnly"].as_array().unwrap();
    // Services and Ingresses (what "serving" reads) among them, and every kind any rule reads
    // from the context, once.
    for kind in [
        json!({"group": "", "version": "v1", "kind": "Service"}),
        json!({"group": "networking.k8s.io", "version": "v1", "kind": "Ingress"}),
    ] {
        assert!(synced.contains(&kind), "{kind} not synced: {synced:?}");
    }
    let mut wanted: Vec<(String, String)> = metas
        .iter()
        .flat_map(|m| m.context_resources.iter())
        .map(|c| (c.api_version.clone(), c.kind.clone()))
        .collect();
    wanted.sort();
    wanted.dedup();
    assert_eq!(synced.len(), wanted.len(), "{synced:?}");
}

#[test]
fn checked_in_gatekeeper_manifests_are_fresh() {
    let metas: Vec<_> = common::modules().iter().map(|m| m.metadata()).collect();
    common::assert_fresh(
        &common::repo_root().join("bundles/gatekeeper"),
        &bundle::gatekeeper_files(&metas).unwrap(),
        "cargo run --release -- bundle gatekeeper --out bundles/gatekeeper",
    );
}

#[test]
fn bundle_gatekeeper_writes_every_file_and_templates_parse_as_yaml() {
    let out = std::env::temp_dir().join(format!("prodready-gk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let written = bundle::write_gatekeeper(common::host(), &out).unwrap();
    for m in common::modules() {
        for f in ["template.yaml", "constraint.yaml"] {
            let path = std::path::Path::new(m.id()).join(f);
            assert!(written.contains(&path), "{}", path.display());
        }
        let text = std::fs::read_to_string(out.join(m.id()).join("template.yaml")).unwrap();
        let back: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, gk::template(m.metadata()));
    }
    for f in [
        "provider.yaml",
        "deployment.yaml",
        "sync.yaml",
        "kustomization.yaml",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    std::fs::remove_dir_all(&out).unwrap();
}

// ---------------------------------------------------------------------------------------------
// The CLI.

#[test]
fn cli_serve_gatekeeper_provider_answers_over_tls() {
    let dir = std::env::temp_dir().join(format!("prodready-gk-cli-{}", std::process::id()));
    let served = serve_cli(&dir, &[]);
    let addr = served.addr;
    assert!(served.banner.contains("health-check"), "{}", served.banner);
    let r = raw(
        addr,
        b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
    let (status, r) = ask(
        addr,
        &[key_for(
            "health-check",
            &common::serving_deployment("web", "shop"),
            json!({}),
        )],
    );
    assert_eq!(status, 200);
    assert_eq!(
        r.response.items[0].value.as_ref().unwrap().violation.len(),
        2
    );
    drop(served);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_serve_refuses_a_missing_certificate_and_bundle_gatekeeper_writes_the_bundle() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args([
            "serve",
            "gatekeeper-provider",
            "--addr",
            "127.0.0.1:0",
            "--tls-cert",
            "/nonexistent/tls.crt",
            "--tls-key",
            "/nonexistent/tls.key",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent/tls.crt"), "{stderr}");

    let dir = std::env::temp_dir().join(format!("prodready-gk-bundle-{}", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args(["bundle", "gatekeeper", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metas: Vec<_> = common::modules().iter().map(|m| m.metadata()).collect();
    for (path, text) in bundle::gatekeeper_files(&metas).unwrap() {
        assert_eq!(
            std::fs::read_to_string(dir.join(&path)).unwrap(),
            text,
            "{}",
            path.display()
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// Regression (SDK issue §5): the inventory double put objects without a namespace into every
// namespace and had no cluster scope; Gatekeeper syncs cluster-scoped kinds under
// `data.inventory.cluster` and namespaced ones under their (defaulted) namespace only.
#[test]
fn the_inventory_double_scopes_objects_as_gatekeeper_syncs_them() {
    let mut unnamespaced = common::deployment("web", "x");
    unnamespaced["metadata"] = json!({"name": "web"});
    let inv = common::inventory(&[
        unnamespaced,
        common::deployment("api", "shop"),
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
               "metadata": {"name": "high"}, "value": 1000}),
    ]);
    assert!(inv["namespace"]["default"]["apps/v1"]["Deployment"]["web"].is_object());
    assert!(inv["namespace"]["shop"]["apps/v1"]["Deployment"]["web"].is_null());
    assert!(inv["namespace"]["shop"]["apps/v1"]["Deployment"]["api"].is_object());
    assert!(inv["cluster"]["scheduling.k8s.io/v1"]["PriorityClass"]["high"].is_object());
    assert!(inv["namespace"]["shop"]["scheduling.k8s.io/v1"].is_null());
}

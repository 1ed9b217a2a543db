//! Shared by the integration tests: the host, the embedded modules, fixture files, and the
//! native builds of the same rule crates.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use prodready_host::{Host, Limits, RuleModule};
use serde::Deserialize;
use serde_json::Value;

pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::new(Limits::default()).expect("host"))
}

pub fn modules() -> &'static [RuleModule] {
    static MODULES: OnceLock<Vec<RuleModule>> = OnceLock::new();
    MODULES.get_or_init(|| prodready_host::load_embedded(host()).expect("embedded modules load"))
}

pub fn module(id: &str) -> &'static RuleModule {
    modules()
        .iter()
        .find(|m| m.id() == id)
        .unwrap_or_else(|| panic!("no embedded module {id}"))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests").join("fixtures")
}

/// The same rule crate, compiled natively.
pub struct Native {
    pub evaluate: fn(&[u8]) -> Vec<u8>,
    pub context_load: fn(&[u8]) -> Vec<u8>,
    pub metadata: fn() -> Vec<u8>,
}

pub fn native(id: &str) -> Native {
    native_opt(id)
        .unwrap_or_else(|| panic!("rule {id} has no native entry in host-harness/tests/common.rs"))
}

include!(concat!(env!("OUT_DIR"), "/native_rules.rs"));

/// The native build of a rule crate, if host-harness lists it as a dev-dependency (the list
/// is generated; the lists meta-test fails when a rule is missing from it).
pub fn native_opt(id: &str) -> Option<Native> {
    macro_rules! native_rule {
        ($id:literal, $krate:ident) => {
            if id == $id {
                return Some(Native {
                    evaluate: $krate::evaluate_json,
                    context_load: $krate::context_load_json,
                    metadata: $krate::metadata_json,
                });
            }
        };
    }
    native_rules!(native_rule);
    None
}

/// Every rule id with a native build.
pub fn native_ids() -> Vec<&'static str> {
    let mut ids = Vec::new();
    macro_rules! native_id {
        ($id:literal, $krate:ident) => {
            ids.push($id);
        };
    }
    native_rules!(native_id);
    ids
}

/// A fixture file's header (tests/README.md).
#[derive(Debug, Deserialize)]
pub struct FixtureFile {
    pub fixture: Header,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub rule: String,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub settings: Option<Value>,
    pub expect: BTreeMap<String, Expect>,
    /// Where an object's verdict at admission (one API request, the cluster as context)
    /// differs from its verdict in the manifest set: the admission expectation, by key.
    #[serde(default)]
    pub admission: BTreeMap<String, Expect>,
}

impl Header {
    /// The expectation for an object in admission mode.
    pub fn admission_expect(&self, key: &str) -> Option<&Expect> {
        self.admission.get(key).or_else(|| self.expect.get(key))
    }
}

/// A target as the API server hands it to admission: an object of a namespaced kind without a
/// namespace was created in the namespace the set was applied to (`default`), which the
/// request and the object then name.
pub fn admitted(t: &prodready_host::check::Target) -> prodready_host::check::Target {
    let mut t = t.clone();
    if t.namespace.is_none() && !prodready_sdk::scope::is_cluster_scoped(&t.group, &t.kind) {
        let ns = prodready_host::check::DEFAULT_NAMESPACE;
        t.namespace = Some(ns.to_string());
        if let Ok(mut v) = serde_json::from_str::<Value>(&t.json) {
            if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.insert("namespace".into(), Value::String(ns.to_string()));
            }
            t.json = v.to_string();
        }
    }
    t
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Expect {
    Ids(Vec<String>),
    Word(String),
    Full(Full),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Full {
    #[serde(default)]
    pub violations: Vec<String>,
    #[serde(default)]
    pub exempted: Vec<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// Whether the verdict allows: `true` with violations means they are all warnings.
    #[serde(default)]
    pub allowed: Option<bool>,
}

pub struct Fixture {
    pub path: PathBuf,
    pub header: Header,
    pub documents: Vec<prodready_host::loader::Document>,
}

/// The rules `PRODREADY_RULES` builds (build.rs's development aid), or None for all of them.
pub fn only_rules() -> Option<Vec<String>> {
    let only: Vec<String> = std::env::var("PRODREADY_RULES")
        .ok()?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    (!only.is_empty()).then_some(only)
}

/// Every fixture file, sorted (with `PRODREADY_RULES` set, only those of the rules built).
pub fn fixtures() -> Vec<Fixture> {
    let only = only_rules();
    let mut files = Vec::new();
    for rule_dir in std::fs::read_dir(fixtures_dir()).expect("tests/fixtures") {
        let rule_dir = rule_dir.unwrap().path();
        if !rule_dir.is_dir() {
            continue;
        }
        if let Some(only) = &only {
            let rule = rule_dir.file_name().unwrap().to_string_lossy();
            if !only.iter().any(|r| *r == rule) {
                continue;
            }
        }
        for f in std::fs::read_dir(&rule_dir).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "yaml") {
                files.push(f);
            }
        }
    }
    files.sort();
    files.into_iter().map(|p| read_fixture(&p)).collect()
}

pub fn read_fixture(path: &Path) -> Fixture {
    let text = std::fs::read_to_string(path).unwrap();
    let header_text = text.split("\n---\n").next().unwrap();
    let file: FixtureFile = serde_saphyr::from_str(header_text)
        .unwrap_or_else(|e| panic!("{}: fixture header: {e}", path.display()));
    let loaded = prodready_host::loader::load_str(
        prodready_host::loader::Source::File(path.to_path_buf()),
        &text,
        &prodready_host::loader::Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Fixture {
        path: path.to_path_buf(),
        header: file.fixture,
        documents: loaded.documents,
    }
}

/// `Kind/name` of a document.
pub fn key(doc: &prodready_host::loader::Document) -> String {
    let kind = doc.value["kind"].as_str().unwrap_or_default();
    let name = doc.value["metadata"]["name"].as_str().unwrap_or_default();
    format!("{kind}/{name}")
}

/// A core-ABI session for a fixture file's rule, with the whole file loaded as its context
/// (as `prodready check` evaluates a manifest set), and the file's targets.
pub fn core_session(
    f: &Fixture,
) -> (
    prodready_host::Session<'static>,
    Vec<prodready_host::check::Target>,
) {
    let m = module(&f.header.rule);
    let targets: Vec<prodready_host::check::Target> = f
        .documents
        .iter()
        .map(prodready_host::check::Target::new)
        .collect();
    let mut session = prodready_host::Session::new(host(), m);
    if let Some(ctx) = prodready_host::check::context_json(
        m.metadata(),
        &targets,
        prodready_host::check::DEFAULT_NAMESPACE,
    ) {
        session.set_context(std::sync::Arc::new(ctx)).unwrap();
    }
    (session, targets)
}

/// Compares generated files with the checked-in ones under `root` (relative paths); with
/// `PRODREADY_BLESS=1` rewrites them instead. Fails naming the stale files and the command
/// that regenerates them.
pub fn assert_fresh(
    root: &Path,
    files: &std::collections::BTreeMap<PathBuf, String>,
    regenerate: &str,
) {
    let bless = std::env::var_os("PRODREADY_BLESS").is_some();
    let mut stale = Vec::new();
    for (path, text) in files {
        let file = root.join(path);
        if bless {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, text).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale in {}: {stale:?}; regenerate with `{regenerate}`",
        root.display()
    );
}

/// A Deployment with one container and nothing else: no probes, no resources, no preStop.
pub fn deployment(name: &str, namespace: &str) -> Value {
    serde_json::json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
            },
        },
    })
}

/// [`deployment`] with a traffic port: with no Service around, its port makes it serve
/// traffic, so health-check asks it for both probes.
pub fn serving_deployment(name: &str, namespace: &str) -> Value {
    let mut d = deployment(name, namespace);
    d["spec"]["template"]["spec"]["containers"][0]["ports"] =
        serde_json::json!([{"containerPort": 8080}]);
    d
}

/// The AdmissionRequest of a CREATE of a Deployment (what Kubewarden's payload and Gatekeeper's
/// `input.review` carry), with the fields the API server fills in.
pub fn admission_request(object: &Value) -> Value {
    let api_version = object["apiVersion"].as_str().unwrap_or("apps/v1");
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let kind = object["kind"].as_str().unwrap_or("Deployment");
    let lower = kind.to_ascii_lowercase();
    let resource = if lower.ends_with('s') {
        format!("{lower}es")
    } else if let Some(stem) = lower.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{lower}s")
    };
    serde_json::json!({
        "uid": "0a1b",
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": resource},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "name": object["metadata"]["name"],
        "namespace": object["metadata"]["namespace"],
        "operation": "CREATE",
        "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": null,
        "dryRun": false,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    })
}

/// Gatekeeper's `data.inventory` of a cluster the manifest set was applied to (objects
/// without a namespace in `default`): what `prodready test` gives the OPA flavour.
pub fn inventory(docs: &[Value]) -> Value {
    prodready_host::suite::inventory(docs, prodready_sdk::scope::DEFAULT_NAMESPACE)
}

/// The modules that evaluate objects of this group and kind (generic tests built around a
/// Deployment hold for the rules that read Deployments; the others skip it, which
/// `kinds_a_module_does_not_handle_are_skipped_cleanly` covers).
pub fn modules_handling(group: &str, kind: &str) -> Vec<&'static RuleModule> {
    modules()
        .iter()
        .filter(|m| m.metadata().handles(group, "v1", kind))
        .collect()
}

/// An object of the rule's own fixtures that its module denies on its own (no context,
/// manifest mode), with the settings of its fixture file (`{}` for the defaults), for the
/// generic tests that need a violation: every rule has one (the catalogue test asks each
/// check for a failing fixture object, and some check of every rule fails without other
/// objects).
pub fn denied_object(m: &RuleModule) -> (Value, serde_json::Map<String, Value>) {
    let mut files: Vec<Fixture> = fixtures()
        .into_iter()
        .filter(|f| f.header.rule == m.id())
        .collect();
    // The defaults first.
    files.sort_by_key(|f| f.header.settings.is_some());
    for f in &files {
        let settings = match &f.header.settings {
            Some(Value::Object(s)) => s.clone(),
            _ => serde_json::Map::new(),
        };
        for doc in &f.documents {
            let input = serde_json::json!({"request": {"object": doc.value}, "settings": settings})
                .to_string();
            let v = m.evaluate(host(), input.as_bytes());
            if !v.allowed && v.error.is_none() && !v.violations.is_empty() {
                return (doc.value.clone(), settings);
            }
        }
    }
    panic!(
        "{}: no fixture object is denied on its own (no context)",
        m.id()
    )
}

/// An object the rule cannot read: for the rules that read Deployments one whose containers
/// are not a list; for the others the rule's own denied object with a metadata that is not a
/// map. Every rule must answer it with an invalid-object error.
pub fn unreadable_object(m: &RuleModule) -> Value {
    if m.metadata().handles("apps", "v1", "Deployment") {
        let mut broken = deployment("web", "shop");
        broken["spec"]["template"]["spec"]["containers"] = serde_json::json!({"not": "a list"});
        broken
    } else {
        let (mut broken, _) = denied_object(m);
        broken["metadata"] = serde_json::json!(["not", "a", "map"]);
        broken
    }
}

//! Running a suite: the core ABI in the suite's mode (manifest by default), and with
//! [`FlavourSet`] the Kubewarden (waPC) and OPA flavours at admission, one request per object
//! with the suite's objects as the cluster; every case's expectation checked against each.

use std::collections::BTreeMap;
use std::sync::Arc;

use prodready_sdk::kubewarden::{ValidationResponse, exemptions_annotation, violations_annotation};
use serde_json::{Value, json};

use super::{Expect, Full, Suite, keys};
use crate::check::{self, Mode, Target};
use crate::config::{self, Config};
use crate::engine::Host;
use crate::findings::{self, Status};
use crate::kubewarden::{Cluster, WapcModule};
use crate::loader::Document;
use crate::module::RuleModule;
use crate::opa::OpaModule;

/// Where a case ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Flavour {
    /// The core ABI, in the suite's mode: what `prodready check` runs.
    Core,
    /// The waPC module, as Kubewarden's policy-server runs it, at admission.
    Kubewarden,
    /// The OPA-ABI module, as OPA (and Gatekeeper's wasm engines) run it, at admission.
    Opa,
}

impl Flavour {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::Core => "core",
            Flavour::Kubewarden => "kubewarden",
            Flavour::Opa => "opa",
        }
    }
}

/// Which flavours run besides the core ABI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlavourSet {
    pub kubewarden: bool,
    pub opa: bool,
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// What differed, one line per flavour and difference.
    Fail(Vec<String>),
}

/// One `expect` entry of a suite.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub key: String,
    /// Line of the entry in the suite.
    pub line: usize,
    pub outcome: Outcome,
    /// Flavours it ran in.
    pub flavours: Vec<Flavour>,
}

/// The flavours of one rule: their bytes, compiled on first use (a run that tests three
/// rules compiles three, not every rule loaded).
struct Flavours {
    kubewarden: Vec<u8>,
    opa_wasm: Vec<u8>,
    wapc: std::sync::OnceLock<Result<WapcModule, String>>,
    opa: std::sync::OnceLock<Result<OpaModule, String>>,
}

impl Flavours {
    fn wapc(&self, host: &Host, id: &str) -> Result<&WapcModule, String> {
        self.wapc
            .get_or_init(|| {
                WapcModule::new(host, id, &self.kubewarden)
                    .map_err(|e| format!("{id}: the Kubewarden flavour: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn opa(&self, host: &Host, id: &str) -> Result<&OpaModule, String> {
        self.opa
            .get_or_init(|| {
                OpaModule::new(host, id, &self.opa_wasm)
                    .map_err(|e| format!("{id}: the OPA flavour: {e}"))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Runs suites with a set of modules.
pub struct Runner<'h> {
    host: &'h Host,
    modules: Vec<RuleModule>,
    flavours: BTreeMap<String, Flavours>,
    set: FlavourSet,
}

/// What a rule (or the suite's rules together) gave for one object.
#[derive(Debug, Default, Clone)]
struct Observed {
    evaluated: bool,
    ids: Vec<String>,
    /// `None` where the flavour does not report exemptions (OPA).
    exempted: Option<Vec<String>>,
    error: Option<String>,
    allowed: bool,
    /// Checks the config file exempted (the CLI does; admission engines do not read it).
    config_exempted: Vec<String>,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

impl<'h> Runner<'h> {
    /// `modules` are the core modules; `flavour_wasm` maps a rule id to its waPC and OPA
    /// modules' bytes (compiled when a suite needs them).
    ///
    /// # Errors
    /// None today; kept for loaders that check eagerly.
    pub fn new(
        host: &'h Host,
        modules: Vec<RuleModule>,
        flavour_wasm: &BTreeMap<String, (Vec<u8>, Vec<u8>)>,
        set: FlavourSet,
    ) -> Result<Runner<'h>, String> {
        let mut flavours = BTreeMap::new();
        for m in &modules {
            if let Some((kw, opa)) = flavour_wasm.get(m.id()) {
                flavours.insert(
                    m.id().to_string(),
                    Flavours {
                        kubewarden: kw.clone(),
                        opa_wasm: opa.clone(),
                        wapc: std::sync::OnceLock::new(),
                        opa: std::sync::OnceLock::new(),
                    },
                );
            }
        }
        Ok(Runner {
            host,
            modules,
            flavours,
            set,
        })
    }

    /// Runs every case of `suite`.
    ///
    /// # Errors
    /// The suite cannot run (an unknown rule, invalid settings, a config error, a flavour
    /// missing for a rule): `file:line:col: message`.
    pub fn run(&self, suite: &Suite) -> Result<Vec<CaseResult>, String> {
        let h = &suite.header;
        let wanted: Vec<String> = match (&h.rule, h.rules.is_empty()) {
            (Some(r), _) => vec![r.clone()],
            (None, false) => h.rules.clone(),
            (None, true) => self.modules.iter().map(|m| m.id().to_string()).collect(),
        };
        let mut modules: Vec<&RuleModule> = Vec::new();
        for id in &wanted {
            let Some(m) = self.modules.iter().find(|m| m.id() == id) else {
                let known: Vec<&str> = self.modules.iter().map(RuleModule::id).collect();
                return Err(suite.error_at(
                    if h.rule.is_some() { "rule" } else { "rules" },
                    &format!("no rule `{id}` is loaded (rules: {}; external ones with `policies:` or --policy)", known.join(", ")),
                ));
            };
            if self.set.kubewarden || self.set.opa {
                let Some(_) = self.flavours.get(id) else {
                    return Err(suite.error_at(
                        "rule",
                        &format!("rule {id} has no Kubewarden or OPA flavour to run (build it with `prodready build-rule`, which writes them beside the core module)"),
                    ));
                };
            }
            modules.push(m);
        }
        self.compile_flavours(&modules)
            .map_err(|e| suite.error_at("rule", &e))?;
        let metas: Vec<&crate::ModuleMetadata> =
            self.modules.iter().map(RuleModule::metadata).collect();
        let validate = |id: &str, s: &Value| config::validate_with(self.host, &self.modules, id, s);
        let config = match &h.config {
            Some(p) => config::read(&suite.resolve(p), &metas, &validate)?,
            None => Config::default(),
        };
        // `settings`: the rule's, with `rule:`; else rule id → settings.
        let explicit: BTreeMap<String, Value> = match (&h.rule, &h.settings) {
            (_, None) => BTreeMap::new(),
            (Some(r), Some(s)) => BTreeMap::from([(r.clone(), s.clone())]),
            (None, Some(Value::Object(map))) => map.clone().into_iter().collect(),
            (None, Some(_)) => {
                return Err(suite.error_at(
                    "settings",
                    "with `rules:` (or no rule named), settings map rule ids to their settings",
                ));
            }
        };
        let mut settings = BTreeMap::new();
        for m in &modules {
            if let Some(s) = config.settings_for(m.id(), explicit.get(m.id())) {
                validate(m.id(), &s).map_err(|e| {
                    suite.error_at("settings", &format!("settings of rule {}: {e}", m.id()))
                })?;
                settings.insert(m.id().to_string(), s);
            }
        }
        let namespace = h
            .namespace
            .clone()
            .unwrap_or_else(|| check::DEFAULT_NAMESPACE.to_string());
        let mode = match h.mode.as_deref() {
            Some("admission") => Mode::Admission,
            _ => Mode::Manifest,
        };

        let core = self.core(&modules, &settings, &config, suite, mode, &namespace);
        let admitted = admitted_documents(&suite.documents, &namespace);
        let cluster = Arc::new(Cluster::new(
            admitted.iter().map(|d| d.value.clone()).collect(),
        ));
        let inventory =
            json!({"inventory": inventory(admitted.iter().map(|d| &d.value), &namespace)});
        let mut opa_instances = BTreeMap::new();
        if self.set.opa {
            for m in &modules {
                if let Some(o) = self
                    .flavours
                    .get(m.id())
                    .and_then(|f| f.opa(self.host, m.id()).ok())
                {
                    let mut inst = o.instantiate(self.host, 2).map_err(|e| {
                        format!("{}: OPA flavour of {}: {e}", suite.path.display(), m.id())
                    })?;
                    inst.set_data(&inventory)
                        .map_err(|e| format!("{}: OPA data: {e}", suite.path.display()))?;
                    opa_instances.insert(m.id().to_string(), inst);
                }
            }
        }

        let mut results = Vec::new();
        let mut seen = Vec::new();
        for (i, doc) in suite.documents.iter().enumerate() {
            let (short, long) = keys(doc);
            let key = long
                .as_ref()
                .filter(|k| h.expect.contains_key(*k))
                .unwrap_or(&short)
                .clone();
            let Some(expect) = h.expect.get(&key) else {
                continue;
            };
            seen.push(key.clone());
            let mut failures = Vec::new();
            let mut ran = vec![Flavour::Core];
            let observed = core.get(i).cloned().unwrap_or_default();
            if let Err(e) = compare(expect, &observed) {
                failures.push(format!(
                    "core ({}): {e}",
                    if mode == Mode::Admission {
                        "admission"
                    } else {
                        "manifest"
                    }
                ));
            }
            if self.set.kubewarden || self.set.opa {
                let at_admission = h.admission_expect(&key).unwrap_or(expect);
                let target = admitted.get(i).map(Target::new);
                if let Some(t) = &target {
                    let mut per_flavour = Vec::new();
                    if self.set.kubewarden {
                        per_flavour.push((
                            Flavour::Kubewarden,
                            self.wapc(&modules, &settings, t, i, &cluster)?,
                        ));
                    }
                    if self.set.opa {
                        per_flavour.push((
                            Flavour::Opa,
                            self.opa(&modules, &settings, t, i, &mut opa_instances)?,
                        ));
                    }
                    for (flavour, got) in per_flavour {
                        ran.push(flavour);
                        if let Err(e) = compare(at_admission, &got) {
                            let hint = if observed.config_exempted.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    " (the config file exempts {} here; admission does not read it: use the annotation prodready.io/skip-<check>, or the engine's own exclusions)",
                                    observed.config_exempted.join(", ")
                                )
                            };
                            failures.push(format!("{} (admission): {e}{hint}", flavour.as_str()));
                        }
                    }
                }
            }
            results.push(CaseResult {
                line: suite.lines.get(&key).copied().unwrap_or(1),
                key,
                outcome: if failures.is_empty() {
                    Outcome::Pass
                } else {
                    Outcome::Fail(failures)
                },
                flavours: ran,
            });
        }
        for (key, line) in &suite.lines {
            if !seen.contains(key) {
                results.push(CaseResult {
                    key: key.clone(),
                    line: *line,
                    outcome: Outcome::Fail(vec![format!(
                        "no object {key} in the suite (objects are keyed Kind/name or Kind/namespace/name)"
                    )]),
                    flavours: Vec::new(),
                });
            }
        }
        results.sort_by_key(|r| r.line);
        Ok(results)
    }

    /// Compiles the flavours these rules need that are not compiled yet, side by side.
    fn compile_flavours(&self, modules: &[&RuleModule]) -> Result<(), String> {
        let jobs: Vec<(&Flavours, &str, bool)> = modules
            .iter()
            .filter_map(|m| self.flavours.get(m.id()).map(|f| (f, m.id())))
            .flat_map(|(f, id)| {
                [
                    (self.set.kubewarden && f.wapc.get().is_none()).then_some((f, id, true)),
                    (self.set.opa && f.opa.get().is_none()).then_some((f, id, false)),
                ]
            })
            .flatten()
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per = jobs.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            for chunk in jobs.chunks(per) {
                scope.spawn(move || {
                    for (f, id, wapc) in chunk {
                        // Errors are kept in the cell and reported below.
                        if *wapc {
                            let _ = f.wapc(self.host, id);
                        } else {
                            let _ = f.opa(self.host, id);
                        }
                    }
                });
            }
        });
        for m in modules {
            if let Some(f) = self.flavours.get(m.id()) {
                if self.set.kubewarden {
                    f.wapc(self.host, m.id())?;
                }
                if self.set.opa {
                    f.opa(self.host, m.id())?;
                }
            }
        }
        Ok(())
    }

    /// Every object through the core ABI, as `prodready check` sees it (config exemptions
    /// applied).
    fn core(
        &self,
        modules: &[&RuleModule],
        settings: &BTreeMap<String, Value>,
        config: &Config,
        suite: &Suite,
        mode: Mode,
        namespace: &str,
    ) -> Vec<Observed> {
        let owned: Vec<RuleModule> = modules.iter().map(|m| (*m).clone()).collect();
        let checked = check::check_timed(
            self.host,
            &owned,
            settings,
            &suite.documents,
            mode,
            namespace,
        );
        let metas: Vec<&crate::ModuleMetadata> = owned.iter().map(RuleModule::metadata).collect();
        let mut found = findings::collect(
            &suite.documents,
            &checked.reports,
            &config::default_severities(&metas),
        );
        config.apply_exemptions(&mut found, &suite.documents, namespace);
        let mut out: Vec<Observed> = checked
            .reports
            .iter()
            .map(|r| Observed {
                evaluated: !r.verdicts.is_empty(),
                exempted: Some(Vec::new()),
                allowed: true,
                ..Observed::default()
            })
            .collect();
        for f in &found.findings {
            let Some(o) = out.get_mut(f.document) else {
                continue;
            };
            match &f.status {
                Status::Exempted { by, .. } => {
                    o.exempted
                        .get_or_insert_with(Vec::new)
                        .push(f.check.clone());
                    if *by == findings::ExemptedBy::Config {
                        o.config_exempted.push(f.check.clone());
                    }
                }
                _ => {
                    o.ids.push(f.check.clone());
                    if f.denies {
                        o.allowed = false;
                    }
                }
            }
        }
        for e in &found.errors {
            if let Some(o) = out.get_mut(e.document) {
                o.error = serde_json::to_value(e.code)
                    .ok()
                    .and_then(|c| c.as_str().map(str::to_string));
                o.allowed = false;
            }
        }
        out
    }

    fn wapc(
        &self,
        modules: &[&RuleModule],
        settings: &BTreeMap<String, Value>,
        t: &Target,
        uid: usize,
        cluster: &Arc<Cluster>,
    ) -> Result<Observed, String> {
        let mut o = Observed {
            allowed: true,
            exempted: Some(Vec::new()),
            ..Observed::default()
        };
        for m in modules {
            if !m.metadata().handles(&t.group, &t.version, &t.kind) {
                continue;
            }
            let Some(w) = self
                .flavours
                .get(m.id())
                .and_then(|f| f.wapc(self.host, m.id()).ok())
            else {
                continue;
            };
            o.evaluated = true;
            let s = check::settings_json(m.metadata(), settings);
            let mut payload: Value =
                serde_json::from_slice(&check::envelope(t, uid, &s, Mode::Admission))
                    .map_err(|e| e.to_string())?;
            if let Some(map) = payload.as_object_mut() {
                map.remove("mode");
            }
            let bytes = serde_json::to_vec(&payload).map_err(|e| e.to_string())?;
            let r: ValidationResponse = w
                .validate(&bytes, Arc::clone(cluster))
                .map_err(|e| format!("{}: Kubewarden flavour: {e}", m.id()))?;
            let annotation = |name: String| {
                r.audit_annotations
                    .as_ref()
                    .and_then(|a| a.get(&name))
                    .cloned()
            };
            if let Some(ids) = annotation(violations_annotation(m.id())) {
                o.ids
                    .extend(ids.split(',').filter(|s| !s.is_empty()).map(str::to_string));
            }
            if let Some(list) = annotation(exemptions_annotation(m.id())) {
                let list: Vec<Value> = serde_json::from_str(&list).unwrap_or_default();
                o.exempted.get_or_insert_with(Vec::new).extend(
                    list.iter()
                        .filter_map(|e| e["check"].as_str().map(str::to_string)),
                );
            }
            if !r.accepted {
                o.allowed = false;
                if o.ids.is_empty() && matches!(r.code, Some(400 | 500)) {
                    // An error verdict: the message names the ABI code.
                    let message = r.message.clone().unwrap_or_default();
                    o.error = ERROR_CODES
                        .iter()
                        .find(|c| message.contains(*c))
                        .map(|c| (*c).to_string())
                        .or(Some(message));
                }
            }
        }
        Ok(o)
    }

    fn opa(
        &self,
        modules: &[&RuleModule],
        settings: &BTreeMap<String, Value>,
        t: &Target,
        uid: usize,
        instances: &mut BTreeMap<String, crate::opa::OpaInstance>,
    ) -> Result<Observed, String> {
        let mut o = Observed {
            allowed: true,
            ..Observed::default()
        };
        for m in modules {
            if !m.metadata().handles(&t.group, &t.version, &t.kind) {
                continue;
            }
            let Some(inst) = instances.get_mut(m.id()) else {
                continue;
            };
            o.evaluated = true;
            let s = check::settings_json(m.metadata(), settings);
            let env: Value = serde_json::from_slice(&check::envelope(t, uid, &s, Mode::Admission))
                .map_err(|e| e.to_string())?;
            let input = serde_json::to_vec(
                &json!({"review": env["request"], "parameters": env["settings"]}),
            )
            .map_err(|e| e.to_string())?;
            let entrypoints = inst.entrypoints().map_err(|e| e.to_string())?;
            for (set, name) in [("violation", true), ("warn", false)] {
                let Some(&ep) = entrypoints.get(&format!("prodready/{}/{set}", m.id())) else {
                    return Err(format!(
                        "{}: the OPA flavour has no {set} entrypoint",
                        m.id()
                    ));
                };
                let result = inst
                    .eval_ctx(ep, &input)
                    .map_err(|e| format!("{}: OPA flavour: {e}", m.id()))?;
                let entries = result
                    .get(0)
                    .and_then(|r| r.get("result"))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for e in entries {
                    let check = e["details"]["check"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    if check == "error" {
                        o.error = e["details"]["code"].as_str().map(str::to_string);
                    } else {
                        o.ids.push(check);
                    }
                    if name {
                        o.allowed = false;
                    }
                }
            }
        }
        Ok(o)
    }
}

/// The ABI's error codes, as messages name them.
const ERROR_CODES: &[&str] = &[
    "invalid-utf8",
    "invalid-envelope",
    "invalid-settings",
    "invalid-object",
    "kind-mismatch",
    "invalid-context",
    "internal",
];

/// Compares what a flavour gave with what the case expects.
fn compare(expect: &Expect, got: &Observed) -> Result<(), String> {
    match expect {
        Expect::Word(_) => {
            if got.evaluated {
                Err(format!(
                    "expected skipped, got {:?}",
                    sorted(got.ids.clone())
                ))
            } else {
                Ok(())
            }
        }
        _ if !got.evaluated => Err("no rule of the suite evaluated this object".into()),
        Expect::Ids(want) => compare(
            &Expect::Full(Full {
                violations: Some(want.clone()),
                exempted: Some(Vec::new()),
                ..Full::default()
            }),
            got,
        ),
        Expect::Full(full) => {
            let mut diff = Vec::new();
            if let Some(code) = &full.error {
                if got.error.as_deref() != Some(code.as_str()) {
                    diff.push(format!(
                        "expected error {code}, got {}",
                        got.error.as_deref().map_or_else(
                            || format!("{:?}", sorted(got.ids.clone())),
                            |e| format!("error {e}")
                        )
                    ));
                }
                return if diff.is_empty() {
                    Ok(())
                } else {
                    Err(diff.join("; "))
                };
            }
            if let Some(e) = &got.error {
                return Err(format!("error verdict: {e}"));
            }
            let ids = sorted(got.ids.clone());
            let exact = full.violations.is_some() || full.exempted.is_some();
            if exact {
                let want = sorted(full.violations.clone().unwrap_or_default());
                if ids != want {
                    diff.push(diff_ids(&want, &ids));
                }
                if let Some(got_ex) = &got.exempted {
                    let want_ex = sorted(full.exempted.clone().unwrap_or_default());
                    let got_ex = sorted(got_ex.clone());
                    if got_ex != want_ex {
                        diff.push(format!("exempted: expected {want_ex:?}, got {got_ex:?}"));
                    }
                }
            }
            let missing: Vec<&String> = full.includes.iter().filter(|c| !ids.contains(c)).collect();
            if !missing.is_empty() {
                diff.push(format!(
                    "expected {missing:?} among the reported ids, got {ids:?}"
                ));
            }
            let unwanted: Vec<&String> = full.excludes.iter().filter(|c| ids.contains(c)).collect();
            if !unwanted.is_empty() {
                diff.push(format!(
                    "expected {unwanted:?} not to be reported, got {ids:?}"
                ));
            }
            if let Some(allowed) = full.allowed
                && allowed != got.allowed
            {
                diff.push(format!(
                    "expected allowed: {allowed}, got allowed: {}",
                    got.allowed
                ));
            }
            if diff.is_empty() {
                Ok(())
            } else {
                Err(diff.join("; "))
            }
        }
    }
}

/// `expected [a, b], got [a, c] (missing: b; unexpected: c)`.
fn diff_ids(want: &[String], got: &[String]) -> String {
    let mut rest = got.to_vec();
    let mut missing = Vec::new();
    for w in want {
        match rest.iter().position(|g| g == w) {
            Some(i) => {
                rest.remove(i);
            }
            None => missing.push(w.clone()),
        }
    }
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("- missing {}", missing.join(", ")));
    }
    if !rest.is_empty() {
        parts.push(format!("+ unexpected {}", rest.join(", ")));
    }
    format!("expected {want:?}, got {got:?} ({})", parts.join("; "))
}

/// The objects as the API server holds them once applied to `namespace`: a namespaced kind
/// without a namespace gets it.
fn admitted_documents(docs: &[Document], namespace: &str) -> Vec<Document> {
    docs.iter()
        .map(|d| {
            let mut d = d.clone();
            let api_version = d
                .value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let group = api_version
                .rsplit_once('/')
                .map_or("", |(g, _)| g)
                .to_string();
            let kind = d
                .value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let has_ns = d
                .value
                .pointer("/metadata/namespace")
                .is_some_and(|v| v.is_string());
            if !has_ns
                && !prodready_sdk::scope::is_cluster_scoped(&group, &kind)
                && let Some(meta) = d.value.get_mut("metadata").and_then(Value::as_object_mut)
            {
                meta.insert("namespace".into(), Value::String(namespace.to_string()));
            }
            d
        })
        .collect()
}

/// Gatekeeper's `data.inventory` of a cluster these objects were applied to, as Gatekeeper
/// syncs it: `namespace/<ns>/<apiVersion>/<kind>/<name>` for namespaced kinds (an object
/// without a namespace was created in `namespace`), `cluster/<apiVersion>/<kind>/<name>` for
/// cluster-scoped ones.
#[must_use]
pub fn inventory<'v>(objects: impl IntoIterator<Item = &'v Value>, namespace: &str) -> Value {
    let mut inv = json!({"namespace": {}, "cluster": {}});
    for v in objects {
        let (Some(av), Some(kind), Some(name)) = (
            v.get("apiVersion").and_then(Value::as_str),
            v.get("kind").and_then(Value::as_str),
            v.pointer("/metadata/name").and_then(Value::as_str),
        ) else {
            continue;
        };
        let group = av.rsplit_once('/').map_or("", |(g, _)| g);
        match prodready_sdk::scope::resolve(
            group,
            kind,
            v.pointer("/metadata/namespace").and_then(Value::as_str),
            namespace,
        ) {
            Some(ns) => {
                let mut o = v.clone();
                o["metadata"]["namespace"] = Value::String(ns.to_string());
                inv["namespace"][ns][av][kind][name] = o;
            }
            None => inv["cluster"][av][kind][name] = v.clone(),
        }
    }
    inv
}

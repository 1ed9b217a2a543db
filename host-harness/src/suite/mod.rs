//! Policy unit tests: test suites, the format users and this repository share
//! (`prodready test`, tests/README.md, docs/writing-a-rule.md).
//!
//! A suite is a YAML file whose first document is a `fixture:` header: what to run (rules,
//! settings, a config file, extra modules, manifest files) and what each object must give.
//! Its other documents are objects (inline); `manifests:` adds objects from files. The
//! repository's own tests/fixtures are suites of this format, one per check.
//!
//! ```yaml
//! fixture:
//!   rules: [health-check]          # or `rule: health-check`; default: every loaded rule
//!   settings: {require: both}      # with `rule:`, that rule's settings; else rule id → settings
//!   config: .prodready.yaml        # optional, relative to the suite: rules, severities, exemptions
//!   policies: [my-rule.wasm]       # optional extra modules (their flavours beside them)
//!   manifests: [../deploy/web.yaml]  # optional, relative to the suite
//!   namespace: shop                # where objects without a namespace are (default `default`)
//!   expect:                        # one entry per object, `Kind/name` or `Kind/namespace/name`
//!     Deployment/web: []                               # exactly these ids (a multiset)
//!     Deployment/api: {includes: [probes-required], excludes: [probe-timing], allowed: false}
//!     Deployment/old: {violations: [], exempted: [probes-required]}
//!     Service/web: skipped                             # no rule evaluates it
//!     Deployment/broken: {error: invalid-object}
//!   admission:                     # optional: where admission (one request) expects otherwise
//!     Deployment/web: [probes-required]
//! ---
//! apiVersion: apps/v1
//! kind: Deployment
//! ...
//! ```

mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::config::{YamlDoc, parse_yaml};
use crate::loader::{self, Document, Source};

pub use run::{CaseResult, Flavour, FlavourSet, Outcome, Runner, inventory};

/// The suite file name the docs recommend (any YAML file with a `fixture:` header is one).
pub const FILE_NAME: &str = "prodready-test.yaml";

/// A suite's header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// One rule (its `settings` are that rule's).
    #[serde(default)]
    pub rule: Option<String>,
    /// Several rules; neither `rule` nor `rules`: every loaded rule.
    #[serde(default)]
    pub rules: Vec<String>,
    /// `manifest` (default) or `admission`: the envelope mode of the core evaluation.
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub settings: Option<Value>,
    #[serde(default)]
    pub config: Option<PathBuf>,
    #[serde(default)]
    pub policies: Vec<PathBuf>,
    #[serde(default)]
    pub manifests: Vec<PathBuf>,
    #[serde(default)]
    pub namespace: Option<String>,
    pub expect: BTreeMap<String, Expect>,
    #[serde(default)]
    pub admission: BTreeMap<String, Expect>,
}

impl Header {
    /// The expectation for an object at admission.
    #[must_use]
    pub fn admission_expect(&self, key: &str) -> Option<&Expect> {
        self.admission.get(key).or_else(|| self.expect.get(key))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderFile {
    fixture: Header,
}

/// What one object must give.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Expect {
    /// Exactly these check ids (a multiset), nothing exempted.
    Ids(Vec<String>),
    /// `skipped`: no rule of the suite evaluates the object.
    Word(String),
    Full(Full),
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Full {
    /// Exactly these ids (a multiset).
    #[serde(default)]
    pub violations: Option<Vec<String>>,
    /// Exactly these exempted ids.
    #[serde(default)]
    pub exempted: Option<Vec<String>>,
    /// These ids are among those reported.
    #[serde(default)]
    pub includes: Vec<String>,
    /// These ids are not.
    #[serde(default)]
    pub excludes: Vec<String>,
    /// An error verdict with this ABI code.
    #[serde(default)]
    pub error: Option<String>,
    /// Whether admission allows the object.
    #[serde(default)]
    pub allowed: Option<bool>,
}

/// A suite read from its file.
#[derive(Debug)]
pub struct Suite {
    pub path: PathBuf,
    pub header: Header,
    /// Inline objects, then those of `manifests`.
    pub documents: Vec<Document>,
    /// Line of each `expect` entry's key, for reports.
    pub lines: BTreeMap<String, usize>,
    doc: YamlDoc,
}

impl Suite {
    /// `file:line: message` at a field of the header (`expect.Deployment/web`).
    #[must_use]
    pub fn error_at(&self, path: &str, message: &str) -> String {
        self.doc.error_at(&format!("fixture.{path}"), message)
    }

    /// A path named in the header, relative to the suite's folder.
    #[must_use]
    pub fn resolve(&self, p: &Path) -> PathBuf {
        self.path.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// `Kind/name`, and `Kind/namespace/name` when it has a namespace: the keys an object matches.
#[must_use]
pub fn keys(doc: &Document) -> (String, Option<String>) {
    let kind = doc
        .value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let name = doc
        .value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let short = format!("{kind}/{name}");
    let long = doc
        .value
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(|ns| format!("{kind}/{ns}/{name}"));
    (short, long)
}

/// The first document of a file, when it is a suite header.
fn header_text(text: &str) -> Option<&str> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let end = body
        .match_indices("\n---")
        .find(|(i, _)| {
            body.get(i + 4..)
                .is_none_or(|r| r.is_empty() || r.starts_with(['\n', '\r', ' ', '\t']))
        })
        .map_or(body.len(), |(i, _)| i + 1);
    let head = body.get(..end)?;
    let is_header = head.lines().any(|l| l.starts_with("fixture:"));
    is_header.then_some(head)
}

/// Whether a file is a suite (its first document is a `fixture:` header).
#[must_use]
pub fn is_suite(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| header_text(&t).is_some())
}

/// The suites under `paths`: files as given, folders walked (sorted) for `.yaml`/`.yml`
/// files that are suites.
///
/// # Errors
/// A path that does not exist, or a folder that cannot be read.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            return Err(format!("{}: no such file or directory", p.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") && is_suite(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads a suite: its header (validated, errors at their line), its inline objects and the
/// objects of its `manifests`.
///
/// # Errors
/// `file:line:col: message`.
pub fn read(path: &Path) -> Result<Suite, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: cannot read: {e}"))?;
    let head = header_text(&text).ok_or_else(|| {
        format!("{name}:1:1: not a test suite: its first document has no `fixture:` header")
    })?;
    let doc = parse_yaml(head, &name)?;
    let file: HeaderFile = serde_path_to_error::deserialize(doc.value.clone()).map_err(|e| {
        let at = e.path().to_string();
        let at = if at == "." { String::new() } else { at };
        doc.error_at(&at, &e.into_inner().to_string())
    })?;
    let header = file.fixture;
    if header.rule.is_some() && !header.rules.is_empty() {
        return Err(doc.error_at("fixture.rules", "give `rule` or `rules`, not both"));
    }
    if let Some(m) = &header.mode
        && m != "manifest"
        && m != "admission"
    {
        return Err(doc.error_at(
            "fixture.mode",
            &format!("mode `{m}`: expected manifest or admission"),
        ));
    }
    for (key, e) in header.expect.iter().chain(&header.admission) {
        if let Expect::Word(w) = e
            && w != "skipped"
        {
            return Err(doc.error_at(
                &format!("fixture.expect.{key}"),
                &format!("`{w}`: expected a list of check ids, `skipped` or a mapping"),
            ));
        }
        if key.split('/').count() < 2 || key.split('/').count() > 3 {
            return Err(doc.error_at(
                &format!("fixture.expect.{key}"),
                &format!("`{key}`: name objects Kind/name or Kind/namespace/name"),
            ));
        }
    }
    let loaded = loader::load_str(
        Source::File(path.to_path_buf()),
        &text,
        &loader::Limits::default(),
    )
    .map_err(|e| e.to_string())?;
    let mut documents = loaded.documents;
    let dir = path.parent().unwrap_or(Path::new("."));
    if !header.manifests.is_empty() {
        let files: Vec<PathBuf> = header.manifests.iter().map(|m| dir.join(m)).collect();
        let more = loader::load(&files, &loader::Limits::default())
            .map_err(|e| doc.error_at("fixture.manifests", &format!("manifests: {e}")))?;
        documents.extend(more.documents);
    }
    let lines = header
        .expect
        .keys()
        .map(|k| (k.clone(), doc.position(&format!("fixture.expect.{k}")).line))
        .collect();
    Ok(Suite {
        path: path.to_path_buf(),
        header,
        documents,
        lines,
        doc,
    })
}

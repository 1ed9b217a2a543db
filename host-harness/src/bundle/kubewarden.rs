//! The Kubewarden bundle: every rule's waPC module annotated with its metadata, an OCI image
//! layout, `metadata.yml`, `artifacthub-pkg.yml` and a `ClusterAdmissionPolicy`.
//!
//! Everything is generated from the rule's own metadata (the core ABI's `metadata` export), so
//! the Kubewarden metadata cannot drift from the checks the module runs.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bundle::oci;
use crate::catalogue;
use crate::module::ModuleMetadata;

/// The custom section Kubewarden reads a policy's metadata from.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";
/// Where the modules are published by default (`--registry` changes it).
pub const DEFAULT_REGISTRY: &str = "ghcr.io/prodready/policies";
/// The date of this release, for Artifact Hub's `createdAt` (bumped with the version; fixed so
/// the generated files are reproducible).
pub const RELEASE_DATE: &str = "2026-11-28T00:00:00Z";
const AUTHOR: &str = "prodready maintainers";
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");
const LICENSE: &str = env!("CARGO_PKG_LICENSE");
/// Namespaces the generated policies leave alone: the control plane's and Kubewarden's own.
pub const EXCLUDED_NAMESPACES: &[&str] = &["kube-system", "kubewarden"];

/// One admission rule, as Kubewarden and Kubernetes spell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

/// Kubewarden's policy metadata (the `io.kubewarden.metadata` section, and `metadata.yml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    pub rules: Vec<Rule>,
    pub mutating: bool,
    pub background_audit: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_aware_resources: Vec<ContextAwareResource>,
    pub execution_mode: String,
    pub policy_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

fn rules(m: &ModuleMetadata) -> Vec<Rule> {
    m.resources
        .iter()
        .map(|r| Rule {
            api_groups: r.api_groups.clone(),
            api_versions: r.api_versions.clone(),
            resources: r.resources.clone(),
            operations: r.operations.clone(),
        })
        .collect()
}

fn kinds(m: &ModuleMetadata) -> Vec<String> {
    m.resources.iter().flat_map(|r| r.kinds.clone()).collect()
}

/// `high` when a check denies by default, `low` when every check only warns.
fn severity(m: &ModuleMetadata) -> &'static str {
    if m.checks
        .iter()
        .any(|c| c.severity == prodready_sdk::Severity::Error)
    {
        "medium"
    } else {
        "low"
    }
}

fn usage(m: &ModuleMetadata) -> String {
    let mut out = catalogue::rule_body(m);
    out.push_str(
        "\nExempt one object from one check with the annotation \
         `prodready.io/skip-<check>: \"<reason>\"` (the reason is required). \
         `audit: true` accepts every request and reports violations as warnings.\n",
    );
    let context = m.admission_context();
    if !context.is_empty() {
        let kinds: Vec<&str> = context.iter().map(|c| c.kind.as_str()).collect();
        out.push_str(&format!(
            "\nAt admission the policy reads {} from the cluster — namespaced kinds of the \
             request's namespace, cluster-scoped ones cluster-wide (contextAwareResources); \
             without that permission it rejects, saying so.\n",
            kinds.join(", ")
        ));
    }
    out
}

/// The OCI reference of a rule's module: `<registry>/<rule>:v<version>`.
pub fn oci_reference(registry: &str, m: &ModuleMetadata) -> String {
    format!("{}/{}:v{}", registry.trim_end_matches('/'), m.id, m.version)
}

/// Kubewarden metadata for a rule. `protocol_version` is what the module itself answered
/// (the annotate step asks it, as `kwctl annotate` does); `None` for `metadata.yml`.
pub fn metadata(m: &ModuleMetadata, registry: &str, protocol_version: Option<String>) -> Metadata {
    let source = format!("{REPOSITORY}/tree/main/policies/{}", m.id);
    let keywords = ["production-readiness", "prodready", m.id.as_str()].join(", ");
    let annotations = BTreeMap::from([
        (
            "io.kubewarden.policy.title".into(),
            format!("prodready-{}", m.id),
        ),
        (
            "io.kubewarden.policy.description".into(),
            m.description.clone(),
        ),
        ("io.kubewarden.policy.version".into(), m.version.clone()),
        ("io.kubewarden.policy.author".into(), AUTHOR.into()),
        ("io.kubewarden.policy.url".into(), REPOSITORY.into()),
        ("io.kubewarden.policy.source".into(), source),
        (
            "io.kubewarden.policy.ociUrl".into(),
            format!("{}/{}", registry.trim_end_matches('/'), m.id),
        ),
        ("io.kubewarden.policy.license".into(), LICENSE.into()),
        ("io.kubewarden.policy.usage".into(), usage(m)),
        ("io.kubewarden.policy.severity".into(), severity(m).into()),
        (
            "io.kubewarden.policy.category".into(),
            "Production readiness".into(),
        ),
        (
            "io.artifacthub.displayName".into(),
            format!("prodready: {}", m.title),
        ),
        ("io.artifacthub.resources".into(), kinds(m).join(", ")),
        ("io.artifacthub.keywords".into(), keywords),
    ]);
    Metadata {
        rules: rules(m),
        mutating: false,
        background_audit: true,
        context_aware_resources: m
            .admission_context()
            .into_iter()
            .map(|c| ContextAwareResource {
                api_version: c.api_version.clone(),
                kind: c.kind.clone(),
            })
            .collect(),
        execution_mode: "kubewarden-wapc".into(),
        policy_type: "kubernetes".into(),
        protocol_version,
        annotations,
    }
}

/// Writes `metadata` into `wasm` as the `io.kubewarden.metadata` custom section (JSON),
/// replacing any section of that name, as Kubewarden's annotate step does.
pub fn annotate(wasm: &[u8], metadata: &Metadata) -> anyhow::Result<Vec<u8>> {
    let json = serde_json::to_vec(metadata)?;
    let mut module = wasm_encoder::Module::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload?;
        if let wasmparser::Payload::CustomSection(reader) = &payload
            && reader.name() == METADATA_SECTION
        {
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            let start = usize::try_from(range.start)?;
            let end = usize::try_from(range.end)?;
            let data = wasm
                .get(start..end)
                .ok_or_else(|| anyhow::anyhow!("section {id} out of bounds"))?;
            module.section(&wasm_encoder::RawSection { id, data });
        }
    }
    module.section(&wasm_encoder::CustomSection {
        name: Cow::Borrowed(METADATA_SECTION),
        data: Cow::Borrowed(&json),
    });
    Ok(module.finish())
}

/// Reads the `io.kubewarden.metadata` section back (`None` when the module has none).
pub fn read_metadata(wasm: &[u8]) -> anyhow::Result<Option<Metadata>> {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CustomSection(reader) = payload?
            && reader.name() == METADATA_SECTION
        {
            return Ok(Some(serde_json::from_slice(reader.data())?));
        }
    }
    Ok(None)
}

/// The manifest annotations of the OCI artifact: the policy annotations plus the standard
/// `org.opencontainers.image.*` ones.
pub fn oci_annotations(md: &Metadata, m: &ModuleMetadata) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = md
        .annotations
        .iter()
        .filter(|(k, _)| {
            k.starts_with("io.kubewarden.policy.") && *k != "io.kubewarden.policy.usage"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.insert(
        "org.opencontainers.image.title".into(),
        format!("prodready-{}", m.id),
    );
    out.insert(
        "org.opencontainers.image.description".into(),
        m.description.clone(),
    );
    out.insert("org.opencontainers.image.version".into(), m.version.clone());
    out.insert("org.opencontainers.image.source".into(), REPOSITORY.into());
    out.insert("org.opencontainers.image.licenses".into(), LICENSE.into());
    out.insert(
        "org.opencontainers.image.created".into(),
        RELEASE_DATE.into(),
    );
    out
}

/// The rule's default settings, read from its settings schema (every key with a default).
pub fn default_settings(m: &ModuleMetadata) -> serde_json::Map<String, serde_json::Value> {
    m.settings_schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|props| {
            props
                .iter()
                .filter_map(|(k, s)| Some((k.clone(), s.get("default")?.clone())))
                .collect()
        })
        .unwrap_or_default()
}

/// A `ClusterAdmissionPolicy` (policies.kubewarden.io/v1) for the rule.
pub fn cluster_admission_policy(m: &ModuleMetadata, registry: &str) -> serde_json::Value {
    let md = metadata(m, registry, None);
    let mut spec = serde_json::json!({
        "policyServer": "default",
        "module": format!("registry://{}", oci_reference(registry, m)),
        "mode": "protect",
        "mutating": false,
        "backgroundAudit": true,
        "rules": md.rules,
        "namespaceSelector": {
            "matchExpressions": [{
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": EXCLUDED_NAMESPACES,
            }],
        },
        "settings": default_settings(m),
    });
    if !md.context_aware_resources.is_empty() {
        spec["contextAwareResources"] =
            serde_json::to_value(&md.context_aware_resources).unwrap_or_default();
    }
    serde_json::json!({
        "apiVersion": "policies.kubewarden.io/v1",
        "kind": "ClusterAdmissionPolicy",
        "metadata": {
            "name": format!("prodready-{}", m.id),
            "annotations": {
                "io.kubewarden.policy.title": format!("prodready-{}", m.id),
                "io.kubewarden.policy.description": m.description,
                "io.kubewarden.policy.severity": severity(m),
                "io.kubewarden.policy.category": "Production readiness",
            },
        },
        "spec": spec,
    })
}

/// Artifact Hub's package file for the rule.
pub fn artifacthub_pkg(m: &ModuleMetadata, registry: &str) -> anyhow::Result<serde_json::Value> {
    let md = metadata(m, registry, None);
    let mut annotations = serde_json::json!({
        "kubewarden/mutation": "false",
        "kubewarden/resources": kinds(m).join(", "),
        "kubewarden/rules": yaml(&md.rules)?,
    });
    if !md.context_aware_resources.is_empty() {
        annotations["kubewarden/contextAwareResources"] =
            serde_json::Value::String(yaml(&md.context_aware_resources)?);
    }
    Ok(serde_json::json!({
        "version": m.version,
        "name": format!("prodready-{}", m.id),
        "displayName": format!("prodready: {}", m.title),
        "createdAt": RELEASE_DATE,
        "description": m.description,
        "license": LICENSE,
        "homeURL": REPOSITORY,
        "containersImages": [{"name": "policy", "image": oci_reference(registry, m)}],
        "keywords": ["production-readiness", "prodready", m.id],
        "links": [{"name": "source", "url": format!("{REPOSITORY}/tree/main/policies/{}", m.id)}],
        "install": format!(
            "Apply the generated policy:\n\n```console\nkubectl apply -f https://raw.githubusercontent.com/prodready/prodready/main/bundles/kubewarden/{}/policy.yaml\n```\n",
            m.id
        ),
        "maintainers": [{"name": AUTHOR}],
        "provider": {"name": "prodready"},
        "recommendations": [{"url": "https://artifacthub.io/packages/helm/kubewarden/kubewarden-controller"}],
        "annotations": annotations,
    }))
}

/// YAML text of a value, with a generated-file header line when `header` is set.
pub fn yaml<T: Serialize>(value: &T) -> anyhow::Result<String> {
    serde_saphyr::to_string(value).map_err(|e| anyhow::anyhow!("writing YAML: {e}"))
}

const HEADER: &str = "# Generated by `prodready bundle kubewarden`; do not edit.\n";

/// The text files of one rule's bundle, by file name: what `bundles/kubewarden/<rule>/` holds.
pub fn manifests(m: &ModuleMetadata, registry: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    files.insert(
        "metadata.yml".to_string(),
        format!("{HEADER}{}", yaml(&metadata(m, registry, None))?),
    );
    files.insert(
        "artifacthub-pkg.yml".to_string(),
        format!("{HEADER}{}", yaml(&artifacthub_pkg(m, registry)?)?),
    );
    files.insert(
        "policy.yaml".to_string(),
        format!("{HEADER}{}", yaml(&cluster_admission_policy(m, registry))?),
    );
    Ok(files)
}

/// The top-level `kustomization.yaml`: `kubectl apply -k bundles/kubewarden` installs every
/// policy.
pub fn kustomization(rules: &[&ModuleMetadata]) -> anyhow::Result<String> {
    let resources: Vec<String> = rules
        .iter()
        .map(|m| format!("{}/policy.yaml", m.id))
        .collect();
    Ok(format!(
        "{HEADER}{}",
        yaml(&serde_json::json!({
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": resources,
        }))?
    ))
}

/// Writes one rule's bundle into `dir`: the text files, `policy.wasm` (annotated) and
/// `oci/` (an OCI image layout). Returns the layout's manifest descriptor.
pub fn write_rule(
    dir: &Path,
    m: &ModuleMetadata,
    registry: &str,
    annotated_wasm: &[u8],
) -> anyhow::Result<oci::Descriptor> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in manifests(m, registry)? {
        std::fs::write(dir.join(name), text)?;
    }
    std::fs::write(dir.join("policy.wasm"), annotated_wasm)?;
    let md = read_metadata(annotated_wasm)?
        .ok_or_else(|| anyhow::anyhow!("{}: the module has no {METADATA_SECTION} section", m.id))?;
    let oci_dir = dir.join("oci");
    if oci_dir.exists() {
        std::fs::remove_dir_all(&oci_dir)?;
    }
    oci::write_wasm_layout(
        &oci_dir,
        annotated_wasm,
        &format!("v{}", m.version),
        oci_annotations(&md, m),
    )
}

//! Bundles for other engines, generated from the embedded modules and their metadata.

pub mod gatekeeper;
pub mod kubewarden;
pub mod oci;
pub mod opa;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::engine::Host;
use crate::kubewarden::WapcModule;
use crate::module::{ModuleMetadata, RuleModule, embedded};

/// One rule's Kubewarden package, as written.
#[derive(Debug, Clone)]
pub struct KubewardenPackage {
    pub id: String,
    pub dir: PathBuf,
    /// The OCI layout's manifest.
    pub manifest: oci::Descriptor,
    pub wasm_bytes: usize,
}

/// The text files of the Kubewarden bundle, by path relative to its root: what
/// `bundles/kubewarden/` holds (the modules and OCI layouts are build outputs, not sources).
pub fn kubewarden_files(
    rules: &[&ModuleMetadata],
    registry: &str,
) -> anyhow::Result<BTreeMap<PathBuf, String>> {
    let mut files = BTreeMap::new();
    for m in rules {
        for (name, text) in kubewarden::manifests(m, registry)? {
            files.insert(Path::new(&m.id).join(name), text);
        }
    }
    files.insert(
        PathBuf::from("kustomization.yaml"),
        kubewarden::kustomization(rules)?,
    );
    Ok(files)
}

/// `prodready bundle kubewarden`: for every embedded rule, asks its waPC module for its
/// protocol version (as `kwctl annotate` does), embeds the metadata, and writes the module,
/// its OCI layout and its manifests under `out/<rule>/`, plus `out/kustomization.yaml`.
pub fn write_kubewarden(
    host: &Host,
    out: &Path,
    registry: &str,
) -> anyhow::Result<Vec<KubewardenPackage>> {
    write_kubewarden_of(host, out, registry, &embedded_flavours(host)?)
}

/// A rule module with its Kubewarden and OPA flavours: an embedded one, or one built out of
/// tree (`prodready build-rule`) and loaded with `--policy`.
pub struct Flavoured {
    pub core: RuleModule,
    pub kubewarden: Vec<u8>,
    pub opa: Vec<u8>,
}

/// Every embedded rule with its flavours.
pub fn embedded_flavours(host: &Host) -> anyhow::Result<Vec<Flavoured>> {
    embedded()
        .iter()
        .map(|em| {
            Ok(Flavoured {
                core: RuleModule::from_embedded(host, em)?,
                kubewarden: em.kubewarden.to_vec(),
                opa: em.opa.to_vec(),
            })
        })
        .collect()
}

/// [`write_kubewarden`] for these modules.
pub fn write_kubewarden_of(
    host: &Host,
    out: &Path,
    registry: &str,
    modules: &[Flavoured],
) -> anyhow::Result<Vec<KubewardenPackage>> {
    let mut packages = Vec::new();
    let mut metas = Vec::new();
    for f in modules {
        let m = f.core.metadata().clone();
        let em_kubewarden = f.kubewarden.as_slice();
        let wapc = WapcModule::new(host, format!("{} (kubewarden)", m.id), em_kubewarden)?;
        let protocol = wapc.protocol_version()?;
        if protocol != prodready_sdk::kubewarden::PROTOCOL_VERSION {
            anyhow::bail!(
                "{}: the waPC module answers protocol version {protocol:?}",
                m.id
            );
        }
        let md = kubewarden::metadata(&m, registry, Some(protocol));
        let annotated = kubewarden::annotate(em_kubewarden, &md)?;
        let dir = out.join(&m.id);
        let manifest = kubewarden::write_rule(&dir, &m, registry, &annotated)?;
        packages.push(KubewardenPackage {
            id: m.id.clone(),
            dir,
            manifest,
            wasm_bytes: annotated.len(),
        });
        metas.push(m);
    }
    metas.sort_by_key(|m| m.number);
    let refs: Vec<&ModuleMetadata> = metas.iter().collect();
    std::fs::write(
        out.join("kustomization.yaml"),
        kubewarden::kustomization(&refs)?,
    )?;
    Ok(packages)
}

/// The name of the bundle holding every rule.
pub const OPA_ALL: &str = "prodready";

/// The text files of the OPA bundles, by path relative to `bundles/opa/`: each rule's
/// `<rule>/.manifest` and `<rule>/data.json`, and the same for `prodready/` (every rule).
pub fn opa_files(rules: &[&ModuleMetadata]) -> anyhow::Result<BTreeMap<PathBuf, String>> {
    let mut out = BTreeMap::new();
    for m in rules {
        for (name, text) in opa::text_files(std::slice::from_ref(m))? {
            out.insert(Path::new(&m.id).join(name), text);
        }
    }
    for (name, text) in opa::text_files(rules)? {
        out.insert(Path::new(OPA_ALL).join(name), text);
    }
    Ok(out)
}

/// `prodready bundle opa`: `out/<rule>.tar.gz` per rule and `out/prodready.tar.gz` with every
/// rule, and beside them each bundle's text files ([`opa_files`]). Returns the archives written.
pub fn write_opa(host: &Host, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    write_opa_of(out, &embedded_flavours(host)?)
}

/// [`write_opa`] for these modules.
pub fn write_opa_of(out: &Path, modules: &[Flavoured]) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let mut metas = Vec::new();
    for f in modules {
        crate::opa_link::check_opa_shape(&f.opa)
            .map_err(|e| anyhow::anyhow!("{}: the OPA flavour: {e}", f.core.id()))?;
        metas.push((f.core.metadata().clone(), f.opa.as_slice()));
    }
    metas.sort_by_key(|(m, _)| m.number);
    let refs: Vec<&ModuleMetadata> = metas.iter().map(|(m, _)| m).collect();
    for (path, text) in opa_files(&refs)? {
        let file = out.join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&file, text)?;
    }
    let mut written = Vec::new();
    for (m, wasm) in &metas {
        let path = out.join(format!("{}.tar.gz", m.id));
        let files = opa::files(&[(m, wasm)])?;
        opa::validate(&files)?;
        opa::write_archive(&path, &files)?;
        written.push(path);
    }
    let all: Vec<(&ModuleMetadata, &[u8])> = metas.iter().map(|(m, w)| (m, *w)).collect();
    let files = opa::files(&all)?;
    opa::validate(&files)?;
    let path = out.join(format!("{OPA_ALL}.tar.gz"));
    opa::write_archive(&path, &files)?;
    written.push(path);
    Ok(written)
}

/// The files of the Gatekeeper bundle, by path relative to its root: what
/// `bundles/gatekeeper/` holds.
pub fn gatekeeper_files(rules: &[&ModuleMetadata]) -> anyhow::Result<BTreeMap<PathBuf, String>> {
    // In the order of the talk, whatever order the caller has them in.
    let mut rules = rules.to_vec();
    rules.sort_by_key(|m| m.number);
    let rules = rules.as_slice();
    let mut files = BTreeMap::new();
    for m in rules {
        for (name, text) in gatekeeper::manifests(m)? {
            files.insert(Path::new(&m.id).join(name), text);
        }
    }
    for (name, text) in gatekeeper::shared(rules, env!("CARGO_PKG_VERSION"))? {
        files.insert(PathBuf::from(name), text);
    }
    Ok(files)
}

/// `prodready bundle gatekeeper`: writes the Gatekeeper bundle of every embedded rule under
/// `out/`. Returns the paths written, relative to `out`.
pub fn write_gatekeeper(host: &Host, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut metas = Vec::new();
    for em in embedded() {
        metas.push(RuleModule::from_embedded(host, em)?.metadata().clone());
    }
    let refs: Vec<&ModuleMetadata> = metas.iter().collect();
    let files = gatekeeper_files(&refs)?;
    for (path, text) in &files {
        let file = out.join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&file, text)?;
    }
    Ok(files.into_keys().collect())
}

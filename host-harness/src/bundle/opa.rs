//! OPA bundles: a tar.gz per rule (and one with every rule) holding `/.manifest`, `/data.json`
//! and the rule's OPA-ABI module as `/prodready/<rule>/policy.wasm`, laid out as OPA's bundle
//! loader requires: every wasm entrypoint under a root, every module file named `policy.wasm`
//! under a root, and roots that do not overlap. The archives are reproducible (fixed times,
//! owners and modes; entries sorted).

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::module::ModuleMetadata;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasmEntry {
    pub entrypoint: String,
    pub module: String,
}

/// The bundle's `/.manifest`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub revision: String,
    pub roots: Vec<String>,
    pub wasm: Vec<WasmEntry>,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Where a rule's module sits in a bundle.
pub fn module_path(m: &ModuleMetadata) -> String {
    format!("/prodready/{}/policy.wasm", m.id)
}

/// The manifest of a bundle holding `rules`.
pub fn manifest(rules: &[&ModuleMetadata]) -> Manifest {
    let version = rules
        .first()
        .map(|m| m.version.as_str())
        .unwrap_or_default();
    let mut wasm = Vec::new();
    for m in rules {
        for (entrypoint, _) in prodready_sdk::opa::entrypoints(&m.id) {
            wasm.push(WasmEntry {
                entrypoint,
                module: module_path(m),
            });
        }
    }
    let mut metadata = serde_json::Map::new();
    metadata.insert(
        "rules".into(),
        serde_json::Value::Array(
            rules
                .iter()
                .map(|m| serde_json::json!({"id": m.id, "version": m.version, "title": m.title}))
                .collect(),
        ),
    );
    Manifest {
        revision: format!("prodready-{version}"),
        roots: rules
            .iter()
            .map(|m| format!("prodready/{}", m.id))
            .collect(),
        wasm,
        metadata,
    }
}

/// The text files of a bundle, by path in the archive (what `bundles/opa/<name>/` holds).
pub fn text_files(rules: &[&ModuleMetadata]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut manifest_text = serde_json::to_string_pretty(&manifest(rules))?;
    manifest_text.push('\n');
    Ok(BTreeMap::from([
        (".manifest".to_string(), manifest_text),
        ("data.json".to_string(), "{}\n".to_string()),
    ]))
}

/// Writes a reproducible tar.gz of `files` (archive path → bytes).
pub fn write_archive(path: &Path, files: &BTreeMap<String, Vec<u8>>) -> anyhow::Result<()> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, name.trim_start_matches('/'), bytes.as_slice())?;
    }
    let tarball = tar.into_inner()?;
    let mut gz = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    gz.write_all(&tarball)?;
    std::fs::write(path, gz.finish()?)?;
    Ok(())
}

/// Reads a tar.gz back (archive path with a leading `/` → bytes).
pub fn read_archive(path: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut out = BTreeMap::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let name = format!("/{}", entry.path()?.display());
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        out.insert(name, bytes);
    }
    Ok(out)
}

fn under(path: &str, root: &str) -> bool {
    path == root || path.starts_with(&format!("{root}/"))
}

/// Checks a bundle the way OPA's bundle loader does: the manifest parses, roots do not
/// overlap, every wasm entry's entrypoint and module lie under a root, every module exists and
/// is named `policy.wasm`, and `data.json` is a JSON object.
pub fn validate(files: &BTreeMap<String, Vec<u8>>) -> anyhow::Result<Manifest> {
    let manifest: Manifest = serde_json::from_slice(
        files
            .get("/.manifest")
            .ok_or_else(|| anyhow::anyhow!("no /.manifest"))?,
    )?;
    for (i, a) in manifest.roots.iter().enumerate() {
        for b in manifest.roots.iter().skip(i + 1) {
            if under(a, b) || under(b, a) {
                anyhow::bail!("roots {a} and {b} overlap");
            }
        }
    }
    for entry in &manifest.wasm {
        if !manifest.roots.iter().any(|r| under(&entry.entrypoint, r)) {
            anyhow::bail!("entrypoint {} is under no root", entry.entrypoint);
        }
        let module = entry.module.trim_start_matches('/');
        if !manifest.roots.iter().any(|r| under(module, r)) {
            anyhow::bail!("module {} is under no root", entry.module);
        }
        if !entry.module.ends_with("/policy.wasm") {
            anyhow::bail!("module {} is not named policy.wasm", entry.module);
        }
        if !files.contains_key(&entry.module) {
            anyhow::bail!("module {} is not in the bundle", entry.module);
        }
    }
    let data: serde_json::Value = serde_json::from_slice(
        files
            .get("/data.json")
            .ok_or_else(|| anyhow::anyhow!("no /data.json"))?,
    )?;
    if !data.is_object() {
        anyhow::bail!("data.json is not an object");
    }
    Ok(manifest)
}

/// The files of a bundle for `rules`, with their modules.
pub fn files(rules: &[(&ModuleMetadata, &[u8])]) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let metas: Vec<&ModuleMetadata> = rules.iter().map(|(m, _)| *m).collect();
    let mut out: BTreeMap<String, Vec<u8>> = text_files(&metas)?
        .into_iter()
        .map(|(k, v)| (format!("/{k}"), v.into_bytes()))
        .collect();
    for (m, wasm) in rules {
        out.insert(module_path(m), wasm.to_vec());
    }
    Ok(out)
}

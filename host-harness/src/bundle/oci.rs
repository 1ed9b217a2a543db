//! OCI image layouts (image-spec v1.1 `oci-layout` + `index.json` + `blobs/sha256/`) holding a
//! wasm module as an artifact, the way Kubewarden and other wasm registries store policies.
//! Standard tools push such a directory to any registry (`oras cp --from-oci-layout`,
//! `skopeo copy oci:DIR docker://...`, `crane push DIR ...`).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v1+json";
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX_MEDIA_TYPE: &str = "application/vnd.oci.image.index.v1+json";
/// The index annotation that names a manifest's tag.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    pub media_type: String,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    pub schema_version: u32,
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
}

/// `sha256:<hex>` of some bytes.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn descriptor(media_type: &str, bytes: &[u8], annotations: BTreeMap<String, String>) -> Descriptor {
    Descriptor {
        media_type: media_type.to_string(),
        digest: digest(bytes),
        size: bytes.len() as u64,
        annotations,
    }
}

fn write_blob(dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let d = digest(bytes);
    let hex = d.trim_start_matches("sha256:");
    let blobs = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs)?;
    std::fs::write(blobs.join(hex), bytes)
}

/// Writes an OCI image layout at `dir` holding `wasm` as a single-layer artifact tagged `tag`,
/// with `annotations` on the manifest. Returns the manifest's descriptor. The output depends
/// only on the inputs (no timestamps), so a rebuild gives the same digests.
pub fn write_wasm_layout(
    dir: &Path,
    wasm: &[u8],
    tag: &str,
    annotations: BTreeMap<String, String>,
) -> anyhow::Result<Descriptor> {
    std::fs::create_dir_all(dir)?;
    let config = b"{}";
    write_blob(dir, config)?;
    write_blob(dir, wasm)?;
    let layer_annotations = BTreeMap::from([(
        "org.opencontainers.image.title".to_string(),
        "policy.wasm".to_string(),
    )]);
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE.to_string(),
        config: descriptor(CONFIG_MEDIA_TYPE, config, BTreeMap::new()),
        layers: vec![descriptor(LAYER_MEDIA_TYPE, wasm, layer_annotations)],
        annotations,
    };
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    write_blob(dir, &manifest_bytes)?;
    let manifest_descriptor = descriptor(
        MANIFEST_MEDIA_TYPE,
        &manifest_bytes,
        BTreeMap::from([(REF_NAME.to_string(), tag.to_string())]),
    );
    let index = Index {
        schema_version: 2,
        media_type: INDEX_MEDIA_TYPE.to_string(),
        manifests: vec![manifest_descriptor.clone()],
    };
    std::fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(manifest_descriptor)
}

/// Reads a blob by digest, checking that its content has that digest.
pub fn read_blob(dir: &Path, d: &Descriptor) -> anyhow::Result<Vec<u8>> {
    let hex = d
        .digest
        .strip_prefix("sha256:")
        .ok_or_else(|| anyhow::anyhow!("unsupported digest algorithm in {}", d.digest))?;
    let bytes = std::fs::read(dir.join("blobs").join("sha256").join(hex))?;
    let actual = digest(&bytes);
    if actual != d.digest {
        anyhow::bail!("blob {} has digest {actual}", d.digest);
    }
    if bytes.len() as u64 != d.size {
        anyhow::bail!(
            "blob {} is {} bytes, the descriptor says {}",
            d.digest,
            bytes.len(),
            d.size
        );
    }
    Ok(bytes)
}

/// Verifies a layout: every descriptor's digest and size, from the index down. Returns the
/// manifest and the wasm layer's bytes.
pub fn verify_wasm_layout(dir: &Path) -> anyhow::Result<(Manifest, Vec<u8>)> {
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("oci-layout"))?)?;
    if layout.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
        anyhow::bail!("oci-layout: unexpected imageLayoutVersion {layout}");
    }
    let index: Index = serde_json::from_slice(&std::fs::read(dir.join("index.json"))?)?;
    let [entry] = index.manifests.as_slice() else {
        anyhow::bail!(
            "index.json: expected one manifest, found {}",
            index.manifests.len()
        );
    };
    let manifest: Manifest = serde_json::from_slice(&read_blob(dir, entry)?)?;
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        anyhow::bail!("config media type is {}", manifest.config.media_type);
    }
    read_blob(dir, &manifest.config)?;
    let [layer] = manifest.layers.as_slice() else {
        anyhow::bail!("expected one layer, found {}", manifest.layers.len());
    };
    if layer.media_type != LAYER_MEDIA_TYPE {
        anyhow::bail!("layer media type is {}", layer.media_type);
    }
    let wasm = read_blob(dir, layer)?;
    Ok((manifest, wasm))
}

//! Rules written outside this repository: `new-rule --out DIR` (a crate of its own) and
//! `build-rule` (its three flavours, with the OPA post-link step).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};
use prodready_host::{Host, RuleModule, opa_link};

use super::args::{BuildRuleArgs, NewRuleArgs};

/// The SDK of the checkout this binary was built from.
fn default_sdk() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/sdk")
}

pub fn new_standalone(a: &NewRuleArgs, out: &Path) -> anyhow::Result<ExitCode> {
    let sdk = a.sdk.clone().unwrap_or_else(default_sdk);
    let written = prodready_host::scaffold::new_standalone_rule(
        out,
        &prodready_host::scaffold::NewRule {
            id: a.id.clone(),
            number: a.number,
            title: a.title.clone(),
            slide: a.slide.clone(),
        },
        &sdk,
    )
    .map_err(anyhow::Error::msg)?;
    for p in &written {
        println!("wrote {}", out.join(p).display());
    }
    println!(
        "next: write the checks in {0}/src/checks.rs, then `prodready build-rule {0} --out {0}/dist` and `prodready test {0} --policy {0}/dist/{1}.wasm --flavours all` (docs/writing-a-rule.md)",
        out.display(),
        a.id
    );
    Ok(ExitCode::SUCCESS)
}

/// The flavours: (file suffix, SDK feature, OPA link flags).
const FLAVOURS: &[(&str, Option<&str>)] = &[
    ("", None),
    (".kubewarden", Some("prodready-sdk/kubewarden")),
    (".opa", Some("prodready-sdk/opa")),
];

pub fn build_rule(host: &Host, a: &BuildRuleArgs) -> anyhow::Result<ExitCode> {
    let manifest = a.dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{}: no Cargo.toml (a rule crate's folder)", a.dir.display());
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let meta = Command::new(&cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .context("running cargo metadata")?;
    if !meta.status.success() {
        bail!("cargo metadata: {}", String::from_utf8_lossy(&meta.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout)?;
    let manifest_abs = std::fs::canonicalize(&manifest)?;
    let package = meta["packages"]
        .as_array()
        .and_then(|ps| {
            ps.iter().find(|p| {
                p["manifest_path"].as_str().map(PathBuf::from).as_deref() == Some(&manifest_abs)
            })
        })
        .ok_or_else(|| anyhow::anyhow!("{}: no package", manifest.display()))?;
    let name = package["name"].as_str().unwrap_or_default();
    let artefact = format!("{}.wasm", name.replace('-', "_"));
    let target = match &a.target_dir {
        Some(t) => t.clone(),
        None => a.dir.join("target"),
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut built: Vec<(String, Vec<u8>)> = Vec::new();
    for (suffix, feature) in FLAVOURS {
        let opa = *suffix == ".opa";
        let target = if opa {
            PathBuf::from(format!("{}-opa", target.display()))
        } else {
            target.clone()
        };
        let mut cmd = Command::new(&cargo);
        cmd.args([
            "build",
            "--profile",
            "wasm",
            "--target",
            "wasm32-unknown-unknown",
            "--manifest-path",
        ])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target);
        if let Some(f) = feature {
            cmd.args(["--features", f]);
        }
        for var in opa_link::GUEST_BUILD_ENV_CLEARED {
            cmd.env_remove(var);
        }
        if opa {
            // As host-harness/build.rs builds the embedded rules' OPA flavour.
            cmd.env("CARGO_PROFILE_WASM_OPT_LEVEL", opa_link::OPA_OPT_LEVEL);
            cmd.env(
                "CARGO_ENCODED_RUSTFLAGS",
                opa_link::OPA_LINK_ARGS.join("\x1f"),
            );
        }
        eprintln!(
            "prodready: building {name}{suffix} (cargo build --profile wasm --target wasm32-unknown-unknown{})",
            feature
                .map(|f| format!(" --features {f}"))
                .unwrap_or_default()
        );
        let status = cmd.status().context("running cargo build")?;
        if !status.success() {
            bail!("cargo build of {name}{suffix} failed ({status})");
        }
        let file = target.join("wasm32-unknown-unknown/wasm").join(&artefact);
        let mut bytes =
            std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        if opa {
            bytes = opa_link::opa_link(&bytes)
                .map_err(|e| anyhow::anyhow!("{name}: the OPA post-link step: {e}"))?;
        }
        built.push((suffix.to_string(), bytes));
    }
    // The module names itself: its metadata's id.
    let core = built.first().map(|(_, b)| b.as_slice()).unwrap_or_default();
    let module = RuleModule::from_wasm(host, core, name)
        .map_err(|e| anyhow::anyhow!("{name}: the core module does not load: {e}"))?;
    let id = module.id().to_string();
    for (suffix, bytes) in &built {
        let path = a.out.join(format!("{id}{suffix}.wasm"));
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        println!("{} ({} bytes)", path.display(), bytes.len());
    }
    Ok(ExitCode::SUCCESS)
}

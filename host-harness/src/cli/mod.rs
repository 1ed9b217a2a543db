//! The subcommands. Each builds what it needs from the library and reports.

pub mod args;
mod check;
mod explain;
mod init;
mod output;
mod rule_crate;
mod test;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use prodready_host::{Host, Limits, RuleModule};
use serde_json::Value;

use args::{
    BundleCommand, Cli, Command, EvalArgs, GatekeeperArgs, GatekeeperProviderArgs, KubewardenArgs,
    OpaArgs, RulesArgs, RunFlags, ServeCommand,
};

pub const EXIT_VIOLATIONS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let host = Host::new(Limits {
        deadline: Duration::from_millis(cli.run.deadline_ms.max(1)),
        memory_bytes: cli.run.memory_mib.max(1).saturating_mul(1 << 20),
        ..Limits::default()
    })?;
    match cli.command {
        Command::Check(a) => check::check(&host, &cli.run, a),
        Command::Baseline(a) => check::baseline(&host, &cli.run, a),
        Command::Init(a) => init::init(&host, &cli.run, &a),
        Command::Explain(a) => explain::explain(&host, &cli.run, &a),
        Command::Rules(a) => rules(&host, &cli.run, a),
        Command::Eval(a) => eval(&host, &cli.run, a),
        Command::Bundle(BundleCommand::Kubewarden(a)) => bundle_kubewarden(&host, &cli.run, a),
        Command::Bundle(BundleCommand::Opa(a)) => bundle_opa(&host, &cli.run, a),
        Command::Bundle(BundleCommand::Gatekeeper(a)) => bundle_gatekeeper(&host, &cli.run, a),
        Command::NewRule(a) => new_rule(&a),
        Command::BuildRule(a) => rule_crate::build_rule(&host, &a),
        Command::Test(a) => test::test(&host, &cli.run, &a),
        Command::Serve(ServeCommand::GatekeeperProvider(a)) => {
            serve_gatekeeper_provider(&host, &cli.run, a)
        }
    }
}

fn bundle_opa(host: &Host, flags: &RunFlags, a: OpaArgs) -> anyhow::Result<ExitCode> {
    let modules = flavoured(host, flags, true)?;
    if modules.is_empty() {
        bail!("no rule modules to bundle (--no-embedded without --policy)");
    }
    for archive in prodready_host::bundle::write_opa_of(&a.out, &modules)? {
        println!("{}", archive.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn bundle_gatekeeper(host: &Host, flags: &RunFlags, a: GatekeeperArgs) -> anyhow::Result<ExitCode> {
    if flags.no_embedded || !flags.policies.is_empty() {
        bail!(
            "bundle gatekeeper builds the embedded modules; --policy and --no-embedded do not apply"
        );
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let written = prodready_host::bundle::write_gatekeeper(host, &a.out)?;
    for path in &written {
        println!("{}", a.out.join(path).display());
    }
    println!(
        "{} files in {}; install with `kubectl apply -k {}` (see README.md, Gatekeeper)",
        written.len(),
        a.out.display(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn serve_gatekeeper_provider(
    host: &Host,
    flags: &RunFlags,
    a: GatekeeperProviderArgs,
) -> anyhow::Result<ExitCode> {
    use prodready_host::provider::{Provider, Server, ServerLimits, TlsFiles, tls_config};
    let modules = modules(host, flags)?;
    if modules.is_empty() {
        bail!("no rule modules to serve");
    }
    let tls = tls_config(&TlsFiles {
        cert: a.tls_cert,
        key: a.tls_key,
        client_ca: a.client_ca,
    })?;
    let defaults = ServerLimits::default();
    let limits = ServerLimits {
        max_body_bytes: a.max_body_bytes,
        io_timeout: Duration::from_millis(a.io_timeout_ms),
        request_timeout: Duration::from_millis(a.request_timeout_ms),
        max_connections: a.max_connections as usize,
        eval_threads: a.eval_threads.map_or(defaults.eval_threads, usize::from),
        shutdown_delay: Duration::from_millis(a.shutdown_delay_ms),
        shutdown_timeout: Duration::from_millis(a.shutdown_timeout_ms),
        ..defaults
    };
    let server = Server::bind(&a.addr, tls, limits)?;
    let provider = Provider::new(host, modules);
    eprintln!(
        "prodready: Gatekeeper external-data provider on https://{} (rules: {})",
        server.local_addr()?,
        provider.rules().join(", ")
    );
    server.serve(&provider)?;
    Ok(ExitCode::SUCCESS)
}

fn bundle_kubewarden(host: &Host, flags: &RunFlags, a: KubewardenArgs) -> anyhow::Result<ExitCode> {
    let modules = flavoured(host, flags, true)?;
    if modules.is_empty() {
        bail!("no rule modules to bundle (--no-embedded without --policy)");
    }
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let packages =
        prodready_host::bundle::write_kubewarden_of(host, &a.out, &a.registry, &modules)?;
    for p in &packages {
        println!(
            "{:<22} {}  policy.wasm {} bytes, oci manifest {}",
            p.id,
            p.dir.display(),
            p.wasm_bytes,
            p.manifest.digest
        );
    }
    println!(
        "{} Kubewarden policies in {}; install with `kubectl apply -k {}`",
        packages.len(),
        a.out.display(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Embedded modules (unless `--no-embedded`), then `--policy` modules, replacing by id.
fn modules(host: &Host, flags: &RunFlags) -> anyhow::Result<Vec<RuleModule>> {
    let mut modules = if flags.no_embedded {
        Vec::new()
    } else {
        prodready_host::load_embedded(host)?
    };
    for path in &flags.policies {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let module = RuleModule::from_wasm(host, &bytes, &path.display().to_string())?;
        modules.retain(|m| m.id() != module.id());
        modules.push(module);
    }
    modules.sort_by_key(|m| m.metadata().number);
    Ok(modules)
}

/// Embedded modules (unless `--no-embedded`) and `--policy` modules with their Kubewarden and
/// OPA flavours (`<rule>.kubewarden.wasm` and `<rule>.opa.wasm` beside `<rule>.wasm`, as
/// `build-rule` writes them; required when `need_flavours`).
fn flavoured(
    host: &Host,
    flags: &RunFlags,
    need_flavours: bool,
) -> anyhow::Result<Vec<prodready_host::bundle::Flavoured>> {
    let mut out = if flags.no_embedded {
        Vec::new()
    } else {
        prodready_host::bundle::embedded_flavours(host)?
    };
    for path in &flags.policies {
        let f = load_policy(host, path, need_flavours)?;
        out.retain(|m| m.core.id() != f.core.id());
        out.push(f);
    }
    out.sort_by_key(|m| m.core.metadata().number);
    Ok(out)
}

/// One external module, with its flavours beside it when they are there.
fn load_policy(
    host: &Host,
    path: &Path,
    need_flavours: bool,
) -> anyhow::Result<prodready_host::bundle::Flavoured> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let core = RuleModule::from_wasm(host, &bytes, &path.display().to_string())?;
    let name = path.to_string_lossy();
    let stem = name.strip_suffix(".wasm").unwrap_or(&name);
    let sibling = |flavour: &str| -> anyhow::Result<Vec<u8>> {
        let p = std::path::PathBuf::from(format!("{stem}.{flavour}.wasm"));
        match std::fs::read(&p) {
            Ok(b) => Ok(b),
            Err(_) if !need_flavours => Ok(Vec::new()),
            Err(e) => bail!(
                "{}: the {flavour} flavour of {} is not there ({e}); `prodready build-rule` writes it beside the core module",
                p.display(),
                path.display()
            ),
        }
    };
    Ok(prodready_host::bundle::Flavoured {
        kubewarden: sibling("kubewarden")?,
        opa: sibling("opa")?,
        core,
    })
}

/// Reads a YAML or JSON file into a value.
fn read_value(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_saphyr::from_str::<Value>(&text).with_context(|| format!("parsing {}", path.display()))
}

fn rules(host: &Host, flags: &RunFlags, a: RulesArgs) -> anyhow::Result<ExitCode> {
    let modules = modules(host, flags)?;
    match a.output {
        args::Output::Human => output::rules_human(&modules),
        args::Output::Json => {
            let all: Vec<_> = modules.iter().map(RuleModule::metadata).collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        args::Output::Markdown => {
            let all: Vec<_> = modules.iter().map(RuleModule::metadata).collect();
            print!("{}", prodready_host::catalogue::markdown(&all));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn eval(host: &Host, flags: &RunFlags, a: EvalArgs) -> anyhow::Result<ExitCode> {
    let module = if a.module.ends_with(".wasm") || Path::new(&a.module).is_file() {
        let bytes = std::fs::read(&a.module).with_context(|| format!("reading {}", a.module))?;
        RuleModule::from_wasm(host, &bytes, &a.module)?
    } else {
        let mut all = modules(host, flags)?;
        let Some(i) = all.iter().position(|m| m.id() == a.module) else {
            let known: Vec<&str> = all.iter().map(RuleModule::id).collect();
            bail!(
                "{}: no such rule and no such file (rules: {})",
                a.module,
                known.join(", ")
            );
        };
        all.swap_remove(i)
    };
    let review = read_value(&a.request)?;
    // An AdmissionReview carries the request under `request`; a bare AdmissionRequest is one.
    let request = match review.get("request") {
        Some(r) if review.get("kind").and_then(Value::as_str) == Some("AdmissionReview") => {
            r.clone()
        }
        Some(r) if review.get("uid").is_none() => r.clone(),
        _ => review,
    };
    let settings = match &a.settings {
        Some(p) => read_value(p)?,
        None => Value::Object(Default::default()),
    };
    let envelope = serde_json::json!({
        "request": request,
        "settings": settings,
        "mode": if a.manifest { "manifest" } else { "admission" },
    });
    let verdict = module.evaluate(host, envelope.to_string().as_bytes());
    println!("{}", serde_json::to_string_pretty(&verdict)?);
    Ok(ExitCode::SUCCESS)
}

fn new_rule(a: &args::NewRuleArgs) -> anyhow::Result<ExitCode> {
    if let Some(out) = &a.out {
        return rule_crate::new_standalone(a, out);
    }
    let written = prodready_host::scaffold::new_rule(
        &a.root,
        &prodready_host::scaffold::NewRule {
            id: a.id.clone(),
            number: a.number,
            title: a.title.clone(),
            slide: a.slide.clone(),
        },
    )
    .map_err(anyhow::Error::msg)?;
    for path in &written {
        println!("wrote {}", path.display());
    }
    println!(
        "next: write the checks in policies/{id}/src/checks.rs and their fixtures in tests/fixtures/{id}/, then `PRODREADY_BLESS=1 cargo test --workspace --release` to regenerate the catalogue, README table and bundles",
        id = a.id
    );
    Ok(ExitCode::SUCCESS)
}

//! Command-line flags, by phase: what to load, how to run it, how to report it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "prodready",
    version,
    about = "Production-readiness rules for Kubernetes, as WebAssembly policy modules",
    long_about = "Checks Kubernetes manifests against the rules of the talk \"Production Ready Kubernetes 15 Rules\". Every rule is a wasm module; the modules built from this repository are embedded."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub run: RunFlags,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifests (files, folders, or `-` for stdin).
    ///
    /// Exit status: 0 when nothing error-severity was found, 1 when something was, 2 on usage
    /// or input errors (and on module errors: an object no rule could read is not a pass).
    Check(CheckArgs),
    /// Record the current findings in a baseline file, so that `check --baseline FILE` fails
    /// only on new ones.
    ///
    /// Entries are keyed by rule, check, object and container name (never a line or list
    /// index). Entries of an existing --out file that still match keep their reason and
    /// `expires`; new entries get --reason.
    Baseline(BaselineArgs),
    /// Write a `.prodready.yaml` with every rule and setting, defaults in comments.
    Init(InitArgs),
    /// Explain a check: why it exists, what it reads, its settings, how to fix and exempt,
    /// and a failing and a passing example from its fixtures.
    Explain(ExplainArgs),
    /// List the rules and their checks.
    Rules(RulesArgs),
    /// Run one AdmissionRequest or AdmissionReview through one module and print the verdict.
    ///
    /// Like `kwctl run`: exits 0 when the module answered, whatever it answered.
    Eval(EvalArgs),
    /// Build the bundles other engines install: `bundle kubewarden --out DIR`,
    /// `bundle gatekeeper --out DIR`.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Run a server: `serve gatekeeper-provider --tls-cert FILE --tls-key FILE`.
    #[command(subcommand)]
    Serve(ServeCommand),
    /// Start a new rule crate in this repository: policies/<ID>/ from the template, its first
    /// fixture, and every generated list that names the rule crates (docs/adding-a-rule.md).
    /// With --out, a crate of its own anywhere else (docs/writing-a-rule.md).
    NewRule(NewRuleArgs),
    /// Build a rule crate in its three flavours (core, Kubewarden, OPA, with the OPA
    /// post-link step): DIR/<rule>.wasm, <rule>.kubewarden.wasm and <rule>.opa.wasm in --out.
    BuildRule(BuildRuleArgs),
    /// Run policy unit tests: test suites (`fixture:` headers, e.g. prodready-test.yaml)
    /// under PATHs, through the core ABI and, with --flavours all, Kubewarden and OPA.
    ///
    /// Exit status: 0 when every case passed, 1 when one failed, 2 when a suite is invalid.
    Test(TestArgs),
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Suite files, or folders searched recursively for them.
    #[arg(value_name = "PATH", default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// `core` (the ABI `prodready check` runs) or `all` (also Kubewarden's waPC and OPA, at
    /// admission).
    #[arg(long, value_enum, default_value_t = Flavours::Core)]
    pub flavours: Flavours,
    /// `human` (default) or `junit`, optionally to a file (`junit=report.xml`; repeatable).
    #[arg(long = "output", short = 'o', value_name = "FORMAT[=FILE]", value_parser = parse_output)]
    pub outputs: Vec<OutputSpec>,
    /// Write a starter suite, DIR/prodready-test.yaml, for the manifests in DIR, expecting
    /// what `check` reports on them now.
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    pub init: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Flavours {
    Core,
    All,
}

#[derive(Debug, Args)]
pub struct BuildRuleArgs {
    /// The rule crate's folder.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the three modules.
    #[arg(long, value_name = "DIR", default_value = "dist")]
    pub out: PathBuf,
    /// Cargo's target directory (default: DIR/target); the OPA flavour builds in
    /// <target-dir>-opa, with its own link flags.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct NewRuleArgs {
    /// The rule id, kebab-case (the crate is prodready-<ID>).
    #[arg(value_name = "ID")]
    pub id: String,
    /// The rule's number in the talk (1-15).
    #[arg(long)]
    pub number: u8,
    /// The rule's title, e.g. "External traffic".
    #[arg(long)]
    pub title: String,
    /// Where in the talk it comes from, e.g. "slides 60-62".
    #[arg(long, default_value = "slides ?")]
    pub slide: String,
    /// The repository's root.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub root: PathBuf,
    /// Write a rule crate of its own in DIR instead, outside any prodready checkout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --out: the SDK it depends on (default: the one this prodready was built from).
    #[arg(long, value_name = "DIR")]
    pub sdk: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Gatekeeper's external-data provider: evaluates the keys the generated
    /// ConstraintTemplates send (`bundle gatekeeper`) with the embedded modules, over HTTPS
    /// (TLS 1.3 only). `POST /validate` answers Gatekeeper, `GET /healthz` answers probes.
    ///
    /// Runs until SIGTERM or SIGINT, then stops gracefully: /readyz answers 503, requests in
    /// flight are answered, and it exits once connections close (or --shutdown-timeout-ms).
    /// The certificate and key are re-read when their files change.
    GatekeeperProvider(GatekeeperProviderArgs),
}

#[derive(Debug, Args)]
pub struct GatekeeperProviderArgs {
    /// The address to listen on.
    #[arg(long, value_name = "HOST:PORT", default_value = "0.0.0.0:8443")]
    pub addr: String,
    /// The server's certificate chain (PEM, leaf first).
    #[arg(long, value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// The server's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: PathBuf,
    /// Require clients to present a certificate signed by this CA (PEM): Gatekeeper's, for
    /// mutual TLS (its `gatekeeper-webhook-server-cert` Secret holds it as `ca.crt`).
    #[arg(long, value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// Largest request body, in bytes; larger requests get 413.
    #[arg(long, value_name = "BYTES", default_value_t = 4 << 20)]
    pub max_body_bytes: usize,
    /// Time for a TLS handshake, for each request head (so also how long an idle keep-alive
    /// connection stays open) and for a stalled write, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub io_timeout_ms: u64,
    /// Time for a request's body, its wait for an evaluation thread and its evaluation, in
    /// milliseconds (408 while the body is arriving, 503 after).
    #[arg(long, value_name = "MS", default_value_t = 10000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,
    /// Connections open at once; more wait in the listen backlog. An idle or slow connection
    /// costs memory (a few tens of KiB), not a thread.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=65536))]
    pub max_connections: u32,
    /// Threads that evaluate requests (default: the machine's cores; at most 128, the
    /// instances the host keeps ready). A burst waits for them instead of failing.
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=128))]
    pub eval_threads: Option<u16>,
    /// After SIGTERM, keep accepting new connections this long, in milliseconds (the generated
    /// Deployment's preStop sleep already waits for the Service to drop the pod).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub shutdown_delay_ms: u64,
    /// After SIGTERM (and the delay), how long open connections may take to finish, in
    /// milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 20000)]
    pub shutdown_timeout_ms: u64,
}

#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Every rule as a Kubewarden policy: the waPC module with its metadata embedded, an OCI
    /// image layout, metadata.yml, artifacthub-pkg.yml and a ClusterAdmissionPolicy per rule,
    /// and a kustomization.yaml that installs them all.
    ///
    /// `bundle kubewarden --out bundles/kubewarden` regenerates the checked-in manifests.
    Kubewarden(KubewardenArgs),
    /// Every rule as an OPA bundle (tar.gz with .manifest, data.json and the OPA-ABI module at
    /// /prodready/<rule>/policy.wasm), one per rule and `prodready.tar.gz` with all of them.
    ///
    /// `bundle opa --out DIR` also writes each bundle's .manifest and data.json beside it,
    /// which is what `bundles/opa/` holds.
    Opa(OpaArgs),
    /// Every rule as a Gatekeeper ConstraintTemplate that asks the external-data provider
    /// (`serve gatekeeper-provider`), an example Constraint per rule, and the provider's
    /// Deployment, Service, Provider, sync Config and a kustomization.yaml.
    ///
    /// `bundle gatekeeper --out bundles/gatekeeper` regenerates the checked-in manifests.
    Gatekeeper(GatekeeperArgs),
}

#[derive(Debug, Args)]
pub struct OpaArgs {
    /// The directory to write (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct GatekeeperArgs {
    /// The directory to write (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct KubewardenArgs {
    /// The directory to write (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The OCI repository prefix the modules are published under.
    #[arg(long, value_name = "REGISTRY", default_value = prodready_host::bundle::kubewarden::DEFAULT_REGISTRY)]
    pub registry: String,
}

#[derive(Debug, Args)]
pub struct RunFlags {
    /// Also load this rule module (repeatable). A module with the id of an embedded one
    /// replaces it.
    #[arg(long = "policy", value_name = "FILE.wasm", global = true)]
    pub policies: Vec<PathBuf>,
    /// Use only the modules given with --policy.
    #[arg(long, global = true)]
    pub no_embedded: bool,
    /// Wall-clock deadline of one module call, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, global = true)]
    pub deadline_ms: u64,
    /// Memory cap of one module instance, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64, global = true)]
    pub memory_mib: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Human,
    Json,
    /// The check catalogue as Markdown (`rules` only): docs/checks.md.
    Markdown,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The baseline file to write (YAML).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Why the recorded findings are accepted: the reason of every new entry (required
    /// when there is one).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// The last day new entries are accepted (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub expires: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The file to write.
    #[arg(long, value_name = "FILE", default_value = prodready_host::config::FILE_NAME)]
    pub out: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A check id (`probes-required`) or rule/check.
    #[arg(value_name = "CHECK")]
    pub check: String,
}

/// What to check and with which configuration: shared by `check` and `baseline`.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Files or folders to check (folders recursively: *.yaml, *.yml, *.json); `-` reads
    /// stdin. Default: the config file's `paths`, else `-`.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The config file (default: the first .prodready.yaml found walking up from the working
    /// directory).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Do not read a config file.
    #[arg(long, conflicts_with = "config")]
    pub no_config: bool,
    /// Fail (exit 2) when no PATH is given and the config names no `paths`, instead of
    /// reading stdin: what the pre-commit hook runs, so a hook without manifests to check is
    /// an error, not a pass.
    #[arg(long)]
    pub require_paths: bool,
    /// Per-rule settings: a YAML or JSON mapping of rule id to that rule's settings
    /// (replaces the config file's settings of the rules it names).
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Run only this rule (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,
    /// The namespace the manifest set is applied to (as `kubectl apply -n`): objects without
    /// `metadata.namespace` are in it when rules match objects across the set. Default: the
    /// config's `namespace`, else `default`.
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Largest input (a file, or stdin) read, in bytes; default: no limit. Inputs are read
    /// in batches, so memory does not grow with them (only with the objects cross-object
    /// checks read: Services, workloads, PDBs, ...); set it to refuse an input that is too
    /// long.
    #[arg(long, value_name = "BYTES")]
    pub max_input_bytes: Option<u64>,
    /// Largest single YAML/JSON document (a `.json` file, a `kind: List` is one), in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 8 << 20)]
    pub max_document_bytes: usize,
    /// Bytes of manifest text read and parsed together (tests; default 2 MiB).
    #[arg(long, value_name = "BYTES", hide = true)]
    pub batch_bytes: Option<usize>,
    /// Objects evaluated together (tests; default 1024).
    #[arg(long, value_name = "N", hide = true)]
    pub batch_objects: Option<usize>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// A baseline file (`prodready baseline`): its findings are reported as baselined and do
    /// not fail the run; expired entries do. Default: the config's `baseline`.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Output format, optionally to a file: human, json, sarif, junit, github
    /// (`--output sarif=results.sarif --output human`; repeatable). Default: human.
    #[arg(long = "output", short = 'o', value_name = "FORMAT[=FILE]", value_parser = parse_output)]
    pub outputs: Vec<OutputSpec>,
    /// Which open findings fail the run (exit 1): `error` (default; those that deny),
    /// `warning` (also warnings), `never`. Input and module errors still exit 2.
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub fail_on: Option<prodready_host::config::FailOn>,
    /// Colour in human output: auto (on a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Print what each phase took (load, parse, evaluate per rule) to stderr.
    #[arg(long)]
    pub timings: bool,
    /// Evaluate only shard I of N (1-based): a deterministic 1/N of the objects, by a hash of
    /// kind/namespace/name, with the whole set still loaded as context. N CI jobs with
    /// `--shard 1/N` ... `--shard N/N` report, together, what one unsharded run reports.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<prodready_host::check::Shard>,
    /// Per-rule settings: a YAML or JSON mapping of rule id to that rule's settings.
    #[arg(long, value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Run only this rule (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,
    /// The namespace the manifest set is applied to (as `kubectl apply -n`): objects without
    /// `metadata.namespace` are in it when rules match objects across the set.
    /// What a module error (an object a rule could not read, a trap, a timeout) does:
    /// `fail` (default) fails the run with exit status 2; `ignore` reports it and lets the
    /// violations alone decide the exit status — for audit rollouts, like a webhook's
    /// failurePolicy.
    #[arg(long, value_enum, default_value_t = FailurePolicy::Fail)]
    pub failure_policy: FailurePolicy,
}

/// A `--output` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    pub format: Format,
    /// Where to write it (stdout when absent).
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.
    Sarif,
    /// JUnit XML: a test case per object and rule.
    Junit,
    /// GitHub Actions workflow commands (`::error file=...,line=...::`).
    Github,
}

fn parse_shard(s: &str) -> Result<prodready_host::check::Shard, String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}`: expected I/N, e.g. 2/4"))?;
    let index: u32 = i
        .trim()
        .parse()
        .map_err(|_| format!("`{i}` is not a number"))?;
    let count: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a number"))?;
    if count == 0 || index == 0 || index > count {
        return Err(format!("`{s}`: I must be 1 to N, and N at least 1"));
    }
    Ok(prodready_host::check::Shard { index, count })
}

fn parse_output(s: &str) -> Result<OutputSpec, String> {
    let (format, file) = match s.split_once('=') {
        Some((f, path)) if !path.is_empty() => (f, Some(PathBuf::from(path))),
        Some((f, _)) => return Err(format!("{f}=: name a file after `=`")),
        None => (s, None),
    };
    let format = Format::from_str(format, true)
        .map_err(|_| format!("unknown format `{format}` (human, json, sarif, junit, github)"))?;
    Ok(OutputSpec { format, file })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Kubernetes' names for what a webhook failure does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailurePolicy {
    Fail,
    Ignore,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[arg(long, value_enum, default_value_t = Output::Human)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// An AdmissionReview or a bare AdmissionRequest, JSON or YAML.
    #[arg(long, short = 'r', value_name = "FILE")]
    pub request: PathBuf,
    /// The rule's settings, JSON or YAML.
    #[arg(long, short = 's', value_name = "FILE")]
    pub settings: Option<PathBuf>,
    /// Evaluate in manifest mode instead of admission mode.
    #[arg(long)]
    pub manifest: bool,
    /// A rule id (embedded module) or a path to a .wasm module.
    #[arg(value_name = "MODULE")]
    pub module: String,
}

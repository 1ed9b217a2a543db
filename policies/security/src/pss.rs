//! The Pod Security Standards, control by control, as `k8s.io/pod-security-admission`
//! (`policy/check_*.go`) evaluates them: the same fields, the same exact string comparisons,
//! the same versions, overrides and exemptions (docs/pss.md has the table and the source).
//!
//! Each control yields [`Hit`]s, and each hit says at which levels it fails the pod: a
//! baseline control fails both baseline and restricted, a restricted control only
//! restricted — except where upstream overrides a baseline check at the restricted level with
//! a restricted one that exempts the pod (Windows pods from v1.25): then the baseline hit fails
//! baseline only. The caller grades a hit an error when it fails the enforced level and a
//! warning when it fails only the warned one.

use std::borrow::Cow;
use std::collections::BTreeMap;

use prodready_sdk::k8s_openapi::api::core::v1 as core;
use prodready_sdk::schemars::{self, JsonSchema};
use prodready_sdk::{Check, ContainerRef, Workload};
use serde::{Deserialize, Serialize};

use crate::settings::Settings;
use crate::{
    APPARMOR, CAPABILITIES, HOST_NAMESPACES, HOST_PATH, HOST_PORTS, HOST_PROBES, HOST_PROCESS,
    PRIVILEGE_ESCALATION, PRIVILEGED, PROC_MOUNT, RUN_AS_NON_ROOT, SECCOMP, SELINUX, SYSCTLS_PSS,
    VOLUME_TYPES,
};

/// A Pod Security Standards level.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Privileged,
    Baseline,
    Restricted,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }

    /// As `api.ParseLevel`: exact, lowercase.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "privileged" => Some(Level::Privileged),
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }
}

/// The newest policy version whose rules this crate implements: the checks of
/// pod-security-admission's release-1.36 branch (its newest revision is v1.35). Any later
/// version, and `latest`, evaluate as this one, as the admission plugin caps a requested
/// version at the newest it knows.
pub const NEWEST_MINOR: u32 = 36;

/// A policy version: `latest` or `v1.N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PssVersion {
    Latest,
    Minor(u32),
}

impl PssVersion {
    pub const fn minor(n: u32) -> PssVersion {
        PssVersion::Minor(n)
    }

    /// As `api.ParseVersion`: `latest`, or `v1.` and a minor without leading zeros.
    pub fn parse(s: &str) -> Option<PssVersion> {
        if s == "latest" {
            return Some(PssVersion::Latest);
        }
        let minor = s.strip_prefix("v1.")?;
        let ok = !minor.is_empty()
            && minor.bytes().all(|b| b.is_ascii_digit())
            && (minor == "0" || !minor.starts_with('0'))
            && minor.len() <= 9;
        if !ok {
            return None;
        }
        minor.parse().ok().map(PssVersion::Minor)
    }

    /// The minor version whose rules apply: capped at [`NEWEST_MINOR`].
    pub fn effective(self) -> u32 {
        match self {
            PssVersion::Latest => NEWEST_MINOR,
            PssVersion::Minor(m) => m.min(NEWEST_MINOR),
        }
    }
}

impl std::fmt::Display for PssVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PssVersion::Latest => f.write_str("latest"),
            PssVersion::Minor(m) => write!(f, "v1.{m}"),
        }
    }
}

impl Serialize for PssVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PssVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        PssVersion::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "version \"{s}\" must be \"latest\" or \"v1.N\" (e.g. \"v1.33\"), as the pod-security.kubernetes.io/*-version labels spell it"
            ))
        })
    }
}

impl JsonSchema for PssVersion {
    fn schema_name() -> Cow<'static, str> {
        "PssVersion".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = <String as JsonSchema>::json_schema(generator);
        schema.insert(
            "pattern".into(),
            serde_json::Value::String("^(latest|v1\\.(0|[1-9][0-9]*))$".into()),
        );
        schema
    }
}

/// One level and version to evaluate at (one of a namespace's enforce and warn modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelVersion {
    pub level: Level,
    pub version: PssVersion,
}

/// The enforce and warn modes that apply to a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub enforce: LevelVersion,
    pub warn: LevelVersion,
}

pub const ENFORCE_LABEL: &str = "pod-security.kubernetes.io/enforce";
pub const ENFORCE_VERSION_LABEL: &str = "pod-security.kubernetes.io/enforce-version";
pub const WARN_LABEL: &str = "pod-security.kubernetes.io/warn";
pub const WARN_VERSION_LABEL: &str = "pod-security.kubernetes.io/warn-version";

impl Policy {
    /// The settings' defaults.
    pub fn of(s: &Settings) -> Policy {
        Policy {
            enforce: LevelVersion {
                level: s.enforce,
                version: s.version,
            },
            warn: LevelVersion {
                level: s.warn,
                version: s.version,
            },
        }
    }

    /// A namespace's labels over the defaults, as `api.PolicyToEvaluate` resolves them: an
    /// invalid enforce level is restricted, an invalid warn level privileged (fail open), an
    /// invalid version latest; warn follows an explicit, stricter enforce level unless set.
    pub fn with_labels(mut self, labels: &BTreeMap<String, String>) -> Policy {
        let mut has_enforce_level = false;
        if let Some(l) = labels.get(ENFORCE_LABEL) {
            let parsed = Level::parse(l);
            has_enforce_level = parsed.is_some();
            self.enforce.level = parsed.unwrap_or(Level::Restricted);
        }
        if let Some(v) = labels.get(ENFORCE_VERSION_LABEL) {
            self.enforce.version = PssVersion::parse(v).unwrap_or(PssVersion::Latest);
        }
        let has_warn_level = labels.contains_key(WARN_LABEL);
        if let Some(l) = labels.get(WARN_LABEL) {
            self.warn.level = Level::parse(l).unwrap_or(Level::Privileged);
        }
        let has_warn_version = labels.contains_key(WARN_VERSION_LABEL);
        if let Some(v) = labels.get(WARN_VERSION_LABEL) {
            self.warn.version = PssVersion::parse(v).unwrap_or(PssVersion::Latest);
        }
        if !has_warn_level && has_enforce_level && self.enforce.level > self.warn.level {
            self.warn.level = self.enforce.level;
            if !has_warn_version {
                self.warn.version = self.enforce.version;
            }
        }
        self
    }
}

/// A control's finding, with the levels it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub check: &'static Check,
    pub path: String,
    pub message: String,
    pub baseline: bool,
    pub restricted: bool,
}

impl Hit {
    /// Whether the pod fails `level` for this hit.
    pub fn fails(&self, level: Level) -> bool {
        match level {
            Level::Privileged => false,
            Level::Baseline => self.baseline,
            Level::Restricted => self.restricted,
        }
    }

    /// The lowest level this hit fails.
    pub fn level(&self) -> Level {
        if self.baseline {
            Level::Baseline
        } else {
            Level::Restricted
        }
    }
}

/// Capabilities baseline allows in `add` (`capabilities_allowed_1_0`).
pub const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls baseline allows, with the policy version each was added in (`check_sysctls.go`).
pub const PSS_SYSCTLS: [(&str, u32); 12] = [
    ("kernel.shm_rmid_forced", 0),
    ("net.ipv4.ip_local_port_range", 0),
    ("net.ipv4.tcp_syncookies", 0),
    ("net.ipv4.ping_group_range", 0),
    ("net.ipv4.ip_unprivileged_port_start", 0),
    ("net.ipv4.ip_local_reserved_ports", 27),
    ("net.ipv4.tcp_keepalive_time", 29),
    ("net.ipv4.tcp_fin_timeout", 29),
    ("net.ipv4.tcp_keepalive_intvl", 29),
    ("net.ipv4.tcp_keepalive_probes", 29),
    ("net.ipv4.tcp_rmem", 32),
    ("net.ipv4.tcp_wmem", 32),
];

/// Whether baseline at policy version `minor` allows the sysctl (exact name, no `/`→`.`).
pub fn sysctl_allowed(name: &str, minor: u32) -> bool {
    PSS_SYSCTLS
        .iter()
        .any(|(n, since)| *n == name && minor >= *since)
}

/// Volume sources restricted allows (`restrictedVolumes`); hostPath is host-path's.
pub const RESTRICTED_VOLUME_SOURCES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_ANNOTATION: &str = "container.apparmor.security.beta.kubernetes.io/";

fn valid_seccomp_type(t: &str) -> bool {
    t == "RuntimeDefault" || t == "Localhost"
}

fn valid_seccomp_annotation(v: &str) -> bool {
    v == "runtime/default" || v == "docker/default" || v.starts_with("localhost/")
}

fn valid_apparmor_type(t: &str) -> bool {
    t == "RuntimeDefault" || t == "Localhost"
}

fn valid_apparmor_annotation(v: &str) -> bool {
    v.is_empty() || v == "runtime/default" || v.starts_with("localhost/")
}

fn selinux_type_allowed(t: &str, minor: u32) -> bool {
    matches!(
        t,
        "" | "container_t" | "container_init_t" | "container_kvm_t"
    ) || (minor >= 31 && t == "container_engine_t")
}

fn quote_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the controls read of one pod, and where hits go.
struct Eval<'w, 'a> {
    w: &'w Workload<'a>,
    s: &'w Settings,
    minor: u32,
    /// `spec.os.name` is `windows` (exact).
    windows: bool,
    /// `spec.hostUsers` is explicitly false (the pod runs in a user namespace).
    user_namespace: bool,
    pod_sc: Option<&'w core::PodSecurityContext>,
    hits: Vec<Hit>,
}

impl<'w, 'a> Eval<'w, 'a> {
    fn hit(
        &mut self,
        check: &'static Check,
        path: String,
        message: String,
        baseline: bool,
        restricted: bool,
    ) {
        self.hits.push(Hit {
            check,
            path,
            message,
            baseline,
            restricted,
        });
    }

    /// A baseline control's hit (it fails restricted too, unless `restricted` says not).
    fn baseline(&mut self, check: &'static Check, path: String, message: String) {
        self.hit(check, path, message, true, true);
    }

    fn restricted(&mut self, check: &'static Check, path: String, message: String) {
        self.hit(check, path, message, false, true);
    }

    fn containers(&self) -> Vec<ContainerRef<'w, 'a>> {
        self.w.every_container().collect()
    }

    /// From v1.25 restricted's capabilities, seccomp and allowPrivilegeEscalation checks
    /// allow Windows pods outright (`spec.os.name: windows`).
    fn windows_exempt(&self) -> bool {
        self.minor >= 25 && self.windows
    }

    // ---- baseline ----------------------------------------------------------------------

    fn host_namespaces(&mut self) {
        let spec = &self.w.spec;
        for (field, set, what) in [
            (
                "hostNetwork",
                spec.host_network,
                "the node's network namespace (every port and interface of the node)",
            ),
            (
                "hostPID",
                spec.host_pid,
                "the node's process namespace (every process of the node, and their environments)",
            ),
            (
                "hostIPC",
                spec.host_ipc,
                "the node's IPC namespace (shared memory of every process)",
            ),
        ] {
            if set == Some(true) {
                let path = self.w.path(field);
                self.baseline(
                    &HOST_NAMESPACES,
                    path,
                    format!("{field}: true shares {what} with the pod; remove it"),
                );
            }
        }
    }

    fn privileged(&mut self) {
        for c in self.containers() {
            if c.security_context().and_then(|sc| sc.privileged) == Some(true) {
                self.baseline(
                    &PRIVILEGED,
                    c.field("securityContext.privileged"),
                    format!("container \"{}\" sets securityContext.privileged: true, which gives it every device and capability of the node; remove it and add only the capability it needs", c.name()),
                );
            }
        }
    }

    fn capabilities(&mut self) {
        // Restricted's check (v1.22+) replaces baseline's at the restricted level; from v1.25
        // it allows Windows pods, so a baseline hit of a Windows pod then fails baseline only.
        let restricted_check = self.minor >= 22;
        let restricted_applies = restricted_check && !self.windows_exempt();
        let baseline_fails_restricted = !restricted_check || restricted_applies;
        for c in self.containers() {
            let caps = c.security_context().and_then(|sc| sc.capabilities.as_ref());
            let add: Vec<&str> = caps
                .and_then(|k| k.add.as_deref())
                .unwrap_or_default()
                .iter()
                .map(String::as_str)
                .collect();
            let beyond: Vec<&str> = add
                .iter()
                .copied()
                .filter(|a| !BASELINE_CAPABILITIES.contains(a))
                .collect();
            if !beyond.is_empty() {
                let message = format!(
                    "container \"{}\" adds {} in securityContext.capabilities.add, beyond the default set the runtime grants; remove them (names are exact and uppercase, without CAP_)",
                    c.name(),
                    quote_list(&beyond)
                );
                self.hit(
                    &CAPABILITIES,
                    c.field("securityContext.capabilities.add"),
                    message,
                    true,
                    baseline_fails_restricted,
                );
            }
            if !restricted_applies {
                continue;
            }
            let drops_all = caps
                .and_then(|k| k.drop.as_deref())
                .unwrap_or_default()
                .iter()
                .any(|d| d == "ALL");
            if !drops_all {
                self.restricted(
                    &CAPABILITIES,
                    c.field("securityContext.capabilities.drop"),
                    format!("container \"{}\" does not drop every capability: set securityContext.capabilities.drop: [\"ALL\"] (exactly \"ALL\", uppercase)", c.name()),
                );
            }
            let default_added: Vec<&str> = add
                .iter()
                .copied()
                .filter(|a| BASELINE_CAPABILITIES.contains(a) && *a != "NET_BIND_SERVICE")
                .collect();
            if !default_added.is_empty() {
                self.restricted(
                    &CAPABILITIES,
                    c.field("securityContext.capabilities.add"),
                    format!(
                        "container \"{}\" adds {} in securityContext.capabilities.add; restricted allows only NET_BIND_SERVICE, so remove them",
                        c.name(),
                        quote_list(&default_added)
                    ),
                );
            }
        }
    }

    fn host_path(&mut self) {
        let w = self.w;
        for (path, v) in w.volumes() {
            if !v.has_source("hostPath") {
                continue;
            }
            let source: Option<core::HostPathVolumeSource> = v.source("hostPath", || path.clone());
            let host = source.as_ref().map_or("", |h| h.path.as_str());
            if self.s.host_path_allowed(host) {
                continue;
            }
            self.baseline(
                &HOST_PATH,
                format!("{path}.hostPath"),
                format!("volume \"{}\" mounts the node's {host} (hostPath), which exposes the node's files to the pod; use a persistentVolumeClaim, emptyDir, configMap or secret instead, or list the path in allowedHostPaths", v.name),
            );
        }
    }

    fn host_ports(&mut self) {
        for c in self.containers() {
            for (i, p) in c.ports().iter().enumerate() {
                let Some(port) = p.host_port.filter(|n| *n != 0) else {
                    continue;
                };
                if self.s.allowed_host_ports.contains(&port) {
                    continue;
                }
                self.baseline(
                    &HOST_PORTS,
                    c.field(&format!("ports[{i}].hostPort")),
                    format!("container \"{}\" binds hostPort {port} on the node; expose it through a Service instead, or list the port in allowedHostPorts", c.name()),
                );
            }
        }
    }

    fn apparmor(&mut self) {
        if let Some(t) = self
            .pod_sc
            .and_then(|sc| sc.app_armor_profile.as_ref())
            .map(|p| p.type_.as_str())
            .filter(|t| !valid_apparmor_type(t))
        {
            let path = self.w.path("securityContext.appArmorProfile.type");
            self.baseline(
                &APPARMOR,
                path,
                format!("the pod sets securityContext.appArmorProfile.type \"{t}\"; use RuntimeDefault or Localhost, or leave it unset"),
            );
        }
        for c in self.containers() {
            if let Some(t) = c
                .security_context()
                .and_then(|sc| sc.app_armor_profile.as_ref())
                .map(|p| p.type_.as_str())
                .filter(|t| !valid_apparmor_type(t))
            {
                self.baseline(
                    &APPARMOR,
                    c.field("securityContext.appArmorProfile.type"),
                    format!("container \"{}\" sets securityContext.appArmorProfile.type \"{t}\"; use RuntimeDefault or Localhost, or leave it unset", c.name()),
                );
            }
        }
        let w = self.w;
        for (k, v) in &w.pod_annotations {
            if k.starts_with(APPARMOR_ANNOTATION) && !valid_apparmor_annotation(v) {
                self.baseline(
                    &APPARMOR,
                    w.pod_metadata_path(&format!("annotations[\"{k}\"]")),
                    format!("annotation {k}: \"{v}\" disables or replaces the default AppArmor profile; use runtime/default or localhost/<profile>, or remove it"),
                );
            }
        }
    }

    fn selinux(&mut self) {
        let minor = self.minor;
        let problems = |o: &core::SELinuxOptions| -> Vec<String> {
            let mut p = Vec::new();
            if let Some(t) = o
                .type_
                .as_deref()
                .filter(|t| !selinux_type_allowed(t, minor))
            {
                p.push(format!("type \"{t}\""));
            }
            if o.user.as_deref().is_some_and(|u| !u.is_empty()) {
                p.push("a user".to_string());
            }
            if o.role.as_deref().is_some_and(|r| !r.is_empty()) {
                p.push("a role".to_string());
            }
            p
        };
        let allowed = if minor >= 31 {
            "container_t, container_init_t, container_kvm_t or container_engine_t"
        } else {
            "container_t, container_init_t or container_kvm_t"
        };
        if let Some(p) = self
            .pod_sc
            .and_then(|sc| sc.se_linux_options.as_ref())
            .map(problems)
            .filter(|p| !p.is_empty())
        {
            let path = self.w.path("securityContext.seLinuxOptions");
            self.baseline(
                &SELINUX,
                path,
                format!("the pod sets securityContext.seLinuxOptions with {}; set no user or role, and a type only of {allowed}", p.join(" and ")),
            );
        }
        for c in self.containers() {
            if let Some(p) = c
                .security_context()
                .and_then(|sc| sc.se_linux_options.as_ref())
                .map(problems)
                .filter(|p| !p.is_empty())
            {
                self.baseline(
                    &SELINUX,
                    c.field("securityContext.seLinuxOptions"),
                    format!("container \"{}\" sets securityContext.seLinuxOptions with {}; set no user or role, and a type only of {allowed}", c.name(), p.join(" and ")),
                );
            }
        }
    }

    fn proc_mount(&mut self) {
        // From v1.35 baseline allows any procMount in a user namespace; restricted's own
        // check (v1.35+) still does not.
        let relaxed = self.minor >= 35 && self.user_namespace;
        for c in self.containers() {
            let Some(pm) = c
                .security_context()
                .and_then(|sc| sc.proc_mount.as_deref())
                .filter(|pm| *pm != "Default")
            else {
                continue;
            };
            self.hit(
                &PROC_MOUNT,
                c.field("securityContext.procMount"),
                format!("container \"{}\" sets securityContext.procMount \"{pm}\", which unmasks /proc; remove it (or set Default)", c.name()),
                !relaxed,
                true,
            );
        }
    }

    fn seccomp(&mut self) {
        if self.minor < 19 {
            // v1.0–v1.18: the annotations, and restricted adds nothing.
            let w = self.w;
            if let Some(v) = w
                .pod_annotations
                .get(SECCOMP_POD_ANNOTATION)
                .filter(|v| !valid_seccomp_annotation(v))
            {
                self.baseline(
                    &SECCOMP,
                    w.pod_metadata_path(&format!("annotations[\"{SECCOMP_POD_ANNOTATION}\"]")),
                    format!("annotation {SECCOMP_POD_ANNOTATION}: \"{v}\" is not runtime/default, docker/default or localhost/<profile>; use runtime/default"),
                );
            }
            for c in self.containers() {
                let key = format!("{SECCOMP_CONTAINER_ANNOTATION}{}", c.name());
                if let Some(v) = w
                    .pod_annotations
                    .get(&key)
                    .filter(|v| !valid_seccomp_annotation(v))
                {
                    self.baseline(
                        &SECCOMP,
                        w.pod_metadata_path(&format!("annotations[\"{key}\"]")),
                        format!("annotation {key}: \"{v}\" is not runtime/default, docker/default or localhost/<profile>; use runtime/default"),
                    );
                }
            }
            return;
        }
        // v1.19+: the fields. Restricted's check replaces baseline's at the restricted level
        // and, from v1.25, allows Windows pods.
        let restricted_applies = !self.windows_exempt();
        let pod_type = self
            .pod_sc
            .and_then(|sc| sc.seccomp_profile.as_ref())
            .map(|p| p.type_.as_str());
        if let Some(t) = pod_type.filter(|t| !valid_seccomp_type(t)) {
            let path = self.w.path("securityContext.seccompProfile.type");
            self.hit(
                &SECCOMP,
                path,
                format!("the pod sets securityContext.seccompProfile.type \"{t}\", which runs it without a seccomp filter; use RuntimeDefault (or Localhost)"),
                true,
                restricted_applies,
            );
        }
        let pod_valid = pod_type.is_some_and(valid_seccomp_type);
        let mut implicit = Vec::new();
        for c in self.containers() {
            let t = c
                .security_context()
                .and_then(|sc| sc.seccomp_profile.as_ref())
                .map(|p| p.type_.as_str());
            match t {
                Some(t) if !valid_seccomp_type(t) => self.hit(
                    &SECCOMP,
                    c.field("securityContext.seccompProfile.type"),
                    format!("container \"{}\" sets securityContext.seccompProfile.type \"{t}\", which runs it without a seccomp filter; use RuntimeDefault (or Localhost)", c.name()),
                    true,
                    restricted_applies,
                ),
                Some(_) => {}
                None => implicit.push(c),
            }
        }
        // Containers without a profile of their own pass only under a valid pod-level one;
        // a pod-level bad type is already reported above.
        if !restricted_applies || pod_valid || pod_type.is_some() || implicit.is_empty() {
            return;
        }
        let fix = "set securityContext.seccompProfile.type: RuntimeDefault";
        if implicit.len() == self.w.every_container().count() {
            let path = self.w.path("securityContext.seccompProfile");
            self.restricted(
                &SECCOMP,
                path,
                format!("no seccomp profile is set for the pod or its containers; {fix} at the pod level"),
            );
        } else {
            for c in implicit {
                self.restricted(
                    &SECCOMP,
                    c.field("securityContext.seccompProfile"),
                    format!("container \"{}\" has no seccomp profile and the pod sets none; {fix} on the pod or the container", c.name()),
                );
            }
        }
    }

    fn sysctls(&mut self) {
        let Some(sysctls) = self.pod_sc.and_then(|sc| sc.sysctls.as_deref()) else {
            return;
        };
        for (i, sysctl) in sysctls.iter().enumerate() {
            let name = sysctl.name.as_str();
            if sysctl_allowed(name, self.minor) {
                continue;
            }
            let why = sysctl_detail(name, self.minor);
            let path = self.w.path(&format!("securityContext.sysctls[{i}].name"));
            self.baseline(
                &SYSCTLS_PSS,
                path,
                format!("the pod sets sysctl \"{name}\", which is not one of the safe sysctls baseline allows at v1.{}; {why}", self.minor),
            );
        }
    }

    fn host_process(&mut self) {
        if self
            .pod_sc
            .and_then(|sc| sc.windows_options.as_ref())
            .and_then(|o| o.host_process)
            == Some(true)
        {
            let path = self.w.path("securityContext.windowsOptions.hostProcess");
            self.baseline(
                &HOST_PROCESS,
                path,
                "the pod sets securityContext.windowsOptions.hostProcess: true, which runs its containers as processes on the Windows node; remove it".to_string(),
            );
        }
        for c in self.containers() {
            if c.security_context()
                .and_then(|sc| sc.windows_options.as_ref())
                .and_then(|o| o.host_process)
                == Some(true)
            {
                self.baseline(
                    &HOST_PROCESS,
                    c.field("securityContext.windowsOptions.hostProcess"),
                    format!("container \"{}\" sets securityContext.windowsOptions.hostProcess: true, which runs it as a process on the Windows node; remove it", c.name()),
                );
            }
        }
    }

    fn host_probes(&mut self) {
        if self.minor < 34 {
            return;
        }
        for c in self.containers() {
            let mut hosts: Vec<(String, String)> = Vec::new();
            for (field, probe) in [
                ("livenessProbe", c.liveness_probe()),
                ("readinessProbe", c.readiness_probe()),
                ("startupProbe", c.startup_probe()),
            ] {
                let Some(p) = probe else { continue };
                if let Some(h) = p.http_get.as_ref().and_then(|h| h.host.as_deref()) {
                    hosts.push((format!("{field}.httpGet.host"), h.to_string()));
                }
                if let Some(h) = p.tcp_socket.as_ref().and_then(|t| t.host.as_deref()) {
                    hosts.push((format!("{field}.tcpSocket.host"), h.to_string()));
                }
            }
            if let Some(l) = c.lifecycle() {
                for (field, handler) in [("postStart", &l.post_start), ("preStop", &l.pre_stop)] {
                    let Some(hd) = handler else { continue };
                    if let Some(h) = hd.http_get.as_ref().and_then(|h| h.host.as_deref()) {
                        hosts.push((format!("lifecycle.{field}.httpGet.host"), h.to_string()));
                    }
                    if let Some(h) = hd.tcp_socket.as_ref().and_then(|t| t.host.as_deref()) {
                        hosts.push((format!("lifecycle.{field}.tcpSocket.host"), h.to_string()));
                    }
                }
            }
            for (field, host) in hosts.into_iter().filter(|(_, h)| !h.is_empty()) {
                self.baseline(
                    &HOST_PROBES,
                    c.field(&field),
                    format!("container \"{}\" sets {field} \"{host}\": the kubelet would connect from the node to any address named there; remove host so the probe targets the pod's own IP", c.name()),
                );
            }
        }
    }

    // ---- restricted --------------------------------------------------------------------

    fn volume_types(&mut self) {
        let w = self.w;
        for (path, v) in w.volumes() {
            let mut names = v.source_names().peekable();
            // A volume without a source is defaulted to emptyDir by the API server.
            if names.peek().is_none() {
                continue;
            }
            let sources: Vec<&str> = v.source_names().collect();
            if sources
                .iter()
                .any(|s| RESTRICTED_VOLUME_SOURCES.contains(s) || *s == "hostPath")
            {
                continue;
            }
            self.restricted(
                &VOLUME_TYPES,
                path.clone(),
                format!(
                    "volume \"{}\" uses {}, which restricted does not allow; use configMap, secret, emptyDir, projected, downwardAPI, persistentVolumeClaim, csi, ephemeral or image (a PersistentVolume can use any storage)",
                    v.name,
                    quote_list(&sources)
                ),
            );
        }
    }

    fn privilege_escalation(&mut self) {
        if self.minor < 8 || self.windows_exempt() {
            return;
        }
        for c in self.containers() {
            let v = c
                .security_context()
                .and_then(|sc| sc.allow_privilege_escalation);
            if v != Some(false) {
                let how = if v == Some(true) {
                    "sets it to true"
                } else {
                    "leaves it unset (true)"
                };
                self.restricted(
                    &PRIVILEGE_ESCALATION,
                    c.field("securityContext.allowPrivilegeEscalation"),
                    format!("container \"{}\" {how}: setuid binaries can gain privileges; set securityContext.allowPrivilegeEscalation: false", c.name()),
                );
            }
        }
    }

    fn run_as_non_root(&mut self) {
        // From v1.35, a pod in a user namespace (hostUsers: false) passes both checks.
        if self.minor >= 35 && self.user_namespace {
            return;
        }
        let pod = self.pod_sc.and_then(|sc| sc.run_as_non_root);
        if pod == Some(false) {
            let path = self.w.path("securityContext.runAsNonRoot");
            self.restricted(
                &RUN_AS_NON_ROOT,
                path,
                "the pod sets securityContext.runAsNonRoot: false; set it to true (and run the image as a non-root user)".to_string(),
            );
        }
        let mut implicit = Vec::new();
        for c in self.containers() {
            match c.security_context().and_then(|sc| sc.run_as_non_root) {
                Some(false) => self.restricted(
                    &RUN_AS_NON_ROOT,
                    c.field("securityContext.runAsNonRoot"),
                    format!("container \"{}\" sets securityContext.runAsNonRoot: false; set it to true (and run the image as a non-root user)", c.name()),
                ),
                Some(true) => {}
                None => implicit.push(c),
            }
        }
        if pod.is_none() && !implicit.is_empty() {
            if implicit.len() == self.w.every_container().count() {
                let path = self.w.path("securityContext.runAsNonRoot");
                self.restricted(
                    &RUN_AS_NON_ROOT,
                    path,
                    "neither the pod nor its containers set securityContext.runAsNonRoot: true (a non-zero runAsUser does not count); set it at the pod level".to_string(),
                );
            } else {
                for c in implicit {
                    self.restricted(
                        &RUN_AS_NON_ROOT,
                        c.field("securityContext.runAsNonRoot"),
                        format!("container \"{}\" does not set securityContext.runAsNonRoot and the pod does not set it true; set it true on the pod or the container", c.name()),
                    );
                }
            }
        }
        if self.minor < 23 {
            return;
        }
        if self.pod_sc.and_then(|sc| sc.run_as_user) == Some(0) {
            let path = self.w.path("securityContext.runAsUser");
            self.restricted(
                &RUN_AS_NON_ROOT,
                path,
                "the pod sets securityContext.runAsUser: 0 (root); use a non-zero user id"
                    .to_string(),
            );
        }
        for c in self.containers() {
            if c.security_context().and_then(|sc| sc.run_as_user) == Some(0) {
                self.restricted(
                    &RUN_AS_NON_ROOT,
                    c.field("securityContext.runAsUser"),
                    format!("container \"{}\" sets securityContext.runAsUser: 0 (root); use a non-zero user id", c.name()),
                );
            }
        }
    }
}

/// What else is true of a sysctl outside the PSS list: what the kubelet does with it.
pub fn sysctl_detail(name: &str, minor: u32) -> String {
    if name.contains('/') {
        let dotted = slash_to_dots(name);
        if PSS_SYSCTLS.iter().any(|(n, _)| *n == dotted) {
            return format!("Pod Security compares names exactly, so write it \"{dotted}\"");
        }
    }
    if let Some((_, since)) = PSS_SYSCTLS.iter().find(|(n, _)| *n == name) {
        return format!(
            "it is allowed from v1.{since}; raise the version setting if your cluster is at v1.{since} or later (now v1.{minor})"
        );
    }
    if !is_namespaced(name) {
        return "it is not namespaced, so no pod can set it (the kubelet refuses it whatever it allows); set it on the node (a node tuning DaemonSet, or the node image)".to_string();
    }
    "the kubelet also refuses it unless the node allows it with --allowed-unsafe-sysctls; remove it, or run the pod in a namespace whose Pod Security level allows it on nodes tuned for it".to_string()
}

/// The kubelet's name normalisation (`ConvertSysctlVariableToDotsSeparator`): when the first
/// separator is `/`, `/` and `.` swap.
pub fn slash_to_dots(name: &str) -> String {
    match name.find(['.', '/']) {
        Some(i) if name.as_bytes().get(i) == Some(&b'/') => name
            .chars()
            .map(|c| match c {
                '/' => '.',
                '.' => '/',
                c => c,
            })
            .collect(),
        _ => name.to_string(),
    }
}

/// Whether a sysctl lives in a namespace a pod has (kubelet `namespace.go`): ipc
/// (`kernel.shm*`, `kernel.msg*`, `kernel.sem`, `fs.mqueue.*`) or net (`net.*`).
pub fn is_namespaced(name: &str) -> bool {
    let name = slash_to_dots(name);
    name.starts_with("kernel.shm")
        || name.starts_with("kernel.msg")
        || name == "kernel.sem"
        || name.starts_with("fs.mqueue.")
        || name.starts_with("net.")
}

/// Every Pod Security control's hits for this pod spec at policy version `minor`.
pub fn evaluate(w: &Workload<'_>, s: &Settings, minor: u32) -> Vec<Hit> {
    let windows = w
        .spec
        .os
        .get_at(|| w.path("os"))
        .is_some_and(|os| os.name == "windows");
    let mut e = Eval {
        w,
        s,
        minor,
        windows,
        user_namespace: w.spec.host_users == Some(false),
        pod_sc: w.spec.security_context.get_at(|| w.path("securityContext")),
        hits: Vec::new(),
    };
    // Upstream's order: baseline checks, then restricted ones.
    e.apparmor();
    e.capabilities();
    e.host_namespaces();
    e.host_path();
    e.host_ports();
    e.host_probes();
    e.privileged();
    e.proc_mount();
    e.selinux();
    e.seccomp();
    e.sysctls();
    e.host_process();
    e.privilege_escalation();
    e.volume_types();
    e.run_as_non_root();
    e.hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::WorkloadKind;
    use prodready_sdk::testing::workload_of;
    use serde_json::{Value, json};

    fn hits(spec: Value, minor: u32) -> Vec<Hit> {
        let w = workload_of(WorkloadKind::Deployment, json!({"app": "web"}), spec);
        evaluate(&w, &Settings::default(), minor)
    }

    /// (check id, fails baseline, fails restricted) of every hit.
    fn summary(spec: Value, minor: u32) -> Vec<(&'static str, bool, bool)> {
        hits(spec, minor)
            .iter()
            .map(|h| (h.check.id, h.baseline, h.restricted))
            .collect()
    }

    fn restricted_pod() -> Value {
        json!({
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "app", "image": "app:1", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]
        })
    }

    #[test]
    fn a_restricted_pod_passes_at_every_version() {
        for minor in [0, 8, 19, 22, 23, 25, 31, 34, 35, 36] {
            assert_eq!(summary(restricted_pod(), minor), [], "v1.{minor}");
        }
    }

    #[test]
    fn a_bare_pod_fails_restricted_only_and_by_version() {
        let bare = json!({"containers": [{"name": "app", "image": "app:1"}]});
        let ids =
            |minor| -> Vec<&str> { summary(bare.clone(), minor).iter().map(|h| h.0).collect() };
        assert_eq!(
            ids(36),
            [
                "capabilities",
                "seccomp",
                "privilege-escalation",
                "run-as-non-root"
            ]
        );
        assert!(summary(bare.clone(), 36).iter().all(|h| !h.1 && h.2));
        // Before v1.22 there is no drop-ALL rule, before v1.19 no seccomp rule, before v1.8
        // no allowPrivilegeEscalation rule.
        assert_eq!(
            ids(21),
            ["seccomp", "privilege-escalation", "run-as-non-root"]
        );
        assert_eq!(ids(18), ["privilege-escalation", "run-as-non-root"]);
        assert_eq!(ids(7), ["run-as-non-root"]);
    }

    #[test]
    fn capabilities_are_exact_strings() {
        let spec = |add: Value, drop: Value| json!({"containers": [{"name": "a", "securityContext": {"capabilities": {"add": add, "drop": drop}}}]});
        // Lowercase "all" does not drop everything; CAP_ prefix is not a default capability.
        let s = summary(spec(json!(["CHOWN"]), json!(["all"])), 33);
        assert!(s.contains(&("capabilities", false, true)));
        let s = summary(spec(json!(["CAP_CHOWN"]), json!(["ALL"])), 33);
        assert_eq!(
            s.iter()
                .filter(|h| h.0 == "capabilities")
                .collect::<Vec<_>>(),
            [&("capabilities", true, true)]
        );
        let s = summary(spec(json!(["NET_BIND_SERVICE"]), json!(["ALL"])), 33);
        assert!(s.iter().all(|h| h.0 != "capabilities"));
        // SYS_ADMIN: one baseline hit, not a second restricted one for the same add.
        let s = summary(spec(json!(["SYS_ADMIN"]), json!(["ALL"])), 33);
        assert_eq!(s.iter().filter(|h| h.0 == "capabilities").count(), 1);
    }

    #[test]
    fn windows_pods_are_exempt_from_three_restricted_checks_from_1_25() {
        let spec = json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "a"}]});
        assert_eq!(summary(spec.clone(), 25), []);
        let ids: Vec<&str> = summary(spec.clone(), 24).iter().map(|h| h.0).collect();
        assert_eq!(ids, ["capabilities", "seccomp", "privilege-escalation"]);
        // Keyed on spec.os.name only.
        let linux = json!({"nodeSelector": {"kubernetes.io/os": "windows"},
            "securityContext": {"runAsNonRoot": true}, "containers": [{"name": "a"}]});
        assert_eq!(summary(linux, 25).len(), 3);
        // A baseline capability hit of a Windows pod fails baseline only from v1.25 (the
        // restricted check that replaces it allows Windows pods).
        let add = json!({"os": {"name": "windows"}, "securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "a", "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}}}]});
        assert_eq!(summary(add.clone(), 25), [("capabilities", true, false)]);
        assert!(summary(add, 24).contains(&("capabilities", true, true)));
    }

    #[test]
    fn seccomp_by_version() {
        let unconfined = json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}},
            "containers": [{"name": "a", "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}]});
        assert!(summary(unconfined.clone(), 19).contains(&("seccomp", true, true)));
        // Before v1.19 only the annotations count.
        assert!(summary(unconfined, 18).iter().all(|h| h.0 != "seccomp"));
        let annotated = json!({"containers": [{"name": "a"}]});
        let w = prodready_sdk::testing::workload(&json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}},
            "spec": annotated}));
        let h = evaluate(&w, &Settings::default(), 18);
        assert!(h.iter().any(|h| h.check.id == "seccomp" && h.baseline));
        assert!(
            evaluate(&w, &Settings::default(), 19)
                .iter()
                .all(|h| !h.baseline)
        );
        // A container-level profile covers the container; the pod level covers the rest.
        let mixed = json!({"securityContext": {"runAsNonRoot": true},
            "containers": [
                {"name": "a", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}},
                {"name": "b", "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]});
        let h = hits(mixed, 33);
        assert_eq!(h.len(), 1);
        assert!(
            h[0].path
                .ends_with("containers[1].securityContext.seccompProfile"),
            "{}",
            h[0].path
        );
    }

    #[test]
    fn run_as_user_zero_from_1_23_and_user_namespaces_from_1_35() {
        let mut spec = restricted_pod();
        spec["securityContext"]["runAsUser"] = json!(0);
        assert_eq!(
            summary(spec.clone(), 23),
            [("run-as-non-root", false, true)]
        );
        assert_eq!(summary(spec.clone(), 22), []);
        spec["hostUsers"] = json!(false);
        assert_eq!(
            summary(spec.clone(), 34),
            [("run-as-non-root", false, true)]
        );
        assert_eq!(summary(spec, 35), []);
    }

    #[test]
    fn proc_mount_in_a_user_namespace() {
        let mut spec = restricted_pod();
        spec["containers"][0]["securityContext"]["procMount"] = json!("Unmasked");
        assert_eq!(summary(spec.clone(), 35), [("proc-mount", true, true)]);
        spec["hostUsers"] = json!(false);
        assert_eq!(summary(spec.clone(), 34), [("proc-mount", true, true)]);
        assert_eq!(summary(spec, 35), [("proc-mount", false, true)]);
    }

    #[test]
    fn sysctls_by_version_and_exact_names() {
        let spec = |name: &str| {
            let mut s = restricted_pod();
            s["securityContext"]["sysctls"] = json!([{"name": name, "value": "1"}]);
            s
        };
        assert_eq!(summary(spec("net.ipv4.tcp_rmem"), 32), []);
        assert_eq!(
            summary(spec("net.ipv4.tcp_rmem"), 31),
            [("sysctls-pss", true, true)]
        );
        assert_eq!(
            summary(spec("net/ipv4/tcp_syncookies"), 33),
            [("sysctls-pss", true, true)]
        );
        assert_eq!(
            summary(spec("net.core.somaxconn"), 33),
            [("sysctls-pss", true, true)]
        );
        assert!(
            hits(spec("vm.max_map_count"), 33)[0]
                .message
                .contains("not namespaced")
        );
    }

    #[test]
    fn selinux_types_by_version() {
        let spec = |t: &str| {
            let mut s = restricted_pod();
            s["securityContext"]["seLinuxOptions"] = json!({"type": t, "level": "s0:c1,c2"});
            s
        };
        assert_eq!(summary(spec("container_engine_t"), 31), []);
        assert_eq!(
            summary(spec("container_engine_t"), 30),
            [("selinux", true, true)]
        );
        assert_eq!(summary(spec("spc_t"), 33), [("selinux", true, true)]);
        let mut user = restricted_pod();
        user["containers"][0]["securityContext"]["seLinuxOptions"] = json!({"user": "system_u"});
        assert_eq!(summary(user, 33), [("selinux", true, true)]);
    }

    #[test]
    fn volumes_and_host_path() {
        let mut spec = restricted_pod();
        spec["volumes"] = json!([
            {"name": "a", "emptyDir": {}}, {"name": "b"}, {"name": "c", "image": {"reference": "x:1"}},
            {"name": "d", "nfs": {"server": "n", "path": "/"}},
            {"name": "e", "hostPath": {"path": "/var/log"}}]);
        assert_eq!(
            summary(spec, 33),
            [("host-path", true, true), ("volume-types", false, true)]
        );
    }

    #[test]
    fn probe_hosts_from_1_34() {
        let mut spec = restricted_pod();
        spec["containers"][0]["readinessProbe"] =
            json!({"httpGet": {"host": "10.0.0.1", "port": 80}});
        spec["containers"][0]["lifecycle"] =
            json!({"preStop": {"tcpSocket": {"host": "", "port": 80}}});
        assert_eq!(summary(spec.clone(), 33), []);
        assert_eq!(summary(spec, 34), [("host-probes", true, true)]);
    }

    #[test]
    fn apparmor_fields_and_annotations() {
        let mut spec = restricted_pod();
        spec["securityContext"]["appArmorProfile"] = json!({"type": "Unconfined"});
        assert_eq!(summary(spec, 0), [("apparmor", true, true)]);
        let w = prodready_sdk::testing::workload(&json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "annotations": {
                "container.apparmor.security.beta.kubernetes.io/any": "unconfined",
                "container.apparmor.security.beta.kubernetes.io/ok": "localhost/mine"}},
            "spec": restricted_pod()}));
        let h = evaluate(&w, &Settings::default(), 33);
        assert_eq!(h.len(), 1);
        assert_eq!(
            h[0].path,
            "metadata.annotations[\"container.apparmor.security.beta.kubernetes.io/any\"]"
        );
    }

    #[test]
    fn namespace_labels_resolve_as_pod_security_admission_does() {
        let base = Policy::of(&Settings::default());
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let p = base.with_labels(&labels(&[(ENFORCE_LABEL, "privileged")]));
        assert_eq!(p.enforce.level, Level::Privileged);
        assert_eq!(p.warn.level, Level::Restricted);
        // An explicit stricter enforce level raises warn too, with its version.
        let p = Policy::of(&serde_json::from_value(json!({"warn": "baseline"})).unwrap())
            .with_labels(&labels(&[
                (ENFORCE_LABEL, "restricted"),
                (ENFORCE_VERSION_LABEL, "v1.30"),
            ]));
        assert_eq!(p.warn.level, Level::Restricted);
        assert_eq!(p.warn.version, PssVersion::Minor(30));
        // Invalid values: enforce restricted, warn privileged, versions latest.
        let p = base.with_labels(&labels(&[
            (ENFORCE_LABEL, "Baseline"),
            (WARN_LABEL, "x"),
            (ENFORCE_VERSION_LABEL, "1.30"),
        ]));
        assert_eq!(p.enforce.level, Level::Restricted);
        assert_eq!(p.warn.level, Level::Privileged);
        assert_eq!(p.enforce.version, PssVersion::Latest);
    }

    #[test]
    fn versions() {
        assert_eq!(PssVersion::parse("latest"), Some(PssVersion::Latest));
        assert_eq!(PssVersion::parse("v1.0"), Some(PssVersion::Minor(0)));
        assert_eq!(
            PssVersion::parse("v1.99").map(PssVersion::effective),
            Some(NEWEST_MINOR)
        );
        for bad in ["v1.", "v1.01", "1.2", "v1.2.3", "v1.x", "v1.99999999999"] {
            assert_eq!(PssVersion::parse(bad), None, "{bad}");
        }
        assert_eq!(
            slash_to_dots("net/ipv4/conf/eno2.100/rp_filter"),
            "net.ipv4.conf.eno2/100.rp_filter"
        );
        assert!(is_namespaced("kernel.sem"));
        assert!(!is_namespaced("kernel.semx"));
        assert!(!is_namespaced("vm.swappiness"));
    }
}

//! The checks, as pure functions over the workload view, a Secret and a ConfigMap.

use std::collections::BTreeMap;

use prodready_sdk::k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, KeyToPath, ProjectedVolumeSource, SecretVolumeSource,
};
use prodready_sdk::run::Mode;
use prodready_sdk::{ContainerRef, Cx, Findings, Object, Workload};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::credentials::{
    Matcher, config_lines, credential_flags, credential_shape, literal_credential,
};
use crate::settings::Settings;
use crate::{
    CONFIG_MAP, CONFIG_REF_EXISTS, CONFIGMAP_SENSITIVE, ENV_LITERAL_CREDENTIAL, SECRET,
    SECRET_ENV_VAR, SECRET_PLAINTEXT,
};

pub fn check_workload(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let m = Matcher::new(cx.settings);
    for c in w.every_container() {
        env_literal_credential(&c, &m, out);
        secret_env_var(&c, out);
    }
    config_ref_exists(object, w, cx, out);
}

/// `data.name` for keys that read as a path segment, `data["app.properties"]` otherwise.
fn key_path(field: &str, key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        format!("{field}.{key}")
    } else {
        format!("{field}[{key:?}]")
    }
}

/// Up to five names, quoted, then how many more.
fn list(names: &[&str]) -> String {
    let mut s = names
        .iter()
        .take(5)
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > 5 {
        s.push_str(&format!(" and {} more", names.len() - 5));
    }
    s
}

// ---- base64 ------------------------------------------------------------------------------------

/// Decodes standard base64 (padding optional, whitespace ignored), as the API server decodes a
/// Secret's `data`. `None` when it is not base64.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut padding = false;
    for b in text.bytes() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if b == b'=' {
            padding = true;
            continue;
        }
        if padding {
            return None;
        }
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

// ---- secret-plaintext ----------------------------------------------------------------------

/// A Secret, as far as the check reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default)]
    pub data: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub string_data: Option<BTreeMap<String, Option<String>>>,
    /// SOPS metadata: present in a SOPS-encrypted file.
    #[serde(default)]
    pub sops: Option<IgnoredAny>,
}

/// Whether a Secret value is safe to keep in git: empty, SOPS-encrypted (with SOPS metadata
/// on the object), or a reference resolved at run time.
fn protected(value: &str, decoded: bool, sops: bool, s: &Settings) -> bool {
    if sops && value.trim_start().starts_with("ENC[") {
        return true;
    }
    let text = if decoded {
        match base64_decode(value) {
            Some(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => return false,
            },
            None => return false,
        }
    } else {
        value.to_string()
    };
    let text = text.trim();
    text.is_empty()
        || s.reference_prefixes
            .iter()
            .any(|p| text.starts_with(p.as_str()))
}

pub fn secret_plaintext(
    object: &Object<'_>,
    secret: &SecretView,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    let s = cx.settings;
    if cx.mode == Mode::Admission && !s.enforce_at_admission {
        return;
    }
    if let Some(t) = &secret.type_
        && s.allowed_types.iter().any(|a| a == t)
    {
        return;
    }
    if object
        .meta
        .owner_references
        .iter()
        .any(|o| s.allowed_owners.contains(&o.kind))
    {
        return;
    }
    let sops = secret.sops.is_some();
    let mut plain: Vec<(&'static str, &str)> = Vec::new();
    for (field, map, decoded) in [
        ("data", &secret.data, true),
        ("stringData", &secret.string_data, false),
    ] {
        for (k, v) in map.iter().flatten() {
            let v = v.as_deref().unwrap_or_default();
            if !protected(v, decoded, sops, s) {
                plain.push((field, k.as_str()));
            }
        }
    }
    let Some((field, _)) = plain.first() else {
        return;
    };
    let keys: Vec<&str> = plain.iter().map(|(_, k)| *k).collect();
    let (count, noun) = if keys.len() == 1 {
        ("a plaintext value".to_string(), "key")
    } else {
        (format!("{} plaintext values", keys.len()), "keys")
    };
    let (where_, remedy) = match cx.mode {
        Mode::Manifest => (
            "in a manifest set headed for git: base64 is an encoding, not encryption, so anyone with the repository reads it",
            "Commit a SealedSecret or an ExternalSecret instead, encrypt the file with SOPS, or store references (berglas://, vault:) that a webhook resolves",
        ),
        Mode::Admission => (
            "and was not written by a controller that decrypts or fetches Secrets (allowedOwners)",
            "Create it through a SealedSecret or an ExternalSecret, or exempt it with the prodready.io/skip-secret-plaintext annotation and a reason",
        ),
    };
    out.report(
        &SECRET_PLAINTEXT,
        (*field).to_string(),
        format!(
            "Secret {} holds {count} ({noun} {}) {where_}. {remedy}",
            object.reference.name,
            list(&keys)
        ),
    );
}

// ---- configmap-sensitive -------------------------------------------------------------------

/// A ConfigMap, as far as the check reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapView {
    #[serde(default)]
    pub data: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub binary_data: Option<BTreeMap<String, Option<String>>>,
}

pub fn configmap_sensitive(cm: &ConfigMapView, s: &Settings, out: &mut Findings) {
    let m = Matcher::new(s);
    let remedy = "Move it to a Secret (kept out of git with a SealedSecret, an ExternalSecret or SOPS) and reference it from the config, e.g. a ${VAR} placeholder or a *_file path";
    for (k, v) in cm.data.iter().flatten() {
        let v = v.as_deref().unwrap_or_default();
        if let Some(why) = literal_credential(k, v, &m) {
            out.report(
                &CONFIGMAP_SENSITIVE,
                key_path("data", k),
                format!(
                    "ConfigMap key \"{k}\" looks like a credential ({why}): ConfigMaps are not secret, anyone who can read the namespace's configuration (or the repository) reads it. {remedy}"
                ),
            );
            continue;
        }
        let keys = config_lines(v, &m);
        if !keys.is_empty() {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            out.report(
                &CONFIGMAP_SENSITIVE,
                key_path("data", k),
                format!(
                    "ConfigMap key \"{k}\" embeds a config file that sets {} to a literal value, which looks like a credential: ConfigMaps are not secret. {remedy}",
                    list(&keys)
                ),
            );
        }
    }
    for (k, v) in cm.binary_data.iter().flatten() {
        let text = v
            .as_deref()
            .and_then(base64_decode)
            .and_then(|b| String::from_utf8(b).ok());
        if let Some(shape) = text.as_deref().and_then(credential_shape) {
            out.report(
                &CONFIGMAP_SENSITIVE,
                key_path("binaryData", k),
                format!(
                    "ConfigMap binaryData key \"{k}\" holds {shape}: ConfigMaps are not secret. {remedy}"
                ),
            );
        }
    }
}

// ---- env-literal-credential ----------------------------------------------------------------

pub fn env_literal_credential(c: &ContainerRef<'_, '_>, m: &Matcher<'_>, out: &mut Findings) {
    for (i, e) in c.env().iter().enumerate() {
        let Some(value) = e.value.as_deref() else {
            continue;
        };
        if let Some(why) = literal_credential(&e.name, value, m) {
            out.report(
                &ENV_LITERAL_CREDENTIAL,
                c.field(&format!("env[{i}].value")),
                format!(
                    "container \"{}\": env {} is a literal credential ({why}): anyone who can read the manifest or the pod spec reads it. Put it in a Secret and mount it (or reference it with valueFrom.secretKeyRef)",
                    c.name(),
                    e.name
                ),
            );
        }
    }
    for (field, args) in [("command", c.command()), ("args", c.args())] {
        for (i, a) in args.iter().enumerate() {
            for (flag, why) in credential_flags(a, m) {
                out.report(
                    &ENV_LITERAL_CREDENTIAL,
                    c.field(&format!("{field}[{i}]")),
                    format!(
                        "container \"{}\": {field}[{i}] passes a literal credential in {flag} ({why}): command lines are visible in the pod spec and to every process of the node. Read it from a mounted Secret file, or pass $(VAR) of a variable set from a Secret",
                        c.name()
                    ),
                );
            }
        }
    }
}

// ---- secret-env-var ------------------------------------------------------------------------

pub fn secret_env_var(c: &ContainerRef<'_, '_>, out: &mut Findings) {
    let mut first: Option<String> = None;
    let mut what: Vec<String> = Vec::new();
    for (i, e) in c.env().iter().enumerate() {
        if let Some(r) = e
            .value_from
            .as_ref()
            .and_then(|v| v.secret_key_ref.as_ref())
        {
            first.get_or_insert_with(|| c.field(&format!("env[{i}].valueFrom.secretKeyRef")));
            what.push(format!("{} (Secret \"{}\")", e.name, r.name));
        }
    }
    for (i, e) in c.env_from().iter().enumerate() {
        if let Some(r) = &e.secret_ref {
            first.get_or_insert_with(|| c.field(&format!("envFrom[{i}].secretRef")));
            what.push(format!("every key of Secret \"{}\"", r.name));
        }
    }
    let Some(path) = first else {
        return;
    };
    out.report(
        &SECRET_ENV_VAR,
        path,
        format!(
            "container \"{}\" reads Secrets as environment variables: {}. The environment is inherited by every child process, shows up in crash reports and debug dumps, and keeps the old value when the Secret rotates. Mount the Secret as a volume and read the file instead (e.g. a *_FILE variable pointing at it)",
            c.name(),
            what.join(", ")
        ),
    );
}

// ---- config-ref-exists ---------------------------------------------------------------------

/// A reference from the pod to a ConfigMap or Secret.
struct Ref<'a> {
    kind: &'static str,
    name: &'a str,
    keys: Vec<&'a str>,
    optional: bool,
    path: String,
    /// Who references it, for the message: `container "web"` or `volume "config"`.
    by: String,
}

fn items(items: Option<&Vec<KeyToPath>>) -> Vec<&str> {
    items
        .into_iter()
        .flatten()
        .map(|i| i.key.as_str())
        .collect()
}

fn container_refs<'a>(c: &ContainerRef<'a, '_>, refs: &mut Vec<Ref<'a>>) {
    let by = format!("container \"{}\"", c.name());
    for (i, e) in c.env().iter().enumerate() {
        let Some(from) = &e.value_from else {
            continue;
        };
        if let Some(r) = &from.config_map_key_ref {
            refs.push(Ref {
                kind: CONFIG_MAP.kind,
                name: &r.name,
                keys: vec![r.key.as_str()],
                optional: r.optional == Some(true),
                path: c.field(&format!("env[{i}].valueFrom.configMapKeyRef")),
                by: by.clone(),
            });
        }
        if let Some(r) = &from.secret_key_ref {
            refs.push(Ref {
                kind: SECRET.kind,
                name: &r.name,
                keys: vec![r.key.as_str()],
                optional: r.optional == Some(true),
                path: c.field(&format!("env[{i}].valueFrom.secretKeyRef")),
                by: by.clone(),
            });
        }
    }
    for (i, e) in c.env_from().iter().enumerate() {
        if let Some(r) = &e.config_map_ref {
            refs.push(Ref {
                kind: CONFIG_MAP.kind,
                name: &r.name,
                keys: Vec::new(),
                optional: r.optional == Some(true),
                path: c.field(&format!("envFrom[{i}].configMapRef")),
                by: by.clone(),
            });
        }
        if let Some(r) = &e.secret_ref {
            refs.push(Ref {
                kind: SECRET.kind,
                name: &r.name,
                keys: Vec::new(),
                optional: r.optional == Some(true),
                path: c.field(&format!("envFrom[{i}].secretRef")),
                by: by.clone(),
            });
        }
    }
}

/// Volume sources parsed for the references they hold (kept so the references can borrow).
#[derive(Default)]
struct VolumeSources {
    config_maps: Vec<(String, String, ConfigMapVolumeSource)>,
    secrets: Vec<(String, String, SecretVolumeSource)>,
    projected: Vec<(String, String, ProjectedVolumeSource)>,
}

fn volume_sources(w: &Workload<'_>) -> VolumeSources {
    let mut v = VolumeSources::default();
    for (path, vol) in w.volumes() {
        let name = vol.name.to_string();
        if let Some(s) = vol.source::<ConfigMapVolumeSource>("configMap", || path.clone()) {
            v.config_maps
                .push((format!("{path}.configMap"), name.clone(), s));
        }
        if let Some(s) = vol.source::<SecretVolumeSource>("secret", || path.clone()) {
            v.secrets.push((format!("{path}.secret"), name.clone(), s));
        }
        if let Some(s) = vol.source::<ProjectedVolumeSource>("projected", || path.clone()) {
            v.projected.push((format!("{path}.projected"), name, s));
        }
    }
    v
}

fn volume_refs<'a>(v: &'a VolumeSources, refs: &mut Vec<Ref<'a>>) {
    for (path, vol, s) in &v.config_maps {
        refs.push(Ref {
            kind: CONFIG_MAP.kind,
            name: &s.name,
            keys: items(s.items.as_ref()),
            optional: s.optional == Some(true),
            path: path.clone(),
            by: format!("volume \"{vol}\""),
        });
    }
    for (path, vol, s) in &v.secrets {
        refs.push(Ref {
            kind: SECRET.kind,
            name: s.secret_name.as_deref().unwrap_or_default(),
            keys: items(s.items.as_ref()),
            optional: s.optional == Some(true),
            path: path.clone(),
            by: format!("volume \"{vol}\""),
        });
    }
    for (path, vol, s) in &v.projected {
        for (i, src) in s.sources.iter().flatten().enumerate() {
            if let Some(cm) = &src.config_map {
                refs.push(Ref {
                    kind: CONFIG_MAP.kind,
                    name: &cm.name,
                    keys: items(cm.items.as_ref()),
                    optional: cm.optional == Some(true),
                    path: format!("{path}.sources[{i}].configMap"),
                    by: format!("volume \"{vol}\""),
                });
            }
            if let Some(sec) = &src.secret {
                refs.push(Ref {
                    kind: SECRET.kind,
                    name: &sec.name,
                    keys: items(sec.items.as_ref()),
                    optional: sec.optional == Some(true),
                    path: format!("{path}.sources[{i}].secret"),
                    by: format!("volume \"{vol}\""),
                });
            }
        }
    }
}

/// ConfigMaps the control plane (or a mesh's control plane) publishes in every namespace.
const PUBLISHED_CONFIG_MAPS: [&str; 2] = ["kube-root-ca.crt", "istio-ca-root-cert"];

/// The keys of a ConfigMap or Secret of the context (its values are never read; Gatekeeper
/// syncs only the keys).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Keys {
    #[serde(default)]
    data: Option<BTreeMap<String, IgnoredAny>>,
    #[serde(default)]
    binary_data: Option<BTreeMap<String, IgnoredAny>>,
    #[serde(default)]
    string_data: Option<BTreeMap<String, IgnoredAny>>,
    #[serde(default, rename = "type")]
    type_: Option<String>,
}

impl Keys {
    fn all(&self) -> Vec<&str> {
        [&self.data, &self.binary_data, &self.string_data]
            .into_iter()
            .flatten()
            .flat_map(|m| m.keys().map(String::as_str))
            .collect()
    }
}

pub fn config_ref_exists(
    object: &Object<'_>,
    w: &Workload<'_>,
    cx: &Cx<'_, Settings>,
    out: &mut Findings,
) {
    if !cx.has_context() {
        out.skip(
            &CONFIG_REF_EXISTS,
            "no context was given: the ConfigMaps and Secrets the pod references are not visible"
                .to_string(),
        );
        return;
    }
    let sources = volume_sources(w);
    let mut refs = Vec::new();
    for c in w.every_container() {
        container_refs(&c, &mut refs);
    }
    volume_refs(&sources, &mut refs);
    let ns = object.namespace();
    for r in refs {
        if r.optional || r.name.is_empty() {
            continue;
        }
        let found = cx.context.get("", r.kind, ns, r.name);
        let Some(found) = found else {
            let others = names_by_namespace(cx.context).of(r.kind, ns);
            if others.is_empty() {
                out.skip(
                    &CONFIG_REF_EXISTS,
                    format!(
                        "the set holds no {} of namespace {}: they are managed outside it",
                        r.kind,
                        ns.unwrap_or_default()
                    ),
                );
                continue;
            }
            if r.kind == CONFIG_MAP.kind && PUBLISHED_CONFIG_MAPS.contains(&r.name) {
                continue;
            }
            let secret = r.kind == SECRET.kind;
            let message = format!(
                "{} references {} \"{}\", which {} (the namespace has {}): the pod cannot start until it exists (CreateContainerConfigError, or ContainerCreating for a volume). {}",
                r.by,
                r.kind,
                r.name,
                match cx.mode {
                    Mode::Manifest => "the set does not hold",
                    Mode::Admission => "does not exist",
                },
                list(&others),
                if secret {
                    "Unless a controller creates it (a cert-manager Certificate, an ExternalSecret or SealedSecret, an operator), create it, fix the name, or set optional: true"
                } else {
                    "Create it, fix the name, or set optional: true if the pod works without it"
                }
            );
            // Secrets are routinely created at run time (cert-manager, ExternalSecrets,
            // SealedSecrets, operators) and, by secret-plaintext's own advice, kept out of the
            // set: a missing one is a warning.
            if secret {
                out.warn(&CONFIG_REF_EXISTS, r.path, message);
            } else {
                finding(cx.mode, r.path, message, out);
            }
            continue;
        };
        if r.keys.is_empty() {
            continue;
        }
        let Some(keys) = found.get::<Keys>() else {
            continue;
        };
        let present = keys.all();
        // Filled at run time: token Secrets, and objects declared empty for a controller to
        // fill (webhook certificates).
        if present.is_empty()
            || keys.type_.as_deref() == Some("kubernetes.io/service-account-token")
        {
            continue;
        }
        for key in r.keys {
            if present.contains(&key) {
                continue;
            }
            let message = format!(
                "{} reads key \"{key}\" of {} \"{}\", which has no such key (its keys: {}): the pod cannot start (CreateContainerConfigError, or ContainerCreating for a volume). Fix the key, add it, or set optional: true",
                r.by,
                r.kind,
                r.name,
                list(&present)
            );
            finding(cx.mode, r.path.clone(), message, out);
        }
    }
}

/// The names of the context's ConfigMaps and Secrets by namespace, built once per context, so
/// a missing reference costs a lookup, not a scan of every ConfigMap (candidate for the SDK:
/// `in_namespace` backed by a per-namespace index).
#[derive(Default)]
struct NamesByNamespace {
    config_maps: BTreeMap<String, Vec<String>>,
    secrets: BTreeMap<String, Vec<String>>,
}

impl NamesByNamespace {
    /// The names seen from `ns` (`None`: every namespace), as `Context::in_namespace` sees
    /// them; ConfigMaps and Secrets are namespaced, so a namespace sees only its own.
    fn of(&self, kind: &str, ns: Option<&str>) -> Vec<&str> {
        let map = if kind == SECRET.kind {
            &self.secrets
        } else {
            &self.config_maps
        };
        match ns {
            Some(ns) => map
                .get(ns)
                .map(|names| names.iter().map(String::as_str).collect())
                .unwrap_or_default(),
            None => map.values().flatten().map(String::as_str).collect(),
        }
    }
}

fn names_by_namespace(context: &prodready_sdk::Context) -> &NamesByNamespace {
    context.memo(|ctx| {
        let mut n = NamesByNamespace::default();
        for (map, kind) in [
            (&mut n.config_maps, CONFIG_MAP.kind),
            (&mut n.secrets, SECRET.kind),
        ] {
            for o in ctx.of_kind("", kind) {
                map.entry(o.namespace().unwrap_or_default().to_string())
                    .or_default()
                    .push(o.name().to_string());
            }
            for names in map.values_mut() {
                names.sort();
            }
        }
        n
    })
}

/// An error in a manifest set; a warning at admission, where the object may be created right
/// after the pod and Kubernetes starts the pod once it appears.
fn finding(mode: Mode, path: String, message: String, out: &mut Findings) {
    match mode {
        Mode::Manifest => out.report(&CONFIG_REF_EXISTS, path, message),
        Mode::Admission => out.warn(&CONFIG_REF_EXISTS, path, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prodready_sdk::{Severity, WorkloadKind, testing};
    use serde_json::{Value, json};

    use crate::ConfigInjection;

    fn ids(v: &prodready_sdk::Verdict) -> Vec<&str> {
        testing::ids(v)
    }

    fn secret(body: Value) -> Value {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "namespace": "shop"}});
        if let (Some(m), Some(b)) = (s.as_object_mut(), body.as_object()) {
            m.extend(b.clone());
        }
        s
    }

    fn eval(o: &Value, settings: Value, mode: Mode) -> prodready_sdk::Verdict {
        testing::evaluate_with::<ConfigInjection>(o, &settings, Some(&[]), mode)
    }

    #[test]
    fn base64() {
        assert_eq!(base64_decode("cGFzc3dvcmQ=").unwrap(), b"password");
        assert_eq!(base64_decode("cGFzc3dvcmQ").unwrap(), b"password");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("not base64!").is_none());
        assert!(base64_decode("cGF=zc3").is_none());
    }

    #[test]
    fn plaintext_secrets_fail_in_manifests() {
        let plain = secret(json!({"data": {"password": "aHVudGVyMg=="}}));
        assert_eq!(
            ids(&eval(&plain, Value::Null, Mode::Manifest)),
            vec!["secret-plaintext"]
        );
        let v = eval(&plain, Value::Null, Mode::Manifest);
        assert!(!v.violations[0].message.contains("hunter2"));
        let string = secret(json!({"stringData": {"password": "hunter2"}}));
        assert_eq!(
            ids(&eval(&string, Value::Null, Mode::Manifest)),
            vec!["secret-plaintext"]
        );
        // Empty values, SOPS, references, allowed types pass.
        for ok in [
            secret(json!({"data": {"password": ""}})),
            secret(json!({"data": {}})),
            secret(
                json!({"stringData": {"password": "ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]"},
                "sops": {"version": "3.9.0"}}),
            ),
            secret(json!({"stringData": {"password": "berglas://bucket/db-password"}})),
            secret(json!({"data": {"password": "dmF1bHQ6c2VjcmV0L2RhdGEvZGIjcGFzc3dvcmQ="}})),
            secret(
                json!({"type": "helm.sh/release.v1", "data": {"release": "SDRzSUFBQUFBQUFBLw=="}}),
            ),
        ] {
            assert_eq!(
                ids(&eval(&ok, Value::Null, Mode::Manifest)),
                Vec::<&str>::new(),
                "{ok}"
            );
        }
        // ENC[...] without SOPS metadata is not SOPS.
        let fake = secret(json!({"stringData": {"password": "ENC[hunter2]"}}));
        assert_eq!(
            ids(&eval(&fake, Value::Null, Mode::Manifest)),
            vec!["secret-plaintext"]
        );
    }

    #[test]
    fn at_admission_only_when_enforced_with_owner_and_type_exemptions() {
        let plain = secret(json!({"data": {"password": "aHVudGVyMg=="}}));
        assert_eq!(
            ids(&eval(&plain, Value::Null, Mode::Admission)),
            Vec::<&str>::new()
        );
        let on = json!({"enforceAtAdmission": true});
        assert_eq!(
            ids(&eval(&plain, on.clone(), Mode::Admission)),
            vec!["secret-plaintext"]
        );
        let mut owned = plain.clone();
        owned["metadata"]["ownerReferences"] = json!([{"apiVersion": "bitnami.com/v1alpha1",
            "kind": "SealedSecret", "name": "db", "uid": "1", "controller": true}]);
        assert_eq!(
            ids(&eval(&owned, on.clone(), Mode::Admission)),
            Vec::<&str>::new()
        );
        let sa = secret(
            json!({"type": "kubernetes.io/service-account-token", "data": {"token": "eHl6"}}),
        );
        assert_eq!(ids(&eval(&sa, on, Mode::Admission)), Vec::<&str>::new());
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "web", "namespace": "shop"}, "data": data})
    }

    #[test]
    fn configmaps_with_credentials() {
        let bad = cm(json!({"DB_PASSWORD": "hunter2", "LOG_LEVEL": "debug"}));
        let v = eval(&bad, Value::Null, Mode::Manifest);
        assert_eq!(ids(&v), vec!["configmap-sensitive"]);
        assert_eq!(v.violations[0].path, "data.DB_PASSWORD");
        let file = cm(json!({"app.yaml": "db:\n  user: app\n  password: hunter2\n"}));
        let v = eval(&file, Value::Null, Mode::Manifest);
        assert_eq!(ids(&v), vec!["configmap-sensitive"]);
        assert_eq!(v.violations[0].path, "data[\"app.yaml\"]");
        let ok = cm(
            json!({"SECRET_NAME": "web-tls", "TOKEN_FILE": "/var/run/token",
            "app.yaml": "db:\n  password: ${DB_PASSWORD}\n  password_file: /etc/db/pw\n",
            "ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}),
        );
        assert_eq!(
            ids(&eval(&ok, Value::Null, Mode::Manifest)),
            Vec::<&str>::new()
        );
        let key =
            cm(json!({"tls.key": "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"}));
        assert_eq!(
            ids(&eval(&key, Value::Null, Mode::Manifest)),
            vec!["configmap-sensitive"]
        );
    }

    fn pod(containers: Value, volumes: Value) -> Value {
        testing::object(
            WorkloadKind::Deployment,
            "web",
            json!({"app": "web"}),
            json!({"containers": containers, "volumes": volumes}),
        )
    }

    #[test]
    fn literal_credentials_in_env_and_args() {
        let d = pod(
            json!([{"name": "web", "image": "w:1",
                "env": [
                    {"name": "DB_PASSWORD", "value": "hunter2"},
                    {"name": "DB_PASSWORD_FILE", "value": "/run/secrets/db"},
                    {"name": "API_TOKEN", "value": "$(TOKEN)"},
                    {"name": "SECRET_NAME", "value": "web-tls"},
                    {"name": "UPSTREAM", "value": "https://user:pa55@api.example.com"},
                    {"name": "MYSQL_ALLOW_EMPTY_PASSWORD", "value": "1"},
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "t", "key": "t"}}}
                ],
                "args": ["--listen=:8080", "--admin-password=changeme"]}]),
            Value::Null,
        );
        let v = eval(&d, Value::Null, Mode::Manifest);
        let paths: Vec<(&str, &str)> = v
            .violations
            .iter()
            .map(|x| (x.check.as_str(), x.path.as_str()))
            .collect();
        assert_eq!(
            paths,
            vec![
                (
                    "env-literal-credential",
                    "spec.template.spec.containers[0].env[0].value"
                ),
                (
                    "env-literal-credential",
                    "spec.template.spec.containers[0].env[4].value"
                ),
                (
                    "env-literal-credential",
                    "spec.template.spec.containers[0].args[1]"
                ),
                (
                    "secret-env-var",
                    "spec.template.spec.containers[0].env[6].valueFrom.secretKeyRef"
                ),
            ]
        );
        for x in &v.violations {
            assert!(
                !x.message.contains("hunter2") && !x.message.contains("changeme"),
                "{}",
                x.message
            );
        }
    }

    #[test]
    fn secret_env_is_one_warning_per_container() {
        let d = pod(
            json!([{"name": "web", "image": "w:1",
                "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "a"}}}],
                "envFrom": [{"secretRef": {"name": "s"}}, {"configMapRef": {"name": "c"}}]},
                {"name": "sidecar", "image": "s:1", "volumeMounts": [{"name": "s", "mountPath": "/s"}]}]),
            json!([{"name": "s", "secret": {"secretName": "s"}}]),
        );
        let v = eval(&d, Value::Null, Mode::Manifest);
        assert_eq!(ids(&v), vec!["secret-env-var"]);
        assert!(v.allowed);
        assert!(
            v.violations[0]
                .message
                .contains("every key of Secret \"s\"")
        );
    }

    fn context() -> Vec<Value> {
        vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-config", "namespace": "shop"},
                "data": {"LOG_LEVEL": "info", "app.yaml": "x: 1"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-db", "namespace": "shop"},
                "data": {"password": "eA=="}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "webhook-cert", "namespace": "shop"}}),
        ]
    }

    fn refs_in(d: &Value, mode: Mode) -> prodready_sdk::Verdict {
        testing::evaluate_with::<ConfigInjection>(d, &Value::Null, Some(&context()), mode)
    }

    #[test]
    fn references_exist_with_their_keys() {
        let ok = pod(
            json!([{"name": "web", "image": "w:1",
                "env": [{"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": "web-config", "key": "LOG_LEVEL"}}},
                        {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "x", "optional": true}}}],
                "envFrom": [{"configMapRef": {"name": "web-config"}}]}]),
            json!([
                {"name": "cfg", "configMap": {"name": "web-config", "items": [{"key": "app.yaml", "path": "app.yaml"}]}},
                {"name": "cert", "secret": {"secretName": "webhook-cert", "items": [{"key": "tls.crt", "path": "tls.crt"}]}},
                {"name": "all", "projected": {"sources": [{"secret": {"name": "web-db"}}, {"serviceAccountToken": {"path": "t"}}]}}
            ]),
        );
        let v = refs_in(&ok, Mode::Manifest);
        assert_eq!(testing::ids(&v), Vec::<&str>::new(), "{v:?}");
        let bad = pod(
            json!([{"name": "web", "image": "w:1",
                "env": [{"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": "web-config", "key": "LOGLEVEL"}}}],
                "envFrom": [{"configMapRef": {"name": "web-confg"}}]}]),
            json!([{"name": "db", "projected": {"sources": [{"secret": {"name": "web-database"}}]}}]),
        );
        let v = refs_in(&bad, Mode::Manifest);
        let paths: Vec<&str> = v.violations.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef",
                "spec.template.spec.containers[0].envFrom[0].configMapRef",
                "spec.template.spec.volumes[0].projected.sources[0].secret",
            ]
        );
        assert!(!v.allowed);
        assert!(
            v.violations[0]
                .message
                .contains("its keys: \"LOG_LEVEL\", \"app.yaml\"")
        );
        // At admission: the same findings, as warnings.
        let v = refs_in(&bad, Mode::Admission);
        assert_eq!(v.violations.len(), 3);
        assert!(v.allowed);
        assert!(v.violations.iter().all(|x| x.severity == Severity::Warning));
    }

    #[test]
    fn kinds_the_set_does_not_manage_are_skipped() {
        let d = pod(
            json!([{"name": "web", "image": "w:1", "envFrom": [{"configMapRef": {"name": "elsewhere"}}]}]),
            Value::Null,
        );
        let v = testing::evaluate_in::<ConfigInjection>(&d, &Value::Null, &[]);
        assert!(v.violations.is_empty());
        assert_eq!(v.skipped_checks.len(), 1);
        assert!(
            v.skipped_checks[0]
                .reason
                .contains("holds no ConfigMap of namespace shop")
        );
    }

    #[test]
    fn names_of_other_namespaces_are_neither_listed_nor_counted() {
        let d = pod(
            json!([{"name": "web", "image": "w:1", "envFrom": [{"configMapRef": {"name": "web-confg"}}]}]),
            Value::Null,
        );
        // Only another namespace has ConfigMaps: the set does not manage this one's.
        let other = vec![json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "web-config", "namespace": "other"}})];
        let v = testing::evaluate_in::<ConfigInjection>(&d, &Value::Null, &other);
        assert!(v.violations.is_empty(), "{v:?}");
        assert_eq!(v.skipped_checks.len(), 1);
        // Both namespaces: only the object's own namespace's names are listed, sorted.
        let mut both = other.clone();
        for name in ["web-z", "web-config", "web-a"] {
            both.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": "shop"}}));
        }
        both.push(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "elsewhere-only", "namespace": "other"}}));
        let v = testing::evaluate_in::<ConfigInjection>(&d, &Value::Null, &both);
        assert_eq!(ids(&v), vec!["config-ref-exists"]);
        let m = &v.violations[0].message;
        assert!(
            m.contains("(the namespace has \"web-a\", \"web-config\", \"web-z\")"),
            "{m}"
        );
        assert!(!m.contains("elsewhere-only"), "{m}");
    }
}

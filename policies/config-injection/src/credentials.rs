//! What looks like a credential: names that say so (and do not merely say where one is),
//! values shaped like one (PEM private keys, JWTs, bearer tokens, URLs with a password), and
//! values that are plainly not one (references, placeholders, paths, booleans). Messages never
//! repeat a value.

use crate::settings::Settings;

/// Lowercase letters and digits only: `API_KEY`, `apiKey` and `api-key` are all `apikey`.
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The words of a name, lowercase: split at non-alphanumerics and camelCase boundaries
/// (`storageSecretName` is storage, secret, name; `HTTPToken` is http, token).
pub fn words(name: &str) -> Vec<String> {
    let chars: Vec<char> = name.chars().collect();
    let mut out = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let boundary = c.is_ascii_uppercase()
            && prev.is_some_and(|p| {
                p.is_ascii_lowercase()
                    || p.is_ascii_digit()
                    || (p.is_ascii_uppercase() && next.is_some_and(|n| n.is_ascii_lowercase()))
            });
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        word.push(c.to_ascii_lowercase());
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The pattern a name matches, when it names a credential: it contains a sensitive pattern
/// and its last word does not say it names a file, a path, a Secret's name or a setting.
pub fn sensitive_name<'s>(name: &str, s: &'s Settings) -> Option<&'s str> {
    let n = normalize(name);
    let pattern = s
        .sensitive_name_patterns
        .iter()
        .find(|p| n.contains(&normalize(p)))?;
    let last = words(name).pop().unwrap_or_default();
    if s.non_secret_name_suffixes
        .iter()
        .any(|suffix| normalize(suffix) == last)
    {
        return None;
    }
    Some(pattern.as_str())
}

/// Values that are no credential whatever their name: empty, a reference or placeholder
/// (`$(VAR)`, `${VAR}`, `$VAR`, `{{ ... }}`, `<...>`, `__VAR__`), a boolean or null, a path,
/// a collection or block indicator of an embedded config, or a URL without a password.
pub fn benign(value: &str) -> bool {
    let v = value.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if v.is_empty() || v.starts_with('$') || v.starts_with("{{") {
        return true;
    }
    if v.starts_with('<') && v.ends_with('>') {
        return true;
    }
    if v.len() > 4
        && v.starts_with("__")
        && v.ends_with("__")
        && v.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if [
        "true", "false", "yes", "no", "on", "off", "1", "0", "y", "n", "enabled", "disabled",
        "null", "nil", "none", "~", "-", "[]", "{}", "|", "|-", "|+", ">", ">-", ">+",
    ]
    .contains(&lower.as_str())
    {
        return true;
    }
    if v.starts_with('/')
        || v.starts_with("./")
        || v.starts_with("../")
        || v.starts_with("~/")
        || lower.starts_with("file://")
        || v.starts_with('[')
        || v.starts_with('{')
    {
        return true;
    }
    if lower.contains("://") {
        return url_password(v).is_none();
    }
    false
}

/// The password of a URL with userinfo (`postgres://app:s3cret@db/app`), unless it is a
/// reference or placeholder.
fn url_password(v: &str) -> Option<&str> {
    let (_, rest) = v.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    if password.is_empty() || benign_reference(password) || password.chars().all(|c| c == '*') {
        return None;
    }
    Some(password)
}

fn benign_reference(v: &str) -> bool {
    v.starts_with('$') || v.starts_with("{{") || (v.starts_with('<') && v.ends_with('>'))
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Whether a text holds a JWT: three base64url parts, header and payload JSON objects
/// (`eyJ`, the encoding of `{"`).
fn has_jwt(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text.get(from..).and_then(|t| t.find("eyJ")) {
        let start = from + at;
        let end = bytes
            .iter()
            .skip(start)
            .position(|b| !(is_b64url(*b) || *b == b'.'))
            .map_or(bytes.len(), |p| start + p);
        let token = text.get(start..end).unwrap_or_default();
        let parts: Vec<&str> = token.split('.').collect();
        if let [header, payload, _signature] = parts.as_slice()
            && header.len() >= 10
            && payload.len() >= 10
            && payload.starts_with("eyJ")
        {
            return true;
        }
        from = start + 3;
    }
    false
}

/// Whether a text holds an `Authorization: Bearer` token (a long token after `Bearer `).
fn has_bearer(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = lower.get(from..).and_then(|t| t.find("bearer ")) {
        let start = from + at + "bearer ".len();
        let token: String = text
            .get(start..)
            .unwrap_or_default()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-._~+/=".contains(*c))
            .collect();
        if token.len() >= 20 && !token.starts_with('$') {
            return true;
        }
        from = start;
    }
    false
}

/// What kind of credential a value is, by its shape alone.
pub fn credential_shape(value: &str) -> Option<&'static str> {
    if value.contains("-----BEGIN") && value.contains("PRIVATE KEY-----") {
        return Some("a PEM private key");
    }
    if has_jwt(value) {
        return Some("a JWT");
    }
    if has_bearer(value) {
        return Some("a bearer token");
    }
    if value.contains("://") && url_password(value.trim()).is_some() {
        return Some("a URL with a password");
    }
    None
}

/// Why a literal `name: value` pair is a credential, or `None`.
pub fn literal_credential(name: &str, value: &str, s: &Settings) -> Option<String> {
    if let Some(shape) = credential_shape(value) {
        return Some(format!("its value is {shape}"));
    }
    let pattern = sensitive_name(name, s)?;
    if benign(value) {
        return None;
    }
    Some(format!(
        "its name matches \"{pattern}\" and its value is a literal"
    ))
}

/// `--password=...`-style flags among the words of a command line (an argv element may hold
/// several words, as a `sh -c` script does). Returns each offending flag and why.
pub fn credential_flags(arg: &str, s: &Settings) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for word in arg.split_whitespace() {
        let word = word.trim_matches(|c| c == '"' || c == '\'');
        let Some(flag) = word.strip_prefix('-') else {
            continue;
        };
        let Some((name, value)) = flag.split_once('=') else {
            continue;
        };
        let name = name.trim_start_matches('-');
        if let Some(why) = literal_credential(name, value, s) {
            found.push((format!("--{name}"), why));
        }
    }
    if found.is_empty()
        && let Some(shape) = credential_shape(arg)
    {
        found.push(("an argument".to_string(), format!("it holds {shape}")));
    }
    found
}

/// `key: value`, `key = value` and `"key": "value"` lines of an embedded config file whose key
/// names a credential and whose value is a literal; comments are skipped. Returns the keys.
pub fn config_lines(text: &str, s: &Settings) -> Vec<String> {
    let mut keys = Vec::new();
    for line in text.lines() {
        let line = line.trim().trim_start_matches("- ");
        if line.starts_with('#') || line.starts_with(';') || line.starts_with("//") {
            continue;
        }
        let key_len = line
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || b"_-.\"'".contains(b))
            .count();
        let (key, rest) = line.split_at(key_len);
        let rest = rest.trim_start();
        let Some(value) = rest.strip_prefix(':').or_else(|| rest.strip_prefix('=')) else {
            continue;
        };
        let key = key.trim_matches(|c| c == '"' || c == '\'');
        let last = key.rsplit('.').next().unwrap_or(key);
        if last.is_empty() {
            continue;
        }
        let value = value.trim().trim_end_matches(',').trim();
        // An inline comment after the value.
        let value = value.split(" #").next().unwrap_or(value).trim();
        if sensitive_name(last, s).is_some() && !benign(value) {
            keys.push(key.to_string());
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s() -> Settings {
        Settings::default()
    }

    #[test]
    fn words_split_at_separators_and_camel_case() {
        assert_eq!(words("storageSecretName"), ["storage", "secret", "name"]);
        assert_eq!(words("HTTPToken"), ["http", "token"]);
        assert_eq!(
            words("METALLB_ML_SECRET_KEY_PATH"),
            ["metallb", "ml", "secret", "key", "path"]
        );
        assert_eq!(
            words("s3SecretAccessKeyName"),
            ["s3", "secret", "access", "key", "name"]
        );
        assert_eq!(words("--token-file"), ["token", "file"]);
    }

    #[test]
    fn names_that_name_a_credential() {
        for n in [
            "PASSWORD",
            "DB_PASSWORD",
            "PGPASSWORD",
            "MYSQL_ROOT_PASSWORD",
            "MINIO_SECRET_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "apiKey",
            "API-KEY",
            "GITHUB_TOKEN",
            "clientSecret",
            "PRIVATE_KEY",
            "credentials",
            "VAULT_SECRET_ID",
        ] {
            assert!(sensitive_name(n, &s()).is_some(), "{n}");
        }
        for n in [
            "TOKEN_FILE",
            "PASSWORD_PATH",
            "SECRET_NAME",
            "METALLB_ML_SECRET_NAME",
            "METALLB_ML_SECRET_KEY_PATH",
            "secrets-format",
            "service-account-token-path",
            "bearer_token_file",
            "storageSpecSecretName",
            "TOKEN_URL",
            "SECRET_ENABLED",
            "LOG_LEVEL",
            "DATABASE_HOST",
        ] {
            assert!(sensitive_name(n, &s()).is_none(), "{n}");
        }
    }

    #[test]
    fn benign_values() {
        for v in [
            "",
            "  ",
            "$(DB_PASSWORD)",
            "${DB_PASSWORD}",
            "$DB_PASSWORD",
            "{{ .Values.password }}",
            "{{",
            "<your-password>",
            "__SERVICEACCOUNT_TOKEN__",
            "true",
            "1",
            "/var/run/secrets/token",
            "https://auth.example.com/token",
            "[]",
            "[\"docker-secret\"]",
            "|-",
            "postgres://app:$(DB_PASSWORD)@db:5432/app",
        ] {
            assert!(benign(v), "{v:?}");
        }
        for v in [
            "password",
            "admin",
            "minio123",
            "changeme",
            "s3cr3t!",
            "postgres://app:hunter2@db/app",
        ] {
            assert!(!benign(v), "{v:?}");
        }
    }

    #[test]
    fn credential_shapes() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----";
        assert_eq!(credential_shape(pem), Some("a PEM private key"));
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----";
        assert_eq!(credential_shape(cert), None);
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3ZWIifQ.c2lnbmF0dXJlLXZhbHVl";
        assert_eq!(credential_shape(jwt), Some("a JWT"));
        assert_eq!(
            credential_shape(&format!("Authorization: Bearer {jwt}")),
            Some("a JWT")
        );
        assert_eq!(
            credential_shape("Authorization: Bearer 0123456789abcdefghijklmnop"),
            Some("a bearer token")
        );
        assert_eq!(credential_shape("Bearer $(TOKEN)"), None);
        assert_eq!(
            credential_shape("redis://:s3cret@redis:6379/0"),
            Some("a URL with a password")
        );
        assert_eq!(credential_shape("https://example.com/eyJhbGciOi"), None);
        assert_eq!(credential_shape("plain text"), None);
    }

    #[test]
    fn flags_in_arguments() {
        let found = credential_flags("--password=hunter2", &s());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "--password");
        assert!(credential_flags("--password=$(DB_PASSWORD)", &s()).is_empty());
        assert!(credential_flags("--token-file=/var/run/token", &s()).is_empty());
        assert!(credential_flags("--secret-name=ingress-nginx-admission", &s()).is_empty());
        assert!(credential_flags("--exoscale-apikey={{", &s()).is_empty());
        let script = "exec app --db-password='s3cret' --log-level=debug";
        assert_eq!(credential_flags(script, &s()).len(), 1);
        assert!(credential_flags("--secrets-format=compact", &s()).is_empty());
    }

    #[test]
    fn embedded_config_lines() {
        let text = "db:\n  host: db\n  password: s3cret\n  password_file: /etc/db/pw\n# password: example\nsecret_name: kiali\nprivate_key_file: \"\"\nbearer_token_file: /var/run/secrets/token\n\"k8s_auth_token\": \"__SERVICEACCOUNT_TOKEN__\",\nadmin_password = admin\n\"imagePullSecrets\": [\"docker-secret\"]\ntoken: ${TOKEN}\n";
        assert_eq!(config_lines(text, &s()), ["password", "admin_password"]);
    }
}

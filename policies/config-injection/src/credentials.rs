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

/// The last word of a name: after the last non-alphanumeric, or from the last camelCase
/// boundary (`storageSecretName` ends in `Name`, `HTTPToken` in `Token`, `--token-file` in
/// `file`). No allocation: this runs for every env variable of every container.
pub fn last_word(name: &str) -> &str {
    let b = name.as_bytes();
    let Some(end) = b.iter().rposition(u8::is_ascii_alphanumeric).map(|i| i + 1) else {
        return "";
    };
    let at = |i: usize| b.get(i).copied().unwrap_or(b' ');
    let mut start = end;
    while start > 0 {
        let prev = at(start - 1);
        if !prev.is_ascii_alphanumeric() {
            break;
        }
        let cur = at(start);
        if start < end
            && cur.is_ascii_uppercase()
            && (prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase()
                    && start + 1 < end
                    && at(start + 1).is_ascii_lowercase()))
        {
            break;
        }
        start -= 1;
    }
    name.get(start..end).unwrap_or_default()
}

/// The settings' name patterns and suffixes, normalized once per evaluated object.
pub struct Matcher<'s> {
    patterns: Vec<(String, &'s str)>,
    suffixes: Vec<String>,
}

impl<'s> Matcher<'s> {
    pub fn new(s: &'s Settings) -> Matcher<'s> {
        Matcher {
            patterns: s
                .sensitive_name_patterns
                .iter()
                .map(|p| (normalize(p), p.as_str()))
                .filter(|(n, _)| !n.is_empty())
                .collect(),
            suffixes: s
                .non_secret_name_suffixes
                .iter()
                .map(|x| normalize(x))
                .collect(),
        }
    }

    /// The pattern a name matches, when it names a credential: it contains a sensitive
    /// pattern and its last word does not say it names a file, a path, a Secret's name or a
    /// setting.
    pub fn sensitive_name(&self, name: &str) -> Option<&'s str> {
        let n = normalize(name);
        let (_, pattern) = self.patterns.iter().find(|(p, _)| n.contains(p.as_str()))?;
        let last = last_word(name);
        if self.suffixes.iter().any(|x| x.eq_ignore_ascii_case(last)) {
            return None;
        }
        Some(pattern)
    }
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
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = bytes.get(from..).and_then(|t| {
        t.windows(7)
            .position(|w| w.eq_ignore_ascii_case(b"bearer "))
    }) {
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
pub fn literal_credential(name: &str, value: &str, m: &Matcher<'_>) -> Option<String> {
    if let Some(shape) = credential_shape(value) {
        return Some(format!("its value is {shape}"));
    }
    let pattern = m.sensitive_name(name)?;
    if benign(value) {
        return None;
    }
    Some(format!(
        "its name matches \"{pattern}\" and its value is a literal"
    ))
}

/// `--password=...`-style flags among the words of a command line (an argv element may hold
/// several words, as a `sh -c` script does). Returns each offending flag and why.
pub fn credential_flags(arg: &str, m: &Matcher<'_>) -> Vec<(String, String)> {
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
        if let Some(why) = literal_credential(name, value, m) {
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
pub fn config_lines(text: &str, m: &Matcher<'_>) -> Vec<String> {
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
        if m.sensitive_name(last).is_some() && !benign(value) {
            keys.push(key.to_string());
        }
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> &'static Settings {
        Box::leak(Box::new(Settings::default()))
    }

    fn s() -> Matcher<'static> {
        Matcher::new(settings())
    }

    #[test]
    fn last_words_at_separators_and_camel_case() {
        assert_eq!(last_word("storageSecretName"), "Name");
        assert_eq!(last_word("HTTPToken"), "Token");
        assert_eq!(last_word("HTTP"), "HTTP");
        assert_eq!(last_word("METALLB_ML_SECRET_KEY_PATH"), "PATH");
        assert_eq!(last_word("s3SecretAccessKeyName"), "Name");
        assert_eq!(last_word("--token-file"), "file");
        assert_eq!(last_word("token_"), "token");
        assert_eq!(last_word("pgpassword"), "pgpassword");
        assert_eq!(last_word("--"), "");
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
            assert!(s().sensitive_name(n).is_some(), "{n}");
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
            assert!(s().sensitive_name(n).is_none(), "{n}");
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

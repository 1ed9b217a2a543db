//! Container image references, read as the container runtime reads them
//! (`github.com/distribution/reference`, `ParseNormalizedNamed` and `ParseAnyReference`):
//!
//! ```text
//! reference := name [ ":" tag ] [ "@" digest ]
//! name      := [ domain "/" ] path        path := component ( "/" component )*
//! domain    := host [ ":" port ]          (the first component, when it has a "." or a ":",
//!                                          is "localhost", or has an uppercase letter)
//! ```
//!
//! Without a domain the image is on Docker Hub: `nginx` is `docker.io/library/nginx`,
//! `bitnami/redis` is `docker.io/bitnami/redis`; `index.docker.io` is `docker.io`. A port
//! belongs to the domain (`registry:5000/team/app` has no tag). Candidate for the SDK: a
//! second rule reading tags (tuning's image-pull-policy) needs the same parse.

use std::borrow::Cow;

/// Docker Hub, the registry of references without a domain.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// The registry host (and port), normalized: `docker.io` when the reference names none,
    /// lowercase.
    pub domain: Cow<'a, str>,
    /// The repository path in the registry, e.g. `library/nginx`, `team/app`.
    pub path: Cow<'a, str>,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

impl ImageRef<'_> {
    /// `domain/path`, e.g. `docker.io/library/nginx`: what registry allowlists match.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The last component of the repository path (`nginx`, `controller`).
    pub fn short_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }
}

/// Parses an image reference. The error says what is wrong with it.
pub fn parse(image: &str) -> Result<ImageRef<'_>, String> {
    if image.is_empty() {
        return Err("it is empty".into());
    }
    if image.trim() != image {
        return Err("it has leading or trailing whitespace".into());
    }
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest
        && !valid_digest(d)
    {
        return Err(format!(
            "the digest \"{d}\" is not <algorithm>:<hex> (e.g. sha256: and 64 hex digits)"
        ));
    }
    // A tag is after the last ':' that follows the last '/' (a ':' before it is a port).
    let last_slash = name_tag.rfind('/');
    let (name, tag) = match name_tag.rfind(':') {
        Some(i) if last_slash.is_none_or(|s| i > s) => {
            (name_tag.get(..i).unwrap_or_default(), name_tag.get(i + 1..))
        }
        _ => (name_tag, None),
    };
    if let Some(t) = tag
        && !valid_tag(t)
    {
        return Err(format!(
            "the tag \"{t}\" is not valid (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')"
        ));
    }
    let (domain, path) = split_domain(name);
    if !valid_domain(&domain) {
        return Err(format!("the registry \"{domain}\" is not a host[:port]"));
    }
    if path.is_empty() || !path.split('/').all(valid_component) {
        return Err(format!(
            "the repository \"{path}\" is not valid (lowercase letters, digits and single separators '.', '_', '__' or '-' between them, components joined by '/')"
        ));
    }
    if domain.len().saturating_add(path.len()).saturating_add(1) > 255 {
        return Err("the name is longer than 255 characters".into());
    }
    Ok(ImageRef {
        domain,
        path,
        tag,
        digest,
    })
}

/// Splits the registry domain off a name, with Docker Hub's defaults.
fn split_domain(name: &str) -> (Cow<'_, str>, Cow<'_, str>) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if is_domain(first) => (first, rest),
        _ => (DOCKER_HUB, name),
    };
    let domain: Cow<'_, str> = if domain.eq_ignore_ascii_case("index.docker.io") {
        Cow::Borrowed(DOCKER_HUB)
    } else if domain.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(domain.to_ascii_lowercase())
    } else {
        Cow::Borrowed(domain)
    };
    let path: Cow<'_, str> = if domain == DOCKER_HUB && !path.contains('/') {
        Cow::Owned(format!("library/{path}"))
    } else {
        Cow::Borrowed(path)
    };
    (domain, path)
}

/// Whether the first component of a name is a registry host rather than a Docker Hub
/// namespace: it has a '.' or a ':', is `localhost`, or has an uppercase letter (which a
/// repository path may not).
pub fn is_domain(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// `host[:port]`: host labels of letters, digits and '-' joined by '.', or a bracketed IPv6
/// address; a numeric port.
fn valid_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            p => match p.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (domain, None),
        }
    };
    let host_ok = host.is_empty() && domain.starts_with('[')
        || !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// A path component: `[a-z0-9]+` joined by `.`, `_`, `__` or one or more `-`.
fn valid_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !alnum(first) || !alnum(last) {
        return false;
    }
    // Runs of separators between alphanumerics: ".", "_", "__" or "-"+.
    let mut run = String::new();
    for b in bytes {
        if alnum(b) {
            if !run.is_empty() {
                let ok = run == "." || run == "_" || run == "__" || run.bytes().all(|x| x == b'-');
                if !ok {
                    return false;
                }
                run.clear();
            }
        } else if matches!(b, b'.' | b'_' | b'-') {
            run.push(char::from(*b));
        } else {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`.
fn valid_tag(t: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut bytes = t.bytes();
    bytes.next().is_some_and(word)
        && t.len() <= 128
        && bytes.all(|b| word(b) || b == b'.' || b == b'-')
}

/// `algorithm:encoded`: the algorithm `[a-z0-9]+([+._-][a-z0-9]+)*`, the encoded part at least
/// 32 of `[a-zA-Z0-9=_-]`; sha256 wants exactly 64 lowercase hex digits, sha512 128.
fn valid_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let alg_ok = !alg.is_empty()
        && alg.split(['+', '.', '_', '-']).all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    let hex_digits =
        |n: usize| hex.len() == n && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let enc_ok = match alg {
        "sha256" => hex_digits(64),
        "sha512" => hex_digits(128),
        _ => {
            hex.len() >= 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
        }
    };
    alg_ok && enc_ok
}

/// A registry allowlist entry, normalized as references are: `index.docker.io` is
/// `docker.io`, the host is lowercase, a trailing '/' is dropped. `None` when its first
/// component is not a registry host (a bare `nginx` or `bitnami` would be ambiguous).
pub fn normalize_prefix(entry: &str) -> Option<String> {
    let entry = entry.trim().trim_end_matches('/');
    let (first, rest) = match entry.split_once('/') {
        Some((f, r)) => (f, Some(r)),
        None => (entry, None),
    };
    if first.is_empty() || !is_domain(first) || !valid_domain(&first.to_ascii_lowercase()) {
        return None;
    }
    let host = if first.eq_ignore_ascii_case("index.docker.io") {
        DOCKER_HUB.to_string()
    } else {
        first.to_ascii_lowercase()
    };
    Some(match rest {
        Some(r) if !r.is_empty() => format!("{host}/{r}"),
        _ => host,
    })
}

/// Whether a reference's `domain/path` is under a normalized prefix, on a '/' boundary:
/// `docker.io/library` admits `docker.io/library/nginx`, not `docker.io/libraryx/nginx`.
pub fn under_prefix(name: &str, prefix: &str) -> bool {
    name == prefix
        || name
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> (String, Option<&str>, Option<&str>) {
        let r = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        (r.name(), r.tag, r.digest)
    }

    const D: &str = "sha256:01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd";

    #[test]
    fn docker_hub_defaults() {
        assert_eq!(p("nginx"), ("docker.io/library/nginx".into(), None, None));
        assert_eq!(
            p("nginx:1.27"),
            ("docker.io/library/nginx".into(), Some("1.27"), None)
        );
        assert_eq!(
            p("bitnami/redis:7.2"),
            ("docker.io/bitnami/redis".into(), Some("7.2"), None)
        );
        assert_eq!(
            p("docker.io/nginx"),
            ("docker.io/library/nginx".into(), None, None)
        );
        assert_eq!(
            p("index.docker.io/library/nginx:latest"),
            ("docker.io/library/nginx".into(), Some("latest"), None)
        );
        assert_eq!(
            p("docker.io/library/alpine"),
            ("docker.io/library/alpine".into(), None, None)
        );
    }

    #[test]
    fn registries_ports_tags_and_digests() {
        assert_eq!(
            p("registry:5000/team/app"),
            ("registry:5000/team/app".into(), None, None)
        );
        assert_eq!(
            p("registry:5000/team/app:1.2"),
            ("registry:5000/team/app".into(), Some("1.2"), None)
        );
        assert_eq!(
            p("localhost/app:dev"),
            ("localhost/app".into(), Some("dev"), None)
        );
        assert_eq!(
            p("localhost:5000/app"),
            ("localhost:5000/app".into(), None, None)
        );
        assert_eq!(
            p(&format!(
                "registry.k8s.io/ingress-nginx/controller:v1.15.1@{D}"
            )),
            (
                "registry.k8s.io/ingress-nginx/controller".into(),
                Some("v1.15.1"),
                Some(D)
            )
        );
        assert_eq!(
            p(&format!("ghcr.io/acme/app@{D}")),
            ("ghcr.io/acme/app".into(), None, Some(D))
        );
        assert_eq!(
            p("us-central1-docker.pkg.dev/proj/repo/svc:v0.10.6"),
            (
                "us-central1-docker.pkg.dev/proj/repo/svc".into(),
                Some("v0.10.6"),
                None
            )
        );
        assert_eq!(
            p("[::1]:5000/app:1"),
            ("[::1]:5000/app".into(), Some("1"), None)
        );
        // An uppercase first component is a host, as the runtime reads it.
        assert_eq!(
            p("Registry/app:1"),
            ("registry/app".into(), Some("1"), None)
        );
        assert_eq!(
            p("quay.io/a__b/c-d--e.f_g:x"),
            ("quay.io/a__b/c-d--e.f_g".into(), Some("x"), None)
        );
    }

    #[test]
    fn invalid_references() {
        for bad in [
            "",
            " nginx",
            "nginx:",
            "nginx:-x",
            "Nginx/App",
            "team/App:1",
            "nginx@sha256:abc",
            "nginx@sha256",
            "a//b",
            "/nginx",
            "nginx/",
            "registry:port/app",
            "<your-private-image>",
            "ko://github.com/acme/app",
            "a..b/c",
            "app_-x",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let long_tag = format!("app:{}", "a".repeat(129));
        assert!(parse(&long_tag).is_err());
    }

    #[test]
    fn prefixes_match_on_a_slash_boundary() {
        let lib = normalize_prefix("docker.io/library").unwrap();
        assert!(under_prefix("docker.io/library/nginx", &lib));
        assert!(!under_prefix("docker.io/libraryx/nginx", &lib));
        assert!(under_prefix("docker.io/library", &lib));
        let host = normalize_prefix("Registry.Example.com/").unwrap();
        assert_eq!(host, "registry.example.com");
        assert!(under_prefix("registry.example.com/team/app", &host));
        assert!(!under_prefix("registry.example.com.evil.io/app", &host));
        let port = normalize_prefix("registry:5000").unwrap();
        assert!(under_prefix("registry:5000/x", &port));
        assert!(!under_prefix("registry:50001/x", &port));
        assert!(!under_prefix("registry/x", &port));
        assert_eq!(
            normalize_prefix("index.docker.io/bitnami").as_deref(),
            Some("docker.io/bitnami")
        );
        assert_eq!(normalize_prefix("bitnami"), None);
        assert_eq!(normalize_prefix(""), None);
        assert_eq!(normalize_prefix("nginx/app"), None);
    }
}

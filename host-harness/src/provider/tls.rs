//! The provider's TLS: TLS 1.3 only (rustls, ring), an optional client CA for mutual TLS, and
//! a server certificate re-read from its files when they change (a rotated Secret).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};

/// How often the certificate files are checked for a change (by default).
pub const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// Where the server's certificate, key and (for mTLS) client CA are.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM CA certificates; when set, clients must present a certificate they signed.
    pub client_ca: Option<PathBuf>,
}

fn crypto() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certified_key(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<CertifiedKey> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("reading the certificate: {e}"))?;
    if certs.is_empty() {
        anyhow::bail!("the certificate file holds no PEM certificate");
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| anyhow::anyhow!("reading the private key: {e}"))?;
    CertifiedKey::from_der(certs, key, &crypto())
        .map_err(|e| anyhow::anyhow!("certificate and key do not go together: {e}"))
}

fn file_stamp(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn load_files(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()));
    certified_key(&read(cert)?, &read(key)?)
}

/// Serves the certificate from files, re-reading them when they change: a Secret mounted
/// into the pod is swapped in place when cert-manager (or anyone) rotates it.
#[derive(Debug)]
struct ReloadingCert {
    cert: PathBuf,
    key: PathBuf,
    check_every: Duration,
    state: Mutex<CertState>,
}

#[derive(Debug)]
struct CertState {
    current: Arc<CertifiedKey>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

impl ReloadingCert {
    fn new(cert: &Path, key: &Path, check_every: Duration) -> anyhow::Result<ReloadingCert> {
        let stamps = (file_stamp(cert), file_stamp(key));
        let current = Arc::new(load_files(cert, key)?);
        Ok(ReloadingCert {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            check_every,
            state: Mutex::new(CertState {
                current,
                stamps,
                checked: Instant::now(),
            }),
        })
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() >= self.check_every {
            state.checked = Instant::now();
            let stamps = (file_stamp(&self.cert), file_stamp(&self.key));
            if stamps != state.stamps {
                // A half-written pair fails to load; the stamps stay old and the next check
                // tries again, serving the current certificate meanwhile.
                match load_files(&self.cert, &self.key) {
                    Ok(k) => {
                        state.current = Arc::new(k);
                        state.stamps = stamps;
                        eprintln!("prodready: reloaded {}", self.cert.display());
                    }
                    Err(e) => {
                        eprintln!("prodready: warning: keeping the current certificate: {e:#}")
                    }
                }
            }
        }
        Some(state.current.clone())
    }
}

/// A server certificate that never changes (tests, or PEM given in memory).
#[derive(Debug)]
struct FixedCert(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn server_config(
    certs: Arc<dyn ResolvesServerCert>,
    client_ca_pem: Option<&[u8]>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let provider = crypto();
    // TLS 1.3 only, as Gatekeeper requires of providers.
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| anyhow::anyhow!("reading the client CA: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| anyhow::anyhow!("the client CA is not usable: {e}"))?;
            }
            if roots.is_empty() {
                anyhow::bail!("the client CA file holds no PEM certificate");
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| anyhow::anyhow!("the client CA is not usable: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(certs);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The server's TLS configuration from files (TLS 1.3 only; the certificate reloads when its
/// files change).
pub fn tls_config(files: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
    tls_config_reloading(files, RELOAD_CHECK)
}

/// [`tls_config`], checking the files for a change every `check_every` (tests rotate
/// certificates faster than [`RELOAD_CHECK`]).
pub fn tls_config_reloading(
    files: &TlsFiles,
    check_every: Duration,
) -> anyhow::Result<Arc<ServerConfig>> {
    let certs = ReloadingCert::new(&files.cert, &files.key, check_every).map_err(|e| {
        anyhow::anyhow!(
            "loading {} and {}: {e:#}",
            files.cert.display(),
            files.key.display()
        )
    })?;
    let client_ca = match &files.client_ca {
        Some(p) => Some(std::fs::read(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?),
        None => None,
    };
    server_config(Arc::new(certs), client_ca.as_deref())
}

/// The server's TLS configuration from PEM text (TLS 1.3 only).
pub fn tls_config_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: Option<&[u8]>,
) -> anyhow::Result<Arc<ServerConfig>> {
    let key = certified_key(cert_pem, key_pem)?;
    server_config(Arc::new(FixedCert(Arc::new(key))), client_ca_pem)
}

//! The provider's tests' side of the wire: a throwaway PKI, the provider started in-process,
//! and a small blocking HTTPS/1.1 client (rustls) that sends exactly the bytes a test gives it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};

use prodready_host::provider::{
    API_VERSION, Provider, ProviderResponse, Server, ServerLimits, tls_config_from_pem,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use serde_json::{Value, json};

use crate::common;

// A throwaway PKI and the provider, started once in-process.

pub struct Pki {
    pub ca_pem: String,
    pub server_cert_pem: String,
    pub server_key_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| Pki::generate("prodready test CA"))
}

impl Pki {
    /// A CA named `ca_name`, a server certificate for `localhost` and a client certificate,
    /// both signed by it.
    pub fn generate(ca_name: &str) -> Pki {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let server_key = rcgen::KeyPair::generate().unwrap();
        let server = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&server_key, &ca)
            .unwrap();
        let client_key = rcgen::KeyPair::generate().unwrap();
        let mut client_params =
            rcgen::CertificateParams::new(vec!["gatekeeper-webhook-service".to_string()]).unwrap();
        client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params.signed_by(&client_key, &ca).unwrap();
        Pki {
            ca_pem: ca.pem(),
            server_cert_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }
}

/// Starts a provider on 127.0.0.1:0 in a background thread.
pub fn start(limits: ServerLimits, client_ca: Option<&str>) -> SocketAddr {
    let p = pki();
    let tls = tls_config_from_pem(
        p.server_cert_pem.as_bytes(),
        p.server_key_pem.as_bytes(),
        client_ca.map(str::as_bytes),
    )
    .unwrap();
    start_with(tls, limits)
}

/// Starts a provider with this TLS configuration on 127.0.0.1:0 in a background thread.
pub fn start_with(tls: Arc<rustls::ServerConfig>, limits: ServerLimits) -> SocketAddr {
    let server = Server::bind("127.0.0.1:0", tls, limits).unwrap();
    let addr = server.local_addr().unwrap();
    let modules = prodready_host::load_embedded(common::host()).unwrap();
    let provider = Provider::new(common::host(), modules);
    std::thread::spawn(move || server.serve_until(&provider, std::future::pending()));
    addr
}

/// The provider every test shares (default limits, no client certificates).
pub fn provider_addr() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| start(ServerLimits::default(), None))
}

pub fn crypto() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn client_config(
    versions: &[&'static rustls::SupportedProtocolVersion],
    client_cert: bool,
) -> Arc<ClientConfig> {
    client_config_trusting(&[&pki().ca_pem], versions, client_cert)
}

/// A client that trusts the CAs in `ca_pems` (and presents [`pki`]'s client certificate when
/// `client_cert`).
pub fn client_config_trusting(
    ca_pems: &[&str],
    versions: &[&'static rustls::SupportedProtocolVersion],
    client_cert: bool,
) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for pem in ca_pems {
        for c in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
    }
    let builder = ClientConfig::builder_with_provider(crypto())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    let config = if client_cert {
        let certs = CertificateDer::pem_slice_iter(pki().client_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(pki().client_key_pem.as_bytes()).unwrap();
        builder.with_client_auth_cert(certs, key).unwrap()
    } else {
        builder.with_no_client_auth()
    };
    Arc::new(config)
}

pub fn tls13() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| client_config(&[&rustls::version::TLS13], false))
        .clone()
}

pub type Tls = StreamOwned<ClientConnection, TcpStream>;

pub fn connect(addr: SocketAddr, config: Arc<ClientConfig>) -> Tls {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let conn = ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    StreamOwned::new(conn, tcp)
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Http {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Http {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Reads one response (Content-Length framed) from a stream.
pub fn read_response(s: &mut impl Read) -> std::io::Result<Http> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "closed before a response",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Ok(Http {
        status,
        headers,
        body,
    })
}

/// Sends raw request bytes on a fresh connection and reads one response.
pub fn raw(addr: SocketAddr, request: &[u8]) -> Http {
    let mut s = connect(addr, tls13());
    // A server may answer and stop reading before the request is all sent (a 431 on a head that
    // never ends): a failed write is then not the result, the answer is.
    let _ = s.write_all(request).and_then(|()| s.flush());
    read_response(&mut s).unwrap()
}

pub fn post_request(body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "POST /validate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

pub fn provider_request(keys: &[String]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": API_VERSION,
        "kind": "ProviderRequest",
        "request": {"keys": keys},
    }))
    .unwrap()
}

/// POSTs a ProviderRequest with `keys` and returns the HTTP status and the response.
pub fn ask(addr: SocketAddr, keys: &[String]) -> (u16, ProviderResponse) {
    let r = raw(addr, &post_request(&provider_request(keys)));
    let response = serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!(
            "not a ProviderResponse ({e}): {}",
            String::from_utf8_lossy(&r.body)
        )
    });
    (r.status, response)
}

/// A key as the generated templates build it, for `object` under `rule`.
pub fn key_for(rule: &str, object: &serde_json::Value, parameters: serde_json::Value) -> String {
    json!({"rule": rule, "review": common::admission_request(object), "parameters": parameters})
        .to_string()
}

/// `prodready serve gatekeeper-provider` as a child process, with [`pki`]'s certificate
/// written into `dir` and `args` after it; killed when dropped, passing or failing.
pub struct ServedCli {
    pub child: std::process::Child,
    pub addr: SocketAddr,
    /// Its first line: "prodready: Gatekeeper external-data provider on https://... (rules: ...)".
    pub banner: String,
    /// The rest of what it prints.
    pub stderr: std::io::BufReader<std::process::ChildStderr>,
}

impl Drop for ServedCli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve_cli(dir: &std::path::Path, args: &[&str]) -> ServedCli {
    use std::io::BufRead;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tls.crt"), &pki().server_cert_pem).unwrap();
    std::fs::write(dir.join("tls.key"), &pki().server_key_pem).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_prodready"))
        .args(["serve", "gatekeeper-provider", "--addr", "127.0.0.1:0"])
        .arg("--tls-cert")
        .arg(dir.join("tls.crt"))
        .arg("--tls-key")
        .arg(dir.join("tls.key"))
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut banner = String::new();
    stderr.read_line(&mut banner).unwrap();
    let addr = banner
        .split("https://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok());
    let Some(addr) = addr else {
        let _ = child.kill();
        panic!("no address in {banner:?}");
    };
    ServedCli {
        child,
        addr,
        banner,
        stderr,
    }
}

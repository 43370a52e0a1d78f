//! The REST API's security, configured with Kafka Connect's keys.
//!
//! - TLS: `listeners=https://host:port`; the certificate comes from
//!   `listeners.https.ssl.keystore.location` with
//!   `listeners.https.ssl.keystore.type=PEM` (one file holding the private
//!   key and the certificate chain) or from `listeners.https.ssl.keystore.key`
//!   and `listeners.https.ssl.keystore.certificate.chain` (PEM text); without
//!   the `listeners.https.` prefix the worker's `ssl.*` keys are used, as in
//!   Kafka Connect. `listeners.https.ssl.client.auth=required` (or
//!   `requested`) asks clients for a certificate signed by a CA of
//!   `listeners.https.ssl.truststore.location` (`ssl.truststore.type=PEM`)
//!   or `ssl.truststore.certificates`. The admin listener takes the same keys
//!   under `admin.listeners.https.`.
//! - HTTP Basic authentication: `rest.extension.classes` naming
//!   `org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension`
//!   and a JAAS file (worker key `velocity.rest.basic.auth.file`, or
//!   `java.security.auth.login.config` as a worker key or as
//!   `-Djava.security.auth.login.config=…` in `KAFKA_OPTS`) whose
//!   `KafkaConnect` section names
//!   `org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule`
//!   with `file="…"`, a properties file of `user: password` lines. Every
//!   request must then carry valid credentials, or is answered 401.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use velocity_api::config::ConfigExt;
use velocity_api::RawConfig;

use super::jaas;
use crate::error::{Result, RuntimeError};

/// Kafka Connect's Basic authentication REST extension.
pub const BASIC_AUTH_EXTENSION: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
/// Kafka Connect's login module reading `user: password` properties.
pub const PROPERTY_FILE_LOGIN_MODULE: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule";
/// The JAAS section Kafka Connect's Basic authentication reads.
pub const JAAS_SECTION: &str = "KafkaConnect";

fn bad(msg: String) -> RuntimeError {
    RuntimeError::BadRequest(msg)
}

/// The value of `ssl.<name>` for a listener: `<prefix>ssl.<name>` first,
/// then the worker's `ssl.<name>`.
fn ssl_key<'a>(raw: &'a RawConfig, prefix: &str, name: &str) -> (Option<&'a str>, String) {
    let prefixed = format!("{prefix}ssl.{name}");
    match raw.opt_str(&prefixed) {
        Some(v) => (Some(v), prefixed),
        None => {
            let plain = format!("ssl.{name}");
            (raw.opt_str(&plain), plain)
        }
    }
}

fn read_pem(path: &str, key: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        bad(format!(
            "Invalid value {path} for configuration {key}: cannot read the file ({e})"
        ))
    })
}

/// Builds the TLS server config of an `https://` listener whose keys start
/// with `prefix` (`listeners.https.` or `admin.listeners.https.`).
pub fn server_tls(raw: &RawConfig, prefix: &str) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (ty, ty_key) = ssl_key(raw, prefix, "keystore.type");
    let (loc, loc_key) = ssl_key(raw, prefix, "keystore.location");
    let (inline_key, inline_key_name) = ssl_key(raw, prefix, "keystore.key");
    let (inline_chain, _) = ssl_key(raw, prefix, "keystore.certificate.chain");
    let (key_pem, chain_pem, from) = match (loc, inline_key, inline_chain) {
        (Some(loc), _, _) => {
            let ty = ty.unwrap_or("JKS");
            if !ty.eq_ignore_ascii_case("PEM") {
                return Err(bad(format!(
                    "Invalid value {ty} for configuration {ty_key}: Velocity reads PEM keystores only; set {prefix}ssl.keystore.type=PEM and point {loc_key} at a PEM file with the private key and the certificate chain (openssl pkcs12 -in keystore.p12 -nodes -out keystore.pem)"
                )));
            }
            let pem = read_pem(loc, &loc_key)?;
            (pem.clone(), pem, loc_key)
        }
        (None, Some(k), Some(c)) => (
            k.as_bytes().to_vec(),
            c.as_bytes().to_vec(),
            inline_key_name,
        ),
        _ => {
            return Err(bad(format!(
                "Missing required configuration \"{prefix}ssl.keystore.location\" which has no default value: an https listener needs a PEM keystore ({prefix}ssl.keystore.type=PEM and {prefix}ssl.keystore.location, or {prefix}ssl.keystore.key and {prefix}ssl.keystore.certificate.chain)"
            )))
        }
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&chain_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| {
            bad(format!(
                "Invalid value for configuration {from}: bad PEM certificate ({e})"
            ))
        })?;
    if chain.is_empty() {
        return Err(bad(format!(
            "Invalid value for configuration {from}: no certificate (-----BEGIN CERTIFICATE-----) found"
        )));
    }
    if String::from_utf8_lossy(&key_pem).contains("ENCRYPTED PRIVATE KEY") {
        let (_, pw_key) = ssl_key(raw, prefix, "key.password");
        return Err(bad(format!(
            "Invalid value for configuration {from}: the private key is encrypted ({pw_key}); Velocity needs an unencrypted PEM key (openssl pkey -in key.pem -out key-plain.pem) protected by file permissions"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        bad(format!(
            "Invalid value for configuration {from}: no PEM private key found ({e})"
        ))
    })?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS setup failed: {e}")))?;
    let (auth, auth_key) = ssl_key(raw, prefix, "client.auth");
    let auth = auth.unwrap_or("none").to_ascii_lowercase();
    let builder = match auth.as_str() {
        "none" => builder.with_no_client_auth(),
        "required" | "requested" => {
            let (ts, ts_key) = ssl_key(raw, prefix, "truststore.location");
            let (ts_inline, _) = ssl_key(raw, prefix, "truststore.certificates");
            let pem = match (ts, ts_inline) {
                (Some(p), _) => {
                    let (tty, tty_key) = ssl_key(raw, prefix, "truststore.type");
                    let tty = tty.unwrap_or("JKS");
                    if !tty.eq_ignore_ascii_case("PEM") {
                        return Err(bad(format!(
                            "Invalid value {tty} for configuration {tty_key}: Velocity reads PEM truststores only; set {prefix}ssl.truststore.type=PEM"
                        )));
                    }
                    read_pem(p, &ts_key)?
                }
                (None, Some(t)) => t.as_bytes().to_vec(),
                (None, None) => {
                    return Err(bad(format!(
                        "{auth_key}={auth} needs the CAs that sign client certificates: set {prefix}ssl.truststore.location (with {prefix}ssl.truststore.type=PEM)"
                    )))
                }
            };
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(&pem) {
                let c = c.map_err(|e| {
                    bad(format!(
                        "Invalid value for configuration {ts_key}: bad PEM certificate ({e})"
                    ))
                })?;
                roots
                    .add(c)
                    .map_err(|e| bad(format!("Invalid value for configuration {ts_key}: {e}")))?;
            }
            let mut v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            if auth == "requested" {
                v = v.allow_unauthenticated();
            }
            let v = v
                .build()
                .map_err(|e| bad(format!("Invalid value for configuration {ts_key}: {e}")))?;
            builder.with_client_cert_verifier(v)
        }
        other => {
            return Err(bad(format!(
            "Invalid value {other} for configuration {auth_key}: use required, requested or none"
        )))
        }
    };
    let mut cfg = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad(format!("Invalid value for configuration {from}: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A TCP listener that hands out TLS streams; handshakes run in their own
/// tasks (10 s limit) so one slow client does not hold up the others.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` with `config`.
    pub fn new(
        tcp: TcpListener,
        config: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match tcp.accept().await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!(error = %e, "REST accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if tx.is_closed() {
                    return;
                }
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "REST TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "REST TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // the accept task only ends when this listener is dropped
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The peer address of an https connection, for handlers and the access
/// log (`ConnectInfo<TlsPeer>`; plain connections carry
/// `ConnectInfo<SocketAddr>`).
#[derive(Debug, Clone, Copy)]
pub struct TlsPeer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for TlsPeer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        TlsPeer(*stream.remote_addr())
    }
}

/// Users allowed by HTTP Basic authentication.
#[derive(Clone)]
pub struct BasicAuth {
    users: Arc<BTreeMap<String, String>>,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BasicAuth({} users)", self.users.len())
    }
}

/// Where the JAAS file is named: worker keys, then `KAFKA_OPTS`.
fn jaas_file(raw: &RawConfig) -> Option<(String, String)> {
    for k in [
        "velocity.rest.basic.auth.file",
        "java.security.auth.login.config",
    ] {
        if let Some(v) = raw.opt_str(k) {
            return Some((v.to_owned(), k.to_owned()));
        }
    }
    let opts = std::env::var("KAFKA_OPTS").ok()?;
    opts.split_whitespace()
        .find_map(|o| o.strip_prefix("-Djava.security.auth.login.config="))
        .map(|v| {
            (
                v.to_owned(),
                "KAFKA_OPTS -Djava.security.auth.login.config".to_owned(),
            )
        })
}

impl BasicAuth {
    /// Reads `rest.extension.classes` and, when it names
    /// [`BASIC_AUTH_EXTENSION`], the JAAS file and the credentials file it
    /// points to. Other extension classes are refused (they are Java code).
    pub fn from_worker(raw: &RawConfig) -> Result<Option<BasicAuth>> {
        let Some(classes) = raw.opt_str("rest.extension.classes") else {
            return Ok(None);
        };
        let mut basic = false;
        for c in classes.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            if c == BASIC_AUTH_EXTENSION || c == "BasicAuthSecurityRestExtension" {
                basic = true;
            } else {
                return Err(bad(format!(
                    "Invalid value {c} for configuration rest.extension.classes: Velocity cannot load Java REST extensions; it provides {BASIC_AUTH_EXTENSION}"
                )));
            }
        }
        if !basic {
            return Ok(None);
        }
        let (path, key) = jaas_file(raw).ok_or_else(|| bad(format!(
            "rest.extension.classes={BASIC_AUTH_EXTENSION} needs a JAAS file: set velocity.rest.basic.auth.file (or java.security.auth.login.config) to a file with a {JAAS_SECTION} {{ {PROPERTY_FILE_LOGIN_MODULE} required file=\"/path/users.properties\"; }}; section"
        )))?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            bad(format!(
                "Invalid value {path} for configuration {key}: cannot read the JAAS file ({e})"
            ))
        })?;
        let sections = jaas::parse_file(&text)
            .map_err(|e| bad(format!("Invalid value {path} for configuration {key}: {e}")))?;
        let modules = sections.get(JAAS_SECTION).ok_or_else(|| {
            bad(format!("Invalid value {path} for configuration {key}: the JAAS file has no {JAAS_SECTION} section"))
        })?;
        let mut users = BTreeMap::new();
        for m in modules {
            if m.simple_name() != "PropertyFileLoginModule" {
                return Err(bad(format!(
                    "Invalid value {path} for configuration {key}: login module {} is not supported; use {PROPERTY_FILE_LOGIN_MODULE}",
                    m.class
                )));
            }
            let file = m.options.get("file").ok_or_else(|| {
                bad(format!("Invalid value {path} for configuration {key}: {PROPERTY_FILE_LOGIN_MODULE} needs file=\"/path/users.properties\""))
            })?;
            let creds = std::fs::read_to_string(file).map_err(|e| {
                bad(format!(
                    "cannot read the credentials file {file} named in {path} ({e})"
                ))
            })?;
            users.extend(crate::properties::parse(&creds));
        }
        if users.is_empty() {
            return Err(bad(format!(
                "Invalid value {path} for configuration {key}: no user is defined (user: password lines)"
            )));
        }
        Ok(Some(BasicAuth {
            users: Arc::new(users),
        }))
    }

    /// True when the `Authorization` header value carries known credentials.
    pub fn check(&self, header: Option<&str>) -> bool {
        let Some(b64) = header.and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        }) else {
            return false;
        };
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
            return false;
        };
        let Ok(text) = String::from_utf8(raw) else {
            return false;
        };
        let Some((user, password)) = text.split_once(':') else {
            return false;
        };
        match self.users.get(user) {
            Some(expected) => constant_time_eq(expected.as_bytes(), password.as_bytes()),
            None => false,
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Axum middleware: 401 unless the request carries valid Basic credentials.
pub async fn require_basic_auth(
    State(auth): State<BasicAuth>,
    req: Request,
    next: Next,
) -> Response {
    let h = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if auth.check(h) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Basic realm=\"KafkaConnect\"")],
        axum::Json(
            serde_json::json!({"error_code": 401, "message": "User cannot access the resource."}),
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_from_jaas_and_properties() {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users.properties");
        std::fs::write(&users, "alice: wonder\nbob=builder\n").unwrap();
        let jaas = dir.path().join("connect.jaas");
        std::fs::write(
            &jaas,
            format!(
                "KafkaConnect {{\n {PROPERTY_FILE_LOGIN_MODULE} required\n file=\"{}\";\n}};\n",
                users.display()
            ),
        )
        .unwrap();
        let mut raw = RawConfig::new();
        raw.insert("rest.extension.classes".into(), BASIC_AUTH_EXTENSION.into());
        raw.insert(
            "velocity.rest.basic.auth.file".into(),
            jaas.display().to_string(),
        );
        let a = BasicAuth::from_worker(&raw).unwrap().unwrap();
        let hdr = |u: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(u)
            )
        };
        assert!(a.check(Some(&hdr("alice:wonder"))));
        assert!(a.check(Some(&hdr("bob:builder"))));
        assert!(!a.check(Some(&hdr("alice:wrong"))));
        assert!(!a.check(Some(&hdr("carol:wonder"))));
        assert!(!a.check(None));
        raw.insert("rest.extension.classes".into(), "com.example.Other".into());
        assert!(BasicAuth::from_worker(&raw)
            .unwrap_err()
            .to_string()
            .contains("rest.extension.classes"));
    }

    #[test]
    fn https_needs_a_pem_keystore() {
        let mut raw = RawConfig::new();
        let e = server_tls(&raw, "listeners.https.")
            .unwrap_err()
            .to_string();
        assert!(e.contains("listeners.https.ssl.keystore.location"), "{e}");
        raw.insert(
            "listeners.https.ssl.keystore.location".into(),
            "/x.jks".into(),
        );
        let e = server_tls(&raw, "listeners.https.")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ssl.keystore.type=PEM"), "{e}");
    }
}

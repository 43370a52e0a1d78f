//! TLS to the database server: `database.ssl.mode` and its trust material
//! (`database.ssl.ca` / `.cert` / `.key`, or Debezium's
//! `database.ssl.truststore` / `database.ssl.keystore` when they are PEM
//! files) mapped onto `mysql_async`'s [`SslOpts`] (rustls, ring provider),
//! the checks of those files at configuration time, and the reading of a
//! TLS failure out of a driver error, so that the message says what to fix.
//!
//! | mode | TLS | certificate chain | host name |
//! |---|---|---|---|
//! | `disabled` | never | – | – |
//! | `preferred` | when the server offers it | not checked | not checked |
//! | `required` | always | not checked | not checked |
//! | `verify_ca` | always | checked | not checked |
//! | `verify_identity` | always | checked | checked |
//!
//! `mysql_async` 0.36's own "skip the host name" switch does not recognise
//! the name-mismatch error of the rustls in use (it matches the error's
//! text, which rustls 0.23 words differently), so `verify_ca` retries a
//! name mismatch with the name the verified certificate does hold
//! ([`name_in_certificate`]): the chain is checked on both attempts.

use std::net::IpAddr;
use std::path::PathBuf;

use mysql_async::{ClientIdentity, DriverError, IoError, SslOpts, TlsError};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::CertificateError;

use crate::config::SslMode;

/// The TLS settings of the connector's connections (`database.ssl.*`).
#[derive(Debug, Clone)]
pub struct SslSettings {
    /// `database.ssl.mode` (default `preferred`).
    pub mode: SslMode,
    /// PEM files of trusted CA certificates (`database.ssl.ca`, a PEM
    /// `database.ssl.truststore`); empty: the public web CAs.
    pub roots: Vec<PathBuf>,
    /// Client certificate chain and private key (PEM) for mutual TLS.
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl SslSettings {
    /// The driver's TLS options for one connection attempt (None: plain,
    /// for `disabled`). `tls_name`: the name the server certificate is
    /// checked against instead of `database.hostname`.
    pub fn opts(&self, tls_name: Option<String>) -> Option<SslOpts> {
        if self.mode == SslMode::Disabled {
            return None;
        }
        let verify_chain = matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyIdentity);
        let identity = self
            .identity
            .as_ref()
            .map(|(cert, key)| ClientIdentity::new(cert.clone().into(), key.clone().into()));
        Some(
            SslOpts::default()
                .with_root_certs(self.roots.iter().cloned().map(Into::into).collect())
                .with_disable_built_in_roots(!self.roots.is_empty())
                .with_danger_accept_invalid_certs(!verify_chain)
                .with_danger_skip_domain_validation(self.mode != SslMode::VerifyIdentity)
                .with_danger_tls_hostname_override(tls_name)
                .with_client_identity(identity),
        )
    }
}

/// A TLS failure, read from a driver error by [`failure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The server does not offer TLS.
    NotOffered,
    /// The server certificate does not name the host connected to; the
    /// names it holds (`DnsName("…")` / `IpAddress(…)` as rustls reports them).
    WrongName(Vec<String>),
    /// The certificate chain does not lead to a trusted CA.
    UnknownIssuer,
    /// Any other handshake or certificate failure.
    Other(String),
}

/// The TLS failure behind a driver error, if it is one.
pub fn failure(e: &mysql_async::Error) -> Option<TlsFailure> {
    let rustls_error = match e {
        mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) => {
            return Some(TlsFailure::NotOffered)
        }
        mysql_async::Error::Io(IoError::Tls(TlsError::Tls(r))) => r,
        mysql_async::Error::Io(IoError::Tls(other)) => {
            return Some(TlsFailure::Other(other.to_string()))
        }
        // the handshake's own errors come wrapped in an io::Error
        mysql_async::Error::Io(IoError::Io(io)) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())?,
        _ => return None,
    };
    Some(match rustls_error {
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName) => {
            TlsFailure::WrongName(Vec::new())
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
            presented,
            ..
        }) => TlsFailure::WrongName(presented.clone()),
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            TlsFailure::UnknownIssuer
        }
        other => TlsFailure::Other(other.to_string()),
    })
}

/// The names of a certificate as rustls reports them, as plain text
/// (`DnsName("db.example.com")` → `db.example.com`, `IpAddress(10.0.0.1)`
/// → `10.0.0.1`); other kinds are left out.
pub fn certificate_names(presented: &[String]) -> Vec<String> {
    presented
        .iter()
        .filter_map(|p| {
            p.strip_prefix("DnsName(\"")
                .and_then(|s| s.strip_suffix("\")"))
                .or_else(|| p.strip_prefix("IpAddress(")?.strip_suffix(')'))
                .map(str::to_owned)
        })
        .collect()
}

/// A name the certificate is valid for, to check it against under
/// `verify_ca` (a wildcard `*.example.com` becomes `velocity.example.com`).
pub fn name_in_certificate(presented: &[String]) -> Option<String> {
    certificate_names(presented).into_iter().find_map(|name| {
        if name.parse::<IpAddr>().is_ok() {
            return Some(name);
        }
        let name = match name.strip_prefix("*.") {
            Some(rest) => format!("velocity.{rest}"),
            None => name,
        };
        rustls::pki_types::ServerName::try_from(name.as_str())
            .is_ok()
            .then_some(name)
    })
}

/// What to do about a TLS failure (for the error message).
pub fn fix(failure: &TlsFailure, host: &str) -> String {
    match failure {
        TlsFailure::NotOffered => "the server does not offer TLS: enable it on the server (ssl_cert, ssl_key), or set database.ssl.mode=preferred (TLS when offered) or disabled".into(),
        TlsFailure::WrongName(presented) => format!(
            "the server certificate is not issued for database.hostname '{host}' (it names {}): set database.hostname to a name the certificate holds, or database.ssl.mode=verify_ca to check the issuing CA only",
            match certificate_names(presented).join(", ") {
                names if names.is_empty() => "no usable name".to_owned(),
                names => names,
            }
        ),
        TlsFailure::UnknownIssuer => "the server certificate is not signed by a trusted CA: set database.ssl.ca (or database.ssl.truststore) to the PEM file of the CA that issued it, or set database.ssl.mode=required to encrypt without checking the certificate".into(),
        TlsFailure::Other(_) => "check the server's TLS setup and database.ssl.mode, database.ssl.ca, database.ssl.cert and database.ssl.key".into(),
    }
}

/// What a PEM file of a `database.ssl.*` key must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// CA certificates (`database.ssl.ca`, `database.ssl.truststore`).
    Certs,
    /// A private key (`database.ssl.key`).
    Key,
    /// A certificate chain and its private key (`database.ssl.keystore`).
    CertsAndKey,
}

/// Rule of `database.ssl.ca`: a readable PEM file of certificates.
pub fn check_ca_file(path: &str) -> Result<(), String> {
    check_pem(path, Want::Certs, None)
}

/// Rule of `database.ssl.cert`: a readable PEM file of certificates.
pub fn check_cert_file(path: &str) -> Result<(), String> {
    check_pem(path, Want::Certs, None)
}

/// Rule of `database.ssl.key`: a readable PEM file with a private key.
pub fn check_key_file(path: &str) -> Result<(), String> {
    check_pem(path, Want::Key, None)
}

/// Rule of `database.ssl.truststore`: a PEM file of CA certificates (a
/// JKS or PKCS12 store is refused with the command that converts it).
pub fn check_truststore(path: &str) -> Result<(), String> {
    check_pem(
        path,
        Want::Certs,
        Some(format!(
            "export the CA certificate(s) to PEM (`keytool -exportcert -rfc -keystore {path} -alias <alias> -file ca.pem`, or for PKCS12 `openssl pkcs12 -in {path} -nokeys -out ca.pem`) and set database.ssl.ca (or this key) to ca.pem"
        )),
    )
}

/// Rule of `database.ssl.keystore`: a PEM file with the client certificate
/// chain and its unencrypted private key (a JKS or PKCS12 store is refused
/// with the commands that convert it).
pub fn check_keystore(path: &str) -> Result<(), String> {
    check_pem(
        path,
        Want::CertsAndKey,
        Some(format!(
            "convert it to PEM (for JKS first `keytool -importkeystore -srckeystore {path} -destkeystore client.p12 -deststoretype PKCS12`, then `openssl pkcs12 -in client.p12 -nodes -out client.pem`) and set this key (or database.ssl.cert and database.ssl.key) to client.pem"
        )),
    )
}

/// Checks that `path` is a PEM file holding `want`; `convert`: how to turn
/// a Java store into one (for Debezium's store keys). Empty: not set.
fn check_pem(path: &str, want: Want, convert: Option<String>) -> Result<(), String> {
    if path.is_empty() {
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file {path}: {e}"))?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let what = match bytes.get(..4) {
            Some([0xFE, 0xED, 0xFE, 0xED]) => "a Java KeyStore (JKS)",
            Some([0xCE, 0xCE, 0xCE, 0xCE]) => "a Java JCEKS keystore",
            Some([0x30, ..]) => "a binary (DER or PKCS12) file",
            _ => "not a PEM file",
        };
        return Err(match convert {
            Some(convert) => format!("{path} is {what}; Velocity reads PEM files only: {convert}"),
            None => format!("{path} is {what}; give a PEM file (-----BEGIN …)"),
        });
    }
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{path} has an unreadable PEM certificate: {e}"))?;
    let has_key = PrivateKeyDer::from_pem_slice(&bytes).is_ok();
    if matches!(want, Want::Certs | Want::CertsAndKey) && certs.is_empty() {
        return Err(format!(
            "{path} holds no certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    if matches!(want, Want::Key | Want::CertsAndKey) && !has_key {
        return Err(format!(
            "{path} holds no unencrypted private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, bytes: &[u8]) -> String {
        let p = std::env::temp_dir().join(format!("vmy-tls-{}-{name}", std::process::id()));
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    }

    #[test]
    fn modes_map_onto_the_driver_options() {
        let s = |mode| SslSettings {
            mode,
            roots: vec!["/ca.pem".into()],
            identity: None,
        };
        assert!(s(SslMode::Disabled).opts(None).is_none());
        for mode in [SslMode::Preferred, SslMode::Required] {
            let o = s(mode).opts(None).unwrap();
            assert!(o.accept_invalid_certs(), "{mode}");
        }
        let ca = s(SslMode::VerifyCa).opts(Some("db".into())).unwrap();
        assert!(!ca.accept_invalid_certs() && ca.skip_domain_validation());
        assert_eq!(ca.tls_hostname_override(), Some("db"));
        assert!(ca.disable_built_in_roots());
        let id = s(SslMode::VerifyIdentity).opts(None).unwrap();
        assert!(!id.accept_invalid_certs() && !id.skip_domain_validation());
        let public = SslSettings {
            mode: SslMode::VerifyIdentity,
            roots: vec![],
            identity: None,
        };
        assert!(!public.opts(None).unwrap().disable_built_in_roots());
    }

    #[test]
    fn certificate_names_come_out_plain_and_wildcards_usable() {
        let p = vec![
            "DirectoryName".to_owned(),
            "DnsName(\"*.example.com\")".to_owned(),
            "IpAddress(10.0.0.1)".to_owned(),
        ];
        assert_eq!(certificate_names(&p), ["*.example.com", "10.0.0.1"]);
        assert_eq!(
            name_in_certificate(&p).as_deref(),
            Some("velocity.example.com")
        );
        assert_eq!(name_in_certificate(&p[2..]).as_deref(), Some("10.0.0.1"));
        assert_eq!(name_in_certificate(&p[..1]), None);
        let m = fix(&TlsFailure::WrongName(p), "127.0.0.1");
        assert!(
            m.contains("'127.0.0.1'") && m.contains("*.example.com, 10.0.0.1"),
            "{m}"
        );
        assert!(m.contains("database.ssl.mode=verify_ca"), "{m}");
    }

    #[test]
    fn java_stores_are_refused_with_the_conversion() {
        let jks = temp("ts.jks", &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]);
        let e = check_truststore(&jks).unwrap_err();
        assert!(
            e.contains("Java KeyStore (JKS)") && e.contains("keytool -exportcert"),
            "{e}"
        );
        let p12 = temp("ks.p12", &[0x30, 0x82, 0x01, 0x00]);
        let e = check_keystore(&p12).unwrap_err();
        assert!(e.contains("PKCS12") && e.contains("openssl pkcs12"), "{e}");
        let e = check_ca_file("/nonexistent/ca.pem").unwrap_err();
        assert!(
            e.contains("cannot read the file /nonexistent/ca.pem"),
            "{e}"
        );
        let empty = temp(
            "empty.pem",
            b"-----BEGIN NOTHING-----\n-----END NOTHING-----\n",
        );
        assert!(check_ca_file(&empty)
            .unwrap_err()
            .contains("no certificate"));
        assert!(check_key_file(&empty)
            .unwrap_err()
            .contains("no unencrypted private key"));
        // empty: the key is not set (its default)
        assert_eq!(check_ca_file(""), Ok(()));
        for f in [jks, p12, empty] {
            let _ = std::fs::remove_file(f);
        }
    }
}

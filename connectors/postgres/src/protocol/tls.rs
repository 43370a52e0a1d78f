//! TLS for the replication connection: rustls (ring provider) client
//! configurations per `sslmode`, and the `tls-server-end-point` channel
//! binding hash used by `SCRAM-SHA-256-PLUS`.
//!
//! * `prefer` / `require` (without a root certificate): encrypted, server
//!   certificate **not** verified (as libpq). Handshake signatures are still
//!   checked, so the certificate's key must be the one doing the handshake.
//! * `require` with `sslrootcert`, and `verify-ca`: the chain must lead to a
//!   trusted root; the host name is not checked.
//! * `verify-full`: chain and host name (DNS name or IP address) are checked.
//!
//! Trusted roots are the PEM certificates of `sslrootcert` when given, else
//! the operating system's trust store (`rustls-native-certs`).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, WebPkiServerVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::Digest;

use super::conn::SslMode;
use super::error::ProtocolError;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(e: impl std::fmt::Display) -> ProtocolError {
    ProtocolError::Tls(e.to_string())
}

/// Loads the trust anchors: the PEM file when given, the OS store otherwise.
/// Also returns the certificates read from the file (for pinning).
fn root_store(
    root_cert: Option<&Path>,
) -> Result<(RootCertStore, Vec<CertificateDer<'static>>), ProtocolError> {
    let mut store = RootCertStore::empty();
    let mut from_file = Vec::new();
    match root_cert {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| tls_err(format!("cannot read sslrootcert {}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| {
                    tls_err(format!(
                        "invalid PEM in sslrootcert {}: {e}",
                        path.display()
                    ))
                })?;
                from_file.push(cert.clone());
                store.add(cert).map_err(|e| {
                    tls_err(format!(
                        "unusable certificate in sslrootcert {}: {e}",
                        path.display()
                    ))
                })?;
            }
            if store.is_empty() {
                return Err(tls_err(format!(
                    "sslrootcert {} contains no certificates",
                    path.display()
                )));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                // Skip individual unparsable system certificates like libpq would.
                let _ = store.add(cert);
            }
            if store.is_empty() {
                return Err(tls_err(
                    "no trusted root certificates: set database.sslrootcert or install system CA certificates",
                ));
            }
        }
    }
    Ok((store, from_file))
}

/// Builds the rustls client configuration for `mode` (which must use TLS).
pub(crate) fn client_config(
    mode: SslMode,
    root_cert: Option<&Path>,
) -> Result<Arc<ClientConfig>, ProtocolError> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?;
    let verify_chain = match mode {
        SslMode::VerifyCa | SslMode::VerifyFull => true,
        SslMode::Require => root_cert.is_some(),
        SslMode::Disable | SslMode::Allow | SslMode::Prefer => false,
    };
    let config = if !verify_chain {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoCertificateVerification(provider)))
            .with_no_client_auth()
    } else {
        let (roots, pinned) = root_store(root_cert)?;
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(tls_err)?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PgVerifier {
                webpki,
                pinned,
                check_name: mode == SslMode::VerifyFull,
            }))
            .with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Server name for SNI and (for `verify-full`) host name checks.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, ProtocolError> {
    ServerName::try_from(host.to_string()).map_err(|e| {
        ProtocolError::InvalidArgument(format!("invalid host name {host:?} for TLS: {e}"))
    })
}

/// Accepts any certificate (sslmode `prefer`/`require`), still verifying
/// handshake signatures with the presented certificate's key.
#[derive(Debug)]
struct NoCertificateVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoCertificateVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Verifies the chain against the roots, and the host name when
/// `check_name` (`verify-full`).
///
/// A server certificate byte-identical to a certificate of `sslrootcert` is
/// accepted as pinned even when webpki refuses it as an end entity (the
/// common self-signed `CA:TRUE` server certificate that doubles as root
/// certificate, which libpq accepts); its host name is still checked for
/// `verify-full`. Validity dates of such a pinned certificate are not checked.
#[derive(Debug)]
struct PgVerifier {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
    check_name: bool,
}

impl ServerCertVerifier for PgVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // webpki checks the chain before the name, so a name error means the
        // chain itself was valid.
        let result = match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => return Ok(v),
            Err(e) if is_name_error(&e) => {
                if !self.check_name {
                    return Ok(ServerCertVerified::assertion());
                }
                Err(e)
            }
            Err(e) => {
                if !self
                    .pinned
                    .iter()
                    .any(|p| p.as_ref() == end_entity.as_ref())
                {
                    return Err(e);
                }
                if !self.check_name {
                    return Ok(ServerCertVerified::assertion());
                }
                let parsed = ParsedCertificate::try_from(end_entity)?;
                verify_server_name(&parsed, server_name).map(|()| ServerCertVerified::assertion())
            }
        };
        // libpq compatibility: a certificate without subjectAltName entries is
        // matched on its subject common name(s).
        result.or_else(|e| match &e {
            rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext {
                presented,
                ..
            }) if !presented.is_empty() => Err(e),
            _ if is_name_error(&e) => {
                let host = match server_name {
                    ServerName::DnsName(d) => d.as_ref().to_string(),
                    ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
                    _ => return Err(e),
                };
                if subject_common_names(end_entity)
                    .iter()
                    .any(|cn| common_name_matches(cn, &host))
                {
                    Ok(ServerCertVerified::assertion())
                } else {
                    Err(e)
                }
            }
            _ => Err(e),
        })
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

fn is_name_error(e: &rustls::Error) -> bool {
    matches!(
        e,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

/// libpq's CN matching: case-insensitive, with a `*.` wildcard matching
/// exactly one leading label.
fn common_name_matches(cn: &str, host: &str) -> bool {
    if cn.eq_ignore_ascii_case(host) {
        return true;
    }
    match (cn.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((label, rest))) => {
            !label.is_empty() && rest.eq_ignore_ascii_case(suffix)
        }
        _ => false,
    }
}

/// Values of the subject's commonName (2.5.4.3) attributes.
fn subject_common_names(cert: &[u8]) -> Vec<String> {
    fn inner(cert: &[u8]) -> Option<Vec<String>> {
        let (0x30, cert_body, _) = der_tlv(cert)? else {
            return None;
        };
        let (0x30, mut tbs, _) = der_tlv(cert_body)? else {
            return None;
        };
        // [0] version (optional), serial, signature, issuer, validity, subject.
        let (tag, _, rest) = der_tlv(tbs)?;
        if tag == 0xa0 {
            tbs = rest;
        }
        for _ in 0..4 {
            tbs = der_tlv(tbs)?.2;
        }
        let (0x30, mut subject, _) = der_tlv(tbs)? else {
            return None;
        };
        let mut names = Vec::new();
        while !subject.is_empty() {
            let (_, mut set, rest) = der_tlv(subject)?;
            subject = rest;
            while !set.is_empty() {
                let (_, atv, rest) = der_tlv(set)?;
                set = rest;
                let (0x06, oid, value) = der_tlv(atv)? else {
                    continue;
                };
                if oid == [0x55, 0x04, 0x03] {
                    let (_, v, _) = der_tlv(value)?;
                    names.push(String::from_utf8_lossy(v).into_owned());
                }
            }
        }
        Some(names)
    }
    inner(cert).unwrap_or_default()
}

/// Reads one DER TLV; returns (tag, content, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, r) = (rest.get(..n)?, rest.get(n..)?);
        rest = r;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// Signature algorithm OID (DER content bytes) of an X.509 certificate.
fn signature_algorithm_oid(cert: &[u8]) -> Option<&[u8]> {
    let (0x30, cert_body, _) = der_tlv(cert)? else {
        return None;
    };
    let (0x30, _tbs, rest) = der_tlv(cert_body)? else {
        return None;
    };
    let (0x30, alg, _) = der_tlv(rest)? else {
        return None;
    };
    let (0x06, oid, _) = der_tlv(alg)? else {
        return None;
    };
    Some(oid)
}

/// The RFC 5929 `tls-server-end-point` channel binding data: the hash of the
/// server certificate with the hash function of its signature algorithm (MD5
/// and SHA-1 upgraded to SHA-256). `None` for algorithms without a defined
/// hash (e.g. Ed25519, RSA-PSS), in which case SCRAM runs without channel binding.
pub(crate) fn tls_server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    const RSA: [u8; 8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01];
    const ECDSA_SHA2: [u8; 7] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03];
    const ECDSA_SHA1: [u8; 7] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01];
    enum H {
        S224,
        S256,
        S384,
        S512,
    }
    let oid = signature_algorithm_oid(cert)?;
    let h = if let Some(last) = oid.strip_prefix(&RSA[..]) {
        match last {
            // md5WithRSA, sha1WithRSA (upgraded to SHA-256), sha256WithRSA.
            [0x04] | [0x05] | [0x0b] => H::S256,
            [0x0e] => H::S224,
            [0x0c] => H::S384,
            [0x0d] => H::S512,
            _ => return None,
        }
    } else if let Some(last) = oid.strip_prefix(&ECDSA_SHA2[..]) {
        match last {
            [0x02] => H::S256,
            [0x03] => H::S384,
            [0x04] => H::S512,
            _ => return None,
        }
    } else if oid == ECDSA_SHA1 {
        H::S256
    } else {
        return None;
    };
    Some(match h {
        H::S224 => sha2::Sha224::digest(cert).to_vec(),
        H::S256 => sha2::Sha256::digest(cert).to_vec(),
        H::S384 => sha2::Sha384::digest(cert).to_vec(),
        H::S512 => sha2::Sha512::digest(cert).to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_parsing_handles_garbage() {
        assert_eq!(tls_server_end_point(&[]), None);
        assert_eq!(tls_server_end_point(&[0x30, 0x82, 0xff]), None);
        assert_eq!(tls_server_end_point(&[0x30, 0x00]), None);
    }

    #[test]
    fn common_name_matching() {
        assert!(common_name_matches("db.example.com", "DB.example.com"));
        assert!(common_name_matches("*.example.com", "db.example.com"));
        assert!(!common_name_matches("*.example.com", "a.db.example.com"));
        assert!(!common_name_matches("*.example.com", "example.com"));
        assert!(common_name_matches("127.0.0.1", "127.0.0.1"));
        assert!(subject_common_names(&[0x30, 0x00]).is_empty());
    }

    #[test]
    fn finds_sha256_with_rsa() {
        // SEQ { SEQ {} (tbs), SEQ { OID sha256WithRSAEncryption, NULL }, BITSTRING }
        let oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
        ];
        let mut alg = vec![0x30, (oid.len() + 2) as u8];
        alg.extend_from_slice(&oid);
        alg.extend_from_slice(&[0x05, 0x00]);
        let mut body = vec![0x30, 0x00];
        body.extend_from_slice(&alg);
        body.extend_from_slice(&[0x03, 0x01, 0x00]);
        let mut cert = vec![0x30, body.len() as u8];
        cert.extend_from_slice(&body);
        let h = tls_server_end_point(&cert).expect("hash");
        assert_eq!(h, sha2::Sha256::digest(&cert).to_vec());
    }
}

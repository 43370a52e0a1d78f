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
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
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
fn root_store(root_cert: Option<&Path>) -> Result<RootCertStore, ProtocolError> {
    let mut store = RootCertStore::empty();
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
    Ok(store)
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
        let roots = Arc::new(root_store(root_cert)?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(tls_err)?;
        if mode == SslMode::VerifyFull {
            builder.with_webpki_verifier(webpki).with_no_client_auth()
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnlyVerification(webpki)))
                .with_no_client_auth()
        }
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

/// Verifies the chain but not the host name (sslmode `verify-ca`).
#[derive(Debug)]
struct ChainOnlyVerification(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnlyVerification {
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
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
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

//! Inter-worker request signing with the cluster's session key, as Kafka
//! Connect's `InternalRequestSignature` does it.
//!
//! The leader writes a `session-key` record to the config topic (a random
//! 256-bit `HmacSHA256` key with its creation time) when there is none or
//! the current one is older than `inter.worker.key.ttl.ms`; every worker
//! reads it from the topic. A worker sending an internal request (a
//! follower sending its connector's task configs to the leader) signs the
//! request body: header `X-Connect-Authorization` = base64(HMAC-SHA256(key,
//! body)), header `X-Connect-Request-Signature-Algorithm` = `HmacSHA256`.
//! The receiving leader, when the group runs the `sessioned` protocol,
//! answers 400 `Internal request missing required signature` without the
//! headers, 400 for another algorithm, and 403 `Internal request contained
//! invalid signature.` when the MAC does not match (compared in constant
//! time).

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::formats::SessionKey;
use crate::error::{Result, RuntimeError};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Connect-Authorization";
/// The signature algorithm header.
pub const SIGNATURE_ALGORITHM_HEADER: &str = "X-Connect-Request-Signature-Algorithm";
/// The one algorithm Velocity signs and verifies with (Kafka Connect's default).
pub const ALGORITHM: &str = "HmacSHA256";

fn mac(key: &[u8]) -> Result<Hmac<Sha256>> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|e| RuntimeError::BadRequest(format!("invalid session key: {e}")))
}

/// A new random key created at `now_ms`.
pub fn generate(now_ms: i64) -> Result<SessionKey> {
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| {
        RuntimeError::io(
            "generating the session key",
            std::io::Error::other(e.to_string()),
        )
    })?;
    Ok(SessionKey {
        key,
        algorithm: ALGORITHM.to_owned(),
        creation_timestamp: now_ms,
    })
}

/// Whether `key` is older than `ttl` at `now_ms`.
pub fn expired(key: &SessionKey, ttl: Duration, now_ms: i64) -> bool {
    now_ms.saturating_sub(key.creation_timestamp) >= ttl.as_millis().min(i64::MAX as u128) as i64
}

/// The base64 signature of `body`.
pub fn sign(key: &SessionKey, body: &[u8]) -> Result<String> {
    let mut m = mac(&key.key)?;
    m.update(body);
    Ok(base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes()))
}

/// Checks a request's signature headers (`algorithm`, `signature`) against
/// `key`, with Kafka Connect's answers (see the module docs).
pub fn verify(
    key: Option<&SessionKey>,
    algorithm: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
) -> Result<()> {
    let (Some(algorithm), Some(signature)) = (algorithm, signature) else {
        return Err(RuntimeError::BadRequest(
            "Internal request missing required signature".into(),
        ));
    };
    if algorithm != ALGORITHM {
        return Err(RuntimeError::BadRequest(format!(
            "This worker does not support the '{algorithm}' key signing algorithm used by other workers. This worker is currently configured to use: [{ALGORITHM}]. Check that all workers' configuration files permit the same set of signature algorithms, and correct any misconfigured worker and restart it."
        )));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|e| RuntimeError::BadRequest(e.to_string()))?;
    let invalid =
        || RuntimeError::Forbidden("Internal request contained invalid signature.".into());
    let key = key.ok_or_else(invalid)?;
    let mut m = mac(&key.key)?;
    m.update(body);
    m.verify_slice(&decoded).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(bytes: &[u8]) -> SessionKey {
        SessionKey {
            key: bytes.to_vec(),
            algorithm: ALGORITHM.into(),
            creation_timestamp: 1_000,
        }
    }

    #[test]
    fn rfc_4231_test_case_2() {
        // HMAC-SHA-256 of "what do ya want for nothing?" with key "Jefe"
        let sig = sign(&key(b"Jefe"), b"what do ya want for nothing?").unwrap();
        let hex: String = base64::engine::general_purpose::STANDARD
            .decode(&sig)
            .unwrap()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verification_answers_as_kafka_connect() {
        let k = key(b"0123456789abcdef0123456789abcdef");
        let body = br#"[{"topic":"x"}]"#;
        let sig = sign(&k, body).unwrap();
        verify(Some(&k), Some(ALGORITHM), Some(&sig), body).unwrap();
        let e = verify(Some(&k), Some(ALGORITHM), Some(&sig), b"[]").unwrap_err();
        assert_eq!(e.status(), 403);
        assert_eq!(
            e.to_string(),
            "Internal request contained invalid signature."
        );
        let e = verify(Some(&k), None, Some(&sig), body).unwrap_err();
        assert_eq!(
            (e.status(), e.to_string()),
            (
                400,
                "Internal request missing required signature".to_owned()
            )
        );
        let e = verify(Some(&k), Some("HmacSHA1"), Some(&sig), body).unwrap_err();
        assert_eq!(e.status(), 400);
        assert!(e.to_string().contains("'HmacSHA1'"));
        assert!(expired(&k, Duration::from_millis(500), 1_500));
        assert!(!expired(&k, Duration::from_millis(501), 1_500));
        let g = generate(7).unwrap();
        assert_eq!((g.key.len(), g.algorithm.as_str()), (32, ALGORITHM));
    }
}

//! `GET /health` as KIP-1017 defines it for Kafka Connect: 503 with status
//! `starting` until the worker has restored and started its connectors,
//! 500 with status `unhealthy` when the worker cannot reach the Kafka
//! cluster, 200 with status `healthy` otherwise; the JSON bodies carry
//! Kafka Connect's `status`, `message` and (when unhealthy) `details`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;
use serde_json::{json, Value as JsonValue};

/// How long one broker check may take before the worker is reported unhealthy.
pub const BROKER_CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// Kafka Connect's message for a healthy worker.
pub const HEALTHY: &str = "Worker has completed startup and is ready to handle requests.";
/// Kafka Connect's message while starting.
pub const STARTING: &str = "Worker is still starting up.";
/// Kafka Connect's message for an unhealthy worker.
pub const UNHEALTHY: &str =
    "Worker was unable to handle this request and may be unable to handle other requests.";

/// The worker's readiness and liveness.
pub struct Health {
    started: AtomicBool,
    /// A client used only to ask the cluster for metadata.
    probe: Option<Arc<BaseProducer>>,
}

impl Health {
    /// A worker that is starting; `client` configures the broker check
    /// (None: no check, as in tests without a broker).
    pub fn new(client: Option<ClientConfig>) -> Health {
        let probe = client.and_then(|c| match c.create::<BaseProducer>() {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                tracing::warn!(error = %e, "could not create the client for /health broker checks");
                None
            }
        });
        Health {
            started: AtomicBool::new(false),
            probe,
        }
    }

    /// Startup is complete.
    pub fn set_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// True once startup is complete.
    pub fn started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// The HTTP status and body `/health` answers now.
    pub async fn check(&self) -> (u16, JsonValue) {
        if !self.started() {
            return (503, json!({"status": "starting", "message": STARTING}));
        }
        if let Some(p) = self.probe.clone() {
            let r = tokio::task::spawn_blocking(move || {
                p.client()
                    .fetch_metadata(None, BROKER_CHECK_TIMEOUT)
                    .map(|_| ())
            })
            .await;
            let err = match r {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(e) => Some(e.to_string()),
            };
            if let Some(e) = err {
                return (
                    500,
                    json!({
                        "status": "unhealthy",
                        "message": UNHEALTHY,
                        "details": format!("could not reach the Kafka cluster within {} ms: {e}", BROKER_CHECK_TIMEOUT.as_millis()),
                    }),
                );
            }
        }
        (200, json!({"status": "healthy", "message": HEALTHY}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn starting_then_healthy() {
        let h = Health::new(None);
        let (code, body) = h.check().await;
        assert_eq!((code, body["status"].as_str()), (503, Some("starting")));
        h.set_started();
        let (code, body) = h.check().await;
        assert_eq!((code, body["message"].as_str()), (200, Some(HEALTHY)));
    }

    #[tokio::test]
    async fn an_unreachable_broker_is_unhealthy() {
        // a port nothing listens on: the metadata request cannot succeed
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", format!("127.0.0.1:{port}"));
        let h = Health::new(Some(c));
        h.set_started();
        let (code, body) = h.check().await;
        assert_eq!(code, 500, "{body}");
        assert_eq!(body["status"], "unhealthy");
    }
}

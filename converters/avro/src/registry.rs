//! A Confluent Schema Registry client on `reqwest`: register / look up /
//! latest / by-id calls, basic auth (USER_INFO), PEM TLS, failover over the
//! configured URLs, retries with exponential backoff on connection errors and
//! HTTP 408/429/500/502/503/504 (as Confluent's `RestService`), and the
//! registry's error codes turned into operator-facing errors (40401 subject
//! not found, 40403 schema not found, 409 incompatible naming the field, 401/403
//! naming `basic.auth.user.info`).
//!
//! The converter API is synchronous and runs inside the worker's async tasks,
//! so requests run on the client's own small tokio runtime and the caller
//! waits on a channel; this happens once per new schema (callers cache ids).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value as Json};

use crate::config::{AvroConverterConfig, BASIC_AUTH_USER_INFO};
use crate::error::AvroError;

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A schema as the registry returns it.
#[derive(Debug, Clone)]
pub struct RegisteredSchema {
    /// Global id.
    pub id: i32,
    /// Version under the subject (when known).
    pub version: Option<i32>,
    /// The schema text.
    pub schema: String,
}

/// The registry client; one per converter.
pub struct RegistryClient {
    runtime: Option<tokio::runtime::Runtime>,
    http: reqwest::Client,
    urls: Vec<String>,
    current: AtomicUsize,
    auth: Option<String>,
    max_retries: u32,
    wait: Duration,
    max_wait: Duration,
    normalize: bool,
}

impl Drop for RegistryClient {
    fn drop(&mut self) {
        // dropping a runtime inside an async context panics; this does not
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The outcome of one HTTP exchange.
enum Attempt {
    Ok(Json),
    /// Retriable: connection error, 408, 429, 5xx.
    Retry(String),
    /// Final error from the registry: (HTTP status, error_code, message).
    Fail(u16, i64, String),
}

impl RegistryClient {
    /// A client for `cfg`'s URLs and credentials.
    pub fn new(cfg: &AvroConverterConfig) -> Result<Self, AvroError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.read_timeout);
        if let Some(pem) = &cfg.ssl.trust_pem {
            for c in reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                AvroError::config(
                    crate::config::SSL_TRUSTSTORE_LOCATION.name,
                    format!("not PEM certificates: {e}"),
                )
            })? {
                b = b.add_root_certificate(c);
            }
        }
        if let Some(pem) = &cfg.ssl.identity_pem {
            let id = reqwest::Identity::from_pem(pem).map_err(|e| {
                AvroError::config(
                    crate::config::SSL_KEYSTORE_LOCATION.name,
                    format!("not a PEM key and certificate chain: {e}"),
                )
            })?;
            b = b.identity(id);
        }
        let http = b.build().map_err(|e| {
            AvroError::data(format!("cannot build the schema registry HTTP client: {e}"))
        })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("schema-registry")
            .enable_all()
            .build()
            .map_err(|e| {
                AvroError::data(format!("cannot start the schema registry client: {e}"))
            })?;
        let auth = cfg.user_info.as_ref().map(|u| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(u.as_bytes())
            )
        });
        Ok(RegistryClient {
            runtime: Some(runtime),
            http,
            urls: cfg.urls.clone(),
            current: AtomicUsize::new(0),
            auth,
            max_retries: cfg.max_retries,
            wait: cfg.retries_wait,
            max_wait: cfg.retries_max_wait,
            normalize: cfg.normalize,
        })
    }

    /// URLs for display (credentials in a URL are cut).
    fn shown(url: &str) -> String {
        match (url.find("://"), url.find('@')) {
            (Some(s), Some(at)) if at > s => format!("{}{}", &url[..s + 3], &url[at + 1..]),
            _ => url.to_owned(),
        }
    }

    /// Sends `method path [body]` to the first URL that answers, retrying.
    fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Json>,
    ) -> Result<Json, (u16, i64, String)> {
        let rt = self
            .runtime
            .as_ref()
            .expect("runtime lives as long as the client");
        let n = self.urls.len();
        let start = self.current.load(Ordering::Relaxed);
        let mut last = String::new();
        for i in 0..n {
            let idx = (start + i) % n;
            let base = &self.urls[idx];
            let url = format!("{base}{path}");
            let mut wait = self.wait;
            for attempt in 0..=self.max_retries {
                let req = {
                    let mut r = self
                        .http
                        .request(method.clone(), &url)
                        .header("Accept", CONTENT_TYPE);
                    if let Some(a) = &self.auth {
                        r = r.header("Authorization", a);
                    }
                    if let Some(b) = &body {
                        r = r.header("Content-Type", CONTENT_TYPE).body(b.to_string());
                    }
                    r
                };
                let (tx, rx) = mpsc::channel();
                rt.spawn(async move {
                    let out = match req.send().await {
                        Err(e) => Attempt::Retry(format!("{e}")),
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let text = resp.text().await.unwrap_or_default();
                            let parsed: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
                            if (200..300).contains(&status) {
                                Attempt::Ok(parsed)
                            } else {
                                let code = parsed
                                    .get("error_code")
                                    .and_then(Json::as_i64)
                                    .unwrap_or(i64::from(status));
                                let msg = parsed.get("message").and_then(Json::as_str).map_or_else(
                                    || text.chars().take(300).collect(),
                                    str::to_owned,
                                );
                                if matches!(status, 408 | 429 | 500 | 502 | 503 | 504) {
                                    Attempt::Retry(format!(
                                        "HTTP {status} (error code {code}): {msg}"
                                    ))
                                } else {
                                    Attempt::Fail(status, code, msg)
                                }
                            }
                        }
                    };
                    let _ = tx.send(out);
                });
                match rx.recv() {
                    Ok(Attempt::Ok(j)) => {
                        self.current.store(idx, Ordering::Relaxed);
                        return Ok(j);
                    }
                    Ok(Attempt::Fail(s, c, m)) => return Err((s, c, m)),
                    Ok(Attempt::Retry(m)) => last = format!("{}: {m}", Self::shown(base)),
                    Err(_) => last = format!("{}: request abandoned", Self::shown(base)),
                }
                if attempt < self.max_retries {
                    tracing::debug!(url = %Self::shown(base), attempt, "schema registry request failed, retrying: {last}");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(self.max_wait);
                }
            }
        }
        Err((0, 0, last))
    }

    fn query(&self) -> &'static str {
        if self.normalize {
            "?normalize=true"
        } else {
            ""
        }
    }

    /// Turns a failed call into an error naming the subject.
    fn error(&self, what: &str, subject: &str, e: (u16, i64, String)) -> AvroError {
        let (status, code, msg) = e;
        let urls: Vec<String> = self.urls.iter().map(|u| Self::shown(u)).collect();
        match (status, code) {
            (0, _) => AvroError::Unavailable(format!(
                "Schema registry unavailable while {what} for subject \"{subject}\" ({} tried, {} retries each): {msg}",
                urls.join(", "),
                self.max_retries
            )),
            (401 | 403, _) => AvroError::Registry(format!(
                "The schema registry at {} refused the credentials (HTTP {status}) while {what} for subject \"{subject}\": check basic.auth.credentials.source=USER_INFO and {} (user:password)",
                urls.join(", "),
                BASIC_AUTH_USER_INFO.name
            )),
            (_, 40401) => AvroError::Registry(format!(
                "Subject \"{subject}\" not found in the schema registry (error 40401) while {what}: register the schema first, or set auto.register.schemas=true"
            )),
            (_, 40403) => AvroError::Registry(format!(
                "Schema not found under subject \"{subject}\" (error 40403) while {what}: register it first, or set auto.register.schemas=true"
            )),
            (409, _) => AvroError::Registry(format!(
                "Schema being registered is incompatible with an earlier schema for subject \"{subject}\" (error 409): {msg}. Make the change compatible or relax the subject's compatibility (PUT /config/{subject}), then restart the task"
            )),
            (_, 42201) => AvroError::Registry(format!(
                "The schema registry rejected the schema for subject \"{subject}\" as invalid (error 42201): {msg}"
            )),
            _ => AvroError::Registry(format!(
                "Schema registry error while {what} for subject \"{subject}\" (HTTP {status}, error code {code}): {msg}"
            )),
        }
    }

    fn subject_path(subject: &str) -> String {
        let mut s = String::new();
        for b in subject.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                s.push(b as char);
            } else {
                s.push_str(&format!("%{b:02X}"));
            }
        }
        s
    }

    /// `POST /subjects/{subject}/versions`: registers `schema`, returns its id.
    pub fn register(&self, subject: &str, schema: &str) -> Result<i32, AvroError> {
        let path = format!(
            "/subjects/{}/versions{}",
            Self::subject_path(subject),
            self.query()
        );
        let j = match self.call(
            reqwest::Method::POST,
            &path,
            Some(json!({ "schema": schema })),
        ) {
            Ok(j) => j,
            Err((409, code, msg)) => {
                // name the field that breaks compatibility with the latest version
                let why = self
                    .latest(subject)
                    .ok()
                    .and_then(|l| crate::compat::incompatibility(&l.schema, schema));
                let msg = match why {
                    Some(w) => format!("{w} (registry: {msg})"),
                    None => msg,
                };
                return Err(self.error("registering a schema", subject, (409, code, msg)));
            }
            Err(e) => return Err(self.error("registering a schema", subject, e)),
        };
        j.get("id")
            .and_then(Json::as_i64)
            .map(|i| i as i32)
            .ok_or_else(|| {
                AvroError::Registry(format!(
                    "The schema registry answered no id registering subject \"{subject}\": {j}"
                ))
            })
    }

    /// `POST /subjects/{subject}`: the id and version of `schema` under `subject`.
    pub fn lookup(&self, subject: &str, schema: &str) -> Result<RegisteredSchema, AvroError> {
        let path = format!("/subjects/{}{}", Self::subject_path(subject), self.query());
        let j = self
            .call(
                reqwest::Method::POST,
                &path,
                Some(json!({ "schema": schema })),
            )
            .map_err(|e| self.error("looking up a schema", subject, e))?;
        parse_registered(&j).ok_or_else(|| {
            AvroError::Registry(format!(
                "Unexpected schema registry answer for subject \"{subject}\": {j}"
            ))
        })
    }

    /// `GET /subjects/{subject}/versions/latest`.
    pub fn latest(&self, subject: &str) -> Result<RegisteredSchema, AvroError> {
        let path = format!("/subjects/{}/versions/latest", Self::subject_path(subject));
        let j = self
            .call(reqwest::Method::GET, &path, None)
            .map_err(|e| self.error("reading the latest schema", subject, e))?;
        parse_registered(&j).ok_or_else(|| {
            AvroError::Registry(format!(
                "Unexpected schema registry answer for subject \"{subject}\": {j}"
            ))
        })
    }

    /// `GET /schemas/ids/{id}`: the schema text of `id`.
    pub fn by_id(&self, id: i32, topic: &str) -> Result<String, AvroError> {
        let path = format!("/schemas/ids/{id}");
        let j = self.call(reqwest::Method::GET, &path, None).map_err(|e| match e {
            (_, 40403, _) => AvroError::Registry(format!(
                "Schema {id} not found in the schema registry (error 40403) for a record of topic {topic}: was it written against another registry?"
            )),
            e => self.error(&format!("reading schema id {id}"), topic, e),
        })?;
        j.get("schema")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                AvroError::Registry(format!(
                    "Unexpected schema registry answer for id {id}: {j}"
                ))
            })
    }
}

fn parse_registered(j: &Json) -> Option<RegisteredSchema> {
    Some(RegisteredSchema {
        id: j.get("id")?.as_i64()? as i32,
        version: j.get("version").and_then(Json::as_i64).map(|v| v as i32),
        schema: j
            .get("schema")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_owned(),
    })
}

//! The worker's Kafka clients: Kafka's (Java) client keys translated to
//! librdkafka's, and the connector client override policy.
//!
//! Every client the worker makes (source producers, sink consumers, admin
//! clients for topic creation and dead letter queues, the start-up probe)
//! gets, in this order: Velocity's defaults, the worker-level
//! `security.protocol` / `ssl.*` / `sasl.*` keys, the worker's `producer.*`,
//! `consumer.*` or `admin.*` keys, then the connector's
//! `producer.override.*`, `consumer.override.*` or `admin.override.*` keys.
//!
//! Kafka Connect configs are written for the Java client; the keys users copy
//! from them are translated here ([`translate`]):
//!
//! - `ssl.truststore.location` with `ssl.truststore.type=PEM` →
//!   `ssl.ca.location`; `ssl.truststore.certificates` → `ssl.ca.pem`;
//!   JKS/PKCS12 truststores are refused with the `openssl`/`keytool`
//!   command that makes a PEM file for `ssl.ca.location`;
//! - `ssl.keystore.location`: PKCS12 → librdkafka's `ssl.keystore.location`
//!   and `ssl.keystore.password`; PEM → `ssl.certificate.location` +
//!   `ssl.key.location`; `ssl.keystore.key` / `ssl.keystore.certificate.chain`
//!   → `ssl.key.pem` / `ssl.certificate.pem`; JKS is refused;
//! - `ssl.endpoint.identification.algorithm=` (empty) → `none`;
//! - `sasl.mechanism` → `sasl.mechanisms`; `sasl.jaas.config` with
//!   `PlainLoginModule` / `ScramLoginModule` → `sasl.username` /
//!   `sasl.password`; `OAuthBearerLoginModule` with `clientId` /
//!   `clientSecret` / `scope` → `sasl.oauthbearer.method=oidc` and
//!   `sasl.oauthbearer.client.id` / `.client.secret` / `.scope`;
//!   `Krb5LoginModule` with `keyTab` / `principal` → `sasl.kerberos.keytab` /
//!   `sasl.kerberos.principal`; other login modules and Java callback
//!   handler classes are refused naming the librdkafka keys to use;
//! - Java client names librdkafka lacks: `buffer.memory` →
//!   `queue.buffering.max.kbytes`, `max.request.size` → `message.max.bytes`,
//!   `send.buffer.bytes` / `receive.buffer.bytes` → `socket.*`,
//!   `partition.assignment.strategy` class names → `range` / `roundrobin` /
//!   `cooperative-sticky`; any other key librdkafka does not know
//!   (`max.poll.records`, `key.serializer`, `max.block.ms`, …) is dropped
//!   with a warning naming it, never passed on to fail the task.
//!
//! Refusals happen at config time: a worker with such a key does not start,
//! a connector with such an override fails validation (400).

use std::collections::BTreeMap;

use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaConfRes;
use rdkafka::ClientConfig;
use velocity_api::config::ConfigExt;
use velocity_api::RawConfig;

use super::jaas;
use crate::error::{Result, RuntimeError};

/// The override policy key of the worker.
pub const OVERRIDE_POLICY: &str = "connector.client.config.override.policy";

/// librdkafka settings of one client scope after translation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Translated {
    /// librdkafka `(key, value)` pairs.
    pub settings: Vec<(String, String)>,
    /// Keys dropped because librdkafka has no such setting, with why.
    pub dropped: Vec<(String, String)>,
}

/// A `(dotted key, message)` problem.
pub type KeyError = (String, String);

/// Keys of Kafka's Java clients that only make sense in the JVM; dropped
/// with a warning (the remaining unknown keys are found by asking
/// librdkafka).
const JAVA_ONLY_SSL: &[&str] = &[
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "ssl.provider",
    "ssl.truststore.password",
    "ssl.truststore.type",
    "ssl.keystore.type",
    "ssl.keystore.password",
];

/// librdkafka keys that act when set (the library is loaded by
/// `rd_kafka_conf_set`): never set on a probe config.
const LOADS_ON_SET: &[&str] = &["plugin.library.paths"];

fn err(prefix: &str, key: &str, msg: String) -> KeyError {
    (format!("{prefix}{key}"), msg)
}

/// Translates one scope of Kafka client keys (prefix already stripped;
/// `prefix` is only used in messages, e.g. `producer.override.`).
pub fn translate(
    scope: &RawConfig,
    prefix: &str,
) -> std::result::Result<Translated, Vec<KeyError>> {
    let mut out = Translated::default();
    let mut errors = Vec::new();
    let mut set = |k: &str, v: &str| out.settings.push((k.to_owned(), v.to_owned()));
    let get = |k: &str| scope.opt_str(k);
    // truststore
    if let Some(loc) = get("ssl.truststore.location") {
        let ty = get("ssl.truststore.type")
            .unwrap_or("JKS")
            .to_ascii_uppercase();
        if ty == "PEM" {
            set("ssl.ca.location", loc);
        } else {
            let how = if ty == "PKCS12" {
                format!("openssl pkcs12 -in {loc} -nokeys -out ca.pem")
            } else {
                format!("keytool -exportcert -rfc -keystore {loc} -alias <alias> -file ca.pem")
            };
            errors.push(err(prefix, "ssl.truststore.location", format!(
                "Invalid value {loc} for configuration {prefix}ssl.truststore.location: librdkafka cannot read a {ty} truststore; convert it to PEM ({how}) and set {prefix}ssl.ca.location to that file (or {prefix}ssl.truststore.type=PEM)"
            )));
        }
    }
    if let Some(pem) = get("ssl.truststore.certificates") {
        set("ssl.ca.pem", pem);
    }
    // keystore
    if let Some(loc) = get("ssl.keystore.location") {
        let ty = get("ssl.keystore.type")
            .unwrap_or("JKS")
            .to_ascii_uppercase();
        match ty.as_str() {
            "PKCS12" => {
                set("ssl.keystore.location", loc);
                if let Some(p) = get("ssl.keystore.password") {
                    set("ssl.keystore.password", p);
                }
            }
            "PEM" => {
                set("ssl.certificate.location", loc);
                set("ssl.key.location", loc);
            }
            _ => errors.push(err(prefix, "ssl.keystore.location", format!(
                "Invalid value {loc} for configuration {prefix}ssl.keystore.location: librdkafka cannot read a {ty} keystore; convert it (keytool -importkeystore -srckeystore {loc} -destkeystore client.p12 -deststoretype PKCS12) and set {prefix}ssl.keystore.type=PKCS12, or set {prefix}ssl.certificate.location and {prefix}ssl.key.location to PEM files"
            ))),
        }
    }
    if let Some(pem) = get("ssl.keystore.key") {
        set("ssl.key.pem", pem);
    }
    if let Some(pem) = get("ssl.keystore.certificate.chain") {
        set("ssl.certificate.pem", pem);
    }
    for (k, v) in scope {
        let v = v.trim();
        match k.as_str() {
            "ssl.truststore.location"
            | "ssl.truststore.certificates"
            | "ssl.keystore.location"
            | "ssl.keystore.key"
            | "ssl.keystore.certificate.chain" => {}
            k if JAVA_ONLY_SSL.contains(&k) => {
                // consumed above or meaningless outside the JVM
                if !matches!(
                    k,
                    "ssl.truststore.type" | "ssl.keystore.type" | "ssl.keystore.password" | "ssl.truststore.password"
                ) {
                    out.dropped.push((format!("{prefix}{k}"), "a Java (JSSE) setting; librdkafka uses OpenSSL's defaults".into()));
                }
            }
            "ssl.endpoint.identification.algorithm" => {
                let lower = v.to_ascii_lowercase();
                set(k, if v.is_empty() { "none" } else { &lower });
            }
            "security.protocol" => set(k, &v.to_ascii_lowercase()),
            "sasl.mechanism" => set("sasl.mechanisms", v),
            "sasl.jaas.config" => match jaas_settings(v, prefix) {
                Ok(s) => {
                    for (k, v) in s {
                        set(&k, &v);
                    }
                }
                Err(e) => errors.push(e),
            },
            "sasl.login.callback.handler.class"
            | "sasl.client.callback.handler.class"
            | "sasl.login.class" => errors.push(err(prefix, k, format!(
                "{prefix}{k} names a Java class, which Velocity cannot load: for OAUTHBEARER set {prefix}sasl.oauthbearer.method=oidc with {prefix}sasl.oauthbearer.client.id, {prefix}sasl.oauthbearer.client.secret and {prefix}sasl.oauthbearer.token.endpoint.url"
            ))),
            "buffer.memory" => match v.parse::<u64>() {
                Ok(b) => set("queue.buffering.max.kbytes", &(b / 1024).max(1).to_string()),
                Err(_) => errors.push(err(prefix, k, format!("Invalid value {v} for configuration {prefix}{k}: Not a number of type LONG"))),
            },
            "max.request.size" => set("message.max.bytes", v),
            "send.buffer.bytes" => set("socket.send.buffer.bytes", v),
            "receive.buffer.bytes" => set("socket.receive.buffer.bytes", v),
            "partition.assignment.strategy" => {
                let names: Vec<&str> = v
                    .split(',')
                    .map(|c| match c.trim().rsplit('.').next().unwrap_or("") {
                        "RangeAssignor" => "range",
                        "RoundRobinAssignor" => "roundrobin",
                        "CooperativeStickyAssignor" | "StickyAssignor" => "cooperative-sticky",
                        other => other,
                    })
                    .collect();
                set(k, &names.join(","));
            }
            _ => set(k, v),
        }
    }
    // what librdkafka does not know is dropped; a bad value is an error
    let mut kept = Vec::with_capacity(out.settings.len());
    for (k, v) in std::mem::take(&mut out.settings) {
        if LOADS_ON_SET.contains(&k.as_str()) {
            kept.push((k, v));
            continue;
        }
        let mut probe = ClientConfig::new();
        probe.set(&k, &v);
        match probe.create_native_config() {
            Ok(_) => kept.push((k, v)),
            Err(KafkaError::ClientConfig(RDKafkaConfRes::RD_KAFKA_CONF_UNKNOWN, ..)) => {
                out.dropped.push((
                    format!("{prefix}{k}"),
                    "librdkafka has no such setting".into(),
                ));
            }
            Err(KafkaError::ClientConfig(_, desc, ..)) => {
                let shown = if velocity_api::config::looks_secret(&k) {
                    "[hidden]"
                } else {
                    &v
                };
                errors.push(err(
                    prefix,
                    &k,
                    format!(
                        "Invalid value {shown} for configuration {prefix}{k} (librdkafka: {desc})"
                    ),
                ));
            }
            Err(e) => errors.push(err(prefix, &k, format!("{prefix}{k}: {e}"))),
        }
    }
    out.settings = kept;
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// librdkafka settings for a `sasl.jaas.config` value.
fn jaas_settings(v: &str, prefix: &str) -> std::result::Result<Vec<(String, String)>, KeyError> {
    let key = format!("{prefix}sasl.jaas.config");
    let bad = |why: String| {
        (
            key.clone(),
            format!("Invalid value [hidden] for configuration {key}: {why}"),
        )
    };
    let mods = jaas::parse_inline(v).map_err(bad)?;
    let [m] = mods.as_slice() else {
        return Err(bad("expected exactly one login module".into()));
    };
    let opt = |o: &str| m.options.get(o).cloned();
    let mut out = Vec::new();
    match m.simple_name() {
        "PlainLoginModule" | "ScramLoginModule" => {
            let (Some(u), Some(p)) = (opt("username"), opt("password")) else {
                return Err(bad(format!(
                    "{} needs username=\"…\" password=\"…\" (or set {prefix}sasl.username and {prefix}sasl.password instead)",
                    m.simple_name()
                )));
            };
            out.push(("sasl.username".to_owned(), u));
            out.push(("sasl.password".to_owned(), p));
        }
        "OAuthBearerLoginModule" => {
            if let Some(id) = opt("clientId") {
                out.push(("sasl.oauthbearer.method".to_owned(), "oidc".to_owned()));
                out.push(("sasl.oauthbearer.client.id".to_owned(), id));
                if let Some(s) = opt("clientSecret") {
                    out.push(("sasl.oauthbearer.client.secret".to_owned(), s));
                }
                if let Some(s) = opt("scope") {
                    out.push(("sasl.oauthbearer.scope".to_owned(), s));
                }
            } else if m.options.keys().any(|k| k.starts_with("unsecuredLoginStringClaim")) {
                let sub = opt("unsecuredLoginStringClaim_sub").unwrap_or_default();
                out.push(("sasl.oauthbearer.config".to_owned(), format!("principal={sub}")));
                out.push(("enable.sasl.oauthbearer.unsecure.jwt".to_owned(), "true".to_owned()));
            } else {
                return Err(bad(format!(
                    "OAuthBearerLoginModule needs clientId=\"…\" clientSecret=\"…\" (or set {prefix}sasl.oauthbearer.method=oidc, {prefix}sasl.oauthbearer.client.id and {prefix}sasl.oauthbearer.client.secret)"
                )));
            }
        }
        "Krb5LoginModule" => {
            if let Some(k) = opt("keyTab") {
                out.push(("sasl.kerberos.keytab".to_owned(), k));
            }
            if let Some(p) = opt("principal") {
                out.push(("sasl.kerberos.principal".to_owned(), p));
            }
        }
        other => {
            return Err(bad(format!(
                "the login module {other} is not supported by librdkafka: set {prefix}sasl.username and {prefix}sasl.password (PLAIN, SCRAM), {prefix}sasl.oauthbearer.* (OAUTHBEARER) or {prefix}sasl.kerberos.* (GSSAPI)"
            )))
        }
    }
    Ok(out)
}

/// The connector client override policy (KIP-458).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverridePolicy {
    /// `All` (Kafka 3.x's default): any client key may be overridden,
    /// except the always-refused ones (see [`denied_override`]).
    All,
    /// `None`: no override is allowed.
    None,
    /// `Principal`: only `security.protocol`, `sasl.jaas.config` and
    /// `sasl.mechanism`.
    Principal,
}

impl OverridePolicy {
    /// Kafka's policy name.
    pub fn name(self) -> &'static str {
        match self {
            OverridePolicy::All => "All",
            OverridePolicy::None => "None",
            OverridePolicy::Principal => "Principal",
        }
    }

    fn parse(v: Option<&str>) -> Result<OverridePolicy> {
        let v = v.unwrap_or("All");
        let simple = v.rsplit('.').next().unwrap_or(v);
        let simple = simple
            .strip_suffix("ConnectorClientConfigOverridePolicy")
            .unwrap_or(simple);
        match simple {
            "All" => Ok(OverridePolicy::All),
            "None" => Ok(OverridePolicy::None),
            "Principal" => Ok(OverridePolicy::Principal),
            _ => Err(RuntimeError::BadRequest(format!(
                "Invalid value {v} for configuration {OVERRIDE_POLICY}: use All, None or Principal"
            ))),
        }
    }
}

/// Why an override of client key `key` (prefix stripped) with value `v` is
/// refused under every policy, or None. These keys load code, run commands
/// or read local files on the worker's host: `plugin.library.paths`,
/// `ssl.engine.location`, `ssl.providers`, `sasl.kerberos.kinit.cmd`, and
/// OAUTHBEARER endpoints that are not `http(s)://` URLs.
pub fn denied_override(key: &str, v: &str) -> Option<&'static str> {
    match key {
        "plugin.library.paths" | "ssl.engine.location" | "ssl.providers" => {
            Some("it makes the worker load a shared library")
        }
        "sasl.kerberos.kinit.cmd" => Some("it makes the worker run a shell command"),
        "sasl.oauthbearer.token.endpoint.url" | "sasl.oauthbearer.jwks.endpoint.url" => {
            let l = v.trim().to_ascii_lowercase();
            (!(l.starts_with("https://") || l.starts_with("http://")))
                .then_some("only http:// and https:// endpoints may be set by a connector (a file:// URL reads a file on the worker)")
        }
        _ => None,
    }
}

/// The worker's Kafka client settings, parsed and translated once at start.
#[derive(Debug, Clone)]
pub struct KafkaClients {
    /// Worker-level `security.protocol`, `ssl.*`, `sasl.*`, translated.
    pub security: Vec<(String, String)>,
    /// Worker `producer.*`, `consumer.*`, `admin.*`, translated, by prefix.
    pub per_client: BTreeMap<&'static str, Vec<(String, String)>>,
    /// `connector.client.config.override.policy`.
    pub policy: OverridePolicy,
}

/// The client kinds and their worker / connector prefixes.
pub const CLIENTS: [(&str, &str); 3] = [
    ("producer.", "producer.override."),
    ("consumer.", "consumer.override."),
    ("admin.", "admin.override."),
];

fn is_security_key(k: &str) -> bool {
    k == "security.protocol" || k.starts_with("ssl.") || k.starts_with("sasl.")
}

fn log_dropped(t: &Translated) {
    for (k, why) in &t.dropped {
        tracing::warn!(key = %k, "ignoring Kafka client configuration {k}: {why}");
    }
}

impl KafkaClients {
    /// Reads and translates the worker's client keys; a Java-only key that
    /// cannot be translated fails the worker's start with every such key
    /// named.
    pub fn from_worker(raw: &RawConfig) -> Result<KafkaClients> {
        let mut errors = Vec::new();
        let security_scope: RawConfig = raw
            .iter()
            .filter(|(k, _)| is_security_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut one = |scope: &RawConfig, prefix: &str| match translate(scope, prefix) {
            Ok(t) => {
                log_dropped(&t);
                t.settings
            }
            Err(e) => {
                errors.extend(e);
                Vec::new()
            }
        };
        let security = one(&security_scope, "");
        let mut per_client = BTreeMap::new();
        for (prefix, _) in CLIENTS {
            let scope: RawConfig = raw
                .with_prefix(prefix)
                .into_iter()
                .filter(|(k, _)| !k.starts_with("override."))
                .collect();
            per_client.insert(prefix, one(&scope, prefix));
        }
        if !errors.is_empty() {
            let lines: Vec<String> = errors.into_iter().map(|(_, m)| m).collect();
            return Err(RuntimeError::BadRequest(lines.join("\n")));
        }
        Ok(KafkaClients {
            security,
            per_client,
            policy: OverridePolicy::parse(raw.opt_str(OVERRIDE_POLICY))?,
        })
    }

    /// Applies the worker's security keys, then its `<client>.*` keys, then
    /// the connector's `<client>.override.*` keys (validated before the
    /// connector was accepted; a key librdkafka does not know is dropped).
    pub fn apply(&self, c: &mut ClientConfig, client: &str, connector: &RawConfig) {
        for (k, v) in &self.security {
            c.set(k, v);
        }
        let Some((prefix, override_prefix)) = CLIENTS.iter().find(|(p, _)| *p == client) else {
            return;
        };
        for (k, v) in self.per_client.get(prefix).into_iter().flatten() {
            c.set(k, v);
        }
        let scope: RawConfig = connector
            .with_prefix(override_prefix)
            .into_iter()
            .filter(|(k, v)| denied_override(k, v).is_none())
            .collect();
        if scope.is_empty() {
            return;
        }
        match translate(&scope, override_prefix) {
            Ok(t) => {
                for (k, v) in t.settings {
                    c.set(k, v);
                }
            }
            Err(e) => {
                for (k, _) in e {
                    tracing::warn!(key = %k, "ignoring invalid client override {k}");
                }
            }
        }
    }

    /// Checks a connector's `producer.override.*`, `consumer.override.*` and
    /// `admin.override.*` keys against the policy, the always-refused keys
    /// and librdkafka, as Kafka Connect's validation reports them.
    pub fn validate_overrides(&self, connector: &RawConfig) -> Vec<KeyError> {
        let mut errors = Vec::new();
        for (_, override_prefix) in CLIENTS {
            let mut scope = connector.with_prefix(override_prefix);
            let mut refused = Vec::new();
            for (k, v) in &scope {
                let full = format!("{override_prefix}{k}");
                let allowed = match self.policy {
                    OverridePolicy::All => true,
                    OverridePolicy::None => false,
                    OverridePolicy::Principal => {
                        matches!(
                            k.as_str(),
                            "security.protocol" | "sasl.jaas.config" | "sasl.mechanism"
                        )
                    }
                };
                if !allowed {
                    refused.push(k.clone());
                    errors.push((full.clone(), format!(
                        "The '{}' policy does not allow '{k}' to be overridden in the connector configuration.",
                        self.policy.name()
                    )));
                } else if let Some(why) = denied_override(k, v) {
                    refused.push(k.clone());
                    errors.push((full.clone(), format!(
                        "Invalid value for configuration {full}: connectors may not override {k}: {why}. Set it in the worker properties ({}{k}) if the operator wants it.",
                        override_prefix.trim_end_matches("override.")
                    )));
                }
            }
            // refused keys are never handed to librdkafka, not even to
            // validate them (plugin.library.paths is loaded when set)
            for k in refused {
                scope.remove(&k);
            }
            if let Err(e) = translate(&scope, override_prefix) {
                errors.extend(e);
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::cfg;

    fn settings(t: &Translated) -> BTreeMap<&str, &str> {
        t.settings
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn java_ssl_and_sasl_keys_become_librdkafka_keys() {
        let t = translate(
            &cfg(&[
                ("security.protocol", "SASL_SSL"),
                ("ssl.truststore.location", "/etc/ca.pem"),
                ("ssl.truststore.type", "PEM"),
                ("ssl.keystore.location", "/etc/client.p12"),
                ("ssl.keystore.type", "PKCS12"),
                ("ssl.keystore.password", "kp"),
                ("ssl.endpoint.identification.algorithm", ""),
                ("ssl.protocol", "TLSv1.3"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"a-secret\";"),
            ]),
            "",
        )
        .unwrap();
        let s = settings(&t);
        assert_eq!(s["security.protocol"], "sasl_ssl");
        assert_eq!(s["ssl.ca.location"], "/etc/ca.pem");
        assert_eq!(s["ssl.keystore.location"], "/etc/client.p12");
        assert_eq!(s["ssl.keystore.password"], "kp");
        assert_eq!(s["ssl.endpoint.identification.algorithm"], "none");
        assert_eq!(s["sasl.mechanisms"], "SCRAM-SHA-512");
        assert_eq!(s["sasl.username"], "alice");
        assert_eq!(s["sasl.password"], "a-secret");
        assert!(!s.contains_key("sasl.jaas.config"));
        assert_eq!(t.dropped.len(), 1, "{:?}", t.dropped);
        assert_eq!(t.dropped[0].0, "ssl.protocol");
    }

    #[test]
    fn untranslatable_keys_are_refused_naming_the_librdkafka_key() {
        let e = translate(
            &cfg(&[("ssl.truststore.location", "/etc/ts.jks")]),
            "producer.",
        )
        .unwrap_err();
        assert_eq!(e[0].0, "producer.ssl.truststore.location");
        assert!(e[0].1.contains("producer.ssl.ca.location"), "{}", e[0].1);
        let e = translate(
            &cfg(&[("sasl.jaas.config", "com.example.Custom required;")]),
            "",
        )
        .unwrap_err();
        assert!(e[0].1.contains("sasl.username"), "{}", e[0].1);
        let e = translate(&cfg(&[("sasl.login.callback.handler.class", "x.Y")]), "").unwrap_err();
        assert!(
            e[0].1.contains("sasl.oauthbearer.method=oidc"),
            "{}",
            e[0].1
        );
        let e = translate(&cfg(&[("acks", "several")]), "producer.").unwrap_err();
        assert_eq!(e[0].0, "producer.acks");
    }

    #[test]
    fn java_client_names_are_translated_or_dropped() {
        let t = translate(
            &cfg(&[
                ("buffer.memory", "33554432"),
                ("max.poll.records", "500"),
                (
                    "key.serializer",
                    "org.apache.kafka.common.serialization.ByteArraySerializer",
                ),
                (
                    "partition.assignment.strategy",
                    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
                ),
                ("linger.ms", "5"),
            ]),
            "consumer.",
        )
        .unwrap();
        let s = settings(&t);
        assert_eq!(s["queue.buffering.max.kbytes"], "32768");
        assert_eq!(s["partition.assignment.strategy"], "cooperative-sticky");
        assert_eq!(s["linger.ms"], "5");
        let dropped: Vec<&str> = t.dropped.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            dropped,
            ["consumer.key.serializer", "consumer.max.poll.records"]
        );
    }

    #[test]
    fn override_policy_and_denylist() {
        let all = KafkaClients::from_worker(&RawConfig::new()).unwrap();
        assert_eq!(all.policy, OverridePolicy::All);
        let c = cfg(&[
            ("producer.override.plugin.library.paths", "/tmp/evil.so"),
            (
                "consumer.override.sasl.oauthbearer.token.endpoint.url",
                "file:///etc/shadow",
            ),
            ("producer.override.linger.ms", "10"),
        ]);
        let keys: Vec<String> = all
            .validate_overrides(&c)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [
                "producer.override.plugin.library.paths",
                "consumer.override.sasl.oauthbearer.token.endpoint.url"
            ]
        );
        let none = KafkaClients::from_worker(&cfg(&[(OVERRIDE_POLICY, "None")])).unwrap();
        let e = none.validate_overrides(&cfg(&[("producer.override.linger.ms", "10")]));
        assert!(e[0].1.contains("'None' policy"), "{:?}", e);
        let principal = KafkaClients::from_worker(&cfg(&[(
            OVERRIDE_POLICY,
            "org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy",
        )]))
        .unwrap();
        assert!(principal
            .validate_overrides(&cfg(&[("producer.override.security.protocol", "SSL")]))
            .is_empty());
        assert_eq!(
            principal
                .validate_overrides(&cfg(&[("producer.override.acks", "1")]))
                .len(),
            1
        );
    }

    #[test]
    fn worker_start_fails_on_java_only_keys() {
        let e = KafkaClients::from_worker(&cfg(&[
            ("security.protocol", "SSL"),
            ("ssl.truststore.location", "/etc/kafka/truststore.jks"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("ssl.ca.location"), "{e}");
    }
}

//! The converter against a schema registry over HTTP — the crate's test
//! double (`velocity-test-registry`, Confluent's REST API): registration and
//! id caching both ways, subject name strategies, failover, retries across an
//! outage, credentials, 40401 and 409 errors with their kinds and messages.

use std::sync::Arc;
use std::time::Duration;

use velocity_api::{Converter, ErrorKind, RawConfig, Schema, SchemaRef, Struct, Value};
use velocity_converter_avro::AvroConverter;
use velocity_test_registry::{new_store, TestRegistry};

fn value_schema(extra: bool) -> SchemaRef {
    let mut s = Schema::struct_()
        .named("tms.tms.carrier.Value")
        .field("id", Schema::int32())
        .field("name", Schema::string().optional());
    if extra {
        s = s.field("rating", Schema::int32());
    }
    s.build()
}

fn record(schema: &SchemaRef, id: i32) -> Value {
    let mut st = Struct::new(Arc::clone(schema));
    st.set("id", Value::Int32(id));
    st.set("name", Value::String(format!("carrier {id}")));
    if schema.field_named("rating").is_some() {
        st.set("rating", Value::Int32(5));
    }
    Value::Struct(st)
}

fn converter(pairs: &[(&str, &str)], is_key: bool) -> AvroConverter {
    let cfg: RawConfig = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut c = AvroConverter::new();
    c.configure(&cfg, is_key).expect("configure");
    c
}

#[test]
fn registers_once_and_reads_back_through_the_registry() {
    let reg = TestRegistry::start().unwrap();
    let c = converter(&[("schema.registry.url", &reg.url)], false);
    let schema = value_schema(false);
    let mut bytes = Vec::new();
    for i in 0..100 {
        bytes.push(
            c.from_connect("t1", Some(&schema), &record(&schema, i))
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(reg.requests(), 1, "one registration for 100 records");
    assert_eq!(
        &bytes[0][..5],
        &[0, 0, 0, 0, 1],
        "magic byte and schema id 1"
    );
    // a second Arc of an equal schema: no new registration either
    let again = value_schema(false);
    c.from_connect("t1", Some(&again), &record(&again, 1))
        .unwrap();
    assert_eq!(reg.requests(), 1);
    // tombstones stay null
    assert_eq!(
        c.from_connect("t1", Some(&schema), &Value::Null).unwrap(),
        None
    );

    let sink = converter(&[("schema.registry.url", &reg.url)], false);
    for (i, b) in bytes.iter().enumerate() {
        let (s, v) = sink.to_connect("t1", Some(b)).unwrap();
        let s = s.unwrap();
        assert_eq!(s.name.as_deref(), Some("tms.tms.carrier.Value"));
        assert_eq!(v, record(&schema, i as i32).tap_schema(&s));
    }
    // by-id and version look-ups are cached: 1 register + 1 by id + 1 version
    assert_eq!(reg.requests(), 3);
    assert_eq!(sink.to_connect("t1", None).unwrap(), (None, Value::Null));
}

trait TapSchema {
    fn tap_schema(self, s: &SchemaRef) -> Value;
}

impl TapSchema for Value {
    /// The same values under schema `s` (struct equality includes the schema).
    fn tap_schema(self, s: &SchemaRef) -> Value {
        match self {
            Value::Struct(st) => Value::Struct(Struct {
                schema: Arc::clone(s),
                values: st.values,
            }),
            other => other,
        }
    }
}

#[test]
fn subject_name_strategies_by_confluent_class_name() {
    let reg = TestRegistry::start().unwrap();
    let schema = value_schema(false);
    for (strategy, subject) in [
        (
            "io.confluent.kafka.serializers.subject.TopicNameStrategy",
            "orders-value",
        ),
        (
            "io.confluent.kafka.serializers.subject.RecordNameStrategy",
            "tms.tms.carrier.Value",
        ),
        (
            "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
            "orders-tms.tms.carrier.Value",
        ),
    ] {
        let c = converter(
            &[
                ("schema.registry.url", &reg.url),
                ("value.subject.name.strategy", strategy),
            ],
            false,
        );
        c.from_connect("orders", Some(&schema), &record(&schema, 1))
            .unwrap();
        let subjects: Vec<String> = reqwest::blocking::get(format!("{}/subjects", reg.url))
            .unwrap()
            .json()
            .unwrap();
        assert!(
            subjects.contains(&subject.to_owned()),
            "{strategy}: {subjects:?}"
        );
    }
    let key = converter(&[("schema.registry.url", &reg.url)], true);
    let k = Schema::struct_()
        .named("tms.tms.carrier.Key")
        .field("id", Schema::int32())
        .build();
    key.from_connect(
        "orders",
        Some(&k),
        &Value::Struct(Struct::new(Arc::clone(&k)).put("id", 1)),
    )
    .unwrap();
    let subjects: Vec<String> = reqwest::blocking::get(format!("{}/subjects", reg.url))
        .unwrap()
        .json()
        .unwrap();
    assert!(subjects.contains(&"orders-key".to_owned()), "{subjects:?}");
}

#[test]
fn unknown_subject_without_auto_register_is_a_fatal_40401() {
    let reg = TestRegistry::start().unwrap();
    let c = converter(
        &[
            ("schema.registry.url", &reg.url),
            ("auto.register.schemas", "false"),
        ],
        false,
    );
    let schema = value_schema(false);
    let e = c
        .from_connect("nope", Some(&schema), &record(&schema, 1))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Fatal);
    let m = e.to_string();
    assert!(
        m.contains("\"nope-value\"") && m.contains("40401") && m.contains("auto.register.schemas"),
        "{m}"
    );
    // once registered, the look-up finds it
    converter(&[("schema.registry.url", &reg.url)], false)
        .from_connect("nope", Some(&schema), &record(&schema, 1))
        .unwrap();
    c.from_connect("nope", Some(&schema), &record(&schema, 1))
        .unwrap();
}

#[test]
fn incompatible_change_names_subject_and_field_then_passes_when_relaxed() {
    let reg = TestRegistry::start().unwrap();
    let c = converter(&[("schema.registry.url", &reg.url)], false);
    let v1 = value_schema(false);
    c.from_connect("inc", Some(&v1), &record(&v1, 1)).unwrap();
    // a required field without default: not BACKWARD compatible
    let v2 = value_schema(true);
    let e = c
        .from_connect("inc", Some(&v2), &record(&v2, 2))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Fatal);
    let m = e.to_string();
    assert!(
        m.contains("\"inc-value\"") && m.contains("409") && m.contains("\"rating\""),
        "{m}"
    );
    // relax the subject, retry: registered as version 2
    let r = reqwest::blocking::Client::new()
        .put(format!("{}/config/inc-value", reg.url))
        .body(r#"{"compatibility":"NONE"}"#)
        .send()
        .unwrap();
    assert!(r.status().is_success());
    let b = c
        .from_connect("inc", Some(&v2), &record(&v2, 2))
        .unwrap()
        .unwrap();
    assert_eq!(&b[..5], &[0, 0, 0, 0, 2]);
    let versions: Vec<i32> =
        reqwest::blocking::get(format!("{}/subjects/inc-value/versions", reg.url))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(versions, vec![1, 2]);
}

#[test]
fn wrong_credentials_fail_naming_basic_auth_user_info_without_the_secret() {
    let reg =
        TestRegistry::start_with(new_store(), "127.0.0.1:0", Some("svc:right".into())).unwrap();
    let schema = value_schema(false);
    let bad = converter(
        &[
            ("schema.registry.url", &reg.url),
            ("basic.auth.credentials.source", "USER_INFO"),
            ("basic.auth.user.info", "svc:wrong-secret"),
        ],
        false,
    );
    let e = bad
        .from_connect("auth", Some(&schema), &record(&schema, 1))
        .unwrap_err();
    let m = e.to_string();
    assert_eq!(e.kind(), ErrorKind::Fatal);
    assert!(
        m.contains("basic.auth.user.info") && m.contains("401"),
        "{m}"
    );
    assert!(!m.contains("wrong-secret"), "secret leaked: {m}");
    let good = converter(
        &[
            ("schema.registry.url", &reg.url),
            ("basic.auth.credentials.source", "USER_INFO"),
            ("basic.auth.user.info", "svc:right"),
        ],
        false,
    );
    good.from_connect("auth", Some(&schema), &record(&schema, 1))
        .unwrap();
}

#[test]
fn fails_over_to_the_next_url_and_marks_outages_retriable() {
    let reg = TestRegistry::start().unwrap();
    // nothing listens on the first URL
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let urls = format!("http://{dead},{}", reg.url);
    let schema = value_schema(false);
    let c = converter(
        &[
            ("schema.registry.url", &urls),
            ("retries.wait.ms", "10"),
            ("max.retries", "1"),
        ],
        false,
    );
    c.from_connect("fo", Some(&schema), &record(&schema, 1))
        .unwrap();

    let only_dead = converter(
        &[
            ("schema.registry.url", &format!("http://{dead}")),
            ("retries.wait.ms", "10"),
            ("max.retries", "2"),
        ],
        false,
    );
    let e = only_dead
        .from_connect("fo", Some(&schema), &record(&schema, 1))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Retriable, "{e}");
    assert!(e.to_string().contains("unavailable"), "{e}");
}

#[test]
fn retries_ride_out_a_short_registry_outage() {
    let mut reg = TestRegistry::start().unwrap();
    let addr = reg.addr.to_string();
    let store = Arc::clone(&reg.store);
    reg.stop();
    // back after ~1.5 s; the client retries 4 times, 500 ms doubling (up to 7.5 s)
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        TestRegistry::start_with(store, &addr, None).unwrap()
    });
    let schema = value_schema(false);
    let c = converter(
        &[
            ("schema.registry.url", &format!("http://{}", reg.addr)),
            ("retries.wait.ms", "500"),
            ("max.retries", "4"),
        ],
        false,
    );
    let b = c
        .from_connect("out", Some(&schema), &record(&schema, 1))
        .unwrap()
        .unwrap();
    assert_eq!(b[0], 0);
    let back = t.join().unwrap();
    assert_eq!(back.requests(), 1);
}

#[test]
fn configuration_errors_name_every_key() {
    let mut c = AvroConverter::new();
    let cfg: RawConfig = [
        ("schema.registry.url", "ftp://x"),
        ("value.subject.name.strategy", "com.example.Nope"),
        ("basic.auth.credentials.source", "USER_INFO"),
        ("auto.register.schemas", "maybe"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let m = c.configure(&cfg, false).unwrap_err().to_string();
    for key in [
        "schema.registry.url",
        "value.subject.name.strategy",
        "basic.auth.user.info",
        "auto.register.schemas",
    ] {
        assert!(m.contains(key), "{key} missing in: {m}");
    }
    let m = c
        .configure(&RawConfig::new(), false)
        .unwrap_err()
        .to_string();
    assert!(m.contains("schema.registry.url"), "{m}");
}

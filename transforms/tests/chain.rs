//! The runtime's `TransformChain` with this crate's plugins: Kafka Connect
//! style `transforms=` / `predicates=` configuration, every predicate with
//! and without `negate`, and the validation errors naming the full key.

use velocity_api::{ConnectRecord, Header, PluginRegistry, Schema, Struct, Value};
use velocity_runtime::worker::TransformChain;

fn registry() -> PluginRegistry {
    velocity_transforms::plugins()
        .into_iter()
        .fold(PluginRegistry::new(), |r, p| r.register(p))
}

use velocity_api::config::raw_config as cfg;

fn chain(pairs: &[(&str, &str)]) -> TransformChain {
    TransformChain::from_config(&registry(), &cfg(pairs)).unwrap_or_else(|e| panic!("{e:?}"))
}

fn errors(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    match TransformChain::from_config(&registry(), &cfg(pairs)) {
        Ok(_) => panic!("expected errors"),
        Err(e) => e,
    }
}

fn record(topic: &str, value: Value, header: Option<&str>) -> ConnectRecord {
    let mut r = ConnectRecord::new(topic, None, Value::Null, None, value);
    if let Some(h) = header {
        r.headers.push(Header {
            key: h.into(),
            schema: None,
            value: Value::from("x"),
        });
    }
    r
}

fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::from(*k), v.clone()))
            .collect(),
    )
}

/// A Filter guarded by `predicate` (with `negate`): returns which of the
/// records survive.
fn survivors(pred: &[(&str, &str)], negate: Option<&str>, records: &[ConnectRecord]) -> Vec<bool> {
    let mut pairs = vec![
        ("transforms", "drop"),
        (
            "transforms.drop.type",
            "org.apache.kafka.connect.transforms.Filter",
        ),
        ("transforms.drop.predicate", "p"),
        ("predicates", "p"),
    ];
    pairs.extend_from_slice(pred);
    if let Some(n) = negate {
        pairs.push(("transforms.drop.negate", n));
    }
    let mut c = chain(&pairs);
    records
        .iter()
        .map(|r| c.apply(r.clone()).unwrap().is_some())
        .collect()
}

#[test]
fn topic_name_matches_with_and_without_negate() {
    let recs = [
        record("tms.tms.shipment", map(&[]), None),
        record("tms.tms.note", map(&[]), None),
    ];
    let p = [
        (
            "predicates.p.type",
            "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        ),
        ("predicates.p.pattern", ".*\\.shipment"),
    ];
    assert_eq!(survivors(&p, None, &recs), [false, true]);
    assert_eq!(survivors(&p, Some("false"), &recs), [false, true]);
    assert_eq!(survivors(&p, Some("true"), &recs), [true, false]);
}

#[test]
fn has_header_key_with_and_without_negate() {
    let recs = [
        record("t", map(&[]), Some("skip")),
        record("t", map(&[]), Some("other")),
        record("t", map(&[]), None),
    ];
    let p = [
        ("predicates.p.type", "HasHeaderKey"),
        ("predicates.p.name", "skip"),
    ];
    assert_eq!(survivors(&p, None, &recs), [false, true, true]);
    assert_eq!(survivors(&p, Some("true"), &recs), [true, false, false]);
}

#[test]
fn record_is_tombstone_with_and_without_negate() {
    let recs = [record("t", Value::Null, None), record("t", map(&[]), None)];
    let p = [(
        "predicates.p.type",
        "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
    )];
    assert_eq!(survivors(&p, None, &recs), [false, true]);
    assert_eq!(survivors(&p, Some("true"), &recs), [true, false]);
}

#[test]
fn unguarded_and_guarded_transforms_in_order() {
    // InsertField on every record, then RegexRouter only on tombstones.
    let mut c = chain(&[
        ("transforms", "ins,route"),
        ("transforms.ins.type", "InsertField$Value"),
        ("transforms.ins.static.field", "src"),
        ("transforms.ins.static.value", "velocity"),
        (
            "transforms.route.type",
            "org.apache.kafka.connect.transforms.RegexRouter",
        ),
        ("transforms.route.regex", "(.*)"),
        ("transforms.route.replacement", "$1.deletes"),
        ("transforms.route.predicate", "tomb"),
        ("predicates", "tomb"),
        ("predicates.tomb.type", "RecordIsTombstone"),
    ]);
    let out = c.apply(record("t", map(&[]), None)).unwrap().unwrap();
    assert_eq!(out.topic, "t");
    assert_eq!(out.value, map(&[("src", Value::from("velocity"))]));
    let out = c.apply(record("t", Value::Null, None)).unwrap().unwrap();
    assert_eq!(out.topic, "t.deletes");
    assert_eq!(out.value, Value::Null);
    assert_eq!(
        c.describe()[1],
        ("route".to_string(), Some("tomb".to_string()), false)
    );
}

#[test]
fn one_predicate_shared_by_two_transforms() {
    let mut c = chain(&[
        ("transforms", "a,b"),
        ("transforms.a.type", "InsertHeader"),
        ("transforms.a.header", "matched"),
        ("transforms.a.value.literal", "yes"),
        ("transforms.a.predicate", "p"),
        ("transforms.b.type", "InsertHeader"),
        ("transforms.b.header", "unmatched"),
        ("transforms.b.value.literal", "yes"),
        ("transforms.b.predicate", "p"),
        ("transforms.b.negate", "true"),
        ("predicates", "p"),
        ("predicates.p.type", "TopicNameMatches"),
        ("predicates.p.pattern", "a.*"),
    ]);
    let keys = |t: &str, c: &mut TransformChain| -> Vec<String> {
        c.apply(record(t, map(&[]), None))
            .unwrap()
            .unwrap()
            .headers
            .into_iter()
            .map(|h| h.key)
            .collect()
    };
    assert_eq!(keys("abc", &mut c), ["matched"]);
    assert_eq!(keys("xyz", &mut c), ["unmatched"]);
}

#[test]
fn unknown_predicate_alias_names_the_key() {
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "Filter"),
        ("transforms.a.predicate", "nope"),
        ("predicates", "p"),
        ("predicates.p.type", "RecordIsTombstone"),
    ]);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, "transforms.a.predicate");
    assert!(
        e[0].1
            .contains("Invalid value nope for configuration transforms.a.predicate"),
        "{}",
        e[0].1
    );
    // Without any `predicates=` at all.
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "Filter"),
        ("transforms.a.predicate", "p"),
    ]);
    assert_eq!(e[0].0, "transforms.a.predicate");
}

#[test]
fn predicate_type_errors_name_the_key() {
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "Filter"),
        ("transforms.a.predicate", "p"),
        ("predicates", "p"),
    ]);
    assert_eq!(e[0].0, "predicates.p.type");
    assert!(
        e[0].1
            .contains("Missing required configuration \"predicates.p.type\""),
        "{}",
        e[0].1
    );
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "Filter"),
        ("transforms.a.predicate", "p"),
        ("predicates", "p"),
        ("predicates.p.type", "com.example.Nope"),
    ]);
    assert_eq!(e[0].0, "predicates.p.type");
    assert!(e[0].1.contains("could not be found"), "{}", e[0].1);
    // A transform class is not a predicate.
    let e = errors(&[("predicates", "p"), ("predicates.p.type", "Filter")]);
    assert_eq!(e[0].0, "predicates.p.type");
    // A predicate's own key.
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "Filter"),
        ("transforms.a.predicate", "p"),
        ("predicates", "p"),
        ("predicates.p.type", "TopicNameMatches"),
    ]);
    assert_eq!(e[0].0, "predicates.p.pattern", "{e:?}");
    assert_eq!(
        e[0].1,
        "Missing required configuration \"predicates.p.pattern\" which has no default value."
    );
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "Filter"),
        ("transforms.a.predicate", "p"),
        ("transforms.a.negate", "maybe"),
        ("predicates", "p"),
        ("predicates.p.type", "RecordIsTombstone"),
    ]);
    assert_eq!(e[0].0, "transforms.a.negate");
}

#[test]
fn transform_errors_name_the_full_key() {
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "ExtractField$Value"),
    ]);
    assert_eq!(e[0].0, "transforms.a.field", "{e:?}");
    let e = errors(&[("transforms", "a")]);
    assert_eq!(e[0].0, "transforms.a.type");
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "RecordIsTombstone"),
    ]);
    assert_eq!(e[0].0, "transforms.a.type");
    assert!(e[0].1.ends_with("Not a Transformation"), "{}", e[0].1);
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "com.example.Nope"),
    ]);
    assert!(e[0].1.contains("Available transformations"), "{}", e[0].1);
    let e = errors(&[
        ("transforms", "a"),
        ("transforms.a.type", "Filter"),
        ("transforms.a.negate", "true"),
    ]);
    assert_eq!(e[0].0, "transforms.a.negate");
    assert!(
        e[0].1.contains("no config 'transforms.a.predicate'"),
        "{}",
        e[0].1
    );
}

#[test]
fn class_names_and_aliases_resolve() {
    let r = registry();
    for name in [
        "org.apache.kafka.connect.transforms.InsertField$Value",
        "InsertField$Value",
        "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        "HasHeaderKey",
        "io.debezium.transforms.ExtractNewRecordState",
        "ExtractNewRecordState",
        "io.debezium.transforms.outbox.EventRouter",
    ] {
        assert!(r.find(name).is_some(), "{name}");
    }
    let kinds: Vec<&str> = r.all().iter().map(|p| p.kind.type_name()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "predicate").count(), 3);
    assert!(r.connector_classes().is_empty());
}

#[test]
fn struct_records_through_a_chain() {
    let schema = Schema::struct_()
        .named("s")
        .field("id", Schema::int32())
        .field("secret", Schema::string())
        .build();
    let mut c = chain(&[
        ("transforms", "mask,key"),
        ("transforms.mask.type", "MaskField$Value"),
        ("transforms.mask.fields", "secret"),
        ("transforms.key.type", "ValueToKey"),
        ("transforms.key.fields", "id"),
    ]);
    let v = Struct::new(schema.clone()).put("id", 5).put("secret", "pw");
    let out = c
        .apply(ConnectRecord::new(
            "t",
            None,
            Value::Null,
            Some(schema),
            Value::Struct(v),
        ))
        .unwrap()
        .unwrap();
    assert_eq!(
        out.value.as_struct().unwrap().get("secret"),
        Some(&Value::from(""))
    );
    assert_eq!(
        out.key.as_struct().unwrap().get("id"),
        Some(&Value::Int32(5))
    );
}

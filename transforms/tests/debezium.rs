//! Debezium's SMTs on real Debezium PostgreSQL change events
//! (`tests/fixtures/postgres/golden.jsonl`, parsed with the runtime's
//! JsonConverter) and on the examples of Debezium's documentation.

use std::sync::Arc;

use velocity_api::{ConnectRecord, Header, RawConfig, Schema, SchemaRef, Struct, Transform, Value};
use velocity_runtime::converters::converter_for_class;
use velocity_transforms::debezium::by_logical_table_router::ByLogicalTableRouter;
use velocity_transforms::debezium::extract_new_record_state::ExtractNewRecordState;
use velocity_transforms::debezium::header_to_value::HeaderToValue;
use velocity_transforms::debezium::outbox::EventRouter;

use velocity_api::config::raw_config as cfg;

/// Every golden record of `topic`, as the source connector produces them.
fn golden(topic: &str) -> Vec<ConnectRecord> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/postgres/golden.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("golden fixture");
    let mut kc = converter_for_class("JsonConverter").unwrap();
    kc.configure(&RawConfig::new(), true).unwrap();
    let mut vc = converter_for_class("JsonConverter").unwrap();
    vc.configure(&RawConfig::new(), false).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|j| j["topic"] == topic)
        .map(|j| {
            let bytes =
                |v: &serde_json::Value| (!v.is_null()).then(|| serde_json::to_vec(v).unwrap());
            let (ks, k) = kc.to_connect(topic, bytes(&j["key"]).as_deref()).unwrap();
            let (vs, v) = vc.to_connect(topic, bytes(&j["value"]).as_deref()).unwrap();
            ConnectRecord::new(topic, ks, k, vs, v)
        })
        .collect()
}

fn op(r: &ConnectRecord) -> Option<String> {
    r.value
        .as_struct()
        .and_then(|s| s.get("op"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn carrier(op_code: &str) -> ConnectRecord {
    golden("tms.tms.carrier")
        .into_iter()
        .find(|r| op(r).as_deref() == Some(op_code))
        .unwrap()
}

fn carrier_tombstone() -> ConnectRecord {
    golden("tms.tms.carrier")
        .into_iter()
        .find(|r| r.value.is_null())
        .unwrap()
}

fn unwrap(pairs: &[(&str, &str)]) -> ExtractNewRecordState {
    let mut t = ExtractNewRecordState::default();
    t.configure(&cfg(pairs)).unwrap();
    t
}

fn names(s: &Schema) -> Vec<&str> {
    s.fields.iter().map(|f| f.name.as_str()).collect()
}

#[test]
fn unwrap_create_gives_after_state() {
    let out = unwrap(&[]).apply(carrier("c")).unwrap().unwrap();
    let s = out.value_schema.clone().unwrap();
    assert_eq!(s.name.as_deref(), Some("tms.tms.carrier.Value"));
    assert_eq!(names(&s), ["id", "name", "scac", "active", "rating"]);
    let v = out.value.as_struct().unwrap();
    assert_eq!(v.get("name"), Some(&Value::from("Delta Logistics")));
    assert_eq!(out.topic, "tms.tms.carrier");
    assert!(out.key.as_struct().is_some(), "key is unchanged");
}

#[test]
fn default_mode_is_tombstone() {
    let mut t = unwrap(&[]);
    let del = t.apply(carrier("d")).unwrap().unwrap();
    assert!(del.value.is_null(), "delete becomes a tombstone");
    assert!(
        t.apply(carrier_tombstone()).unwrap().is_none(),
        "Debezium's tombstone is dropped"
    );
    // Truncates are dropped, non-envelopes pass.
    let mut r = carrier("c");
    if let Value::Struct(s) = &mut r.value {
        s.set("op", Value::from("t"));
    }
    assert!(t.apply(r).unwrap().is_none());
    let plain = ConnectRecord::new(
        "hb",
        None,
        Value::Null,
        Some(Schema::string().build()),
        Value::from("x"),
    );
    assert_eq!(t.apply(plain.clone()).unwrap().unwrap(), plain);
}

#[test]
fn every_delete_mode() {
    let modes = [
        ("drop", false, false, false),
        ("tombstone", true, false, false),
        ("rewrite", true, true, false),
        ("rewrite-with-tombstone", true, true, true),
        ("delete-to-tombstone", true, false, true),
    ];
    for (mode, delete_kept, rewritten, tombstone_kept) in modes {
        let mut t = unwrap(&[("delete.tombstone.handling.mode", mode)]);
        let del = t.apply(carrier("d")).unwrap();
        assert_eq!(del.is_some(), delete_kept, "{mode}");
        if let Some(del) = del {
            if rewritten {
                let v = del.value.as_struct().unwrap();
                assert_eq!(v.get("__deleted"), Some(&Value::from("true")), "{mode}");
                assert_eq!(v.get("id"), Some(&Value::Int32(3)), "{mode}");
            } else {
                assert!(del.value.is_null(), "{mode}");
            }
        }
        assert_eq!(
            t.apply(carrier_tombstone()).unwrap().is_some(),
            tombstone_kept,
            "{mode}"
        );
        let upd = t.apply(carrier("u")).unwrap().unwrap();
        let deleted = upd.value.as_struct().unwrap().get("__deleted").cloned();
        assert_eq!(deleted, rewritten.then(|| Value::from("false")), "{mode}");
    }
    let mut t = ExtractNewRecordState::default();
    let e = t
        .configure(&cfg(&[("delete.tombstone.handling.mode", "nope")]))
        .unwrap_err();
    assert!(
        e.to_string().contains("delete.tombstone.handling.mode"),
        "{e}"
    );
}

#[test]
fn add_fields_as_documented() {
    // Debezium docs: add.fields=op,table,lsn,source.ts_ms → __op, __table, __lsn, __source_ts_ms
    let mut t = unwrap(&[("add.fields", "op,table,lsn,source.ts_ms")]);
    let out = t.apply(carrier("u")).unwrap().unwrap();
    let s = out.value_schema.clone().unwrap();
    assert_eq!(
        names(&s),
        [
            "id",
            "name",
            "scac",
            "active",
            "rating",
            "__op",
            "__table",
            "__lsn",
            "__source_ts_ms"
        ]
    );
    assert!(s.fields[5..].iter().all(|f| f.schema.optional));
    assert!(
        !s.optional,
        "copySchemaBasics makes the struct required, as in Kafka"
    );
    let v = out.value.as_struct().unwrap();
    assert_eq!(v.get("__op"), Some(&Value::from("u")));
    assert_eq!(v.get("__table"), Some(&Value::from("carrier")));
    assert_eq!(v.get("__lsn"), Some(&Value::Int64(66_216_760)));
    assert_eq!(
        v.get("__source_ts_ms"),
        Some(&Value::Int64(1_795_424_904_202))
    );
    // Custom prefix, rewrite mode: __deleted comes before the added fields.
    let mut t = unwrap(&[
        ("add.fields", "op,ts_ms"),
        ("add.fields.prefix", "meta_"),
        ("delete.tombstone.handling.mode", "rewrite"),
    ]);
    let out = t.apply(carrier("d")).unwrap().unwrap();
    assert_eq!(
        names(out.value_schema.as_ref().unwrap()),
        [
            "id",
            "name",
            "scac",
            "active",
            "rating",
            "__deleted",
            "meta_op",
            "meta_ts_ms"
        ]
    );
    assert_eq!(
        out.value.as_struct().unwrap().get("meta_op"),
        Some(&Value::from("d"))
    );
}

#[test]
fn add_headers_and_json_output() {
    let mut t = unwrap(&[("add.headers", "op,source.ts_ms,db")]);
    let out = t.apply(carrier("c")).unwrap().unwrap();
    let h: Vec<(&str, &Value)> = out
        .headers
        .iter()
        .map(|h| (h.key.as_str(), &h.value))
        .collect();
    assert_eq!(
        h,
        [
            ("__op", &Value::from("c")),
            ("__source_ts_ms", &Value::Int64(1_795_424_904_199)),
            ("__db", &Value::from("golden")),
        ]
    );
    // The unwrapped value serializes like Debezium's (JsonConverter).
    let mut vc = converter_for_class("JsonConverter").unwrap();
    vc.configure(&cfg(&[("schemas.enable", "false")]), false)
        .unwrap();
    let json = vc
        .from_connect(&out.topic, out.value_schema.as_deref(), &out.value)
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8(json).unwrap(),
        r#"{"id":4,"name":"Delta Logistics","scac":"DLTL","active":true,"rating":"KA=="}"#
    );
}

#[test]
fn drop_fields_header() {
    let mut t = unwrap(&[("drop.fields.header.name", "dropme")]);
    let mut r = carrier("c");
    r.headers.push(Header {
        key: "dropme".into(),
        schema: None,
        value: Value::Array(vec![Value::from("scac"), Value::from("name")]),
    });
    let out = t.apply(r).unwrap().unwrap();
    // `name` is required, so schema-compatible dropping keeps it.
    assert_eq!(
        names(out.value_schema.as_ref().unwrap()),
        ["id", "name", "active", "rating"]
    );
}

#[test]
fn logical_table_router_as_documented() {
    // Debezium docs: topic.regex=(.*)customers_shard(.*), topic.replacement=$1customers_all_shards
    let mut t = ByLogicalTableRouter::default();
    t.configure(&cfg(&[
        ("topic.regex", "(.*)\\.tms\\.(carrier)"),
        ("topic.replacement", "$1.all.$2s"),
    ]))
    .unwrap();
    let out = t.apply(carrier("c")).unwrap().unwrap();
    assert_eq!(out.topic, "tms.all.carriers");
    let ks = out.key_schema.clone().unwrap();
    assert_eq!(ks.name.as_deref(), Some("tms.all.carriers.Key"));
    assert_eq!(names(&ks), ["id", "__dbz__physicalTableIdentifier"]);
    assert_eq!(
        out.key
            .as_struct()
            .unwrap()
            .get("__dbz__physicalTableIdentifier"),
        Some(&Value::from("tms.tms.carrier"))
    );
    let vs = out.value_schema.clone().unwrap();
    assert_eq!(vs.name.as_deref(), Some("tms.all.carriers.Envelope"));
    assert_eq!(
        vs.field_named("after").unwrap().schema.name.as_deref(),
        Some("tms.all.carriers.Value")
    );
    let after = out
        .value
        .as_struct()
        .unwrap()
        .get("after")
        .unwrap()
        .as_struct()
        .unwrap();
    assert_eq!(after.schema.name.as_deref(), Some("tms.all.carriers.Value"));
    // Tombstones are rerouted with their key; other topics are untouched.
    let tomb = t.apply(carrier_tombstone()).unwrap().unwrap();
    assert_eq!(tomb.topic, "tms.all.carriers");
    assert!(tomb.value.is_null());
    let other = golden("tms.tms.note").remove(0);
    assert_eq!(t.apply(other.clone()).unwrap().unwrap(), other);
    // key.field.regex and no uniqueness.
    let mut t = ByLogicalTableRouter::default();
    t.configure(&cfg(&[
        ("topic.regex", "(.*)\\.carrier"),
        ("topic.replacement", "$1.c"),
        ("key.field.name", "shard"),
        ("key.field.regex", ".*\\.(.*)"),
        ("key.field.replacement", "$1"),
    ]))
    .unwrap();
    let out = t.apply(carrier("c")).unwrap().unwrap();
    assert_eq!(
        out.key.as_struct().unwrap().get("shard"),
        Some(&Value::from("carrier"))
    );
    let mut t = ByLogicalTableRouter::default();
    t.configure(&cfg(&[
        ("topic.regex", "(.*)"),
        ("topic.replacement", "x"),
        ("key.enforce.uniqueness", "false"),
    ]))
    .unwrap();
    assert_eq!(
        names(
            t.apply(carrier("c"))
                .unwrap()
                .unwrap()
                .key_schema
                .as_ref()
                .unwrap()
        ),
        ["id"]
    );
    let e = ByLogicalTableRouter::default()
        .configure(&cfg(&[("topic.regex", "x")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("\"topic.replacement\"") && e.contains("Missing required configuration"),
        "{e}"
    );
}

#[test]
fn header_to_value_copy_and_move() {
    let unwrapped = unwrap(&[]).apply(carrier("c")).unwrap().unwrap();
    let mut r = unwrapped.clone();
    r.headers.push(Header {
        key: "h1".into(),
        schema: Some(Schema::string().build()),
        value: Value::from("v1"),
    });
    r.headers.push(Header {
        key: "h2".into(),
        schema: Some(Schema::int64().build()),
        value: Value::Int64(2),
    });
    let mut t = HeaderToValue::default();
    t.configure(&cfg(&[
        ("headers", "h1,h2"),
        ("fields", "f1,f2"),
        ("operation", "copy"),
    ]))
    .unwrap();
    let out = t.apply(r.clone()).unwrap().unwrap();
    assert_eq!(
        names(out.value_schema.as_ref().unwrap()),
        ["id", "name", "scac", "active", "rating", "f1", "f2"]
    );
    assert_eq!(
        out.value.as_struct().unwrap().get("f2"),
        Some(&Value::Int64(2))
    );
    assert_eq!(out.headers.len(), 2);
    let mut t = HeaderToValue::default();
    t.configure(&cfg(&[
        ("headers", "h1"),
        ("fields", "f1"),
        ("operation", "move"),
    ]))
    .unwrap();
    let out = t.apply(r).unwrap().unwrap();
    assert_eq!(
        out.headers
            .iter()
            .map(|h| h.key.as_str())
            .collect::<Vec<_>>(),
        ["h2"]
    );
    let e = HeaderToValue::default()
        .configure(&cfg(&[
            ("headers", "h1,h2"),
            ("fields", "f1"),
            ("operation", "move"),
        ]))
        .unwrap_err();
    assert!(e.to_string().contains("same number of elements"), "{e}");
}

/// An outbox table change event shaped like Debezium's documentation example
/// (columns id, aggregatetype, aggregateid, type, payload).
fn outbox_event(op: &str, aggregatetype: &str) -> ConnectRecord {
    let row: SchemaRef = Schema::struct_()
        .named("dbserver1.public.outboxevent.Value")
        .optional()
        .field(
            "id",
            Arc::new(Schema::string().named("io.debezium.data.Uuid").version(1)),
        )
        .field("aggregatetype", Schema::string())
        .field("aggregateid", Schema::string())
        .field("type", Schema::string())
        .field(
            "payload",
            Arc::new(
                Schema::string()
                    .optional()
                    .named("io.debezium.data.Json")
                    .version(1),
            ),
        )
        .build();
    let env = Schema::struct_()
        .named("dbserver1.public.outboxevent.Envelope")
        .field("before", row.clone())
        .field("after", row.clone())
        .field("op", Schema::string())
        .field("ts_ms", Schema::int64().optional())
        .build();
    let after = Struct::new(row)
        .put("id", "406c07f3-26f0-4eea-a50c-109940064b8f")
        .put("aggregatetype", aggregatetype)
        .put("aggregateid", "1")
        .put("type", "OrderCreated")
        .put("payload", r#"{"id": 1, "customerId": 123}"#);
    let v = Struct::new(env.clone())
        .put("after", Value::Struct(after))
        .put("op", op)
        .put("ts_ms", Value::Int64(1_556_890_284_484));
    ConnectRecord::new(
        "dbserver1.public.outboxevent",
        None,
        Value::Null,
        Some(env),
        Value::Struct(v),
    )
}

#[test]
fn outbox_event_router_as_documented() {
    let mut t = EventRouter::default();
    t.configure(&cfg(&[])).unwrap();
    let out = t.apply(outbox_event("c", "Order")).unwrap().unwrap();
    assert_eq!(out.topic, "outbox.event.Order");
    assert_eq!(out.key, Value::from("1"));
    assert_eq!(out.value, Value::from(r#"{"id": 1, "customerId": 123}"#));
    assert_eq!(
        out.value_schema.as_ref().unwrap().name.as_deref(),
        Some("io.debezium.data.Json")
    );
    assert_eq!(out.headers[0].key, "id");
    assert_eq!(
        out.headers[0].value,
        Value::from("406c07f3-26f0-4eea-a50c-109940064b8f")
    );
    assert_eq!(out.timestamp, Some(1_556_890_284_484));
    // Deletes, updates and tombstones of the outbox table are not events.
    assert!(t.apply(outbox_event("d", "Order")).unwrap().is_none());
    assert!(t.apply(outbox_event("u", "Order")).unwrap().is_none());
    let mut tomb = outbox_event("c", "Order");
    tomb.value = Value::Null;
    tomb.value_schema = None;
    assert!(t.apply(tomb).unwrap().is_none());
}

#[test]
fn outbox_custom_routing_and_placement() {
    let mut t = EventRouter::default();
    t.configure(&cfg(&[
        ("route.topic.replacement", "${routedByValue}.events"),
        (
            "table.fields.additional.placement",
            "type:header:eventType,type:envelope:eventType",
        ),
    ]))
    .unwrap();
    let out = t.apply(outbox_event("c", "customer")).unwrap().unwrap();
    assert_eq!(out.topic, "customer.events");
    assert_eq!(out.headers[1].key, "eventType");
    assert_eq!(out.headers[1].value, Value::from("OrderCreated"));
    let v = out.value.as_struct().unwrap();
    assert_eq!(v.get("eventType"), Some(&Value::from("OrderCreated")));
    assert!(v.get("payload").is_some());
    let mut t = EventRouter::default();
    t.configure(&cfg(&[("table.op.invalid.behavior", "fatal")]))
        .unwrap();
    assert!(t.apply(outbox_event("u", "Order")).is_err());
}

//! Unit tests of the type mapping, with literal PostgreSQL text inputs and
//! the values Debezium 3.6.3 emitted for them (tests/fixtures/postgres).

use super::text::*;
use super::*;
use crate::catalog::{Column, PgType, TypeKind};
use base64::Engine as _;

pub(super) fn base(name: &str) -> PgType {
    PgType {
        oid: 0,
        schema: "pg_catalog".into(),
        name: name.into(),
        kind: TypeKind::Base,
    }
}

pub(super) fn ext(name: &str) -> PgType {
    PgType {
        oid: 0,
        schema: "public".into(),
        name: name.into(),
        kind: TypeKind::Base,
    }
}

pub(super) fn array_of(elem: PgType) -> PgType {
    PgType {
        oid: 0,
        schema: "pg_catalog".into(),
        name: format!("_{}", elem.name),
        kind: TypeKind::Array {
            elem: Box::new(elem),
        },
    }
}

fn status_enum() -> PgType {
    PgType {
        oid: 0,
        schema: "tms".into(),
        name: "shipment_status".into(),
        kind: TypeKind::Enum {
            labels: [
                "planned",
                "dispatched",
                "in_transit",
                "delivered",
                "cancelled",
            ]
            .map(String::from)
            .to_vec(),
        },
    }
}

pub(super) fn col(t: PgType, typmod: i32) -> Column {
    Column {
        name: "c".into(),
        attnum: 1,
        pg_type: t,
        typmod,
        not_null: false,
        default_expr: None,
    }
}

fn map(t: PgType, typmod: i32) -> ColumnMapping {
    map_modes(t, typmod, &TypeModes::default())
}

fn map_modes(t: PgType, typmod: i32, modes: &TypeModes) -> ColumnMapping {
    match map_column(&col(t, typmod), modes) {
        Some(m) => m,
        None => panic!("type unsupported"),
    }
}

fn dec(m: &ColumnMapping, text: &str) -> Value {
    match m.decode(text.as_bytes(), Phase::Snapshot) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn dec_stream(m: &ColumnMapping, text: &str) -> Value {
    match m.decode(text.as_bytes(), Phase::Stream) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn b64(s: &str) -> Vec<u8> {
    match base64::engine::general_purpose::STANDARD.decode(s) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn string(s: &str) -> Value {
    Value::String(s.into())
}

/// numeric(p, s) typmod.
fn nm(p: i32, s: i32) -> i32 {
    ((p << 16) | s) + 4
}

#[test]
#[allow(clippy::approx_constant)] // 3.14 is the fixture's value
fn integers_and_floats() {
    assert_eq!(dec(&map(base("int2"), -1), "-32768"), Value::Int16(-32768));
    assert_eq!(
        dec(&map(base("int4"), -1), "2147483647"),
        Value::Int32(i32::MAX)
    );
    assert_eq!(
        dec(&map(base("int8"), -1), "-9223372036854775808"),
        Value::Int64(i64::MIN)
    );
    let real = map(base("float4"), -1);
    assert_eq!(dec(&real, "3.14"), Value::Float32(3.14));
    assert_eq!(
        dec(&real, "-3.4028235e+38"),
        Value::Float32(-3.402_823_5e38)
    );
    assert!(matches!(dec(&real, "NaN"), Value::Float32(f) if f.is_nan()));
    assert_eq!(dec(&real, "Infinity"), Value::Float32(f32::INFINITY));
    let dbl = map(base("float8"), -1);
    assert_eq!(dec(&dbl, "4.9e-324"), Value::Float64(5e-324));
    assert_eq!(dec(&dbl, "-Infinity"), Value::Float64(f64::NEG_INFINITY));
    assert_eq!(dec(&map(base("bool"), -1), "t"), Value::Boolean(true));
}

#[test]
fn numeric_precise() {
    let m = map(base("numeric"), nm(10, 2));
    assert_eq!(m.schema.parameter("scale"), Some("2"));
    assert_eq!(m.schema.parameter("connect.decimal.precision"), Some("10"));
    assert_eq!(dec(&m, "12345.67"), Value::Bytes(b64("EtaH")));
    assert_eq!(dec(&m, "-99999999.99"), Value::Bytes(b64("/av0HAE=")));
    assert_eq!(dec(&m, "99999999.99"), Value::Bytes(b64("AlQL4/8=")));
    assert_eq!(dec(&m, "-0.01"), Value::Bytes(b64("/w==")));
    assert_eq!(dec(&m, "-0.50"), Value::Bytes(b64("zg==")));
    assert_eq!(dec(&m, "NaN"), Value::Null);

    let free = map(base("numeric"), -1);
    assert!(free.schema.is_named(logical::DBZ_VARIABLE_SCALE_DECIMAL));
    let vsd = |scale: i32, value: &str| {
        Value::Struct(Struct {
            schema: match &free.conv {
                Conv::VarDecimal { schema, .. } => schema.clone(),
                _ => panic!("conv"),
            },
            values: vec![Value::Int32(scale), Value::Bytes(b64(value))],
        })
    };
    assert_eq!(
        dec(&free, "3.141592653589793238462643383279"),
        vsd(30, "J6cIiRxT5hQNqz0r7w==")
    );
    assert_eq!(dec(&free, "-0.000000000000000000001"), vsd(21, "/w=="));
    assert_eq!(
        dec(&free, "12345678901234567890.123456789012345678901234567890"),
        vsd(29, "ANg/8Fdd5Z+puzcLpeWtmCiuOYEV")
    );
    assert_eq!(dec(&free, "2.500"), vsd(1, "GQ=="));
    assert_eq!(dec(&free, "100"), vsd(0, "ZA=="));
    assert_eq!(dec(&free, "Infinity"), Value::Null);
    assert_eq!(dec(&free, "-Infinity"), Value::Null);
}

#[test]
fn numeric_other_modes() {
    let modes = TypeModes {
        decimal: DecimalMode::String,
        ..TypeModes::default()
    };
    let m = map_modes(base("numeric"), nm(10, 2), &modes);
    assert_eq!(m.schema.type_, velocity_api::Type::String);
    assert_eq!(dec(&m, "12345.67"), string("12345.67"));
    assert_eq!(dec(&m, "NaN"), string("NAN"));
    let free = map_modes(base("numeric"), -1, &modes);
    assert_eq!(dec(&free, "2.500"), string("2.500"));
    assert_eq!(dec(&free, "Infinity"), string("POSITIVE_INFINITY"));
    assert_eq!(dec(&free, "-Infinity"), string("NEGATIVE_INFINITY"));
    let money = map_modes(base("money"), -1, &modes);
    assert_eq!(dec(&money, "$0.00"), string("0.00"));
    assert_eq!(
        dec(&money, "-$92,233,720,368,547,758.08"),
        string("-92233720368547758.08")
    );
    let double = TypeModes {
        decimal: DecimalMode::Double,
        ..TypeModes::default()
    };
    let m = map_modes(base("numeric"), nm(10, 2), &double);
    assert_eq!(dec(&m, "12345.67"), Value::Float64(12345.67));
}

#[test]
fn money_precise() {
    let m = map(base("money"), -1);
    assert_eq!(m.schema.parameter("scale"), Some("2"));
    assert_eq!(m.schema.parameter("connect.decimal.precision"), None);
    assert_eq!(dec(&m, "$19.99"), Value::Bytes(b64("B88=")));
    assert_eq!(dec(&m, "$0.00"), Value::Bytes(b64("AA==")));
    assert_eq!(dec(&m, "-$0.01"), Value::Bytes(b64("/w==")));
    assert_eq!(
        dec(&m, "-$92,233,720,368,547,758.08"),
        Value::Bytes(b64("gAAAAAAAAAA="))
    );
    assert_eq!(
        dec(&m, "$92,233,720,368,547,758.07"),
        Value::Bytes(b64("f/////////8="))
    );
    assert_eq!(dec(&m, "$1,000,000.01"), Value::Bytes(b64("BfXhAQ==")));
}

#[test]
fn strings_and_bytes() {
    assert_eq!(dec(&map(base("bpchar"), 9), "ab   "), string("ab   "));
    let bytea = map(base("bytea"), -1);
    assert_eq!(dec(&bytea, "\\x00ff10ab"), Value::Bytes(b64("AP8Qqw==")));
    assert_eq!(dec(&bytea, "\\x"), Value::Bytes(Vec::new()));
    assert_eq!(
        dec(&bytea, "a\\\\b\\001"),
        Value::Bytes(b"a\\b\x01".to_vec())
    );
    let b64mode = TypeModes {
        binary: BinaryMode::Base64,
        ..TypeModes::default()
    };
    assert_eq!(
        dec(&map_modes(base("bytea"), -1, &b64mode), "\\x00ff10ab"),
        string("AP8Qqw==")
    );
    let e = map(status_enum(), -1);
    assert_eq!(
        e.schema.parameter("allowed"),
        Some("planned,dispatched,in_transit,delivered,cancelled")
    );
    assert_eq!(dec(&e, "in_transit"), string("in_transit"));
    assert!(map(ext("ltree"), -1).schema.is_named(logical::DBZ_LTREE));
    assert!(map(base("tsvector"), -1).schema.is_named(DBZ_TSVECTOR));
    assert_eq!(map(ext("citext"), -1).schema.name, None);
}

#[test]
fn dates_both_phases() {
    let m = map(base("date"), -1);
    assert_eq!(dec(&m, "2024-03-01"), Value::Int32(19783));
    assert_eq!(dec(&m, "0001-01-01"), Value::Int32(-719162));
    assert_eq!(dec(&m, "1582-10-04"), Value::Int32(-141438));
    assert_eq!(dec(&m, "0044-03-15 BC"), Value::Int32(-703383));
    assert_eq!(dec_stream(&m, "0044-03-15 BC"), Value::Int32(-735160));
    assert_eq!(dec(&m, "infinity"), Value::Int32(-622191234));
    assert_eq!(dec(&m, "-infinity"), Value::Int32(-625821272));
    assert_eq!(dec_stream(&m, "infinity"), Value::Int32(-2147472692));
    assert_eq!(dec_stream(&m, "-infinity"), Value::Int32(-2147472691));
}

#[test]
fn times() {
    let t = map(base("time"), -1);
    assert!(t.schema.is_named(logical::DBZ_MICRO_TIME));
    assert_eq!(dec(&t, "13:45:30.123456"), Value::Int64(49530123456));
    assert_eq!(dec(&t, "24:00:00"), Value::Int64(86400000000));
    let t3 = map(base("time"), 3);
    assert!(t3.schema.is_named(logical::DBZ_TIME));
    assert_eq!(dec(&t3, "13:45:30.123"), Value::Int32(49530123));
    let tz = map(base("timetz"), -1);
    assert_eq!(dec(&tz, "13:45:30.5+02"), string("11:45:30.5Z"));
    assert_eq!(dec(&tz, "00:00:00+14"), string("10:00:00Z"));
    assert_eq!(dec(&tz, "23:59:59.999999-12"), string("11:59:59.999999Z"));
    assert_eq!(dec(&tz, "24:00:00+00"), string("00:00:00Z"));
    assert_eq!(dec(&tz, "08:00:00-05:30"), string("13:30:00Z"));
    let connect = TypeModes {
        time: TimePrecisionMode::Connect,
        ..TypeModes::default()
    };
    let tc = map_modes(base("time"), -1, &connect);
    assert!(tc.schema.is_named(logical::TIME));
    assert_eq!(dec(&tc, "00:00:00.000001"), Value::Int32(0));
    assert_eq!(dec(&tc, "24:00:00"), Value::Int32(86400000));
}

#[test]
fn timestamps() {
    let ts = map(base("timestamp"), -1);
    assert_eq!(
        dec(&ts, "2024-03-01 13:45:30.123456"),
        Value::Int64(1709300730123456)
    );
    assert_eq!(dec(&ts, "1969-12-31 23:59:59.999999"), Value::Int64(-1));
    assert_eq!(
        dec(&ts, "4713-01-01 00:00:00 BC"),
        Value::Int64(-210863520000000000)
    );
    assert_eq!(
        dec(&ts, "1582-10-15 12:00:00"),
        Value::Int64(-12219249600000000)
    );
    assert_eq!(dec(&ts, "infinity"), Value::Int64(9223372036825200000));
    assert_eq!(dec(&ts, "-infinity"), Value::Int64(-9223372036832400000));
    let ts3 = map(base("timestamp"), 3);
    assert!(ts3.schema.is_named(logical::DBZ_TIMESTAMP));
    assert_eq!(
        dec(&ts3, "1900-01-01 00:00:00.001"),
        Value::Int64(-2208988799999)
    );
    assert_eq!(dec(&ts3, "-infinity"), Value::Int64(-9223372036832400));
    let tstz = map(base("timestamptz"), -1);
    assert_eq!(
        dec(&tstz, "2024-03-01 11:45:30.123456+00"),
        string("2024-03-01T11:45:30.123456Z")
    );
    assert_eq!(
        dec(&tstz, "2000-02-29 08:00:00-05:30"),
        string("2000-02-29T13:30:00.000000Z")
    );
    assert_eq!(
        dec(&tstz, "294276-12-31 23:59:59.999999+00"),
        string("+294276-12-31T23:59:59.999999Z")
    );
    assert_eq!(dec(&tstz, "-infinity"), string("-infinity"));
    let tstz3 = map(base("timestamptz"), 3);
    assert_eq!(
        dec(&tstz3, "2000-02-29 08:00:00.5+00"),
        string("2000-02-29T08:00:00.500Z")
    );
}

#[test]
fn intervals() {
    let m = map(base("interval"), -1);
    assert_eq!(
        dec(&m, "1 year 2 mons 3 days 04:05:06.789"),
        Value::Int64(37091106789000)
    );
    assert_eq!(dec(&m, "1 mon"), Value::Int64(2629800000000));
    assert_eq!(
        dec(&m, "-1 days -00:00:00.000001"),
        Value::Int64(-86400000001)
    );
    assert_eq!(dec(&m, "-01:30:00"), Value::Int64(-5400000000));
    assert_eq!(dec(&m, "00:00:00"), Value::Int64(0));
    assert_eq!(dec(&m, "-178000000 years"), Value::Int64(i64::MIN));
    assert_eq!(
        dec(&m, "178000000 years 11 mons 30 days 23:59:59.999999"),
        Value::Int64(i64::MAX)
    );
    let s = map_modes(
        base("interval"),
        -1,
        &TypeModes {
            interval: IntervalMode::String,
            ..TypeModes::default()
        },
    );
    assert_eq!(
        dec(&s, "1 year 2 mons 3 days 04:05:06.789"),
        string("P1Y2M3DT4H5M6.789S")
    );
    assert_eq!(dec(&s, "-01:30:00"), string("P0Y0M0DT-1H-30M0S"));
    assert_eq!(
        dec(&s, "-1 days -00:00:00.000001"),
        string("P0Y0M-1DT0H0M-0.000001S")
    );
    assert_eq!(
        dec(&s, "-178000000 years"),
        string("P-178000000Y0M0DT0H0M0S")
    );
    assert_eq!(
        dec(&s, "178000000 years 11 mons 30 days 23:59:59.999999"),
        string("P178000000Y11M30DT23H59M59.999999S")
    );
    assert_eq!(dec(&s, "00:00:00"), string("P0Y0M0DT0H0M0S"));
}

#[test]
fn bits() {
    let b4 = map(base("bit"), 4);
    assert_eq!(b4.schema.parameter("length"), Some("4"));
    assert_eq!(dec(&b4, "1010"), Value::Bytes(b64("Cg==")));
    assert_eq!(dec(&b4, "0000"), Value::Bytes(Vec::new()));
    assert_eq!(dec(&b4, "0001"), Value::Bytes(b64("AQ==")));
    let b1 = map(base("bit"), 1);
    assert_eq!(b1.schema.type_, velocity_api::Type::Boolean);
    assert_eq!(dec(&b1, "1"), Value::Boolean(true));
    assert_eq!(dec(&b1, "0"), Value::Boolean(false));
    let vb = map(base("varbit"), 8);
    assert_eq!(dec(&vb, "101"), Value::Bytes(b64("BQ==")));
    assert_eq!(dec(&vb, "10000001"), Value::Bytes(b64("gQ==")));
    assert_eq!(dec(&vb, ""), Value::Bytes(Vec::new()));
}

#[test]
fn arrays() {
    let ints = map(array_of(base("int4")), -1);
    assert_eq!(
        dec(&ints, "{1,2,3}"),
        Value::Array(vec![Value::Int32(1), Value::Int32(2), Value::Int32(3)])
    );
    assert_eq!(
        dec(&ints, "{{1,2},{3,4}}"),
        Value::Array(vec![Value::Null, Value::Null])
    );
    assert_eq!(dec(&ints, "{}"), Value::Array(vec![]));
    let texts = map(array_of(base("text")), -1);
    assert_eq!(
        dec(&texts, r#"{alpha,"beta gamma",NULL,"de\"lta"}"#),
        Value::Array(vec![
            string("alpha"),
            string("beta gamma"),
            Value::Null,
            string("de\"lta")
        ])
    );
    assert_eq!(
        dec(&texts, r#"{"x,y","{braces}"}"#),
        Value::Array(vec![string("x,y"), string("{braces}")])
    );
    let nums = map(array_of(base("numeric")), nm(10, 2));
    assert_eq!(
        dec(&nums, "{1.50,-2.25}"),
        Value::Array(vec![Value::Bytes(b64("AJY=")), Value::Bytes(b64("/x8="))])
    );
    let dates = map(array_of(base("date")), -1);
    assert_eq!(
        dec(&dates, "{1582-10-15,1500-03-01}"),
        Value::Array(vec![Value::Int32(-141427), Value::Int32(-171605)])
    );
    let enums = map(array_of(status_enum()), -1);
    let items = enums.schema.value_schema.as_ref().map(|s| s.optional);
    assert_eq!(items, Some(false));
    assert_eq!(
        dec(&enums, "{planned,delivered}"),
        Value::Array(vec![string("planned"), string("delivered")])
    );
}

#[test]
fn hstore_point() {
    let h = map(ext("hstore"), -1);
    assert_eq!(
        dec(&h, r#""a"=>"1", "b"=>NULL, "key with space"=>"v""#),
        string(r#"{"a":"1","b":null,"key with space":"v"}"#)
    );
    assert_eq!(dec(&h, ""), string("{}"));
    let p = map(base("point"), -1);
    let v = dec(&p, "(1.5,-2.25)");
    let s = v.as_struct().map(|s| s.values.clone());
    assert_eq!(
        s,
        Some(vec![
            Value::Float64(1.5),
            Value::Float64(-2.25),
            Value::Bytes(b64("AQEAAAAAAAAAAAD4PwAAAAAAAALA")),
            Value::Null
        ])
    );
}

#[test]
fn unsupported_types() {
    assert!(map_column(&col(base("box"), -1), &TypeModes::default()).is_none());
    assert!(map_column(&col(array_of(base("bytea")), -1), &TypeModes::default()).is_none());
    let composite = PgType {
        oid: 0,
        schema: "public".into(),
        name: "pair".into(),
        kind: TypeKind::Composite,
    };
    assert!(map_column(&col(composite, -1), &TypeModes::default()).is_none());
}

#[test]
fn defaults() {
    let with_default = |t: PgType, typmod: i32, expr: &str, not_null: bool| {
        let c = Column {
            default_expr: Some(expr.into()),
            not_null,
            ..col(t, typmod)
        };
        match map_column(&c, &TypeModes::default()) {
            Some(m) => m.schema.default.clone(),
            None => panic!("unsupported"),
        }
    };
    assert_eq!(
        with_default(
            base("int4"),
            -1,
            "nextval('tms.carrier_id_seq'::regclass)",
            true
        ),
        Some(Value::Int32(0))
    );
    assert_eq!(
        with_default(base("int8"), -1, "nextval('s'::regclass)", true),
        Some(Value::Int64(0))
    );
    assert_eq!(
        with_default(base("int4"), -1, "42", false),
        Some(Value::Int32(42))
    );
    assert_eq!(
        with_default(base("text"), -1, "'dflt'::text", false),
        Some(string("dflt"))
    );
    assert_eq!(
        with_default(base("bool"), -1, "true", false),
        Some(Value::Boolean(true))
    );
    assert_eq!(
        with_default(base("numeric"), nm(10, 2), "1.50", false),
        Some(Value::Bytes(b64("AJY=")))
    );
    assert_eq!(with_default(base("numeric"), -1, "1.50", false), None);
    assert_eq!(
        with_default(base("date"), -1, "'2020-01-01'::date", false),
        Some(Value::Int32(18262))
    );
    assert_eq!(
        with_default(status_enum(), -1, "'planned'::tms.shipment_status", true),
        Some(string("planned"))
    );
    assert_eq!(
        with_default(base("timestamptz"), -1, "now()", true),
        Some(string("1970-01-01T00:00:00.000000Z"))
    );
    assert_eq!(
        with_default(base("timestamptz"), -1, "CURRENT_TIMESTAMP", true),
        None
    );
    assert_eq!(with_default(base("int4"), -1, "NULL::integer", false), None);
    assert_eq!(
        with_default(base("money"), -1, "'1.00'::money", false),
        None
    );
}

#[test]
fn zero_and_unavailable_values() {
    let nn = |t: PgType, typmod: i32| {
        let c = Column {
            not_null: true,
            ..col(t, typmod)
        };
        match map_column(&c, &TypeModes::default()) {
            Some(m) => m,
            None => panic!("unsupported"),
        }
    };
    assert_eq!(nn(base("text"), -1).zero_value(), string(""));
    assert_eq!(nn(base("bpchar"), 5).zero_value(), string(""));
    assert_eq!(nn(base("int2"), -1).zero_value(), Value::Int16(0));
    assert_eq!(
        nn(base("timestamptz"), -1).zero_value(),
        string("1970-01-01T00:00:00.000000Z")
    );
    assert_eq!(map(base("text"), -1).zero_value(), Value::Null);
    let dflt = UnavailablePlaceholder::default();
    assert_eq!(
        map(base("text"), -1).unavailable_value(&dflt),
        string(UNAVAILABLE_VALUE)
    );
    assert_eq!(
        map(base("bytea"), -1).unavailable_value(&dflt),
        Value::Bytes(UNAVAILABLE_VALUE.as_bytes().to_vec())
    );
    assert_eq!(
        map(array_of(base("text")), -1).unavailable_value(&dflt),
        Value::Array(vec![string(UNAVAILABLE_VALUE)])
    );
    assert_eq!(
        map(ext("hstore"), -1).unavailable_value(&dflt),
        string(r#"{"__debezium_unavailable_value":"__debezium_unavailable_value"}"#)
    );
}

#[test]
fn custom_unavailable_placeholders() {
    // values from the real Debezium 3.6.3 (tests/fixtures/postgres/toast,
    // unavailable.value.placeholder=toast-not-sent)
    let p = UnavailablePlaceholder::parse("toast-not-sent").unwrap();
    assert_eq!(
        map(base("varchar"), -1).unavailable_value(&p),
        string("toast-not-sent")
    );
    assert_eq!(
        map(base("bytea"), -1).unavailable_value(&p),
        Value::Bytes(b"toast-not-sent".to_vec())
    );
    let bytes_as =
        |f: fn(u8) -> Value| Value::Array(b"toast-not-sent".iter().map(|b| f(*b)).collect());
    assert_eq!(
        map(array_of(base("int4")), -1).unavailable_value(&p),
        bytes_as(|b| Value::Int32(i32::from(b)))
    );
    assert_eq!(
        map(array_of(base("int8")), -1).unavailable_value(&p),
        bytes_as(|b| Value::Int64(i64::from(b)))
    );
    assert_eq!(
        map(array_of(base("uuid")), -1).unavailable_value(&p),
        Value::Array(vec![string("1b38a06f-a0c0-3a2f-8331-db14f9334e79")])
    );
    assert_eq!(
        map(ext("hstore"), -1).unavailable_value(&p),
        string(r#"{"toast-not-sent":"toast-not-sent"}"#)
    );
    // hex: gives the bytes; the text is their UTF-8 (lossy, as Java's new String)
    let h = UnavailablePlaceholder::parse("hex:00ff41").unwrap();
    assert_eq!(h.bytes(), [0x00, 0xff, 0x41]);
    assert_eq!(h.text(), "\u{0}\u{fffd}A");
    assert_eq!(
        map(base("bytea"), -1).unavailable_value(&h),
        Value::Bytes(vec![0x00, 0xff, 0x41])
    );
    // bytes above 0x7f are negative Java bytes in integer arrays
    assert_eq!(
        map(array_of(base("int4")), -1).unavailable_value(&h),
        Value::Array(vec![Value::Int32(0), Value::Int32(-1), Value::Int32(65)])
    );
    for bad in ["hex:abc", "hex:zz"] {
        let e = UnavailablePlaceholder::check(bad).unwrap_err();
        assert!(e.contains("hexadecimal"), "{bad}: {e}");
    }
    assert_eq!(UnavailablePlaceholder::parse("hex:").unwrap().bytes(), b"");
    assert_eq!(UnavailablePlaceholder::default().text(), UNAVAILABLE_VALUE);
}

#[test]
fn helpers() {
    assert_eq!(twos_complement(false, ""), vec![0]);
    assert_eq!(twos_complement(true, "128"), vec![0x80]);
    assert_eq!(twos_complement(true, "256"), vec![0xFF, 0x00]);
    assert_eq!(twos_complement(false, "128"), vec![0x00, 0x80]);
    assert_eq!(civil_from_days(days_from_civil(-43, 3, 15)), (-43, 3, 15));
    assert_eq!(java_year(-43), "-0043");
    assert_eq!(java_seconds_string(59.999999), "59.999999");
    assert_eq!(java_seconds_string(-0.000001), "-0.000001");
    assert_eq!(java_seconds_string(0.0), "0");
    assert_eq!(
        parse_money("($5.00)", 2).map(|d| d.to_plain_string()),
        Ok("-5.00".to_string())
    );
}

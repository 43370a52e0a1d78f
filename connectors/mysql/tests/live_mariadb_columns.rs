//! Debezium's column options on the MySQL / MariaDB source, against the
//! real MariaDB of `scripts/services.sh` (the task driven directly, no
//! worker, no broker): `column.mask.with.N.chars`,
//! `column.mask.hash[.v2].<algorithm>.with.salt.<salt>`,
//! `column.truncate.to.N.chars`, `column.propagate.source.type` and
//! `datatype.propagate.source.type`, in the snapshot and while streaming.
//!
//! There is no real Debezium MySQL / MariaDB connector to capture from
//! here, so the values asserted are those the real Debezium 3.6.3
//! PostgreSQL connector emitted for the same values and salts
//! (tests/fixtures/postgres/columns/golden.jsonl): the hashing, masking and
//! truncation are the shared ones of `velocity_api::debezium::columns`.
//! Fails when MariaDB is not there.

use std::sync::Arc;
use std::time::Duration;

use velocity_api::{
    Offset, OffsetReader, Partition, RawConfig, SchemaRef, SourceRecord, SourceTask, TaskContext,
    Value,
};
use velocity_connector_mysql::task::MySqlSourceTask;

mod common;
use common::{connector_config, poll_kept, socket, sql};

struct NoOffset;

impl OffsetReader for NoOffset {
    fn offset(&self, _p: &Partition) -> Option<Offset> {
        None
    }
}

fn context() -> TaskContext {
    TaskContext {
        connector: "columns".into(),
        task_id: 0,
        offsets: Arc::new(NoOffset),
    }
}

fn config(db: &str, prefix: &str, sid: u32) -> RawConfig {
    let mut c = connector_config(db, prefix, sid);
    for (k, v) in [
        (
            "column.mask.with.5.chars",
            format!("{db}.masked.m_.*,{db}.keyed.code"),
        ),
        (
            "column.mask.hash.SHA-256.with.salt.CzQMA0cB5K",
            format!("{db}.masked.h1_.*"),
        ),
        (
            "column.mask.hash.v2.SHA-256.with.salt.CzQMA0cB5K",
            format!("{db}.masked.h2_.*,{db}.keyed.secret"),
        ),
        (
            "column.mask.hash.MD5.with.salt.s.a.l.t",
            format!("{db}.masked.h_md5"),
        ),
        (
            "column.mask.hash.v2.SHA-1.with.salt.pepper",
            format!("{db}.masked.h_sha1"),
        ),
        (
            "column.mask.hash.SHA-384.with.salt.x",
            format!("{db}.masked.h_sha384"),
        ),
        (
            "column.mask.hash.v2.SHA-512.with.salt.longer-salt_42",
            format!("{db}.masked.h_sha512"),
        ),
        ("column.truncate.to.4.chars", format!("{db}.masked.t_.*")),
        ("column.propagate.source.type", format!("{db}.masked.p_.*")),
        (
            "datatype.propagate.source.type",
            ".+[.]double,.+[.]date".into(),
        ),
    ] {
        c.insert(k.into(), v);
    }
    c
}

const TABLES: &str = "\
CREATE TABLE masked (
    id INT PRIMARY KEY,
    m_text TEXT, m_varchar VARCHAR(20), m_int INT, m_enum ENUM('happy','sad'),
    h1_text MEDIUMTEXT, h1_varchar VARCHAR(10), h2_text MEDIUMTEXT, h2_varchar VARCHAR(12),
    h_md5 TEXT, h_sha1 TEXT, h_sha384 MEDIUMTEXT, h_sha512 TEXT,
    t_text TEXT, t_varchar VARCHAR(50), t_varchar3 VARCHAR(3), t_blob BLOB, t_int INT,
    p_varchar VARCHAR(7), p_decimal DECIMAL(8,3), p_int INT UNSIGNED, p_set SET('x','y'),
    d_double DOUBLE, d_date DATE,
    plain TEXT
) DEFAULT CHARSET utf8mb4;
CREATE TABLE keyed (code VARCHAR(8) PRIMARY KEY, secret TEXT) DEFAULT CHARSET utf8mb4;
INSERT INTO masked VALUES (1, 'secret text', 'v', 42, 'happy',
    'hello', 'hello you', 'hello', 'hello world', 'hello', 'hello', 'hello', 'hello',
    'truncate me', 'abcdefgh', 'abc', x'0102030405', 123456,
    'pv', 12.345, 7, 'x,y', 2.5, '2024-02-29', 'plain');
INSERT INTO masked (id) VALUES (2);
INSERT INTO masked (id, m_text, m_varchar, h1_text, h1_varchar, h2_text, h2_varchar,
    h_md5, h_sha1, h_sha384, h_sha512, t_text, t_varchar, plain)
VALUES (3, '', '😀', '', 'é😀', '', 'é😀', 'héllo €', 'héllo €', '中文😀', '中文😀',
    'a😀bcd', 'éé😀😀x', '😀');
INSERT INTO masked (id, h1_text, h2_text, h_sha1, h_sha384, t_text)
WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 2100)
SELECT 4, l, l, REPEAT('😀', 1000), REPEAT('é', 33000), l
FROM (SELECT GROUP_CONCAT(MD5(i) ORDER BY i SEPARATOR '') AS l FROM s) AS g;
INSERT INTO keyed VALUES ('K0', 'first secret');";

/// Hex digests the real Debezium emitted (PostgreSQL golden capture).
mod golden {
    pub const H1_HELLO: &str = "b4d39ab0d198fb4cac8b2f023da74f670bcaf192dcc79b5d6361b7ae6b2fafdf";
    pub const H1_EMPTY: &str = "7b061bc77caec9afdc6b986ab6c4de894d58006b32ac0f7ea728404a5cf3a9e5";
    pub const H1_LONG: &str = "4ed7e4f44c5f0af2207d935425853a1409124813766c344713a9ddb9463eeecb";
    pub const H1_DEBEZIUM: &str =
        "42b01ea6102b8cf32b2be2b741a6aaf6169b039f2f6f06e00052a7f0695fb3d9";
    pub const H1_CHANGED: &str = "a5c51e50656115541679396dcf3108ee93568f922702667b7db51c4b27be0924";
    pub const H2_HELLO: &str = "c4bf2f9ebc99b7f64add45103e81eb4ca483649064e3e1398b21f41786360c7b";
    pub const H2_EMPTY: &str = "38bc986eb4a5475fab16ac693f6c1b4c2445600da5c5aec3d04301e48d6d0d68";
    pub const H2_LONG: &str = "5782ec1ed9664364c61a50b0d6773fbfdb19e24ab9dc74af2067baeea2cef606";
    pub const H2_CHANGED: &str = "e9bda83c890eed0119c0d319cae780ac170eeb480d3ecbeb428304775f22ac1c";
    pub const MD5_HELLO: &str = "9de9dd885dd62de128ea51fbec5929cc";
    pub const MD5_ACCENTS: &str = "1e8539fa1de9275907745c8153c94df7";
    pub const SHA1_HELLO: &str = "9bae0c0b53f9eb0d761833d69cf008214ae8bfde";
    pub const SHA1_ACCENTS: &str = "2bb942e0d50f9a99ec7efef41a92b3cedc7b70fa";
    pub const SHA1_EMOJIS: &str = "15b2a09cee25a396b46e84b6fe8053ebf2c22a65";
    pub const SHA384_HELLO: &str = "979527b432d44e8d1d1355569db95f39e7dc87f84d44e947c6c83c5ac99ba9afe1e66af1d2c19208ecb887dd0ab7c910";
    pub const SHA384_CJK: &str = "29716caebc1ba95bbe687fd51ee243c39e61a2b5ce1af37ea646a9be639030869b3983af4e856b13c49405f316de42a8";
    pub const SHA384_LONG: &str = "a5866d970c9d685c8008a73d275aad579379b981a95a5d8c2e4bcfc9eb990daa4e839f0ff774e64c0eeb2dbed0eb0d2e";
    pub const SHA512_HELLO: &str = "8a40f158a1a7dd806c61ae4b2b5d079c4dab82e413067a1e4778a22ff5d011172cfb8f992de0df72ba9424a8e349178ea977bc67b9d918f5db1fdc5065f65a29";
    pub const SHA512_CJK: &str = "e98d7827e19e60bb646b89c439efeeb4d7969665ec0e65c3d0f1b7fdca7351a1a5019c6ae2e4b98a3ee4e9c39d3d51e5df1f5296d56b47bac00e180190b39dfa";
    pub const SECRET_FIRST: &str =
        "c5afe07e218c615f739096cfccd5d5ecbfa22703fff8fc18071448fe4946067a";
    pub const SECRET_STREAM: &str =
        "52a88686c89809d71c24a5b1d16866c39da50e3b06fd0689b6a2d2a75485a0e5";
    pub const SECRET_NEW: &str = "566c5674b579e4ab538d954d21b4d5c4406c4c373805829ef6d787488df0ae6a";
}

fn op(r: &SourceRecord) -> Option<&str> {
    r.record.value.as_struct()?.get("op")?.as_str()
}

/// The `before` or `after` row of a change event.
fn image<'a>(r: &'a SourceRecord, which: &str) -> &'a velocity_api::Struct {
    r.record
        .value
        .as_struct()
        .and_then(|v| v.get(which))
        .and_then(Value::as_struct)
        .unwrap_or_else(|| panic!("no {which} in {r:?}"))
}

fn get<'a>(row: &'a velocity_api::Struct, field: &str) -> &'a Value {
    row.get(field)
        .unwrap_or_else(|| panic!("no field {field} in {row:?}"))
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

/// The parameters of field `field` of the `after` schema of `r`.
fn params(r: &SourceRecord, field: &str) -> Vec<(String, String)> {
    let envelope: &SchemaRef = r.record.value_schema.as_ref().expect("value schema");
    let after = &envelope.field_named("after").unwrap().schema;
    after
        .field_named(field)
        .unwrap_or_else(|| panic!("no field {field}"))
        .schema
        .parameters
        .clone()
        .unwrap_or_default()
}

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn column_options_mask_hash_truncate_and_propagate() {
    socket();
    let n = std::process::id();
    let (db, prefix) = (format!("vmy_cols_{n}"), format!("cols{n}"));
    sql(&format!(
        "SET NAMES utf8mb4; SET SESSION max_recursive_iterations = 10000; \
         DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; USE {db}; {TABLES}"
    ));
    let sid = 8600 + n % 1000;

    // a bad option fails the start, naming its key
    let mut bad = config(&db, &prefix, sid);
    bad.insert(
        "column.mask.hash.SHA-999.with.salt.x".into(),
        format!("{db}.masked.plain"),
    );
    let err = MySqlSourceTask::default()
        .start(&bad, context())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column.mask.hash.SHA-999.with.salt.x")
            && err.contains("SHA-999 MessageDigest not available"),
        "{err}"
    );

    let mut task = MySqlSourceTask::default();
    task.start(&config(&db, &prefix, sid), context())
        .await
        .unwrap();
    let ours = format!("{prefix}.{db}.");
    let rows = |r: &SourceRecord| r.record.topic.starts_with(&ours);
    let snap = poll_kept(&mut task, 5, Duration::from_secs(60), rows).await;
    assert_eq!(snap.len(), 5, "{snap:#?}");
    sql(&format!(
        "SET NAMES utf8mb4; USE {db};
         INSERT INTO masked VALUES (5, 'streamed', 'stream v', -1, 'sad',
             'Debezium', 'Velocity', 'Debezium', 'Velocity!', 'hello', 'hello', 'hello', 'hello',
             'streamed value', 'streamed', 'xy', x'deadbeefcafe', 7,
             'qv', -0.5, 8, 'y', -1.25, '1999-12-31', 's1');
         INSERT INTO masked SELECT id + 100, m_text, m_varchar, m_int, m_enum, h1_text, h1_varchar,
             h2_text, h2_varchar, h_md5, h_sha1, h_sha384, h_sha512, t_text, t_varchar, t_varchar3,
             t_blob, t_int, p_varchar, p_decimal, p_int, p_set, d_double, d_date, plain
             FROM masked WHERE id IN (3, 4) ORDER BY id;
         UPDATE masked SET h1_text = 'changed', h2_text = 'changed', t_text = 'changed text' WHERE id = 1;
         DELETE FROM masked WHERE id = 2;
         INSERT INTO keyed VALUES ('K1', 'stream secret');
         UPDATE keyed SET secret = 'new secret' WHERE code = 'K1';
         DELETE FROM keyed WHERE code = 'K0';"
    ));
    let streamed = poll_kept(&mut task, 10, Duration::from_secs(60), rows).await;
    task.stop().await.unwrap();
    sql(&format!("DROP DATABASE {db}"));
    assert_eq!(streamed.len(), 10, "{streamed:#?}");

    let masked = |recs: &[SourceRecord], op_code: &str, id: i32| -> SourceRecord {
        recs.iter()
            .find(|r| {
                r.record.topic.ends_with(".masked")
                    && op(r) == Some(op_code)
                    && r.record.key.as_struct().and_then(|k| k.get("id")) == Some(&Value::Int32(id))
            })
            .unwrap_or_else(|| panic!("no {op_code} of id {id}: {recs:#?}"))
            .clone()
    };

    // field schemas
    let r1 = masked(&snap, "r", 1);
    assert_eq!(params(&r1, "m_text"), p(&[("masked", "true")]));
    assert_eq!(params(&r1, "m_int"), p(&[("masked", "true")]));
    assert_eq!(
        params(&r1, "m_enum"),
        p(&[("allowed", "happy,sad"), ("masked", "true")])
    );
    assert_eq!(params(&r1, "h2_varchar"), p(&[("masked", "true")]));
    assert_eq!(params(&r1, "t_text"), p(&[("truncateLength", "4")]));
    assert_eq!(params(&r1, "t_blob"), p(&[("truncateLength", "4")]));
    // int(11) may hold more than 4 characters; varchar(3) may not
    assert_eq!(params(&r1, "t_int"), p(&[("truncateLength", "4")]));
    assert_eq!(params(&r1, "t_varchar3"), p(&[]));
    let source = |t: &str, l: Option<&str>, sc: Option<&str>, name: &str| {
        let mut v = vec![("__debezium.source.column.type".to_owned(), t.to_owned())];
        if let Some(l) = l {
            v.push(("__debezium.source.column.length".into(), l.into()));
        }
        if let Some(sc) = sc {
            v.push(("__debezium.source.column.scale".into(), sc.into()));
        }
        v.push(("__debezium.source.column.name".into(), name.into()));
        v
    };
    assert_eq!(
        params(&r1, "p_varchar"),
        source("VARCHAR", Some("7"), None, "p_varchar")
    );
    let mut decimal = p(&[("scale", "3"), ("connect.decimal.precision", "8")]);
    decimal.extend(source("DECIMAL", Some("8"), Some("3"), "p_decimal"));
    assert_eq!(params(&r1, "p_decimal"), decimal);
    assert_eq!(
        params(&r1, "p_int"),
        source("INT UNSIGNED", Some("10"), None, "p_int")
    );
    let mut set = p(&[("allowed", "x,y")]);
    set.extend(source("SET", Some("3"), None, "p_set"));
    assert_eq!(params(&r1, "p_set"), set);
    assert_eq!(
        params(&r1, "d_double"),
        source("DOUBLE", None, None, "d_double")
    );
    assert_eq!(params(&r1, "d_date"), source("DATE", None, None, "d_date"));
    assert_eq!(params(&r1, "plain"), p(&[]));
    // the streamed events carry the same schemas
    let c5 = masked(&streamed, "c", 5);
    for f in ["m_text", "t_int", "p_decimal", "p_set", "d_date", "h1_text"] {
        assert_eq!(params(&c5, f), params(&r1, f), "{f}");
    }

    // values: ordinary
    for row in [
        image(&r1, "after"),
        image(&masked(&streamed, "u", 1), "before"),
    ] {
        for (f, want) in [
            ("m_text", s("*****")),
            ("m_varchar", s("*****")),
            ("m_enum", s("*****")),
            ("m_int", Value::Int32(42)),
            ("h1_text", s(golden::H1_HELLO)),
            ("h1_varchar", s("2ffc5e0e6e")),
            ("h2_text", s(golden::H2_HELLO)),
            ("h2_varchar", s("02982eb0ca53")),
            ("h_md5", s(golden::MD5_HELLO)),
            ("h_sha1", s(golden::SHA1_HELLO)),
            ("h_sha384", s(golden::SHA384_HELLO)),
            ("h_sha512", s(golden::SHA512_HELLO)),
            ("t_text", s("trun")),
            ("t_varchar", s("abcd")),
            ("t_varchar3", s("abc")),
            ("t_blob", Value::Bytes(vec![1, 2, 3, 4])),
            ("t_int", Value::Int32(123_456)),
            ("p_varchar", s("pv")),
            ("plain", s("plain")),
        ] {
            assert_eq!(get(row, f), &want, "{f}");
        }
    }
    let u1 = masked(&streamed, "u", 1);
    let u1 = image(&u1, "after");
    assert_eq!(get(u1, "h1_text"), &s(golden::H1_CHANGED));
    assert_eq!(get(u1, "h2_text"), &s(golden::H2_CHANGED));
    assert_eq!(get(u1, "t_text"), &s("chan"));
    let c5 = image(&c5, "after");
    assert_eq!(get(c5, "h1_text"), &s(golden::H1_DEBEZIUM));
    assert_eq!(get(c5, "h1_varchar"), &s("9606cd06d4"));
    assert_eq!(get(c5, "h2_varchar"), &s("74bdea1edc27"));
    assert_eq!(get(c5, "t_text"), &s("stre"));
    assert_eq!(
        get(c5, "t_blob"),
        &Value::Bytes(vec![0xde, 0xad, 0xbe, 0xef])
    );
    // NULLs: masked to the mask, hashes and truncations stay null (snapshot
    // and the delete's before)
    for row in [
        image(&masked(&snap, "r", 2), "after"),
        image(&masked(&streamed, "d", 2), "before"),
    ] {
        assert_eq!(get(row, "m_text"), &s("*****"));
        assert_eq!(get(row, "m_int"), &Value::Null);
        assert_eq!(get(row, "h1_text"), &Value::Null);
        assert_eq!(get(row, "h2_varchar"), &Value::Null);
        assert_eq!(get(row, "t_text"), &Value::Null);
    }
    // empty, non-ASCII and outside-the-BMP values: snapshot (3) and binlog (103)
    for row in [
        image(&masked(&snap, "r", 3), "after"),
        image(&masked(&streamed, "c", 103), "after"),
    ] {
        for (f, want) in [
            ("m_text", "*****"),
            ("m_varchar", "*****"),
            ("h1_text", golden::H1_EMPTY),
            ("h1_varchar", "473009e8e9"),
            ("h2_text", golden::H2_EMPTY),
            ("h2_varchar", "eb3fea9cd057"),
            ("h_md5", golden::MD5_ACCENTS),
            ("h_sha1", golden::SHA1_ACCENTS),
            ("h_sha384", golden::SHA384_CJK),
            ("h_sha512", golden::SHA512_CJK),
            ("t_text", "a😀b"),
            ("t_varchar", "éé😀"),
            ("plain", "😀"),
        ] {
            assert_eq!(get(row, f), &s(want), "{f}");
        }
    }
    // long values: Java's long-string serialisation (V1 over 65535 bytes)
    for row in [
        image(&masked(&snap, "r", 4), "after"),
        image(&masked(&streamed, "c", 104), "after"),
    ] {
        assert_eq!(get(row, "h1_text"), &s(golden::H1_LONG));
        assert_eq!(get(row, "h2_text"), &s(golden::H2_LONG));
        assert_eq!(get(row, "h_sha1"), &s(golden::SHA1_EMOJIS));
        assert_eq!(get(row, "h_sha384"), &s(golden::SHA384_LONG));
        assert_eq!(get(row, "t_text"), &s("c4ca"));
    }

    // a masked primary key: the key keeps the value and its plain schema
    let keyed = |recs: &[SourceRecord], op_code: &str| -> SourceRecord {
        recs.iter()
            .find(|r| r.record.topic.ends_with(".keyed") && op(r) == Some(op_code))
            .unwrap_or_else(|| panic!("no {op_code} of keyed"))
            .clone()
    };
    let k0 = keyed(&snap, "r");
    let key = k0.record.key.as_struct().unwrap();
    assert_eq!(get(key, "code"), &s("K0"));
    assert!(key.schema.fields[0].schema.parameters.is_none());
    assert_eq!(get(image(&k0, "after"), "code"), &s("*****"));
    assert_eq!(get(image(&k0, "after"), "secret"), &s(golden::SECRET_FIRST));
    let c = keyed(&streamed, "c");
    assert_eq!(get(c.record.key.as_struct().unwrap(), "code"), &s("K1"));
    assert_eq!(get(image(&c, "after"), "secret"), &s(golden::SECRET_STREAM));
    let u = keyed(&streamed, "u");
    assert_eq!(
        get(image(&u, "before"), "secret"),
        &s(golden::SECRET_STREAM)
    );
    assert_eq!(get(image(&u, "after"), "secret"), &s(golden::SECRET_NEW));
    assert_eq!(get(image(&u, "after"), "code"), &s("*****"));
    let d = keyed(&streamed, "d");
    assert_eq!(get(d.record.key.as_struct().unwrap(), "code"), &s("K0"));
    assert_eq!(get(image(&d, "before"), "code"), &s("*****"));
    assert_eq!(get(image(&d, "before"), "secret"), &s(golden::SECRET_FIRST));
}

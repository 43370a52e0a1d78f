//! What the source knows about a polled table or query: its columns with
//! their Kafka Connect type, its primary key, and the conversion of the
//! text form every column is read in (see [`crate::query`]) into a Kafka
//! Connect [`Value`].
//!
//! Type mapping (Confluent's JDBC source with `numeric.mapping=none` where
//! simple):
//!
//! | database type | Connect schema |
//! |---|---|
//! | `boolean`, MariaDB `tinyint(1)`, `bit(1)` | boolean |
//! | `tinyint` | int8 (unsigned: int16) |
//! | `smallint` | int16 (unsigned: int32) |
//! | `integer`, `int`, `mediumint`, `serial`, `year` | int32 (unsigned int: int64) |
//! | `bigint`, `bigserial` | int64 (unsigned: Decimal with scale 0) |
//! | `real`, `float` | float32 (MariaDB `float`: float32) |
//! | `double precision`, `double` | float64 |
//! | `numeric(p,s)`, `decimal(p,s)` | Decimal with scale `s` |
//! | `numeric` without scale (PostgreSQL) | string (Confluent would guess a scale) |
//! | `date` | Date (days) |
//! | `time` | Time (millis of day) |
//! | `timestamp`, `timestamptz`, `datetime` | Timestamp (millis; offsets keep micros) |
//! | `bytea`, `blob`, `binary`, `varbinary`, MariaDB `bit(n>1)` | bytes |
//! | everything else (text, varchar, uuid, json, enum, arrays…) | string (its text form) |
//!
//! Timestamps without zone are read as UTC (`db.timezone=UTC`).

use velocity_api::schema::logical;
use velocity_api::{Schema, Value};

/// The Kafka Connect type a column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// boolean.
    Boolean,
    /// int8.
    Int8,
    /// int16.
    Int16,
    /// int32.
    Int32,
    /// int64.
    Int64,
    /// float32.
    Float32,
    /// float64.
    Float64,
    /// Decimal with this scale.
    Decimal(i32),
    /// string (the column's text form).
    Text,
    /// bytes (read as hex).
    Bytes,
    /// Date: days since the epoch.
    Date,
    /// Time: milliseconds since midnight.
    Time,
    /// Timestamp: read as microseconds since the epoch (UTC).
    Timestamp,
}

impl Kind {
    /// The kind of a database column type. `data_type` is the type name
    /// (information_schema `data_type`, or the driver's name in query mode,
    /// lower case), `column_type` MariaDB's full `column_type`
    /// (`tinyint(1)`, `int(10) unsigned`; empty elsewhere) and `scale` the
    /// numeric scale when the type declares one.
    pub fn of(data_type: &str, column_type: &str, scale: Option<i32>) -> Kind {
        let t = data_type.to_ascii_lowercase();
        let ct = column_type.to_ascii_lowercase();
        let unsigned = ct.contains("unsigned");
        match t.as_str() {
            "boolean" | "bool" => Kind::Boolean,
            "tinyint" if ct.starts_with("tinyint(1)") && !unsigned => Kind::Boolean,
            "bit" if ct == "bit(1)" => Kind::Boolean,
            "bit" if !ct.is_empty() => Kind::Bytes,
            "tinyint" if unsigned => Kind::Int16,
            "tinyint" => Kind::Int8,
            "smallint" | "int2" | "smallserial" if unsigned => Kind::Int32,
            "smallint" | "int2" | "smallserial" => Kind::Int16,
            "int" | "integer" | "int4" | "serial" if unsigned => Kind::Int64,
            "mediumint" | "int" | "integer" | "int4" | "serial" | "year" => Kind::Int32,
            "bigint" | "int8" | "bigserial" if unsigned => Kind::Decimal(0),
            "bigint" | "int8" | "bigserial" => Kind::Int64,
            "real" | "float4" | "float" => Kind::Float32,
            "double precision" | "double" | "float8" => Kind::Float64,
            "numeric" | "decimal" => match scale {
                Some(s) => Kind::Decimal(s),
                None => Kind::Text,
            },
            "date" => Kind::Date,
            "time" | "time without time zone" => Kind::Time,
            "timestamp"
            | "timestamptz"
            | "datetime"
            | "timestamp without time zone"
            | "timestamp with time zone" => Kind::Timestamp,
            "bytea" | "blob" | "tinyblob" | "mediumblob" | "longblob" | "binary" | "varbinary" => {
                Kind::Bytes
            }
            _ => Kind::Text,
        }
    }

    /// The Connect schema of a column of this kind.
    pub fn schema(self, optional: bool) -> Schema {
        let s = match self {
            Kind::Boolean => Schema::boolean(),
            Kind::Int8 => Schema::int8(),
            Kind::Int16 => Schema::int16(),
            Kind::Int32 => Schema::int32(),
            Kind::Int64 => Schema::int64(),
            Kind::Float32 => Schema::float32(),
            Kind::Float64 => Schema::float64(),
            Kind::Decimal(scale) => logical::decimal(scale, None),
            Kind::Text => Schema::string(),
            Kind::Bytes => Schema::bytes(),
            Kind::Date => Schema::int32().named(logical::DATE).version(1),
            Kind::Time => Schema::int32().named(logical::TIME).version(1),
            Kind::Timestamp => Schema::int64().named(logical::TIMESTAMP).version(1),
        };
        s.with_optional(optional)
    }

    /// Converts the text form of a value (see [`crate::query::select_expr`])
    /// into its Connect value; the error says what was expected.
    pub fn decode(self, text: &str) -> Result<Value, String> {
        let bad = |what: &str| format!("cannot read '{text}' as {what}");
        Ok(match self {
            Kind::Boolean => match text {
                "t" | "true" => Value::Boolean(true),
                "f" | "false" => Value::Boolean(false),
                n => Value::Boolean(n.parse::<i64>().map_err(|_| bad("a boolean"))? != 0),
            },
            Kind::Int8 => Value::Int8(text.parse().map_err(|_| bad("int8"))?),
            Kind::Int16 => Value::Int16(text.parse().map_err(|_| bad("int16"))?),
            Kind::Int32 => Value::Int32(text.parse().map_err(|_| bad("int32"))?),
            Kind::Int64 => Value::Int64(text.parse().map_err(|_| bad("int64"))?),
            Kind::Float32 => Value::Float32(text.parse().map_err(|_| bad("a float"))?),
            Kind::Float64 => Value::Float64(text.parse().map_err(|_| bad("a double"))?),
            Kind::Decimal(scale) => Value::Bytes(
                decimal_bytes(text, scale)
                    .ok_or_else(|| bad(&format!("a decimal of scale {scale}")))?,
            ),
            Kind::Text => Value::String(text.to_owned()),
            Kind::Bytes => Value::Bytes(hex(text).ok_or_else(|| bad("hex bytes"))?),
            Kind::Date | Kind::Time => Value::Int32(text.parse().map_err(|_| bad("an integer"))?),
            Kind::Timestamp => {
                let micros: i64 = text.parse().map_err(|_| bad("epoch microseconds"))?;
                Value::Int64(micros.div_euclid(1000))
            }
        })
    }
}

/// One column of a polled table or query.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name as the database spells it.
    pub name: String,
    /// How it is read.
    pub kind: Kind,
    /// Whether it may be null.
    pub optional: bool,
}

/// A table: database, schema (PostgreSQL) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableRef {
    /// Database (PostgreSQL catalog, MariaDB schema).
    pub db: String,
    /// PostgreSQL schema; None for MariaDB.
    pub schema: Option<String>,
    /// Table name.
    pub name: String,
}

impl TableRef {
    /// Confluent's fully qualified name, unquoted: `db.schema.table`
    /// (PostgreSQL) or `db.table` (MariaDB); the `table` of the source partition.
    pub fn fqn(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{s}.{}", self.db, self.name),
            None => format!("{}.{}", self.db, self.name),
        }
    }

    /// Parses [`TableRef::fqn`] back (`postgres`: three parts expected).
    pub fn parse(fqn: &str, postgres: bool) -> Option<TableRef> {
        let parts: Vec<&str> = fqn.splitn(if postgres { 3 } else { 2 }, '.').collect();
        match (postgres, parts.as_slice()) {
            (true, [db, schema, name]) => Some(TableRef {
                db: (*db).into(),
                schema: Some((*schema).into()),
                name: (*name).into(),
            }),
            (false, [db, name]) => Some(TableRef {
                db: (*db).into(),
                schema: None,
                name: (*name).into(),
            }),
            _ => None,
        }
    }

    /// The names an include/exclude list entry may use for this table:
    /// fully qualified, `schema.table` (PostgreSQL) and `table`.
    pub fn match_names(&self) -> Vec<String> {
        let mut v = vec![self.fqn()];
        if let Some(s) = &self.schema {
            v.push(format!("{s}.{}", self.name));
        }
        v.push(self.name.clone());
        v
    }
}

/// What a poll reads: a table or the custom query.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// A table.
    Table(TableRef),
    /// `query`.
    Query(String),
}

impl Target {
    /// `table` for tables, `query` for the query (log and error context).
    pub fn label(&self) -> String {
        match self {
            Target::Table(t) => t.fqn(),
            Target::Query(_) => "query".into(),
        }
    }
}

/// The columns and key of a polled target.
#[derive(Debug, Clone)]
pub struct Shape {
    /// What is read.
    pub target: Target,
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// Positions of the primary key columns in `columns`, in key order.
    pub pk: Vec<usize>,
}

impl Shape {
    /// Position of the column called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Column names in order.
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}

/// Big-endian two's-complement bytes of the decimal `text` at `scale`
/// (Kafka Connect's Decimal); None when `text` is not a decimal or has
/// more fraction digits than `scale`.
pub fn decimal_bytes(text: &str, scale: i32) -> Option<Vec<u8>> {
    velocity_api::text::numbers::decimal_text_to_unscaled(text, scale)
}

/// Bytes of a hex string (either case); None when it is not hex.
pub fn hex(text: &str) -> Option<Vec<u8>> {
    let t = text.strip_prefix("\\x").unwrap_or(text);
    if t.len() % 2 != 0 {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_mapping() {
        assert_eq!(Kind::of("integer", "", None), Kind::Int32);
        assert_eq!(Kind::of("int", "int(10) unsigned", None), Kind::Int64);
        assert_eq!(
            Kind::of("bigint", "bigint(20) unsigned", None),
            Kind::Decimal(0)
        );
        assert_eq!(Kind::of("tinyint", "tinyint(1)", None), Kind::Boolean);
        assert_eq!(Kind::of("tinyint", "tinyint(4)", None), Kind::Int8);
        assert_eq!(Kind::of("numeric", "", Some(2)), Kind::Decimal(2));
        assert_eq!(Kind::of("numeric", "", None), Kind::Text);
        assert_eq!(
            Kind::of("timestamp with time zone", "", None),
            Kind::Timestamp
        );
        assert_eq!(Kind::of("datetime", "datetime(6)", None), Kind::Timestamp);
        assert_eq!(Kind::of("uuid", "", None), Kind::Text);
        assert_eq!(Kind::of("bytea", "", None), Kind::Bytes);
        assert!(Kind::Timestamp.schema(true).is_named(logical::TIMESTAMP));
    }

    #[test]
    fn decoding() {
        assert_eq!(Kind::Boolean.decode("t"), Ok(Value::Boolean(true)));
        assert_eq!(Kind::Boolean.decode("0"), Ok(Value::Boolean(false)));
        assert_eq!(Kind::Int64.decode("-7"), Ok(Value::Int64(-7)));
        assert_eq!(
            Kind::Timestamp.decode("1700000000123456"),
            Ok(Value::Int64(1_700_000_000_123))
        );
        assert_eq!(Kind::Timestamp.decode("-1"), Ok(Value::Int64(-1)));
        assert_eq!(Kind::Bytes.decode("00ff"), Ok(Value::Bytes(vec![0, 255])));
        assert!(Kind::Int32.decode("x").unwrap_err().contains("'x'"));
    }

    #[test]
    fn decimals_are_twos_complement() {
        assert_eq!(decimal_bytes("0", 2), Some(vec![0]));
        assert_eq!(decimal_bytes("1.00", 2), Some(vec![0x64]));
        assert_eq!(decimal_bytes("1.28", 2), Some(vec![0x00, 0x80]));
        assert_eq!(decimal_bytes("-1.28", 2), Some(vec![0x80]));
        assert_eq!(decimal_bytes("-1", 0), Some(vec![0xff]));
        assert_eq!(decimal_bytes("-0.01", 2), Some(vec![0xff]));
        assert_eq!(decimal_bytes("255", 0), Some(vec![0x00, 0xff]));
        assert_eq!(decimal_bytes("-129", 0), Some(vec![0xff, 0x7f]));
        assert_eq!(decimal_bytes("1.234", 2), None);
        assert_eq!(decimal_bytes("abc", 0), None);
    }

    #[test]
    fn table_names() {
        let t = TableRef {
            db: "d".into(),
            schema: Some("s".into()),
            name: "t.x".into(),
        };
        assert_eq!(t.fqn(), "d.s.t.x");
        assert_eq!(TableRef::parse(&t.fqn(), true), Some(t.clone()));
        assert_eq!(t.match_names(), vec!["d.s.t.x", "s.t.x", "t.x"]);
        let m = TableRef::parse("d.t", false).unwrap();
        assert_eq!((m.schema, m.name.as_str()), (None, "t"));
    }
}

//! The `source` block of Debezium events: the fields every connector
//! writes first, and a builder to which a connector appends its own.
//!
//! Contract: a source schema is [`source_schema_base`] followed by the
//! connector's fields; a source value is built with [`SourceBlock::new`]
//! (the common values, in the base's order) and one [`SourceBlock::field`]
//! per connector field, in schema order. Debug builds check every name and
//! the field count, so a value never drifts from its schema.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::schema::{logical, Schema, SchemaRef};
use crate::value::{Struct, Value};

/// The version string written to `source.version` by Velocity's connectors.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), ".Velocity");

/// The `allowed` values of Debezium's `source.snapshot` enum.
pub const SNAPSHOT_MARKERS: &str =
    "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental";

/// Debezium's `source.snapshot` marker of one snapshot row, from where it
/// stands: `last` for the last row of the last table, `first` for the first
/// row overall, `last_in_data_collection` / `first_in_data_collection` for
/// the last / first row of any other table, `true` otherwise.
pub fn snapshot_marker(
    first_overall: bool,
    last_overall: bool,
    first_in_table: bool,
    last_in_table: bool,
) -> &'static str {
    if last_in_table && last_overall {
        "last"
    } else if first_overall {
        "first"
    } else if last_in_table {
        "last_in_data_collection"
    } else if first_in_table {
        "first_in_data_collection"
    } else {
        "true"
    }
}

/// The fields every Debezium `source` block starts with, in a struct named
/// `name` (version 1): `version`, `connector`, `name`, `ts_ms`, `snapshot`
/// (an `io.debezium.data.Enum` of `snapshot_allowed`, default `false`),
/// `db`, `sequence`, `ts_us`, `ts_ns`. Connectors append their own fields
/// and build it.
pub fn source_schema_base(name: &str, snapshot_allowed: &str) -> Schema {
    let snapshot = Schema::string()
        .optional()
        .named(logical::DBZ_ENUM)
        .version(1)
        .param("allowed", snapshot_allowed)
        .default_value(Value::String("false".into()));
    Schema::struct_()
        .named(name)
        .version(1)
        .field("version", Schema::string())
        .field("connector", Schema::string())
        .field("name", Schema::string())
        .field("ts_ms", Schema::int64())
        .field("snapshot", snapshot)
        .field("db", Schema::string())
        .field("sequence", Schema::string().optional())
        .field("ts_us", Schema::int64().optional())
        .field("ts_ns", Schema::int64().optional())
}

/// The three timestamps of a `source` block (`ts_ms`, `ts_us`, `ts_ns`),
/// all derived from one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceTime {
    /// Milliseconds since the epoch.
    pub ms: i64,
    /// Microseconds since the epoch.
    pub us: i64,
    /// Nanoseconds since the epoch.
    pub ns: i64,
}

impl SourceTime {
    /// From microseconds: ms rounded towards negative infinity, ns
    /// saturating (PostgreSQL's commit times).
    pub fn from_micros(us: i64) -> SourceTime {
        SourceTime {
            ms: us.div_euclid(1000),
            us,
            ns: us.saturating_mul(1000),
        }
    }

    /// From milliseconds: µs and ns saturating (binlog event times).
    pub fn from_millis(ms: i64) -> SourceTime {
        SourceTime {
            ms,
            us: ms.saturating_mul(1000),
            ns: ms.saturating_mul(1_000_000),
        }
    }

    /// The current time.
    pub fn now() -> SourceTime {
        let d = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let ns = d.as_nanos() as i64;
        SourceTime {
            ms: ns / 1_000_000,
            us: ns / 1_000,
            ns,
        }
    }
}

/// The values of the common fields of a `source` block ([`VERSION`] is
/// written as `version`).
#[derive(Debug, Clone)]
pub struct SourceCommon<'a> {
    /// `connector`: the connector type (`postgresql`, `mysql`, …).
    pub connector: &'a str,
    /// `name`: the logical name (`topic.prefix`).
    pub name: &'a str,
    /// `ts_ms`, `ts_us`, `ts_ns`: when the change happened in the database.
    pub time: SourceTime,
    /// `snapshot`: `false` while streaming, a [`SNAPSHOT_MARKERS`] value
    /// (or the connector's own `allowed` values) otherwise.
    pub snapshot: &'a str,
    /// `db`: the database.
    pub db: &'a str,
    /// `sequence`: the connector's ordering hint, null when it has none.
    pub sequence: Option<String>,
}

/// A `source` value under construction: the common values first, then the
/// connector's fields in schema order.
#[derive(Debug, Clone)]
pub struct SourceBlock {
    block: Struct,
}

impl SourceBlock {
    /// Starts a block of `schema` (a [`source_schema_base`] with the
    /// connector's fields appended) with the common values.
    pub fn new(schema: &SchemaRef, common: SourceCommon<'_>) -> SourceBlock {
        let mut values = Vec::with_capacity(schema.fields.len());
        values.extend([
            Value::String(VERSION.into()),
            Value::String(common.connector.into()),
            Value::String(common.name.into()),
            Value::Int64(common.time.ms),
            Value::String(common.snapshot.into()),
            Value::String(common.db.into()),
            common.sequence.map_or(Value::Null, Value::String),
            Value::Int64(common.time.us),
            Value::Int64(common.time.ns),
        ]);
        SourceBlock {
            block: Struct {
                schema: schema.clone(),
                values,
            },
        }
    }

    /// Sets the next connector field, which must be named `name` (checked
    /// in debug builds); `None` / [`Value::Null`] writes null.
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> SourceBlock {
        let next = self.block.values.len();
        debug_assert_eq!(
            self.block.schema.fields.get(next).map(|f| f.name.as_str()),
            Some(name),
            "source field {next} of {:?}",
            self.block.schema.name
        );
        self.block.values.push(value.into());
        self
    }

    /// The finished `source` struct; every field must have been set
    /// (checked in debug builds).
    pub fn build(self) -> Struct {
        debug_assert_eq!(
            self.block.values.len(),
            self.block.schema.fields.len(),
            "source block of {:?} is missing fields",
            self.block.schema.name
        );
        self.block
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_fields_then_connector_fields() {
        let schema = source_schema_base("src", SNAPSHOT_MARKERS)
            .field("table", Schema::string().optional())
            .field("row", Schema::int32())
            .build();
        assert_eq!(schema.fields.len(), 11);
        assert_eq!(
            schema.fields[4].schema.parameter("allowed"),
            Some(SNAPSHOT_MARKERS)
        );
        let s = SourceBlock::new(
            &schema,
            SourceCommon {
                connector: "x",
                name: "p",
                time: SourceTime::from_micros(-1),
                snapshot: "false",
                db: "d",
                sequence: None,
            },
        )
        .field("table", None::<String>)
        .field("row", 3)
        .build();
        assert_eq!(s.get("version"), Some(&Value::String(VERSION.into())));
        assert_eq!(s.get("ts_ms"), Some(&Value::Int64(-1)));
        assert_eq!(s.get("ts_ns"), Some(&Value::Int64(-1000)));
        assert_eq!(s.get("sequence"), Some(&Value::Null));
        assert_eq!(s.get("table"), Some(&Value::Null));
        assert_eq!(s.get("row"), Some(&Value::Int32(3)));
        assert_eq!(SourceTime::from_millis(2).ns, 2_000_000);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "source field")]
    fn a_field_out_of_order_is_caught() {
        let schema = source_schema_base("src", SNAPSHOT_MARKERS)
            .field("table", Schema::string())
            .build();
        let common = SourceCommon {
            connector: "x",
            name: "p",
            time: SourceTime::from_millis(0),
            snapshot: "false",
            db: "d",
            sequence: None,
        };
        let _ = SourceBlock::new(&schema, common).field("schema", "s");
    }
}

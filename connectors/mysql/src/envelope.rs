//! Debezium's change-event shape for MySQL / MariaDB: the `source` block,
//! per-table key/value/envelope schemas, `r`/`c`/`u`/`d` records,
//! tombstones and schema-change records.
//!
//! Schemas are built once per table definition and shared by every record
//! of that table (`Arc`).

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use velocity_api::schema::logical;
use velocity_api::{
    ConnectRecord, Offset, Partition, Schema, SchemaRef, SourceRecord, Struct, Value,
};

use crate::catalog::{Column, Table};
use crate::config::{Flavor, MySqlConfig};
use crate::ddl::TableChange;
use crate::types::{map_column, ColumnMapping};

/// The version string written to `source.version`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), ".Velocity");

fn build_source_schema(flavor: Flavor) -> SchemaRef {
    let snapshot = Schema::string()
        .optional()
        .named(logical::DBZ_ENUM)
        .version(1)
        .param(
            "allowed",
            "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental",
        )
        .default_value(Value::String("false".into()));
    Schema::struct_()
        .named(flavor.source_schema_name())
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
        .field("table", Schema::string().optional())
        .field("server_id", Schema::int64())
        .field("gtid", Schema::string().optional())
        .field("file", Schema::string())
        .field("pos", Schema::int64())
        .field("row", Schema::int32())
        .field("thread", Schema::int64().optional())
        .field("query", Schema::string().optional())
        .build()
}

/// `io.debezium.connector.mysql.Source` / `io.debezium.connector.mariadb.Source`.
pub fn source_schema(flavor: Flavor) -> SchemaRef {
    static MYSQL: OnceLock<SchemaRef> = OnceLock::new();
    static MARIADB: OnceLock<SchemaRef> = OnceLock::new();
    match flavor {
        Flavor::MySql => MYSQL.get_or_init(|| build_source_schema(flavor)).clone(),
        Flavor::MariaDb => MARIADB.get_or_init(|| build_source_schema(flavor)).clone(),
    }
}

/// The `transaction` block schema (`event.block`), shared with the other
/// CDC connectors ([`velocity_api::transaction::block_schema`]).
pub fn transaction_block_schema() -> SchemaRef {
    velocity_api::transaction::block_schema()
}

/// Where an event comes from, for the `source` block.
#[derive(Debug, Clone, Default)]
pub struct SourceInfo {
    /// `source.snapshot`: `false` while streaming, the snapshot marker otherwise.
    pub snapshot: &'static str,
    /// Event (commit) time in milliseconds since the epoch.
    pub ts_ms: i64,
    /// Originating server id.
    pub server_id: i64,
    /// GTID of the transaction (`uuid:n` or MariaDB `domain-server-seq`).
    pub gtid: Option<String>,
    /// Binlog file.
    pub file: String,
    /// Binlog position of the event.
    pub pos: i64,
    /// Row number within the event.
    pub row: i32,
    /// Thread id of the session that made the change.
    pub thread: Option<i64>,
    /// Original SQL (with `include.query`).
    pub query: Option<String>,
}

/// Builds the `source` struct of `flavor` for `db`.`table`.
pub fn source_struct(
    cfg: &MySqlConfig,
    db: &str,
    table: Option<&str>,
    info: &SourceInfo,
) -> Struct {
    Struct {
        schema: source_schema(cfg.flavor),
        values: vec![
            Value::String(VERSION.into()),
            Value::String(cfg.flavor.connector_name().into()),
            Value::String(cfg.topic_prefix.clone()),
            Value::Int64(info.ts_ms),
            Value::String(info.snapshot.into()),
            Value::String(db.to_owned()),
            Value::Null,
            Value::Int64(info.ts_ms.saturating_mul(1000)),
            Value::Int64(info.ts_ms.saturating_mul(1_000_000)),
            table.map_or(Value::Null, |t| Value::String(t.to_owned())),
            Value::Int64(info.server_id),
            info.gtid.clone().map_or(Value::Null, Value::String),
            Value::String(info.file.clone()),
            Value::Int64(info.pos),
            Value::Int32(info.row),
            info.thread.map_or(Value::Null, Value::Int64),
            info.query.clone().map_or(Value::Null, Value::String),
        ],
    }
}

/// One captured column: its position in the row image and its mapping.
#[derive(Debug)]
pub struct Slot {
    /// Index in the row (ordinal position − 1).
    pub row_index: usize,
    /// The column's catalog definition.
    pub column: Column,
    /// Schema and conversion.
    pub mapping: ColumnMapping,
}

/// Schemas and column mappings of one table.
#[derive(Debug)]
pub struct TableSchema {
    /// Database.
    pub db: String,
    /// Table.
    pub table: String,
    /// Topic `<prefix>.<db>.<table>`.
    pub topic: String,
    /// Captured columns in column order.
    pub slots: Vec<Slot>,
    /// Positions in `slots` of the primary key columns, in key order.
    pub key_slots: Vec<usize>,
    /// `<prefix>.<db>.<table>.Key`, None without a primary key.
    pub key_schema: Option<SchemaRef>,
    /// `<prefix>.<db>.<table>.Value`.
    pub value_schema: SchemaRef,
    /// `<prefix>.<db>.<table>.Envelope` (version 2).
    pub envelope_schema: SchemaRef,
    /// Number of columns of the table.
    pub width: usize,
}

impl TableSchema {
    /// Builds the schemas of `table`; unknown types and filtered columns are skipped.
    pub fn build(cfg: &MySqlConfig, table: &Table) -> TableSchema {
        let base = format!("{}.{}.{}", cfg.topic_prefix, table.db, table.name);
        let mut slots = Vec::new();
        for (i, col) in table.columns.iter().enumerate() {
            if !cfg.filters.column(&table.db, &table.name, &col.name) {
                continue;
            }
            match map_column(col, cfg) {
                Some(mapping) => slots.push(Slot {
                    row_index: i,
                    column: col.clone(),
                    mapping,
                }),
                None => tracing::warn!(
                    table = %format!("{}.{}", table.db, table.name),
                    column = %col.name,
                    column_type = %col.column_type,
                    "column type is not supported; the column is skipped"
                ),
            }
        }
        let key_slots: Vec<usize> = table
            .primary_key
            .iter()
            .filter_map(|k| slots.iter().position(|s| &s.mapping.name == k))
            .collect();
        let mut value = Schema::struct_().optional().named(format!("{base}.Value"));
        for s in &slots {
            value = value.field(s.mapping.name.clone(), s.mapping.schema.clone());
        }
        let value_schema = value.build();
        let key_schema = (!key_slots.is_empty()).then(|| {
            let mut k = Schema::struct_().named(format!("{base}.Key"));
            for &i in &key_slots {
                k = k.field(
                    slots[i].mapping.name.clone(),
                    slots[i].mapping.schema.clone(),
                );
            }
            k.build()
        });
        let envelope_schema = Schema::struct_()
            .named(format!("{base}.Envelope"))
            .version(2)
            .field("before", value_schema.clone())
            .field("after", value_schema.clone())
            .field("source", source_schema(cfg.flavor))
            .field("transaction", transaction_block_schema())
            .field("op", Schema::string())
            .field("ts_ms", Schema::int64().optional())
            .field("ts_us", Schema::int64().optional())
            .field("ts_ns", Schema::int64().optional())
            .build();
        TableSchema {
            db: table.db.clone(),
            table: table.name.clone(),
            topic: base,
            slots,
            key_slots,
            key_schema,
            value_schema,
            envelope_schema,
            width: table.columns.len(),
        }
    }

    /// Converts a row (driver values by column position) into a value
    /// struct; `binlog` is true for binlog row images (see [`crate::types::convert`]).
    pub fn row(
        &self,
        values: &[mysql_common::value::Value],
        binlog: bool,
    ) -> Result<Struct, String> {
        let mut out = Vec::with_capacity(self.slots.len());
        for s in &self.slots {
            let v = values
                .get(s.row_index)
                .unwrap_or(&mysql_common::value::Value::NULL);
            out.push(
                crate::types::convert(&s.mapping, &s.column, v, binlog)
                    .map_err(|e| format!("{}.{}.{}: {e}", self.db, self.table, s.column.name))?,
            );
        }
        Ok(Struct {
            schema: self.value_schema.clone(),
            values: out,
        })
    }

    /// The key struct of a row, or Null when the table has no primary key.
    pub fn key_of(&self, row: &Struct) -> Value {
        match &self.key_schema {
            None => Value::Null,
            Some(ks) => Value::Struct(Struct {
                schema: ks.clone(),
                values: self
                    .key_slots
                    .iter()
                    .map(|&i| row.values[i].clone())
                    .collect(),
            }),
        }
    }

    /// Builds a change record. `op` is `r`, `c`, `u` or `d`.
    #[allow(clippy::too_many_arguments)]
    pub fn change(
        &self,
        cfg: &MySqlConfig,
        op: &'static str,
        key_row: &Struct,
        before: Option<Struct>,
        after: Option<Struct>,
        info: &SourceInfo,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        let (now_ms, now_us, now_ns) = now();
        let source = source_struct(cfg, &self.db, Some(&self.table), info);
        let envelope = Struct {
            schema: self.envelope_schema.clone(),
            values: vec![
                before.map_or(Value::Null, Value::Struct),
                after.map_or(Value::Null, Value::Struct),
                Value::Struct(source),
                Value::Null,
                Value::String(op.into()),
                Value::Int64(now_ms),
                Value::Int64(now_us),
                Value::Int64(now_ns),
            ],
        };
        let mut record = ConnectRecord::new(
            self.topic.clone(),
            self.key_schema.clone(),
            self.key_of(key_row),
            Some(self.envelope_schema.clone()),
            Value::Struct(envelope),
        );
        record.timestamp = Some(now_ms);
        SourceRecord {
            source_partition: partition.clone(),
            source_offset: offset,
            record,
        }
    }

    /// The tombstone that follows a delete (same key, null value).
    pub fn tombstone(
        &self,
        key_row: &Struct,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        SourceRecord {
            source_partition: partition.clone(),
            source_offset: offset,
            record: ConnectRecord::new(
                self.topic.clone(),
                self.key_schema.clone(),
                self.key_of(key_row),
                None,
                Value::Null,
            ),
        }
    }
}

/// `<namespace>.SchemaChangeKey`.
pub fn schema_change_key_schema(flavor: Flavor) -> SchemaRef {
    Schema::struct_()
        .named(format!("{}.SchemaChangeKey", flavor.namespace()))
        .version(1)
        .field("databaseName", Schema::string())
        .build()
}

/// `io.debezium.connector.schema.Change` (the element of `tableChanges`).
pub fn table_change_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let column = Schema::struct_()
            .named("io.debezium.connector.schema.Column")
            .version(1)
            .field("name", Schema::string())
            .field("jdbcType", Schema::int32())
            .field("nativeType", Schema::int32().optional())
            .field("typeName", Schema::string())
            .field("typeExpression", Schema::string().optional())
            .field("charsetName", Schema::string().optional())
            .field("length", Schema::int32().optional())
            .field("scale", Schema::int32().optional())
            .field("position", Schema::int32())
            .field("optional", Schema::boolean().optional())
            .field("autoIncremented", Schema::boolean().optional())
            .field("generated", Schema::boolean().optional())
            .field("comment", Schema::string().optional())
            .field("defaultValueExpression", Schema::string().optional())
            .field(
                "enumValues",
                Schema::array(Schema::string().build()).optional(),
            )
            .build();
        let table = Schema::struct_()
            .optional()
            .named("io.debezium.connector.schema.Table")
            .version(1)
            .field("defaultCharsetName", Schema::string().optional())
            .field(
                "primaryKeyColumnNames",
                Schema::array(Schema::string().build()).optional(),
            )
            .field("columns", Schema::array(column))
            .field("comment", Schema::string().optional())
            .build();
        Schema::struct_()
            .named("io.debezium.connector.schema.Change")
            .version(1)
            .field("type", Schema::string())
            .field("id", Schema::string())
            .field("table", table)
            .build()
    })
    .clone()
}

/// `<namespace>.SchemaChangeValue`.
pub fn schema_change_value_schema(flavor: Flavor) -> SchemaRef {
    Schema::struct_()
        .named(format!("{}.SchemaChangeValue", flavor.namespace()))
        .version(1)
        .field("source", source_schema(flavor))
        .field("ts_ms", Schema::int64())
        .field("databaseName", Schema::string().optional())
        .field("schemaName", Schema::string().optional())
        .field("ddl", Schema::string().optional())
        .field("tableChanges", Schema::array(table_change_schema()))
        .build()
}

/// Converts Debezium's JSON form of a structure into a value of `schema`
/// (fields matched by name; absent fields are null).
fn json_to_value(schema: &SchemaRef, j: &serde_json::Value) -> Value {
    use velocity_api::Type;
    if j.is_null() {
        return Value::Null;
    }
    match schema.type_ {
        Type::Struct => Value::Struct(Struct {
            schema: schema.clone(),
            values: schema
                .fields
                .iter()
                .map(|f| json_to_value(&f.schema, &j[f.name.as_str()]))
                .collect(),
        }),
        Type::Array => match (&schema.value_schema, j.as_array()) {
            (Some(elem), Some(items)) => {
                Value::Array(items.iter().map(|x| json_to_value(elem, x)).collect())
            }
            _ => Value::Null,
        },
        Type::String => j
            .as_str()
            .map_or(Value::Null, |s| Value::String(s.to_owned())),
        Type::Int32 => j.as_i64().map_or(Value::Null, |n| Value::Int32(n as i32)),
        Type::Int64 => j.as_i64().map_or(Value::Null, Value::Int64),
        Type::Boolean => j.as_bool().map_or(Value::Null, Value::Boolean),
        _ => Value::Null,
    }
}

/// The `tableChanges` element (`io.debezium.connector.schema.Change`) of a change.
pub fn table_change_value(ch: &TableChange) -> Value {
    json_to_value(
        &table_change_schema(),
        &crate::history::table_change_json(ch),
    )
}

/// A schema-change record on the topic named `topic.prefix`, with
/// `tableChanges` from the parsed DDL.
#[allow(clippy::too_many_arguments)]
pub fn schema_change(
    cfg: &MySqlConfig,
    db: &str,
    ddl: &str,
    changes: &[TableChange],
    info: &SourceInfo,
    partition: &Partition,
    offset: Offset,
) -> SourceRecord {
    let key_schema = schema_change_key_schema(cfg.flavor);
    let value_schema = schema_change_value_schema(cfg.flavor);
    let (now_ms, _, _) = now();
    let key = Struct {
        schema: key_schema.clone(),
        values: vec![Value::String(db.to_owned())],
    };
    let value = Struct {
        schema: value_schema.clone(),
        values: vec![
            Value::Struct(source_struct(cfg, db, None, info)),
            Value::Int64(now_ms),
            Value::String(db.to_owned()),
            Value::Null,
            Value::String(ddl.to_owned()),
            Value::Array(changes.iter().map(table_change_value).collect()),
        ],
    };
    let mut record = ConnectRecord::new(
        cfg.topic_prefix.clone(),
        Some(key_schema),
        Value::Struct(key),
        Some(value_schema),
        Value::Struct(value),
    );
    record.timestamp = Some(now_ms);
    SourceRecord {
        source_partition: partition.clone(),
        source_offset: offset,
        record,
    }
}

/// Now as (ms, µs, ns) since the epoch.
pub fn now() -> (i64, i64, i64) {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ns = d.as_nanos() as i64;
    (ns / 1_000_000, ns / 1_000, ns)
}

/// Shared handle to a table's schemas.
pub type TableSchemaRef = Arc<TableSchema>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_fields_in_debezium_order() {
        let s = source_schema(Flavor::MariaDb);
        let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "version",
                "connector",
                "name",
                "ts_ms",
                "snapshot",
                "db",
                "sequence",
                "ts_us",
                "ts_ns",
                "table",
                "server_id",
                "gtid",
                "file",
                "pos",
                "row",
                "thread",
                "query"
            ]
        );
        assert!(s.is_named("io.debezium.connector.mariadb.Source"));
        assert!(source_schema(Flavor::MySql).is_named("io.debezium.connector.mysql.Source"));
    }
}

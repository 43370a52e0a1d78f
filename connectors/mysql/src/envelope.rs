//! MySQL / MariaDB's part of Debezium's change events: the `source` block
//! (`io.debezium.connector.mysql.Source` / `…mariadb.Source`), the
//! per-table schemas (column mapping, primary key) and the schema-change
//! records. The envelope, key, delete + tombstone and truncate records
//! themselves are built by the shared [`velocity_api::debezium`] layer.
//!
//! Schemas are built once per table definition and shared by every record
//! of that table (`Arc`).

use std::sync::{Arc, OnceLock};

use velocity_api::debezium::{self, SourceBlock, SourceCommon, SourceTime, TableEnvelope};
use velocity_api::{
    ConnectRecord, Offset, Partition, Schema, SchemaRef, SourceRecord, Struct, Value,
};

use crate::catalog::{Column, Table};
use crate::config::{Flavor, MySqlConfig};
use crate::ddl::TableChange;
use crate::types::{map_column, source_column, ColumnMapping};

fn build_source_schema(flavor: Flavor) -> SchemaRef {
    debezium::source_schema_base(flavor.source_schema_name(), debezium::SNAPSHOT_MARKERS)
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

/// `io.debezium.connector.mysql.Source` / `io.debezium.connector.mariadb.Source`:
/// the common fields, then `table`, `server_id`, `gtid`, `file`, `pos`,
/// `row`, `thread`, `query`.
pub fn source_schema(flavor: Flavor) -> SchemaRef {
    static MYSQL: OnceLock<SchemaRef> = OnceLock::new();
    static MARIADB: OnceLock<SchemaRef> = OnceLock::new();
    match flavor {
        Flavor::MySql => MYSQL.get_or_init(|| build_source_schema(flavor)).clone(),
        Flavor::MariaDb => MARIADB.get_or_init(|| build_source_schema(flavor)).clone(),
    }
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

/// Builds the `source` struct of `flavor` for `db`.`table` (`table` None:
/// a database-level event such as a schema change).
pub fn source_struct(
    cfg: &MySqlConfig,
    db: &str,
    table: Option<&str>,
    info: &SourceInfo,
) -> Struct {
    let common = SourceCommon {
        connector: cfg.flavor.connector_name(),
        name: &cfg.topic_prefix,
        time: SourceTime::from_millis(info.ts_ms),
        snapshot: info.snapshot,
        db,
        sequence: None,
    };
    SourceBlock::new(&source_schema(cfg.flavor), common)
        .field("table", table)
        .field("server_id", info.server_id)
        .field("gtid", info.gtid.clone())
        .field("file", info.file.as_str())
        .field("pos", info.pos)
        .field("row", info.row)
        .field("thread", info.thread)
        .field("query", info.query.clone())
        .build()
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
    /// Captured columns in column order.
    pub slots: Vec<Slot>,
    /// Topic `<prefix>.<db>.<table>` and its key / value / envelope
    /// schemas (no key schema without a primary key).
    pub events: TableEnvelope,
    /// Number of columns of the table.
    pub width: usize,
}

impl TableSchema {
    /// Builds the schemas of `table`; unknown types and filtered columns are skipped.
    pub fn build(cfg: &MySqlConfig, table: &Table) -> TableSchema {
        let base = format!("{}.{}.{}", cfg.topic_prefix, table.db, table.name);
        let mut slots = Vec::new();
        let mut options = Vec::new();
        for (i, col) in table.columns.iter().enumerate() {
            if !cfg.filters.column(&table.db, &table.name, &col.name) {
                continue;
            }
            match map_column(col, cfg) {
                Some(mapping) => {
                    if !cfg.column_options.is_empty() {
                        options.push(cfg.column_options.for_column(
                            &table.db,
                            &table.name,
                            &source_column(col),
                        ));
                    }
                    slots.push(Slot {
                        row_index: i,
                        column: col.clone(),
                        mapping,
                    })
                }
                None => tracing::warn!(
                    table = %format!("{}.{}", table.db, table.name),
                    column = %col.name,
                    column_type = %col.column_type,
                    "column type is not supported; the column is skipped"
                ),
            }
        }
        let fields = slots
            .iter()
            .map(|s| (s.mapping.name.clone(), s.mapping.schema.clone()))
            .collect();
        // `message.key.columns` replaces the primary key of the tables it names
        let key = cfg
            .message_key_columns
            .for_table(&table.db, &table.name)
            .unwrap_or(&table.primary_key);
        TableSchema {
            db: table.db.clone(),
            table: table.name.clone(),
            events: TableEnvelope::with_column_options(
                base,
                fields,
                key,
                source_schema(cfg.flavor),
                options,
            ),
            slots,
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
            schema: self.events.value_schema.clone(),
            values: out,
        })
    }

    /// The `source` block of a row event of this table.
    pub fn source(&self, cfg: &MySqlConfig, info: &SourceInfo) -> Struct {
        source_struct(cfg, &self.db, Some(&self.table), info)
    }

    /// The `t` (truncate) event of this table: null key, null `before` and
    /// `after`, the `source` block of `info`.
    pub fn truncate(
        &self,
        cfg: &MySqlConfig,
        info: &SourceInfo,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        self.events
            .truncate(self.source(cfg, info), None, partition, offset)
    }

    /// Builds a change record. `op` is `r`, `c` or `u` (deletes:
    /// [`TableEnvelope::delete`] with [`Self::source`]); `after` is keyed by
    /// [`TableEnvelope::key_of`]; `transaction` is the event's
    /// `transaction` block, if any.
    #[allow(clippy::too_many_arguments)]
    pub fn change(
        &self,
        cfg: &MySqlConfig,
        op: &'static str,
        before: Option<Struct>,
        after: Struct,
        info: &SourceInfo,
        transaction: Option<Struct>,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        let source = self.source(cfg, info);
        self.events
            .change(op, before, after, source, transaction, partition, offset)
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
pub use velocity_api::debezium::now;

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

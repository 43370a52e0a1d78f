//! Debezium's change-event shape: per-table key/value/envelope schemas and
//! the construction of `r`/`c`/`u`/`d` records and tombstones.
//!
//! Schemas are built once per table version and shared by every record of
//! that table (`Arc`), so building a record allocates only its values.

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use velocity_api::schema::logical;
use velocity_api::{
    ConnectRecord, Offset, Partition, Schema, SchemaRef, SourceRecord, Struct, Value,
};

use crate::catalog::Table;
use crate::config::PostgresConfig;
use crate::types::{map_column, ColumnMapping};

/// The version string written to `source.version`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), ".Velocity");

/// `io.debezium.connector.postgresql.Source`, shared by all tables.
pub fn source_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        let snapshot = Schema::string()
            .optional()
            .named(logical::DBZ_ENUM)
            .version(1)
            .param("allowed", "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental")
            .default_value(Value::String("false".into()));
        Schema::struct_()
            .named("io.debezium.connector.postgresql.Source")
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
            .field("schema", Schema::string())
            .field("table", Schema::string())
            .field("txId", Schema::int64().optional())
            .field("lsn", Schema::int64().optional())
            .field("xmin", Schema::int64().optional())
            .field("origin", Schema::string().optional())
            .field("origin_lsn", Schema::int64().optional())
            .build()
    })
    .clone()
}

/// Where in the event stream a record comes from, for the `source` block.
#[derive(Debug, Clone)]
pub struct SourcePosition {
    /// `source.snapshot`: `false` while streaming, the snapshot marker otherwise.
    pub snapshot: &'static str,
    /// Commit (or snapshot) time, microseconds since the epoch.
    pub ts_us: i64,
    /// Transaction id.
    pub tx_id: Option<i64>,
    /// WAL position of the event.
    pub lsn: Option<i64>,
    /// `source.sequence`: `["<last commit lsn>","<event lsn>"]`.
    pub sequence: Option<String>,
    /// The `transaction` block `(id, total_order, data_collection_order)`
    /// when `provide.transaction.metadata` is on.
    pub transaction: Option<(String, i64, i64)>,
}

/// One captured column: where its value comes from in a tuple and how it is mapped.
#[derive(Debug)]
pub struct Slot {
    /// Index in the tuple (relation / catalog column order).
    pub tuple_index: usize,
    /// The mapping (schema and decoder).
    pub mapping: ColumnMapping,
}

/// Schemas and column mappings of one table.
#[derive(Debug)]
pub struct TableSchema {
    /// PostgreSQL schema.
    pub schema: String,
    /// Table name.
    pub table: String,
    /// Kafka topic `<prefix>.<schema>.<table>`.
    pub topic: String,
    /// Captured columns in column order (skipped: filtered or unsupported).
    pub slots: Vec<Slot>,
    /// Positions in `slots` of the key columns, in key order.
    pub key_slots: Vec<usize>,
    /// `<prefix>.<schema>.<table>.Key`, None when the table has no key.
    pub key_schema: Option<SchemaRef>,
    /// `<prefix>.<schema>.<table>.Value` (optional struct).
    pub value_schema: SchemaRef,
    /// `<prefix>.<schema>.<table>.Envelope` (version 2).
    pub envelope_schema: SchemaRef,
    /// Number of columns in the tuple (including skipped ones).
    pub tuple_len: usize,
}

impl TableSchema {
    /// Builds the schemas of `table`; columns with unsupported types or
    /// excluded by the column filters are skipped (with a warning for the former).
    pub fn build(cfg: &PostgresConfig, table: &Table) -> TableSchema {
        let prefix = &cfg.topic_prefix;
        let base = format!("{prefix}.{}.{}", table.schema, table.name);
        let mut slots = Vec::new();
        for (i, col) in table.columns.iter().enumerate() {
            if !cfg.filters.column(&table.schema, &table.name, &col.name) {
                continue;
            }
            match map_column(col, &cfg.modes) {
                Some(mapping) => slots.push(Slot {
                    tuple_index: i,
                    mapping,
                }),
                None => tracing::warn!(
                    table = %format!("{}.{}", table.schema, table.name),
                    column = %col.name,
                    "column type is not supported; the column is skipped (Debezium's include.unknown.datatypes=false)"
                ),
            }
        }
        let key_names: Vec<String> = match cfg.key_columns_for(&table.schema, &table.name) {
            Some(cols) => cols.to_vec(),
            None => table.primary_key.clone(),
        };
        let key_slots: Vec<usize> = key_names
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
            .field("source", source_schema())
            .field("transaction", velocity_api::transaction::block_schema())
            .field("op", Schema::string())
            .field("ts_ms", Schema::int64().optional())
            .field("ts_us", Schema::int64().optional())
            .field("ts_ns", Schema::int64().optional())
            .build();
        TableSchema {
            schema: table.schema.clone(),
            table: table.name.clone(),
            topic: base,
            slots,
            key_slots,
            key_schema,
            value_schema,
            envelope_schema,
            tuple_len: table.columns.len(),
        }
    }

    /// The key struct of a row value, or Null when the table has no key.
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

    /// Builds a change record. `op` is `r`, `c`, `u` or `d`; `key` is
    /// [`Self::key_of`] the row that identifies it (the old row of a delete).
    #[allow(clippy::too_many_arguments)]
    pub fn change(
        &self,
        cfg: &PostgresConfig,
        db: &str,
        op: &'static str,
        key: Value,
        before: Option<Struct>,
        after: Option<Struct>,
        pos: &SourcePosition,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        let (now_ms, now_us, now_ns) = now();
        let ts_us = pos.ts_us;
        let source = Struct {
            schema: source_schema(),
            values: vec![
                Value::String(VERSION.into()),
                Value::String("postgresql".into()),
                Value::String(cfg.topic_prefix.clone()),
                Value::Int64(ts_us.div_euclid(1000)),
                Value::String(pos.snapshot.into()),
                Value::String(db.to_owned()),
                pos.sequence.clone().map_or(Value::Null, Value::String),
                Value::Int64(ts_us),
                Value::Int64(ts_us.saturating_mul(1000)),
                Value::String(self.schema.clone()),
                Value::String(self.table.clone()),
                pos.tx_id.map_or(Value::Null, Value::Int64),
                pos.lsn.map_or(Value::Null, Value::Int64),
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        };
        let envelope = Struct {
            schema: self.envelope_schema.clone(),
            values: vec![
                before.map_or(Value::Null, Value::Struct),
                after.map_or(Value::Null, Value::Struct),
                Value::Struct(source),
                pos.transaction
                    .as_ref()
                    .map_or(Value::Null, |(id, total, dc)| {
                        Value::Struct(Struct {
                            schema: velocity_api::transaction::block_schema(),
                            values: vec![
                                Value::String(id.clone()),
                                Value::Int64(*total),
                                Value::Int64(*dc),
                            ],
                        })
                    }),
                Value::String(op.into()),
                Value::Int64(now_ms),
                Value::Int64(now_us),
                Value::Int64(now_ns),
            ],
        };
        let mut record = ConnectRecord::new(
            self.topic.clone(),
            self.key_schema.clone(),
            key,
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

    /// The records of a streamed delete of `before`: the `d` event, then its
    /// tombstone when `tombstones.on.delete` is on; both without a position
    /// of their own (the reader attaches the event's position).
    pub fn delete_records(
        &self,
        cfg: &PostgresConfig,
        db: &str,
        before: Struct,
        pos: &SourcePosition,
        out: &mut Vec<SourceRecord>,
    ) {
        let key = self.key_of(&before);
        let tombstone = cfg.tombstones_on_delete.then(|| key.clone());
        out.push(self.change(
            cfg,
            db,
            "d",
            key,
            Some(before),
            None,
            pos,
            &Partition::new(),
            Offset::new(),
        ));
        if let Some(key) = tombstone {
            out.push(self.tombstone(key, &Partition::new(), Offset::new()));
        }
    }

    /// The tombstone that follows a delete (same key, null value).
    pub fn tombstone(&self, key: Value, partition: &Partition, offset: Offset) -> SourceRecord {
        let record = ConnectRecord::new(
            self.topic.clone(),
            self.key_schema.clone(),
            key,
            None,
            Value::Null,
        );
        SourceRecord {
            source_partition: partition.clone(),
            source_offset: offset,
            record,
        }
    }

    /// An empty row struct of this table's value schema.
    pub fn new_row(&self) -> Struct {
        Struct {
            schema: self.value_schema.clone(),
            values: Vec::with_capacity(self.slots.len()),
        }
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

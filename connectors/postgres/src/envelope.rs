//! PostgreSQL's part of Debezium's change events: the
//! `io.debezium.connector.postgresql.Source` block ([`source_block`]), the
//! per-table schemas (column mapping, key columns) and the logical decoding
//! message events ([`messages`]). The envelope, key, delete + tombstone,
//! truncate and message records themselves are built by the shared
//! [`velocity_api::debezium`] layer.
//!
//! Schemas are built once per table version and shared by every record of
//! that table (`Arc`), so building a record allocates only its values.

use std::sync::{Arc, OnceLock};

use velocity_api::debezium::{
    self, transaction, MessageEnvelope, SourceBlock, SourceCommon, SourceTime, TableEnvelope,
};
use velocity_api::{Offset, Partition, Schema, SchemaRef, SourceRecord, Struct, Value};

use crate::catalog::Table;
use crate::config::PostgresConfig;
use crate::types::{jdbc, map_column, ColumnMapping, Phase};

/// `io.debezium.connector.postgresql.Source`, shared by all tables: the
/// common fields, then `schema`, `table`, `txId`, `lsn`, `xmin`, `origin`,
/// `origin_lsn`.
pub fn source_schema() -> SchemaRef {
    static S: OnceLock<SchemaRef> = OnceLock::new();
    S.get_or_init(|| {
        debezium::source_schema_base(
            "io.debezium.connector.postgresql.Source",
            debezium::SNAPSHOT_MARKERS,
        )
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

/// The schema namespace of PostgreSQL's message events
/// (`io.debezium.connector.postgresql.MessageKey`, `.MessageValue`, `.Message`).
pub const MESSAGE_NAMESPACE: &str = "io.debezium.connector.postgresql";

/// The message events of a connector (topic `<topic.prefix>.message`,
/// content in the `binary.handling.mode` representation).
pub fn messages(cfg: &PostgresConfig) -> MessageEnvelope {
    MessageEnvelope::new(
        MESSAGE_NAMESPACE,
        &cfg.topic_prefix,
        source_schema(),
        cfg.modes.binary,
    )
}

/// The `source` block of an event at `pos` in database `db`, of table
/// `schema`.`table` (both empty for a logical decoding message, as in
/// Debezium); `xmin`, `origin` and `origin_lsn` are null.
pub fn source_block(
    cfg: &PostgresConfig,
    db: &str,
    schema: &str,
    table: &str,
    pos: &SourcePosition,
) -> Struct {
    let common = SourceCommon {
        connector: "postgresql",
        name: &cfg.topic_prefix,
        time: SourceTime::from_micros(pos.ts_us),
        snapshot: pos.snapshot,
        db,
        sequence: pos.sequence.clone(),
    };
    SourceBlock::new(&source_schema(), common)
        .field("schema", schema)
        .field("table", table)
        .field("txId", pos.tx_id)
        .field("lsn", pos.lsn)
        .field("xmin", Value::Null)
        .field("origin", Value::Null)
        .field("origin_lsn", Value::Null)
        .build()
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

impl SourcePosition {
    /// The `transaction` block of an event at this position, if any.
    pub fn transaction_block(&self) -> Option<Struct> {
        self.transaction
            .as_ref()
            .map(|(id, total, dc)| transaction::block(id.clone(), *total, *dc))
    }
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
    /// Captured columns in column order (skipped: filtered or unsupported).
    pub slots: Vec<Slot>,
    /// Topic `<prefix>.<schema>.<table>` and its key / value / envelope
    /// schemas (no key schema when the table has no key).
    pub events: TableEnvelope,
    /// Number of columns in the tuple (including skipped ones).
    pub tuple_len: usize,
}

impl TableSchema {
    /// Builds the schemas of `table`; columns with unsupported types or
    /// excluded by the column filters are skipped (with a warning for the
    /// former). `phase` says where the definition comes from, as Debezium's
    /// column options see it ([`jdbc`]): the catalog read for the snapshot
    /// ([`Phase::Snapshot`]) or a pgoutput Relation message
    /// ([`Phase::Stream`]).
    pub fn build(cfg: &PostgresConfig, table: &Table, phase: Phase) -> TableSchema {
        let prefix = &cfg.topic_prefix;
        let base = format!("{prefix}.{}.{}", table.schema, table.name);
        let mut slots = Vec::new();
        let mut options = Vec::new();
        for (i, col) in table.columns.iter().enumerate() {
            if !cfg.filters.column(&table.schema, &table.name, &col.name) {
                continue;
            }
            match map_column(col, &cfg.modes) {
                Some(mapping) => {
                    if !cfg.column_options.is_empty() {
                        options.push(cfg.column_options.for_column(
                            &table.schema,
                            &table.name,
                            &jdbc::source_column(col, phase),
                        ));
                    }
                    slots.push(Slot {
                        tuple_index: i,
                        mapping,
                    })
                }
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
        let fields = slots
            .iter()
            .map(|s| (s.mapping.name.clone(), s.mapping.schema.clone()))
            .collect();
        TableSchema {
            schema: table.schema.clone(),
            table: table.name.clone(),
            events: TableEnvelope::with_column_options(
                base,
                fields,
                &key_names,
                source_schema(),
                options,
            ),
            slots,
            tuple_len: table.columns.len(),
        }
    }

    /// The `source` block of an event of this table at `pos`, in database `db`.
    pub fn source(&self, cfg: &PostgresConfig, db: &str, pos: &SourcePosition) -> Struct {
        source_block(cfg, db, &self.schema, &self.table, pos)
    }

    /// Builds a change record. `op` is `r`, `c` or `u` (deletes:
    /// [`Self::delete_records`]); `after` is keyed by [`TableEnvelope::key_of`].
    #[allow(clippy::too_many_arguments)]
    pub fn change(
        &self,
        cfg: &PostgresConfig,
        db: &str,
        op: &'static str,
        before: Option<Struct>,
        after: Struct,
        pos: &SourcePosition,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        let source = self.source(cfg, db, pos);
        let transaction = pos.transaction_block();
        self.events
            .change(op, before, after, source, transaction, partition, offset)
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
        self.events.delete(
            before,
            self.source(cfg, db, pos),
            pos.transaction_block(),
            cfg.tombstones_on_delete,
            &Partition::new(),
            Offset::new(),
            Offset::new(),
            out,
        );
    }

    /// The `t` event of this table at `pos` (no position of its own).
    pub fn truncate(&self, cfg: &PostgresConfig, db: &str, pos: &SourcePosition) -> SourceRecord {
        self.events.truncate(
            self.source(cfg, db, pos),
            pos.transaction_block(),
            &Partition::new(),
            Offset::new(),
        )
    }
}

/// Now as (ms, µs, ns) since the epoch.
pub use velocity_api::debezium::now;

/// Shared handle to a table's schemas.
pub type TableSchemaRef = Arc<TableSchema>;

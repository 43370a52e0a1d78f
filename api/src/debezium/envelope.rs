//! Debezium's change-event envelope: the `<base>.Key` / `<base>.Value`
//! schemas of a table, the `<base>.Envelope` schema (version 2: `before`,
//! `after`, `source`, `transaction`, `op`, `ts_ms`, `ts_us`, `ts_ns`), the
//! envelope value of one change and the records built on them
//! ([`TableEnvelope`]).
//!
//! Contract (as Debezium): `op` is `r` (snapshot read), `c`, `u`, `d` or `t`
//! (truncate); `before` is null for `r`/`c`/`t`, `after` is null for
//! `d`/`t`; `ts_ms`/`ts_us`/`ts_ns` are the time the event was built, and
//! the Kafka timestamp of a change record is that `ts_ms`. The `source`
//! block is built by the connector ([`super::source`]); the `transaction`
//! block is [`super::transaction::block`] or null.

use crate::record::{ConnectRecord, Offset, Partition, SourceRecord};
use crate::schema::{Schema, SchemaRef};
use crate::value::{Struct, Value};

use super::columns::ColumnOption;
use super::source::SourceTime;

/// The row schema of a table named `<base>.Value`: an optional struct with
/// `fields` in order.
pub fn value_schema(
    base: &str,
    fields: impl IntoIterator<Item = (String, SchemaRef)>,
) -> SchemaRef {
    fields
        .into_iter()
        .fold(
            Schema::struct_().optional().named(format!("{base}.Value")),
            |s, (name, schema)| s.field(name, schema),
        )
        .build()
}

/// The key schema `<base>.Key` with `fields` in key order; None when there
/// are no key fields (the record key is then null).
pub fn key_schema(
    base: &str,
    fields: impl IntoIterator<Item = (String, SchemaRef)>,
) -> Option<SchemaRef> {
    let mut fields = fields.into_iter().peekable();
    fields.peek()?;
    Some(
        fields
            .fold(
                Schema::struct_().named(format!("{base}.Key")),
                |s, (name, schema)| s.field(name, schema),
            )
            .build(),
    )
}

/// The envelope schema `<base>.Envelope` (version 2) around `value` (the
/// row schema, used for `before` and `after`) and `source`.
pub fn envelope_schema(base: &str, value: &SchemaRef, source: SchemaRef) -> SchemaRef {
    Schema::struct_()
        .named(format!("{base}.Envelope"))
        .version(2)
        .field("before", value.clone())
        .field("after", value.clone())
        .field("source", source)
        .field("transaction", super::transaction::block_schema())
        .field("op", Schema::string())
        .field("ts_ms", Schema::int64().optional())
        .field("ts_us", Schema::int64().optional())
        .field("ts_ns", Schema::int64().optional())
        .build()
}

/// Now as (milliseconds, microseconds, nanoseconds) since the epoch.
pub fn now() -> (i64, i64, i64) {
    let t = SourceTime::now();
    (t.ms, t.us, t.ns)
}

/// One change of an [`envelope_schema`] envelope.
#[derive(Debug, Clone)]
pub struct Change {
    /// `r`, `c`, `u`, `d` or `t`.
    pub op: &'static str,
    /// The row before the change (updates and deletes, when known).
    pub before: Option<Struct>,
    /// The row after the change (reads, creates and updates).
    pub after: Option<Struct>,
    /// The connector's `source` block.
    pub source: Struct,
    /// The `transaction` block, when transaction metadata is provided.
    pub transaction: Option<Struct>,
}

impl Change {
    /// The envelope value for `schema` (built by [`envelope_schema`]),
    /// stamped with the current time; returns it with that time in ms.
    pub fn envelope(self, schema: &SchemaRef) -> (Value, i64) {
        let (ms, us, ns) = now();
        let value = Value::Struct(Struct {
            schema: schema.clone(),
            values: vec![
                self.before.map_or(Value::Null, Value::Struct),
                self.after.map_or(Value::Null, Value::Struct),
                Value::Struct(self.source),
                self.transaction.map_or(Value::Null, Value::Struct),
                Value::String(self.op.into()),
                Value::Int64(ms),
                Value::Int64(us),
                Value::Int64(ns),
            ],
        });
        (value, ms)
    }
}

/// The schemas of one table's change events and the records built on
/// them. Built once per table definition and shared by its records.
///
/// Contract: the key of a row is the row's values at the key positions
/// (the key schema's fields are the row schema's fields at those
/// positions); a table without key positions has no key schema and null
/// keys. With column options ([`Self::with_column_options`]) the rows a
/// connector builds hold the columns' plain values, which the key takes;
/// the options alter the value schema's fields and are applied to `before`
/// and `after` when a record is built.
#[derive(Debug)]
pub struct TableEnvelope {
    /// The topic of the table's events (also the `<base>` of the schema names).
    pub topic: String,
    /// `<base>.Key`, None when the table has no key.
    pub key_schema: Option<SchemaRef>,
    /// `<base>.Value` (optional struct, the row).
    pub value_schema: SchemaRef,
    /// `<base>.Envelope` (version 2).
    pub envelope_schema: SchemaRef,
    key_positions: Vec<usize>,
    /// The column options, by field position.
    options: Vec<(usize, ColumnOption)>,
}

impl TableEnvelope {
    /// The schemas of a table published on `topic` whose rows have
    /// `fields` in order, keyed by the fields named `key_columns` (in key
    /// order; names that are not fields, e.g. filtered-out columns, are
    /// left out; none left: no key), with `source` blocks of schema
    /// `source`.
    pub fn new(
        topic: String,
        fields: Vec<(String, SchemaRef)>,
        key_columns: &[String],
        source: SchemaRef,
    ) -> TableEnvelope {
        Self::with_column_options(topic, fields, key_columns, source, Vec::new())
    }

    /// [`Self::new`] with Debezium's column options: `options[i]` (missing
    /// entries: none) applies to `fields[i]`, whose schema is the column's
    /// plain schema. The key fields keep the plain schemas; the value
    /// fields get [`ColumnOption::field_schema`], and [`Self::record`]
    /// applies [`ColumnOption::apply`] to the rows.
    pub fn with_column_options(
        topic: String,
        mut fields: Vec<(String, SchemaRef)>,
        key_columns: &[String],
        source: SchemaRef,
        options: Vec<Option<ColumnOption>>,
    ) -> TableEnvelope {
        let key_positions: Vec<usize> = key_columns
            .iter()
            .filter_map(|k| fields.iter().position(|(name, _)| name == k))
            .collect();
        let key_schema = key_schema(&topic, key_positions.iter().map(|&i| fields[i].clone()));
        let options: Vec<(usize, ColumnOption)> = options
            .into_iter()
            .enumerate()
            .filter_map(|(i, o)| Some((i, o?)))
            .filter(|(i, _)| *i < fields.len())
            .collect();
        for (i, o) in &options {
            fields[*i].1 = o.field_schema(&fields[*i].1);
        }
        let value_schema = value_schema(&topic, fields);
        let envelope_schema = envelope_schema(&topic, &value_schema, source);
        TableEnvelope {
            topic,
            key_schema,
            value_schema,
            envelope_schema,
            key_positions,
            options,
        }
    }

    /// `row` with the column options applied (a struct value takes its
    /// field's altered schema).
    fn apply_options(&self, mut row: Struct) -> Struct {
        for (i, option) in &self.options {
            if let Some(v) = row.values.get_mut(*i) {
                let mut mapped = option.apply(std::mem::replace(v, Value::Null));
                if let Value::Struct(st) = &mut mapped {
                    st.schema = self.value_schema.fields[*i].schema.clone();
                }
                *v = mapped;
            }
        }
        row
    }

    /// Positions in the row of the key fields, in key order.
    pub fn key_positions(&self) -> &[usize] {
        &self.key_positions
    }

    /// The key struct of a row value, or Null when the table has no key.
    pub fn key_of(&self, row: &Struct) -> Value {
        match &self.key_schema {
            None => Value::Null,
            Some(ks) => Value::Struct(Struct {
                schema: ks.clone(),
                values: self
                    .key_positions
                    .iter()
                    .map(|&i| row.values[i].clone())
                    .collect(),
            }),
        }
    }

    /// An empty row of the value schema, with room for every field (the
    /// caller pushes the values in field order).
    pub fn new_row(&self) -> Struct {
        Struct {
            schema: self.value_schema.clone(),
            values: Vec::with_capacity(self.value_schema.fields.len()),
        }
    }

    /// The change record of `change` with record key `key` (a
    /// [`Self::key_of`] value or Null), at `offset` of `partition`; its
    /// Kafka timestamp is the envelope's `ts_ms`. The column options are
    /// applied to `before` and `after`.
    pub fn record(
        &self,
        key: Value,
        mut change: Change,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        if !self.options.is_empty() {
            change.before = change.before.map(|r| self.apply_options(r));
            change.after = change.after.map(|r| self.apply_options(r));
        }
        let (value, now_ms) = change.envelope(&self.envelope_schema);
        let mut record = ConnectRecord::new(
            self.topic.clone(),
            self.key_schema.clone(),
            key,
            Some(self.envelope_schema.clone()),
            value,
        );
        record.timestamp = Some(now_ms);
        SourceRecord {
            source_partition: partition.clone(),
            source_offset: offset,
            record,
        }
    }

    /// The `op` event (`r`, `c` or `u`) of the row `after`, keyed by
    /// [`Self::key_of`] `after`, with `before` (updates, when known), the
    /// connector's `source` block and the `transaction` block, if any; see
    /// [`Self::record`].
    #[allow(clippy::too_many_arguments)]
    pub fn change(
        &self,
        op: &'static str,
        before: Option<Struct>,
        after: Struct,
        source: Struct,
        transaction: Option<Struct>,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        let key = self.key_of(&after);
        let change = Change {
            op,
            before,
            after: Some(after),
            source,
            transaction,
        };
        self.record(key, change, partition, offset)
    }

    /// The tombstone that follows a delete: the same key, a null value and
    /// no Kafka timestamp of its own.
    pub fn tombstone(&self, key: Value, partition: &Partition, offset: Offset) -> SourceRecord {
        SourceRecord {
            source_partition: partition.clone(),
            source_offset: offset,
            record: ConnectRecord::new(
                self.topic.clone(),
                self.key_schema.clone(),
                key,
                None,
                Value::Null,
            ),
        }
    }

    /// Appends the records of the delete of `before` to `out`: the `d`
    /// event keyed by [`Self::key_of`] `before`, then, when `tombstone`,
    /// its tombstone. The last record appended carries `last`; the `d`
    /// event carries `first` when a tombstone follows it.
    #[allow(clippy::too_many_arguments)]
    pub fn delete(
        &self,
        before: Struct,
        source: Struct,
        transaction: Option<Struct>,
        tombstone: bool,
        partition: &Partition,
        first: Offset,
        last: Offset,
        out: &mut Vec<SourceRecord>,
    ) {
        let key = self.key_of(&before);
        let tombstone_key = tombstone.then(|| key.clone());
        let change = Change {
            op: "d",
            before: Some(before),
            after: None,
            source,
            transaction,
        };
        match tombstone_key {
            None => out.push(self.record(key, change, partition, last)),
            Some(tk) => {
                out.push(self.record(key, change, partition, first));
                out.push(self.tombstone(tk, partition, last));
            }
        }
    }

    /// The `t` (truncate) event of the table: no key (null key and key
    /// schema), null `before` and `after`.
    pub fn truncate(
        &self,
        source: Struct,
        transaction: Option<Struct>,
        partition: &Partition,
        offset: Offset,
    ) -> SourceRecord {
        let change = Change {
            op: "t",
            before: None,
            after: None,
            source,
            transaction,
        };
        let mut rec = self.record(Value::Null, change, partition, offset);
        rec.record.key_schema = None;
        rec
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::debezium::source::{source_schema_base, SNAPSHOT_MARKERS};

    #[test]
    fn envelope_shape() {
        let v = value_schema("p.s.t", [("id".to_string(), Schema::int32().build())]);
        assert!(v.optional && v.is_named("p.s.t.Value"));
        assert!(key_schema("p.s.t", Vec::new()).is_none());
        let k = key_schema("p.s.t", [("id".to_string(), Schema::int32().build())]).unwrap();
        assert!(k.is_named("p.s.t.Key") && !k.optional);
        let source = source_schema_base("src", SNAPSHOT_MARKERS).build();
        assert_eq!(source.fields.len(), 9);
        assert_eq!(
            source.fields[4].schema.parameter("allowed"),
            Some(SNAPSHOT_MARKERS)
        );
        let e = envelope_schema("p.s.t", &v, source.clone());
        assert!(e.is_named("p.s.t.Envelope"));
        let names: Vec<&str> = e.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "before",
                "after",
                "source",
                "transaction",
                "op",
                "ts_ms",
                "ts_us",
                "ts_ns"
            ]
        );
        let row = Struct::new(v.clone()).put("id", 1);
        let (value, ms) = Change {
            op: "c",
            before: None,
            after: Some(row),
            source: Struct::new(source).put("db", "d").put("connector", "x"),
            transaction: None,
        }
        .envelope(&e);
        let s = value.as_struct().unwrap();
        assert_eq!(s.get("op"), Some(&Value::String("c".into())));
        assert_eq!(s.get("ts_ms"), Some(&Value::Int64(ms)));
        assert!(s.get("before").unwrap().is_null());
    }

    #[test]
    fn column_options_change_the_value_not_the_key() {
        use crate::config::{raw_config, ConfigReader};
        use crate::debezium::columns::{ColumnOptions, SourceColumn};
        let raw = raw_config(&[
            ("column.mask.with.3.chars", "s.t.code"),
            ("column.truncate.to.2.chars", "s.t.note"),
        ]);
        let mut r = ConfigReader::new(&raw);
        let options = ColumnOptions::read(&mut r);
        let column = |name: &str| SourceColumn {
            name: name.into(),
            type_name: "varchar".into(),
            length: Some(10),
            scale: None,
            character: true,
        };
        let string = Schema::string().build();
        let t = TableEnvelope::with_column_options(
            "p.s.t".into(),
            vec![("code".into(), string.clone()), ("note".into(), string)],
            &["code".into()],
            source_schema_base("src", SNAPSHOT_MARKERS).build(),
            ["code", "note"]
                .iter()
                .map(|c| options.for_column("s", "t", &column(c)))
                .collect(),
        );
        let key_field = &t.key_schema.as_ref().unwrap().fields[0].schema;
        assert!(key_field.parameters.is_none());
        let fields = &t.value_schema.fields;
        assert_eq!(fields[0].schema.parameter("masked"), Some("true"));
        assert_eq!(fields[1].schema.parameter("truncateLength"), Some("2"));
        let row = Struct::new(t.value_schema.clone())
            .put("code", "K1")
            .put("note", "long note");
        let rec = t.change(
            "c",
            None,
            row,
            Struct::new(source_schema_base("src", SNAPSHOT_MARKERS).build()),
            None,
            &Partition::new(),
            Offset::new(),
        );
        assert_eq!(
            rec.record.key.as_struct().unwrap().values,
            vec![Value::String("K1".into())]
        );
        let after = rec.record.value.as_struct().unwrap().get("after").unwrap();
        assert_eq!(
            after.as_struct().unwrap().values,
            vec![Value::String("***".into()), Value::String("lo".into())]
        );
    }

    #[test]
    fn table_records() {
        let source = source_schema_base("src", SNAPSHOT_MARKERS).build();
        let int = Schema::int32().build();
        let t = TableEnvelope::new(
            "p.s.t".into(),
            vec![("a".into(), int.clone()), ("id".into(), int)],
            &["gone".into(), "id".into()],
            source.clone(),
        );
        let k = t.key_schema.as_ref().unwrap();
        assert!(k.is_named("p.s.t.Key") && k.fields.len() == 1 && k.fields[0].name == "id");
        let row = Struct::new(t.value_schema.clone()).put("a", 1).put("id", 2);
        let key = t.key_of(&row);
        assert_eq!(key.as_struct().unwrap().values, vec![Value::Int32(2)]);
        let mut first = Offset::new();
        first.insert("n".into(), 1.into());
        let mut out = Vec::new();
        let src = Struct::new(source.clone());
        let p = Partition::new();
        t.delete(
            row.clone(),
            src.clone(),
            None,
            true,
            &p,
            first.clone(),
            Offset::new(),
            &mut out,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].source_offset, first);
        assert!(out[1].record.value.is_null() && out[1].record.timestamp.is_none());
        assert_eq!(out[1].record.key, key);
        out.clear();
        t.delete(
            row,
            src.clone(),
            None,
            false,
            &p,
            first,
            Offset::new(),
            &mut out,
        );
        assert_eq!(out.len(), 1);
        assert!(out[0].source_offset.is_empty());
        let tr = t.truncate(src, None, &p, Offset::new());
        assert!(tr.record.key.is_null() && tr.record.key_schema.is_none());
        let v = tr.record.value.as_struct().unwrap();
        assert_eq!(v.get("op"), Some(&Value::String("t".into())));
        assert_eq!(
            Some(v.values[5].clone()),
            tr.record.timestamp.map(Value::Int64)
        );
    }
}

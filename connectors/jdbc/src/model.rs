//! From Kafka Connect records to table changes: reading Debezium envelopes
//! and flat records, mapping Connect schemas (with Debezium's logical types)
//! to column types, values to typed cells, and planning one batch (last
//! change per key wins, deletes and truncates kept in their effect).

use std::collections::HashMap;
use std::sync::Arc;

use velocity_api::schema::logical;
use velocity_api::text::decimal_plain;
use velocity_api::{Schema, SinkRecord, Struct, Type, Value};

use crate::config::{InsertMode, JdbcSinkConfig, PrimaryKeyMode};
use crate::error::JdbcError;

/// The type a column gets when the sink creates it, read from the Connect
/// schema name first (logical types) and then from the physical type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// boolean.
    Bool,
    /// int8/int16.
    Int16,
    /// int32.
    Int32,
    /// int64.
    Int64,
    /// float32.
    Float32,
    /// float64.
    Float64,
    /// string.
    Text,
    /// bytes.
    Bytes,
    /// Decimal / VariableScaleDecimal with known precision and scale, if any.
    Decimal(Option<u32>, Option<i32>),
    /// Date (days).
    Date,
    /// Time of day (micro or milliseconds).
    Time,
    /// Timestamp without zone.
    Timestamp,
    /// Timestamp with zone (ZonedTimestamp).
    TimestampTz,
    /// JSON document (Json, and structs/maps without a better mapping).
    Json,
    /// UUID.
    Uuid,
    /// Array of an element type.
    Array(Box<ColumnType>),
}

/// A column of a record shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Column {
    /// Column (field) name.
    pub name: String,
    /// Type used when the column is created.
    pub ty: ColumnType,
    /// Whether NULL is allowed.
    pub optional: bool,
}

/// The columns of one kind of row and which of them form the primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Columns in record field order.
    pub columns: Vec<Column>,
    /// Indexes into `columns` of the primary key, in key order.
    pub pk: Vec<usize>,
}

impl Shape {
    /// The primary key columns.
    pub fn pk_columns(&self) -> impl Iterator<Item = &Column> {
        self.pk.iter().map(|&i| &self.columns[i])
    }
}

/// A typed value ready to be rendered by a dialect.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// boolean.
    Bool(bool),
    /// Any integer.
    Int(i64),
    /// Any float.
    Float(f64),
    /// Text (also enums, XML, intervals).
    Text(String),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// An exact decimal in plain notation (`-12.50`).
    Numeric(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since the epoch, no zone.
    Timestamp(i64),
    /// Microseconds since the epoch, UTC.
    TimestampTz(i64),
    /// A JSON document.
    Json(String),
    /// A UUID in canonical form.
    Uuid(String),
    /// An array.
    Array(Vec<Cell>),
}

/// A target table, possibly schema-qualified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId {
    /// Schema (database for MariaDB), when the format names one.
    pub schema: Option<String>,
    /// Table name.
    pub name: String,
}

impl std::fmt::Display for TableId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// What one record asks of the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Insert, upsert or update (per `insert.mode`) the row `cells` of `shape`.
    Write,
    /// Delete the row whose primary key is `cells` (in `shape.pk` order, `shape` = the key).
    Delete,
    /// Remove every row of the table.
    Truncate,
}

/// One table change derived from one record.
#[derive(Debug, Clone)]
pub struct Change {
    /// Target table.
    pub table: TableId,
    /// What to do.
    pub op: Op,
    /// Columns of `cells`.
    pub shape: Arc<Shape>,
    /// One cell per column of `shape`.
    pub cells: Vec<Cell>,
}

/// Column type of a Connect schema.
pub fn column_type(s: &Schema) -> ColumnType {
    match s.name.as_deref() {
        Some(logical::DECIMAL) => {
            return ColumnType::Decimal(
                s.parameter("connect.decimal.precision")
                    .and_then(|p| p.parse().ok()),
                s.parameter("scale").and_then(|p| p.parse().ok()),
            )
        }
        Some(logical::DBZ_VARIABLE_SCALE_DECIMAL) => return ColumnType::Decimal(None, None),
        Some(logical::DATE | logical::DBZ_DATE) => return ColumnType::Date,
        Some(
            logical::TIME | logical::DBZ_TIME | logical::DBZ_MICRO_TIME | logical::DBZ_NANO_TIME,
        ) => return ColumnType::Time,
        Some(
            logical::TIMESTAMP
            | logical::DBZ_TIMESTAMP
            | logical::DBZ_MICRO_TIMESTAMP
            | logical::DBZ_NANO_TIMESTAMP,
        ) => return ColumnType::Timestamp,
        Some(logical::DBZ_ZONED_TIMESTAMP) => return ColumnType::TimestampTz,
        Some(logical::DBZ_JSON) => return ColumnType::Json,
        Some(logical::DBZ_UUID) => return ColumnType::Uuid,
        _ => {}
    }
    match s.type_ {
        Type::Boolean => ColumnType::Bool,
        Type::Int8 | Type::Int16 => ColumnType::Int16,
        Type::Int32 => ColumnType::Int32,
        Type::Int64 => ColumnType::Int64,
        Type::Float32 => ColumnType::Float32,
        Type::Float64 => ColumnType::Float64,
        Type::String => ColumnType::Text,
        Type::Bytes => ColumnType::Bytes,
        Type::Array => match s.value_schema.as_deref() {
            Some(e) => ColumnType::Array(Box::new(column_type(e))),
            None => ColumnType::Json,
        },
        Type::Map | Type::Struct => ColumnType::Json,
    }
}

fn bad(what: &str, v: &Value) -> String {
    format!("{what}: unexpected value {v:?}")
}

/// The cell for `value` of schema `s`; errors say what was expected.
pub fn to_cell(s: &Schema, value: &Value) -> Result<Cell, String> {
    if value.is_null() {
        return Ok(Cell::Null);
    }
    let name = s.name.as_deref();
    Ok(match (name, value) {
        (Some(logical::DECIMAL), Value::Bytes(b)) => {
            let scale = s
                .parameter("scale")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            Cell::Numeric(decimal_plain(b, scale))
        }
        (Some(logical::DBZ_VARIABLE_SCALE_DECIMAL), Value::Struct(st)) => {
            let scale = st.get("scale").and_then(Value::as_i64).unwrap_or(0) as i32;
            match st.get("value") {
                Some(Value::Bytes(b)) => Cell::Numeric(decimal_plain(b, scale)),
                _ => return Err(bad("VariableScaleDecimal", value)),
            }
        }
        (Some(logical::DATE | logical::DBZ_DATE), v) => {
            Cell::Date(v.as_i64().ok_or_else(|| bad("Date", v))? as i32)
        }
        (Some(logical::TIME | logical::DBZ_TIME), v) => {
            Cell::Time(v.as_i64().ok_or_else(|| bad("Time", v))? * 1000)
        }
        (Some(logical::DBZ_MICRO_TIME), v) => {
            Cell::Time(v.as_i64().ok_or_else(|| bad("MicroTime", v))?)
        }
        (Some(logical::DBZ_NANO_TIME), v) => {
            Cell::Time(v.as_i64().ok_or_else(|| bad("NanoTime", v))? / 1000)
        }
        (Some(logical::TIMESTAMP | logical::DBZ_TIMESTAMP), v) => {
            Cell::Timestamp(v.as_i64().ok_or_else(|| bad("Timestamp", v))? * 1000)
        }
        (Some(logical::DBZ_MICRO_TIMESTAMP), v) => {
            Cell::Timestamp(v.as_i64().ok_or_else(|| bad("MicroTimestamp", v))?)
        }
        (Some(logical::DBZ_NANO_TIMESTAMP), v) => {
            Cell::Timestamp(v.as_i64().ok_or_else(|| bad("NanoTimestamp", v))? / 1000)
        }
        (Some(logical::DBZ_ZONED_TIMESTAMP), Value::String(t)) => {
            let dt = chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| format!("ZonedTimestamp '{t}' is not ISO-8601: {e}"))?;
            Cell::TimestampTz(dt.timestamp_micros())
        }
        (Some(logical::DBZ_JSON), Value::String(t)) => Cell::Json(t.clone()),
        (Some(logical::DBZ_UUID), Value::String(t)) => Cell::Uuid(t.clone()),
        (_, Value::Boolean(b)) => Cell::Bool(*b),
        (_, Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_)) => {
            Cell::Int(value.as_i64().unwrap_or_default())
        }
        (_, Value::Float32(f)) => Cell::Float(f64::from(*f)),
        (_, Value::Float64(f)) => Cell::Float(*f),
        (_, Value::String(t)) => Cell::Text(t.clone()),
        (_, Value::Bytes(b)) => Cell::Bytes(b.clone()),
        (_, Value::Array(items)) => {
            let elem = s.value_schema.as_deref();
            match elem {
                Some(e)
                    if !matches!(e.type_, Type::Struct | Type::Map | Type::Array)
                        || e.name.is_some() =>
                {
                    Cell::Array(
                        items
                            .iter()
                            .map(|i| to_cell(e, i))
                            .collect::<Result<_, _>>()?,
                    )
                }
                _ => Cell::Json(to_json(value).to_string()),
            }
        }
        (_, Value::Struct(_) | Value::Map(_)) => Cell::Json(to_json(value).to_string()),
        (_, Value::Null) => Cell::Null,
    })
}

/// A plain JSON rendering of a Connect value (for struct/map columns).
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Int8(_) | Value::Int16(_) | Value::Int32(_) | Value::Int64(_) => {
            J::from(v.as_i64().unwrap_or_default())
        }
        Value::Float32(f) => J::from(f64::from(*f)),
        Value::Float64(f) => J::from(*f),
        Value::String(s) => J::String(s.clone()),
        Value::Bytes(b) => J::String(b.iter().map(|x| format!("{x:02x}")).collect()),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(
            m.iter()
                .map(|(k, v)| {
                    (
                        k.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| to_json(k).to_string()),
                        to_json(v),
                    )
                })
                .collect(),
        ),
        Value::Struct(s) => J::Object(
            s.schema
                .fields
                .iter()
                .zip(&s.values)
                .map(|(f, v)| (f.name.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// A cached shape with the schemas that keep its cache key (their addresses) alive.
type ShapeEntry = (
    velocity_api::SchemaRef,
    Option<velocity_api::SchemaRef>,
    Arc<Shape>,
);

/// Turns records into changes, caching one [`Shape`] per schema.
#[derive(Default)]
pub struct Interpreter {
    shapes: HashMap<(usize, usize), ShapeEntry>,
}

fn is_envelope(s: &Struct) -> bool {
    let sc = &s.schema;
    sc.name.as_deref().is_some_and(|n| n.ends_with(".Envelope"))
        || (sc.field_named("op").is_some() && sc.field_named("after").is_some())
}

impl Interpreter {
    /// The change `rec` asks for under `cfg`, or None when it is skipped
    /// (deletes with `delete.enabled=false`, truncates with
    /// `truncate.enabled=false`, Debezium `m` messages). Errors name the
    /// record's topic, partition and offset.
    pub fn interpret(
        &mut self,
        rec: &SinkRecord,
        cfg: &JdbcSinkConfig,
    ) -> Result<Option<Change>, JdbcError> {
        let r = &rec.record;
        let err = |message: String| JdbcError::Record {
            topic: r.topic.clone(),
            partition: r.partition.unwrap_or(-1),
            offset: rec.kafka_offset,
            message,
        };
        let (row, source, op) = match &r.value {
            Value::Null => (None, None, 'd'),
            Value::Struct(s) if is_envelope(s) => {
                let op = s.get("op").and_then(Value::as_str).and_then(|o| o.chars().next()).unwrap_or('c');
                let source = s.get("source").and_then(Value::as_struct);
                match op {
                    'c' | 'r' | 'u' => match s.get("after") {
                        Some(Value::Struct(a)) => (Some(a), source, 'c'),
                        _ => return Err(err(format!("op '{op}' event has no 'after' state"))),
                    },
                    'd' => (None, source, 'd'),
                    't' => (None, source, 't'),
                    _ => return Ok(None),
                }
            }
            Value::Struct(s) => {
                let deleted = s.schema.field_named("__deleted").is_some()
                    && matches!(s.get("__deleted"), Some(Value::String(v)) if v == "true");
                if deleted {
                    (None, None, 'd')
                } else {
                    (Some(s), None, 'c')
                }
            }
            other => {
                return Err(err(format!(
                    "the value is not a struct ({}); the JDBC sink needs schemas: set value.converter.schemas.enable=true",
                    kind_name(other)
                )))
            }
        };
        let table = table_id(&cfg.table_name_format, &r.topic, source).map_err(err)?;
        match op {
            't' => {
                if !cfg.truncate_enabled {
                    return Ok(None);
                }
                Ok(Some(Change {
                    table,
                    op: Op::Truncate,
                    shape: Arc::new(Shape {
                        columns: vec![],
                        pk: vec![],
                    }),
                    cells: vec![],
                }))
            }
            'd' => {
                if !cfg.delete_enabled {
                    return Ok(None);
                }
                let key = match &r.key {
                    Value::Struct(k) => k,
                    other => {
                        return Err(err(format!(
                            "a delete needs a struct record key, got {}; with primary.key.mode=record_key the topic must have keys",
                            kind_name(other)
                        )))
                    }
                };
                let shape = self.key_shape(key, cfg).map_err(err)?;
                let cells = shape
                    .columns
                    .iter()
                    .map(|c| {
                        let f = key
                            .schema
                            .field_named(&c.name)
                            .expect("shape from key schema");
                        to_cell(&f.schema, &key.values[f.index])
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(err)?;
                Ok(Some(Change {
                    table,
                    op: Op::Delete,
                    shape,
                    cells,
                }))
            }
            _ => {
                let row = row.expect("row for writes");
                let key = match (&r.key, cfg.pk_mode) {
                    (Value::Struct(k), PrimaryKeyMode::RecordKey) => Some(k),
                    (other, PrimaryKeyMode::RecordKey) => {
                        return Err(err(format!(
                            "primary.key.mode=record_key needs a struct record key, got {}",
                            kind_name(other)
                        )))
                    }
                    _ => None,
                };
                let shape = self.row_shape(row, key, cfg).map_err(err)?;
                let mut cells = Vec::with_capacity(shape.columns.len());
                for c in &shape.columns {
                    let cell = match row.schema.field_named(&c.name) {
                        Some(f) => to_cell(&f.schema, &row.values[f.index]),
                        None => {
                            let k = key.expect("key column comes from the key");
                            let f = k.schema.field_named(&c.name).expect("key field");
                            to_cell(&f.schema, &k.values[f.index])
                        }
                    }
                    .map_err(|m| err(format!("column {}: {m}", c.name)))?;
                    cells.push(cell);
                }
                Ok(Some(Change {
                    table,
                    op: Op::Write,
                    shape,
                    cells,
                }))
            }
        }
    }

    fn key_shape(&mut self, key: &Struct, cfg: &JdbcSinkConfig) -> Result<Arc<Shape>, String> {
        let id = (Arc::as_ptr(&key.schema) as usize, 0);
        if let Some((_, _, s)) = self.shapes.get(&id) {
            return Ok(s.clone());
        }
        let fields: Vec<_> = if cfg.pk_fields.is_empty() {
            key.schema.fields.iter().collect()
        } else {
            cfg.pk_fields
                .iter()
                .map(|n| {
                    key.schema.field_named(n).ok_or_else(|| {
                        format!(
                            "primary.key.fields names '{n}', which the record key does not have"
                        )
                    })
                })
                .collect::<Result<_, _>>()?
        };
        if fields.is_empty() {
            return Err("the record key has no fields to use as primary key".into());
        }
        let columns: Vec<Column> = fields
            .iter()
            .map(|f| Column {
                name: f.name.clone(),
                ty: column_type(&f.schema),
                optional: false,
            })
            .collect();
        let pk = (0..columns.len()).collect();
        let shape = Arc::new(Shape { columns, pk });
        self.shapes
            .insert(id, (key.schema.clone(), None, shape.clone()));
        Ok(shape)
    }

    fn row_shape(
        &mut self,
        row: &Struct,
        key: Option<&Struct>,
        cfg: &JdbcSinkConfig,
    ) -> Result<Arc<Shape>, String> {
        let id = (
            Arc::as_ptr(&row.schema) as usize,
            key.map_or(1, |k| Arc::as_ptr(&k.schema) as usize),
        );
        if let Some((_, _, s)) = self.shapes.get(&id) {
            return Ok(s.clone());
        }
        let mut columns: Vec<Column> = row
            .schema
            .fields
            .iter()
            .filter(|f| f.name != "__deleted")
            .map(|f| Column {
                name: f.name.clone(),
                ty: column_type(&f.schema),
                optional: f.schema.optional,
            })
            .collect();
        let pk_names: Vec<String> = match (cfg.pk_mode, key) {
            (PrimaryKeyMode::RecordKey, Some(k)) => {
                let names: Vec<String> = if cfg.pk_fields.is_empty() {
                    k.schema.fields.iter().map(|f| f.name.clone()).collect()
                } else {
                    cfg.pk_fields.clone()
                };
                for n in &names {
                    let f = k.schema.field_named(n).ok_or_else(|| {
                        format!(
                            "primary.key.fields names '{n}', which the record key does not have"
                        )
                    })?;
                    if !columns.iter().any(|c| &c.name == n) {
                        columns.push(Column {
                            name: n.clone(),
                            ty: column_type(&f.schema),
                            optional: false,
                        });
                    }
                }
                names
            }
            (PrimaryKeyMode::RecordValue, _) => {
                if cfg.pk_fields.is_empty() {
                    columns.iter().map(|c| c.name.clone()).collect()
                } else {
                    for n in &cfg.pk_fields {
                        if !columns.iter().any(|c| &c.name == n) {
                            return Err(format!("primary.key.fields names '{n}', which the record value does not have"));
                        }
                    }
                    cfg.pk_fields.clone()
                }
            }
            _ => Vec::new(),
        };
        let pk: Vec<usize> = pk_names
            .iter()
            .map(|n| {
                columns
                    .iter()
                    .position(|c| &c.name == n)
                    .expect("checked above")
            })
            .collect();
        for &i in &pk {
            columns[i].optional = false;
        }
        if cfg.insert_mode != InsertMode::Insert && pk.is_empty() {
            return Err("insert.mode upsert/update needs primary key columns".into());
        }
        let shape = Arc::new(Shape { columns, pk });
        self.shapes.insert(
            id,
            (
                row.schema.clone(),
                key.map(|k| k.schema.clone()),
                shape.clone(),
            ),
        );
        Ok(shape)
    }
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Struct(_) => "a struct",
        Value::Map(_) => "a schemaless map",
        Value::String(_) => "a string",
        Value::Bytes(_) => "bytes",
        Value::Array(_) => "an array",
        _ => "a primitive",
    }
}

/// The table for a record of `topic` under `format`: `${topic}` with dots
/// replaced by underscores (as Debezium's default naming strategy does),
/// `${source.db|schema|table}` from the envelope's source block; a literal
/// dot in `format` separates schema and table.
pub fn table_id(format: &str, topic: &str, source: Option<&Struct>) -> Result<TableId, String> {
    let mut out = String::new();
    let mut rest = format;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let j = rest[i..]
            .find('}')
            .ok_or("unclosed placeholder in table.name.format")?
            + i;
        let name = &rest[i + 2..j];
        let sub = match name {
            "topic" => topic.replace('.', "_"),
            "source.table" | "source.schema" | "source.db" => {
                let field = &name["source.".len()..];
                source
                    .and_then(|s| s.get(field))
                    .and_then(Value::as_str)
                    .ok_or_else(|| format!("table.name.format uses ${{{name}}} but the record has no source.{field}"))?
                    .to_owned()
            }
            other => {
                return Err(format!(
                    "unknown placeholder ${{{other}}} in table.name.format"
                ))
            }
        };
        out.push_str(&sub);
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    Ok(match out.split_once('.') {
        Some((s, t)) => TableId {
            schema: Some(s.to_owned()),
            name: t.to_owned(),
        },
        None => TableId {
            schema: None,
            name: out,
        },
    })
}

/// Everything one batch does to one table, in the order to apply it.
#[derive(Debug, Default)]
pub struct TablePlan {
    /// The table.
    pub table: TableId,
    /// TRUNCATE first (a truncate event was the last of its kind in the batch).
    pub truncate: bool,
    /// Primary keys to delete, grouped by key shape.
    pub deletes: Vec<(Arc<Shape>, Vec<Vec<Cell>>)>,
    /// Rows to write, grouped by row shape, in batch order within a group.
    pub writes: Vec<(Arc<Shape>, Vec<Vec<Cell>>)>,
}

fn key_text(shape: &Shape, cells: &[Cell], op: &Op) -> String {
    let mut s = String::new();
    let idx: Vec<usize> = match op {
        Op::Delete => (0..cells.len()).collect(),
        _ => shape.pk.clone(),
    };
    for i in idx {
        s.push_str(&shape.columns[i].name);
        s.push('=');
        s.push_str(&format!("{:?}", cells[i]));
        s.push('\u{1}');
    }
    s
}

/// Plans a batch: per table (in order of first appearance), a truncate
/// clears what came before it; with `dedupe` (upsert/update modes) only the
/// last change per primary key survives, so the remaining deletes and writes
/// touch distinct keys and their relative order no longer matters.
pub fn plan(changes: Vec<Change>, dedupe: bool) -> Vec<TablePlan> {
    let mut order: Vec<TableId> = Vec::new();
    let mut per: HashMap<TableId, Vec<Option<Change>>> = HashMap::new();
    let mut truncated: HashMap<TableId, bool> = HashMap::new();
    let mut last: HashMap<(TableId, String), usize> = HashMap::new();
    for c in changes {
        let list = per.entry(c.table.clone()).or_insert_with(|| {
            order.push(c.table.clone());
            Vec::new()
        });
        match c.op {
            Op::Truncate => {
                list.clear();
                truncated.insert(c.table.clone(), true);
                last.retain(|(t, _), _| t != &c.table);
            }
            _ => {
                let can_key = matches!(c.op, Op::Delete) || !c.shape.pk.is_empty();
                if dedupe && can_key {
                    let k = (c.table.clone(), key_text(&c.shape, &c.cells, &c.op));
                    if let Some(&i) = last.get(&k) {
                        list[i] = None;
                    }
                    last.insert(k, list.len());
                }
                list.push(Some(c));
            }
        }
    }
    order
        .into_iter()
        .map(|t| {
            let mut p = TablePlan {
                truncate: truncated.get(&t).copied().unwrap_or(false),
                ..Default::default()
            };
            for c in per.remove(&t).unwrap_or_default().into_iter().flatten() {
                let groups = match c.op {
                    Op::Delete => &mut p.deletes,
                    _ => &mut p.writes,
                };
                match groups
                    .iter_mut()
                    .find(|(s, _)| Arc::ptr_eq(s, &c.shape) || **s == *c.shape)
                {
                    Some((_, rows)) => rows.push(c.cells),
                    None => groups.push((c.shape, vec![c.cells])),
                }
            }
            p.table = t;
            p
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::{ConnectRecord, RawConfig};

    #[test]
    fn types_and_cells() {
        let d = logical::decimal(2, Some(10));
        assert_eq!(column_type(&d), ColumnType::Decimal(Some(10), Some(2)));
        assert_eq!(
            to_cell(&d, &Value::Bytes(vec![0x04, 0xD2])).unwrap(),
            Cell::Numeric("12.34".into())
        );
        let z = Schema::string().named(logical::DBZ_ZONED_TIMESTAMP);
        assert_eq!(column_type(&z), ColumnType::TimestampTz);
        assert_eq!(
            to_cell(&z, &Value::from("1970-01-01T00:00:01.5Z")).unwrap(),
            Cell::TimestampTz(1_500_000)
        );
        let mt = Schema::int64().named(logical::DBZ_MICRO_TIMESTAMP);
        assert_eq!(to_cell(&mt, &Value::Int64(7)).unwrap(), Cell::Timestamp(7));
        let ts = Schema::int64().named(logical::DBZ_TIMESTAMP);
        assert_eq!(
            to_cell(&ts, &Value::Int64(7)).unwrap(),
            Cell::Timestamp(7000)
        );
        let date = Schema::int32().named(logical::DBZ_DATE);
        assert_eq!(
            (
                column_type(&date),
                to_cell(&date, &Value::Int32(3)).unwrap()
            ),
            (ColumnType::Date, Cell::Date(3))
        );
        let t = Schema::int64().named(logical::DBZ_MICRO_TIME);
        assert_eq!(
            (column_type(&t), to_cell(&t, &Value::Int64(9)).unwrap()),
            (ColumnType::Time, Cell::Time(9))
        );
        let arr = Schema::array(Schema::string().optional().build());
        assert_eq!(
            column_type(&arr),
            ColumnType::Array(Box::new(ColumnType::Text))
        );
        assert_eq!(
            to_cell(&arr, &Value::Array(vec!["a".into(), Value::Null])).unwrap(),
            Cell::Array(vec![Cell::Text("a".into()), Cell::Null])
        );
        let vsd = Schema::struct_()
            .named(logical::DBZ_VARIABLE_SCALE_DECIMAL)
            .field("scale", Schema::int32())
            .field("value", Schema::bytes())
            .build();
        let v = Value::Struct(
            Struct::new(vsd.clone())
                .put("scale", 1)
                .put("value", Value::Bytes(vec![0x7B])),
        );
        assert_eq!(to_cell(&vsd, &v).unwrap(), Cell::Numeric("12.3".into()));
        assert_eq!(
            column_type(&Schema::string().named(logical::DBZ_ENUM)),
            ColumnType::Text
        );
        assert_eq!(
            column_type(&Schema::string().named(logical::DBZ_UUID)),
            ColumnType::Uuid
        );
        assert_eq!(
            column_type(&Schema::string().named(logical::DBZ_JSON)),
            ColumnType::Json
        );
    }

    #[test]
    fn table_names() {
        assert_eq!(
            table_id("${topic}", "tms.tms.shipment", None).unwrap(),
            TableId {
                schema: None,
                name: "tms_tms_shipment".into()
            }
        );
        assert_eq!(
            table_id("kafka_${topic}", "a.b", None).unwrap().name,
            "kafka_a_b"
        );
        let src = Schema::struct_()
            .field("schema", Schema::string())
            .field("table", Schema::string())
            .build();
        let s = Struct::new(src)
            .put("schema", "tms")
            .put("table", "shipment");
        assert_eq!(
            table_id("${source.schema}.${source.table}", "x", Some(&s)).unwrap(),
            TableId {
                schema: Some("tms".into()),
                name: "shipment".into()
            }
        );
        assert!(table_id("${source.table}", "x", None).is_err());
    }

    fn cfg(pairs: &[(&str, &str)]) -> JdbcSinkConfig {
        let mut raw: RawConfig = [
            ("connection.url", "jdbc:postgresql://h/d"),
            ("connection.username", "u"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in pairs {
            raw.insert(k.to_string(), v.to_string());
        }
        <JdbcSinkConfig as velocity_api::TypedConfig>::from_raw(&raw).unwrap()
    }

    fn envelope(op: &str, id: i32, name: Option<&str>) -> SinkRecord {
        let row = Schema::struct_()
            .named("t.Value")
            .field("id", Schema::int32())
            .field("name", Schema::string().optional())
            .build();
        let key_s = Schema::struct_()
            .named("t.Key")
            .field("id", Schema::int32())
            .build();
        let env = Schema::struct_()
            .named("t.Envelope")
            .field("before", row.clone())
            .field("after", row.clone())
            .field("op", Schema::string())
            .build();
        let after = match op {
            "d" => Value::Null,
            _ => Value::Struct(
                Struct::new(row.clone())
                    .put("id", id)
                    .put("name", name.map(str::to_owned)),
            ),
        };
        let v = Struct::new(env).put("after", after).put("op", op);
        SinkRecord {
            record: ConnectRecord {
                partition: Some(0),
                ..ConnectRecord::new(
                    "p.s.t",
                    Some(key_s.clone()),
                    Value::Struct(Struct::new(key_s).put("id", id)),
                    None,
                    Value::Struct(v),
                )
            },
            kafka_offset: 0,
        }
    }

    #[test]
    fn envelopes_and_dedupe() {
        let c = cfg(&[
            ("insert.mode", "upsert"),
            ("primary.key.mode", "record_key"),
            ("delete.enabled", "true"),
        ]);
        let mut it = Interpreter::default();
        let recs = [
            envelope("c", 1, Some("a")),
            envelope("u", 1, Some("b")),
            envelope("c", 2, Some("x")),
            envelope("d", 2, None),
            envelope("r", 3, None),
        ];
        let changes: Vec<Change> = recs
            .iter()
            .filter_map(|r| it.interpret(r, &c).unwrap())
            .collect();
        assert_eq!(changes.len(), 5);
        assert_eq!(changes[0].table.name, "p_s_t");
        let plans = plan(changes, true);
        assert_eq!(plans.len(), 1);
        let p = &plans[0];
        assert_eq!(p.deletes.len(), 1);
        assert_eq!(p.deletes[0].1, vec![vec![Cell::Int(2)]]);
        assert_eq!(
            p.writes[0].1,
            vec![
                vec![Cell::Int(1), Cell::Text("b".into())],
                vec![Cell::Int(3), Cell::Null]
            ]
        );
        assert_eq!(p.writes[0].0.pk, vec![0]);
        // deletes are skipped when not enabled
        let c2 = cfg(&[]);
        assert!(it
            .interpret(&envelope("d", 1, None), &c2)
            .unwrap()
            .is_none());
    }

    #[test]
    fn schemaless_values_are_rejected_with_the_fix() {
        let c = cfg(&[]);
        let mut r = envelope("c", 1, None);
        r.record.value = Value::Map(vec![]);
        r.kafka_offset = 42;
        let e = Interpreter::default()
            .interpret(&r, &c)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("offset 42") && e.contains("schemas.enable"),
            "{e}"
        );
    }
}

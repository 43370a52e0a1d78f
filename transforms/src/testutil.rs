//! Test helpers: configs, records and schemaless maps.

use velocity_api::{ConnectRecord, Schema, SchemaRef, Struct, Value};

pub use velocity_api::config::raw_config as cfg;

pub fn map(pairs: &[(&str, Value)]) -> Value {
    Value::Map(
        pairs
            .iter()
            .map(|(k, v)| (Value::String(k.to_string()), v.clone()))
            .collect(),
    )
}

/// `{id int32, name optional string, price optional float64}` named `test.Value`.
pub fn row_schema() -> SchemaRef {
    Schema::struct_()
        .named("test.Value")
        .version(1)
        .field("id", Schema::int32())
        .field("name", Schema::string().optional())
        .field("price", Schema::float64().optional())
        .build()
}

pub fn row(id: i32, name: &str, price: f64) -> Struct {
    Struct::new(row_schema())
        .put("id", id)
        .put("name", name)
        .put("price", Value::Float64(price))
}

pub fn rec_value(schema: Option<SchemaRef>, value: Value) -> ConnectRecord {
    let mut r = ConnectRecord::new("topic", None, Value::Null, schema, value);
    r.partition = Some(3);
    r.timestamp = Some(1_700_000_000_123);
    r
}

pub fn field_names(s: &Schema) -> Vec<&str> {
    s.fields.iter().map(|f| f.name.as_str()).collect()
}

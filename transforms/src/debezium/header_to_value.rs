//! Debezium's `io.debezium.transforms.HeaderToValue`: copies (`operation=copy`)
//! or moves (`operation=move`) the headers listed in `headers` into the
//! value struct as the fields listed in `fields` (same order and length),
//! with the header's schema (optional string when the header has none).
//! Only struct values are changed; a header the record lacks adds no field.

use velocity_api::config::{ConfigReader, TypedConfig};
use velocity_api::{
    ConfigDef, ConfigKey, ConnectRecord, RawConfig, Result, Schema, Struct, Transform, Value,
};

use crate::error::read_config;
use crate::headers::Operation;
use crate::util::{copy_schema_basics, required_list};

pub use keys::*;

/// The keys of Debezium's HeaderToValue, each declared once.
pub mod keys {
    use crate::headers::Operation;
    use velocity_api::config::{ConfigKey, ConfigType::*, Importance::*};

    velocity_api::config_keys! {
        /// `headers`: the headers to copy or move (required).
        HEADERS = ConfigKey::new("headers", List, None, High, "Header names in the record whose values are to be copied or moved to record value.");
        /// `fields`: the field of each header, in the same order (required).
        FIELDS = ConfigKey::new("fields", List, None, High, "Field names, in the same order as the header names listed in the headers configuration property.");
        /// `operation`: `move` or `copy` (required).
        OPERATION = ConfigKey::new("operation", String, None, High, "Either move if the fields are to be moved to the value (removed from the headers), or copy if the fields are to be copied to the value (retained in the headers).").one_of(Operation::NAMES);
    }
}

/// The typed configuration of HeaderToValue: as many fields as headers.
#[derive(Debug, Clone)]
pub struct HeaderToValueConfig {
    headers: Vec<String>,
    fields: Vec<String>,
    operation: Operation,
}

impl TypedConfig for HeaderToValueConfig {
    const KEYS: &'static [ConfigKey] = KEYS;

    fn read(r: &mut ConfigReader<'_>) -> HeaderToValueConfig {
        let headers = required_list(r, &HEADERS);
        let fields = required_list(r, &FIELDS);
        if !headers.is_empty() && !fields.is_empty() && headers.len() != fields.len() {
            r.fail(
                FIELDS.name,
                "'fields' config must have the same number of elements as 'headers' config.",
            );
        }
        HeaderToValueConfig {
            headers,
            fields,
            operation: r.choice(&OPERATION),
        }
    }
}

/// `io.debezium.transforms.HeaderToValue`.
#[derive(Default)]
pub struct HeaderToValue {
    headers: Vec<String>,
    fields: Vec<String>,
    is_move: bool,
}

impl HeaderToValue {
    /// The keys Debezium's HeaderToValue defines.
    pub fn def() -> ConfigDef {
        HeaderToValueConfig::config_def()
    }
}

impl Transform for HeaderToValue {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        let c: HeaderToValueConfig = read_config(config)?;
        self.headers = c.headers;
        self.fields = c.fields;
        self.is_move = c.operation == Operation::Move;
        Ok(())
    }

    fn apply(&mut self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let (Some(schema), Value::Struct(value)) = (&record.value_schema, &record.value) else {
            return Ok(Some(record));
        };
        let mut b = copy_schema_basics(schema, Schema::struct_()).with_optional(schema.optional);
        b.fields = schema.fields.clone();
        let mut values = value.values.clone();
        let mut added = false;
        for (h, f) in self.headers.iter().zip(&self.fields) {
            if let Some(header) = record.headers.iter().rev().find(|x| x.key == *h) {
                let hs = header
                    .schema
                    .clone()
                    .unwrap_or_else(|| Schema::string().optional().build());
                b = b.field(f.clone(), hs);
                values.push(header.value.clone());
                added = true;
            }
        }
        if added {
            let ns = b.build();
            record.value = Value::Struct(Struct {
                schema: ns.clone(),
                values,
            });
            record.value_schema = Some(ns);
            if self.is_move {
                record.headers.retain(|x| !self.headers.contains(&x.key));
            }
        }
        Ok(Some(record))
    }

    fn config_def(&self) -> ConfigDef {
        Self::def()
    }
}

//! Debezium's `io.debezium.transforms.HeaderToValue`: copies (`operation=copy`)
//! or moves (`operation=move`) the headers listed in `headers` into the
//! value struct as the fields listed in `fields` (same order and length),
//! with the header's schema (optional string when the header has none).
//! Only struct values are changed; a header the record lacks adds no field.

use velocity_api::config::{ConfigExt, ConfigKey, ConfigType, Importance};
use velocity_api::{ConfigDef, ConnectRecord, RawConfig, Result, Schema, Struct, Transform, Value};

use crate::error::config_err;
use crate::util::{copy_schema_basics, req_list, req_str};

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
        ConfigDef::new(vec![
            ConfigKey::new("headers", ConfigType::List, None, Importance::High, "Header names in the record whose values are to be copied or moved to record value."),
            ConfigKey::new("fields", ConfigType::List, None, Importance::High, "Field names, in the same order as the header names listed in the headers configuration property."),
            ConfigKey::new("operation", ConfigType::String, None, Importance::High, "Either move if the fields are to be moved to the value (removed from the headers), or copy if the fields are to be copied to the value (retained in the headers).").one_of(&["move", "copy"]),
        ])
    }
}

impl Transform for HeaderToValue {
    fn configure(&mut self, config: &RawConfig) -> Result<()> {
        self.headers = req_list(config, "headers")?;
        self.fields = req_list(config, "fields")?;
        if self.headers.len() != self.fields.len() {
            return Err(config_err(
                "fields",
                format!(
                    "'{}' config must have the same number of elements as '{}' config.",
                    "fields", "headers"
                ),
            ));
        }
        let op = req_str(config, "operation")?;
        self.is_move = match op.as_str() {
            "move" => true,
            "copy" => false,
            other => return Err(config_err("operation", format!("Invalid value {other} for configuration operation: String must be one of: move, copy"))),
        };
        let _ = config.opt_str("operation");
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

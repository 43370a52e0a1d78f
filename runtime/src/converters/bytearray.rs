//! Kafka Connect's `org.apache.kafka.connect.converters.ByteArrayConverter`:
//! bytes pass through unchanged in both directions.

use velocity_api::{ConnectError, RawConfig, Schema, SchemaRef, Type, Value};

use super::{java_type_name, value_kind, Converter};

/// Pass-through converter for raw bytes.
///
/// `from_connect` accepts a bytes schema (or none) and a [`Value::Bytes`] or
/// null value, and fails like Kafka for anything else; `to_connect` returns an
/// optional bytes schema with the bytes (or null).
#[derive(Debug, Default, Clone, Copy)]
pub struct ByteArrayConverter;

impl Converter for ByteArrayConverter {
    fn configure(&mut self, _config: &RawConfig, _is_key: bool) -> Result<(), ConnectError> {
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        if let Some(s) = schema {
            if s.type_ != Type::Bytes {
                return Err(ConnectError::fatal(format!(
                    "Invalid schema type for ByteArrayConverter: {}",
                    java_type_name(s.type_)
                )));
            }
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b.clone())),
            other => Err(ConnectError::fatal(format!(
                "ByteArrayConverter is not compatible with objects of type {}",
                value_kind(other)
            ))),
        }
    }

    fn to_connect(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value), ConnectError> {
        let value = bytes.map_or(Value::Null, |b| Value::Bytes(b.to_vec()));
        Ok((Some(Schema::bytes().optional().build()), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_bytes_through() {
        let c = ByteArrayConverter;
        let v = Value::Bytes(vec![0, 1, 255]);
        assert_eq!(
            c.from_connect("t", Some(&Schema::bytes()), &v).unwrap(),
            Some(vec![0, 1, 255])
        );
        assert_eq!(c.from_connect("t", None, &Value::Null).unwrap(), None);
        let (s, back) = c.to_connect("t", Some(&[0, 1, 255])).unwrap();
        assert!(s.unwrap().optional);
        assert_eq!(back, v);
        assert_eq!(c.to_connect("t", None).unwrap().1, Value::Null);
    }

    #[test]
    fn rejects_other_types_naming_the_class() {
        let c = ByteArrayConverter;
        let e = c
            .from_connect("t", Some(&Schema::string()), &Value::from("x"))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid schema type for ByteArrayConverter: STRING"
        );
        let e = c.from_connect("t", None, &Value::Int32(1)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ByteArrayConverter is not compatible with objects of type Int32"
        );
    }
}

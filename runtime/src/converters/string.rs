//! Kafka Connect's `org.apache.kafka.connect.storage.StringConverter`: the
//! value's `toString()` as UTF-8 on the way out, an optional string on the
//! way in.

use velocity_api::config::ConfigExt;
pub use velocity_api::text::connect_to_string;
use velocity_api::{ConnectError, RawConfig, Schema, SchemaRef, Value};

use super::Converter;

/// `converter.encoding`: the character set (only UTF-8 is supported).
pub const ENCODING_CONFIG: &str = "converter.encoding";

/// Kafka Connect's StringConverter.
///
/// `from_connect` writes [`connect_to_string`] of the value (a string as its
/// own UTF-8 bytes); a null value gives a null message whatever the schema.
/// `to_connect` returns an optional string schema and the text (invalid UTF-8
/// replaced by U+FFFD, as Java's decoder does) or null.
#[derive(Debug, Default)]
pub struct StringConverter {
    is_key: bool,
}

impl StringConverter {
    /// An unconfigured converter (UTF-8).
    pub fn new() -> StringConverter {
        StringConverter::default()
    }

    /// Whether this instance converts keys.
    pub fn is_key(&self) -> bool {
        self.is_key
    }
}

impl Converter for StringConverter {
    fn configure(&mut self, config: &RawConfig, is_key: bool) -> Result<(), ConnectError> {
        self.is_key = is_key;
        let encoding = config.str_or(ENCODING_CONFIG, "UTF8");
        let normalized = encoding.to_ascii_uppercase().replace('-', "");
        if normalized != "UTF8" {
            return Err(ConnectError::config(
                ENCODING_CONFIG,
                format!("Unsupported encoding '{encoding}': Velocity's StringConverter only supports UTF-8"),
            ));
        }
        Ok(())
    }

    fn from_connect(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        Ok(match value {
            Value::Null => None,
            Value::String(s) => Some(s.as_bytes().to_vec()),
            other => Some(connect_to_string(schema, other).into_bytes()),
        })
    }

    fn to_connect(
        &self,
        _topic: &str,
        bytes: Option<&[u8]>,
    ) -> Result<(Option<SchemaRef>, Value), ConnectError> {
        let schema = Schema::string().optional().build();
        let value = match bytes {
            None => Value::Null,
            Some(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        };
        Ok((Some(schema), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_pass_through_and_null_is_tombstone() {
        let c = StringConverter::new();
        assert_eq!(
            c.from_connect("t", Some(&Schema::string()), &Value::from("héllo"))
                .unwrap(),
            Some("héllo".as_bytes().to_vec())
        );
        assert_eq!(
            c.from_connect("t", Some(&Schema::string()), &Value::Null)
                .unwrap(),
            None
        );
        let (s, v) = c.to_connect("t", Some(b"abc")).unwrap();
        let s = s.unwrap();
        assert!(s.optional);
        assert_eq!(v, Value::from("abc"));
        assert_eq!(c.to_connect("t", None).unwrap().1, Value::Null);
        assert_eq!(
            c.to_connect("t", Some(&[0x61, 0xFF])).unwrap().1,
            Value::from("a\u{FFFD}")
        );
    }

    #[test]
    fn other_values_use_java_to_string() {
        // the rendering itself is velocity_api::text's (tested there)
        let c = StringConverter::new();
        assert_eq!(
            c.from_connect("t", None, &Value::Int64(42)).unwrap(),
            Some(b"42".to_vec())
        );
        let dec = velocity_api::schema::logical::decimal(2, None);
        assert_eq!(
            c.from_connect("t", Some(&dec), &Value::Bytes(vec![0x04, 0xD2]))
                .unwrap(),
            Some(b"12.34".to_vec())
        );
    }

    #[test]
    fn only_utf8_is_accepted() {
        let mut c = StringConverter::new();
        let ok: RawConfig = [(ENCODING_CONFIG.to_string(), "utf-8".to_string())].into();
        c.configure(&ok, true).unwrap();
        assert!(c.is_key());
        let bad: RawConfig = [(ENCODING_CONFIG.to_string(), "ISO-8859-1".to_string())].into();
        let e = c.configure(&bad, false).unwrap_err();
        assert!(e.to_string().contains(ENCODING_CONFIG), "{e}");
    }
}

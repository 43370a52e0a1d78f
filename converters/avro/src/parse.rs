//! Parsing Avro schema text with `apache-avro`, working around what it
//! refuses of valid schemas: apache-avro 0.21 rejects a field whose type is a
//! union starting with a `decimal` and whose default is the (valid, per the
//! Avro specification) ISO-8859-1 string of the bytes, which Confluent's
//! AvroData writes for Debezium's numeric columns with a default. Such
//! defaults are dropped before parsing; decoding with the writer's schema
//! never reads defaults, and compatibility checks then treat the field as
//! having no default (stricter, never laxer). [`parse_physical`] gives the
//! schema without logical types, for compatibility checks.

use apache_avro::Schema;
use serde_json::Value as Json;

fn is_decimal(t: &Json) -> bool {
    match t {
        Json::Object(o) => o.get("logicalType").and_then(Json::as_str) == Some("decimal"),
        Json::Array(members) => members.first().is_some_and(is_decimal),
        _ => false,
    }
}

fn strip(j: &mut Json) {
    match j {
        Json::Object(o) => {
            if let Some(Json::Array(fields)) = o.get_mut("fields") {
                for f in fields.iter_mut() {
                    if let Some(fo) = f.as_object_mut() {
                        if fo.get("type").is_some_and(is_decimal) {
                            fo.remove("default");
                        }
                    }
                    strip(f);
                }
            }
            for (_, v) in o.iter_mut() {
                if v.is_object() || v.is_array() {
                    strip(v);
                }
            }
        }
        Json::Array(a) => a.iter_mut().for_each(strip),
        _ => {}
    }
}

/// `text` parsed by apache-avro; decimal field defaults it refuses are dropped.
pub fn parse_schema(text: &str) -> Result<Schema, apache_avro::Error> {
    match Schema::parse_str(text) {
        Ok(s) => Ok(s),
        Err(e) => {
            let Ok(mut j) = serde_json::from_str::<Json>(text) else {
                return Err(e);
            };
            strip(&mut j);
            Schema::parse(&j)
        }
    }
}

fn strip_logical(j: &mut Json) {
    match j {
        Json::Object(o) => {
            o.remove("logicalType");
            o.values_mut().for_each(strip_logical);
        }
        Json::Array(a) => a.iter_mut().for_each(strip_logical),
        _ => {}
    }
}

/// `text` parsed with its logical types removed (each type as its underlying
/// Avro type), for compatibility checks: Avro's schema resolution works on
/// the underlying types (as Java's `SchemaCompatibility` does), and
/// apache-avro 0.21 refuses to match unions whose members are decimals.
pub fn parse_physical(text: &str) -> Result<Schema, apache_avro::Error> {
    match serde_json::from_str::<Json>(text) {
        Ok(mut j) => {
            strip_logical(&mut j);
            Schema::parse(&j)
        }
        Err(_) => Schema::parse_str(text),
    }
}

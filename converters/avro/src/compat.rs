//! Schema compatibility with `apache-avro`'s schema resolution: whether a new
//! (reader) schema can read data written with an earlier (writer) schema —
//! the registry's BACKWARD rule — and, when not, which field breaks it, so an
//! incompatible change can be reported naming the field.

use std::collections::HashMap;

use apache_avro::schema::{Name, Schema};
use apache_avro::schema_compatibility::SchemaCompatibility;

/// Named types of a schema by full name (to resolve `Ref`s).
fn names<'a>(s: &'a Schema, out: &mut HashMap<Name, &'a Schema>) {
    match s {
        Schema::Record(r) if out.insert(r.name.clone(), s).is_none() => {
            r.fields.iter().for_each(|f| names(&f.schema, out));
        }
        Schema::Enum(e) => {
            out.insert(e.name.clone(), s);
        }
        Schema::Fixed(f) => {
            out.insert(f.name.clone(), s);
        }
        Schema::Array(a) => names(&a.items, out),
        Schema::Map(m) => names(&m.types, out),
        Schema::Union(u) => u.variants().iter().for_each(|v| names(v, out)),
        _ => {}
    }
}

fn resolve<'a>(s: &'a Schema, n: &HashMap<Name, &'a Schema>) -> &'a Schema {
    match s {
        Schema::Ref { name } => n.get(name).copied().unwrap_or(s),
        other => other,
    }
}

/// Why `reader` cannot read data written with `writer` (BACKWARD), naming
/// the first field that breaks it; None when it can, or when either text is
/// not an Avro schema.
pub fn incompatibility(writer: &str, reader: &str) -> Option<String> {
    let w = crate::parse::parse_physical(writer).ok()?;
    let r = crate::parse::parse_physical(reader).ok()?;
    let err = SchemaCompatibility::can_read(&w, &r).err()?;
    let (mut wn, mut rn) = (HashMap::new(), HashMap::new());
    names(&w, &mut wn);
    names(&r, &mut rn);
    let found = field_path(&w, &r, &wn, &rn, "", 0);
    Some(match found {
        Some(f) => f,
        None => format!("{err}"),
    })
}

fn field_path(
    w: &Schema,
    r: &Schema,
    wn: &HashMap<Name, &Schema>,
    rn: &HashMap<Name, &Schema>,
    path: &str,
    depth: usize,
) -> Option<String> {
    if depth > 32 {
        return None;
    }
    let (w, r) = (resolve(w, wn), resolve(r, rn));
    match (w, r) {
        (Schema::Record(wr), Schema::Record(rr)) => {
            for rf in &rr.fields {
                let p = if path.is_empty() {
                    rf.name.clone()
                } else {
                    format!("{path}.{}", rf.name)
                };
                match wr.lookup.get(&rf.name).map(|i| &wr.fields[*i]) {
                    None if rf.default.is_none() => {
                        return Some(format!(
                            "field \"{p}\" (record {}) was added without a default value, so data written with the earlier schema cannot be read",
                            rr.name.fullname(None)
                        ))
                    }
                    None => {}
                    Some(wf) => {
                        if let Some(deeper) = field_path(&wf.schema, &rf.schema, wn, rn, &p, depth + 1) {
                            return Some(deeper);
                        }
                        if let Err(e) = SchemaCompatibility::can_read(&wf.schema, &rf.schema) {
                            return Some(format!("field \"{p}\" (record {}) changed incompatibly: {e}", rr.name.fullname(None)));
                        }
                    }
                }
            }
            None
        }
        (Schema::Union(wu), Schema::Union(ru)) => {
            for wv in wu.variants() {
                for rv in ru.variants() {
                    let (a, b) = (resolve(wv, wn), resolve(rv, rn));
                    if let (Schema::Record(x), Schema::Record(y)) = (a, b) {
                        if x.name == y.name {
                            if let Some(f) = field_path(a, b, wn, rn, path, depth + 1) {
                                return Some(f);
                            }
                        }
                    }
                }
            }
            None
        }
        (Schema::Array(a), Schema::Array(b)) => {
            field_path(&a.items, &b.items, wn, rn, path, depth + 1)
        }
        (Schema::Map(a), Schema::Map(b)) => field_path(&a.types, &b.types, wn, rn, path, depth + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_field_added_without_default() {
        let v1 = r#"{"type":"record","name":"E","namespace":"x","fields":[{"name":"after","type":["null",{"type":"record","name":"Value","fields":[{"name":"id","type":"int"}]}],"default":null}]}"#;
        let ok = r#"{"type":"record","name":"E","namespace":"x","fields":[{"name":"after","type":["null",{"type":"record","name":"Value","fields":[{"name":"id","type":"int"},{"name":"w","type":["null","int"],"default":null}]}],"default":null}]}"#;
        let bad = r#"{"type":"record","name":"E","namespace":"x","fields":[{"name":"after","type":["null",{"type":"record","name":"Value","fields":[{"name":"id","type":"int"},{"name":"w","type":"int"}]}],"default":null}]}"#;
        assert_eq!(incompatibility(v1, ok), None);
        let why = incompatibility(v1, bad).expect("incompatible");
        assert!(why.contains("\"after.w\""), "{why}");
        assert!(why.contains("x.Value"), "{why}");
    }

    #[test]
    fn optional_decimals_are_compatible_with_themselves() {
        let dec = r#"["null",{"type":"bytes","scale":2,"precision":10,"connect.name":"org.apache.kafka.connect.data.Decimal","logicalType":"decimal"}]"#;
        let v1 = format!(
            r#"{{"type":"record","name":"V","fields":[{{"name":"w","type":{dec},"default":null}}]}}"#
        );
        let v2 = format!(
            r#"{{"type":"record","name":"V","fields":[{{"name":"w","type":{dec},"default":null}},{{"name":"r","type":["null","string"],"default":null}}]}}"#
        );
        assert_eq!(incompatibility(&v1, &v2), None);
    }
}

//! Rendering cells as the text each database's input functions parse, and
//! column types as each dialect's SQL type names.

use std::fmt::Write as _;

use velocity_api::text;

use crate::model::{Cell, ColumnType};

fn date_text(out: &mut String, days: i32) {
    match text::date_text(i64::from(days)) {
        Some(d) => out.push_str(&d),
        None => out.push_str("infinity"),
    }
}

fn time_text(out: &mut String, micros: i64) {
    out.push_str(&text::time_of_day_text(micros));
}

fn timestamp_text(out: &mut String, micros: i64) {
    match text::timestamp_text(micros, ' ') {
        Some(t) => out.push_str(&t),
        None => out.push_str(if micros < 0 { "-infinity" } else { "infinity" }),
    }
}

fn float_text(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let _ = write!(out, "{f}");
    }
}

/// Appends `cell` as PostgreSQL input text to `out`; returns false for NULL
/// (nothing appended). Arrays become array literals (`{"a","b",NULL}`),
/// bytes `\x…` hex, timestamps with zone `… +00`.
pub fn pg_text(out: &mut String, cell: &Cell) -> bool {
    match cell {
        Cell::Null => return false,
        Cell::Bool(b) => out.push(if *b { 't' } else { 'f' }),
        Cell::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Cell::Float(f) => float_text(out, *f),
        Cell::Text(s) | Cell::Numeric(s) | Cell::Json(s) | Cell::Uuid(s) => out.push_str(s),
        Cell::Bytes(b) => {
            out.push_str("\\x");
            for x in b {
                let _ = write!(out, "{x:02x}");
            }
        }
        Cell::Date(d) => date_text(out, *d),
        Cell::Time(t) => time_text(out, *t),
        Cell::Timestamp(t) => timestamp_text(out, *t),
        Cell::TimestampTz(t) => {
            timestamp_text(out, *t);
            out.push_str("+00");
        }
        Cell::Array(items) => {
            out.push('{');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match item {
                    Cell::Null => out.push_str("NULL"),
                    Cell::Array(_) => {
                        pg_text(out, item);
                    }
                    other => {
                        let mut s = String::new();
                        pg_text(&mut s, other);
                        out.push('"');
                        for ch in s.chars() {
                            if ch == '"' || ch == '\\' {
                                out.push('\\');
                            }
                            out.push(ch);
                        }
                        out.push('"');
                    }
                }
            }
            out.push('}');
        }
    }
    true
}

/// The PostgreSQL text of `cell`, None for NULL.
pub fn pg_string(cell: &Cell) -> Option<String> {
    let mut s = String::new();
    pg_text(&mut s, cell).then_some(s)
}

/// The PostgreSQL type of a column created by schema evolution.
pub fn pg_type(t: &ColumnType) -> String {
    match t {
        ColumnType::Bool => "boolean".into(),
        ColumnType::Int16 => "smallint".into(),
        ColumnType::Int32 => "integer".into(),
        ColumnType::Int64 => "bigint".into(),
        ColumnType::Float32 => "real".into(),
        ColumnType::Float64 => "double precision".into(),
        ColumnType::Text => "text".into(),
        ColumnType::Bytes => "bytea".into(),
        ColumnType::Decimal(Some(p), Some(s)) if *s >= 0 && (*s as u32) <= *p => {
            format!("numeric({p},{s})")
        }
        ColumnType::Decimal(..) => "numeric".into(),
        ColumnType::Date => "date".into(),
        ColumnType::Time => "time(6)".into(),
        ColumnType::Timestamp => "timestamp(6)".into(),
        ColumnType::TimestampTz => "timestamptz(6)".into(),
        ColumnType::Json => "jsonb".into(),
        ColumnType::Uuid => "uuid".into(),
        ColumnType::Array(e) => format!("{}[]", pg_type(e)),
    }
}

/// A MariaDB value for `cell`: NULL, integers and doubles natively, arrays
/// as JSON text, everything else as text (`YYYY-MM-DD HH:MM:SS.ffffff` for
/// timestamps, UTC for zoned ones).
pub fn my_value(cell: &Cell) -> mysql_async::Value {
    use mysql_async::Value as V;
    match cell {
        Cell::Null => V::NULL,
        Cell::Bool(b) => V::Int(i64::from(*b)),
        Cell::Int(i) => V::Int(*i),
        Cell::Float(f) => V::Double(*f),
        Cell::Bytes(b) => V::Bytes(b.clone()),
        Cell::Text(s) | Cell::Numeric(s) | Cell::Json(s) | Cell::Uuid(s) => {
            V::Bytes(s.clone().into_bytes())
        }
        Cell::Array(items) => V::Bytes(
            cell_json(&Cell::Array(items.clone()))
                .to_string()
                .into_bytes(),
        ),
        other => {
            let mut s = String::new();
            match other {
                Cell::Date(d) => date_text(&mut s, *d),
                Cell::Time(t) => time_text(&mut s, *t),
                Cell::Timestamp(t) | Cell::TimestampTz(t) => timestamp_text(&mut s, *t),
                _ => {}
            }
            V::Bytes(s.into_bytes())
        }
    }
}

/// A cell as JSON (arrays in MariaDB, which has no array type).
pub fn cell_json(cell: &Cell) -> serde_json::Value {
    use serde_json::Value as J;
    match cell {
        Cell::Null => J::Null,
        Cell::Bool(b) => J::Bool(*b),
        Cell::Int(i) => J::from(*i),
        Cell::Float(f) => J::from(*f),
        Cell::Json(s) => serde_json::from_str(s).unwrap_or_else(|_| J::String(s.clone())),
        Cell::Array(items) => J::Array(items.iter().map(cell_json).collect()),
        other => J::String(pg_string(other).unwrap_or_default()),
    }
}

/// The MariaDB type of a column created by schema evolution; `key` columns
/// get bounded types (MariaDB cannot index TEXT/BLOB without a length).
pub fn my_type(t: &ColumnType, key: bool) -> String {
    match t {
        ColumnType::Bool => "BOOLEAN".into(),
        ColumnType::Int16 => "SMALLINT".into(),
        ColumnType::Int32 => "INT".into(),
        ColumnType::Int64 => "BIGINT".into(),
        ColumnType::Float32 => "FLOAT".into(),
        ColumnType::Float64 => "DOUBLE".into(),
        ColumnType::Text if key => "VARCHAR(255)".into(),
        ColumnType::Text => "LONGTEXT".into(),
        ColumnType::Bytes if key => "VARBINARY(255)".into(),
        ColumnType::Bytes => "LONGBLOB".into(),
        ColumnType::Decimal(Some(p), Some(s))
            if *p <= 65 && *s >= 0 && *s <= 30 && (*s as u32) <= *p =>
        {
            format!("DECIMAL({p},{s})")
        }
        ColumnType::Decimal(..) => "DECIMAL(65,30)".into(),
        ColumnType::Date => "DATE".into(),
        ColumnType::Time => "TIME(6)".into(),
        ColumnType::Timestamp | ColumnType::TimestampTz => "DATETIME(6)".into(),
        ColumnType::Json | ColumnType::Array(_) => "LONGTEXT".into(),
        ColumnType::Uuid => "CHAR(36)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_text() {
        let s = |c: Cell| pg_string(&c);
        assert_eq!(s(Cell::Null), None);
        assert_eq!(s(Cell::Bool(true)).unwrap(), "t");
        assert_eq!(s(Cell::Float(f64::NAN)).unwrap(), "NaN");
        assert_eq!(s(Cell::Float(-f64::INFINITY)).unwrap(), "-Infinity");
        assert_eq!(s(Cell::Bytes(vec![0, 255])).unwrap(), "\\x00ff");
        assert_eq!(s(Cell::Date(19_723)).unwrap(), "2024-01-01");
        assert_eq!(s(Cell::Date(-1)).unwrap(), "1969-12-31");
        assert_eq!(s(Cell::Time(3_723_000_004)).unwrap(), "01:02:03.000004");
        assert_eq!(
            s(Cell::Timestamp(1_500_000)).unwrap(),
            "1970-01-01 00:00:01.500000"
        );
        assert_eq!(
            s(Cell::TimestampTz(0)).unwrap(),
            "1970-01-01 00:00:00.000000+00"
        );
        assert_eq!(
            s(Cell::Array(vec![
                Cell::Text("a\"b".into()),
                Cell::Null,
                Cell::Text("c,d".into())
            ]))
            .unwrap(),
            r#"{"a\"b",NULL,"c,d"}"#
        );
    }

    #[test]
    fn types() {
        assert_eq!(
            pg_type(&ColumnType::Decimal(Some(12), Some(2))),
            "numeric(12,2)"
        );
        assert_eq!(pg_type(&ColumnType::Decimal(None, None)), "numeric");
        assert_eq!(
            pg_type(&ColumnType::Array(Box::new(ColumnType::Text))),
            "text[]"
        );
        assert_eq!(my_type(&ColumnType::Text, true), "VARCHAR(255)");
        assert_eq!(my_type(&ColumnType::TimestampTz, false), "DATETIME(6)");
    }

    #[test]
    fn mariadb_values() {
        use mysql_async::Value as V;
        assert_eq!(my_value(&Cell::Bool(true)), V::Int(1));
        assert_eq!(
            my_value(&Cell::Timestamp(0)),
            V::Bytes(b"1970-01-01 00:00:00.000000".to_vec())
        );
        assert_eq!(
            my_value(&Cell::Array(vec![Cell::Text("a".into())])),
            V::Bytes(br#"["a"]"#.to_vec())
        );
    }
}

//! JSON text as Java writes it for Avro schemas (Jackson's string escapes,
//! `Float.toString`/`Double.toString` numbers), so rendered schemas match the
//! text Confluent's converter registers.

use std::fmt::Write as _;

/// Appends `s` as a JSON string with Jackson's escapes: `\"`, `\\`, the short
/// forms `\b \t \n \f \r`, other control characters as `\u00XX` (upper-case
/// hex); everything else (including non-ASCII) as is.
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Java's rendering of a finite double: plain between 1e-3 and 1e7
/// (always with a fraction), otherwise `d.dddE±n`.
fn java_number(v: f64, plain: String, sci: String) -> String {
    if v == 0.0 || (v.abs() >= 1e-3 && v.abs() < 1e7) {
        if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        }
    } else {
        // Rust: 1e10 / 1.5e-5 → Java: 1.0E10 / 1.5E-5
        let (m, e) = sci.split_once('e').unwrap_or((&sci, "0"));
        let m = if m.contains('.') {
            m.to_owned()
        } else {
            format!("{m}.0")
        };
        format!("{m}E{e}")
    }
}

/// Appends a finite float as Java prints it, NaN/±Infinity as JSON strings.
fn write_float(out: &mut String, v: f64, plain: String, sci: String) {
    if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else {
        out.push_str(&java_number(v, plain, sci));
    }
}

/// Appends a float32 as Java's `Float.toString` would (NaN/Infinity as strings).
pub fn write_number_f32(out: &mut String, v: f32) {
    write_float(out, f64::from(v), format!("{v}"), format!("{v:e}"));
}

/// Appends a float64 as Java's `Double.toString` would (NaN/Infinity as strings).
pub fn write_number_f64(out: &mut String, v: f64) {
    write_float(out, v, format!("{v}"), format!("{v:e}"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_numbers_as_java_writes_them() {
        let mut s = String::new();
        write_json_string(&mut s, "a\"b\\\n\u{0}\u{96}é");
        assert_eq!(s, "\"a\\\"b\\\\\\n\\u0000\u{96}é\"");
        let mut n = String::new();
        write_number_f64(&mut n, 1.5);
        n.push(' ');
        write_number_f64(&mut n, 3.0);
        n.push(' ');
        write_number_f64(&mut n, 1e10);
        n.push(' ');
        write_number_f32(&mut n, 1.5e-5);
        assert_eq!(n, "1.5 3.0 1.0E10 1.5E-5");
    }
}

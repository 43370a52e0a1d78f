//! A column as Debezium's PostgreSQL connector describes it to the column
//! options ([`SourceColumn`]): its type name, length and scale, which come
//! from PgJDBC, and whether it is a character column.
//!
//! Debezium reads them in two ways, and they differ:
//! - [`Phase::Snapshot`] (the schema read at start, used by the snapshot):
//!   `DatabaseMetaData.getColumns`, whose `TYPE_NAME` is the type's name
//!   (`serial` / `bigserial` / `smallserial` for integer columns whose
//!   default calls `nextval(`, `"schema"."type"` for a type whose schema is
//!   not on the search path), whose `COLUMN_SIZE` is PgJDBC's precision
//!   (0 for `numeric` without precision) and whose `DECIMAL_DIGITS` is its
//!   scale (none for `numeric` without precision);
//! - [`Phase::Stream`] (the table rebuilt from a pgoutput Relation message):
//!   the bare type name, and with a type modifier PgJDBC's precision and
//!   scale for it, without one the type's default length (its display size
//!   when the precision is 0: 131089 for `numeric`) and scale.
//!
//! Domains take the length and scale of their base type under the domain's
//! modifier (Debezium's `PostgresType.getDefaultLength/Scale`) in both
//! phases. PgJDBC's numbers (`TypeInfoCache.getPrecision`, `getScale`,
//! `getDisplaySize`) are reproduced for the built-in types; any other type
//! has precision 2147483647 and scale 0, as there. Arrays take their
//! element's numbers when the element is one of PgJDBC's core types.
//!
//! Character columns (the JDBC types Debezium masks and hashes): `text`,
//! `varchar`, `bpchar`, `"char"`, `name` and enums (PgJDBC reports enums as
//! VARCHAR), and domains over them.

use velocity_api::debezium::columns::SourceColumn;

use super::Phase;
use crate::catalog::{Column, PgType, TypeKind};

/// PgJDBC's length of types it does not size (`unknownLength`).
const UNKNOWN_LENGTH: i32 = i32::MAX;

/// `column` as Debezium describes it in `phase`.
pub fn source_column(column: &Column, phase: Phase) -> SourceColumn {
    let t = &column.pg_type;
    let (length, scale) = match (&t.kind, phase) {
        (TypeKind::Domain { .. }, _) => (default_length(t), Some(default_scale(t))),
        (_, Phase::Snapshot) => {
            let unconstrained_numeric = t.is_builtin("numeric") && column.typmod < 0;
            (
                precision(t, column.typmod),
                (!unconstrained_numeric).then(|| scale(t, column.typmod)),
            )
        }
        (_, Phase::Stream) if column.typmod >= 0 => {
            (precision(t, column.typmod), Some(scale(t, column.typmod)))
        }
        (_, Phase::Stream) => (default_length(t), Some(default_scale(t))),
    };
    SourceColumn {
        name: column.name.clone(),
        type_name: type_name(column, phase),
        length: Some(length),
        scale,
        character: is_character(t),
    }
}

/// The type name: PgJDBC's `TYPE_NAME` in the snapshot, the bare name in
/// the stream.
fn type_name(column: &Column, phase: Phase) -> String {
    let t = &column.pg_type;
    if phase == Phase::Stream {
        return t.name.clone();
    }
    if t.schema == "pg_catalog" {
        let serial = column
            .default_expr
            .as_deref()
            .is_some_and(|d| d.contains("nextval("));
        return match t.name.as_str() {
            "int4" if serial => "serial".into(),
            "int8" if serial => "bigserial".into(),
            "int2" if serial => "smallserial".into(),
            name => name.into(),
        };
    }
    if t.schema == "public" {
        // on the search path: the name, quoted when it needs it
        let plain = !t.name.contains(['.', '"']) && t.name == t.name.to_lowercase();
        if plain {
            t.name.clone()
        } else {
            format!("\"{}\"", t.name)
        }
    } else {
        format!("\"{}\".\"{}\"", t.schema, t.name)
    }
}

/// True when Debezium's column has a character JDBC type.
fn is_character(t: &PgType) -> bool {
    match &t.kind {
        TypeKind::Enum { .. } => true,
        TypeKind::Domain { base, .. } => is_character(base),
        TypeKind::Base => {
            t.schema == "pg_catalog"
                && matches!(
                    t.name.as_str(),
                    "text" | "varchar" | "bpchar" | "char" | "name"
                )
        }
        _ => false,
    }
}

/// The built-in type whose numbers PgJDBC knows: the type itself, or the
/// element of an array of one of PgJDBC's core types.
fn sized(t: &PgType) -> Option<&str> {
    match &t.kind {
        TypeKind::Array { elem } if elem.schema == "pg_catalog" => match elem.name.as_str() {
            name @ ("int2" | "int4" | "oid" | "int8" | "money" | "numeric" | "float4"
            | "float8" | "char" | "bpchar" | "varchar" | "text" | "name" | "bytea"
            | "bool" | "bit" | "date" | "time" | "timetz" | "timestamp" | "timestamptz"
            | "json" | "point") => Some(name),
            _ => None,
        },
        TypeKind::Array { .. } => None,
        _ if t.schema == "pg_catalog" => Some(t.name.as_str()),
        _ => None,
    }
}

/// PgJDBC's `TypeInfoCache.getPrecision`.
fn precision(t: &PgType, typmod: i32) -> i32 {
    let Some(name) = sized(t) else {
        return UNKNOWN_LENGTH;
    };
    match name {
        "int2" => 5,
        "oid" | "int4" => 10,
        "int8" => 19,
        "float4" => 8,
        "float8" => 17,
        "numeric" if typmod == -1 => 0,
        "numeric" => ((typmod - 4) >> 16) & 0xFFFF,
        "char" | "bool" => 1,
        "bpchar" | "varchar" if typmod == -1 => UNKNOWN_LENGTH,
        "bpchar" | "varchar" => typmod - 4,
        "date" | "time" | "timetz" | "interval" | "timestamp" | "timestamptz" => {
            display_size(name, typmod)
        }
        "bit" => typmod,
        "varbit" if typmod == -1 => UNKNOWN_LENGTH,
        "varbit" => typmod,
        _ => UNKNOWN_LENGTH,
    }
}

/// PgJDBC's `TypeInfoCache.getScale`.
fn scale(t: &PgType, typmod: i32) -> i32 {
    match sized(t) {
        Some("float4") => 8,
        Some("float8") => 17,
        Some("numeric") if typmod == -1 => 0,
        Some("numeric") => (typmod - 4) & 0xFFFF,
        Some("time" | "timetz" | "timestamp" | "timestamptz") if typmod == -1 => 6,
        Some("time" | "timetz" | "timestamp" | "timestamptz") => typmod,
        Some("interval") if typmod == -1 => 6,
        Some("interval") => typmod & 0xFFFF,
        _ => 0,
    }
}

/// PgJDBC's `TypeInfoCache.getDisplaySize` of the types [`precision`]
/// sizes by it (and of `numeric`, for [`default_length`]).
fn display_size(name: &str, typmod: i32) -> i32 {
    let seconds = match typmod {
        -1 => 7,
        0 => 0,
        1 => 3,
        n => n + 1,
    };
    match name {
        "date" => 13,
        "time" => 8 + seconds,
        "timetz" => 8 + seconds + 6,
        "timestamp" => 13 + 1 + 8 + seconds,
        "timestamptz" => 13 + 1 + 8 + seconds + 6,
        "interval" => 49,
        "numeric" if typmod == -1 => 131_089,
        "numeric" => {
            let precision = ((typmod - 4) >> 16) & 0xFFFF;
            let scale = (typmod - 4) & 0xFFFF;
            1 + precision + i32::from(scale != 0)
        }
        _ => UNKNOWN_LENGTH,
    }
}

/// Debezium's `PostgresType.getDefaultLength` (no column type modifier).
fn default_length(t: &PgType) -> i32 {
    match &t.kind {
        TypeKind::Domain { base, base_typmod } if *base_typmod == -1 => default_length(base),
        TypeKind::Domain { base, base_typmod } => {
            let size = match precision(base, *base_typmod) {
                0 => sized(base).map_or(UNKNOWN_LENGTH, |n| display_size(n, *base_typmod)),
                p => p,
            };
            if size != 0 && size != UNKNOWN_LENGTH {
                size
            } else {
                UNKNOWN_LENGTH
            }
        }
        _ => match precision(t, -1) {
            0 => sized(t).map_or(UNKNOWN_LENGTH, |n| display_size(n, -1)),
            p => p,
        },
    }
}

/// Debezium's `PostgresType.getDefaultScale` (no column type modifier).
fn default_scale(t: &PgType) -> i32 {
    match &t.kind {
        TypeKind::Domain { base, base_typmod } if *base_typmod == -1 => default_scale(base),
        TypeKind::Domain { base, base_typmod } => scale(base, *base_typmod),
        _ => scale(t, -1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::types::tests::{array_of, base as builtin, col, ext};

    fn both(c: &Column) -> [(String, Option<i32>, Option<i32>); 2] {
        [Phase::Snapshot, Phase::Stream].map(|p| {
            let s = source_column(c, p);
            (s.type_name, s.length, s.scale)
        })
    }

    /// The numbers of tests/fixtures/postgres/columns/golden.jsonl (real
    /// Debezium 3.6.3): snapshot, then stream.
    #[test]
    fn lengths_and_scales_are_debeziums() {
        let m = i32::MAX;
        let t = |n: &str, typmod: i32| col(builtin(n), typmod);
        let s = |n: &str, l: i32, sc: Option<i32>| (n.to_owned(), Some(l), sc);
        let serial = Column {
            default_expr: Some("nextval('tms.masked_id_seq'::regclass)".into()),
            ..col(builtin("int4"), -1)
        };
        assert_eq!(
            both(&serial),
            [s("serial", 10, Some(0)), s("int4", 10, Some(0))]
        );
        for (c, want) in [
            (t("text", -1), s("text", m, Some(0))),
            (t("varchar", 11), s("varchar", 7, Some(0))),
            (t("bpchar", 7), s("bpchar", 3, Some(0))),
            (t("numeric", ((8 << 16) | 3) + 4), s("numeric", 8, Some(3))),
            (t("int8", -1), s("int8", 19, Some(0))),
            (t("int2", -1), s("int2", 5, Some(0))),
            (t("float4", -1), s("float4", 8, Some(8))),
            (t("bool", -1), s("bool", 1, Some(0))),
            (t("timestamptz", 3), s("timestamptz", 32, Some(3))),
            (t("timestamp", -1), s("timestamp", 29, Some(6))),
            (t("time", 2), s("time", 11, Some(2))),
            (t("interval", -1), s("interval", 49, Some(6))),
            (t("jsonb", -1), s("jsonb", m, Some(0))),
            (t("bit", 3), s("bit", 3, Some(0))),
            (t("float8", -1), s("float8", 17, Some(17))),
            (t("date", -1), s("date", 13, Some(0))),
            (t("uuid", -1), s("uuid", m, Some(0))),
        ] {
            assert_eq!(both(&c), [want.clone(), want]);
        }
        // numeric without precision: JDBC's 0 and no scale, the stream's display size
        assert_eq!(
            both(&t("numeric", -1)),
            [s("numeric", 0, None), s("numeric", 131_089, Some(0))]
        );
        let mood = PgType {
            oid: 0,
            schema: "tms".into(),
            name: "mood".into(),
            kind: TypeKind::Enum {
                labels: vec!["happy".into()],
            },
        };
        assert_eq!(
            both(&col(mood.clone(), -1)),
            [s("\"tms\".\"mood\"", m, Some(0)), s("mood", m, Some(0))]
        );
        assert!(source_column(&col(mood, -1), Phase::Stream).character);
        let c = source_column(&col(ext("citext"), -1), Phase::Snapshot);
        assert_eq!(c.type_name, "citext");
        assert!(!c.character);
    }

    #[test]
    fn character_columns() {
        for (name, character) in [
            ("text", true),
            ("varchar", true),
            ("bpchar", true),
            ("char", true),
            ("name", true),
            ("json", false),
            ("int4", false),
            ("bytea", false),
        ] {
            assert_eq!(is_character(&builtin(name)), character, "{name}");
        }
        let domain = PgType {
            oid: 0,
            schema: "tms".into(),
            name: "code".into(),
            kind: TypeKind::Domain {
                base: Box::new(builtin("varchar")),
                base_typmod: 12,
            },
        };
        assert!(is_character(&domain));
        // a domain's length and scale are its base type's under its modifier
        let c = source_column(&col(domain, -1), Phase::Snapshot);
        assert_eq!((c.length, c.scale), (Some(8), Some(0)));
        let array = array_of(builtin("varchar"));
        assert!(!is_character(&array));
        assert_eq!(
            source_column(&col(array, 14), Phase::Stream).length,
            Some(10)
        );
    }
}

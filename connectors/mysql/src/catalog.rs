//! Table metadata read from `information_schema`: the captured tables, their
//! columns (type, nullability, signedness, precision, charset) and primary
//! keys.
//!
//! The table definitions the reader decodes rows with come from the parsed
//! DDL ([`crate::ddl`], replayed from the schema history); this module is the
//! fallback for a table the model does not know (or whose column count
//! disagrees with the binlog's TABLE_MAP): its *current* definition is read
//! from `information_schema`.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// `DATA_TYPE`, lower-case (`int`, `varchar`, `enum`, …).
    pub data_type: String,
    /// `COLUMN_TYPE`, lower-case (`int(10) unsigned`, `enum('a','b')`, …).
    pub column_type: String,
    /// Nullable.
    pub nullable: bool,
    /// `NUMERIC_PRECISION` (or BIT length).
    pub precision: Option<u32>,
    /// `NUMERIC_SCALE`.
    pub scale: Option<u32>,
    /// `DATETIME_PRECISION` (fractional second digits), 0 when absent.
    pub fsp: u32,
    /// `CHARACTER_SET_NAME`.
    pub charset: Option<String>,
    /// Declared length (CHAR(n), VARCHAR(n), INT(n) display width …).
    pub length: Option<u32>,
    /// The DEFAULT expression as written (string literals unquoted); None
    /// without a DEFAULT clause.
    pub default: Option<String>,
    /// `AUTO_INCREMENT`.
    pub auto_increment: bool,
    /// A generated (computed) column.
    pub generated: bool,
    /// `COMMENT '…'`.
    pub comment: Option<String>,
}

impl Column {
    /// True for `… unsigned` numeric columns.
    pub fn unsigned(&self) -> bool {
        self.column_type.contains("unsigned")
    }

    /// The labels of an ENUM or SET column, in definition order.
    pub fn labels(&self) -> Vec<String> {
        let Some(open) = self.column_type.find('(') else {
            return Vec::new();
        };
        let inner = self.column_type[open + 1..]
            .strip_suffix(')')
            .unwrap_or(&self.column_type[open + 1..]);
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut in_quote = false;
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, in_quote) {
                ('\'', false) => in_quote = true,
                ('\'', true) if chars.peek() == Some(&'\'') => {
                    chars.next();
                    cur.push('\'');
                }
                ('\'', true) => {
                    in_quote = false;
                    out.push(std::mem::take(&mut cur));
                }
                ('\\', true) => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                (c, true) => cur.push(c),
                _ => {}
            }
        }
        out
    }
}

/// A table's definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Database.
    pub db: String,
    /// Table name.
    pub name: String,
    /// Columns in ordinal order (the binlog row order).
    pub columns: Vec<Column>,
    /// Primary key column names in key order (empty: no primary key).
    pub primary_key: Vec<String>,
    /// The table's default character set.
    pub default_charset: Option<String>,
}

/// Lists the base tables of the server as `(db, table)`, sorted.
pub async fn list_tables(conn: &mut Conn) -> mysql_async::Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES \
             WHERE TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_SCHEMA, TABLE_NAME",
        )
        .await?;
    Ok(rows)
}

fn opt_u32(row: &Row, i: usize) -> Option<u32> {
    row.get::<Option<u64>, _>(i).flatten().map(|v| v as u32)
}

/// Loads one table's definition; None when it does not exist (any more).
pub async fn load_table(
    conn: &mut Conn,
    db: &str,
    table: &str,
) -> mysql_async::Result<Option<Table>> {
    let rows: Vec<Row> = conn
        .exec(
            "SELECT COLUMN_NAME, LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), IS_NULLABLE, \
             NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, \
             COLUMN_DEFAULT, EXTRA, CHARACTER_MAXIMUM_LENGTH \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
             ORDER BY ORDINAL_POSITION",
            (db, table),
        )
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let columns = rows
        .iter()
        .map(|r| {
            let data_type: String = r.get(1).unwrap_or_default();
            let column_type: String = r.get(2).unwrap_or_default();
            let mut precision = opt_u32(r, 4);
            if data_type == "bit" {
                precision = column_type
                    .trim_start_matches("bit(")
                    .trim_end_matches(')')
                    .parse()
                    .ok()
                    .or(precision);
            }
            Column {
                name: r.get(0).unwrap_or_default(),
                data_type,
                column_type,
                nullable: r.get::<String, _>(3).as_deref() == Some("YES"),
                precision,
                scale: opt_u32(r, 5),
                fsp: opt_u32(r, 6).unwrap_or(0),
                charset: r.get::<Option<String>, _>(7).flatten(),
                length: opt_u32(r, 10),
                default: r
                    .get::<Option<String>, _>(8)
                    .flatten()
                    .filter(|d| d != "NULL")
                    .map(
                        |d| match d.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
                            Some(inner) => inner.replace("''", "'"),
                            None => d,
                        },
                    ),
                auto_increment: r
                    .get::<Option<String>, _>(9)
                    .flatten()
                    .is_some_and(|e| e.to_ascii_lowercase().contains("auto_increment")),
                generated: false,
                comment: None,
            }
        })
        .collect();
    let primary_key: Vec<String> = conn
        .exec(
            "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' \
             ORDER BY SEQ_IN_INDEX",
            (db, table),
        )
        .await?;
    Ok(Some(Table {
        db: db.to_owned(),
        name: table.to_owned(),
        columns,
        primary_key,
        default_charset: None,
    }))
}

/// Quotes an identifier with backticks.
pub fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// Quotes a string literal (`'…'`, with `\\` and `'` escaped), for a
/// session without `NO_BACKSLASH_ESCAPES` in its `sql_mode`.
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(ct: &str) -> Column {
        Column {
            name: "c".into(),
            data_type: ct.split('(').next().unwrap().into(),
            column_type: ct.into(),
            nullable: true,
            precision: None,
            scale: None,
            fsp: 0,
            charset: None,
            ..Column::default()
        }
    }

    #[test]
    fn enum_labels_with_quotes() {
        assert_eq!(
            col("enum('a','b c','it''s')").labels(),
            vec!["a", "b c", "it's"]
        );
        assert_eq!(col("set('x','y')").labels(), vec!["x", "y"]);
    }

    #[test]
    fn unsigned_flag() {
        assert!(col("int(10) unsigned").unsigned());
        assert!(!col("int(11)").unsigned());
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a`b"), "`a``b`");
    }
}

//! A DDL parser for the statements MySQL / MariaDB write to the binlog as
//! QUERY events, and the in-memory table model it maintains.
//!
//! Covered (what the TMS uses): `CREATE TABLE` (columns, types, `NOT NULL`,
//! `DEFAULT`, `PRIMARY KEY` / `KEY` / `UNIQUE`, `AUTO_INCREMENT`, charset and
//! collation clauses, table options, `LIKE`), `ALTER TABLE` (`ADD` / `DROP` /
//! `MODIFY` / `CHANGE` / `RENAME COLUMN`, `ALTER COLUMN … SET/DROP DEFAULT`,
//! `ADD` / `DROP` keys and `PRIMARY KEY`, `RENAME TO`, `CONVERT TO CHARACTER
//! SET`, default charset), `DROP TABLE`, `RENAME TABLE`, `TRUNCATE TABLE`,
//! `CREATE` / `ALTER` / `DROP DATABASE`, `USE`. Versioned comments
//! (`/*!50100 … */`, `/*M! … */`) are read as SQL, other comments skipped.
//!
//! Contract: [`Tables::apply`] never fails. A statement it does not
//! understand leaves the model unchanged and reports
//! [`Outcome::understood`] = false (the caller logs and records it); a
//! statement that names an unknown table changes nothing for that table.
//! Column names are matched case-insensitively, as MySQL does.

use std::collections::{BTreeMap, HashMap};

use crate::catalog::{Column, Table};

/// One lexical token.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An unquoted word (keyword or identifier), as written.
    Word(String),
    /// A backtick-quoted identifier, unquoted.
    Ident(String),
    /// A quoted string (`'…'` or `"…"`), unescaped.
    Str(String),
    /// A number.
    Num(String),
    /// A literal such as `b'101'`, `x'ff'`, `0x1f`, kept as written.
    Lit(String),
    /// Punctuation.
    Sym(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn tokenize(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut versioned = 0usize;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        // comments
        if c == b'#'
            || (c == b'-'
                && b.get(i + 1) == Some(&b'-')
                && b.get(i + 2).is_none_or(|x| x.is_ascii_whitespace()))
        {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            if b.get(i + 2) == Some(&b'!')
                || (b.get(i + 2) == Some(&b'M') && b.get(i + 3) == Some(&b'!'))
            {
                i += if b[i + 2] == b'M' { 4 } else { 3 };
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                versioned += 1;
                continue;
            }
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == b'*' && b.get(i + 1) == Some(&b'/') && versioned > 0 {
            versioned -= 1;
            i += 2;
            continue;
        }
        let start = i;
        // quoted strings and identifiers
        if c == b'\'' || c == b'"' || c == b'`' {
            let q = c;
            let mut s = Vec::new();
            i += 1;
            while i < b.len() {
                if b[i] == q {
                    if b.get(i + 1) == Some(&q) {
                        s.push(q);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                if b[i] == b'\\' && q != b'`' && i + 1 < b.len() {
                    let e = b[i + 1];
                    s.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'0' => 0,
                        other => other,
                    });
                    i += 2;
                    continue;
                }
                s.push(b[i]);
                i += 1;
            }
            let text = String::from_utf8_lossy(&s).into_owned();
            let tok = if q == b'`' {
                Tok::Ident(text)
            } else {
                Tok::Str(text)
            };
            out.push(Token { tok, start, end: i });
            continue;
        }
        // b'0101', x'ff', X'FF'
        if matches!(c, b'b' | b'B' | b'x' | b'X') && b.get(i + 1) == Some(&b'\'') {
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i = (i + 1).min(b.len());
            out.push(Token {
                tok: Tok::Lit(sql[start..i].to_owned()),
                start,
                end: i,
            });
            continue;
        }
        if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X' | b'b' | b'B')) {
                i += 2;
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Lit(sql[start..i].to_owned()),
                    start,
                    end: i,
                });
                continue;
            }
            while i < b.len()
                && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'e' || b[i] == b'E')
            {
                i += 1;
            }
            // identifiers may start with digits (`1abc`)
            if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_' || b[i] == b'$') {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'$'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Word(sql[start..i].to_owned()),
                    start,
                    end: i,
                });
            } else {
                out.push(Token {
                    tok: Tok::Num(sql[start..i].to_owned()),
                    start,
                    end: i,
                });
            }
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80 {
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$' || b[i] >= 0x80)
            {
                i += 1;
            }
            out.push(Token {
                tok: Tok::Word(sql[start..i].to_owned()),
                start,
                end: i,
            });
            continue;
        }
        // a multi-byte char outside the cases above cannot happen (>= 0x80 is a word)
        i += 1;
        out.push(Token {
            tok: Tok::Sym(c as char),
            start,
            end: i,
        });
    }
    out
}

/// The kind of a table change, as Debezium's `tableChanges[].type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `CREATE`.
    Create,
    /// `ALTER`.
    Alter,
    /// `DROP`.
    Drop,
}

impl ChangeKind {
    /// `CREATE`, `ALTER` or `DROP`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Create => "CREATE",
            ChangeKind::Alter => "ALTER",
            ChangeKind::Drop => "DROP",
        }
    }
}

/// One table affected by a statement: the definition after the change
/// (before it, for `DROP`).
#[derive(Debug, Clone, PartialEq)]
pub struct TableChange {
    /// What happened.
    pub kind: ChangeKind,
    /// The table definition.
    pub table: Table,
}

/// What [`Tables::apply`] did with a statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The statement was recognised (even if it changed nothing).
    pub understood: bool,
    /// Tables created, altered or dropped, in statement order.
    pub changes: Vec<TableChange>,
    /// The database the statement is about (its target, else the session's).
    pub database: String,
    /// The statement changes table definitions or databases (CREATE /
    /// ALTER / DROP / RENAME / TRUNCATE).
    pub is_ddl: bool,
    /// `TRUNCATE [TABLE]`: the (database, table) emptied.
    pub truncated: Option<(String, String)>,
}

/// The table model: every table definition known, by (database, table).
#[derive(Debug, Clone, Default)]
pub struct Tables {
    tables: BTreeMap<(String, String), Table>,
    db_charsets: HashMap<String, String>,
    /// MariaDB semantics (JSON is an alias of LONGTEXT).
    pub mariadb: bool,
}

fn norm(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// The charset of a collation name (`latin1_swedish_ci` → `latin1`).
pub fn charset_of_collation(c: &str) -> String {
    let c = c.to_ascii_lowercase();
    if c == "binary" {
        return c;
    }
    c.split('_').next().unwrap_or(&c).to_owned()
}

impl Tables {
    /// An empty model.
    pub fn new(mariadb: bool) -> Tables {
        Tables {
            mariadb,
            ..Tables::default()
        }
    }

    /// The definition of `db`.`table` (case-insensitive), if known.
    pub fn get(&self, db: &str, table: &str) -> Option<&Table> {
        self.tables.get(&(norm(db), norm(table)))
    }

    /// Adds or replaces a definition (e.g. read from `information_schema`).
    pub fn put(&mut self, table: Table) {
        self.tables
            .insert((norm(&table.db), norm(&table.name)), table);
    }

    /// Number of known tables.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// True when no table is known.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Forgets everything (before a replay).
    pub fn clear(&mut self) {
        self.tables.clear();
        self.db_charsets.clear();
    }

    /// Applies one statement executed with session database `current_db`.
    pub fn apply(&mut self, current_db: &str, sql: &str) -> Outcome {
        let toks = tokenize(sql);
        let mut p = Parser {
            toks: &toks,
            i: 0,
            sql,
            mariadb: self.mariadb,
        };
        let mut out = Outcome {
            database: current_db.to_owned(),
            ..Outcome::default()
        };
        let first = p.word();
        match first.as_deref() {
            Some("create") => {
                out.is_ddl = true;
                p.eat("or");
                p.eat("replace");
                p.eat("temporary");
                if p.eat("database") || p.eat("schema") {
                    p.if_exists();
                    if let Some(db) = p.ident() {
                        if let Some(cs) = p.charset_option() {
                            self.db_charsets.insert(norm(&db), cs);
                        }
                        out.database = db;
                    }
                    out.understood = true;
                } else if p.eat("table") {
                    p.if_exists();
                    out.understood = self.create_table(&mut p, current_db, &mut out);
                } else {
                    // CREATE INDEX / VIEW / PROCEDURE / USER …: no table definition changes
                    out.understood = p.peek_word().is_some_and(|w| {
                        matches!(
                            w.as_str(),
                            "index" | "unique" | "fulltext" | "spatial" | "view" | "user"
                        )
                    });
                    if out.understood {
                        if let Some(pos) = p.find_word("on") {
                            p.i = pos + 1;
                            if let Some((db, _)) = p.table_name(current_db) {
                                out.database = db;
                            }
                        }
                    }
                }
            }
            Some("alter") => {
                out.is_ddl = true;
                p.eat("online");
                p.eat("ignore");
                if p.eat("database") || p.eat("schema") {
                    let db = match p.peek_word().as_deref() {
                        Some("character" | "charset" | "default" | "collate") | None => {
                            current_db.to_owned()
                        }
                        _ => p.ident().unwrap_or_default(),
                    };
                    if let Some(cs) = p.charset_option() {
                        self.db_charsets.insert(norm(&db), cs);
                    }
                    out.database = db;
                    out.understood = true;
                } else if p.eat("table") {
                    out.understood = self.alter_table(&mut p, current_db, &mut out);
                }
            }
            Some("drop") => {
                out.is_ddl = true;
                let temporary = p.eat("temporary");
                if p.eat("database") || p.eat("schema") {
                    p.if_exists();
                    if let Some(db) = p.ident() {
                        let key = norm(&db);
                        let gone: Vec<(String, String)> = self
                            .tables
                            .keys()
                            .filter(|(d, _)| *d == key)
                            .cloned()
                            .collect();
                        for k in gone {
                            if let Some(t) = self.tables.remove(&k) {
                                out.changes.push(TableChange {
                                    kind: ChangeKind::Drop,
                                    table: t,
                                });
                            }
                        }
                        self.db_charsets.remove(&key);
                        out.database = db;
                    }
                    out.understood = true;
                } else if p.eat("table") || p.eat("tables") {
                    p.if_exists();
                    while let Some((db, name)) = p.table_name(current_db) {
                        out.database = db.clone();
                        if !temporary {
                            if let Some(t) = self.tables.remove(&(norm(&db), norm(&name))) {
                                out.changes.push(TableChange {
                                    kind: ChangeKind::Drop,
                                    table: t,
                                });
                            }
                        }
                        if !p.sym(',') {
                            break;
                        }
                    }
                    out.understood = true;
                } else {
                    out.understood = p
                        .peek_word()
                        .is_some_and(|w| matches!(w.as_str(), "index" | "view" | "user"));
                }
            }
            Some("rename") => {
                out.is_ddl = true;
                if p.eat("table") || p.eat("tables") {
                    while let Some((db, name)) = p.table_name(current_db) {
                        if !p.eat("to") {
                            break;
                        }
                        let Some((ndb, nname)) = p.table_name(current_db) else {
                            break;
                        };
                        out.database = db.clone();
                        self.rename(&db, &name, &ndb, &nname, &mut out);
                        if !p.sym(',') {
                            break;
                        }
                    }
                    out.understood = true;
                }
            }
            Some("truncate") => {
                out.is_ddl = true;
                p.eat("table");
                if let Some((db, table)) = p.table_name(current_db) {
                    out.database = db.clone();
                    out.truncated = Some((db, table));
                    out.understood = true;
                }
            }
            Some("use") => {
                if let Some(db) = p.ident() {
                    out.database = db;
                    out.understood = true;
                }
            }
            Some("set") => {
                // SET character_set_server=…, SET NAMES: no table changes
                out.understood = true;
            }
            _ => {}
        }
        out
    }

    fn rename(&mut self, db: &str, name: &str, ndb: &str, nname: &str, out: &mut Outcome) {
        if let Some(mut t) = self.tables.remove(&(norm(db), norm(name))) {
            out.changes.push(TableChange {
                kind: ChangeKind::Drop,
                table: t.clone(),
            });
            t.db = ndb.to_owned();
            t.name = nname.to_owned();
            out.changes.push(TableChange {
                kind: ChangeKind::Create,
                table: t.clone(),
            });
            self.put(t);
        }
    }

    fn default_charset(&self, db: &str) -> Option<String> {
        self.db_charsets.get(&norm(db)).cloned()
    }

    fn create_table(&mut self, p: &mut Parser<'_>, current_db: &str, out: &mut Outcome) -> bool {
        let Some((db, name)) = p.table_name(current_db) else {
            return false;
        };
        out.database = db.clone();
        let like_in_parens = p.peek() == Some(&Tok::Sym('('))
            && matches!(p.toks.get(p.i + 1).map(|t| &t.tok), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("like"));
        if like_in_parens {
            p.i += 1;
        }
        if p.eat("like") {
            let Some((sdb, sname)) = p.table_name(current_db) else {
                return false;
            };
            let Some(mut t) = self.get(&sdb, &sname).cloned() else {
                return true;
            };
            t.db = db;
            t.name = name;
            out.changes.push(TableChange {
                kind: ChangeKind::Create,
                table: t.clone(),
            });
            self.put(t);
            return true;
        }
        if !p.sym('(') {
            // CREATE TABLE … SELECT without a column list: unknown columns
            return false;
        }
        let mut t = Table {
            db: db.clone(),
            name,
            columns: Vec::new(),
            primary_key: Vec::new(),
            default_charset: None,
        };
        loop {
            if p.sym(')') || p.at_end() {
                break;
            }
            if !p.table_element(&mut t) {
                return false;
            }
            if !p.sym(',') {
                if !p.sym(')') {
                    return false;
                }
                break;
            }
        }
        t.default_charset = p.charset_option().or_else(|| self.default_charset(&db));
        inherit_charset(&mut t);
        out.changes.push(TableChange {
            kind: ChangeKind::Create,
            table: t.clone(),
        });
        self.put(t);
        true
    }

    fn alter_table(&mut self, p: &mut Parser<'_>, current_db: &str, out: &mut Outcome) -> bool {
        let Some((db, name)) = p.table_name(current_db) else {
            return false;
        };
        out.database = db.clone();
        let key = (norm(&db), norm(&name));
        let Some(mut t) = self.tables.get(&key).cloned() else {
            // unknown (not captured, or created before the history began)
            return true;
        };
        let original = t.clone();
        let mut renamed: Option<(String, String)> = None;
        loop {
            if p.at_end() {
                break;
            }
            let ok = p.alter_spec(&mut t, current_db, &mut renamed);
            if !ok {
                return false;
            }
            p.skip_to_comma();
            if !p.sym(',') {
                break;
            }
        }
        inherit_charset(&mut t);
        self.tables.remove(&key);
        if let Some((ndb, nname)) = renamed {
            out.changes.push(TableChange {
                kind: ChangeKind::Drop,
                table: original,
            });
            t.db = ndb;
            t.name = nname;
            out.changes.push(TableChange {
                kind: ChangeKind::Create,
                table: t.clone(),
            });
        } else {
            out.changes.push(TableChange {
                kind: ChangeKind::Alter,
                table: t.clone(),
            });
        }
        self.put(t);
        true
    }
}

/// Text columns without their own charset take the table's default.
fn inherit_charset(t: &mut Table) {
    for c in &mut t.columns {
        if c.charset.is_none() && is_text_type(&c.data_type) {
            c.charset = t.default_charset.clone();
        }
    }
}

/// True for character types (which carry a charset).
pub fn is_text_type(dt: &str) -> bool {
    matches!(
        dt,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
    )
}

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    sql: &'a str,
    mariadb: bool,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.toks.len() || matches!(self.toks[self.i].tok, Tok::Sym(';'))
    }

    fn peek(&self) -> Option<&Tok> {
        if self.at_end() {
            None
        } else {
            Some(&self.toks[self.i].tok)
        }
    }

    fn peek_word(&self) -> Option<String> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn word(&mut self) -> Option<String> {
        let w = self.peek_word()?;
        self.i += 1;
        Some(w)
    }

    fn eat(&mut self, kw: &str) -> bool {
        if self.peek_word().as_deref() == Some(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn sym(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn find_word(&self, kw: &str) -> Option<usize> {
        (self.i..self.toks.len())
            .find(|&j| matches!(&self.toks[j].tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw)))
    }

    fn if_exists(&mut self) {
        if self.eat("if") {
            self.eat("not");
            self.eat("exists");
        }
    }

    /// An identifier: backquoted, double-quoted, or a bare word.
    fn ident(&mut self) -> Option<String> {
        let s = match self.peek()? {
            Tok::Ident(s) | Tok::Str(s) | Tok::Word(s) => s.clone(),
            _ => return None,
        };
        self.i += 1;
        Some(s)
    }

    /// `name` or `db.name`.
    fn table_name(&mut self, current_db: &str) -> Option<(String, String)> {
        let first = self.ident()?;
        if self.sym('.') {
            let second = self.ident()?;
            Some((first, second))
        } else {
            Some((current_db.to_owned(), first))
        }
    }

    /// Skips a balanced `( … )` if next; returns the text inside.
    fn parens(&mut self) -> Option<String> {
        if self.peek() != Some(&Tok::Sym('(')) {
            return None;
        }
        let open = self.i;
        let mut depth = 0;
        while self.i < self.toks.len() {
            match self.toks[self.i].tok {
                Tok::Sym('(') => depth += 1,
                Tok::Sym(')') => {
                    depth -= 1;
                    if depth == 0 {
                        let text =
                            self.sql[self.toks[open].end..self.toks[self.i].start].to_owned();
                        self.i += 1;
                        return Some(text);
                    }
                }
                _ => {}
            }
            self.i += 1;
        }
        Some(self.sql[self.toks[open].end..].to_owned())
    }

    /// The tokens of a balanced `( … )` (exclusive), advancing past it.
    fn paren_tokens(&mut self) -> Vec<Tok> {
        let start = self.i + 1;
        if self.parens().is_none() {
            return Vec::new();
        }
        self.toks[start..self.i - 1]
            .iter()
            .map(|t| t.tok.clone())
            .collect()
    }

    /// Skips to the next `,` or `)` at this nesting level (not consuming it).
    fn skip_to_comma(&mut self) {
        while !self.at_end() {
            match self.peek() {
                Some(Tok::Sym(',')) | Some(Tok::Sym(')')) => return,
                Some(Tok::Sym('(')) => {
                    self.parens();
                }
                _ => self.i += 1,
            }
        }
    }

    /// A column name list `(a, b(10) DESC, …)`.
    fn column_list(&mut self) -> Vec<String> {
        let toks = self.paren_tokens();
        let mut out = Vec::new();
        let mut depth = 0;
        let mut expect = true;
        for t in toks {
            match t {
                Tok::Sym('(') => depth += 1,
                Tok::Sym(')') => depth -= 1,
                Tok::Sym(',') if depth == 0 => expect = true,
                Tok::Ident(s) | Tok::Word(s) | Tok::Str(s) if depth == 0 && expect => {
                    out.push(s);
                    expect = false;
                }
                _ => {}
            }
        }
        out
    }

    /// `[DEFAULT] CHARACTER SET|CHARSET [=] x` / `COLLATE [=] x` table or
    /// database options, until the end; returns the charset named.
    fn charset_option(&mut self) -> Option<String> {
        let mut cs = None;
        let mut collate = None;
        while !self.at_end() {
            match self.peek_word().as_deref() {
                Some("character") => {
                    self.i += 1;
                    self.eat("set");
                    self.sym('=');
                    cs = self.ident().map(|s| s.to_ascii_lowercase());
                }
                Some("charset") => {
                    self.i += 1;
                    self.sym('=');
                    cs = self.ident().map(|s| s.to_ascii_lowercase());
                }
                Some("collate") => {
                    self.i += 1;
                    self.sym('=');
                    collate = self.ident().map(|s| charset_of_collation(&s));
                }
                _ => {
                    if self.peek() == Some(&Tok::Sym('(')) {
                        self.parens();
                    } else {
                        self.i += 1;
                    }
                }
            }
        }
        cs.or(collate)
    }

    /// One element of a CREATE TABLE body: a column or a constraint / index.
    fn table_element(&mut self, t: &mut Table) -> bool {
        let w = self.peek_word();
        match w.as_deref() {
            Some("constraint") => {
                self.i += 1;
                if !matches!(
                    self.peek_word().as_deref(),
                    Some("primary" | "unique" | "foreign" | "check")
                ) {
                    self.ident();
                }
                self.table_element(t)
            }
            Some("primary") => {
                self.i += 1;
                self.eat("key");
                self.index_options_before_columns();
                t.primary_key = self.column_list();
                self.skip_to_comma();
                true
            }
            Some(
                "unique" | "key" | "index" | "fulltext" | "spatial" | "foreign" | "check"
                | "period" | "system",
            ) => {
                self.skip_to_comma();
                true
            }
            _ => {
                // a column definition
                let pos = self.i;
                match self.column_def() {
                    Some((c, pk)) => {
                        if pk {
                            t.primary_key = vec![c.name.clone()];
                        }
                        t.columns.push(c);
                        true
                    }
                    None => {
                        self.i = pos;
                        false
                    }
                }
            }
        }
    }

    fn index_options_before_columns(&mut self) {
        // [index_name] [USING BTREE|HASH] before the column list
        while !self.at_end() && self.peek() != Some(&Tok::Sym('(')) {
            self.i += 1;
        }
    }

    /// A column definition: name, type and attributes. Returns the column
    /// and whether it is declared `PRIMARY KEY` inline.
    fn column_def(&mut self) -> Option<(Column, bool)> {
        let name = self.ident()?;
        let mut ty = self.word()?;
        match ty.as_str() {
            "double" => {
                self.eat("precision");
            }
            "national" => {
                ty = self.word()?;
            }
            "long" => {
                ty = if self.eat("varbinary") {
                    "mediumblob".into()
                } else {
                    self.eat("varchar");
                    "mediumtext".into()
                };
            }
            "character" | "char" if self.eat("varying") => ty = "varchar".into(),
            _ => {}
        }
        let args_toks: Vec<Tok> = if self.peek() == Some(&Tok::Sym('(')) {
            self.paren_tokens()
        } else {
            Vec::new()
        };
        let nums: Vec<u32> = args_toks
            .iter()
            .filter_map(|t| match t {
                Tok::Num(n) => n.parse().ok(),
                _ => None,
            })
            .collect();
        let labels: Vec<String> = args_toks
            .iter()
            .filter_map(|t| match t {
                Tok::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let (data_type, mut implied_len): (String, Option<u32>) = match ty.as_str() {
            "integer" => ("int".into(), None),
            "int1" => ("tinyint".into(), None),
            "int2" => ("smallint".into(), None),
            "int3" | "middleint" => ("mediumint".into(), None),
            "int4" => ("int".into(), None),
            "int8" => ("bigint".into(), None),
            "bool" | "boolean" => ("tinyint".into(), Some(1)),
            "dec" | "numeric" | "fixed" => ("decimal".into(), None),
            "real" | "float8" => ("double".into(), None),
            "float4" => ("float".into(), None),
            "json" if self.mariadb => ("longtext".into(), None),
            "serial" => ("bigint".into(), None),
            "nchar" => ("char".into(), None),
            "nvarchar" => ("varchar".into(), None),
            other => (other.to_owned(), None),
        };
        let mut c = Column {
            name,
            data_type: data_type.clone(),
            nullable: true,
            ..Column::default()
        };
        let mut unsigned = ty == "serial";
        let mut zerofill = false;
        let mut pk = false;
        let mut auto_inc = ty == "serial";
        if ty == "serial" {
            c.nullable = false;
        }
        // attributes
        while !self.at_end() {
            match self.peek() {
                Some(Tok::Sym(',')) | Some(Tok::Sym(')')) => break,
                Some(Tok::Sym('(')) => {
                    self.parens();
                    continue;
                }
                Some(Tok::Word(_)) => {}
                _ => {
                    self.i += 1;
                    continue;
                }
            }
            let w = self.word().unwrap_or_default();
            match w.as_str() {
                "unsigned" => unsigned = true,
                "signed" => {}
                "zerofill" => {
                    zerofill = true;
                    unsigned = true;
                }
                "character" => {
                    self.eat("set");
                    c.charset = self.ident().map(|s| s.to_ascii_lowercase());
                }
                "charset" => c.charset = self.ident().map(|s| s.to_ascii_lowercase()),
                "collate" => {
                    let coll = self.ident().unwrap_or_default();
                    if c.charset.is_none() {
                        c.charset = Some(charset_of_collation(&coll));
                    }
                }
                "not" if self.eat("null") => c.nullable = false,
                "null" => c.nullable = true,
                "default" => {
                    c.default = self.default_expr();
                }
                "auto_increment" => auto_inc = true,
                "primary" => {
                    self.eat("key");
                    pk = true;
                    c.nullable = false;
                }
                "key" => {
                    pk = true;
                    c.nullable = false;
                }
                "unique" => {
                    self.eat("key");
                }
                "comment" => {
                    if let Some(Tok::Str(s)) = self.peek().cloned() {
                        c.comment = Some(s);
                        self.i += 1;
                    }
                }
                "on" => {
                    // ON UPDATE expr
                    self.eat("update");
                    self.default_expr();
                }
                "generated" => {
                    self.eat("always");
                }
                "as" => {
                    self.parens();
                    c.generated = true;
                }
                "references" => {
                    self.skip_to_comma();
                }
                "check" => {
                    self.parens();
                }
                _ => {}
            }
        }
        c.auto_increment = auto_inc;
        // the COLUMN_TYPE as information_schema spells it
        let mut column_type = data_type.clone();
        match data_type.as_str() {
            "enum" | "set" => {
                let quoted: Vec<String> = labels
                    .iter()
                    .map(|l| format!("'{}'", l.replace('\'', "''")))
                    .collect();
                column_type = format!("{data_type}({})", quoted.join(","));
            }
            _ => {
                if nums.is_empty() {
                    if let Some(l) = implied_len.take() {
                        column_type = format!("{data_type}({l})");
                    }
                } else {
                    let n: Vec<String> = nums.iter().map(u32::to_string).collect();
                    column_type = format!("{data_type}({})", n.join(","));
                }
                if unsigned {
                    column_type.push_str(" unsigned");
                }
                if zerofill {
                    column_type.push_str(" zerofill");
                }
            }
        }
        c.column_type = column_type;
        match data_type.as_str() {
            "decimal" => {
                c.precision = Some(nums.first().copied().unwrap_or(10));
                c.scale = Some(nums.get(1).copied().unwrap_or(0));
            }
            "float" | "double" => {
                c.precision = nums.first().copied();
                c.scale = nums.get(1).copied();
            }
            "bit" => c.precision = Some(nums.first().copied().unwrap_or(1)),
            "time" | "datetime" | "timestamp" => c.fsp = nums.first().copied().unwrap_or(0),
            "char" | "binary" => c.length = Some(nums.first().copied().unwrap_or(1)),
            _ => c.length = nums.first().copied(),
        }
        if !is_text_type(&data_type) {
            // binary and non-character types carry no charset
            c.charset = None;
        }
        Some((c, pk))
    }

    /// A DEFAULT expression, as written (`'x'` → `x` for strings).
    fn default_expr(&mut self) -> Option<String> {
        let neg = self.sym('-');
        let t = self.peek()?.clone();
        self.i += 1;
        let mut s = match t {
            Tok::Str(s) => return Some(s),
            Tok::Num(n) => {
                if neg {
                    format!("-{n}")
                } else {
                    n
                }
            }
            Tok::Lit(l) => l,
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => return None,
            Tok::Word(w) => w,
            Tok::Ident(i) => i,
            Tok::Sym('(') => {
                self.i -= 1;
                let inner = self.parens().unwrap_or_default();
                return Some(inner.trim().to_owned());
            }
            Tok::Sym(c) => c.to_string(),
        };
        if self.peek() == Some(&Tok::Sym('(')) {
            let inner = self.parens().unwrap_or_default();
            s = format!("{s}({inner})");
        }
        Some(s)
    }

    fn position_clause(&mut self, t: &Table) -> Option<usize> {
        if self.eat("first") {
            return Some(0);
        }
        if self.eat("after") {
            let after = self.ident()?;
            return t
                .columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(&after))
                .map(|i| i + 1);
        }
        None
    }

    /// One ALTER TABLE specification.
    fn alter_spec(
        &mut self,
        t: &mut Table,
        current_db: &str,
        renamed: &mut Option<(String, String)>,
    ) -> bool {
        let Some(w) = self.peek_word() else {
            // e.g. a trailing partition clause or garbage: stop
            return true;
        };
        self.i += 1;
        match w.as_str() {
            "add" => {
                if self.eat("column")
                    || !matches!(
                        self.peek_word().as_deref(),
                        Some(
                            "constraint"
                                | "primary"
                                | "unique"
                                | "key"
                                | "index"
                                | "fulltext"
                                | "spatial"
                                | "foreign"
                                | "check"
                                | "partition"
                                | "period"
                                | "system"
                        )
                    )
                {
                    self.if_exists();
                    if self.peek() == Some(&Tok::Sym('(')) {
                        self.i += 1;
                        loop {
                            let Some((c, pk)) = self.column_def() else {
                                return false;
                            };
                            if pk {
                                t.primary_key = vec![c.name.clone()];
                            }
                            t.columns.push(c);
                            if !self.sym(',') {
                                break;
                            }
                        }
                        self.sym(')');
                        return true;
                    }
                    let Some((c, pk)) = self.column_def_then_position(t) else {
                        return false;
                    };
                    if pk.1 {
                        t.primary_key = vec![c.name.clone()];
                    }
                    if t.columns
                        .iter()
                        .any(|x| x.name.eq_ignore_ascii_case(&c.name))
                    {
                        return true; // ADD COLUMN IF NOT EXISTS of an existing column
                    }
                    let at = pk.0.unwrap_or(t.columns.len()).min(t.columns.len());
                    t.columns.insert(at, c);
                    true
                } else {
                    self.table_element(t)
                }
            }
            "drop" => {
                if self.eat("primary") {
                    self.eat("key");
                    t.primary_key.clear();
                    return true;
                }
                if matches!(
                    self.peek_word().as_deref(),
                    Some("index" | "key" | "foreign" | "constraint" | "check" | "partition")
                ) {
                    self.skip_to_comma();
                    return true;
                }
                self.eat("column");
                self.if_exists();
                let Some(name) = self.ident() else {
                    return false;
                };
                t.columns.retain(|c| !c.name.eq_ignore_ascii_case(&name));
                t.primary_key.retain(|c| !c.eq_ignore_ascii_case(&name));
                true
            }
            "modify" => {
                self.eat("column");
                self.if_exists();
                let Some((c, (at, pk))) = self.column_def_then_position(t) else {
                    return false;
                };
                self.replace_column(t, &c.name.clone(), c, at, pk);
                true
            }
            "change" => {
                self.eat("column");
                self.if_exists();
                let Some(old) = self.ident() else {
                    return false;
                };
                let Some((c, (at, pk))) = self.column_def_then_position(t) else {
                    return false;
                };
                self.replace_column(t, &old, c, at, pk);
                true
            }
            "rename" => {
                if self.eat("column") {
                    let Some(old) = self.ident() else {
                        return false;
                    };
                    self.eat("to");
                    let Some(new) = self.ident() else {
                        return false;
                    };
                    for c in &mut t.columns {
                        if c.name.eq_ignore_ascii_case(&old) {
                            c.name = new.clone();
                        }
                    }
                    for k in &mut t.primary_key {
                        if k.eq_ignore_ascii_case(&old) {
                            *k = new.clone();
                        }
                    }
                    return true;
                }
                if matches!(self.peek_word().as_deref(), Some("index" | "key")) {
                    self.skip_to_comma();
                    return true;
                }
                if !self.eat("to") {
                    self.eat("as");
                }
                let Some(n) = self.table_name(current_db) else {
                    return false;
                };
                *renamed = Some(n);
                true
            }
            "alter" => {
                self.eat("column");
                let Some(name) = self.ident() else {
                    return false;
                };
                let col = t
                    .columns
                    .iter_mut()
                    .find(|c| c.name.eq_ignore_ascii_case(&name));
                if self.eat("set") {
                    if self.eat("default") {
                        let d = self.default_expr();
                        if let Some(c) = col {
                            c.default = d;
                        }
                    }
                } else if self.eat("drop") && self.eat("default") {
                    if let Some(c) = col {
                        c.default = None;
                    }
                }
                true
            }
            "convert" => {
                self.eat("to");
                self.eat("character");
                self.eat("set");
                self.eat("charset");
                let Some(cs) = self.ident() else { return false };
                let cs = cs.to_ascii_lowercase();
                for c in &mut t.columns {
                    if is_text_type(&c.data_type) {
                        c.charset = Some(cs.clone());
                    }
                }
                t.default_charset = Some(cs);
                true
            }
            "default" | "character" | "charset" | "collate" => {
                self.i -= 1;
                // table option: read up to the next comma
                let start = self.i;
                self.skip_to_comma();
                let end = self.i;
                let mut sub = Parser {
                    toks: &self.toks[start..end],
                    i: 0,
                    sql: self.sql,
                    mariadb: self.mariadb,
                };
                if let Some(cs) = sub.charset_option() {
                    t.default_charset = Some(cs);
                }
                true
            }
            _ => {
                // ENGINE=…, AUTO_INCREMENT=…, COMMENT=…, FORCE, ALGORITHM=…, LOCK=…, partitions
                self.skip_to_comma();
                true
            }
        }
    }

    /// A column definition followed by an optional FIRST / AFTER; returns
    /// the column, its target index (None: keep / append) and inline PK.
    fn column_def_then_position(&mut self, t: &Table) -> Option<(Column, (Option<usize>, bool))> {
        // the column definition ends at FIRST / AFTER, which column_def
        // treats as unknown words: find them first
        let start = self.i;
        let mut depth = 0;
        let mut end = self.i;
        while end < self.toks.len() {
            match &self.toks[end].tok {
                Tok::Sym('(') => depth += 1,
                Tok::Sym(')') => depth -= 1,
                Tok::Sym(',') | Tok::Sym(';') if depth == 0 => break,
                Tok::Word(w)
                    if depth == 0
                        && end > start + 1
                        && (w.eq_ignore_ascii_case("first") || w.eq_ignore_ascii_case("after")) =>
                {
                    break
                }
                _ => {}
            }
            end += 1;
        }
        let mut sub = Parser {
            toks: &self.toks[..end],
            i: self.i,
            sql: self.sql,
            mariadb: self.mariadb,
        };
        let (c, pk) = sub.column_def()?;
        self.i = end;
        let at = self.position_clause(t);
        Some((c, (at, pk)))
    }

    fn replace_column(&self, t: &mut Table, old: &str, c: Column, at: Option<usize>, pk: bool) {
        let Some(idx) = t
            .columns
            .iter()
            .position(|x| x.name.eq_ignore_ascii_case(old))
        else {
            return;
        };
        for k in &mut t.primary_key {
            if k.eq_ignore_ascii_case(old) {
                *k = c.name.clone();
            }
        }
        if pk {
            t.primary_key = vec![c.name.clone()];
        }
        match at {
            None => t.columns[idx] = c,
            Some(mut to) => {
                t.columns.remove(idx);
                if to > idx {
                    to -= 1;
                }
                t.columns.insert(to.min(t.columns.len()), c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &Table) -> Vec<&str> {
        t.columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn create_table_from_show_create_table() {
        let mut m = Tables::new(true);
        let ddl = "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  `tu` tinyint(3) unsigned DEFAULT NULL,\n  \
                   `b1` tinyint(1) DEFAULT 1,\n  `d` decimal(10,2) NOT NULL DEFAULT 0.00,\n  \
                   `vc` varchar(20) NOT NULL DEFAULT 'it''s' COMMENT 'c',\n  \
                   `l1` varchar(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci DEFAULT NULL,\n  \
                   `ts` timestamp(3) NOT NULL DEFAULT current_timestamp(3) ON UPDATE current_timestamp(3),\n  \
                   `js` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`js`)),\n  \
                   `en` enum('small','Medium','it''s') DEFAULT 'small',\n  `bit12` bit(12) DEFAULT b'101',\n  \
                   `g` geometry DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `u` (`vc`),\n  KEY `k` (`tu`,`b1`)\n\
                   ) ENGINE=InnoDB AUTO_INCREMENT=5 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='x'";
        let o = m.apply("shop", ddl);
        assert!(o.understood && o.is_ddl);
        assert_eq!(o.database, "shop");
        let t = m.get("shop", "t").unwrap();
        assert_eq!(
            names(t),
            vec!["id", "tu", "b1", "d", "vc", "l1", "ts", "js", "en", "bit12", "g"]
        );
        assert_eq!(t.primary_key, vec!["id"]);
        assert_eq!(t.default_charset.as_deref(), Some("utf8mb4"));
        let c = |n: &str| t.columns.iter().find(|c| c.name == n).unwrap();
        assert!(!c("id").nullable && c("id").auto_increment);
        assert_eq!(c("tu").column_type, "tinyint(3) unsigned");
        assert!(c("tu").unsigned());
        assert_eq!(c("d").precision, Some(10));
        assert_eq!(c("d").scale, Some(2));
        assert_eq!(c("d").default.as_deref(), Some("0.00"));
        assert_eq!(c("vc").default.as_deref(), Some("it's"));
        assert_eq!(c("vc").charset.as_deref(), Some("utf8mb4"));
        assert_eq!(c("l1").charset.as_deref(), Some("latin1"));
        assert_eq!(c("ts").fsp, 3);
        assert_eq!(c("ts").default.as_deref(), Some("current_timestamp(3)"));
        assert_eq!(c("en").labels(), vec!["small", "Medium", "it's"]);
        assert_eq!(c("bit12").precision, Some(12));
        assert_eq!(c("bit12").default.as_deref(), Some("b'101'"));
        assert_eq!(c("g").data_type, "geometry");
        assert_eq!(c("js").data_type, "longtext");
    }

    #[test]
    fn create_table_as_written_by_applications() {
        let mut m = Tables::new(false);
        m.apply("", "CREATE DATABASE IF NOT EXISTS tms CHARACTER SET latin1");
        let o = m.apply(
            "tms",
            "/* app */ CREATE TABLE IF NOT EXISTS tms.shipment (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, \
             ref CHAR(8), flag BOOLEAN NOT NULL DEFAULT FALSE, weight DOUBLE PRECISION, n NUMERIC(5), \
             payload JSON, created DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6), \
             CONSTRAINT fk FOREIGN KEY (ref) REFERENCES other (ref) ON DELETE CASCADE) /*!50100 ENGINE=InnoDB */",
        );
        assert!(o.understood);
        assert_eq!(o.changes.len(), 1);
        assert_eq!(o.changes[0].kind, ChangeKind::Create);
        let t = m.get("TMS", "SHIPMENT").unwrap();
        assert_eq!(
            names(t),
            vec!["id", "ref", "flag", "weight", "n", "payload", "created"]
        );
        assert_eq!(t.primary_key, vec!["id"]);
        let c = |n: &str| t.columns.iter().find(|c| c.name == n).unwrap();
        assert_eq!(c("id").column_type, "bigint unsigned");
        assert_eq!(c("flag").column_type, "tinyint(1)");
        assert_eq!(c("flag").default.as_deref(), Some("FALSE"));
        assert_eq!(c("weight").data_type, "double");
        assert_eq!(c("n").data_type, "decimal");
        assert_eq!(c("n").scale, Some(0));
        assert_eq!(c("payload").data_type, "json");
        assert_eq!(c("created").fsp, 6);
        assert_eq!(
            c("ref").charset.as_deref(),
            Some("latin1"),
            "database default charset"
        );
        assert_eq!(c("ref").length, Some(8));
    }

    #[test]
    fn alter_table_column_changes() {
        let mut m = Tables::new(true);
        m.apply("db", "CREATE TABLE a (id INT PRIMARY KEY, v INT, w TEXT)");
        let o = m.apply(
            "db",
            "ALTER TABLE a ADD COLUMN note VARCHAR(10) NULL DEFAULT 'n' AFTER id, ADD x INT FIRST",
        );
        assert!(o.understood);
        assert_eq!(o.changes[0].kind, ChangeKind::Alter);
        assert_eq!(
            names(m.get("db", "a").unwrap()),
            vec!["x", "id", "note", "v", "w"]
        );
        m.apply("db", "ALTER TABLE `db`.`a` DROP COLUMN x, MODIFY COLUMN v BIGINT NOT NULL, CHANGE w body MEDIUMTEXT FIRST");
        let t = m.get("db", "a").unwrap();
        assert_eq!(names(t), vec!["body", "id", "note", "v"]);
        assert_eq!(t.columns[3].data_type, "bigint");
        assert!(!t.columns[3].nullable);
        m.apply(
            "db",
            "ALTER TABLE a RENAME COLUMN note TO remark, ALTER COLUMN v SET DEFAULT 7",
        );
        let t = m.get("db", "a").unwrap();
        assert_eq!(names(t), vec!["body", "id", "remark", "v"]);
        assert_eq!(t.columns[3].default.as_deref(), Some("7"));
        m.apply("db", "ALTER TABLE a DROP PRIMARY KEY, ADD PRIMARY KEY (id, v), ADD UNIQUE KEY u (remark), ADD INDEX i (v)");
        assert_eq!(m.get("db", "a").unwrap().primary_key, vec!["id", "v"]);
        m.apply(
            "db",
            "ALTER TABLE a DROP KEY u, DROP INDEX i, CHANGE COLUMN id ident INT NOT NULL",
        );
        let t = m.get("db", "a").unwrap();
        assert_eq!(t.primary_key, vec!["ident", "v"]);
        m.apply("db", "ALTER TABLE a CONVERT TO CHARACTER SET latin1");
        assert_eq!(
            m.get("db", "a").unwrap().columns[0].charset.as_deref(),
            Some("latin1")
        );
        let o = m.apply("db", "ALTER TABLE a RENAME TO b");
        assert_eq!(
            o.changes.iter().map(|c| c.kind).collect::<Vec<_>>(),
            vec![ChangeKind::Drop, ChangeKind::Create]
        );
        assert!(m.get("db", "a").is_none());
        assert!(m.get("db", "b").is_some());
    }

    #[test]
    fn drop_rename_truncate_and_databases() {
        let mut m = Tables::new(true);
        m.apply("db", "CREATE TABLE a (id INT)");
        m.apply("db", "CREATE TABLE b LIKE a");
        assert!(m.get("db", "b").is_some());
        let o = m.apply("db", "RENAME TABLE a TO c, b TO other.b");
        assert!(o.understood);
        assert!(m.get("db", "c").is_some() && m.get("other", "b").is_some());
        let o = m.apply("db", "TRUNCATE TABLE c");
        assert!(o.understood && o.is_ddl && o.changes.is_empty());
        assert_eq!(o.truncated, Some(("db".to_owned(), "c".to_owned())));
        let o = m.apply("db", "truncate `other`.`b`");
        assert_eq!(o.truncated, Some(("other".to_owned(), "b".to_owned())));
        let o = m.apply(
            "db",
            "DROP TABLE IF EXISTS c, `nope` /* generated by server */",
        );
        assert_eq!(o.changes.len(), 1);
        assert!(m.get("db", "c").is_none());
        let o = m.apply("", "DROP DATABASE other");
        assert_eq!(o.changes.len(), 1);
        assert_eq!(o.database, "other");
        assert!(m.is_empty());
    }

    #[test]
    fn unknown_statements_change_nothing() {
        let mut m = Tables::new(true);
        m.apply("db", "CREATE TABLE a (id INT)");
        for s in [
            "GRANT SELECT ON *.* TO x",
            "FLUSH PRIVILEGES",
            "CREATE TABLE z SELECT 1",
            "ANALYZE TABLE a",
        ] {
            let o = m.apply("db", s);
            assert!(!o.understood, "{s}");
            assert!(o.changes.is_empty());
        }
        assert_eq!(m.len(), 1);
        // ALTER of an unknown table: understood, nothing to change
        let o = m.apply("db", "ALTER TABLE unknown ADD c INT");
        assert!(o.understood && o.changes.is_empty());
    }
}

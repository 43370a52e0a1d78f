//! The small expression language of [`super::map`]: one expression per
//! output field, evaluated against a cast change.
//!
//! ```text
//! expr    := or
//! or      := and ( 'or' and )*
//! and     := not ( 'and' not )*
//! not     := 'not' not | cmp
//! cmp     := concat ( ('=' | '<>' | '!=' | '<' | '<=' | '>' | '>=') concat
//!                   | 'is' 'not'? 'null' )?
//! concat  := sum ( '||' sum )*           string concatenation (null if any side is null)
//! sum     := product ( ('+' | '-') product )*
//! product := unary ( ('*' | '/') unary )*
//! unary   := '-' unary | atom
//! atom    := number | 'text' | null | true | false | ref | call | '(' expr ')'
//! ref     := name ( '.' name )*          a column of the row (nested struct fields with dots)
//!          | '$op' | '$tx_id' | '$table' | '$ts_ms'
//!          | '$key.' name | '$before.' name
//! call    := coalesce(e, …) | concat(e, …) | upper(e) | lower(e)
//! ```
//!
//! Arithmetic: integers stay 64-bit integers for `+ - *` (overflow is an
//! error), `/` gives a float; numeric text (such as a decimal column cast
//! to text) counts as a number; anything with null gives null. `concat(…)`
//! skips nulls and renders numbers and booleans as text; `coalesce` returns
//! its first non-null argument. Text literals use single quotes, `''` for a
//! quote. Names are letters, digits and `_`, not starting with a digit.
//!
//! Conditions (used by [`super::business`]) follow SQL: a comparison with
//! null is null (`is null` / `is not null` test for it); `and`, `or` and
//! `not` use three-valued logic; two numbers (or a number and numeric
//! text) compare as numbers, two texts as text. `and`, `or`, `not`, `is`
//! are keywords.

use velocity_api::{ConnectError, Result, Struct, Value};

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Lit(Value),
    /// A row column path (`a.b`).
    Col(Vec<String>),
    /// `$op`, `$tx_id`, `$table`, `$ts_ms`, or a path under `$key`/`$before`.
    Meta(Vec<String>),
    /// `a || b`.
    Concat(Box<Expr>, Box<Expr>),
    /// Arithmetic.
    Arith(char, Box<Expr>, Box<Expr>),
    /// Unary minus.
    Neg(Box<Expr>),
    /// A function call.
    Call(Func, Vec<Expr>),
    /// A comparison (`=`, `<>`, `<`, `<=`, `>`, `>=`).
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    /// `is null` (false) / `is not null` (true).
    IsNull(Box<Expr>, bool),
    /// `and` (true) / `or` (false).
    Logic(bool, Box<Expr>, Box<Expr>),
    /// `not`.
    Not(Box<Expr>),
}

/// The functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// First non-null argument.
    Coalesce,
    /// Text of all non-null arguments.
    Concat,
    /// Upper case.
    Upper,
    /// Lower case.
    Lower,
}

fn err(msg: impl Into<String>) -> ConnectError {
    ConnectError::fatal(msg.into())
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(String),
    Str(String),
    Ident(String),
    Meta(String),
    Sym(&'static str),
}

fn lex(src: &str) -> std::result::Result<Vec<Tok>, String> {
    let cs: Vec<char> = src.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() {
            let s = i;
            while i < cs.len() && (cs[i].is_ascii_digit() || cs[i] == '.') {
                i += 1;
            }
            out.push(Tok::Num(cs[s..i].iter().collect()));
        } else if c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match cs.get(i) {
                    None => return Err("unterminated text literal".into()),
                    Some('\'') if cs.get(i + 1) == Some(&'\'') => {
                        text.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(&ch) => {
                        text.push(ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(text));
        } else if c == '$' || ident(c) {
            let s = i;
            i += 1;
            while i < cs.len() && (ident(cs[i]) || cs[i] == '.') {
                i += 1;
            }
            let word: String = cs[s..i].iter().collect();
            out.push(match word.strip_prefix('$') {
                Some(m) => Tok::Meta(m.to_owned()),
                None => Tok::Ident(word),
            });
        } else if c == '|' && cs.get(i + 1) == Some(&'|') {
            out.push(Tok::Sym("||"));
            i += 2;
        } else if let Some(sym) = ["<>", "!=", "<=", ">="]
            .into_iter()
            .find(|s| cs[i..].starts_with(&s.chars().collect::<Vec<_>>()))
        {
            out.push(Tok::Sym(if sym == "!=" { "<>" } else { sym }));
            i += 2;
        } else if let Some(sym) = ["=", "<", ">"].into_iter().find(|s| s.starts_with(c)) {
            out.push(Tok::Sym(sym));
            i += 1;
        } else {
            let sym = match c {
                '+' => "+",
                '-' => "-",
                '*' => "*",
                '/' => "/",
                '(' => "(",
                ')' => ")",
                ',' => ",",
                other => return Err(format!("unexpected character '{other}'")),
            };
            out.push(Tok::Sym(sym));
            i += 1;
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_sym(&self, s: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Sym(x)) if *x == s)
    }
    fn expect(&mut self, s: &str) -> std::result::Result<(), String> {
        if self.peek_sym(s) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{s}'"))
        }
    }
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Ident(x)) if x.eq_ignore_ascii_case(w))
    }
    fn or(&mut self) -> std::result::Result<Expr, String> {
        let mut e = self.and()?;
        while self.peek_word("or") {
            self.pos += 1;
            e = Expr::Logic(false, Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> std::result::Result<Expr, String> {
        let mut e = self.not()?;
        while self.peek_word("and") {
            self.pos += 1;
            e = Expr::Logic(true, Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }
    fn not(&mut self) -> std::result::Result<Expr, String> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> std::result::Result<Expr, String> {
        let e = self.concat()?;
        if self.peek_word("is") {
            self.pos += 1;
            let negated = self.peek_word("not");
            if negated {
                self.pos += 1;
            }
            if !self.peek_word("null") {
                return Err("expected null after 'is' / 'is not'".into());
            }
            self.pos += 1;
            return Ok(Expr::IsNull(Box::new(e), negated));
        }
        for op in ["=", "<>", "<", "<=", ">", ">="] {
            if self.peek_sym(op) {
                self.pos += 1;
                return Ok(Expr::Cmp(op, Box::new(e), Box::new(self.concat()?)));
            }
        }
        Ok(e)
    }
    fn concat(&mut self) -> std::result::Result<Expr, String> {
        let mut e = self.sum()?;
        while self.peek_sym("||") {
            self.pos += 1;
            e = Expr::Concat(Box::new(e), Box::new(self.sum()?));
        }
        Ok(e)
    }
    fn sum(&mut self) -> std::result::Result<Expr, String> {
        let mut e = self.product()?;
        while self.peek_sym("+") || self.peek_sym("-") {
            let op = if self.peek_sym("+") { '+' } else { '-' };
            self.pos += 1;
            e = Expr::Arith(op, Box::new(e), Box::new(self.product()?));
        }
        Ok(e)
    }
    fn product(&mut self) -> std::result::Result<Expr, String> {
        let mut e = self.unary()?;
        while self.peek_sym("*") || self.peek_sym("/") {
            let op = if self.peek_sym("*") { '*' } else { '/' };
            self.pos += 1;
            e = Expr::Arith(op, Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }
    fn unary(&mut self) -> std::result::Result<Expr, String> {
        if self.peek_sym("-") {
            self.pos += 1;
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.atom()
    }
    fn atom(&mut self) -> std::result::Result<Expr, String> {
        let tok = self.toks.get(self.pos).cloned().ok_or("unexpected end")?;
        self.pos += 1;
        Ok(match tok {
            Tok::Num(n) => Expr::Lit(if n.contains('.') {
                Value::Float64(n.parse().map_err(|_| format!("bad number {n}"))?)
            } else {
                Value::Int64(n.parse().map_err(|_| format!("bad number {n}"))?)
            }),
            Tok::Str(s) => Expr::Lit(Value::String(s)),
            Tok::Meta(m) => {
                let path: Vec<String> = m.split('.').map(str::to_owned).collect();
                let ok = match path[0].as_str() {
                    "op" | "tx_id" | "table" | "ts_ms" => path.len() == 1,
                    "key" | "before" => path.len() >= 2,
                    _ => false,
                };
                if !ok || path.iter().any(String::is_empty) {
                    return Err(format!(
                        "unknown reference ${m} (use $op, $tx_id, $table, $ts_ms, $key.<field> or $before.<field>)"
                    ));
                }
                Expr::Meta(path)
            }
            Tok::Ident(w) => {
                if self.peek_sym("(") {
                    self.pos += 1;
                    let f = match w.to_ascii_lowercase().as_str() {
                        "coalesce" => Func::Coalesce,
                        "concat" => Func::Concat,
                        "upper" => Func::Upper,
                        "lower" => Func::Lower,
                        _ => return Err(format!("unknown function {w}")),
                    };
                    let mut args = Vec::new();
                    if !self.peek_sym(")") {
                        loop {
                            args.push(self.or()?);
                            if self.peek_sym(",") {
                                self.pos += 1;
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(")")?;
                    let arity_ok = match f {
                        Func::Upper | Func::Lower => args.len() == 1,
                        _ => !args.is_empty(),
                    };
                    if !arity_ok {
                        return Err(format!("wrong number of arguments for {w}"));
                    }
                    return Ok(Expr::Call(f, args));
                }
                if ["and", "or", "not", "is"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k))
                {
                    return Err(format!("unexpected keyword {w}"));
                }
                match w.as_str() {
                    "null" => Expr::Lit(Value::Null),
                    "true" => Expr::Lit(Value::Boolean(true)),
                    "false" => Expr::Lit(Value::Boolean(false)),
                    _ => {
                        let path: Vec<String> = w.split('.').map(str::to_owned).collect();
                        if path.iter().any(String::is_empty) {
                            return Err(format!("bad field reference {w}"));
                        }
                        Expr::Col(path)
                    }
                }
            }
            Tok::Sym("(") => {
                let e = self.or()?;
                self.expect(")")?;
                e
            }
            Tok::Sym(s) => return Err(format!("unexpected '{s}'")),
        })
    }
}

/// Parses `src`; the error says what is wrong (the caller names the key).
pub fn parse(src: &str) -> std::result::Result<Expr, String> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "unexpected {:?} after the expression",
            p.toks[p.pos]
        ));
    }
    Ok(e)
}

fn path_get<'a>(mut v: &'a Value, path: &[String]) -> &'a Value {
    for name in path {
        v = match v {
            Value::Struct(s) => s.get(name).unwrap_or(&Value::Null),
            Value::Map(entries) => crate::util::map_get(entries, name).unwrap_or(&Value::Null),
            _ => &Value::Null,
        };
    }
    v
}

#[derive(Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

fn num(v: &Value) -> Option<Num> {
    Some(match v {
        Value::Int8(i) => Num::I(i64::from(*i)),
        Value::Int16(i) => Num::I(i64::from(*i)),
        Value::Int32(i) => Num::I(i64::from(*i)),
        Value::Int64(i) => Num::I(*i),
        Value::Float32(f) => Num::F(f64::from(*f)),
        Value::Float64(f) => Num::F(*f),
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(i) => Num::I(i),
            Err(_) => Num::F(s.trim().parse().ok()?),
        },
        _ => return None,
    })
}

/// Text form of a value for `||` and `concat`; None for null.
pub fn text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Boolean(b) => b.to_string(),
        Value::Float32(f) => f.to_string(),
        Value::Float64(f) => f.to_string(),
        other => match other.as_i64() {
            Some(i) => i.to_string(),
            None => format!("{other:?}"),
        },
    })
}

/// SQL comparison of two non-null values; None when they do not compare.
fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    let numeric = |v: &Value| !matches!(v, Value::String(_)) && num(v).is_some();
    if numeric(a) || numeric(b) {
        if let (Some(x), Some(y)) = (num(a), num(b)) {
            return match (x, y) {
                (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
                (x, y) => {
                    let f = |n: Num| match n {
                        Num::I(i) => i as f64,
                        Num::F(f) => f,
                    };
                    f(x).partial_cmp(&f(y))
                }
            };
        }
    }
    match (a, b) {
        (Value::Boolean(x), Value::Boolean(y)) => Some(x.cmp(y)),
        _ => Some(text(a)?.cmp(&text(b)?)),
    }
}

/// A value as a condition: true, false or null (unknown).
pub fn truth(v: &Value) -> Result<Option<bool>> {
    match v {
        Value::Null => Ok(None),
        Value::Boolean(b) => Ok(Some(*b)),
        other => Err(err(format!(
            "{other:?} is not a condition (true, false or null); compare it, e.g. status = 'delivered'"
        ))),
    }
}

fn bool_value(b: Option<bool>) -> Value {
    b.map_or(Value::Null, Value::Boolean)
}

impl Expr {
    /// Evaluates against a cast change struct. Data errors (arithmetic on
    /// text that is not a number, overflow) fail with a message.
    pub fn eval(&self, change: &Struct) -> Result<Value> {
        Ok(match self {
            Expr::Lit(v) => v.clone(),
            Expr::Col(path) => path_get(change.get("row").unwrap_or(&Value::Null), path).clone(),
            Expr::Meta(path) => {
                let top = change.get(&path[0]).unwrap_or(&Value::Null);
                path_get(top, &path[1..]).clone()
            }
            Expr::Concat(a, b) => match (text(&a.eval(change)?), text(&b.eval(change)?)) {
                (Some(a), Some(b)) => Value::String(a + &b),
                _ => Value::Null,
            },
            Expr::Neg(a) => {
                let v = a.eval(change)?;
                match num(&v) {
                    _ if v.is_null() => Value::Null,
                    Some(Num::I(i)) => {
                        Value::Int64(i.checked_neg().ok_or_else(|| err("integer overflow"))?)
                    }
                    Some(Num::F(f)) => Value::Float64(-f),
                    None => return Err(err(format!("cannot negate {v:?}: not a number"))),
                }
            }
            Expr::Arith(op, a, b) => {
                let (va, vb) = (a.eval(change)?, b.eval(change)?);
                if va.is_null() || vb.is_null() {
                    return Ok(Value::Null);
                }
                let (Some(x), Some(y)) = (num(&va), num(&vb)) else {
                    return Err(err(format!(
                        "cannot compute {va:?} {op} {vb:?}: not a number"
                    )));
                };
                match (x, y, op) {
                    (Num::I(x), Num::I(y), '+') => {
                        Value::Int64(x.checked_add(y).ok_or_else(|| err("integer overflow"))?)
                    }
                    (Num::I(x), Num::I(y), '-') => {
                        Value::Int64(x.checked_sub(y).ok_or_else(|| err("integer overflow"))?)
                    }
                    (Num::I(x), Num::I(y), '*') => {
                        Value::Int64(x.checked_mul(y).ok_or_else(|| err("integer overflow"))?)
                    }
                    _ => {
                        let f = |n: Num| match n {
                            Num::I(i) => i as f64,
                            Num::F(f) => f,
                        };
                        let (x, y) = (f(x), f(y));
                        Value::Float64(match op {
                            '+' => x + y,
                            '-' => x - y,
                            '*' => x * y,
                            _ => x / y,
                        })
                    }
                }
            }
            Expr::Cmp(op, a, b) => {
                let (va, vb) = (a.eval(change)?, b.eval(change)?);
                if va.is_null() || vb.is_null() {
                    return Ok(Value::Null);
                }
                bool_value(compare(&va, &vb).map(|o| match *op {
                    "=" => o.is_eq(),
                    "<>" => o.is_ne(),
                    "<" => o.is_lt(),
                    "<=" => o.is_le(),
                    ">" => o.is_gt(),
                    _ => o.is_ge(),
                }))
            }
            Expr::IsNull(a, negated) => Value::Boolean(a.eval(change)?.is_null() != *negated),
            Expr::Not(a) => bool_value(truth(&a.eval(change)?)?.map(|b| !b)),
            Expr::Logic(is_and, a, b) => {
                let x = truth(&a.eval(change)?)?;
                // short-circuit as SQL: false and … = false, true or … = true
                if x == Some(!is_and) {
                    return Ok(Value::Boolean(!is_and));
                }
                let y = truth(&b.eval(change)?)?;
                bool_value(match (x, y) {
                    (_, Some(v)) if v != *is_and => Some(!is_and),
                    (Some(_), Some(_)) => Some(*is_and),
                    _ => None,
                })
            }
            Expr::Call(f, args) => match f {
                Func::Coalesce => {
                    for a in args {
                        let v = a.eval(change)?;
                        if !v.is_null() {
                            return Ok(v);
                        }
                    }
                    Value::Null
                }
                Func::Concat => {
                    let mut s = String::new();
                    for a in args {
                        if let Some(t) = text(&a.eval(change)?) {
                            s.push_str(&t);
                        }
                    }
                    Value::String(s)
                }
                Func::Upper | Func::Lower => match text(&args[0].eval(change)?) {
                    None => Value::Null,
                    Some(t) if *f == Func::Upper => Value::String(t.to_uppercase()),
                    Some(t) => Value::String(t.to_lowercase()),
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::Schema;

    fn change() -> Struct {
        let row = Schema::struct_()
            .field("id", Schema::int32())
            .field("ref", Schema::string().optional())
            .field("kg", Schema::string().optional())
            .field("gone", Schema::string().optional())
            .build();
        let s = Schema::struct_()
            .named(crate::domain::CHANGE_SCHEMA_NAME)
            .field("op", Schema::string())
            .field("tx_id", Schema::string().optional())
            .field("row", row.clone())
            .build();
        Struct::new(s).put("op", "u").put("tx_id", "42").put(
            "row",
            Value::Struct(
                Struct::new(row)
                    .put("id", 7)
                    .put("ref", "SHP-1")
                    .put("kg", "120.50"),
            ),
        )
    }

    fn ev(src: &str) -> Value {
        parse(src).unwrap().eval(&change()).unwrap()
    }

    #[test]
    fn evaluates_the_documented_forms() {
        assert_eq!(ev("id"), Value::Int32(7));
        assert_eq!(ev("id + 1 * 2"), Value::Int64(9));
        assert_eq!(ev("(id + 1) * 2"), Value::Int64(16));
        assert_eq!(ev("kg * 1000"), Value::Float64(120_500.0));
        assert_eq!(ev("id / 2"), Value::Float64(3.5));
        assert_eq!(ev("-id"), Value::Int64(-7));
        assert_eq!(ev("ref || '/' || id"), Value::String("SHP-1/7".into()));
        assert_eq!(ev("ref || gone"), Value::Null);
        assert_eq!(ev("concat(ref, gone, '!')"), Value::String("SHP-1!".into()));
        assert_eq!(ev("coalesce(gone, 'n/a')"), Value::String("n/a".into()));
        assert_eq!(ev("upper($op) || $tx_id"), Value::String("U42".into()));
        assert_eq!(ev("'it''s'"), Value::String("it's".into()));
        assert_eq!(ev("gone + 1"), Value::Null);
        assert_eq!(ev("null"), Value::Null);
        assert_eq!(ev("$before.id"), Value::Null);
    }

    #[test]
    fn conditions_follow_sql() {
        let t = Value::Boolean(true);
        let f = Value::Boolean(false);
        assert_eq!(ev("ref = 'SHP-1'"), t);
        assert_eq!(ev("ref <> 'SHP-1'"), f);
        assert_eq!(ev("ref != 'SHP-2'"), t);
        assert_eq!(ev("kg > 100"), t, "numeric text compares as a number");
        assert_eq!(ev("kg >= 120.5 and id < 8"), t);
        assert_eq!(ev("id <= 6 or $op = 'u'"), t);
        assert_eq!(ev("gone = 'x'"), Value::Null);
        assert_eq!(ev("gone is null"), t);
        assert_eq!(ev("ref is not null"), t);
        assert_eq!(ev("not gone = 'x'"), Value::Null);
        assert_eq!(ev("gone = 'x' and id = 0"), f, "null and false is false");
        assert_eq!(ev("gone = 'x' or id = 7"), t, "null or true is true");
        assert_eq!(ev("gone = 'x' or id = 0"), Value::Null);
        assert_eq!(ev("not (id = 7)"), f);
        assert_eq!(ev("coalesce($before.ref, '') <> ref"), t);
        assert!(parse("id is 3").unwrap_err().contains("null"));
        assert!(parse("and").unwrap_err().contains("keyword"));
        let e = parse("not id").unwrap().eval(&change()).unwrap_err();
        assert!(e.to_string().contains("not a condition"), "{e}");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (src, want) in [
            ("", "empty"),
            ("1 +", "unexpected end"),
            ("foo(1)", "unknown function"),
            ("$nope", "unknown reference"),
            ("'open", "unterminated"),
            ("a # b", "unexpected character"),
            ("upper(a, b)", "number of arguments"),
            ("(a", "expected ')'"),
        ] {
            let e = parse(src).unwrap_err();
            assert!(e.contains(want), "{src}: {e}");
        }
        let e = parse("ref * 2").unwrap().eval(&change()).unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
    }
}

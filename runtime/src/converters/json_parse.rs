//! A small JSON reader for the sink side of the JsonConverter.
//!
//! It keeps what `serde_json::Value` (without workspace-wide features) loses
//! and Kafka Connect needs: object member order (schema `parameters` are an
//! ordered map), the exact text of numbers (Decimal values in NUMERIC format
//! must not pass through `f64`), and the byte span of each top-level member so
//! the converter can cache parsed schemas by their raw text.

use std::borrow::Cow;
use std::ops::Range;

/// A parsed JSON value borrowing from the input where it can.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as its source text (valid JSON number syntax).
    Number(&'a str),
    /// A string with escapes resolved.
    String(Cow<'a, str>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object, members in document order.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// The member `key` of an object; when a key repeats, the last one wins,
    /// as in Jackson's `ObjectNode`.
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Jackson's node type name, for error messages.
    pub(crate) fn node_type(&self) -> &'static str {
        match self {
            Json::Null => "NULL",
            Json::Bool(_) => "BOOLEAN",
            Json::Number(_) => "NUMBER",
            Json::String(_) => "STRING",
            Json::Array(_) => "ARRAY",
            Json::Object(_) => "OBJECT",
        }
    }

    /// True for a number without fraction or exponent (Jackson's
    /// `isIntegralNumber`).
    pub(crate) fn is_integral(&self) -> bool {
        matches!(self, Json::Number(t) if !t.contains(['.', 'e', 'E']))
    }
}

/// A top-level object member with the byte range of its value in the input.
pub(crate) struct SpannedMember<'a> {
    /// Member name.
    pub key: Cow<'a, str>,
    /// Member value.
    pub value: Json<'a>,
    /// Where the value's text is in the input.
    pub span: Range<usize>,
}

/// What [`parse_document`] found: an object (with spans) or another value.
pub(crate) enum Document<'a> {
    /// A top-level object.
    Object(Vec<SpannedMember<'a>>),
    /// Any other top-level value.
    Other(Json<'a>),
    /// Nothing but whitespace.
    Empty,
}

const MAX_DEPTH: usize = 1000;

/// Parses one JSON document from `input`. Trailing content after the first
/// value is ignored, as Jackson's `ObjectMapper.readTree` does by default.
pub(crate) fn parse_document(input: &[u8]) -> Result<Document<'_>, String> {
    let text = std::str::from_utf8(input).map_err(|e| format!("Invalid UTF-8 in JSON: {e}"))?;
    let mut p = Parser {
        text,
        bytes: input,
        pos: 0,
    };
    p.skip_ws();
    if p.pos >= p.bytes.len() {
        return Ok(Document::Empty);
    }
    if p.bytes[p.pos] != b'{' {
        return p.value(0).map(Document::Other);
    }
    p.pos += 1;
    let mut members = Vec::new();
    p.skip_ws();
    if p.peek() == Some(b'}') {
        return Ok(Document::Object(members));
    }
    loop {
        p.skip_ws();
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        let start = p.pos;
        let value = p.value(1)?;
        members.push(SpannedMember {
            key,
            value,
            span: start..p.pos,
        });
        p.skip_ws();
        match p.next() {
            Some(b',') => continue,
            Some(b'}') => return Ok(Document::Object(members)),
            _ => return Err(p.error("expected ',' or '}' in object")),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        if b.is_some() {
            self.pos += 1;
        }
        b
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        if self.next() == Some(b) {
            Ok(())
        } else {
            Err(self.error(&format!("expected '{}'", b as char)))
        }
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn literal(&mut self, word: &str, value: Json<'a>) -> Result<Json<'a>, String> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("unrecognized token"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("JSON nested too deeply"));
        }
        self.skip_ws();
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b']') {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.skip_ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(b']') => return Ok(Json::Array(items)),
                        _ => return Err(self.error("expected ',' or ']' in array")),
                    }
                }
            }
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                self.skip_ws();
                if self.peek() == Some(b'}') {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.skip_ws();
                    let key = self.string()?;
                    self.skip_ws();
                    self.expect(b':')?;
                    let value = self.value(depth + 1)?;
                    members.push((key, value));
                    self.skip_ws();
                    match self.next() {
                        Some(b',') => continue,
                        Some(b'}') => return Ok(Json::Object(members)),
                        _ => return Err(self.error("expected ',' or '}' in object")),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json<'a>, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        if self.digits() == 0 {
            return Err(self.error("invalid number"));
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number: no digit after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number: no digit in exponent"));
            }
        }
        Ok(Json::Number(&self.text[start..self.pos]))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let s = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let v = u32::from_str_radix(s, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<Cow<'a, str>, String> {
        self.expect(b'"')?;
        let start = self.pos;
        // Fast path: no escapes.
        loop {
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                Some(b'\\') => break,
                Some(b) if b < 0x20 => return Err(self.error("control character in string")),
                Some(_) => self.pos += 1,
            }
        }
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            match self.next() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => return Ok(Cow::Owned(out)),
                Some(b'\\') => {
                    let c = match self.next() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi)
                                && self.bytes[self.pos..].starts_with(b"\\u")
                            {
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                } else {
                                    return Err(self.error("invalid surrogate pair"));
                                }
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return Err(self.error("invalid escape")),
                    };
                    out.push(c);
                }
                Some(b) if b < 0x20 => return Err(self.error("control character in string")),
                Some(_) => {
                    // Copy the whole UTF-8 run up to the next quote or escape.
                    let run_start = self.pos - 1;
                    while let Some(b) = self.peek() {
                        if b == b'"' || b == b'\\' || b < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(&self.text[run_start..self.pos]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Json<'_> {
        match parse_document(s.as_bytes()).unwrap() {
            Document::Other(v) => v,
            Document::Object(m) => Json::Object(m.into_iter().map(|m| (m.key, m.value)).collect()),
            Document::Empty => panic!("empty"),
        }
    }

    #[test]
    fn parses_values_in_order() {
        let v = parse(r#" {"b":1,"a":[true,null,-1.5e3,"x\n\u00e9\ud83d\ude00"],"c":{}} "#);
        let Json::Object(m) = &v else { panic!() };
        assert_eq!(m[0].0, "b");
        assert_eq!(m[1].0, "a");
        assert_eq!(
            m[1].1,
            Json::Array(vec![
                Json::Bool(true),
                Json::Null,
                Json::Number("-1.5e3"),
                Json::String(Cow::Owned("x\né😀".into())),
            ])
        );
        assert!(v.get("b").unwrap().is_integral());
    }

    #[test]
    fn spans_cover_member_text() {
        let src = r#"{"schema":{"type":"string"},"payload":"x"}"#;
        let Document::Object(m) = parse_document(src.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(&src[m[0].span.clone()], r#"{"type":"string"}"#);
        assert_eq!(&src[m[1].span.clone()], r#""x""#);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "{",
            "[1,",
            "\"abc",
            "tru",
            "01x",
            "{\"a\" 1}",
            "-",
            "1.",
            "\"\\q\"",
        ] {
            let r = parse_document(bad.as_bytes());
            let ok_prefix = matches!(bad, "01x");
            assert!(r.is_err() || ok_prefix, "{bad}");
        }
        assert!(matches!(parse_document(b"  ").unwrap(), Document::Empty));
    }
}

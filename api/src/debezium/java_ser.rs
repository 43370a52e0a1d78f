//! Java object serialization (`java.io.ObjectOutputStream`, stream version 5)
//! of the `Object[]` chunk keys Debezium keeps in its offsets
//! (`incremental_snapshot_primary_key`, `incremental_snapshot_maximum_key`:
//! the serialized array as lower-case hex).
//!
//! Contract: [`encode_key`] writes exactly the bytes Java writes for an
//! `Object[]` of `Integer`, `Long`, `Short`, `Boolean`, `Float`, `Double`,
//! `String`, `BigDecimal` and `java.util.UUID` elements and nulls (the
//! tests compare with bytes Java 17 wrote, and with offsets the real
//! Debezium 3.6.3 stored), and `null` for no key; [`decode_key`] reads those
//! back, following Java's back references. Other classes are an error: a
//! key Velocity cannot read is never guessed at.

use std::collections::HashMap;

/// One element of a chunk key, as JDBC hands it to Debezium.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyValue {
    /// `null`.
    Null,
    /// `java.lang.Boolean`.
    Bool(bool),
    /// `java.lang.Short`.
    Short(i16),
    /// `java.lang.Integer`.
    Int(i32),
    /// `java.lang.Long`.
    Long(i64),
    /// `java.lang.Float`.
    Float(f32),
    /// `java.lang.Double`.
    Double(f64),
    /// `java.lang.String`.
    String(String),
    /// `java.math.BigDecimal`, as plain decimal text (`-12.50`: the digits
    /// after the point are the scale).
    Decimal(String),
    /// `java.util.UUID`.
    Uuid(u128),
}

impl KeyValue {
    /// The value as SQL text (what a database parses back to it): numbers
    /// in plain notation, UUIDs hyphenated, booleans `true`/`false`; None
    /// for null.
    pub fn to_sql_text(&self) -> Option<String> {
        Some(match self {
            KeyValue::Null => return None,
            KeyValue::Bool(b) => b.to_string(),
            KeyValue::Short(v) => v.to_string(),
            KeyValue::Int(v) => v.to_string(),
            KeyValue::Long(v) => v.to_string(),
            KeyValue::Float(v) => float_text(f64::from(*v)),
            KeyValue::Double(v) => float_text(*v),
            KeyValue::String(s) | KeyValue::Decimal(s) => s.clone(),
            KeyValue::Uuid(u) => crate::text::uuid_text(&u.to_be_bytes()),
        })
    }
}

fn float_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        v.to_string()
    }
}

/// Why a serialized key cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the serialized key: {0}")]
pub struct KeyDecodeError(pub String);

const MAGIC: [u8; 4] = [0xAC, 0xED, 0x00, 0x05];
const TC_NULL: u8 = 0x70;
const TC_REFERENCE: u8 = 0x71;
const TC_CLASSDESC: u8 = 0x72;
const TC_OBJECT: u8 = 0x73;
const TC_STRING: u8 = 0x74;
const TC_ARRAY: u8 = 0x75;
const TC_BLOCKDATA: u8 = 0x77;
const TC_ENDBLOCKDATA: u8 = 0x78;
const TC_LONGSTRING: u8 = 0x7C;
const TC_BLOCKDATALONG: u8 = 0x7A;
const BASE_HANDLE: u32 = 0x7E_0000;
const SC_WRITE_METHOD: u8 = 0x01;
const SC_SERIALIZABLE: u8 = 0x02;

/// A class descriptor as Java writes it.
struct Desc {
    name: &'static str,
    suid: u64,
    flags: u8,
    /// (type code, name, type signature of object fields), in Java's order
    /// (primitives by name, then objects by name).
    fields: &'static [(u8, &'static str, Option<&'static str>)],
    superclass: Option<&'static Desc>,
}

const NUMBER: Desc = Desc {
    name: "java.lang.Number",
    suid: 0x86AC_951D_0B94_E08B,
    flags: SC_SERIALIZABLE,
    fields: &[],
    superclass: None,
};
const OBJECT_ARRAY: Desc = Desc {
    name: "[Ljava.lang.Object;",
    suid: 0x90CE_589F_1073_296C,
    flags: SC_SERIALIZABLE,
    fields: &[],
    superclass: None,
};
const BYTE_ARRAY: Desc = Desc {
    name: "[B",
    suid: 0xACF3_17F8_0608_54E0,
    flags: SC_SERIALIZABLE,
    fields: &[],
    superclass: None,
};
const INTEGER: Desc = Desc {
    name: "java.lang.Integer",
    suid: 0x12E2_A0A4_F781_8738,
    flags: SC_SERIALIZABLE,
    fields: &[(b'I', "value", None)],
    superclass: Some(&NUMBER),
};
const LONG: Desc = Desc {
    name: "java.lang.Long",
    suid: 0x3B8B_E490_CC8F_23DF,
    flags: SC_SERIALIZABLE,
    fields: &[(b'J', "value", None)],
    superclass: Some(&NUMBER),
};
const SHORT: Desc = Desc {
    name: "java.lang.Short",
    suid: 0x684D_3713_3460_DA52,
    flags: SC_SERIALIZABLE,
    fields: &[(b'S', "value", None)],
    superclass: Some(&NUMBER),
};
const FLOAT: Desc = Desc {
    name: "java.lang.Float",
    suid: 0xDAED_C9A2_DB3C_F0EC,
    flags: SC_SERIALIZABLE,
    fields: &[(b'F', "value", None)],
    superclass: Some(&NUMBER),
};
const DOUBLE: Desc = Desc {
    name: "java.lang.Double",
    suid: 0x80B3_C24A_296B_FB04,
    flags: SC_SERIALIZABLE,
    fields: &[(b'D', "value", None)],
    superclass: Some(&NUMBER),
};
const BOOLEAN: Desc = Desc {
    name: "java.lang.Boolean",
    suid: 0xCD20_7280_D59C_FAEE,
    flags: SC_SERIALIZABLE,
    fields: &[(b'Z', "value", None)],
    superclass: None,
};
const UUID: Desc = Desc {
    name: "java.util.UUID",
    suid: 0xBC99_03F7_986D_852F,
    flags: SC_SERIALIZABLE,
    fields: &[(b'J', "leastSigBits", None), (b'J', "mostSigBits", None)],
    superclass: None,
};
const BIG_INTEGER: Desc = Desc {
    name: "java.math.BigInteger",
    suid: 0x8CFC_9F1F_A93B_FB1D,
    flags: SC_SERIALIZABLE | SC_WRITE_METHOD,
    fields: &[
        (b'I', "bitCount", None),
        (b'I', "bitLength", None),
        (b'I', "firstNonzeroByteNum", None),
        (b'I', "lowestSetBit", None),
        (b'I', "signum", None),
        (b'[', "magnitude", Some("[B")),
    ],
    superclass: Some(&NUMBER),
};
const BIG_DECIMAL: Desc = Desc {
    name: "java.math.BigDecimal",
    suid: 0x54C7_1557_F981_284F,
    flags: SC_SERIALIZABLE | SC_WRITE_METHOD,
    fields: &[
        (b'I', "scale", None),
        (b'L', "intVal", Some("Ljava/math/BigInteger;")),
    ],
    superclass: Some(&NUMBER),
};

struct Writer {
    out: Vec<u8>,
    next: u32,
    descs: HashMap<&'static str, u32>,
    strings: HashMap<&'static str, u32>,
}

impl Writer {
    fn handle(&mut self) -> u32 {
        let h = self.next;
        self.next += 1;
        h
    }

    fn reference(&mut self, h: u32) {
        self.out.push(TC_REFERENCE);
        self.out.extend_from_slice(&(BASE_HANDLE + h).to_be_bytes());
    }

    fn utf(&mut self, s: &str) {
        let b = modified_utf8(s);
        self.out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        self.out.extend_from_slice(&b);
    }

    fn desc(&mut self, d: &'static Desc) {
        if let Some(&h) = self.descs.get(d.name) {
            return self.reference(h);
        }
        self.out.push(TC_CLASSDESC);
        self.utf(d.name);
        self.out.extend_from_slice(&d.suid.to_be_bytes());
        let h = self.handle();
        self.descs.insert(d.name, h);
        self.out.push(d.flags);
        self.out
            .extend_from_slice(&(d.fields.len() as u16).to_be_bytes());
        for (code, name, sig) in d.fields {
            self.out.push(*code);
            self.utf(name);
            if let Some(sig) = sig {
                if let Some(&h) = self.strings.get(sig) {
                    self.reference(h);
                } else {
                    self.out.push(TC_STRING);
                    let h = self.handle();
                    self.strings.insert(sig, h);
                    self.utf(sig);
                }
            }
        }
        self.out.push(TC_ENDBLOCKDATA);
        match d.superclass {
            Some(s) => self.desc(s),
            None => self.out.push(TC_NULL),
        }
    }

    fn object(&mut self, d: &'static Desc) {
        self.out.push(TC_OBJECT);
        self.desc(d);
        self.handle();
    }

    fn string(&mut self, s: &str) {
        let b = modified_utf8(s);
        if b.len() <= 0xFFFF {
            self.out.push(TC_STRING);
            self.handle();
            self.out.extend_from_slice(&(b.len() as u16).to_be_bytes());
        } else {
            self.out.push(TC_LONGSTRING);
            self.handle();
            self.out.extend_from_slice(&(b.len() as u64).to_be_bytes());
        }
        self.out.extend_from_slice(&b);
    }

    fn value(&mut self, v: &KeyValue) {
        match v {
            KeyValue::Null => self.out.push(TC_NULL),
            KeyValue::Bool(b) => {
                self.object(&BOOLEAN);
                self.out.push(u8::from(*b));
            }
            KeyValue::Short(x) => {
                self.object(&SHORT);
                self.out.extend_from_slice(&x.to_be_bytes());
            }
            KeyValue::Int(x) => {
                self.object(&INTEGER);
                self.out.extend_from_slice(&x.to_be_bytes());
            }
            KeyValue::Long(x) => {
                self.object(&LONG);
                self.out.extend_from_slice(&x.to_be_bytes());
            }
            KeyValue::Float(x) => {
                self.object(&FLOAT);
                self.out.extend_from_slice(&x.to_bits().to_be_bytes());
            }
            KeyValue::Double(x) => {
                self.object(&DOUBLE);
                self.out.extend_from_slice(&x.to_bits().to_be_bytes());
            }
            KeyValue::String(s) => self.string(s),
            KeyValue::Uuid(u) => {
                self.object(&UUID);
                self.out.extend_from_slice(&(*u as u64).to_be_bytes());
                self.out
                    .extend_from_slice(&((*u >> 64) as u64).to_be_bytes());
            }
            KeyValue::Decimal(text) => {
                let (negative, digits, scale) = split_decimal(text);
                let twos =
                    crate::text::numbers::digits_to_twos_complement(false, digits.as_bytes());
                let magnitude: Vec<u8> = twos.into_iter().skip_while(|b| *b == 0).collect();
                let signum: i32 = if magnitude.is_empty() {
                    0
                } else if negative {
                    -1
                } else {
                    1
                };
                self.object(&BIG_DECIMAL);
                self.out.extend_from_slice(&scale.to_be_bytes());
                // intVal: BigInteger's writeObject (putFields: the cached
                // values are written as "unknown")
                self.object(&BIG_INTEGER);
                for x in [-1i32, -1, -2, -2, signum] {
                    self.out.extend_from_slice(&x.to_be_bytes());
                }
                self.out.push(TC_ARRAY);
                self.desc(&BYTE_ARRAY);
                self.handle();
                self.out
                    .extend_from_slice(&(magnitude.len() as i32).to_be_bytes());
                self.out.extend_from_slice(&magnitude);
                self.out.push(TC_ENDBLOCKDATA); // BigInteger.writeObject
                self.out.push(TC_ENDBLOCKDATA); // BigDecimal.writeObject
            }
        }
    }
}

/// (negative, digits without leading zeros beyond one, scale) of plain
/// decimal text.
fn split_decimal(text: &str) -> (bool, String, i32) {
    let (negative, t) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    let mut digits: String = int
        .chars()
        .chain(frac.chars())
        .filter(char::is_ascii_digit)
        .collect();
    let trimmed = digits.trim_start_matches('0').len();
    digits.drain(..digits.len() - trimmed);
    (negative, digits, frac.len() as i32)
}

/// Java's modified UTF-8 (`DataOutput.writeUTF` without the length).
fn modified_utf8(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for u in s.encode_utf16() {
        match u {
            0x0001..=0x007F => out.push(u as u8),
            0x0000 | 0x0080..=0x07FF => {
                out.push(0xC0 | (u >> 6) as u8);
                out.push(0x80 | (u & 0x3F) as u8);
            }
            _ => {
                out.push(0xE0 | (u >> 12) as u8);
                out.push(0x80 | ((u >> 6) & 0x3F) as u8);
                out.push(0x80 | (u & 0x3F) as u8);
            }
        }
    }
    out
}

fn from_modified_utf8(b: &[u8]) -> Result<String, KeyDecodeError> {
    let mut units = Vec::with_capacity(b.len());
    let mut i = 0;
    let bad = || KeyDecodeError("malformed modified UTF-8".into());
    while i < b.len() {
        let c = b[i];
        if c & 0x80 == 0 {
            units.push(u16::from(c));
            i += 1;
        } else if c & 0xE0 == 0xC0 {
            let c2 = *b.get(i + 1).ok_or_else(bad)?;
            units.push((u16::from(c & 0x1F) << 6) | u16::from(c2 & 0x3F));
            i += 2;
        } else if c & 0xF0 == 0xE0 {
            let (c2, c3) = (
                *b.get(i + 1).ok_or_else(bad)?,
                *b.get(i + 2).ok_or_else(bad)?,
            );
            units.push(
                (u16::from(c & 0x0F) << 12) | (u16::from(c2 & 0x3F) << 6) | u16::from(c3 & 0x3F),
            );
            i += 3;
        } else {
            return Err(bad());
        }
    }
    String::from_utf16(&units).map_err(|_| bad())
}

/// `Object[]` `key` (or `null` for None) serialized as Java does, in
/// lower-case hex: Debezium's offset encoding of a chunk key.
pub fn encode_key(key: Option<&[KeyValue]>) -> String {
    let mut w = Writer {
        out: MAGIC.to_vec(),
        next: 0,
        descs: HashMap::new(),
        strings: HashMap::new(),
    };
    match key {
        None => w.out.push(TC_NULL),
        Some(values) => {
            w.out.push(TC_ARRAY);
            w.desc(&OBJECT_ARRAY);
            w.handle();
            w.out
                .extend_from_slice(&(values.len() as i32).to_be_bytes());
            for v in values {
                w.value(v);
            }
        }
    }
    w.out.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads what [`encode_key`] (or Java) wrote: None for a serialized null.
pub fn decode_key(hex: &str) -> Result<Option<Vec<KeyValue>>, KeyDecodeError> {
    let hex = hex.trim();
    if hex.len() % 2 != 0 {
        return Err(KeyDecodeError("odd number of hex digits".into()));
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| KeyDecodeError("not hex".into()))?;
    if bytes.len() < 5 || bytes[..4] != MAGIC {
        return Err(KeyDecodeError("not a Java serialization stream".into()));
    }
    let mut r = Reader {
        b: &bytes,
        pos: 4,
        handles: Vec::new(),
    };
    match r.content()? {
        J::Null => Ok(None),
        J::Array(items) => items
            .into_iter()
            .map(to_key_value)
            .collect::<Result<_, _>>()
            .map(Some),
        other => Err(KeyDecodeError(format!(
            "expected Object[], found {}",
            other.kind()
        ))),
    }
}

/// A value read from the stream.
#[derive(Debug, Clone)]
enum J {
    Null,
    Str(String),
    Object(String, Vec<(String, J)>),
    Array(Vec<J>),
    Bytes(Vec<u8>),
    Prim(i64),
    FloatBits(u32),
    DoubleBits(u64),
    Desc(std::rc::Rc<RDesc>),
}

impl J {
    fn kind(&self) -> String {
        match self {
            J::Object(c, _) => c.clone(),
            J::Null => "null".into(),
            J::Str(_) => "String".into(),
            _ => "a primitive or array".into(),
        }
    }
}

#[derive(Debug)]
struct RDesc {
    name: String,
    flags: u8,
    fields: Vec<(u8, String)>,
    superclass: Option<std::rc::Rc<RDesc>>,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    handles: Vec<J>,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], KeyDecodeError> {
        let end = self.pos.checked_add(n).filter(|e| *e <= self.b.len());
        let end = end.ok_or_else(|| KeyDecodeError("truncated".into()))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, KeyDecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, KeyDecodeError> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> Result<u32, KeyDecodeError> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> Result<u64, KeyDecodeError> {
        Ok((u64::from(self.u32()?) << 32) | u64::from(self.u32()?))
    }
    fn utf(&mut self) -> Result<String, KeyDecodeError> {
        let n = self.u16()? as usize;
        from_modified_utf8(self.take(n)?)
    }
    fn reference(&mut self) -> Result<J, KeyDecodeError> {
        let h = self.u32()?.wrapping_sub(BASE_HANDLE) as usize;
        self.handles
            .get(h)
            .cloned()
            .ok_or_else(|| KeyDecodeError(format!("unknown back reference {h}")))
    }

    fn class_desc(&mut self) -> Result<Option<std::rc::Rc<RDesc>>, KeyDecodeError> {
        match self.u8()? {
            TC_NULL => Ok(None),
            TC_REFERENCE => match self.reference()? {
                J::Desc(d) => Ok(Some(d)),
                _ => Err(KeyDecodeError("a reference that is not a class".into())),
            },
            TC_CLASSDESC => {
                let name = self.utf()?;
                let _suid = self.u64()?;
                let slot = self.handles.len();
                self.handles.push(J::Null);
                let flags = self.u8()?;
                let n = self.u16()?;
                let mut fields = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let code = self.u8()?;
                    let fname = self.utf()?;
                    if code == b'L' || code == b'[' {
                        self.content()?; // the type signature string
                    }
                    fields.push((code, fname));
                }
                self.skip_annotations()?;
                let superclass = self.class_desc()?;
                let d = std::rc::Rc::new(RDesc {
                    name,
                    flags,
                    fields,
                    superclass,
                });
                self.handles[slot] = J::Desc(d.clone());
                Ok(Some(d))
            }
            t => Err(KeyDecodeError(format!(
                "unexpected type code {t:#04x} for a class"
            ))),
        }
    }

    fn skip_annotations(&mut self) -> Result<(), KeyDecodeError> {
        loop {
            match self.b.get(self.pos) {
                Some(&TC_ENDBLOCKDATA) => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(&TC_BLOCKDATA) => {
                    self.pos += 1;
                    let n = self.u8()? as usize;
                    self.take(n)?;
                }
                Some(&TC_BLOCKDATALONG) => {
                    self.pos += 1;
                    let n = self.u32()? as usize;
                    self.take(n)?;
                }
                Some(_) => {
                    self.content()?;
                }
                None => return Err(KeyDecodeError("truncated".into())),
            }
        }
    }

    fn content(&mut self) -> Result<J, KeyDecodeError> {
        match self.u8()? {
            TC_NULL => Ok(J::Null),
            TC_REFERENCE => self.reference(),
            TC_STRING => {
                let s = J::Str(self.utf()?);
                self.handles.push(s.clone());
                Ok(s)
            }
            TC_LONGSTRING => {
                let n = self.u64()? as usize;
                let s = J::Str(from_modified_utf8(self.take(n)?)?);
                self.handles.push(s.clone());
                Ok(s)
            }
            TC_ARRAY => {
                let d = self
                    .class_desc()?
                    .ok_or_else(|| KeyDecodeError("array without a class".into()))?;
                let slot = self.handles.len();
                self.handles.push(J::Null);
                let n = self.u32()? as usize;
                let v = match d.name.as_str() {
                    "[B" => J::Bytes(self.take(n)?.to_vec()),
                    name if name.starts_with("[L") || name.starts_with("[[") => {
                        let mut items = Vec::with_capacity(n.min(1024));
                        for _ in 0..n {
                            items.push(self.content()?);
                        }
                        J::Array(items)
                    }
                    name => return Err(KeyDecodeError(format!("unsupported array class {name}"))),
                };
                self.handles[slot] = v.clone();
                Ok(v)
            }
            TC_OBJECT => {
                let d = self
                    .class_desc()?
                    .ok_or_else(|| KeyDecodeError("object without a class".into()))?;
                let slot = self.handles.len();
                self.handles.push(J::Null);
                let mut chain = Vec::new();
                let mut c = Some(d.clone());
                while let Some(x) = c {
                    c = x.superclass.clone();
                    chain.push(x);
                }
                let mut fields = Vec::new();
                for cls in chain.iter().rev() {
                    if cls.flags & SC_SERIALIZABLE == 0 {
                        return Err(KeyDecodeError(format!("{} is not Serializable", cls.name)));
                    }
                    for (code, name) in &cls.fields {
                        let v = match code {
                            b'B' => J::Prim(i64::from(self.u8()? as i8)),
                            b'Z' => J::Prim(i64::from(self.u8()?)),
                            b'C' | b'S' => J::Prim(i64::from(self.u16()? as i16)),
                            b'I' => J::Prim(i64::from(self.u32()? as i32)),
                            b'J' => J::Prim(self.u64()? as i64),
                            b'F' => J::FloatBits(self.u32()?),
                            b'D' => J::DoubleBits(self.u64()?),
                            _ => self.content()?,
                        };
                        fields.push((name.clone(), v));
                    }
                    if cls.flags & SC_WRITE_METHOD != 0 {
                        self.skip_annotations()?;
                    }
                }
                let v = J::Object(d.name.clone(), fields);
                self.handles[slot] = v.clone();
                Ok(v)
            }
            t => Err(KeyDecodeError(format!("unexpected type code {t:#04x}"))),
        }
    }
}

fn field<'a>(fields: &'a [(String, J)], name: &str) -> Result<&'a J, KeyDecodeError> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
        .ok_or_else(|| KeyDecodeError(format!("field {name} missing")))
}

fn prim(fields: &[(String, J)], name: &str) -> Result<i64, KeyDecodeError> {
    match field(fields, name)? {
        J::Prim(v) => Ok(*v),
        _ => Err(KeyDecodeError(format!("field {name} is not a primitive"))),
    }
}

fn to_key_value(j: J) -> Result<KeyValue, KeyDecodeError> {
    Ok(match j {
        J::Null => KeyValue::Null,
        J::Str(s) => KeyValue::String(s),
        J::Object(class, f) => match class.as_str() {
            "java.lang.Integer" => KeyValue::Int(prim(&f, "value")? as i32),
            "java.lang.Long" => KeyValue::Long(prim(&f, "value")?),
            "java.lang.Short" => KeyValue::Short(prim(&f, "value")? as i16),
            "java.lang.Boolean" => KeyValue::Bool(prim(&f, "value")? != 0),
            "java.lang.Float" => match field(&f, "value")? {
                J::FloatBits(b) => KeyValue::Float(f32::from_bits(*b)),
                _ => return Err(KeyDecodeError("Float without a float".into())),
            },
            "java.lang.Double" => match field(&f, "value")? {
                J::DoubleBits(b) => KeyValue::Double(f64::from_bits(*b)),
                _ => return Err(KeyDecodeError("Double without a double".into())),
            },
            "java.util.UUID" => {
                let lo = prim(&f, "leastSigBits")? as u64;
                let hi = prim(&f, "mostSigBits")? as u64;
                KeyValue::Uuid((u128::from(hi) << 64) | u128::from(lo))
            }
            "java.math.BigDecimal" => {
                let scale = prim(&f, "scale")? as i32;
                let J::Object(_, int_val) = field(&f, "intVal")? else {
                    return Err(KeyDecodeError("BigDecimal without intVal".into()));
                };
                let signum = prim(int_val, "signum")?;
                let J::Bytes(mag) = field(int_val, "magnitude")? else {
                    return Err(KeyDecodeError("BigInteger without magnitude".into()));
                };
                let mut twos = vec![0u8];
                twos.extend_from_slice(mag);
                let (_, digits) = crate::text::numbers::twos_complement_to_decimal(&twos);
                KeyValue::Decimal(plain_decimal(signum < 0, &digits, scale))
            }
            other => return Err(KeyDecodeError(format!("unsupported key class {other}"))),
        },
        other => {
            return Err(KeyDecodeError(format!(
                "unsupported key element {}",
                other.kind()
            )))
        }
    })
}

/// `digits` × 10^-scale in plain notation.
fn plain_decimal(negative: bool, digits: &str, scale: i32) -> String {
    let mut s = String::new();
    if negative && digits.bytes().any(|b| b != b'0') {
        s.push('-');
    }
    if scale <= 0 {
        s.push_str(digits);
        s.extend(std::iter::repeat_n('0', scale.unsigned_abs() as usize));
        return s;
    }
    let scale = scale as usize;
    if digits.len() > scale {
        s.push_str(&digits[..digits.len() - scale]);
        s.push('.');
        s.push_str(&digits[digits.len() - scale..]);
    } else {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', scale - digits.len()));
        s.push_str(digits);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written by Java 17's ObjectOutputStream (`oos.writeObject(new Object[]{...})`).
    const JAVA: &[(&str, &str)] = &[
        ("[1]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000001737200116a6176612e6c616e672e496e746567657212e2a0a4f781873802000149000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b020000787000000001"),
        ("[1, 2]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000002737200116a6176612e6c616e672e496e746567657212e2a0a4f781873802000149000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b0200007870000000017371007e000200000002"),
        ("[5000000000L]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c0200007870000000017372000e6a6176612e6c616e672e4c6f6e673b8be490cc8f23df0200014a000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b0200007870000000012a05f200"),
        ("[\"abc\"]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000001740003616263"),
        ("[\"é€\"]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000001740005c3a9e282ac"),
        ("[12.50]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000001737200146a6176612e6d6174682e426967446563696d616c54c71557f981284f0300024900057363616c654c0006696e7456616c7400164c6a6176612f6d6174682f426967496e74656765723b787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b020000787000000002737200146a6176612e6d6174682e426967496e74656765728cfc9f1fa93bfb1d030006490008626974436f756e744900096269744c656e67746849001366697273744e6f6e7a65726f427974654e756d49000c6c6f776573745365744269744900067369676e756d5b00096d61676e69747564657400025b427871007e0004fffffffffffffffffffffffefffffffe00000001757200025b42acf317f8060854e002000078700000000204e27878"),
        ("[0]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000001737200146a6176612e6d6174682e426967446563696d616c54c71557f981284f0300024900057363616c654c0006696e7456616c7400164c6a6176612f6d6174682f426967496e74656765723b787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b020000787000000000737200146a6176612e6d6174682e426967496e74656765728cfc9f1fa93bfb1d030006490008626974436f756e744900096269744c656e67746849001366697273744e6f6e7a65726f427974654e756d49000c6c6f776573745365744269744900067369676e756d5b00096d61676e69747564657400025b427871007e0004fffffffffffffffffffffffefffffffe00000000757200025b42acf317f8060854e00200007870000000007878"),
        ("[UUID]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c0200007870000000017372000e6a6176612e7574696c2e55554944bc9903f7986d852f0200024a000c6c65617374536967426974734a000b6d6f7374536967426974737870a456426614174000123e4567e89b12d3"),
        ("[true]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000001737200116a6176612e6c616e672e426f6f6c65616ecd207280d59cfaee0200015a000576616c7565787001"),
        ("[(short) 7]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c0200007870000000017372000f6a6176612e6c616e672e53686f7274684d37133460da5202000153000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b02000078700007"),
        ("[null]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c02000078700000000170"),
        ("[7, \"x\", 8L]", "aced0005757200135b4c6a6176612e6c616e672e4f626a6563743b90ce589f1073296c020000787000000003737200116a6176612e6c616e672e496e746567657212e2a0a4f781873802000149000576616c7565787200106a6176612e6c616e672e4e756d62657286ac951d0b94e08b020000787000000007740001787372000e6a6176612e6c616e672e4c6f6e673b8be490cc8f23df0200014a000576616c75657871007e00030000000000000008"),
    ];

    fn values(case: &str) -> Vec<KeyValue> {
        use KeyValue::*;
        match case {
            "[1]" => vec![Int(1)],
            "[1, 2]" => vec![Int(1), Int(2)],
            "[5000000000L]" => vec![Long(5_000_000_000)],
            "[\"abc\"]" => vec![String("abc".into())],
            "[\"é€\"]" => vec![String("é€".into())],
            "[12.50]" => vec![Decimal("12.50".into())],
            "[0]" => vec![Decimal("0".into())],
            "[UUID]" => vec![Uuid(0x123e4567_e89b_12d3_a456_426614174000)],
            "[true]" => vec![Bool(true)],
            "[(short) 7]" => vec![Short(7)],
            "[null]" => vec![Null],
            "[7, \"x\", 8L]" => vec![Int(7), String("x".into()), Long(8)],
            other => panic!("{other}"),
        }
    }

    #[test]
    fn bytes_are_javas() {
        for (case, hex) in JAVA {
            let v = values(case);
            assert_eq!(encode_key(Some(&v)), *hex, "{case}");
            assert_eq!(decode_key(hex).unwrap(), Some(v), "{case}");
        }
        assert_eq!(encode_key(None), "aced000570");
        assert_eq!(decode_key("aced000570").unwrap(), None);
    }

    #[test]
    fn decimals_round_trip() {
        for d in [
            "-3",
            "255",
            "-128",
            "0.001",
            "-0.50",
            "123456789012345678901234567890.1",
        ] {
            let v = vec![KeyValue::Decimal(d.into())];
            assert_eq!(decode_key(&encode_key(Some(&v))).unwrap(), Some(v), "{d}");
        }
    }

    #[test]
    fn sql_text() {
        assert_eq!(
            KeyValue::Uuid(0x123e4567_e89b_12d3_a456_426614174000)
                .to_sql_text()
                .unwrap(),
            "123e4567-e89b-12d3-a456-426614174000"
        );
        assert_eq!(KeyValue::Double(f64::NAN).to_sql_text().unwrap(), "NaN");
        assert_eq!(KeyValue::Null.to_sql_text(), None);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_key("zz").is_err());
        assert!(decode_key("aced0005").is_err());
        assert!(decode_key("aced00057572").is_err());
        assert!(decode_key("00000000000000").is_err());
    }
}

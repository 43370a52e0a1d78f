//! Debezium's per-column options (`io.debezium.relational.mapping`), once
//! for every relational source:
//!
//! - `column.truncate.to.<N>.chars`: string values longer than N characters
//!   are cut to N (bytes values to N bytes); the field schema gets the
//!   parameter `truncateLength`.
//! - `column.mask.with.<N>.chars`: the values of character columns become N
//!   `*` (a NULL too); the field schema gets `masked=true`.
//! - `column.mask.hash.<algorithm>.with.salt.<salt>` (V1) and
//!   `column.mask.hash.v2.<algorithm>.with.salt.<salt>` (V2): the values of
//!   character columns become the lowercase hex digest of the salt followed
//!   by the value's bytes, cut to the column's length when it has one; V1
//!   hashes Java's serialised form of the string (`ObjectOutputStream`), V2
//!   its UTF-8 bytes. NULL stays NULL; the field schema gets `masked=true`.
//! - `column.propagate.source.type` (matched against column names) and
//!   `datatype.propagate.source.type` (matched against
//!   `<namespace>.<table>.<type name>`): the field schema gets
//!   `__debezium.source.column.type` (upper-case), `.length`, `.scale` (when
//!   the column has them) and `.name`.
//!
//! Each option's value is a comma-separated list of regular expressions
//! matched, whole and case-insensitively, against the fully-qualified
//! column name: `schema.table.column` on PostgreSQL, `db.table.column` on
//! MySQL / MariaDB.
//!
//! Contract (Debezium's `ColumnMappers`): at most one option applies to a
//! column, the first whose expressions match it, in this order: truncate,
//! mask, propagate by column, propagate by type, hash V1, hash V2 (keys of
//! one kind in key order). An option that matches but does nothing to the
//! column (a truncation to more characters than the column holds, masking
//! a number) still takes the column. Options change the value fields only:
//! the record key keeps the column's plain schema and value. Options read
//! the value as the connector converted it (so an unchanged-TOAST
//! placeholder is masked, hashed or truncated like any value).
//!
//! Sources describe each column as Debezium's `Column` would
//! ([`SourceColumn`]), ask [`ColumnOptions::for_column`] for its option and
//! hand the options to
//! [`TableEnvelope::with_column_options`](super::TableEnvelope::with_column_options),
//! which alters the value schema and applies the options to every row it
//! emits.
//!
//! One divergence: Java counts characters in UTF-16 units, and so does
//! truncation here; where the cut would split a surrogate pair (a character
//! outside the Basic Multilingual Plane), Java keeps the lone high surrogate,
//! which no Rust string can hold, and this module drops it.

use std::fmt::Write as _;
use std::sync::Arc;

use regex::Regex;

use crate::config::{split_list, whole_match, ConfigReader};
use crate::debezium::keys::{COLUMN_PROPAGATE_SOURCE_TYPE, DATATYPE_PROPAGATE_SOURCE_TYPE};
use crate::schema::SchemaRef;
use crate::value::Value;

/// `__debezium.source.column.type`: the column's type name, upper-case.
pub const TYPE_NAME_PARAMETER: &str = "__debezium.source.column.type";
/// `__debezium.source.column.length`: the column's length, when it has one.
pub const TYPE_LENGTH_PARAMETER: &str = "__debezium.source.column.length";
/// `__debezium.source.column.scale`: the column's scale, when it has one.
pub const TYPE_SCALE_PARAMETER: &str = "__debezium.source.column.scale";
/// `__debezium.source.column.name`: the column's name.
pub const COLUMN_NAME_PARAMETER: &str = "__debezium.source.column.name";

/// What a source knows of one column, as Debezium's `Column` holds it: the
/// options match it and read its type, length and scale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceColumn {
    /// The column name.
    pub name: String,
    /// `Column.typeName()`: the type as the source's driver names it (e.g.
    /// `varchar`, `int4`, `serial` on PostgreSQL; `VARCHAR`, `INT UNSIGNED`
    /// on MySQL). Upper-cased into `__debezium.source.column.type`.
    pub type_name: String,
    /// `Column.length()`; None when unset.
    pub length: Option<i32>,
    /// `Column.scale()`; None when unset.
    pub scale: Option<i32>,
    /// True for character columns (JDBC types CHAR, VARCHAR, LONGVARCHAR,
    /// CLOB, NCHAR, NVARCHAR, LONGNVARCHAR, NCLOB): only their values are
    /// masked or hashed.
    pub character: bool,
}

crate::config_choice! {
    /// The digest of `column.mask.hash…`, by its Java `MessageDigest` name
    /// (any case; Java's aliases too).
    pub enum HashAlgorithm {
        /// MD5.
        Md5 = "MD5",
        /// SHA-1.
        Sha1 = "SHA-1" | "SHA" | "SHA1",
        /// SHA-224.
        Sha224 = "SHA-224" | "SHA224",
        /// SHA-256.
        Sha256 = "SHA-256" | "SHA256",
        /// SHA-384.
        Sha384 = "SHA-384" | "SHA384",
        /// SHA-512.
        Sha512 = "SHA-512" | "SHA512",
        /// SHA-512/224.
        Sha512_224 = "SHA-512/224" | "SHA512/224",
        /// SHA-512/256.
        Sha512_256 = "SHA-512/256" | "SHA512/256",
        /// SHA3-224.
        Sha3_224 = "SHA3-224",
        /// SHA3-256.
        Sha3_256 = "SHA3-256",
        /// SHA3-384.
        Sha3_384 = "SHA3-384",
        /// SHA3-512.
        Sha3_512 = "SHA3-512",
    }
}

impl HashAlgorithm {
    /// The digest of `salt` followed by `data`.
    pub fn digest(self, salt: &[u8], data: &[u8]) -> Vec<u8> {
        fn run<D: sha2::Digest>(salt: &[u8], data: &[u8]) -> Vec<u8> {
            let mut d = D::new();
            d.update(salt);
            d.update(data);
            d.finalize().to_vec()
        }
        match self {
            HashAlgorithm::Md5 => run::<md5::Md5>(salt, data),
            HashAlgorithm::Sha1 => run::<sha1::Sha1>(salt, data),
            HashAlgorithm::Sha224 => run::<sha2::Sha224>(salt, data),
            HashAlgorithm::Sha256 => run::<sha2::Sha256>(salt, data),
            HashAlgorithm::Sha384 => run::<sha2::Sha384>(salt, data),
            HashAlgorithm::Sha512 => run::<sha2::Sha512>(salt, data),
            HashAlgorithm::Sha512_224 => run::<sha2::Sha512_224>(salt, data),
            HashAlgorithm::Sha512_256 => run::<sha2::Sha512_256>(salt, data),
            HashAlgorithm::Sha3_224 => run::<sha3::Sha3_224>(salt, data),
            HashAlgorithm::Sha3_256 => run::<sha3::Sha3_256>(salt, data),
            HashAlgorithm::Sha3_384 => run::<sha3::Sha3_384>(salt, data),
            HashAlgorithm::Sha3_512 => run::<sha3::Sha3_512>(salt, data),
        }
    }
}

/// Which bytes of a value `column.mask.hash…` hashes (Debezium's
/// `HashingByteArrayStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashVersion {
    /// `column.mask.hash.…`: Java's serialised form of the string
    /// ([`java_serialized_string`]).
    V1,
    /// `column.mask.hash.v2.…`: the string's UTF-8 bytes.
    V2,
}

/// A configured hash: algorithm, salt and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hasher {
    /// The digest.
    pub algorithm: HashAlgorithm,
    /// The salt's bytes (UTF-8), hashed before the value.
    pub salt: Vec<u8>,
    /// Which bytes of the value are hashed.
    pub version: HashVersion,
}

impl Hasher {
    /// The lowercase hex digest of `value`, as Debezium's `HashValueConverter`
    /// computes it (before any cut to the column's length).
    pub fn hash(&self, value: &str) -> String {
        let digest = match self.version {
            HashVersion::V1 => self
                .algorithm
                .digest(&self.salt, &java_serialized_string(value)),
            HashVersion::V2 => self.algorithm.digest(&self.salt, value.as_bytes()),
        };
        let mut out = String::with_capacity(digest.len() * 2);
        for b in digest {
            let _ = write!(out, "{b:02x}");
        }
        out
    }
}

/// `s` as Java's `ObjectOutputStream.writeObject` writes a `String` into a
/// fresh stream: the stream header `AC ED 00 05`, then `TC_STRING` (0x74)
/// and a 2-byte length when the modified UTF-8 form is at most 65535
/// bytes, else `TC_LONGSTRING` (0x7C) and an 8-byte length, then the
/// modified UTF-8 bytes (NUL as `C0 80`, characters outside the BMP as two
/// 3-byte surrogates).
pub fn java_serialized_string(s: &str) -> Vec<u8> {
    let utf = modified_utf8(s);
    let mut out = Vec::with_capacity(utf.len() + 13);
    out.extend_from_slice(&[0xAC, 0xED, 0x00, 0x05]);
    match u16::try_from(utf.len()) {
        Ok(n) => {
            out.push(0x74);
            out.extend_from_slice(&n.to_be_bytes());
        }
        Err(_) => {
            out.push(0x7C);
            out.extend_from_slice(&(utf.len() as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&utf);
    out
}

/// Java's modified UTF-8 (`DataOutput.writeUTF`) of `s`, without the length.
fn modified_utf8(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.encode_utf16() {
        match c {
            0x0001..=0x007F => out.push(c as u8),
            0x0000 | 0x0080..=0x07FF => {
                out.push(0xC0 | (c >> 6) as u8);
                out.push(0x80 | (c & 0x3F) as u8);
            }
            _ => {
                out.push(0xE0 | (c >> 12) as u8);
                out.push(0x80 | ((c >> 6) & 0x3F) as u8);
                out.push(0x80 | (c & 0x3F) as u8);
            }
        }
    }
    out
}

/// `s` cut to at most `max` UTF-16 units (Java's `String.substring(0, max)`);
/// a character that would be split is dropped whole.
pub fn truncate_utf16(s: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, ch) in s.char_indices() {
        units += ch.len_utf16();
        if units > max {
            return &s[..i];
        }
    }
    s
}

/// What an option does.
#[derive(Debug, Clone)]
enum Action {
    /// `column.truncate.to.<N>.chars`.
    Truncate(usize),
    /// `column.mask.with.<N>.chars`: the mask.
    Mask(Arc<str>),
    /// `column.mask.hash[.v2].<algorithm>.with.salt.<salt>`.
    Hash(Arc<Hasher>),
    /// `column.propagate.source.type` / `datatype.propagate.source.type`.
    Propagate,
}

/// One configured option: its expressions and what it does.
#[derive(Debug, Clone)]
struct Rule {
    patterns: Vec<Regex>,
    /// Matched against `<namespace>.<table>.<type name>` instead of the column name.
    by_type: bool,
    action: Action,
}

/// The kind of a column-option key, parsed from its name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum OptionKey {
    Truncate(usize),
    Mask(usize),
    Hash(Hasher),
}

const TRUNCATE_PREFIX: &str = "column.truncate.";
const MASK_PREFIX: &str = "column.mask.";

/// Parses a key whose name carries its parameters; None for keys that are
/// not column options, `Err(rule)` for a key under `column.truncate.` or
/// `column.mask.` that does not have a valid shape.
fn parse_key(key: &str) -> Option<Result<OptionKey, String>> {
    let chars = |n: &str, shape: &str| -> Result<usize, String> {
        if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(v) = n.parse::<i32>() {
                return Ok(v as usize);
            }
        }
        Err(format!(
            "'{n}' is not a number of characters: the key names it, as in {shape} (a whole number up to 2147483647)"
        ))
    };
    if let Some(rest) = key.strip_prefix("column.truncate.to.") {
        if let Some(n) = rest.strip_suffix(".chars") {
            return Some(chars(n, "column.truncate.to.20.chars").map(OptionKey::Truncate));
        }
    }
    if let Some(rest) = key.strip_prefix("column.mask.with.") {
        if let Some(n) = rest.strip_suffix(".chars") {
            return Some(chars(n, "column.mask.with.10.chars").map(OptionKey::Mask));
        }
    }
    if let Some(rest) = key.strip_prefix("column.mask.hash.") {
        let v2 = rest
            .strip_prefix("v2.")
            .and_then(split_algorithm_salt)
            .map(|p| (p, HashVersion::V2));
        let parsed = v2.or_else(|| split_algorithm_salt(rest).map(|p| (p, HashVersion::V1)));
        return Some(match parsed {
            None => Err("does not name an algorithm and a salt: use column.mask.hash.<algorithm>.with.salt.<salt> or column.mask.hash.v2.<algorithm>.with.salt.<salt>, e.g. column.mask.hash.SHA-256.with.salt.CzQMA0cB5K".into()),
            Some(((algorithm, salt), version)) => {
                use crate::config::Choice as _;
                match HashAlgorithm::from_name(algorithm) {
                    Some(algorithm) => Ok(OptionKey::Hash(Hasher {
                        algorithm,
                        salt: salt.as_bytes().to_vec(),
                        version,
                    })),
                    None => Err(format!(
                        "{algorithm} MessageDigest not available: name one of {} in the key",
                        HASH_NAMES.join(", ")
                    )),
                }
            }
        });
    }
    if key.starts_with(TRUNCATE_PREFIX) || key.starts_with(MASK_PREFIX) {
        return Some(Err("is not a column option: use column.truncate.to.<N>.chars, column.mask.with.<N>.chars, column.mask.hash.<algorithm>.with.salt.<salt> or column.mask.hash.v2.<algorithm>.with.salt.<salt>".into()));
    }
    None
}

/// The canonical names of the hash algorithms.
const HASH_NAMES: [&str; 12] = [
    "MD5",
    "SHA-1",
    "SHA-224",
    "SHA-256",
    "SHA-384",
    "SHA-512",
    "SHA-512/224",
    "SHA-512/256",
    "SHA3-224",
    "SHA3-256",
    "SHA3-384",
    "SHA3-512",
];

/// `<algorithm>.with.salt.<salt>` (algorithm without dots, salt not empty).
fn split_algorithm_salt(s: &str) -> Option<(&str, &str)> {
    let (algorithm, salt) = s.split_once(".with.salt.")?;
    (!algorithm.is_empty() && !algorithm.contains('.') && !salt.is_empty())
        .then_some((algorithm, salt))
}

/// The column options of a connector's configuration, in Debezium's order
/// of precedence (see the module documentation).
#[derive(Debug, Clone, Default)]
pub struct ColumnOptions {
    rules: Vec<Rule>,
}

impl ColumnOptions {
    /// Reads the options: the declared `column.propagate.source.type` and
    /// `datatype.propagate.source.type`, and every key whose name carries
    /// its parameters (`column.truncate.to.<N>.chars`,
    /// `column.mask.with.<N>.chars`, `column.mask.hash[.v2].<algorithm>.with.salt.<salt>`).
    /// A key under `column.truncate.` or `column.mask.` with a malformed
    /// name, a bad N or an unknown algorithm, and an invalid expression,
    /// are recorded on `r` as one error naming that key.
    pub fn read(r: &mut ConfigReader<'_>) -> ColumnOptions {
        let (mut truncate, mut mask, mut hash_v1, mut hash_v2) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (key, value) in r.raw() {
            let kind = match parse_key(key) {
                None => continue,
                Some(Err(rule)) => {
                    r.fail(key, rule);
                    continue;
                }
                Some(Ok(kind)) => kind,
            };
            let mut patterns = Vec::new();
            for p in split_list(value) {
                match whole_match(&p) {
                    Ok(re) => patterns.push(re),
                    Err(e) => r.fail(
                        key,
                        format!("Invalid value {p} for configuration {key}: not a valid regular expression: {e}"),
                    ),
                }
            }
            let rule = |action| Rule {
                patterns,
                by_type: false,
                action,
            };
            match kind {
                OptionKey::Truncate(n) => truncate.push(rule(Action::Truncate(n))),
                OptionKey::Mask(n) => mask.push(rule(Action::Mask("*".repeat(n).into()))),
                OptionKey::Hash(h) if h.version == HashVersion::V1 => {
                    hash_v1.push(rule(Action::Hash(Arc::new(h))))
                }
                OptionKey::Hash(h) => hash_v2.push(rule(Action::Hash(Arc::new(h)))),
            }
        }
        let propagate = |patterns: Vec<Regex>, by_type| Rule {
            patterns,
            by_type,
            action: Action::Propagate,
        };
        let by_column = propagate(r.regexes(&COLUMN_PROPAGATE_SOURCE_TYPE), false);
        let by_type = propagate(r.regexes(&DATATYPE_PROPAGATE_SOURCE_TYPE), true);
        let rules = truncate
            .into_iter()
            .chain(mask)
            .chain([by_column, by_type])
            .chain(hash_v1)
            .chain(hash_v2)
            .filter(|rule| !rule.patterns.is_empty())
            .collect();
        ColumnOptions { rules }
    }

    /// True when no option is configured.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The option that applies to `column` of `namespace.table` (the first
    /// that matches it), if any.
    pub fn for_column(
        &self,
        namespace: &str,
        table: &str,
        column: &SourceColumn,
    ) -> Option<ColumnOption> {
        if self.rules.is_empty() {
            return None;
        }
        let by_name = format!("{namespace}.{table}.{}", column.name);
        let by_type = format!("{namespace}.{table}.{}", column.type_name);
        self.rules
            .iter()
            .find(|rule| {
                let name = if rule.by_type { &by_type } else { &by_name };
                rule.patterns.iter().any(|p| p.is_match(name))
            })
            .map(|rule| ColumnOption::new(rule.action.clone(), column))
    }
}

/// The option that applies to one column: what it adds to the field schema
/// ([`Self::field_schema`]) and what it does to the values ([`Self::apply`]).
#[derive(Debug, Clone)]
pub struct ColumnOption {
    effect: Effect,
    params: Vec<(&'static str, String)>,
}

/// What an option does to one column's values.
#[derive(Debug, Clone)]
enum Effect {
    None,
    Truncate(usize),
    Mask(Arc<str>),
    Hash(Arc<Hasher>, Option<usize>),
}

impl ColumnOption {
    fn new(action: Action, column: &SourceColumn) -> ColumnOption {
        let length = column.length.filter(|l| *l >= 0);
        let (effect, params) = match action {
            Action::Truncate(n) => {
                // only when the column may hold more than n characters
                if length.is_none_or(|l| l as usize > n) {
                    (Effect::Truncate(n), vec![("truncateLength", n.to_string())])
                } else {
                    (Effect::None, Vec::new())
                }
            }
            Action::Mask(mask) => (
                if column.character {
                    Effect::Mask(mask)
                } else {
                    Effect::None
                },
                vec![("masked", "true".to_owned())],
            ),
            Action::Hash(hasher) => (
                if column.character {
                    Effect::Hash(hasher, length.filter(|l| *l > 0).map(|l| l as usize))
                } else {
                    Effect::None
                },
                vec![("masked", "true".to_owned())],
            ),
            Action::Propagate => {
                let mut p = vec![(TYPE_NAME_PARAMETER, column.type_name.to_uppercase())];
                if let Some(l) = column.length {
                    p.push((TYPE_LENGTH_PARAMETER, l.to_string()));
                }
                if let Some(s) = column.scale {
                    p.push((TYPE_SCALE_PARAMETER, s.to_string()));
                }
                p.push((COLUMN_NAME_PARAMETER, column.name.clone()));
                (Effect::None, p)
            }
        };
        ColumnOption { effect, params }
    }

    /// The value field's schema: `schema` with the option's parameters
    /// appended (after the type's own).
    pub fn field_schema(&self, schema: &SchemaRef) -> SchemaRef {
        if self.params.is_empty() {
            return schema.clone();
        }
        let mut s = (**schema).clone();
        for (k, v) in &self.params {
            s = s.param(*k, v.clone());
        }
        s.build()
    }

    /// The value the option makes of `value`, a value of the column as the
    /// connector converted it.
    pub fn apply(&self, value: Value) -> Value {
        match (&self.effect, value) {
            (Effect::Truncate(n), Value::String(mut s)) => {
                let l = truncate_utf16(&s, *n).len();
                s.truncate(l);
                Value::String(s)
            }
            (Effect::Truncate(n), Value::Bytes(mut b)) => {
                b.truncate(*n);
                Value::Bytes(b)
            }
            (Effect::Mask(mask), _) => Value::String(mask.to_string()),
            (Effect::Hash(hasher, length), Value::String(s)) => {
                let hex = hasher.hash(&s);
                Value::String(match length {
                    Some(l) if *l < hex.len() => hex[..*l].to_owned(),
                    _ => hex,
                })
            }
            (_, other) => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw_config as cfg;
    use crate::schema::Schema;

    /// A PostgreSQL `text` column, as the golden capture describes it.
    fn text(name: &str, length: i32) -> SourceColumn {
        SourceColumn {
            name: name.into(),
            type_name: "text".into(),
            length: Some(length),
            scale: Some(0),
            character: true,
        }
    }

    fn read(pairs: &[(&str, &str)]) -> Result<ColumnOptions, Vec<(String, String)>> {
        let raw = cfg(pairs);
        let mut r = ConfigReader::new(&raw);
        let o = ColumnOptions::read(&mut r);
        r.finish(o).map_err(|e| e.0)
    }

    fn hasher(algorithm: HashAlgorithm, salt: &str, version: HashVersion) -> Hasher {
        Hasher {
            algorithm,
            salt: salt.as_bytes().to_vec(),
            version,
        }
    }

    /// Vectors from tests/fixtures/postgres/columns/golden.jsonl, produced
    /// by the real Debezium 3.6.3 (`text` columns, no cut).
    #[test]
    fn hashes_match_debeziums() {
        use HashAlgorithm::*;
        use HashVersion::*;
        let long: String = (1..=2100).map(|i| md5_hex(&i.to_string())).collect();
        assert_eq!(long.len(), 67_200);
        let long = long.as_str();
        let emojis = "😀".repeat(1000);
        let accents = "é".repeat(33_000);
        for (algorithm, salt, version, value, want) in [
            (Sha256, "CzQMA0cB5K", V1, "hello", "b4d39ab0d198fb4cac8b2f023da74f670bcaf192dcc79b5d6361b7ae6b2fafdf"),
            (Sha256, "CzQMA0cB5K", V2, "hello", "c4bf2f9ebc99b7f64add45103e81eb4ca483649064e3e1398b21f41786360c7b"),
            (Sha256, "CzQMA0cB5K", V1, "", "7b061bc77caec9afdc6b986ab6c4de894d58006b32ac0f7ea728404a5cf3a9e5"),
            (Sha256, "CzQMA0cB5K", V2, "", "38bc986eb4a5475fab16ac693f6c1b4c2445600da5c5aec3d04301e48d6d0d68"),
            (Sha256, "CzQMA0cB5K", V1, "__debezium_unavailable_value", "296a90bf4bbab137251d338217c3af14a135f175daedc7c39aacd0b8a408ba6d"),
            (Sha256, "CzQMA0cB5K", V1, long, "4ed7e4f44c5f0af2207d935425853a1409124813766c344713a9ddb9463eeecb"),
            (Sha256, "CzQMA0cB5K", V2, long, "5782ec1ed9664364c61a50b0d6773fbfdb19e24ab9dc74af2067baeea2cef606"),
            (Md5, "s.a.l.t", V1, "hello", "9de9dd885dd62de128ea51fbec5929cc"),
            (Md5, "s.a.l.t", V1, "héllo €", "1e8539fa1de9275907745c8153c94df7"),
            (Sha1, "pepper", V2, "hello", "9bae0c0b53f9eb0d761833d69cf008214ae8bfde"),
            (Sha1, "pepper", V2, "héllo €", "2bb942e0d50f9a99ec7efef41a92b3cedc7b70fa"),
            (Sha1, "pepper", V2, emojis.as_str(), "15b2a09cee25a396b46e84b6fe8053ebf2c22a65"),
            (Sha384, "x", V1, "hello", "979527b432d44e8d1d1355569db95f39e7dc87f84d44e947c6c83c5ac99ba9afe1e66af1d2c19208ecb887dd0ab7c910"),
            (Sha384, "x", V1, "中文😀", "29716caebc1ba95bbe687fd51ee243c39e61a2b5ce1af37ea646a9be639030869b3983af4e856b13c49405f316de42a8"),
            // 33000 two-byte characters: Java's long-string form (TC_LONGSTRING)
            (Sha384, "x", V1, accents.as_str(), "a5866d970c9d685c8008a73d275aad579379b981a95a5d8c2e4bcfc9eb990daa4e839f0ff774e64c0eeb2dbed0eb0d2e"),
            (Sha512, "longer-salt_42", V2, "hello", "8a40f158a1a7dd806c61ae4b2b5d079c4dab82e413067a1e4778a22ff5d011172cfb8f992de0df72ba9424a8e349178ea977bc67b9d918f5db1fdc5065f65a29"),
            (Sha512, "longer-salt_42", V2, "中文😀", "e98d7827e19e60bb646b89c439efeeb4d7969665ec0e65c3d0f1b7fdca7351a1a5019c6ae2e4b98a3ee4e9c39d3d51e5df1f5296d56b47bac00e180190b39dfa"),
        ] {
            let got = hasher(algorithm, salt, version).hash(value);
            assert_eq!(got, want, "{algorithm} {version:?} of {:.20}", value);
        }
    }

    /// MD5 hex of `s`, for the long values of the golden workload
    /// (`string_agg(md5(i::text), '')`).
    fn md5_hex(s: &str) -> String {
        HashAlgorithm::Md5
            .digest(b"", s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn java_serialization_of_strings() {
        assert_eq!(
            java_serialized_string("hé\0"),
            [0xAC, 0xED, 0, 5, 0x74, 0, 5, b'h', 0xC3, 0xA9, 0xC0, 0x80]
        );
        // a character outside the BMP: two 3-byte surrogates
        assert_eq!(
            &java_serialized_string("😀")[5..],
            [0, 6, 0xED, 0xA0, 0xBD, 0xED, 0xB8, 0x80]
        );
        let long = java_serialized_string(&"a".repeat(65_536));
        assert_eq!(&long[4..13], [0x7C, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(java_serialized_string(&"a".repeat(65_535))[4], 0x74);
    }

    #[test]
    fn every_algorithm_hashes() {
        use crate::config::Choice as _;
        for name in HASH_NAMES {
            let a = HashAlgorithm::from_name(name).unwrap();
            assert_eq!(a.name(), name);
            let hex = hasher(a, "s", HashVersion::V2).hash("v");
            let bits = match name {
                "MD5" => 128,
                "SHA-1" => 160,
                n => n.rsplit(['-', '/']).next().unwrap().parse().unwrap(),
            };
            assert_eq!(hex.len() * 4, bits, "{name}");
        }
        // known answers of the salt-less digests
        let plain = |a: HashAlgorithm| hasher(a, "", HashVersion::V2).hash("abc");
        assert_eq!(
            plain(HashAlgorithm::Sha1),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            plain(HashAlgorithm::Sha3_256),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
        assert_eq!(
            plain(HashAlgorithm::Sha512_256),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
        assert_eq!(
            HashAlgorithm::from_name("sha256"),
            Some(HashAlgorithm::Sha256)
        );
        assert_eq!(HashAlgorithm::from_name("SHA"), Some(HashAlgorithm::Sha1));
    }

    #[test]
    fn truncation_counts_utf16_units() {
        assert_eq!(truncate_utf16("truncate me", 4), "trun");
        assert_eq!(truncate_utf16("a😀bcd", 4), "a😀b");
        assert_eq!(truncate_utf16("😀😀😀     ", 4), "😀😀");
        assert_eq!(truncate_utf16("éé😀😀x", 4), "éé😀");
        // a cut through a surrogate pair drops the character
        assert_eq!(truncate_utf16("a😀", 2), "a");
        assert_eq!(truncate_utf16("ab", 4), "ab");
    }

    #[test]
    fn options_follow_debeziums_precedence() {
        let o = read(&[
            ("column.truncate.to.4.chars", "s.t.t_.*,s.t.both"),
            ("column.mask.with.5.chars", "s.t.m_.*,s.t.both"),
            (
                "column.mask.hash.SHA-256.with.salt.CzQMA0cB5K",
                "s.t.h1,s.t.ph",
            ),
            ("column.mask.hash.v2.SHA-256.with.salt.CzQMA0cB5K", "s.t.h2"),
            ("column.propagate.source.type", "s.t.p_.*,s.t.m_text,s.t.ph"),
            ("datatype.propagate.source.type", ".+[.]float8"),
        ])
        .unwrap();
        let option = |c: &SourceColumn| o.for_column("s", "t", c);
        let schema = |c: &SourceColumn| {
            option(c)
                .unwrap()
                .field_schema(&Schema::string().build())
                .parameters
                .clone()
                .unwrap_or_default()
        };
        let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        // truncate before mask; mask before propagate; propagate before hash
        assert_eq!(
            schema(&text("both", i32::MAX)),
            p(&[("truncateLength", "4")])
        );
        assert_eq!(schema(&text("m_text", i32::MAX)), p(&[("masked", "true")]));
        assert_eq!(
            schema(&text("ph", i32::MAX)),
            p(&[
                (TYPE_NAME_PARAMETER, "TEXT"),
                (TYPE_LENGTH_PARAMETER, "2147483647"),
                (TYPE_SCALE_PARAMETER, "0"),
                (COLUMN_NAME_PARAMETER, "ph"),
            ])
        );
        assert_eq!(
            option(&text("ph", i32::MAX))
                .unwrap()
                .apply(Value::String("x".into())),
            Value::String("x".into())
        );
        let float = SourceColumn {
            name: "d".into(),
            type_name: "float8".into(),
            length: Some(17),
            scale: Some(17),
            character: false,
        };
        assert_eq!(schema(&float)[0].1, "FLOAT8");
        assert!(option(&text("plain", 10)).is_none());
        assert!(o.for_column("s", "other", &text("m_text", 10)).is_none());
        // values
        let apply = |c: &SourceColumn, v: Value| option(c).unwrap().apply(v);
        assert_eq!(
            apply(&text("m_x", 10), Value::Null),
            Value::String("*****".into())
        );
        assert_eq!(
            apply(&text("t_x", i32::MAX), Value::String("truncate me".into())),
            Value::String("trun".into())
        );
        assert_eq!(
            apply(&text("t_x", i32::MAX), Value::Bytes(vec![1, 2, 3, 4, 5])),
            Value::Bytes(vec![1, 2, 3, 4])
        );
        assert_eq!(apply(&text("h1", 10), Value::Null), Value::Null);
        assert_eq!(
            apply(&text("h1", 10), Value::String("hello you".into())),
            Value::String("2ffc5e0e6e".into())
        );
        assert_eq!(
            apply(&text("h2", 12), Value::String("hello world".into())),
            Value::String("02982eb0ca53".into())
        );
        // not a character column: the schema is marked, the value kept
        let int = SourceColumn {
            name: "m_int".into(),
            type_name: "int4".into(),
            length: Some(10),
            scale: Some(0),
            character: false,
        };
        assert_eq!(schema(&int), p(&[("masked", "true")]));
        assert_eq!(apply(&int, Value::Int32(42)), Value::Int32(42));
        // a truncation the column's length makes pointless still takes the column
        let short = SourceColumn {
            name: "t_short".into(),
            length: Some(3),
            ..text("t_short", 3)
        };
        let opt = option(&short).unwrap();
        assert!(opt
            .field_schema(&Schema::string().build())
            .parameters
            .is_none());
        assert_eq!(
            opt.apply(Value::String("abc".into())),
            Value::String("abc".into())
        );
    }

    #[test]
    fn keys_with_parameters_are_checked_and_named() {
        for (key, rule) in [
            (
                "column.mask.with.x.chars",
                "'x' is not a number of characters",
            ),
            (
                "column.mask.with.-1.chars",
                "'-1' is not a number of characters",
            ),
            (
                "column.truncate.to.99999999999.chars",
                "is not a number of characters",
            ),
            ("column.truncate.to..chars", "is not a number of characters"),
            (
                "column.mask.hash.FOO.with.salt.s",
                "FOO MessageDigest not available",
            ),
            (
                "column.mask.hash.v2.SHA-999.with.salt.s",
                "SHA-999 MessageDigest not available",
            ),
            (
                "column.mask.hash.SHA-256.with.salt.",
                "does not name an algorithm and a salt",
            ),
            (
                "column.mask.hash.SHA-256",
                "does not name an algorithm and a salt",
            ),
            ("column.mask.width.5.chars", "is not a column option"),
            ("column.truncate.5.chars", "is not a column option"),
        ] {
            let errs = read(&[(key, "s.t.c")]).unwrap_err();
            assert_eq!(errs.len(), 1, "{key}: {errs:?}");
            assert_eq!(errs[0].0, key);
            assert!(errs[0].1.contains(rule), "{key}: {errs:?}");
        }
        let errs = read(&[("column.mask.with.3.chars", "s.t.(")]).unwrap_err();
        assert_eq!(errs[0].0, "column.mask.with.3.chars");
        assert!(
            errs[0].1.contains("not a valid regular expression"),
            "{errs:?}"
        );
        let errs = read(&[("datatype.propagate.source.type", "[")]).unwrap_err();
        assert_eq!(errs[0].0, "datatype.propagate.source.type");
        // salts may hold dots; v2 is not an algorithm of V1 keys
        let o = read(&[
            ("column.mask.hash.MD5.with.salt.s.a.l.t", "s.t.a"),
            ("column.mask.hash.sha-1.with.salt.x", "s.t.b"),
        ])
        .unwrap();
        assert_eq!(
            o.for_column("s", "t", &text("a", -1))
                .unwrap()
                .apply(Value::String("hello".into())),
            Value::String("9de9dd885dd62de128ea51fbec5929cc".into())
        );
        assert!(
            read(&[("column.mask.hash.v2.with.salt.x", "s.t.a")]).unwrap_err()[0]
                .1
                .contains("v2 MessageDigest not available")
        );
        // other keys are not options, an empty list matches nothing
        let o = read(&[
            ("column.include.list", "s.t.a"),
            ("column.mask.with.2.chars", ""),
        ])
        .unwrap();
        assert!(o.is_empty());
    }
}

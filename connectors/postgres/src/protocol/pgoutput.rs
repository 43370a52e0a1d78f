//! Decoder for the `pgoutput` logical decoding plugin's binary messages
//! (protocol version 1), as carried in the `data` of
//! [`ReplicationMessage::XLogData`](super::ReplicationMessage::XLogData).
//!
//! [`decode`] is low-copy: tuple column values ([`TupleValue::Text`] /
//! [`TupleValue::Binary`]) and logical-message contents are [`Bytes`] slices of
//! the input buffer (a reference-count bump, no memcpy). Relation / type /
//! origin names are small and rare, and are copied into `String`s.
//!
//! Message formats follow PostgreSQL's "Logical Replication Message Formats"
//! chapter. Messages of protocol versions 2+ (streaming of in-progress
//! transactions, two-phase commit) are rejected with
//! [`DecodeError::Unsupported`] naming the message byte, never a panic.

use bytes::Bytes;

use super::lsn::Lsn;

/// A decoding failure, naming the message type byte and the byte offset
/// inside the message where decoding stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The payload was empty (no message type byte).
    #[error("empty pgoutput message")]
    Empty,
    /// The payload ended or contained an invalid value.
    #[error("malformed pgoutput message '{}' (0x{tag:02x}) at byte offset {offset}: {reason}", char::from(*tag))]
    Malformed {
        /// Message type byte, e.g. `b'I'`.
        tag: u8,
        /// Offset within the message where the problem was detected.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// A message type this decoder does not handle (streaming / two-phase
    /// messages of protocol version 2+, or an unknown byte).
    #[error("unsupported pgoutput message type '{}' (0x{tag:02x}); only protocol version 1 messages are supported", char::from(*tag))]
    Unsupported {
        /// Message type byte.
        tag: u8,
    },
}

/// One decoded pgoutput message.
#[derive(Debug, Clone, PartialEq)]
pub enum PgOutputMessage {
    /// `B`: start of a transaction.
    Begin(Begin),
    /// `C`: end of a transaction.
    Commit(Commit),
    /// `O`: replication origin of the current transaction.
    Origin(Origin),
    /// `R`: table schema; always sent before the first DML for a relation in a
    /// session and again after the relation changed.
    Relation(Relation),
    /// `Y`: a non-built-in data type used by a following `Relation`.
    Type(TypeInfo),
    /// `I`: inserted row.
    Insert(Insert),
    /// `U`: updated row.
    Update(Update),
    /// `D`: deleted row.
    Delete(Delete),
    /// `T`: truncated tables.
    Truncate(Truncate),
    /// `M`: logical decoding message (`pg_logical_emit_message`), only sent
    /// when `START_REPLICATION` asked for `messages`.
    Message(LogicalMessage),
}

/// `Begin` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// LSN of the transaction's commit record.
    pub final_lsn: Lsn,
    /// Commit timestamp, microseconds since 2000-01-01 UTC.
    pub commit_ts_us: i64,
    /// Transaction id.
    pub xid: u32,
}

/// `Commit` message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// Flags (currently unused by PostgreSQL, always 0).
    pub flags: u8,
    /// LSN of the commit record.
    pub commit_lsn: Lsn,
    /// LSN just past the commit record: the position to confirm as flushed
    /// once everything of this transaction is durably delivered.
    pub end_lsn: Lsn,
    /// Commit timestamp, microseconds since 2000-01-01 UTC.
    pub commit_ts_us: i64,
}

/// `Origin` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Commit LSN on the origin server.
    pub commit_lsn: Lsn,
    /// Origin name.
    pub name: String,
}

/// Replica identity setting of a relation (`pg_class.relreplident`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// `d`: primary key columns.
    Default,
    /// `n`: nothing.
    Nothing,
    /// `f`: all columns.
    Full,
    /// `i`: columns of a chosen unique index.
    Index,
    /// Any other byte (future versions).
    Other(u8),
}

impl ReplicaIdentity {
    fn from_byte(b: u8) -> Self {
        match b {
            b'd' => ReplicaIdentity::Default,
            b'n' => ReplicaIdentity::Nothing,
            b'f' => ReplicaIdentity::Full,
            b'i' => ReplicaIdentity::Index,
            other => ReplicaIdentity::Other(other),
        }
    }
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Raw flags; bit 0 set means the column is part of the replica identity key.
    pub flags: u8,
    /// Column name.
    pub name: String,
    /// Data type OID.
    pub type_oid: u32,
    /// Type modifier (`atttypmod`), -1 when none.
    pub type_modifier: i32,
}

impl RelationColumn {
    /// `true` when the column is part of the replica identity (key).
    pub fn is_key(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// `Relation` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// Relation OID, referenced by DML messages.
    pub rel_id: u32,
    /// Schema name (`pg_catalog` is sent as an empty string by PostgreSQL).
    pub namespace: String,
    /// Table name.
    pub name: String,
    /// Replica identity setting.
    pub replica_identity: ReplicaIdentity,
    /// Columns in attribute order, excluding dropped and generated columns.
    pub columns: Vec<RelationColumn>,
}

/// `Type` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    /// Type OID.
    pub oid: u32,
    /// Schema name.
    pub namespace: String,
    /// Type name.
    pub name: String,
}

/// One column value of a tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TupleValue {
    /// `n`: SQL NULL.
    Null,
    /// `u`: unchanged TOASTed value; the actual value was not sent.
    UnchangedToast,
    /// `t`: text-format value (slice of the received buffer, no copy).
    Text(Bytes),
    /// `b`: binary-format value (slice of the received buffer, no copy).
    Binary(Bytes),
}

/// A row image: one [`TupleValue`] per column of the [`Relation`], in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TupleData(pub Vec<TupleValue>);

/// `Insert` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insert {
    /// Relation OID.
    pub rel_id: u32,
    /// The new row.
    pub new: TupleData,
}

/// `Update` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// Relation OID.
    pub rel_id: u32,
    /// `K`: old values of the replica identity key columns (other columns
    /// null); present when the key changed (replica identity default/index).
    pub key: Option<TupleData>,
    /// `O`: full old row; present with `REPLICA IDENTITY FULL`.
    pub old: Option<TupleData>,
    /// The new row.
    pub new: TupleData,
}

/// `Delete` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delete {
    /// Relation OID.
    pub rel_id: u32,
    /// `K`: replica identity key of the deleted row (non-key columns null).
    pub key: Option<TupleData>,
    /// `O`: full old row (`REPLICA IDENTITY FULL`).
    pub old: Option<TupleData>,
}

/// `Truncate` message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// Option bits: 1 = `CASCADE`, 2 = `RESTART IDENTITY`.
    pub options: u8,
    /// OIDs of the truncated relations.
    pub rel_ids: Vec<u32>,
}

impl Truncate {
    /// `TRUNCATE ... CASCADE`.
    pub fn cascade(&self) -> bool {
        self.options & 1 != 0
    }
    /// `TRUNCATE ... RESTART IDENTITY`.
    pub fn restart_identity(&self) -> bool {
        self.options & 2 != 0
    }
}

/// `Message` message (`pg_logical_emit_message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalMessage {
    /// Whether the message was emitted transactionally (flags bit 0).
    pub transactional: bool,
    /// LSN of the message.
    pub lsn: Lsn,
    /// Prefix given by the emitter.
    pub prefix: String,
    /// Content (slice of the received buffer, no copy).
    pub content: Bytes,
}

/// Cursor over one message with error reporting.
struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    tag: u8,
}

impl<'a> Reader<'a> {
    fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError::Malformed {
            tag: self.tag,
            offset: self.pos,
            reason,
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let buf: &'a [u8] = self.buf.as_ref();
        let end = self.pos.checked_add(n).ok_or_else(|| self.err(what))?;
        let s = buf.get(self.pos..end).ok_or_else(|| self.err(what))?;
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        Ok(i16::from_be_bytes(self.array(what)?))
    }
    fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(what)?))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }
    fn lsn(&mut self, what: &'static str) -> Result<Lsn, DecodeError> {
        Ok(Lsn(u64::from_be_bytes(self.array(what)?)))
    }

    /// Zero-terminated string.
    fn cstr(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let rest = self.buf.get(self.pos..).ok_or_else(|| self.err(what))?;
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| self.err(what))?;
        let s = String::from_utf8_lossy(&rest[..nul]).into_owned();
        self.pos += nul + 1;
        Ok(s)
    }

    /// `n` bytes as a zero-copy slice of the input.
    fn bytes(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(n, what)?;
        Ok(self.buf.slice(start..self.pos))
    }

    fn tuple(&mut self) -> Result<TupleData, DecodeError> {
        let n = self.i16("tuple column count")?;
        if n < 0 {
            return Err(self.err("negative tuple column count"));
        }
        let mut cols = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let v = match self.u8("tuple column kind")? {
                b'n' => TupleValue::Null,
                b'u' => TupleValue::UnchangedToast,
                kind @ (b't' | b'b') => {
                    let len = self.i32("tuple value length")?;
                    let len = usize::try_from(len)
                        .map_err(|_| self.err("negative tuple value length"))?;
                    let data = self.bytes(len, "tuple value data")?;
                    if kind == b't' {
                        TupleValue::Text(data)
                    } else {
                        TupleValue::Binary(data)
                    }
                }
                _ => {
                    self.pos -= 1;
                    return Err(self.err("unknown tuple column kind (expected n, u, t or b)"));
                }
            };
            cols.push(v);
        }
        Ok(TupleData(cols))
    }

    fn finish<T>(&self, v: T) -> Result<T, DecodeError> {
        if self.pos == self.buf.len() {
            Ok(v)
        } else {
            Err(self.err("trailing bytes after message"))
        }
    }
}

/// Decodes one pgoutput (protocol version 1) message.
///
/// `data` is the `XLogData` payload; values in the result share its memory.
/// Returns [`DecodeError::Malformed`] for truncated or inconsistent input
/// (including trailing bytes) and [`DecodeError::Unsupported`] for message
/// types outside protocol version 1. Never panics on any input.
pub fn decode(data: &Bytes) -> Result<PgOutputMessage, DecodeError> {
    let tag = *data.first().ok_or(DecodeError::Empty)?;
    let mut r = Reader {
        buf: data,
        pos: 1,
        tag,
    };
    let msg = match tag {
        b'B' => PgOutputMessage::Begin(Begin {
            final_lsn: r.lsn("final LSN")?,
            commit_ts_us: r.i64("commit timestamp")?,
            xid: r.u32("xid")?,
        }),
        b'C' => PgOutputMessage::Commit(Commit {
            flags: r.u8("flags")?,
            commit_lsn: r.lsn("commit LSN")?,
            end_lsn: r.lsn("end LSN")?,
            commit_ts_us: r.i64("commit timestamp")?,
        }),
        b'O' => PgOutputMessage::Origin(Origin {
            commit_lsn: r.lsn("origin commit LSN")?,
            name: r.cstr("origin name")?,
        }),
        b'R' => {
            let rel_id = r.u32("relation id")?;
            let namespace = r.cstr("namespace")?;
            let name = r.cstr("relation name")?;
            let replica_identity = ReplicaIdentity::from_byte(r.u8("replica identity")?);
            let n = r.i16("column count")?;
            if n < 0 {
                return Err(r.err("negative column count"));
            }
            let mut columns = Vec::with_capacity(n as usize);
            for _ in 0..n {
                columns.push(RelationColumn {
                    flags: r.u8("column flags")?,
                    name: r.cstr("column name")?,
                    type_oid: r.u32("column type oid")?,
                    type_modifier: r.i32("column type modifier")?,
                });
            }
            PgOutputMessage::Relation(Relation {
                rel_id,
                namespace,
                name,
                replica_identity,
                columns,
            })
        }
        b'Y' => PgOutputMessage::Type(TypeInfo {
            oid: r.u32("type oid")?,
            namespace: r.cstr("type namespace")?,
            name: r.cstr("type name")?,
        }),
        b'I' => {
            let rel_id = r.u32("relation id")?;
            match r.u8("tuple marker")? {
                b'N' => {}
                _ => {
                    r.pos -= 1;
                    return Err(r.err("expected 'N' (new tuple)"));
                }
            }
            PgOutputMessage::Insert(Insert {
                rel_id,
                new: r.tuple()?,
            })
        }
        b'U' => {
            let rel_id = r.u32("relation id")?;
            let (mut key, mut old) = (None, None);
            let mut marker = r.u8("tuple marker")?;
            if marker == b'K' || marker == b'O' {
                let t = r.tuple()?;
                if marker == b'K' {
                    key = Some(t);
                } else {
                    old = Some(t);
                }
                marker = r.u8("new tuple marker")?;
            }
            if marker != b'N' {
                r.pos -= 1;
                return Err(r.err("expected 'N' (new tuple)"));
            }
            PgOutputMessage::Update(Update {
                rel_id,
                key,
                old,
                new: r.tuple()?,
            })
        }
        b'D' => {
            let rel_id = r.u32("relation id")?;
            let (mut key, mut old) = (None, None);
            match r.u8("tuple marker")? {
                b'K' => key = Some(r.tuple()?),
                b'O' => old = Some(r.tuple()?),
                _ => {
                    r.pos -= 1;
                    return Err(r.err("expected 'K' or 'O' tuple"));
                }
            }
            PgOutputMessage::Delete(Delete { rel_id, key, old })
        }
        b'T' => {
            let n = r.u32("relation count")?;
            let options = r.u8("truncate options")?;
            // Bound the allocation by what the buffer can actually hold.
            let remaining = data.len().saturating_sub(r.pos) / 4;
            let mut rel_ids = Vec::with_capacity((n as usize).min(remaining));
            for _ in 0..n {
                rel_ids.push(r.u32("relation id")?);
            }
            PgOutputMessage::Truncate(Truncate { options, rel_ids })
        }
        b'M' => {
            let flags = r.u8("flags")?;
            let lsn = r.lsn("message LSN")?;
            let prefix = r.cstr("prefix")?;
            let len = r.u32("content length")? as usize;
            PgOutputMessage::Message(LogicalMessage {
                transactional: flags & 1 != 0,
                lsn,
                prefix,
                content: r.bytes(len, "content")?,
            })
        }
        other => return Err(DecodeError::Unsupported { tag: other }),
    };
    r.finish(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tiny builder for hand-made messages.
    #[derive(Default)]
    struct B(Vec<u8>);
    impl B {
        fn new(tag: u8) -> Self {
            B(vec![tag])
        }
        fn u8(mut self, v: u8) -> Self {
            self.0.push(v);
            self
        }
        fn i16(mut self, v: i16) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i32(mut self, v: i32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn u32(mut self, v: u32) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn u64(mut self, v: u64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn i64(mut self, v: i64) -> Self {
            self.0.extend_from_slice(&v.to_be_bytes());
            self
        }
        fn cstr(mut self, s: &str) -> Self {
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(0);
            self
        }
        fn raw(mut self, s: &[u8]) -> Self {
            self.0.extend_from_slice(s);
            self
        }
        fn text(self, s: &str) -> Self {
            self.u8(b't').i32(s.len() as i32).raw(s.as_bytes())
        }
        fn done(self) -> Bytes {
            Bytes::from(self.0)
        }
    }

    fn text(s: &str) -> TupleValue {
        TupleValue::Text(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn begin() {
        let m = decode(&B::new(b'B').u64(0x1_0000_0010).i64(123_456).u32(777).done()).unwrap();
        assert_eq!(
            m,
            PgOutputMessage::Begin(Begin {
                final_lsn: Lsn(0x1_0000_0010),
                commit_ts_us: 123_456,
                xid: 777
            })
        );
    }

    #[test]
    fn commit() {
        let m = decode(&B::new(b'C').u8(0).u64(10).u64(20).i64(-5).done()).unwrap();
        assert_eq!(
            m,
            PgOutputMessage::Commit(Commit {
                flags: 0,
                commit_lsn: Lsn(10),
                end_lsn: Lsn(20),
                commit_ts_us: -5
            })
        );
    }

    #[test]
    fn origin() {
        let m = decode(&B::new(b'O').u64(99).cstr("node_a").done()).unwrap();
        assert_eq!(
            m,
            PgOutputMessage::Origin(Origin {
                commit_lsn: Lsn(99),
                name: "node_a".into()
            })
        );
    }

    #[test]
    fn relation() {
        let m = decode(
            &B::new(b'R')
                .u32(16384)
                .cstr("public")
                .cstr("users")
                .u8(b'd')
                .i16(2)
                .u8(1)
                .cstr("id")
                .u32(23)
                .i32(-1)
                .u8(0)
                .cstr("name")
                .u32(1043)
                .i32(68)
                .done(),
        )
        .unwrap();
        let PgOutputMessage::Relation(r) = m else {
            panic!("not a relation: {m:?}")
        };
        assert_eq!(r.rel_id, 16384);
        assert_eq!(r.namespace, "public");
        assert_eq!(r.name, "users");
        assert_eq!(r.replica_identity, ReplicaIdentity::Default);
        assert_eq!(r.columns.len(), 2);
        assert!(r.columns[0].is_key());
        assert!(!r.columns[1].is_key());
        assert_eq!(r.columns[1].name, "name");
        assert_eq!(r.columns[1].type_oid, 1043);
        assert_eq!(r.columns[1].type_modifier, 68);
    }

    #[test]
    fn type_message() {
        let m = decode(&B::new(b'Y').u32(9999).cstr("public").cstr("mood").done()).unwrap();
        assert_eq!(
            m,
            PgOutputMessage::Type(TypeInfo {
                oid: 9999,
                namespace: "public".into(),
                name: "mood".into()
            })
        );
    }

    #[test]
    fn insert_with_all_value_kinds_is_zero_copy() {
        let buf = B::new(b'I')
            .u32(7)
            .u8(b'N')
            .i16(4)
            .text("42")
            .u8(b'n')
            .u8(b'u')
            .u8(b'b')
            .i32(2)
            .raw(&[0xde, 0xad])
            .done();
        let m = decode(&buf).unwrap();
        let PgOutputMessage::Insert(ins) = m else {
            panic!("not an insert")
        };
        assert_eq!(ins.rel_id, 7);
        assert_eq!(
            ins.new.0,
            vec![
                text("42"),
                TupleValue::Null,
                TupleValue::UnchangedToast,
                TupleValue::Binary(Bytes::from_static(&[0xde, 0xad]))
            ]
        );
        // The text value points into the original allocation.
        let TupleValue::Text(t) = &ins.new.0[0] else {
            unreachable!()
        };
        let base = buf.as_ptr() as usize;
        let p = t.as_ptr() as usize;
        assert!(p >= base && p < base + buf.len());
    }

    #[test]
    fn update_variants() {
        // No old tuple.
        let m = decode(&B::new(b'U').u32(1).u8(b'N').i16(1).text("a").done()).unwrap();
        assert_eq!(
            m,
            PgOutputMessage::Update(Update {
                rel_id: 1,
                key: None,
                old: None,
                new: TupleData(vec![text("a")])
            })
        );
        // Key tuple.
        let m = decode(
            &B::new(b'U')
                .u32(1)
                .u8(b'K')
                .i16(1)
                .text("old")
                .u8(b'N')
                .i16(1)
                .text("new")
                .done(),
        )
        .unwrap();
        let PgOutputMessage::Update(u) = m else {
            panic!()
        };
        assert_eq!(u.key, Some(TupleData(vec![text("old")])));
        assert_eq!(u.old, None);
        assert_eq!(u.new, TupleData(vec![text("new")]));
        // Full old tuple.
        let m = decode(
            &B::new(b'U')
                .u32(1)
                .u8(b'O')
                .i16(2)
                .text("1")
                .u8(b'n')
                .u8(b'N')
                .i16(2)
                .text("1")
                .text("x")
                .done(),
        )
        .unwrap();
        let PgOutputMessage::Update(u) = m else {
            panic!()
        };
        assert_eq!(u.key, None);
        assert_eq!(u.old, Some(TupleData(vec![text("1"), TupleValue::Null])));
    }

    #[test]
    fn delete_variants() {
        let m = decode(&B::new(b'D').u32(3).u8(b'K').i16(1).text("9").done()).unwrap();
        assert_eq!(
            m,
            PgOutputMessage::Delete(Delete {
                rel_id: 3,
                key: Some(TupleData(vec![text("9")])),
                old: None
            })
        );
        let m = decode(&B::new(b'D').u32(3).u8(b'O').i16(1).text("9").done()).unwrap();
        let PgOutputMessage::Delete(d) = m else {
            panic!()
        };
        assert!(d.key.is_none() && d.old.is_some());
        let e = decode(&B::new(b'D').u32(3).u8(b'N').i16(0).done()).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::Malformed {
                    tag: b'D',
                    offset: 5,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn truncate() {
        let m = decode(&B::new(b'T').u32(2).u8(3).u32(10).u32(11).done()).unwrap();
        let PgOutputMessage::Truncate(t) = m else {
            panic!()
        };
        assert_eq!(t.rel_ids, vec![10, 11]);
        assert!(t.cascade() && t.restart_identity());
        // A huge count must not allocate or panic.
        let e = decode(&B::new(b'T').u32(u32::MAX).u8(0).u32(1).done()).unwrap_err();
        assert!(matches!(e, DecodeError::Malformed { tag: b'T', .. }));
    }

    #[test]
    fn logical_message() {
        let m = decode(
            &B::new(b'M')
                .u8(1)
                .u64(55)
                .cstr("velocity")
                .u32(5)
                .raw(b"hello")
                .done(),
        )
        .unwrap();
        assert_eq!(
            m,
            PgOutputMessage::Message(LogicalMessage {
                transactional: true,
                lsn: Lsn(55),
                prefix: "velocity".into(),
                content: Bytes::from_static(b"hello")
            })
        );
    }

    #[test]
    fn malformed_and_truncated_inputs() {
        assert_eq!(decode(&Bytes::new()), Err(DecodeError::Empty));
        // Truncated Begin: xid missing.
        let e = decode(&B::new(b'B').u64(1).i64(2).done()).unwrap_err();
        assert_eq!(
            e,
            DecodeError::Malformed {
                tag: b'B',
                offset: 17,
                reason: "xid"
            }
        );
        assert!(e.to_string().contains("'B'") && e.to_string().contains("17"));
        // Text value length beyond the buffer.
        let e = decode(
            &B::new(b'I')
                .u32(1)
                .u8(b'N')
                .i16(1)
                .u8(b't')
                .i32(100)
                .raw(b"ab")
                .done(),
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::Malformed {
                    tag: b'I',
                    offset: 13,
                    ..
                }
            ),
            "{e:?}"
        );
        // Negative length.
        let e = decode(&B::new(b'I').u32(1).u8(b'N').i16(1).u8(b't').i32(-2).done()).unwrap_err();
        assert!(matches!(e, DecodeError::Malformed { tag: b'I', .. }));
        // Unknown column kind.
        let e = decode(&B::new(b'I').u32(1).u8(b'N').i16(1).u8(b'x').done()).unwrap_err();
        assert!(
            matches!(e, DecodeError::Malformed { offset: 8, .. }),
            "{e:?}"
        );
        // Missing NUL terminator.
        let e = decode(&B::new(b'Y').u32(1).raw(b"public").done()).unwrap_err();
        assert!(matches!(e, DecodeError::Malformed { tag: b'Y', .. }));
        // Trailing garbage.
        let e = decode(&B::new(b'C').u8(0).u64(1).u64(2).i64(3).u8(9).done()).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::Malformed {
                    tag: b'C',
                    offset: 26,
                    ..
                }
            ),
            "{e:?}"
        );
        // Every prefix of a valid message fails cleanly (no panic).
        let full = B::new(b'U')
            .u32(1)
            .u8(b'K')
            .i16(1)
            .text("old")
            .u8(b'N')
            .i16(1)
            .text("new")
            .done();
        for n in 1..full.len() {
            assert!(decode(&full.slice(..n)).is_err(), "prefix {n} decoded");
        }
    }

    #[test]
    fn streaming_messages_are_unsupported_not_panics() {
        for tag in [b'S', b'E', b'c', b'A', b'P', b'K', b'r', b'p', b'b', b'z'] {
            let e = decode(&B::new(tag).u32(1).done()).unwrap_err();
            assert_eq!(e, DecodeError::Unsupported { tag });
            assert!(e.to_string().contains(char::from(tag)));
        }
    }
}

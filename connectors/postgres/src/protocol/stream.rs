//! The streaming (CopyBoth) phase of a replication connection:
//! [`ReplicationStream`] yields [`ReplicationMessage`]s and sends standby
//! status updates.

use std::fmt;

use bytes::{BufMut, Bytes};
use postgres_protocol::message::frontend;

use super::conn::{log_notice, unexpected, ReplicationConnection};
use super::error::{ProtocolError, Result};
use super::lsn::Lsn;
use super::pg_now_us;

/// A message from the server during streaming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicationMessage {
    /// `w`: a chunk of WAL data; for logical replication one pgoutput message
    /// (decode with [`pgoutput::decode`](super::pgoutput::decode)).
    XLogData {
        /// WAL position of the start of `data` (0 for some non-transactional messages).
        wal_start: Lsn,
        /// Current end of WAL on the server.
        wal_end: Lsn,
        /// Server clock when sending, microseconds since 2000-01-01 UTC.
        server_time_us: i64,
        /// The payload, a slice of the read buffer (no copy).
        data: Bytes,
    },
    /// `k`: keepalive.
    PrimaryKeepalive {
        /// Current end of WAL on the server.
        wal_end: Lsn,
        /// Server clock when sending, microseconds since 2000-01-01 UTC.
        server_time_us: i64,
        /// The server asks for a standby status update as soon as possible
        /// (it disconnects after `wal_sender_timeout` without one).
        reply_requested: bool,
    },
}

/// A replication connection in CopyBoth mode, created by
/// [`ReplicationConnection::start_replication`].
///
/// Not `Clone`; reading and writing both take `&mut self`, which works with
/// `tokio::select!` because the losing branch's future is dropped before the
/// winning branch's body runs.
pub struct ReplicationStream {
    conn: ReplicationConnection,
    /// Server sent CopyDone.
    server_done: bool,
    last_wal_end: Lsn,
}

impl fmt::Debug for ReplicationStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicationStream")
            .field("conn", &self.conn)
            .field("server_done", &self.server_done)
            .field("last_wal_end", &self.last_wal_end)
            .finish()
    }
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

impl ReplicationStream {
    pub(crate) fn new(conn: ReplicationConnection) -> Self {
        ReplicationStream {
            conn,
            server_done: false,
            last_wal_end: Lsn::INVALID,
        }
    }

    /// Receives the next message.
    ///
    /// Returns `Ok(None)` once the server ended the stream (CopyDone), and
    /// keeps returning `Ok(None)` after that. A server `ErrorResponse` (e.g.
    /// the slot was dropped, or `wal_sender_timeout` expired) is
    /// [`ProtocolError::Server`]; the stream is unusable afterwards.
    ///
    /// **Cancel-safe**: if the future is dropped before completion (e.g. the
    /// other branch of a `tokio::select!` with a timer won), no message is
    /// lost; bytes already read stay buffered for the next call.
    ///
    /// Does not answer keepalives itself: when `reply_requested` is set, call
    /// [`send_standby_status`](Self::send_standby_status) promptly.
    pub async fn next(&mut self) -> Result<Option<ReplicationMessage>> {
        if self.server_done {
            return Ok(None);
        }
        loop {
            let f = self.conn.io.read_frame().await?;
            match f.tag {
                b'd' => {
                    let b = &f.body;
                    match b.first() {
                        Some(b'w') if b.len() >= 25 => {
                            let wal_end = Lsn(be_u64(b, 9));
                            self.last_wal_end = self.last_wal_end.max(wal_end);
                            return Ok(Some(ReplicationMessage::XLogData {
                                wal_start: Lsn(be_u64(b, 1)),
                                wal_end,
                                server_time_us: be_u64(b, 17) as i64,
                                data: f.body.slice(25..),
                            }));
                        }
                        Some(b'k') if b.len() >= 18 => {
                            let wal_end = Lsn(be_u64(b, 1));
                            self.last_wal_end = self.last_wal_end.max(wal_end);
                            return Ok(Some(ReplicationMessage::PrimaryKeepalive {
                                wal_end,
                                server_time_us: be_u64(b, 9) as i64,
                                reply_requested: b[17] != 0,
                            }));
                        }
                        Some(&t) => {
                            return Err(ProtocolError::Protocol(format!(
                                "unexpected or truncated CopyData message '{}' ({} bytes) in replication stream",
                                char::from(t),
                                b.len()
                            )))
                        }
                        None => {
                            return Err(ProtocolError::Protocol(
                                "empty CopyData message in replication stream".into(),
                            ))
                        }
                    }
                }
                // CopyDone; or CommandComplete without CopyDone, which is how a
                // walsender ends streaming when the server shuts down
                // (WalSndDone): either way the server is done
                b'c' | b'C' => {
                    self.server_done = true;
                    return Ok(None);
                }
                b'E' => {
                    return Err(ProtocolError::Server(super::error::ServerError::parse(
                        &f.body,
                    )))
                }
                b'N' => log_notice(&f.body),
                b'S' => {}
                other => return Err(unexpected(other, "replication streaming")),
            }
        }
    }

    /// Sends a standby status update (`r`): WAL positions written, flushed
    /// and applied by the client, with the current time.
    ///
    /// `flush` is what the server uses to advance the slot's
    /// `confirmed_flush_lsn` (and to recycle WAL): only report positions
    /// whose changes are durably delivered. Set `reply_requested` to make the
    /// server answer with a keepalive immediately.
    ///
    /// Cancel-safe in the sense that a message is never torn: if dropped
    /// midway, the unsent rest is sent before anything else on the next write.
    pub async fn send_standby_status(
        &mut self,
        write: Lsn,
        flush: Lsn,
        apply: Lsn,
        reply_requested: bool,
    ) -> Result<()> {
        let w = &mut self.conn.io.wbuf;
        w.reserve(39);
        w.put_u8(b'd');
        w.put_i32(4 + 34);
        w.put_u8(b'r');
        w.put_u64(write.0);
        w.put_u64(flush.0);
        w.put_u64(apply.0);
        w.put_i64(pg_now_us());
        w.put_u8(u8::from(reply_requested));
        self.conn.io.flush_out().await
    }

    /// Highest `wal_end` seen in any message so far (`0/0` before the first).
    pub fn last_wal_end(&self) -> Lsn {
        self.last_wal_end
    }

    /// Ends streaming cleanly: sends CopyDone, discards remaining data until
    /// the server's CopyDone, CommandComplete and ReadyForQuery, and returns
    /// the connection (usable for further commands, e.g. `drop_slot`).
    ///
    /// The server may first send the rest of a transaction being decoded;
    /// bound the call with `tokio::time::timeout` if needed. Not cancel-safe.
    pub async fn finish(mut self) -> Result<ReplicationConnection> {
        frontend::copy_done(&mut self.conn.io.wbuf);
        self.conn.io.flush_out().await?;
        loop {
            let f = self.conn.io.read_frame().await?;
            match f.tag {
                b'd' | b'c' | b'C' | b'N' | b'S' => {}
                b'Z' => return Ok(self.conn),
                b'E' => {
                    return Err(ProtocolError::Server(super::error::ServerError::parse(
                        &f.body,
                    )))
                }
                other => return Err(unexpected(other, "end of replication")),
            }
        }
    }
}

//! The replication-mode connection: TCP + optional TLS, startup with
//! `replication=database`, authentication (trust, cleartext, MD5,
//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS), and the replication commands
//! (`IDENTIFY_SYSTEM`, `CREATE_REPLICATION_SLOT`, `DROP_REPLICATION_SLOT`,
//! `START_REPLICATION`) plus simple SQL queries.
//!
//! Wire framing is done here over a single read buffer (see [`PgIo`]):
//! `postgres-protocol` encodes frontend messages and runs SCRAM/MD5, while
//! backend messages are framed by this module because `postgres-protocol`'s
//! backend parser does not know `CopyBothResponse` and would copy each
//! `CopyData` once more.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use postgres_protocol::authentication::sasl::{
    ChannelBinding, ScramSha256, SCRAM_SHA_256, SCRAM_SHA_256_PLUS,
};
use postgres_protocol::message::frontend;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use velocity_api::Choice;

use super::error::{ProtocolError, Result, ServerError};
use super::lsn::Lsn;
use super::stream::ReplicationStream;
use super::tls;

/// Size of each read-buffer refill. Large reads keep syscalls (and TLS record
/// processing) per row low when the server streams many small `XLogData`.
const READ_BUF_SIZE: usize = 128 * 1024;
/// Refill the read buffer when less than this much spare capacity remains.
const MIN_SPARE: usize = 8 * 1024;
/// Upper bound for one backend message (PostgreSQL's MaxAllocSize is 1 GiB).
const MAX_MESSAGE_LEN: usize = (1 << 30) + 4096;

velocity_api::config_choice! {
    /// libpq-style `sslmode` (Debezium's `database.sslmode`); its names are
    /// libpq's spellings (`disable`, `allow`, `prefer`, `require`,
    /// `verify-ca`, `verify-full`), matched case-insensitively.
    #[derive(Default)]
    pub enum SslMode {
        /// Plain TCP only.
        Disable = "disable",
        /// Plain first; if the server rejects the connection during
        /// authentication (SQLSTATE class 28, e.g. `hostssl`-only `pg_hba.conf`), retry with TLS.
        Allow = "allow",
        /// TLS if the server supports it (certificate not verified), plain otherwise.
        /// This is the default, as in libpq and Debezium.
        #[default]
        Prefer = "prefer",
        /// TLS required; certificate verified only if `sslrootcert` is given
        /// (then like `verify-ca`).
        Require = "require",
        /// TLS required; certificate chain verified against `sslrootcert`
        /// (or the system trust store); host name not checked.
        VerifyCa = "verify-ca",
        /// TLS required; chain and host name verified.
        VerifyFull = "verify-full",
    }
}

impl SslMode {
    fn tls_required(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

impl FromStr for SslMode {
    type Err = ProtocolError;

    /// Accepts the libpq spellings, case-insensitively.
    fn from_str(s: &str) -> Result<Self> {
        <SslMode as Choice>::from_name(s).ok_or_else(|| {
            ProtocolError::InvalidArgument(format!(
                "invalid sslmode {s:?}: expected one of {}",
                SslMode::NAMES.join(", ")
            ))
        })
    }
}

/// Everything needed to open a replication connection.
///
/// `Debug` output never shows the password.
#[derive(Clone)]
pub struct ConnectParams {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Role name; needs the `REPLICATION` attribute (or superuser).
    pub user: String,
    /// Password, if the server asks for one.
    pub password: Option<String>,
    /// Database to decode changes of.
    pub dbname: String,
    /// TLS policy.
    pub sslmode: SslMode,
    /// PEM file with trusted root certificate(s) (`database.sslrootcert`).
    pub sslrootcert: Option<PathBuf>,
    /// Bound for TCP connect + TLS + authentication together.
    pub connect_timeout: Duration,
    /// `application_name` shown in `pg_stat_replication` / `pg_stat_activity`.
    pub application_name: String,
}

impl ConnectParams {
    /// Parameters with defaults: no password, `sslmode=prefer`, no root
    /// certificate, 30 s connect timeout, `application_name=velocity`.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        dbname: impl Into<String>,
    ) -> Self {
        ConnectParams {
            host: host.into(),
            port,
            user: user.into(),
            password: None,
            dbname: dbname.into(),
            sslmode: SslMode::default(),
            sslrootcert: None,
            connect_timeout: Duration::from_secs(30),
            application_name: "velocity".to_string(),
        }
    }

    fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for ConnectParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectParams")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("connect_timeout", &self.connect_timeout)
            .field("application_name", &self.application_name)
            .finish()
    }
}

/// Result of `IDENTIFY_SYSTEM`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemInfo {
    /// Cluster system identifier (decimal string; it does not fit an i64 safely).
    pub systemid: String,
    /// Current timeline.
    pub timeline: u32,
    /// Current WAL flush position.
    pub xlogpos: Lsn,
    /// Database connected to (`None` for physical replication connections).
    pub dbname: Option<String>,
}

/// Result of `CREATE_REPLICATION_SLOT ... LOGICAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// Name of the created slot.
    pub slot_name: String,
    /// WAL position from which the slot streams changes; the exported
    /// snapshot (if any) sees exactly the data committed before it.
    pub consistent_point: Lsn,
    /// Exported snapshot name for `SET TRANSACTION SNAPSHOT '...'`; valid only
    /// until the next command is sent on this replication connection.
    pub snapshot_name: Option<String>,
}

/// The byte stream under the protocol: plain TCP or TLS over TCP.
pub(crate) enum Transport {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// One backend message: type byte and body (without the length word).
pub(crate) struct Frame {
    pub(crate) tag: u8,
    pub(crate) body: Bytes,
}

impl Frame {
    fn server_error(&self) -> ProtocolError {
        ProtocolError::Server(ServerError::parse(&self.body))
    }
}

/// Buffered framing over a [`Transport`].
///
/// Reads go into one `BytesMut` refilled `READ_BUF_SIZE` at a time; each
/// message is split off as a frozen [`Bytes`] without copying. Writes are
/// encoded into `wbuf` and written out by [`PgIo::flush_out`], which consumes
/// `wbuf` as bytes are accepted so an interrupted write resumes where it stopped.
pub(crate) struct PgIo {
    transport: Transport,
    rbuf: BytesMut,
    pub(crate) wbuf: BytesMut,
}

impl PgIo {
    fn new(transport: Transport) -> Self {
        PgIo {
            transport,
            rbuf: BytesMut::with_capacity(READ_BUF_SIZE),
            wbuf: BytesMut::with_capacity(1024),
        }
    }

    /// Splits one complete message off the read buffer, if there is one.
    fn try_frame(&mut self) -> Result<Option<Frame>> {
        if self.rbuf.len() < 5 {
            return Ok(None);
        }
        let len =
            u32::from_be_bytes([self.rbuf[1], self.rbuf[2], self.rbuf[3], self.rbuf[4]]) as usize;
        if !(4..=MAX_MESSAGE_LEN).contains(&len) {
            return Err(ProtocolError::Protocol(format!(
                "invalid length {len} for backend message '{}'",
                char::from(self.rbuf[0])
            )));
        }
        let total = len + 1;
        if self.rbuf.len() < total {
            // Make room for the whole message so one read can complete it.
            self.rbuf.reserve(total - self.rbuf.len());
            return Ok(None);
        }
        let mut msg = self.rbuf.split_to(total).freeze();
        let tag = msg[0];
        msg.advance(5);
        Ok(Some(Frame { tag, body: msg }))
    }

    /// Reads the next backend message.
    ///
    /// Cancel-safe: the only await point is `read_buf`, which either appends
    /// to the buffer or reads nothing; partial messages stay buffered.
    pub(crate) async fn read_frame(&mut self) -> Result<Frame> {
        loop {
            if let Some(f) = self.try_frame()? {
                return Ok(f);
            }
            if self.rbuf.capacity() - self.rbuf.len() < MIN_SPARE {
                self.rbuf.reserve(READ_BUF_SIZE);
            }
            let n = self.transport.read_buf(&mut self.rbuf).await?;
            if n == 0 {
                return Err(ProtocolError::ConnectionClosed);
            }
        }
    }

    /// Writes out and flushes everything in `wbuf`.
    ///
    /// If cancelled, the unwritten rest stays in `wbuf` and is sent by the
    /// next call, so messages are never torn or duplicated.
    pub(crate) async fn flush_out(&mut self) -> Result<()> {
        while !self.wbuf.is_empty() {
            let n = self.transport.write(&self.wbuf).await?;
            if n == 0 {
                return Err(ProtocolError::ConnectionClosed);
            }
            self.wbuf.advance(n);
        }
        self.transport.flush().await?;
        Ok(())
    }

    async fn shutdown(&mut self) {
        let _ = self.transport.shutdown().await;
    }
}

/// How to attempt TLS on one connection attempt.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TlsAttempt {
    Off,
    Try,
}

/// A connection in `replication=database` mode, idle (not streaming).
///
/// Commands are executed one at a time (`&mut self`); none of the methods is
/// cancel-safe: dropping a command future midway leaves the connection in an
/// unknown state and it must be discarded. After a server error with severity
/// `ERROR` the connection remains usable.
pub struct ReplicationConnection {
    pub(crate) io: PgIo,
    addr: String,
    user: String,
    server_version: String,
    backend_pid: Option<i32>,
    tls: bool,
    channel_binding: bool,
}

impl fmt::Debug for ReplicationConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplicationConnection")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("server_version", &self.server_version)
            .field("backend_pid", &self.backend_pid)
            .field("tls", &self.tls)
            .field("channel_binding", &self.channel_binding)
            .finish()
    }
}

impl ReplicationConnection {
    /// Connects, negotiates TLS per [`SslMode`], authenticates and waits for
    /// the server to be ready.
    ///
    /// The whole sequence is bounded by `params.connect_timeout`
    /// ([`ProtocolError::ConnectTimeout`]). TCP failures (refused, DNS) are
    /// [`ProtocolError::Connect`]; rejected credentials are
    /// [`ProtocolError::Server`] (e.g. SQLSTATE `28P01`).
    pub async fn connect(params: &ConnectParams) -> Result<Self> {
        let addr = params.addr();
        match tokio::time::timeout(params.connect_timeout, Self::connect_inner(params)).await {
            Ok(r) => r,
            Err(_) => Err(ProtocolError::ConnectTimeout {
                addr,
                after: params.connect_timeout,
            }),
        }
    }

    async fn connect_inner(params: &ConnectParams) -> Result<Self> {
        match params.sslmode {
            SslMode::Disable => Self::connect_once(params, TlsAttempt::Off).await,
            SslMode::Allow => match Self::connect_once(params, TlsAttempt::Off).await {
                Err(ProtocolError::Server(e)) if e.code.starts_with("28") => {
                    tracing::debug!(code = %e.code, "sslmode=allow: plain connection rejected, retrying with TLS");
                    Self::connect_once(params, TlsAttempt::Try).await
                }
                r => r,
            },
            SslMode::Prefer => match Self::connect_once(params, TlsAttempt::Try).await {
                Err(ProtocolError::Tls(e)) => {
                    tracing::warn!(error = %e, "sslmode=prefer: TLS handshake failed, retrying without TLS");
                    Self::connect_once(params, TlsAttempt::Off).await
                }
                r => r,
            },
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                Self::connect_once(params, TlsAttempt::Try).await
            }
        }
    }

    async fn connect_once(params: &ConnectParams, tls_attempt: TlsAttempt) -> Result<Self> {
        let addr = params.addr();
        let mut tcp = TcpStream::connect((params.host.as_str(), params.port))
            .await
            .map_err(|source| ProtocolError::Connect {
                addr: addr.clone(),
                source,
            })?;
        tcp.set_nodelay(true)?;

        let mut channel_binding_data = None;
        let transport = if tls_attempt == TlsAttempt::Try {
            let mut buf = BytesMut::with_capacity(8);
            frontend::ssl_request(&mut buf);
            tcp.write_all(&buf).await?;
            // Read exactly one byte from the unbuffered socket: nothing sent
            // before the handshake may be mistaken for TLS data (CVE-2021-23222).
            let answer = tcp.read_u8().await.map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    ProtocolError::ConnectionClosed
                } else {
                    ProtocolError::Io(e)
                }
            })?;
            match answer {
                b'S' => {
                    let config = tls::client_config(params.sslmode, params.sslrootcert.as_deref())?;
                    let name = tls::server_name(&params.host)?;
                    let stream = tokio_rustls::TlsConnector::from(config)
                        .connect(name, tcp)
                        .await
                        .map_err(|e| {
                            ProtocolError::Tls(format!("TLS handshake with {addr} failed: {e}"))
                        })?;
                    channel_binding_data = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .and_then(|c| tls::tls_server_end_point(c));
                    Transport::Tls(Box::new(stream))
                }
                b'N' if params.sslmode.tls_required() => {
                    return Err(ProtocolError::TlsNotSupported {
                        addr,
                        sslmode: params.sslmode.name(),
                    })
                }
                b'N' => Transport::Plain(tcp),
                other => {
                    return Err(ProtocolError::Protocol(format!(
                        "unexpected answer 0x{other:02x} to SSLRequest"
                    )))
                }
            }
        } else {
            Transport::Plain(tcp)
        };
        let tls = matches!(transport, Transport::Tls(_));
        let mut conn = ReplicationConnection {
            io: PgIo::new(transport),
            addr,
            user: params.user.clone(),
            server_version: String::new(),
            backend_pid: None,
            tls,
            channel_binding: false,
        };
        conn.startup(params, channel_binding_data).await?;
        Ok(conn)
    }

    async fn startup(&mut self, params: &ConnectParams, cb_data: Option<Vec<u8>>) -> Result<()> {
        let startup = [
            ("user", params.user.as_str()),
            ("database", params.dbname.as_str()),
            ("replication", "database"),
            ("application_name", params.application_name.as_str()),
            ("client_encoding", "UTF8"),
            // pgoutput renders values in the walsender with its session
            // settings: pin the text formats the decoders parse
            // (crate::types::text), whatever the server or database default
            ("DateStyle", "ISO, MDY"),
            ("IntervalStyle", "postgres"),
            ("bytea_output", "hex"),
            ("extra_float_digits", "1"),
        ];
        frontend::startup_message(startup.iter().copied(), &mut self.io.wbuf).map_err(|e| {
            ProtocolError::InvalidArgument(format!("invalid connection parameter: {e}"))
        })?;
        self.io.flush_out().await?;
        self.authenticate(params, cb_data).await?;
        // After AuthenticationOk: ParameterStatus*, BackendKeyData, ReadyForQuery.
        loop {
            let f = self.io.read_frame().await?;
            match f.tag {
                b'Z' => return Ok(()),
                b'S' => self.parameter_status(&f.body),
                b'K' if f.body.len() >= 4 => {
                    self.backend_pid = Some(i32::from_be_bytes([
                        f.body[0], f.body[1], f.body[2], f.body[3],
                    ]));
                }
                b'K' => {}
                b'N' => log_notice(&f.body),
                b'E' => return Err(f.server_error()),
                other => return Err(unexpected(other, "connection startup")),
            }
        }
    }

    fn parameter_status(&mut self, body: &[u8]) {
        let mut parts = body.split(|&b| b == 0);
        if let (Some(name), Some(value)) = (parts.next(), parts.next()) {
            if name == b"server_version" {
                self.server_version = String::from_utf8_lossy(value).into_owned();
            }
        }
    }

    async fn authenticate(
        &mut self,
        params: &ConnectParams,
        cb_data: Option<Vec<u8>>,
    ) -> Result<()> {
        let password = || {
            params.password.as_deref().ok_or_else(|| {
                ProtocolError::Auth(format!(
                    "server requested a password for user {:?} but none is configured",
                    params.user
                ))
            })
        };
        let mut scram: Option<ScramSha256> = None;
        loop {
            let f = self.io.read_frame().await?;
            match f.tag {
                b'R' => {}
                b'E' => return Err(f.server_error()),
                b'N' => {
                    log_notice(&f.body);
                    continue;
                }
                other => return Err(unexpected(other, "authentication")),
            }
            let body = &f.body;
            if body.len() < 4 {
                return Err(ProtocolError::Protocol(
                    "truncated authentication request".into(),
                ));
            }
            let code = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
            let data = &body[4..];
            match code {
                0 => return Ok(()),
                3 => {
                    frontend::password_message(password()?.as_bytes(), &mut self.io.wbuf)?;
                    self.io.flush_out().await?;
                }
                5 => {
                    let salt: [u8; 4] = data
                        .get(..4)
                        .and_then(|s| s.try_into().ok())
                        .ok_or_else(|| ProtocolError::Protocol("truncated MD5 salt".into()))?;
                    let hashed = postgres_protocol::authentication::md5_hash(
                        params.user.as_bytes(),
                        password()?.as_bytes(),
                        salt,
                    );
                    frontend::password_message(hashed.as_bytes(), &mut self.io.wbuf)?;
                    self.io.flush_out().await?;
                }
                10 => {
                    let mechanisms: Vec<&[u8]> =
                        data.split(|&b| b == 0).filter(|m| !m.is_empty()).collect();
                    let has_plus = mechanisms.contains(&SCRAM_SHA_256_PLUS.as_bytes());
                    let has_plain = mechanisms.contains(&SCRAM_SHA_256.as_bytes());
                    // Same negotiation as libpq/tokio-postgres: use channel binding
                    // when both sides can; tell the server whether we could have.
                    let (binding, mechanism) = match (&cb_data, has_plus, has_plain) {
                        (Some(cb), true, _) => (
                            ChannelBinding::tls_server_end_point(cb.clone()),
                            SCRAM_SHA_256_PLUS,
                        ),
                        (None, true, _) | (None, false, true) => {
                            (ChannelBinding::unsupported(), SCRAM_SHA_256)
                        }
                        (Some(_), false, true) => (ChannelBinding::unrequested(), SCRAM_SHA_256),
                        (_, false, false) => {
                            let offered: Vec<String> = mechanisms
                                .iter()
                                .map(|m| String::from_utf8_lossy(m).into_owned())
                                .collect();
                            return Err(ProtocolError::Auth(format!(
                                "no supported SASL mechanism offered by server (offered: {})",
                                offered.join(", ")
                            )));
                        }
                    };
                    tracing::debug!(mechanism, "SASL authentication");
                    self.channel_binding = mechanism == SCRAM_SHA_256_PLUS;
                    let s = ScramSha256::new(password()?.as_bytes(), binding);
                    frontend::sasl_initial_response(mechanism, s.message(), &mut self.io.wbuf)?;
                    self.io.flush_out().await?;
                    scram = Some(s);
                }
                11 => {
                    let s = scram.as_mut().ok_or_else(|| {
                        ProtocolError::Protocol("SASLContinue without SASL".into())
                    })?;
                    s.update(data)
                        .map_err(|e| ProtocolError::Auth(format!("SCRAM exchange failed: {e}")))?;
                    frontend::sasl_response(s.message(), &mut self.io.wbuf)?;
                    self.io.flush_out().await?;
                }
                12 => {
                    let s = scram
                        .as_mut()
                        .ok_or_else(|| ProtocolError::Protocol("SASLFinal without SASL".into()))?;
                    s.finish(data).map_err(|e| {
                        ProtocolError::Auth(format!(
                            "SCRAM server signature verification failed: {e}"
                        ))
                    })?;
                }
                2 => {
                    return Err(ProtocolError::Auth(
                        "Kerberos V5 authentication is not supported".into(),
                    ))
                }
                6 => {
                    return Err(ProtocolError::Auth(
                        "SCM credential authentication is not supported".into(),
                    ))
                }
                7 | 8 => {
                    return Err(ProtocolError::Auth(
                        "GSSAPI authentication is not supported".into(),
                    ))
                }
                9 => {
                    return Err(ProtocolError::Auth(
                        "SSPI authentication is not supported".into(),
                    ))
                }
                other => {
                    return Err(ProtocolError::Auth(format!(
                        "unsupported authentication request code {other}"
                    )))
                }
            }
        }
    }

    /// The server's `server_version` parameter, e.g. `15.4 (Debian 15.4-1)`.
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// Major version parsed from [`server_version`](Self::server_version)
    /// (`15` for `15.4`, `9` for `9.6.24`), `None` if unparsable.
    pub fn server_major_version(&self) -> Option<u32> {
        let digits: String = self
            .server_version
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    }

    /// Backend process id of this connection (as in `pg_stat_replication.pid`).
    pub fn backend_pid(&self) -> Option<i32> {
        self.backend_pid
    }

    /// `true` when the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// `true` when authentication used SCRAM-SHA-256-PLUS, i.e. the SCRAM
    /// exchange was bound to this TLS connection's server certificate.
    pub fn channel_binding_used(&self) -> bool {
        self.channel_binding
    }

    /// Runs `sql` with the simple query protocol and returns all data rows of
    /// all statements, each column as text (`None` for NULL).
    ///
    /// Waits for `ReadyForQuery`, so on [`ProtocolError::Server`] the
    /// connection remains usable. Must not be used for commands that start
    /// COPY (`START_REPLICATION`): that is a [`ProtocolError::Protocol`] error.
    pub async fn simple_query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        Ok(self.query(sql).await?.1)
    }

    /// Like [`simple_query`](Self::simple_query), also returning the column
    /// names of the last row description received.
    pub async fn simple_query_with_columns(
        &mut self,
        sql: &str,
    ) -> Result<(Vec<String>, Vec<Vec<Option<String>>>)> {
        self.query(sql).await
    }

    async fn query(&mut self, sql: &str) -> Result<(Vec<String>, Vec<Vec<Option<String>>>)> {
        self.send_query(sql).await?;
        let mut columns = Vec::new();
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            let f = self.io.read_frame().await?;
            match f.tag {
                b'T' => columns = parse_row_description(&f.body)?,
                b'D' => rows.push(parse_data_row(&f.body)?),
                b'C' | b'I' => {}
                b'E' => error = Some(f.server_error()),
                b'N' => log_notice(&f.body),
                b'S' => self.parameter_status(&f.body),
                b'Z' => {
                    return match error {
                        Some(e) => Err(e),
                        None => Ok((columns, rows)),
                    }
                }
                b'G' | b'H' | b'W' => {
                    return Err(ProtocolError::Protocol(
                        "simple_query cannot run a command that starts COPY; the connection is no longer usable".into(),
                    ))
                }
                other => return Err(unexpected(other, "simple query")),
            }
        }
    }

    async fn send_query(&mut self, sql: &str) -> Result<()> {
        frontend::query(sql, &mut self.io.wbuf)
            .map_err(|e| ProtocolError::InvalidArgument(format!("invalid query text: {e}")))?;
        self.io.flush_out().await
    }

    /// `IDENTIFY_SYSTEM`: cluster id, timeline, current WAL position, database.
    pub async fn identify_system(&mut self) -> Result<SystemInfo> {
        let rows = self.simple_query("IDENTIFY_SYSTEM").await?;
        let row = rows
            .first()
            .filter(|r| r.len() >= 4)
            .ok_or_else(|| ProtocolError::Protocol("IDENTIFY_SYSTEM returned no row".into()))?;
        let col = |i: usize| row[i].clone().unwrap_or_default();
        Ok(SystemInfo {
            systemid: col(0),
            timeline: col(1)
                .parse()
                .map_err(|_| ProtocolError::Protocol(format!("invalid timeline {:?}", row[1])))?,
            xlogpos: parse_lsn(&col(2))?,
            dbname: row[3].clone(),
        })
    }

    /// `CREATE_REPLICATION_SLOT name LOGICAL plugin`, optionally exporting a
    /// snapshot and as a failover slot (see [`create_slot_command`]).
    ///
    /// The exported snapshot stays importable only until the next command is
    /// sent on this connection, so import it elsewhere before calling
    /// anything else here. Fails with SQLSTATE `42710` if the slot exists,
    /// and with [`ProtocolError::InvalidArgument`] for `failover` on a
    /// server older than PostgreSQL 17.
    pub async fn create_logical_slot(
        &mut self,
        name: &str,
        plugin: &str,
        export_snapshot: bool,
        failover: bool,
    ) -> Result<SlotInfo> {
        let sql = create_slot_command(
            name,
            plugin,
            export_snapshot,
            failover,
            self.server_major_version(),
        )?;
        let rows = self.simple_query(&sql).await?;
        let row = rows.first().filter(|r| r.len() >= 3).ok_or_else(|| {
            ProtocolError::Protocol("CREATE_REPLICATION_SLOT returned no row".into())
        })?;
        Ok(SlotInfo {
            slot_name: row[0].clone().unwrap_or_default(),
            consistent_point: parse_lsn(row[1].as_deref().unwrap_or(""))?,
            snapshot_name: row[2].clone(),
        })
    }

    /// `DROP_REPLICATION_SLOT name`. Fails with SQLSTATE `55006` while another
    /// connection streams from the slot and `42704` if it does not exist.
    pub async fn drop_slot(&mut self, name: &str) -> Result<()> {
        let sql = format!("DROP_REPLICATION_SLOT {}", quote_identifier(name)?);
        self.simple_query(&sql).await.map(|_| ())
    }

    /// `START_REPLICATION SLOT slot LOGICAL start_lsn (...)` with the pgoutput
    /// options `proto_version`, `publication_names` and (only when `messages`
    /// is true, PostgreSQL ≥ 14) `messages`.
    ///
    /// `start_lsn = Lsn(0)` resumes from the slot's `confirmed_flush_lsn`.
    /// Consumes the connection; on error (e.g. SQLSTATE `55006` slot active,
    /// `42704` missing slot/publication) the connection is closed and a new
    /// one must be opened.
    pub async fn start_replication(
        mut self,
        slot: &str,
        start_lsn: Lsn,
        proto_version: u32,
        publication_names: &[String],
        messages: bool,
    ) -> Result<ReplicationStream> {
        let pubs = publication_names
            .iter()
            .map(|p| quote_identifier(p))
            .collect::<Result<Vec<_>>>()?
            .join(",");
        let mut sql = format!(
            "START_REPLICATION SLOT {} LOGICAL {} (\"proto_version\" {}, \"publication_names\" {}",
            quote_identifier(slot)?,
            start_lsn,
            quote_literal(&proto_version.to_string())?,
            quote_literal(&pubs)?
        );
        if messages {
            sql.push_str(", \"messages\" 'true'");
        }
        sql.push(')');
        self.send_query(&sql).await?;
        loop {
            let f = self.io.read_frame().await?;
            match f.tag {
                b'W' => return Ok(ReplicationStream::new(self)),
                b'E' => {
                    let err = f.server_error();
                    // Drain to ReadyForQuery so the server is left in a clean
                    // state before the connection is dropped.
                    loop {
                        match self.io.read_frame().await {
                            Ok(f) if f.tag == b'Z' => break,
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                    return Err(err);
                }
                b'N' => log_notice(&f.body),
                b'S' => self.parameter_status(&f.body),
                other => return Err(unexpected(other, "START_REPLICATION")),
            }
        }
    }

    /// Sends `Terminate` and closes the socket. Errors are ignored.
    pub async fn close(mut self) {
        frontend::terminate(&mut self.io.wbuf);
        let _ = self.io.flush_out().await;
        self.io.shutdown().await;
    }
}

/// The `CREATE_REPLICATION_SLOT` command for a logical slot `name` of
/// `plugin` on a server of major version `server_major`: PostgreSQL 15+
/// takes options in parentheses (`SNAPSHOT 'export'` or `'nothing'`, and
/// `FAILOVER` for a failover slot, PostgreSQL 17+), older servers the
/// legacy `EXPORT_SNAPSHOT` / `NOEXPORT_SNAPSHOT` keywords. `failover`
/// before PostgreSQL 17 (or of an unknown version) is
/// [`ProtocolError::InvalidArgument`].
pub fn create_slot_command(
    name: &str,
    plugin: &str,
    export_snapshot: bool,
    failover: bool,
    server_major: Option<u32>,
) -> Result<String> {
    let major = server_major.unwrap_or(0);
    if failover && major < 17 {
        return Err(ProtocolError::InvalidArgument(format!(
            "a failover replication slot needs PostgreSQL 17 or later, but the server is {}",
            server_major.map_or("of an unknown version".to_owned(), |v| format!(
                "PostgreSQL {v}"
            ))
        )));
    }
    let mut sql = format!(
        "CREATE_REPLICATION_SLOT {} LOGICAL {}",
        quote_identifier(name)?,
        quote_identifier(plugin)?
    );
    let snapshot = if export_snapshot { "export" } else { "nothing" };
    if major >= 15 {
        sql.push_str(&format!(" (SNAPSHOT '{snapshot}'"));
        if failover {
            sql.push_str(", FAILOVER");
        }
        sql.push(')');
    } else {
        sql.push_str(if export_snapshot {
            " EXPORT_SNAPSHOT"
        } else {
            " NOEXPORT_SNAPSHOT"
        });
    }
    Ok(sql)
}

/// Quotes an SQL identifier (`"a""b"`); rejects NUL bytes.
pub fn quote_identifier(s: &str) -> Result<String> {
    if s.contains('\0') {
        return Err(ProtocolError::InvalidArgument(format!(
            "identifier {s:?} contains a NUL byte"
        )));
    }
    Ok(format!("\"{}\"", s.replace('"', "\"\"")))
}

/// Quotes an SQL string literal (`'it''s'`, standard-conforming: backslashes
/// are literal); rejects NUL bytes.
pub fn quote_literal(s: &str) -> Result<String> {
    if s.contains('\0') {
        return Err(ProtocolError::InvalidArgument(format!(
            "literal {s:?} contains a NUL byte"
        )));
    }
    Ok(format!("'{}'", s.replace('\'', "''")))
}

fn parse_lsn(s: &str) -> Result<Lsn> {
    s.parse()
        .map_err(|e| ProtocolError::Protocol(format!("server sent {e}")))
}

pub(crate) fn unexpected(tag: u8, during: &str) -> ProtocolError {
    ProtocolError::Protocol(format!(
        "unexpected backend message '{}' (0x{tag:02x}) during {during}",
        char::from(tag)
    ))
}

pub(crate) fn log_notice(body: &[u8]) {
    let n = ServerError::parse(body);
    tracing::info!(severity = %n.severity, code = %n.code, "PostgreSQL notice: {}", n.message);
}

fn truncated(what: &str) -> ProtocolError {
    ProtocolError::Protocol(format!("truncated {what} message"))
}

fn parse_row_description(body: &[u8]) -> Result<Vec<String>> {
    let count = body.get(..2).ok_or_else(|| truncated("RowDescription"))?;
    let count = i16::from_be_bytes([count[0], count[1]]).max(0) as usize;
    let mut rest = &body[2..];
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        let nul = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| truncated("RowDescription"))?;
        names.push(String::from_utf8_lossy(&rest[..nul]).into_owned());
        rest = rest
            .get(nul + 1 + 18..)
            .ok_or_else(|| truncated("RowDescription"))?;
    }
    Ok(names)
}

fn parse_data_row(body: &[u8]) -> Result<Vec<Option<String>>> {
    let count = body.get(..2).ok_or_else(|| truncated("DataRow"))?;
    let count = i16::from_be_bytes([count[0], count[1]]).max(0) as usize;
    let mut rest = &body[2..];
    let mut row = Vec::with_capacity(count);
    for _ in 0..count {
        let len = rest.get(..4).ok_or_else(|| truncated("DataRow"))?;
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        rest = &rest[4..];
        if len < 0 {
            row.push(None);
        } else {
            let len = len as usize;
            let v = rest.get(..len).ok_or_else(|| truncated("DataRow"))?;
            row.push(Some(String::from_utf8_lossy(v).into_owned()));
            rest = &rest[len..];
        }
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_identifier("slot").unwrap(), "\"slot\"");
        assert_eq!(quote_identifier("a\"b").unwrap(), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's").unwrap(), "'it''s'");
        assert_eq!(quote_literal("a\\b").unwrap(), "'a\\b'");
        assert!(quote_identifier("a\0b").is_err());
        assert!(quote_literal("a\0b").is_err());
        // publication_names as sent to START_REPLICATION.
        let pubs = ["p1".to_string(), "we\"ird,'x".to_string()]
            .iter()
            .map(|p| quote_identifier(p).unwrap())
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(quote_literal(&pubs).unwrap(), "'\"p1\",\"we\"\"ird,''x\"'");
    }

    #[test]
    fn create_slot_commands() {
        let cmd =
            |export, failover, major| create_slot_command("s", "pgoutput", export, failover, major);
        assert_eq!(
            cmd(true, false, Some(15)).unwrap(),
            "CREATE_REPLICATION_SLOT \"s\" LOGICAL \"pgoutput\" (SNAPSHOT 'export')"
        );
        assert_eq!(
            cmd(false, false, Some(16)).unwrap(),
            "CREATE_REPLICATION_SLOT \"s\" LOGICAL \"pgoutput\" (SNAPSHOT 'nothing')"
        );
        // slot.failover on PostgreSQL 17+: FAILOVER among the options
        assert_eq!(
            cmd(true, true, Some(17)).unwrap(),
            "CREATE_REPLICATION_SLOT \"s\" LOGICAL \"pgoutput\" (SNAPSHOT 'export', FAILOVER)"
        );
        assert_eq!(
            cmd(false, true, Some(18)).unwrap(),
            "CREATE_REPLICATION_SLOT \"s\" LOGICAL \"pgoutput\" (SNAPSHOT 'nothing', FAILOVER)"
        );
        assert_eq!(
            cmd(true, false, Some(14)).unwrap(),
            "CREATE_REPLICATION_SLOT \"s\" LOGICAL \"pgoutput\" EXPORT_SNAPSHOT"
        );
        assert_eq!(
            cmd(false, false, None).unwrap(),
            "CREATE_REPLICATION_SLOT \"s\" LOGICAL \"pgoutput\" NOEXPORT_SNAPSHOT"
        );
        for major in [Some(16), Some(10), None] {
            let e = cmd(true, true, major).unwrap_err();
            assert!(
                matches!(&e, ProtocolError::InvalidArgument(m) if m.contains("PostgreSQL 17")),
                "{major:?}: {e}"
            );
        }
    }

    #[test]
    fn sslmode_parse() {
        assert_eq!(
            "verify-full".parse::<SslMode>().unwrap(),
            SslMode::VerifyFull
        );
        assert_eq!("REQUIRE".parse::<SslMode>().unwrap(), SslMode::Require);
        assert_eq!(SslMode::default(), SslMode::Prefer);
        assert!("verify_ca".parse::<SslMode>().is_err());
        for m in [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ] {
            assert_eq!(m.name().parse::<SslMode>().unwrap(), m);
        }
    }

    #[test]
    fn debug_redacts_password() {
        let mut p = ConnectParams::new("h", 5432, "u", "d");
        p.password = Some("s3cr3t-pw".into());
        let s = format!("{p:?}");
        assert!(!s.contains("s3cr3t-pw"), "{s}");
        assert!(s.contains("redacted"));
    }

    #[test]
    fn row_parsing() {
        let mut body = vec![0, 2];
        body.extend_from_slice(&3i32.to_be_bytes());
        body.extend_from_slice(b"abc");
        body.extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(
            parse_data_row(&body).unwrap(),
            vec![Some("abc".into()), None]
        );
        assert!(parse_data_row(&body[..6]).is_err());
        let mut rd = vec![0, 1];
        rd.extend_from_slice(b"col\0");
        rd.extend_from_slice(&[0; 18]);
        assert_eq!(parse_row_description(&rd).unwrap(), vec!["col".to_string()]);
        assert!(parse_row_description(&rd[..10]).is_err());
    }

    #[tokio::test]
    async fn connection_refused_is_connect_error() {
        // Bind then drop a listener to get a (very likely) closed port.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut p = ConnectParams::new("127.0.0.1", port, "u", "d");
        p.password = Some("pw-should-not-leak".into());
        let e = ReplicationConnection::connect(&p).await.unwrap_err();
        assert!(e.is_connect_error(), "{e:?}");
        assert!(!format!("{e} {e:?}").contains("pw-should-not-leak"));
    }

    #[tokio::test]
    async fn dns_failure_is_connect_error() {
        let p = ConnectParams::new("no-such-host.invalid", 5432, "u", "d");
        let e = ReplicationConnection::connect(&p).await.unwrap_err();
        assert!(e.is_connect_error(), "{e:?}");
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let accept = tokio::spawn(async move {
            let (s, _) = l.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(s);
        });
        let mut p = ConnectParams::new("127.0.0.1", port, "u", "d");
        p.connect_timeout = Duration::from_millis(200);
        let e = ReplicationConnection::connect(&p).await.unwrap_err();
        assert!(matches!(e, ProtocolError::ConnectTimeout { .. }), "{e:?}");
        accept.abort();
    }
}

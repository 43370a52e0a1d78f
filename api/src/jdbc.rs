//! What every connector reading or writing a relational database through a
//! JDBC-style `connection.url` shares: the URL (`jdbc:postgresql://…`,
//! `jdbc:mariadb://…`, `jdbc:mysql://…`), the database family it names and a
//! secret wrapper for the password; the `connection.*` keys ([`keys`]) and
//! their reading ([`Connection::read`]); [`DbError`]; [`SinkConnection`], a
//! started sink task's configuration and connection; and, with the
//! `postgres` / `mariadb` features, connecting and the classification of the
//! drivers' errors into retriable or fatal (`pg`, `my`). Used by the JDBC
//! sink, the JDBC source and the materializing sink.

use std::fmt;

use crate::config::{ConfigKey, ConfigReader};

/// The `connection.*` keys of JDBC-style connectors, declared once. A
/// connector lists the ones it uses in its own `config_keys!` (e.g.
/// `CONNECTION_URL = velocity_api::jdbc::keys::CONNECTION_URL;`), with its
/// own documentation where it differs (`ConfigKey { documentation: …,
/// ..CONNECTION_URL }`), and reads them with [`Connection::read`].
pub mod keys {
    use crate::config::{ConfigKey, ConfigType::*, Importance::*};

    /// `connection.url` (required): `jdbc:postgresql://host[:port]/db`,
    /// `jdbc:mariadb://…` or `jdbc:mysql://…`; its form is checked by
    /// [`Connection::read`](super::Connection::read), whose message never
    /// repeats the URL's query parameters (they may hold a password).
    pub const CONNECTION_URL: ConfigKey = ConfigKey::new("connection.url", String, None, High, "JDBC connection URL: jdbc:postgresql://host:port/db, jdbc:mariadb://host:port/db or jdbc:mysql://host:port/db.");
    /// `connection.username` (required): the user of the JDBC sinks.
    pub const CONNECTION_USERNAME: ConfigKey =
        ConfigKey::new("connection.username", String, None, High, "Database user.");
    /// `connection.user` (required): the user of Confluent's JDBC source.
    pub const CONNECTION_USER: ConfigKey =
        ConfigKey::new("connection.user", String, None, High, "Database user.");
    /// `connection.password` (a secret: never logged or shown; default empty).
    pub const CONNECTION_PASSWORD: ConfigKey = ConfigKey::new(
        "connection.password",
        Password,
        Some(""),
        High,
        "Database password.",
    );
}

/// Where and as whom a JDBC-style connector connects, read from its
/// `connection.*` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `connection.url`, parsed.
    pub url: ConnectionUrl,
    /// The database user.
    pub user: String,
    /// The key that names the user (`connection.username`, `connection.user`),
    /// for messages.
    pub user_key: &'static str,
    /// `connection.password` (empty when not given).
    pub password: Secret,
}

impl Connection {
    /// Reads the URL, user and password through their declarations
    /// (normally [`keys`]). A URL of the wrong form is recorded on `url`
    /// as `Invalid value <url without its query> for configuration
    /// connection.url: <what is wrong and the accepted forms>`; a missing
    /// URL or user is recorded by the reader. The password is taken as
    /// given (not trimmed). On errors the value returned is a placeholder.
    pub fn read(
        r: &mut ConfigReader<'_>,
        url: &ConfigKey,
        user: &ConfigKey,
        password: &ConfigKey,
    ) -> Connection {
        let given = r.string(url);
        let parsed = match parse_url(&given) {
            Ok(u) => Some(u),
            Err(_) if given.is_empty() => None,
            Err(rule) => {
                let shown = given.split('?').next().unwrap_or("");
                r.fail(
                    url.name,
                    format!(
                        "Invalid value {shown} for configuration {}: {rule}",
                        url.name
                    ),
                );
                None
            }
        };
        r.check(password);
        Connection {
            url: parsed.unwrap_or(ConnectionUrl {
                dialect: Dialect::Postgres,
                host: String::new(),
                port: 0,
                database: String::new(),
            }),
            user: r.string(user),
            user_key: user.name,
            password: Secret::new(r.raw().get(password.name).cloned().unwrap_or_default()),
        }
    }

    /// Who connects where, for `pg::connect` and `my::connect`.
    pub fn login(&self) -> Login<'_> {
        Login {
            url: &self.url,
            user: &self.user,
            user_key: self.user_key,
            password: &self.password,
        }
    }
}

/// The database family named by `connection.url`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `jdbc:postgresql://`.
    Postgres,
    /// `jdbc:mariadb://` or `jdbc:mysql://`.
    MariaDb,
}

/// A parsed `connection.url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionUrl {
    /// The database family.
    pub dialect: Dialect,
    /// Host name or address.
    pub host: String,
    /// Port (default 5432 or 3306).
    pub port: u16,
    /// Database name.
    pub database: String,
}

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The secret itself; only for handing to a database driver.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

/// Parses `jdbc:postgresql://host[:port]/db[?…]` (and `jdbc:mariadb://`,
/// `jdbc:mysql://`); the error says what is wrong and the accepted forms
/// (the caller names the key). Query parameters are ignored.
pub fn parse_url(url: &str) -> Result<ConnectionUrl, String> {
    let fix = "use jdbc:postgresql://host:port/database, jdbc:mariadb://host:port/database or jdbc:mysql://host:port/database";
    let (dialect, rest, default_port) = if let Some(r) = url.strip_prefix("jdbc:postgresql://") {
        (Dialect::Postgres, r, 5432)
    } else if let Some(r) = url
        .strip_prefix("jdbc:mariadb://")
        .or_else(|| url.strip_prefix("jdbc:mysql://"))
    {
        (Dialect::MariaDb, r, 3306)
    } else {
        let shown = url.split('?').next().unwrap_or("");
        return Err(format!("unsupported URL '{shown}': {fix}"));
    };
    let rest = rest.split('?').next().unwrap_or("");
    let (hostport, database) = rest.split_once('/').unwrap_or((rest, ""));
    let database = database.trim_end_matches('/');
    if database.is_empty() {
        return Err(format!("the URL names no database: {fix}"));
    }
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("port '{p}' is not a number: {fix}"))?,
        ),
        None => (hostport, default_port),
    };
    if host.is_empty() || host.contains(',') || host.contains('@') {
        return Err(format!("expected exactly one host name: {fix}"));
    }
    Ok(ConnectionUrl {
        dialect,
        host: host.to_owned(),
        port,
        database: database.to_owned(),
    })
}

/// A failed connection or statement of a database connector, with the
/// kind the runtime needs. Messages say what to fix and never contain the
/// password.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database refused the credentials (fatal).
    #[error("{database} at {address} rejected user '{user}': {message}; check {user_key} and connection.password")]
    Auth {
        /// `PostgreSQL` or `MariaDB`.
        database: &'static str,
        /// `host:port`.
        address: String,
        /// The user name (not secret).
        user: String,
        /// The connector's user key (`connection.user`, `connection.username`).
        user_key: &'static str,
        /// The server's message.
        message: String,
    },
    /// The database could not be reached, or the database named in the URL
    /// does not exist.
    #[error("cannot connect to {database} at {address}: {message}; check connection.url")]
    Connect {
        /// `PostgreSQL` or `MariaDB`.
        database: &'static str,
        /// `host:port`.
        address: String,
        /// The driver's message.
        message: String,
        /// Whether trying again may help (network, server restarting) or
        /// not (unknown database).
        retriable: bool,
    },
    /// A statement failed.
    #[error("{database} error while {action}: {message}")]
    Database {
        /// `PostgreSQL` or `MariaDB`.
        database: &'static str,
        /// What the connector was doing (`writing table x`).
        action: String,
        /// The server's message, with its SQLSTATE or error code.
        message: String,
        /// Whether trying again may help (lost connection, deadlock…).
        retriable: bool,
    },
}

impl DbError {
    /// Whether retrying can help.
    pub fn kind(&self) -> crate::ErrorKind {
        match self {
            DbError::Connect {
                retriable: true, ..
            }
            | DbError::Database {
                retriable: true, ..
            } => crate::ErrorKind::Retriable,
            _ => crate::ErrorKind::Fatal,
        }
    }
}

/// A started JDBC-style sink task: its configuration and its connection to
/// the database, held the same way by the JDBC sink and the materializing
/// sink. The connection is opened when the task starts (so that a bad URL,
/// an unknown database or rejected credentials fail the start, naming the
/// key to fix) and reopened by the next write after a failed one (see
/// [`write_reconnecting`](crate::sink::write_reconnecting)).
#[derive(Debug)]
pub struct SinkConnection<C, W> {
    /// The task's configuration.
    pub cfg: C,
    writer: Option<W>,
}

impl<C: crate::TypedConfig, W> SinkConnection<C, W> {
    /// Reads `config` (every broken rule as the caller's configuration
    /// error) and connects with `connect`.
    pub async fn start<E: From<crate::ConfigErrors>>(
        config: &crate::RawConfig,
        connect: impl AsyncFnOnce(&C) -> Result<W, E>,
    ) -> Result<Self, E> {
        let cfg = C::from_raw(config)?;
        let writer = connect(&cfg).await?;
        Ok(SinkConnection {
            cfg,
            writer: Some(writer),
        })
    }

    /// Runs `write` on the connection, first reconnecting with `connect`
    /// when the previous write failed; a failed write drops the connection
    /// and its error is returned unchanged.
    pub async fn write<E>(
        &mut self,
        connect: impl AsyncFnOnce(&C) -> Result<W, E>,
        write: impl AsyncFnOnce(&C, &mut W) -> Result<(), E>,
    ) -> Result<(), E> {
        let cfg = &self.cfg;
        crate::sink::write_reconnecting(
            &mut self.writer,
            async || connect(cfg).await,
            async |w: &mut W| write(cfg, w).await,
        )
        .await
    }

    /// The open connection, if any (to close it when the task stops).
    pub fn into_writer(self) -> Option<W> {
        self.writer
    }
}

/// Who connects where: the parsed URL, the user (and the key that names it,
/// for messages) and the password.
#[derive(Debug, Clone, Copy)]
pub struct Login<'a> {
    /// `connection.url`.
    pub url: &'a ConnectionUrl,
    /// The user.
    pub user: &'a str,
    /// The configuration key of the user.
    pub user_key: &'static str,
    /// The password.
    pub password: &'a Secret,
}

// Used by the driver modules (`pg`, `my`), compiled with their features only.
#[cfg_attr(not(any(feature = "postgres", feature = "mariadb")), allow(dead_code))]
impl Login<'_> {
    fn address(&self) -> String {
        format!("{}:{}", self.url.host, self.url.port)
    }

    fn auth(&self, database: &'static str, message: String) -> DbError {
        DbError::Auth {
            database,
            address: self.address(),
            user: self.user.to_owned(),
            user_key: self.user_key,
            message,
        }
    }

    fn unreachable(&self, database: &'static str, message: String, retriable: bool) -> DbError {
        DbError::Connect {
            database,
            address: self.address(),
            message,
            retriable,
        }
    }
}

/// PostgreSQL (tokio-postgres): connecting and classifying errors.
#[cfg(feature = "postgres")]
pub mod pg {
    use std::time::Duration;

    use tokio_postgres::{Client, NoTls};

    use super::{DbError, Login};

    /// Connects as `login`, named `application` in `pg_stat_activity`
    /// (10 s timeout), drives the connection in a spawned task (abort the
    /// handle to close it) and sets the session time zone to UTC. Rejected
    /// credentials (SQLSTATE 28P01/28000) and other server refusals
    /// (unknown database) are fatal, except a server shutting down or
    /// starting (57P); an unreachable server is retriable.
    pub async fn connect(
        login: Login<'_>,
        application: &str,
    ) -> Result<(Client, tokio::task::JoinHandle<()>), DbError> {
        let u = login.url;
        let mut pc = tokio_postgres::Config::new();
        pc.host(&u.host)
            .port(u.port)
            .dbname(&u.database)
            .user(login.user)
            .password(login.password.expose())
            .application_name(application)
            .connect_timeout(Duration::from_secs(10));
        let (client, conn) = pc.connect(NoTls).await.map_err(|e| match e.as_db_error() {
            Some(db) if matches!(db.code().code(), "28P01" | "28000") => {
                login.auth("PostgreSQL", db.message().to_owned())
            }
            Some(db) => login.unreachable(
                "PostgreSQL",
                format!("{} (SQLSTATE {})", db.message(), db.code().code()),
                db.code().code().starts_with("57P"),
            ),
            None => login.unreachable("PostgreSQL", e.to_string(), true),
        })?;
        let application = application.to_owned();
        let conn = tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::warn!(error = %e, application, "PostgreSQL connection closed");
            }
        });
        client
            .batch_execute("SET TIME ZONE 'UTC'")
            .await
            .map_err(|e| error("setting the session time zone", &e))?;
        Ok((client, conn))
    }

    /// A failed statement while `action`, with SQLSTATE, detail and hint;
    /// retriable for connection exceptions (08), rollbacks such as
    /// deadlocks and serialization failures (40), insufficient resources
    /// (53), shutdowns (57P) and lost connections.
    pub fn error(action: impl Into<String>, e: &tokio_postgres::Error) -> DbError {
        let (message, retriable) = match e.as_db_error() {
            Some(db) => {
                let code = db.code().code();
                let retriable = code.starts_with("08")
                    || code.starts_with("40")
                    || code.starts_with("53")
                    || code.starts_with("57P");
                let mut message = format!("{} (SQLSTATE {code})", db.message());
                if let Some(d) = db.detail() {
                    message.push_str(&format!("; {d}"));
                }
                if let Some(h) = db.hint() {
                    message.push_str(&format!("; hint: {h}"));
                }
                (message, retriable)
            }
            None => (
                e.to_string(),
                e.is_closed() || std::error::Error::source(e).is_some(),
            ),
        };
        DbError::Database {
            database: "PostgreSQL",
            action: action.into(),
            message,
            retriable,
        }
    }
}

/// MariaDB / MySQL (mysql_async): connecting and classifying errors.
#[cfg(feature = "mariadb")]
pub mod my {
    use mysql_async::{Conn, OptsBuilder};

    use super::{DbError, Login};

    /// Connects as `login` with the session time zone set to UTC. Access
    /// denied (1044, 1045, 1698) and other server refusals (unknown
    /// database 1049…) are fatal; network and driver errors retriable.
    pub async fn connect(login: Login<'_>) -> Result<Conn, DbError> {
        let u = login.url;
        let opts = OptsBuilder::default()
            .ip_or_hostname(u.host.clone())
            .tcp_port(u.port)
            .user(Some(login.user.to_owned()))
            .pass(Some(login.password.expose().to_owned()))
            .db_name(Some(u.database.clone()))
            .init(vec!["SET time_zone = '+00:00'"]);
        Conn::new(opts).await.map_err(|e| match &e {
            mysql_async::Error::Server(s) if matches!(s.code, 1045 | 1044 | 1698) => {
                login.auth("MariaDB", s.message.clone())
            }
            mysql_async::Error::Server(s) => login.unreachable(
                "MariaDB",
                format!("{} (error {})", s.message, s.code),
                false,
            ),
            other => login.unreachable("MariaDB", other.to_string(), true),
        })
    }

    /// A failed statement while `action`; retriable for I/O and driver
    /// errors, lock wait timeouts (1205) and deadlocks (1213).
    pub fn error(action: impl Into<String>, e: &mysql_async::Error) -> DbError {
        let retriable = match e {
            mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => true,
            mysql_async::Error::Server(s) => matches!(s.code, 1205 | 1213),
            _ => false,
        };
        DbError::Database {
            database: "MariaDB",
            action: action.into(),
            message: e.to_string(),
            retriable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("jdbc:mariadb://h/d?useSSL=false").unwrap();
        assert_eq!(
            (u.dialect, u.port, u.database.as_str()),
            (Dialect::MariaDb, 3306, "d")
        );
        assert_eq!(parse_url("jdbc:postgresql://h:6/d").unwrap().port, 6);
        for bad in [
            "mysql://h/d",
            "jdbc:postgresql://h",
            "jdbc:postgresql://h:x/d",
            "jdbc:postgresql://a,b/d",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        assert_eq!(format!("{:?}", Secret::new("pw")), "[hidden]");
    }

    #[test]
    fn connection_keys_are_read_and_the_url_query_never_shown() {
        use crate::config::{ConfigErrors, RawConfig};
        let read = |pairs: &[(&str, &str)]| -> Result<Connection, ConfigErrors> {
            let raw: RawConfig = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let mut r = ConfigReader::new(&raw);
            let c = Connection::read(
                &mut r,
                &keys::CONNECTION_URL,
                &keys::CONNECTION_USER,
                &keys::CONNECTION_PASSWORD,
            );
            r.finish(c)
        };
        let c = read(&[
            ("connection.url", "jdbc:mysql://h:3307/d"),
            ("connection.user", "u"),
            ("connection.password", " pw "),
        ])
        .unwrap();
        assert_eq!((c.url.dialect, c.url.port), (Dialect::MariaDb, 3307));
        assert_eq!((c.user.as_str(), c.password.expose()), ("u", " pw "));
        assert_eq!(c.login().user_key, "connection.user");
        let e = read(&[]).unwrap_err();
        assert!(
            e.names("connection.url") && e.names("connection.user"),
            "{e}"
        );
        let e = read(&[
            ("connection.url", "postgresql://h/d?password=s3cret"),
            ("connection.user", "u"),
        ])
        .unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert!(e.names("connection.url"));
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "Invalid value postgresql://h/d for configuration connection.url: unsupported URL"
            ) && msg.contains("jdbc:postgresql://")
                && !msg.contains("s3cret"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn sink_connection_reads_connects_and_reconnects_after_a_failed_write() {
        use crate::config::{ConfigErrors, RawConfig, TypedConfig};
        use std::cell::Cell;

        struct Cfg(String);
        impl TypedConfig for Cfg {
            const KEYS: &'static [ConfigKey] = &[keys::CONNECTION_URL];
            fn read(r: &mut ConfigReader<'_>) -> Cfg {
                Cfg(r.string(&keys::CONNECTION_URL))
            }
        }
        #[derive(Debug)]
        enum E {
            Config(ConfigErrors),
            Write,
        }
        impl From<ConfigErrors> for E {
            fn from(e: ConfigErrors) -> E {
                E::Config(e)
            }
        }
        let opened = Cell::new(0);
        let connect = async |c: &Cfg| {
            assert_eq!(c.0, "u");
            opened.set(opened.get() + 1);
            Ok::<_, E>(opened.get())
        };
        let none = RawConfig::new();
        match SinkConnection::<Cfg, i32>::start(&none, connect).await {
            Err(E::Config(e)) => assert!(e.names("connection.url"), "{e}"),
            other => panic!("{:?}", other.map(|c| c.into_writer())),
        }
        assert_eq!(opened.get(), 0);
        let raw: RawConfig = [("connection.url".to_owned(), "u".to_owned())].into();
        let mut c = SinkConnection::start(&raw, connect).await.unwrap();
        let failed = c.write(connect, async |_, _: &mut i32| Err(E::Write)).await;
        assert!(matches!(failed, Err(E::Write)));
        c.write(connect, async |cfg, w: &mut i32| {
            assert_eq!((cfg.0.as_str(), *w), ("u", 2));
            Ok(())
        })
        .await
        .unwrap();
        assert_eq!((opened.get(), c.into_writer()), (2, Some(2)));
    }

    #[test]
    fn db_errors_name_the_keys_and_their_kind() {
        let url = parse_url("jdbc:postgresql://h:1/d").unwrap();
        let login = Login {
            url: &url,
            user: "u",
            user_key: "connection.user",
            password: &Secret::new("pw"),
        };
        let a = login.auth("PostgreSQL", "denied".into());
        assert!(a
            .to_string()
            .contains("connection.user and connection.password"));
        assert!(!a.to_string().contains("pw"));
        assert_eq!(a.kind(), crate::ErrorKind::Fatal);
        let c = login.unreachable("PostgreSQL", "refused".into(), true);
        assert!(c.to_string().contains("h:1") && c.to_string().contains("connection.url"));
        assert_eq!(c.kind(), crate::ErrorKind::Retriable);
    }
}

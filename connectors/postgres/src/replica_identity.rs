//! `replica.identity.autoset.values`, as Debezium's `ReplicaIdentityMapper`
//! and `PostgresReplicationConnection#initReplicaIdentity`: a comma-separated
//! list of `<table regex>:<DEFAULT|FULL|NOTHING|INDEX index_name>`; at start
//! every captured table that one entry matches gets that replica identity
//! (`ALTER TABLE … REPLICA IDENTITY …`) unless it already has it.
//!
//! As in Debezium, a table that two entries match, a failed read of the
//! current identity or a failed `ALTER TABLE` (e.g. not the table's owner)
//! are logged as errors naming the table, and the connector goes on.

use std::fmt;

use tokio_postgres::Client;
use velocity_api::config::whole_match;

use crate::protocol::quote_identifier;

/// Debezium's pattern for one entry, shown in the validation error.
pub const ENTRY_PATTERN: &str = r"(?i)^\s*(?<tablepredicate>[^\s:]+):(?<replicaidentity>DEFAULT|(INDEX) (?<indexname>.\w*)|FULL|NOTHING)\s*$";

/// A table's replica identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// `DEFAULT`: the old values of the primary key columns.
    Default,
    /// `FULL`: the old values of all columns.
    Full,
    /// `NOTHING`: no old values.
    Nothing,
    /// `USING INDEX <name>`: the old values of the index's columns.
    Index(String),
}

impl fmt::Display for ReplicaIdentity {
    /// Debezium's `ReplicaIdentityInfo#toString`: `DEFAULT`, `FULL`,
    /// `NOTHING` or `USING INDEX <name>` (what the log lines show).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplicaIdentity::Default => f.write_str("DEFAULT"),
            ReplicaIdentity::Full => f.write_str("FULL"),
            ReplicaIdentity::Nothing => f.write_str("NOTHING"),
            ReplicaIdentity::Index(name) => write!(f, "USING INDEX {name}"),
        }
    }
}

impl ReplicaIdentity {
    /// The identity as `pg_class.relreplident` (`d`, `f`, `n`, `i`) and, for
    /// `i`, the index `pg_index.indisreplident` names; None for anything else.
    pub fn from_catalog(relreplident: &str, index: Option<String>) -> Option<ReplicaIdentity> {
        match relreplident {
            "d" => Some(ReplicaIdentity::Default),
            "f" => Some(ReplicaIdentity::Full),
            "n" => Some(ReplicaIdentity::Nothing),
            "i" => Some(ReplicaIdentity::Index(index.unwrap_or_default())),
            _ => None,
        }
    }

    /// True when `self` (as configured) is `current` (as read from the
    /// catalog); the configured index name is an unquoted SQL identifier,
    /// so it is compared lower-cased, as PostgreSQL folds it.
    pub fn is(&self, current: &ReplicaIdentity) -> bool {
        match (self, current) {
            (ReplicaIdentity::Index(want), ReplicaIdentity::Index(have)) => {
                want.to_lowercase() == *have
            }
            (want, have) => want == have,
        }
    }

    /// `ALTER TABLE "schema"."table" REPLICA IDENTITY …` for this identity:
    /// the table's names (from the catalog) quoted, so mixed-case names
    /// work; the configured index name folded to lower case as PostgreSQL
    /// folds the unquoted name in Debezium's statement, then quoted.
    pub fn alter_sql(&self, schema: &str, table: &str) -> Result<String, String> {
        let q = |s: &str| quote_identifier(s).map_err(|e| e.to_string());
        let identity = match self {
            ReplicaIdentity::Index(name) => format!("USING INDEX {}", q(&name.to_lowercase())?),
            other => other.to_string(),
        };
        Ok(format!(
            "ALTER TABLE {}.{} REPLICA IDENTITY {identity}",
            q(schema)?,
            q(table)?
        ))
    }
}

/// The parsed option: `(table regex, identity)` entries in the given order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplicaIdentityMapper(Vec<(String, ReplicaIdentity)>);

/// One entry, `<table regex>:<identity>`, by Debezium's [`ENTRY_PATTERN`]
/// (case-insensitive; `INDEX` then one space and the index name).
fn parse_entry(entry: &str) -> Option<(String, ReplicaIdentity)> {
    let (table, identity) = entry.trim().split_once(':')?;
    if table.is_empty() || table.chars().any(char::is_whitespace) {
        return None;
    }
    let identity = match identity.to_ascii_uppercase().as_str() {
        "DEFAULT" => ReplicaIdentity::Default,
        "FULL" => ReplicaIdentity::Full,
        "NOTHING" => ReplicaIdentity::Nothing,
        upper => {
            upper.strip_prefix("INDEX ")?;
            let name = &identity["INDEX ".len()..];
            let mut chars = name.chars();
            chars.next()?;
            if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            ReplicaIdentity::Index(name.to_owned())
        }
    };
    whole_match(table).ok()?;
    Some((table.to_owned(), identity))
}

impl ReplicaIdentityMapper {
    /// Parses `replica.identity.autoset.values`. The error is Debezium's:
    /// `Must not be empty`, or `<entry> has an invalid format (expecting
    /// '<pattern>')` for each entry that is not `<table regex>:<identity>`.
    pub fn parse(spec: &str) -> Result<ReplicaIdentityMapper, String> {
        if spec.trim().is_empty() {
            return Err("Must not be empty".into());
        }
        let mut entries = Vec::new();
        let mut bad = Vec::new();
        for entry in spec.split(',') {
            match parse_entry(entry) {
                Some(e) => entries.push(e),
                None => bad.push(format!(
                    "{entry} has an invalid format (expecting '{ENTRY_PATTERN}')"
                )),
            }
        }
        if bad.is_empty() {
            Ok(ReplicaIdentityMapper(entries))
        } else {
            Err(bad.join("; "))
        }
    }

    /// Validator of the key: the value parses.
    pub fn check(spec: &str) -> Result<(), String> {
        ReplicaIdentityMapper::parse(spec).map(|_| ())
    }

    /// True when no entry is configured (the option is not set).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The identity for `schema.table` (matched whole, case-insensitively),
    /// None when no entry matches; Debezium's error when more than one does.
    pub fn find(&self, schema: &str, table: &str) -> Result<Option<&ReplicaIdentity>, String> {
        let full = format!("{schema}.{table}");
        let mut found = self
            .0
            .iter()
            .filter(|(pattern, _)| whole_match(pattern).is_ok_and(|r| r.is_match(&full)));
        match (found.next(), found.next()) {
            (Some(_), Some(_)) => Err(format!(
                "More than one Regular expressions matched table {full}"
            )),
            (first, _) => Ok(first.map(|(_, identity)| identity)),
        }
    }
}

/// What happened to one table's replica identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No entry matches the table.
    NotConfigured,
    /// The table already had the identity.
    Already(ReplicaIdentity),
    /// `ALTER TABLE` set it.
    Set(ReplicaIdentity),
    /// Logged as an error; the connector goes on.
    Failed(String),
}

/// Sets the replica identity of each `(oid, schema, table)` that `mapper`
/// names, logging as Debezium does, and returns what happened to each table.
/// Never fails: errors are logged per table, as in Debezium.
pub async fn apply(
    client: &Client,
    mapper: &ReplicaIdentityMapper,
    tables: &[(u32, String, String)],
) -> Vec<Outcome> {
    if mapper.is_empty() {
        return Vec::new();
    }
    tracing::info!("Updating Replica Identity");
    let mut outcomes = Vec::with_capacity(tables.len());
    for (oid, schema, table) in tables {
        let outcome = apply_one(client, mapper, *oid, schema, table).await;
        if let Outcome::Failed(e) = &outcome {
            tracing::error!(error = %e, "Unable to update Replica Identity for table {schema}.{table}");
        }
        outcomes.push(outcome);
    }
    outcomes
}

async fn apply_one(
    client: &Client,
    mapper: &ReplicaIdentityMapper,
    oid: u32,
    schema: &str,
    table: &str,
) -> Outcome {
    let wanted = match mapper.find(schema, table) {
        Ok(Some(w)) => w.clone(),
        Ok(None) => {
            tracing::debug!("Replica identity for table '{schema}.{table}' will not be updated because Replica Identity is not defined on REPLICA_IDENTITY_AUTOSET_VALUES property");
            return Outcome::NotConfigured;
        }
        Err(e) => return Outcome::Failed(e),
    };
    let current = client
        .query_opt(
            "SELECT c.relreplident::text, (SELECT ic.relname::text FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = c.oid AND i.indisreplident) FROM pg_catalog.pg_class c WHERE c.oid = $1",
            &[&oid],
        )
        .await;
    let current = match current {
        Ok(Some(row)) => ReplicaIdentity::from_catalog(row.get(0), row.get(1)),
        Ok(None) | Err(_) => {
            tracing::error!(
                "Cannot determine REPLICA IDENTITY information for table {schema}.{table}"
            );
            return Outcome::Failed(format!(
                "Cannot determine REPLICA IDENTITY information for table {schema}.{table}"
            ));
        }
    };
    if current.as_ref().is_some_and(|c| wanted.is(c)) {
        tracing::info!("Replica identity for table '{schema}.{table}' is already {wanted}");
        return Outcome::Already(wanted);
    }
    let sql = match wanted.alter_sql(schema, table) {
        Ok(sql) => sql,
        Err(e) => return Outcome::Failed(e),
    };
    match client.batch_execute(&sql).await {
        Ok(()) => {
            tracing::info!("Replica identity set to {wanted} for table '{schema}.{table}'");
            Outcome::Set(wanted)
        }
        Err(e) => {
            let detail = e
                .as_db_error()
                .map(|d| d.message().to_owned())
                .unwrap_or_else(|| e.to_string());
            if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
                tracing::error!(error = %detail, "Replica identity could not be updated because of lack of privileges");
            } else {
                tracing::error!(error = %detail, "Unexpected error while attempting to alter Replica Identity");
            }
            Outcome::Failed(detail)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_as_debeziums_pattern() {
        let m = ReplicaIdentityMapper::parse(
            "public.orders:FULL, s\\.t.*:INDEX t_uk ,other.x:nothing,a.b:Default",
        )
        .unwrap();
        assert_eq!(m.find("public", "orders"), Ok(Some(&ReplicaIdentity::Full)));
        assert_eq!(
            m.find("s", "tab"),
            Ok(Some(&ReplicaIdentity::Index("t_uk".into())))
        );
        assert_eq!(m.find("OTHER", "X"), Ok(Some(&ReplicaIdentity::Nothing)));
        assert_eq!(m.find("a", "b"), Ok(Some(&ReplicaIdentity::Default)));
        // matched whole
        assert_eq!(m.find("public", "orders2"), Ok(None));
        for bad in [
            "public.t",
            "public.t:PARTIAL",
            "public.t:INDEX",
            "public.t:INDEX a-b",
            "pub lic.t:FULL",
            ":FULL",
        ] {
            let e = ReplicaIdentityMapper::parse(bad).unwrap_err();
            assert_eq!(
                e,
                format!("{bad} has an invalid format (expecting '{ENTRY_PATTERN}')"),
            );
        }
        let e = ReplicaIdentityMapper::parse("a.b:FULL,c.d:WHAT,e:").unwrap_err();
        assert!(
            e.starts_with("c.d:WHAT has an invalid format") && e.contains("; e: has an invalid"),
            "{e}"
        );
        assert_eq!(
            ReplicaIdentityMapper::parse(" ").unwrap_err(),
            "Must not be empty"
        );
    }

    #[test]
    fn two_matching_entries_are_debeziums_error() {
        let m = ReplicaIdentityMapper::parse("public.*:FULL,public.t:DEFAULT").unwrap();
        assert_eq!(
            m.find("public", "t"),
            Err("More than one Regular expressions matched table public.t".into())
        );
        assert_eq!(m.find("public", "u"), Ok(Some(&ReplicaIdentity::Full)));
    }

    #[test]
    fn display_and_sql() {
        let idx = ReplicaIdentity::Index("Uk".into());
        assert_eq!(idx.to_string(), "USING INDEX Uk");
        assert_eq!(
            idx.alter_sql("s", "T").unwrap(),
            "ALTER TABLE \"s\".\"T\" REPLICA IDENTITY USING INDEX \"uk\""
        );
        assert_eq!(
            ReplicaIdentity::Full.alter_sql("public", "t").unwrap(),
            "ALTER TABLE \"public\".\"t\" REPLICA IDENTITY FULL"
        );
        let current = ReplicaIdentity::from_catalog("i", Some("uk".into())).unwrap();
        assert!(idx.is(&current) && !ReplicaIdentity::Full.is(&current));
        assert!(!ReplicaIdentity::Index("other".into()).is(&current));
        assert_eq!(
            ReplicaIdentity::from_catalog("d", None),
            Some(ReplicaIdentity::Default)
        );
        assert_eq!(ReplicaIdentity::from_catalog("x", None), None);
    }
}

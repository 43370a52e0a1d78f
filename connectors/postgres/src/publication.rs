//! The pgoutput publication's SQL, as Debezium's
//! `PostgresReplicationConnection#initPublication` writes it:
//! `publication.autocreate.mode` (`all_tables`, `filtered`, `no_tables`,
//! `disabled`), `publish.via.partition.root` and the `publish` parameter
//! derived from `skipped.operations`.
//!
//! Pure functions: the reader runs the statements they return.

use crate::config::PublicationMode;

/// The `publish` parameter of the publication from `skipped.operations`, as
/// Debezium's `buildPublishOptionValue`: `None` unless the key is set in the
/// configuration (`explicit`) and skips at least one operation; otherwise
/// the operations not skipped, in Debezium's order, joined by `,` (e.g.
/// `insert,update,delete` for `skipped.operations=t`).
pub fn publish_option(explicit: bool, skipped: &[char]) -> Option<String> {
    if !explicit || skipped.is_empty() {
        return None;
    }
    let ops: Vec<&str> = [
        ('c', "insert"),
        ('u', "update"),
        ('d', "delete"),
        ('t', "truncate"),
    ]
    .into_iter()
    .filter(|(op, _)| !skipped.contains(op))
    .map(|(_, name)| name)
    .collect();
    Some(ops.join(","))
}

/// The `WITH` clause of `CREATE PUBLICATION`, as Debezium's
/// `buildWithClause`: `publish_via_partition_root = true` when set, then
/// `publish = '<publish>'` when there is one; empty when neither.
pub fn with_clause(via_root: bool, publish: Option<&str>) -> String {
    let mut options = Vec::new();
    if via_root {
        options.push("publish_via_partition_root = true".to_owned());
    }
    if let Some(p) = publish {
        options.push(format!("publish = '{p}'"));
    }
    if options.is_empty() {
        String::new()
    } else {
        format!(" WITH ({})", options.join(", "))
    }
}

/// What to do about the publication at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicationPlan {
    /// Nothing: it exists and the mode keeps it as it is.
    Keep,
    /// It is missing and `publication.autocreate.mode=disabled`.
    Missing,
    /// Run these statements; the message is Debezium's log line for them.
    Run {
        /// Debezium's log text, e.g. `Creating Publication with statement '…'`.
        log: String,
        /// The statements, in order.
        statements: Vec<String>,
    },
}

/// The publication's statements for `mode`, as Debezium's: `pubname` is
/// the quoted publication name, `tables` the quoted captured tables
/// (`schema.table, …`; only read in `filtered` mode, `None` when no table
/// is captured), `via_root` `publish.via.partition.root`, `publish` from
/// [`publish_option`].
///
/// - missing, `all_tables`: `CREATE PUBLICATION p FOR ALL TABLES<with>`;
/// - missing, `filtered`: `CREATE PUBLICATION p FOR TABLE <tables><with>`;
/// - missing, `no_tables`: `CREATE PUBLICATION p<with>` (tables are added
///   by the user);
/// - existing, `filtered`: `ALTER PUBLICATION p SET TABLE <tables>`, then,
///   when `publish` is set, `ALTER PUBLICATION p SET (publish = '…')`.
///   Debezium appends ` WITH (publish = …)` to the `ALTER … SET TABLE`
///   statement, which PostgreSQL refuses as a syntax error; the second
///   statement sets what it means to set.
/// - existing, other modes: kept as it is.
///
/// `Err` is Debezium's text when `filtered` has no table to publish.
pub fn plan(
    mode: PublicationMode,
    exists: bool,
    pubname: &str,
    tables: Option<&str>,
    via_root: bool,
    publish: Option<&str>,
) -> Result<PublicationPlan, String> {
    let no_tables = || format!("No table filters found for filtered publication {pubname}");
    let with = with_clause(via_root, publish);
    let (log, statements) = match (exists, mode) {
        (false, PublicationMode::Disabled) => return Ok(PublicationPlan::Missing),
        (false, PublicationMode::AllTables) => (
            "Creating Publication with statement",
            vec![format!("CREATE PUBLICATION {pubname} FOR ALL TABLES{with}")],
        ),
        (false, PublicationMode::NoTables) => (
            "Creating publication with statement",
            vec![format!("CREATE PUBLICATION {pubname}{with}")],
        ),
        (false, PublicationMode::Filtered) => (
            "Creating Publication with statement",
            vec![format!(
                "CREATE PUBLICATION {pubname} FOR TABLE {}{with}",
                tables.ok_or_else(no_tables)?
            )],
        ),
        (true, PublicationMode::Filtered) => {
            let mut statements = vec![format!(
                "ALTER PUBLICATION {pubname} SET TABLE {}",
                tables.ok_or_else(no_tables)?
            )];
            if let Some(p) = publish {
                statements.push(format!("ALTER PUBLICATION {pubname} SET (publish = '{p}')"));
            }
            ("Updating Publication with statement", statements)
        }
        (true, _) => return Ok(PublicationPlan::Keep),
    };
    Ok(PublicationPlan::Run {
        log: format!("{log} '{}'", statements.join("; ")),
        statements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_lists_the_operations_not_skipped_only_when_the_key_is_set() {
        // Debezium's default ("t") is not a reason to restrict the publication
        assert_eq!(publish_option(false, &['t']), None);
        assert_eq!(
            publish_option(true, &['t']).as_deref(),
            Some("insert,update,delete")
        );
        assert_eq!(
            publish_option(true, &['d', 'c']).as_deref(),
            Some("update,truncate")
        );
        // skipped.operations=none skips nothing
        assert_eq!(publish_option(true, &[]), None);
        assert_eq!(
            publish_option(true, &['c', 'u', 'd', 't']).as_deref(),
            Some("")
        );
    }

    #[test]
    fn with_clause_is_debeziums() {
        assert_eq!(with_clause(false, None), "");
        assert_eq!(
            with_clause(true, None),
            " WITH (publish_via_partition_root = true)"
        );
        assert_eq!(
            with_clause(false, Some("insert,update")),
            " WITH (publish = 'insert,update')"
        );
        assert_eq!(
            with_clause(true, Some("insert")),
            " WITH (publish_via_partition_root = true, publish = 'insert')"
        );
    }

    fn run(p: Result<PublicationPlan, String>) -> (String, Vec<String>) {
        match p.unwrap() {
            PublicationPlan::Run { log, statements } => (log, statements),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn statements_follow_the_mode() {
        use PublicationMode::*;
        let t = Some("\"s\".\"a\", \"s\".\"b\"");
        let (log, s) = run(plan(NoTables, false, "p", None, false, Some("insert")));
        assert_eq!(s, ["CREATE PUBLICATION p WITH (publish = 'insert')"]);
        assert_eq!(
            log,
            "Creating publication with statement 'CREATE PUBLICATION p WITH (publish = 'insert')'"
        );
        let (_, s) = run(plan(NoTables, false, "p", None, false, None));
        assert_eq!(s, ["CREATE PUBLICATION p"]);
        let (_, s) = run(plan(AllTables, false, "p", t, true, None));
        assert_eq!(
            s,
            ["CREATE PUBLICATION p FOR ALL TABLES WITH (publish_via_partition_root = true)"]
        );
        let (log, s) = run(plan(Filtered, false, "p", t, false, Some("update")));
        assert_eq!(
            s,
            ["CREATE PUBLICATION p FOR TABLE \"s\".\"a\", \"s\".\"b\" WITH (publish = 'update')"]
        );
        assert!(log.starts_with("Creating Publication with statement 'CREATE"));
        let (log, s) = run(plan(Filtered, true, "p", t, true, Some("update")));
        assert_eq!(
            s,
            [
                "ALTER PUBLICATION p SET TABLE \"s\".\"a\", \"s\".\"b\"",
                "ALTER PUBLICATION p SET (publish = 'update')"
            ]
        );
        assert!(log.starts_with("Updating Publication with statement"));
        let (_, s) = run(plan(Filtered, true, "p", t, false, None));
        assert_eq!(s.len(), 1);
        for mode in [AllTables, NoTables, Disabled] {
            assert_eq!(
                plan(mode, true, "p", t, false, Some("insert")),
                Ok(PublicationPlan::Keep)
            );
        }
        assert_eq!(
            plan(Disabled, false, "p", t, false, None),
            Ok(PublicationPlan::Missing)
        );
        assert_eq!(
            plan(Filtered, false, "p", None, false, None),
            Err("No table filters found for filtered publication p".into())
        );
    }
}

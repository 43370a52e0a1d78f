//! Table metadata read from the PostgreSQL system catalog.
//!
//! The connector needs, for every captured table, its columns (name, type,
//! type modifier, nullability, default expression), its primary key and its
//! replica identity, plus a resolved description of every column type
//! (domains unwrapped to their base type, arrays to their element type, enum
//! labels). This module reads all of that with a handful of queries through
//! tokio-postgres's ordinary query API, whatever the number of tables:
//! one query for the tables, one for all their columns, one for their key
//! indexes, and one per level of type nesting (usually one or two) for types.

use std::collections::{HashMap, HashSet};

use tokio_postgres::Client;

/// What kind of PostgreSQL type a [`PgType`] is (`pg_type.typtype`, refined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// A base (scalar) type such as `int4`, `text`, `hstore`.
    Base,
    /// An enum type, with its labels in `enumsortorder` order.
    Enum {
        /// The labels, in sort order.
        labels: Vec<String>,
    },
    /// A domain over `base`, with the domain's own type modifier.
    Domain {
        /// The (fully resolved) underlying type.
        base: Box<PgType>,
        /// `pg_type.typtypmod` of the domain (`-1` when none).
        base_typmod: i32,
    },
    /// An array whose elements are `elem`.
    Array {
        /// The (fully resolved) element type.
        elem: Box<PgType>,
    },
    /// A range type.
    Range,
    /// A composite (row) type.
    Composite,
    /// Anything else (pseudo types, multiranges, ...).
    Other,
}

/// A PostgreSQL type, resolved recursively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgType {
    /// `pg_type.oid`.
    pub oid: u32,
    /// Schema (namespace) of the type, e.g. `pg_catalog` or `public`.
    pub schema: String,
    /// `pg_type.typname`, e.g. `int4`, `_text`, `hstore`.
    pub name: String,
    /// What kind of type this is.
    pub kind: TypeKind,
}

impl PgType {
    /// True for a type defined in `pg_catalog` called `name`.
    pub fn is_builtin(&self, name: &str) -> bool {
        self.schema == "pg_catalog" && self.name == name
    }
}

/// `pg_class.relreplident`: what the old tuple of UPDATE/DELETE carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaIdentity {
    /// The primary key columns (`d`).
    Default,
    /// All columns (`f`).
    Full,
    /// The columns of a chosen unique index (`i`).
    Index,
    /// Nothing (`n`).
    Nothing,
}

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// `pg_attribute.attnum` (1-based; dropped columns are excluded).
    pub attnum: i16,
    /// The column's type, resolved.
    pub pg_type: PgType,
    /// `pg_attribute.atttypmod` (`-1` when none).
    pub typmod: i32,
    /// `pg_attribute.attnotnull`.
    pub not_null: bool,
    /// `pg_get_expr(adbin, adrelid)` of the column default; `None` when the
    /// column has no default or is a generated column.
    pub default_expr: Option<String>,
}

/// A table (ordinary or partitioned) with its columns and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// `pg_class.oid`.
    pub oid: u32,
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Live columns in `attnum` order.
    pub columns: Vec<Column>,
    /// Key columns: the primary key in constraint order; when the table has
    /// no primary key but `REPLICA IDENTITY USING INDEX`, that index's key
    /// columns in index order; otherwise empty (the record key is null).
    pub primary_key: Vec<String>,
    /// The table's replica identity.
    pub replica_identity: ReplicaIdentity,
}

impl Table {
    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Errors reading the catalog.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A catalog query failed.
    #[error("catalog query failed: {0}")]
    Query(#[from] tokio_postgres::Error),
    /// The table with this oid does not exist (or is not a table).
    #[error("table with oid {0} not found")]
    TableNotFound(u32),
    /// The type with this oid does not exist.
    #[error("type with oid {0} not found")]
    TypeNotFound(u32),
    /// The catalog returned something this module cannot interpret.
    #[error("unexpected catalog content: {0}")]
    Unexpected(String),
}

/// Lists the ordinary and partitioned tables of the database, excluding the
/// `pg_catalog`, `information_schema` and `pg_toast` schemas (and temporary
/// tables), ordered by schema and name.
pub async fn list_tables(client: &Client) -> Result<Vec<(u32, String, String)>, CatalogError> {
    let rows = client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text \
             FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
               AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%' \
             ORDER BY n.nspname, c.relname",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// The parent of every partition in the database (`pg_inherits` rows of
/// tables with `relispartition`): partition oid → parent oid. A partition
/// of a partition has its partitioned parent, which has its own parent.
pub async fn partition_parents(client: &Client) -> Result<HashMap<u32, u32>, CatalogError> {
    let rows = client
        .query(
            "SELECT i.inhrelid, i.inhparent \
             FROM pg_catalog.pg_inherits i \
             JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid \
             WHERE c.relispartition",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// Splits `tables` (as [`list_tables`] returns them) into those whose rows
/// no other table of the list covers, in their order, and the
/// `schema.table` names of the partitions that have an ancestor (at any
/// depth, along `parents` from [`partition_parents`]) in the list: with
/// `publish_via_partition_root` their changes are published as that
/// ancestor's, and reading the ancestor reads their rows.
pub fn split_covered_partitions(
    tables: Vec<(u32, String, String)>,
    parents: &HashMap<u32, u32>,
) -> (Vec<(u32, String, String)>, Vec<String>) {
    let listed: HashSet<u32> = tables.iter().map(|(oid, _, _)| *oid).collect();
    let covered = |oid: u32| {
        let mut at = oid;
        // a depth bound guards against a cycle in inconsistent input
        for _ in 0..64 {
            match parents.get(&at) {
                Some(&parent) if listed.contains(&parent) => return true,
                Some(&parent) => at = parent,
                None => return false,
            }
        }
        false
    };
    let (mut kept, mut dropped) = (Vec::new(), Vec::new());
    for t in tables {
        if covered(t.0) {
            dropped.push(format!("{}.{}", t.1, t.2));
        } else {
            kept.push(t);
        }
    }
    (kept, dropped)
}

/// Loads one table. Fails with [`CatalogError::TableNotFound`] when `oid`
/// is not a table.
pub async fn load_table(client: &Client, oid: u32) -> Result<Table, CatalogError> {
    let mut tables = load_tables(client, &[oid]).await?;
    tables.pop().ok_or(CatalogError::TableNotFound(oid))
}

/// Loads several tables in a few round trips, returned in the order of
/// `oids`. Fails with [`CatalogError::TableNotFound`] naming the first oid
/// that is not a table.
pub async fn load_tables(client: &Client, oids: &[u32]) -> Result<Vec<Table>, CatalogError> {
    if oids.is_empty() {
        return Ok(Vec::new());
    }
    let oid_list: Vec<u32> = oids.to_vec();

    // 1. The tables themselves.
    let rows = client
        .query(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relreplident \
             FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = ANY($1::oid[]) AND c.relkind IN ('r', 'p')",
            &[&oid_list],
        )
        .await?;
    let mut heads: HashMap<u32, (String, String, ReplicaIdentity)> = HashMap::new();
    for r in &rows {
        let oid: u32 = r.try_get(0)?;
        let ident: i8 = r.try_get(3)?;
        let ident = match ident as u8 {
            b'd' => ReplicaIdentity::Default,
            b'f' => ReplicaIdentity::Full,
            b'i' => ReplicaIdentity::Index,
            b'n' => ReplicaIdentity::Nothing,
            other => {
                return Err(CatalogError::Unexpected(format!(
                    "relreplident '{}' of table {oid}",
                    other as char
                )))
            }
        };
        heads.insert(oid, (r.try_get(1)?, r.try_get(2)?, ident));
    }
    if let Some(missing) = oids.iter().find(|o| !heads.contains_key(o)) {
        return Err(CatalogError::TableNotFound(*missing));
    }

    // 2. All their columns. Generated columns carry their generation
    // expression in pg_attrdef; that is not a default.
    let rows = client
        .query(
            "SELECT a.attrelid, a.attname::text, a.attnum, a.atttypid, a.atttypmod, a.attnotnull, \
                    CASE WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(d.adbin, d.adrelid) END \
             FROM pg_catalog.pg_attribute a \
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
             WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped \
             ORDER BY a.attrelid, a.attnum",
            &[&oid_list],
        )
        .await?;
    struct RawColumn {
        rel: u32,
        name: String,
        attnum: i16,
        type_oid: u32,
        typmod: i32,
        not_null: bool,
        default_expr: Option<String>,
    }
    let mut raw = Vec::with_capacity(rows.len());
    for r in &rows {
        raw.push(RawColumn {
            rel: r.try_get(0)?,
            name: r.try_get(1)?,
            attnum: r.try_get(2)?,
            type_oid: r.try_get(3)?,
            typmod: r.try_get(4)?,
            not_null: r.try_get(5)?,
            default_expr: r.try_get(6)?,
        });
    }

    // 3. Key columns: primary key and replica identity index, in index order
    // (INCLUDE columns excluded).
    let rows = client
        .query(
            "SELECT i.indrelid, i.indisprimary, a.attname::text \
             FROM pg_catalog.pg_index i \
             CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord) \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
             WHERE i.indrelid = ANY($1::oid[]) AND (i.indisprimary OR i.indisreplident) \
               AND k.ord <= i.indnkeyatts \
             ORDER BY i.indrelid, i.indisprimary DESC, k.ord",
            &[&oid_list],
        )
        .await?;
    let mut pk: HashMap<u32, Vec<String>> = HashMap::new();
    let mut ri_index: HashMap<u32, Vec<String>> = HashMap::new();
    for r in &rows {
        let rel: u32 = r.try_get(0)?;
        let primary: bool = r.try_get(1)?;
        let name: String = r.try_get(2)?;
        if primary {
            pk.entry(rel).or_default().push(name);
        } else {
            ri_index.entry(rel).or_default().push(name);
        }
    }

    // 4. Types.
    let type_oids: Vec<u32> = raw.iter().map(|c| c.type_oid).collect();
    let types = load_types(client, &type_oids).await?;

    let mut columns: HashMap<u32, Vec<Column>> = HashMap::new();
    for c in raw {
        let pg_type = types
            .get(&c.type_oid)
            .cloned()
            .ok_or(CatalogError::TypeNotFound(c.type_oid))?;
        columns.entry(c.rel).or_default().push(Column {
            name: c.name,
            attnum: c.attnum,
            pg_type,
            typmod: c.typmod,
            not_null: c.not_null,
            default_expr: c.default_expr,
        });
    }

    let mut out = Vec::with_capacity(oids.len());
    for oid in oids {
        let (schema, name, replica_identity) = heads
            .get(oid)
            .cloned()
            .ok_or(CatalogError::TableNotFound(*oid))?;
        let primary_key = match pk.get(oid) {
            Some(k) => k.clone(),
            None if replica_identity == ReplicaIdentity::Index => {
                ri_index.get(oid).cloned().unwrap_or_default()
            }
            None => Vec::new(),
        };
        out.push(Table {
            oid: *oid,
            schema,
            name,
            columns: columns.get(oid).cloned().unwrap_or_default(),
            primary_key,
            replica_identity,
        });
    }
    Ok(out)
}

/// Loads one type, resolving domains, arrays and enums recursively (for
/// pgoutput `Type` messages and oids not seen in a table).
pub async fn load_type(client: &Client, oid: u32) -> Result<PgType, CatalogError> {
    let types = load_types(client, &[oid]).await?;
    types
        .get(&oid)
        .cloned()
        .ok_or(CatalogError::TypeNotFound(oid))
}

/// One `pg_type` row, before resolution.
struct RawType {
    schema: String,
    name: String,
    typtype: u8,
    /// Element type of a true array (`typcategory = 'A'`), else 0.
    elem: u32,
    /// Base type of a domain, else 0.
    base: u32,
    typmod: i32,
}

/// Loads `oids` and every type they reference, one query per nesting level
/// plus one for enum labels, and returns them all resolved.
pub async fn load_types(
    client: &Client,
    oids: &[u32],
) -> Result<HashMap<u32, PgType>, CatalogError> {
    let mut raw: HashMap<u32, RawType> = HashMap::new();
    let mut pending: Vec<u32> = {
        let mut seen = HashSet::new();
        oids.iter().copied().filter(|o| seen.insert(*o)).collect()
    };
    while !pending.is_empty() {
        let rows = client
            .query(
                "SELECT t.oid, n.nspname::text, t.typname::text, t.typtype, \
                        CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE 0::oid END, \
                        t.typbasetype, t.typtypmod \
                 FROM pg_catalog.pg_type t \
                 JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace \
                 WHERE t.oid = ANY($1::oid[])",
                &[&pending],
            )
            .await?;
        let mut next = Vec::new();
        for r in &rows {
            let oid: u32 = r.try_get(0)?;
            let typtype: i8 = r.try_get(3)?;
            let t = RawType {
                schema: r.try_get(1)?,
                name: r.try_get(2)?,
                typtype: typtype as u8,
                elem: r.try_get(4)?,
                base: r.try_get(5)?,
                typmod: r.try_get(6)?,
            };
            for dep in [t.elem, t.base] {
                if dep != 0 && !raw.contains_key(&dep) && !next.contains(&dep) && dep != oid {
                    next.push(dep);
                }
            }
            raw.insert(oid, t);
        }
        if let Some(missing) = pending.iter().find(|o| !raw.contains_key(o)) {
            return Err(CatalogError::TypeNotFound(*missing));
        }
        next.retain(|o| !raw.contains_key(o));
        pending = next;
    }

    let enum_oids: Vec<u32> = raw
        .iter()
        .filter(|(_, t)| t.typtype == b'e')
        .map(|(o, _)| *o)
        .collect();
    let mut labels: HashMap<u32, Vec<String>> = HashMap::new();
    if !enum_oids.is_empty() {
        let rows = client
            .query(
                "SELECT enumtypid, enumlabel::text FROM pg_catalog.pg_enum \
                 WHERE enumtypid = ANY($1::oid[]) ORDER BY enumtypid, enumsortorder",
                &[&enum_oids],
            )
            .await?;
        for r in &rows {
            labels.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
        }
    }

    let mut out = HashMap::new();
    for oid in raw.keys() {
        let t = resolve(*oid, &raw, &labels, 0)?;
        out.insert(*oid, t);
    }
    Ok(out)
}

fn resolve(
    oid: u32,
    raw: &HashMap<u32, RawType>,
    labels: &HashMap<u32, Vec<String>>,
    depth: usize,
) -> Result<PgType, CatalogError> {
    if depth > 32 {
        return Err(CatalogError::Unexpected(format!(
            "type {oid} nests too deeply"
        )));
    }
    let t = raw.get(&oid).ok_or(CatalogError::TypeNotFound(oid))?;
    let kind = match t.typtype {
        b'd' => TypeKind::Domain {
            base: Box::new(resolve(t.base, raw, labels, depth + 1)?),
            base_typmod: t.typmod,
        },
        b'e' => TypeKind::Enum {
            labels: labels.get(&oid).cloned().unwrap_or_default(),
        },
        b'r' => TypeKind::Range,
        b'c' => TypeKind::Composite,
        b'b' if t.elem != 0 => TypeKind::Array {
            elem: Box::new(resolve(t.elem, raw, labels, depth + 1)?),
        },
        b'b' => TypeKind::Base,
        _ => TypeKind::Other,
    };
    Ok(PgType {
        oid,
        schema: t.schema.clone(),
        name: t.name.clone(),
        kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_covered_by_a_listed_ancestor_are_split_off() {
        let t = |oid: u32, name: &str| (oid, "tms".to_string(), name.to_string());
        // 1 = reading (partitioned): 2 = reading_north, 3 = reading_south
        // (itself partitioned: 4 = reading_south_old); 5 = site; 7 = other_p
        // partition of 6, which is not listed
        let parents: HashMap<u32, u32> = [(2, 1), (3, 1), (4, 3), (7, 6)].into_iter().collect();
        let tables = vec![
            t(1, "reading"),
            t(2, "reading_north"),
            t(3, "reading_south"),
            t(4, "reading_south_old"),
            t(5, "site"),
            t(7, "other_p"),
        ];
        let (kept, covered) = split_covered_partitions(tables.clone(), &parents);
        assert_eq!(kept, vec![t(1, "reading"), t(5, "site"), t(7, "other_p")]);
        assert_eq!(
            covered,
            [
                "tms.reading_north",
                "tms.reading_south",
                "tms.reading_south_old"
            ]
        );
        // the root filtered out: the middle level covers its own partition
        let (kept, covered) = split_covered_partitions(tables[1..].to_vec(), &parents);
        assert_eq!(
            kept,
            vec![
                t(2, "reading_north"),
                t(3, "reading_south"),
                t(5, "site"),
                t(7, "other_p")
            ]
        );
        assert_eq!(covered, ["tms.reading_south_old"]);
        // no partitions: nothing changes
        let (kept, covered) = split_covered_partitions(tables.clone(), &HashMap::new());
        assert_eq!((kept, covered.len()), (tables, 0));
    }
}

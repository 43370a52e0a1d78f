//! The domain pipeline: three transforms that turn Debezium change events
//! into domain events by configuration alone, run in this order in a
//! source connector's chain:
//!
//! 1. [`cast`] (`io.velocity.transforms.domain.Cast`, alias `domain-cast`):
//!    a change event → a [`CHANGE_SCHEMA_NAME`] struct: operation,
//!    transaction id, table, key and the typed flat row;
//! 2. [`filter`] (`io.velocity.transforms.domain.NetChangeFilter`, alias
//!    `domain-filter`): per transaction, the net effect per key (stateful:
//!    it holds a transaction's changes until the source reports the
//!    transaction's end, see [`velocity_api::Transform::on_transaction_end`]);
//! 3. [`map`] (`io.velocity.transforms.domain.Map`, alias `domain-map`):
//!    the change → a domain event (selected, renamed, nested and computed
//!    fields, an envelope with an event type derived from the operation),
//!    routed to a domain topic. Expressions: [`expr`].
//!
//! Optionally, between filter and map, [`business`]
//! (`io.velocity.transforms.domain.BusinessEvents`, alias
//! `domain-business`) emits business events (e.g. `ShipmentStatusChanged`)
//! on a business topic when a condition on the net change holds.
//!
//! Records that are not change events (heartbeats, transaction metadata,
//! tombstones) are dropped by `cast` unless `non.change.records=pass`; the
//! filter and map pass them through unchanged.

pub mod business;
pub mod cast;
pub mod expr;
pub mod filter;
pub mod map;

use velocity_api::config::ConfigReader;
use velocity_api::{PluginDesc, PluginKind, Struct, Value};

use expr::{parse, Expr};
use velocity_api::config::ConfigExt;

/// An output field: its nesting path (the dotted name split) and expression.
pub type OutField = (Vec<String>, Expr);

/// The expression `src` of key `key`, or None after recording on `r` why it
/// does not parse.
pub(crate) fn expr_at(r: &mut ConfigReader<'_>, key: &str, src: &str) -> Option<Expr> {
    parse(src)
        .map_err(|e| r.fail(key, format!("'{src}': {e}")))
        .ok()
}

/// The output fields `names` (listed under `list_key`), each with its
/// expression from the undeclared key `field_key(name)`, by default the
/// column of that name; broken names and expressions are recorded on `r`.
pub(crate) fn out_fields(
    r: &mut ConfigReader<'_>,
    list_key: &str,
    names: Vec<String>,
    field_key: impl Fn(&str) -> String,
) -> Vec<OutField> {
    let mut out = Vec::new();
    for name in names {
        let path: Vec<String> = name.split('.').map(str::to_owned).collect();
        if path.iter().any(String::is_empty) {
            r.fail(list_key, format!("'{name}' is not a field name"));
            continue;
        }
        let key = field_key(&name);
        let src = r.raw().opt_str(&key).unwrap_or(&name).to_owned();
        if let Some(e) = expr_at(r, &key, &src) {
            out.push((path, e));
        }
    }
    out
}

/// The optional expression of key `key` (absent or blank: None).
pub(crate) fn opt_expr(r: &mut ConfigReader<'_>, key: &str) -> Option<Expr> {
    let src = r.raw().opt_str(key)?;
    expr_at(r, key, src)
}

/// Schema name of the records `cast` produces and `filter`/`map` consume.
pub const CHANGE_SCHEMA_NAME: &str = "io.velocity.domain.Change";

/// The change struct of a cast record, or None for other records.
pub fn change_of(value: &Value) -> Option<&Struct> {
    value
        .as_struct()
        .filter(|s| s.schema.name.as_deref() == Some(CHANGE_SCHEMA_NAME))
}

/// The operation letter of a change struct (`c`, `u`, `d`, `r`).
pub fn op_of(change: &Struct) -> Option<&str> {
    change.get("op").and_then(Value::as_str)
}

/// The plugins of the domain pipeline.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        PluginDesc {
            class: "io.velocity.transforms.domain.Cast",
            aliases: &["domain-cast"],
            version: crate::VERSION,
            config_def: cast::Cast::def,
            kind: PluginKind::Transform(|| Box::<cast::Cast>::default()),
        },
        PluginDesc {
            class: "io.velocity.transforms.domain.NetChangeFilter",
            aliases: &["domain-filter"],
            version: crate::VERSION,
            config_def: filter::NetChangeFilter::def,
            kind: PluginKind::Transform(|| Box::<filter::NetChangeFilter>::default()),
        },
        PluginDesc {
            class: "io.velocity.transforms.domain.BusinessEvents",
            aliases: &["domain-business"],
            version: crate::VERSION,
            config_def: business::BusinessEvents::def,
            kind: PluginKind::Transform(|| Box::<business::BusinessEvents>::default()),
        },
        PluginDesc {
            class: "io.velocity.transforms.domain.Map",
            aliases: &["domain-map"],
            version: crate::VERSION,
            config_def: map::Map::def,
            kind: PluginKind::Transform(|| Box::<map::Map>::default()),
        },
    ]
}

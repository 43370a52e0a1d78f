//! Single message transforms (Kafka Connect's `Transformation`) and the
//! predicates that make a transform conditional (Kafka Connect's `Predicate`).

use crate::config::{ConfigDef, RawConfig};
use crate::error::Result;
use crate::record::ConnectRecord;

/// Rewrites, reroutes or drops one record at a time.
///
/// Transforms run in the order listed in `transforms=`; on the source side
/// before conversion, on the sink side after it. They must be deterministic:
/// a record delivered twice (at-least-once) must transform the same way.
pub trait Transform: Send {
    /// Configures the transform with its keys, the `transforms.<alias>.`
    /// prefix already removed. Errors name the key with that prefix removed.
    fn configure(&mut self, config: &RawConfig) -> Result<()>;

    /// Applies the transform; `Ok(None)` drops the record.
    fn apply(&mut self, record: ConnectRecord) -> Result<Option<ConnectRecord>>;

    /// The keys this transform understands.
    fn config_def(&self) -> ConfigDef {
        ConfigDef::default()
    }

    /// Applies the transform to one record, pushing zero or more outputs to
    /// `out` in order. Stateful transforms (e.g. one that collapses a
    /// transaction) override this and may keep the record instead of
    /// emitting it, or emit records they held earlier; the default calls
    /// [`Transform::apply`]. The runtime always calls this method, never
    /// `apply` directly.
    fn apply_many(&mut self, record: ConnectRecord, out: &mut Vec<ConnectRecord>) -> Result<()> {
        if let Some(r) = self.apply(record)? {
            out.push(r);
        }
        Ok(())
    }

    /// The source transaction whose records were passed to `apply_many`
    /// has ended: push whatever is still held for it to `out`, in order.
    /// Called only on the source side, when the source emits a
    /// transaction-end marker ([`crate::SourceRecord::transaction_end`]).
    fn on_transaction_end(&mut self, _out: &mut Vec<ConnectRecord>) -> Result<()> {
        Ok(())
    }

    /// True while the transform holds input records it has not emitted (or
    /// dropped) yet. While any transform of a chain holds records, the
    /// source runtime stores no offset beyond the first held record, so a
    /// restart replays every held record. Default: false (stateless).
    fn holds_records(&self) -> bool {
        false
    }

    /// True when [`Transform::holds_records`] can ever become true for this
    /// transform (it keeps records across calls until a transaction ends).
    /// Such a transform needs a source connector's chain (transaction ends,
    /// offsets staged behind held records); the runtime rejects it in a
    /// sink connector's chain at config validation, because a sink commits
    /// the consumer offsets of records the transform still holds. Default:
    /// false.
    fn is_stateful(&self) -> bool {
        false
    }
}

/// A condition on a record, used to apply a transform only to some records
/// (`transforms.<alias>.predicate=<p>`, `predicates.<p>.type=…`).
///
/// A predicate is configured once and then tested against every record that
/// reaches the transform it guards; with `transforms.<alias>.negate=true` the
/// transform runs when the predicate is false. Like transforms, predicates
/// must be deterministic.
pub trait Predicate: Send {
    /// Configures the predicate with its keys, the `predicates.<alias>.`
    /// prefix already removed. Errors name the key with that prefix removed.
    fn configure(&mut self, config: &RawConfig) -> Result<()>;

    /// True when the record matches.
    fn test(&self, record: &ConnectRecord) -> bool;

    /// The keys this predicate understands.
    fn config_def(&self) -> ConfigDef {
        ConfigDef::default()
    }
}

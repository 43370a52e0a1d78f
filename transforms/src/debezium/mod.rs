//! Debezium's SMTs: `ExtractNewRecordState` (unwrap the change event
//! envelope), `ByLogicalTableRouter` (merge physical tables into a logical
//! topic), `HeaderToValue` (headers into value fields) and the outbox
//! `EventRouter`.

pub mod by_logical_table_router;
pub mod extract_new_record_state;
pub mod header_to_value;
pub mod outbox;

use velocity_api::PluginDesc;

/// Suffix of Debezium's envelope schema names (`<topic>.Envelope`).
pub const ENVELOPE_SUFFIX: &str = ".Envelope";

/// True when `schema` is a Debezium change event envelope.
pub fn is_envelope(schema: Option<&velocity_api::SchemaRef>) -> bool {
    schema.is_some_and(|s| {
        s.name
            .as_deref()
            .is_some_and(|n| n.ends_with(ENVELOPE_SUFFIX))
    })
}

/// The Debezium transform plugins.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        crate::transform(
            "io.debezium.transforms.ExtractNewRecordState",
            extract_new_record_state::ExtractNewRecordState::def,
            || Box::<extract_new_record_state::ExtractNewRecordState>::default(),
        ),
        crate::transform(
            "io.debezium.transforms.ByLogicalTableRouter",
            by_logical_table_router::ByLogicalTableRouter::def,
            || Box::<by_logical_table_router::ByLogicalTableRouter>::default(),
        ),
        crate::transform(
            "io.debezium.transforms.HeaderToValue",
            header_to_value::HeaderToValue::def,
            || Box::<header_to_value::HeaderToValue>::default(),
        ),
        crate::transform(
            "io.debezium.transforms.outbox.EventRouter",
            outbox::EventRouter::def,
            || Box::<outbox::EventRouter>::default(),
        ),
    ]
}

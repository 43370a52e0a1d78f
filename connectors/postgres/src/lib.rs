//! PostgreSQL source connector.
pub mod protocol;

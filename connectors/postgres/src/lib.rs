//! PostgreSQL source connector.

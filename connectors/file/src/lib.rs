//! FileStream connectors.

//! The one explicit list of plugins this binary ships. Adding a connector or
//! transform to Velocity means adding it here; nothing is discovered at run
//! time.

use velocity_api::PluginRegistry;

/// Every built-in plugin.
pub fn registry() -> PluginRegistry {
    let mut r = PluginRegistry::new();
    for p in velocity_connector_file::plugins() {
        r = r.register(p);
    }
    r.register(velocity_connector_postgres::plugin())
}

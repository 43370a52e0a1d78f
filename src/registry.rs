//! The one explicit list of plugins this binary ships. Adding a connector or
//! transform to Velocity means adding it here; nothing is discovered at run
//! time.

use velocity_api::PluginRegistry;

/// Every built-in plugin.
pub fn registry() -> PluginRegistry {
    let mut r = PluginRegistry::new().register(velocity_connector_postgres::plugin());
    let groups = [
        velocity_connector_mysql::plugins(),
        velocity_connector_jdbc::plugins(),
        velocity_connector_jdbc_source::plugins(),
        velocity_connector_redis::plugins(),
        velocity_connector_materialize::plugins(),
        velocity_connector_file::plugins(),
        velocity_transforms::plugins(),
        velocity_runtime::converters::plugins(),
        vec![velocity_converter_avro::plugin()],
    ];
    for p in groups.into_iter().flatten() {
        r = r.register(p);
    }
    r
}

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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::registry;

    /// Every name a config can use for a plugin (its class, an alias, its
    /// simple class name) finds that plugin: no two plugins claim one name,
    /// so no registration hides another.
    #[test]
    fn plugin_names_and_aliases_are_unique() {
        let r = registry();
        let mut owner: HashMap<&str, &str> = HashMap::new();
        let mut clashes = Vec::new();
        for p in r.all() {
            let simple = p.class.rsplit('.').next().unwrap_or(p.class);
            let mut names = vec![p.class, simple];
            names.extend(p.aliases.iter().copied());
            names.sort_unstable();
            names.dedup();
            for n in names {
                if let Some(other) = owner.insert(n, p.class) {
                    clashes.push(format!("{n}: {other} and {}", p.class));
                }
            }
            for n in [p.class, simple].iter().chain(p.aliases) {
                assert_eq!(
                    r.find(n).map(|f| f.class),
                    Some(p.class),
                    "{n} does not find {}",
                    p.class
                );
            }
        }
        assert!(clashes.is_empty(), "names claimed twice: {clashes:#?}");
        assert!(r.all().len() > 40, "{} plugins", r.all().len());
    }
}

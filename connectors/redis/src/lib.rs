//! A Redis sink (`io.velocity.connector.redis.RedisSinkConnector`, alias
//! `redis`; also found as Debezium Server's `RedisStreamChangeConsumer`).
//!
//! `redis.mode=kv` (default) keeps one Redis key per record key
//! (`redis.key.template`, default `${topic}:${key}`) holding the row as a
//! JSON string or a hash; Debezium envelopes write `after` and delete on
//! `op=d` and tombstones. `redis.mode=stream` appends every record to a
//! stream named after the topic (`XADD`), as Debezium Server's Redis sink
//! does. Each batch is one pipelined `MULTI`/`EXEC` transaction.

pub mod config;
pub mod connector;
pub mod error;
pub mod render;
pub mod task;

use velocity_api::{PluginDesc, PluginKind};

pub use config::RedisSinkConfig;
pub use connector::RedisSinkConnector;
pub use error::RedisSinkError;
pub use task::{RedisSinkTask, RedisWriter};

/// Class name of the connector.
pub const CLASS: &str = "io.velocity.connector.redis.RedisSinkConnector";

/// The sink plugin: class [`CLASS`], aliases `redis`, `RedisSink` and Debezium
/// Server's `io.debezium.server.redis.RedisStreamChangeConsumer`.
pub fn plugin() -> PluginDesc {
    PluginDesc {
        class: CLASS,
        aliases: &[
            "redis",
            "RedisSink",
            "io.debezium.server.redis.RedisStreamChangeConsumer",
        ],
        version: env!("CARGO_PKG_VERSION"),
        config_def: <RedisSinkConfig as velocity_api::TypedConfig>::config_def,
        kind: PluginKind::Sink {
            connector: || Box::new(RedisSinkConnector::default()),
            task: || Box::new(RedisSinkTask::default()),
        },
    }
}

/// The plugins of this crate, for the binary's registry.
pub fn plugins() -> Vec<PluginDesc> {
    vec![plugin()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::PluginRegistry;

    #[test]
    fn registry_finds_it() {
        let reg = plugins()
            .into_iter()
            .fold(PluginRegistry::new(), PluginRegistry::register);
        for n in [
            CLASS,
            "redis",
            "RedisSinkConnector",
            "io.debezium.server.redis.RedisStreamChangeConsumer",
        ] {
            assert_eq!(reg.find(n).unwrap().kind.type_name(), "sink", "{n}");
        }
        assert!((reg.find("redis").unwrap().config_def)().is_secret("redis.password"));
    }
}

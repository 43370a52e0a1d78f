//! Kafka's `Filter` transform: drops every record it is applied to; used
//! with a predicate (`transforms.f.predicate=…`) to drop only some records.

use velocity_api::{ConfigDef, ConnectRecord, PluginDesc, RawConfig, Result, Transform};

/// `org.apache.kafka.connect.transforms.Filter`: drops the record.
#[derive(Default)]
pub struct Filter;

impl Transform for Filter {
    fn configure(&mut self, _config: &RawConfig) -> Result<()> {
        Ok(())
    }

    fn apply(&mut self, _record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        Ok(None)
    }
}

/// The `Filter` plugin.
pub fn plugins() -> Vec<PluginDesc> {
    vec![crate::transform(
        "org.apache.kafka.connect.transforms.Filter",
        ConfigDef::default,
        || Box::new(Filter),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use velocity_api::Value;

    #[test]
    fn drops_everything() {
        let mut f = Filter;
        f.configure(&RawConfig::new()).unwrap();
        let r = ConnectRecord::new("t", None, Value::Null, None, Value::from("v"));
        assert!(f.apply(r).unwrap().is_none());
    }
}

//! The jdbc connector (work in progress: registers no plugin yet).

use velocity_api::PluginDesc;

/// The plugins of this crate, for the binary's registry.
pub fn plugins() -> Vec<PluginDesc> {
    Vec::new()
}

//! Connector configuration storage for standalone mode: connectors created
//! or changed over REST, with their target state, kept in one JSON file that
//! is rewritten atomically on every change so a restart brings them back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use velocity_api::RawConfig;

use crate::error::{Result, RuntimeError};
use crate::offsets::write_atomically;
use crate::status::TargetState;

/// One stored connector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredConnector {
    /// Its full configuration (secrets included: the file is the worker's own).
    pub config: RawConfig,
    /// What the user last asked it to be.
    pub target_state: TargetState,
}

/// Where connector configurations live.
pub trait ConfigStore: Send + Sync {
    /// Every stored connector.
    fn load(&self) -> Result<BTreeMap<String, StoredConnector>>;
    /// Stores the whole set durably.
    fn save(&self, all: &BTreeMap<String, StoredConnector>) -> Result<()>;
}

/// A JSON file; None keeps nothing (configs live only in memory).
pub struct FileConfigStore {
    path: Option<PathBuf>,
}

impl FileConfigStore {
    /// A store at `path`.
    pub fn new(path: Option<&Path>) -> FileConfigStore {
        FileConfigStore {
            path: path.map(Path::to_path_buf),
        }
    }
}

impl ConfigStore for FileConfigStore {
    fn load(&self) -> Result<BTreeMap<String, StoredConnector>> {
        let Some(p) = &self.path else {
            return Ok(BTreeMap::new());
        };
        match std::fs::read(p) {
            Ok(b) if b.is_empty() => Ok(BTreeMap::new()),
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                RuntimeError::BadRequest(format!(
                    "connector config file {} is not valid JSON ({e}); fix or remove it",
                    p.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(RuntimeError::io(format!("reading {}", p.display()), e)),
        }
    }

    fn save(&self, all: &BTreeMap<String, StoredConnector>) -> Result<()> {
        let Some(p) = &self.path else { return Ok(()) };
        let bytes = serde_json::to_vec_pretty(all).expect("config map serialises");
        write_atomically(p, &bytes)
    }
}

//! Source offset storage.
//!
//! Offsets are keyed like Kafka Connect's: `["<connector>", {partition}]`
//! serialised as compact JSON, so the REST offsets API and the file look
//! familiar. [`FileOffsetStore`] keeps everything in memory and rewrites the
//! file atomically (temp file, fsync, rename, fsync of the directory) on each
//! [`OffsetStore::put`]: after `put` returns, a crash cannot lose or tear the
//! stored offsets.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use velocity_api::{Offset, OffsetReader, Partition};

use crate::error::{Result, RuntimeError};

/// Where source offsets live (a file in standalone mode, a topic in distributed mode).
pub trait OffsetStore: Send + Sync {
    /// The stored offset of one partition of a connector.
    fn get(&self, connector: &str, partition: &Partition) -> Option<Offset>;
    /// Every stored partition and offset of a connector.
    fn all(&self, connector: &str) -> Vec<(Partition, Offset)>;
    /// Durably stores offsets (None removes the partition). Returns once they
    /// would survive a crash.
    fn put(&self, connector: &str, offsets: &[(Partition, Option<Offset>)]) -> Result<()>;
}

fn key(connector: &str, partition: &Partition) -> String {
    serde_json::json!([connector, partition]).to_string()
}

fn parse_key(k: &str) -> Option<(String, Partition)> {
    let v: serde_json::Value = serde_json::from_str(k).ok()?;
    let arr = v.as_array()?;
    Some((
        arr.first()?.as_str()?.to_owned(),
        arr.get(1)?.as_object()?.clone(),
    ))
}

/// Offsets in a JSON file, rewritten atomically on every put.
pub struct FileOffsetStore {
    path: Option<PathBuf>,
    data: Mutex<BTreeMap<String, Offset>>,
}

impl FileOffsetStore {
    /// Opens (or starts) the store at `path`; None keeps offsets in memory only.
    pub fn open(path: Option<&Path>) -> Result<FileOffsetStore> {
        let mut data = BTreeMap::new();
        if let Some(p) = path {
            match std::fs::read(p) {
                Ok(bytes) if !bytes.is_empty() => {
                    data = serde_json::from_slice(&bytes).map_err(|e| {
                        RuntimeError::BadRequest(format!(
                            "offset file {} is not valid JSON ({e}); fix or remove it (the connectors then start from their snapshot mode's beginning)",
                            p.display()
                        ))
                    })?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RuntimeError::io(format!("reading {}", p.display()), e)),
            }
        }
        Ok(FileOffsetStore {
            path: path.map(Path::to_path_buf),
            data: Mutex::new(data),
        })
    }

    fn persist(&self, data: &BTreeMap<String, Offset>) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes =
            serde_json::to_vec_pretty(data).map_err(|e| RuntimeError::Kafka(e.to_string()))?;
        write_atomically(path, &bytes)
    }
}

/// Writes `bytes` to `path` so that readers see either the old or the new
/// content, never a torn file, and the new content survives a crash once this
/// returns.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let ctx = |what: &str| format!("{what} {}", path.display());
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io(ctx("creating the folder of"), e))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    {
        let mut f = std::fs::File::create(&tmp).map_err(|e| RuntimeError::io(ctx("writing"), e))?;
        f.write_all(bytes)
            .map_err(|e| RuntimeError::io(ctx("writing"), e))?;
        f.sync_all()
            .map_err(|e| RuntimeError::io(ctx("syncing"), e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| RuntimeError::io(ctx("renaming into"), e))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

impl OffsetStore for FileOffsetStore {
    fn get(&self, connector: &str, partition: &Partition) -> Option<Offset> {
        self.data
            .lock()
            .ok()?
            .get(&key(connector, partition))
            .cloned()
    }

    fn all(&self, connector: &str) -> Vec<(Partition, Offset)> {
        let Ok(data) = self.data.lock() else {
            return Vec::new();
        };
        data.iter()
            .filter_map(|(k, v)| {
                let (c, p) = parse_key(k)?;
                (c == connector).then(|| (p, v.clone()))
            })
            .collect()
    }

    fn put(&self, connector: &str, offsets: &[(Partition, Option<Offset>)]) -> Result<()> {
        let mut data = self
            .data
            .lock()
            .map_err(|_| RuntimeError::Kafka("offset store lock poisoned".into()))?;
        for (p, o) in offsets {
            match o {
                Some(o) => data.insert(key(connector, p), o.clone()),
                None => data.remove(&key(connector, p)),
            };
        }
        self.persist(&data)
    }
}

/// The read view a task gets: one connector's offsets.
pub struct ConnectorOffsets {
    /// The store.
    pub store: Arc<dyn OffsetStore>,
    /// The connector.
    pub connector: String,
}

impl OffsetReader for ConnectorOffsets {
    fn offset(&self, partition: &Partition) -> Option<Offset> {
        self.store.get(&self.connector, partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(f: &str) -> Partition {
        let mut p = Partition::new();
        p.insert("filename".into(), f.into());
        p
    }

    #[test]
    fn survives_reopen_and_separates_connectors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        let s = FileOffsetStore::open(Some(&path)).unwrap();
        let mut o = Offset::new();
        o.insert("position".into(), 42.into());
        s.put("a", &[(part("x"), Some(o.clone()))]).unwrap();
        s.put("b", &[(part("x"), Some(Offset::new()))]).unwrap();
        let s2 = FileOffsetStore::open(Some(&path)).unwrap();
        assert_eq!(s2.get("a", &part("x")), Some(o));
        assert_eq!(s2.all("a").len(), 1);
        s2.put("a", &[(part("x"), None)]).unwrap();
        assert!(FileOffsetStore::open(Some(&path))
            .unwrap()
            .get("a", &part("x"))
            .is_none());
        assert!(!dir.path().join("offsets.json.tmp").exists());
    }

    #[test]
    fn corrupt_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("offsets.json");
        std::fs::write(&path, b"{not json").unwrap();
        let e = FileOffsetStore::open(Some(&path))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("offsets.json"), "{e}");
    }
}

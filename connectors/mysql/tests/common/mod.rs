//! Helpers shared by the live MariaDB tests.

use std::time::{Duration, Instant};

use velocity_api::{SourceRecord, SourceTask};
use velocity_connector_mysql::task::MySqlSourceTask;

/// Polls `task` until `want` records (transaction markers left out) or `timeout`.
pub async fn poll_until(
    task: &mut MySqlSourceTask,
    want: usize,
    timeout: Duration,
) -> Vec<SourceRecord> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        // transaction-end markers are for the runtime (never produced)
        out.extend(
            task.poll()
                .await
                .expect("poll")
                .into_iter()
                .filter(|r| r.control().is_none()),
        );
    }
    out
}

/// The `after.id` of a change event.
pub fn after_id(r: &SourceRecord) -> Option<i64> {
    let v = r.record.value.as_struct()?;
    v.get("after")?.as_struct()?.get("id")?.as_i64()
}

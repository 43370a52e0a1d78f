//! Helpers for sink connectors: the lazily (re)opened connection of a
//! writing task. The fan-out connector shell is
//! [`FanOutSinkConnector`](crate::shell::FanOutSinkConnector).

/// Writes one batch through a lazily (re)opened connection: connects with
/// `connect` when `conn` holds none, then runs `write` on it. When the write
/// fails the connection is dropped (it may be broken), so the next call —
/// after the runtime's retry policy restarted the task, or on the next
/// batch — reconnects; the error is returned unchanged with its kind.
pub async fn write_reconnecting<W, E>(
    conn: &mut Option<W>,
    connect: impl AsyncFnOnce() -> std::result::Result<W, E>,
    write: impl AsyncFnOnce(&mut W) -> std::result::Result<(), E>,
) -> std::result::Result<(), E> {
    let w = match conn.as_mut() {
        Some(w) => w,
        None => conn.insert(connect().await?),
    };
    let result = write(w).await;
    if result.is_err() {
        *conn = None;
    }
    result
}

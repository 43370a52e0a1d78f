//! Connector and task states as Kafka Connect reports them, and the shared
//! handle through which a running task publishes its state.

use std::sync::{Arc, Mutex};

use serde::Serialize;

/// What the user asked a connector to be (Kafka Connect's target state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    /// Running.
    Started,
    /// Tasks alive but not polling.
    Paused,
    /// Connector and tasks shut down; offsets may be altered.
    Stopped,
}

/// What a connector or task is, as `GET /connectors/{name}/status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    /// Not yet started.
    Unassigned,
    /// Working.
    Running,
    /// Paused by the user.
    Paused,
    /// Stopped by the user.
    Stopped,
    /// Failed; see the trace.
    Failed,
    /// Being restarted.
    Restarting,
}

/// A state with the failure trace (only for FAILED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The state.
    pub state: State,
    /// Why it failed.
    pub trace: Option<String>,
}

impl Status {
    /// A status without trace.
    pub fn of(state: State) -> Status {
        Status { state, trace: None }
    }
    /// FAILED with `trace`.
    pub fn failed(trace: impl Into<String>) -> Status {
        Status {
            state: State::Failed,
            trace: Some(trace.into()),
        }
    }
}

/// Shared, cheaply clonable status cell written by a task loop and read by
/// the REST API. Writes never block on readers for long (std mutex, no await).
#[derive(Clone, Debug)]
pub struct StatusHandle(Arc<Mutex<Status>>);

impl StatusHandle {
    /// A handle starting in `state`.
    pub fn new(state: State) -> StatusHandle {
        StatusHandle(Arc::new(Mutex::new(Status::of(state))))
    }
    /// Replaces the status.
    pub fn set(&self, status: Status) {
        if let Ok(mut s) = self.0.lock() {
            *s = status;
        }
    }
    /// The current status.
    pub fn get(&self) -> Status {
        self.0
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|_| Status::failed("status lock poisoned"))
    }
}

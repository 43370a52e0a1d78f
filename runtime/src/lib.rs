//! Velocity runtime.

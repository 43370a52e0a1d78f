//! The `velocity` binary.
fn main() {}

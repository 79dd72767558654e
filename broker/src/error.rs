//! Kafka's error codes. They live in the controller crate, which both halves of a node use;
//! the broker re-exports them here so `crate::error::ErrorCode` reads naturally.

pub use controller::ErrorCode;

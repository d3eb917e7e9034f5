//! The engine room: intake of stored deliveries, the durable job queue's workers, retries.

pub mod backoff;
pub mod context;
pub mod intake;
pub mod pool;
pub mod redelivery;

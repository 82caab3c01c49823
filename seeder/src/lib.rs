//! The swarmfeed node: seeding, following, replication, the store and the DHT.

pub mod config;
pub mod dht;
pub mod engine;
pub mod log;
pub mod node;
pub mod store;

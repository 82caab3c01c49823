//! The swarmfeed node: seeding, following, replication, the store and the DHT.

pub mod dht;
pub mod engine;
pub mod store;

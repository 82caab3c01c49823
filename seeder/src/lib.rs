//! The swarmfeed node: replication, follows, scrub, the node-to-node routes and the control
//! socket, over the node store (crate `store`) and the torrent engine with its DHT (crate
//! `engine`).

pub mod config;
pub mod node;

//! A private DHT of plain mainline nodes on 127.0.0.1 for nodes under test to bootstrap from.

use std::time::Duration;

use crate::poll::wait_for;

/// A private DHT of plain mainline nodes on 127.0.0.1 (not swarmfeed nodes): they store
/// items and peers like any DHT node. Nodes under test bootstrap from [`Testnet::bootstrap`].
pub struct Testnet {
    pub nodes: Vec<engine::dht::DhtNode>,
}

impl Testnet {
    pub fn new(size: usize) -> Testnet {
        let config = |bootstrap: Vec<String>| engine::dht::DhtConfig {
            bind_address: std::net::Ipv4Addr::LOCALHOST,
            port: 0,
            bootstrap,
            server_mode: true,
        };
        let first = engine::dht::DhtNode::start(&config(Vec::new())).expect("start DHT node");
        let mut nodes = vec![first];
        for _ in 1..size {
            let bootstrap = vec![nodes[0].bootstrap_address()];
            nodes.push(engine::dht::DhtNode::start(&config(bootstrap)).expect("start DHT node"));
        }
        Testnet { nodes }
    }

    /// The address nodes under test bootstrap from.
    pub fn bootstrap(&self) -> String {
        self.nodes[0].bootstrap_address()
    }

    /// Stops every node and starts a new one on each one's port: mainline keeps items and
    /// peers only in memory, so they come back empty (nodes bootstrapped from them can
    /// still reach them at the same addresses).
    pub fn restart(&mut self) {
        let ports: Vec<u16> = self.nodes.iter().map(|n| n.local_addr().port()).collect();
        for node in self.nodes.drain(..) {
            node.shutdown();
        }
        let first = ports[0];
        for (i, port) in ports.into_iter().enumerate() {
            let config = engine::dht::DhtConfig {
                bind_address: std::net::Ipv4Addr::LOCALHOST,
                port,
                bootstrap: if i == 0 {
                    Vec::new()
                } else {
                    vec![format!("127.0.0.1:{first}")]
                },
                server_mode: true,
            };
            // The old node's thread releases its socket a moment after it is dropped.
            let node = wait_for(
                Duration::from_secs(10),
                "a DHT port to be free again",
                || engine::dht::DhtNode::start(&config).ok(),
            );
            self.nodes.push(node);
        }
    }
}

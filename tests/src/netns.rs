//! A network namespace of a test's own, for stock clients that refuse loopback peers
//! (Transmission ignores 127.0.0.0/8 addresses from trackers). Inside it, `lo` also carries a
//! private address; nothing inside can reach any other network. Needs root and iproute2.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// A network namespace, deleted (with whatever still runs in it losing its network) on drop.
pub struct NetNs {
    name: String,
    ip: String,
}

impl NetNs {
    /// A new namespace whose `lo` is up with 127.0.0.1 and `ip` (e.g. `10.93.0.1`).
    pub fn new(ip: &str) -> NetNs {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "swarmfeed-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = NetNs {
            name,
            ip: ip.to_owned(),
        };
        run(ns.command("ip").args(["link", "set", "lo", "up"]));
        run(ns
            .command("ip")
            .args(["addr", "add", &format!("{ip}/32"), "dev", "lo"]));
        ns
    }

    /// The namespace's own address.
    pub fn ip(&self) -> &str {
        &self.ip
    }

    /// Adds another address to the namespace's `lo`.
    pub fn add_ip(&self, ip: &str) {
        run(self
            .command("ip")
            .args(["addr", "add", &format!("{ip}/32"), "dev", "lo"]));
    }

    /// `program` to be run inside the namespace (`ip netns exec` execs it: the child's pid
    /// is the program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?} (iproute2 is needed): {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed (creating a network namespace needs root): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

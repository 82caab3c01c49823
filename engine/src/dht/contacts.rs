//! The DHT nodes this node knew, kept across restarts (`DATA/dht-nodes.json`).
//!
//! mainline keeps its routing table in memory only. A node that restarts bootstraps from its
//! configured nodes; the first node of a network of its own has none (`--dht-bootstrap
//! none`), and would stay alone until another node happened to query it, with everything
//! it publishes going nowhere. So the addresses in the routing table are saved now and then,
//! and a restarted node asks them too, as libtorrent does with its saved DHT state. Only
//! addresses are kept: no ids, no items, nothing trusted (a saved address that is gone
//! just does not answer).

use std::path::Path;

/// Most addresses kept.
const MAX_CONTACTS: usize = 64;

/// The saved addresses (`host:port`), or none if there is no readable file.
pub fn load(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    match serde_json::from_slice::<Vec<String>>(&bytes) {
        Ok(mut contacts) => {
            contacts.retain(|c| c.parse::<std::net::SocketAddrV4>().is_ok());
            contacts.truncate(MAX_CONTACTS);
            contacts
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), "ignoring unreadable saved DHT nodes: {e}");
            Vec::new()
        }
    }
}

/// Saves up to 64 addresses (atomically: a crash leaves the old file or the new one).
pub fn save(path: &Path, contacts: &[String]) -> std::io::Result<()> {
    let contacts = &contacts[..contacts.len().min(MAX_CONTACTS)];
    let json = serde_json::to_vec(contacts).map_err(std::io::Error::other)?;
    data_dir::write_atomic(path, &json).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_contacts_come_back_and_junk_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dht-nodes.json");
        assert!(load(&path).is_empty());
        save(&path, &["127.0.0.1:6882".into(), "10.0.0.2:7000".into()]).unwrap();
        assert_eq!(load(&path), vec!["127.0.0.1:6882", "10.0.0.2:7000"]);
        std::fs::write(&path, br#"["not an address", "127.0.0.1:1"]"#).unwrap();
        assert_eq!(load(&path), vec!["127.0.0.1:1"]);
        std::fs::write(&path, b"{").unwrap();
        assert!(load(&path).is_empty());
    }
}

#!/usr/bin/python3
"""Stock libtorrent downloads a magnet link, finding peers only through a DHT it bootstraps
from one node.

Usage: lt_magnet_dht.py BOOTSTRAP_HOST:PORT MAGNET SAVE_DIR TIMEOUT_SECONDS

Adds the magnet (its trackers and web seeds dropped, so the DHT is the only way to peers),
waits until the metadata has come from a peer and every piece is downloaded and verified,
and exits 0 printing `COMPLETE N bytes in S s (metadata after M s)`. Exits 1 with the
torrent's status and libtorrent's last DHT and peer alerts on stderr when time runs out.
Everything stays on loopback: no LSD, UPnP, NAT-PMP, trackers or web seeds, and
libtorrent's default DHT bootstrap routers are replaced before the session starts.
"""

import sys
import time

import lt_loopback
import libtorrent as lt


def main():
    bootstrap, magnet, save_dir, timeout = sys.argv[1:5]
    timeout = float(timeout)

    session = lt_loopback.session(
        bootstrap,
        # Announce and look up peers at once, not after the usual 15 minutes.
        dht_announce_interval=5,
        # Drop a connection that sends nothing for 10 s and connect again (libtorrent's
        # default waits 10 minutes): once, under heavy load, a uTP connection to our node
        # stalled half-way (librqbit's uTP, docs/engine-gaps.md); a client reconnects.
        inactivity_timeout=10,
        alert_mask=lt.alert_category.all,
    )
    params = lt.parse_magnet_uri(magnet)
    params.save_path = save_dir
    params.trackers = []
    params.url_seeds = []
    handle = session.add_torrent(params)

    start = time.monotonic()
    metadata_at = None
    next_lookup = start + 2.0
    log = []
    while time.monotonic() - start < timeout:
        session.wait_for_alert(200)
        for alert in session.pop_alerts():
            now = time.monotonic() - start
            if isinstance(alert, lt.metadata_received_alert):
                metadata_at = now
            if isinstance(alert, (lt.dht_get_peers_reply_alert, lt.peer_connect_alert,
                                  lt.peer_disconnected_alert, lt.metadata_received_alert,
                                  lt.dht_bootstrap_alert, lt.torrent_error_alert,
                                  lt.peer_error_alert)):
                log.append(f"{now:7.2f} {type(alert).__name__}: {alert.message()}")
                log = log[-200:]
        status = handle.status()
        if status.has_metadata and (status.is_seeding or status.state == lt.torrent_status.seeding):
            elapsed = time.monotonic() - start
            print(
                f"COMPLETE {status.total_wanted_done} bytes in {elapsed:.2f} s "
                f"(metadata after {metadata_at if metadata_at is not None else 0:.2f} s)",
                flush=True,
            )
            return 0
        if time.monotonic() >= next_lookup and status.num_peers == 0:
            # The first announce may run before the routing table has a node: ask again.
            handle.force_dht_announce()
            next_lookup = time.monotonic() + 2.0

    status = handle.status()
    print(
        f"TIMEOUT state={status.state} has_metadata={status.has_metadata} "
        f"done={status.total_wanted_done}/{status.total_wanted} peers={status.num_peers} "
        f"dht_nodes={session.status().dht_nodes}",
        file=sys.stderr,
    )
    for line in log:
        print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

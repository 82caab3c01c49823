#!/usr/bin/python3
"""Stock libtorrent downloads a torrent from its BEP 19 web seed alone.

Usage: lt_webseed.py TORRENT_FILE SAVE_DIR TIMEOUT_SECONDS

Adds the .torrent with every peer source off: no DHT, LSD, UPnP, NAT-PMP or peer exchange,
no trackers, no peer it is told about; the torrent's `url-list` (the gateway) is the only
place the data can come from. Waits until every piece is downloaded and verified, and exits 0
printing `COMPLETE N bytes in S s` and `SOURCES ...` (the kinds of connection seen: web seeds
only). Exits 1 with the torrent's status and the last alerts on stderr when time runs out.
"""

import sys
import time

import lt_loopback
import libtorrent as lt


def connection_kind(peer):
    if peer.connection_type == lt.peer_info.web_seed:
        return "web_seed"
    if peer.connection_type == lt.peer_info.http_seed:
        return "http_seed"
    return "bittorrent"


def main():
    torrent_file, save_dir, timeout = sys.argv[1:4]
    timeout = float(timeout)

    session = lt_loopback.session(
        enable_incoming_utp=False,
        enable_outgoing_utp=False,
        alert_mask=lt.alert_category.error | lt.alert_category.status | lt.alert_category.peer,
    )
    seeds = [s["url"] for s in lt.torrent_info(torrent_file).web_seeds()]
    if not seeds:
        print("the .torrent names no web seed", file=sys.stderr)
        return 1
    print(f"WEBSEEDS {' '.join(seeds)}", flush=True)
    handle = lt_loopback.add_torrent_file(
        session, torrent_file, save_dir, keep_web_seeds=True,
        flags=lt.torrent_flags.disable_pex | lt.torrent_flags.disable_dht | lt.torrent_flags.disable_lsd,
    )

    start = time.monotonic()
    alerts = []
    kinds = set()
    while time.monotonic() - start < timeout:
        session.wait_for_alert(100)
        alerts.extend(str(a.message()) for a in session.pop_alerts())
        alerts = alerts[-50:]
        kinds.update(connection_kind(p) for p in handle.get_peer_info())
        status = handle.status()
        if lt_loopback.complete(status):
            elapsed = time.monotonic() - start
            print(f"COMPLETE {status.total_wanted_done} bytes in {elapsed:.2f} s", flush=True)
            print(f"SOURCES {' '.join(sorted(kinds)) or 'none-seen'}", flush=True)
            return 0

    return lt_loopback.report_timeout(handle, alerts, f" sources={sorted(kinds)}")

if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Stock libtorrent downloads a torrent from one peer it is told about, and nothing else.

Usage: lt_download_from_peer.py TORRENT_FILE SAVE_DIR PEER_IP:PORT TIMEOUT_SECONDS [forced]

Adds the .torrent, connects to the peer (`connect_peer`), waits until every piece is
downloaded and verified, and exits 0 printing `COMPLETE N bytes in S s`. Exits 1 with the
torrent's status and the last alerts on stderr when time runs out. Loopback only: no DHT,
LSD, UPnP or NAT-PMP; trackers and web seeds in the torrent are not contacted.

With `forced`, libtorrent requires protocol encryption both ways with an RC4 stream, as
qBittorrent's "require encryption" sets it (out_enc_policy and in_enc_policy pe_forced,
allowed_enc_level pe_rc4): it makes and accepts only MSE handshakes.
"""

import sys
import time

import lt_loopback
import libtorrent as lt


def main():
    torrent_file, save_dir, peer, timeout = sys.argv[1:5]
    forced = sys.argv[5:6] == ["forced"]
    peer_ip, peer_port = peer.rsplit(":", 1)
    timeout = float(timeout)

    session = lt_loopback.session(
        alert_mask=lt.alert_category.error | lt.alert_category.status | lt.alert_category.peer | lt.alert_category.connect,
        **(lt_loopback.FORCED_ENCRYPTION if forced else {}),
    )
    # A torrent published through a running node names its gateway as a web seed: dropped,
    # so that the one peer given is the only source.
    handle = lt_loopback.add_torrent_file(session, torrent_file, save_dir)

    start = time.monotonic()
    next_connect = start
    alerts = []
    while time.monotonic() - start < timeout:
        now = time.monotonic()
        if now >= next_connect:
            # Connecting before the torrent is ready is dropped: retry until it sticks.
            handle.connect_peer((peer_ip, int(peer_port)))
            next_connect = now + 1.0
        session.wait_for_alert(100)
        alerts.extend(str(a.message()) for a in session.pop_alerts())
        alerts = alerts[-50:]
        status = handle.status()
        if lt_loopback.complete(status):
            elapsed = time.monotonic() - start
            print(f"COMPLETE {status.total_wanted_done} bytes in {elapsed:.2f} s", flush=True)
            return 0

    return lt_loopback.report_timeout(handle, alerts)

if __name__ == "__main__":
    sys.exit(main())

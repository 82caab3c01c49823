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

import libtorrent as lt

# qBittorrent's "require encryption".
FORCED_ENCRYPTION = {
    "out_enc_policy": int(lt.enc_policy.forced),
    "in_enc_policy": int(lt.enc_policy.forced),
    "allowed_enc_level": int(lt.enc_level.rc4),
    "prefer_rc4": True,
}


def main():
    torrent_file, save_dir, peer, timeout = sys.argv[1:5]
    forced = sys.argv[5:6] == ["forced"]
    peer_ip, peer_port = peer.rsplit(":", 1)
    timeout = float(timeout)

    session = lt.session(
        {
            "listen_interfaces": "127.0.0.1:0",
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "alert_mask": lt.alert_category.error | lt.alert_category.status | lt.alert_category.peer | lt.alert_category.connect,
            **(FORCED_ENCRYPTION if forced else {}),
        }
    )
    info = lt.torrent_info(torrent_file)
    # A torrent published through a running node names its gateway as a web seed: drop it,
    # so that the one peer given is the only source.
    info.set_web_seeds([])
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = save_dir
    params.trackers = []
    handle = session.add_torrent(params)
    handle.replace_trackers([])

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
        if status.is_seeding or (status.is_finished and status.total_wanted_done == status.total_wanted):
            elapsed = time.monotonic() - start
            print(f"COMPLETE {status.total_wanted_done} bytes in {elapsed:.2f} s", flush=True)
            return 0

    status = handle.status()
    print(
        f"TIMEOUT state={status.state} done={status.total_wanted_done}/{status.total_wanted} "
        f"peers={status.num_peers}",
        file=sys.stderr,
    )
    for line in alerts:
        print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

"""Loads a .torrent in stock libtorrent, fully rechecks the data under SAVE_PATH, prints JSON.

Usage: lt_recheck.py TORRENT SAVE_PATH
No DHT, LSD, UPnP or NAT-PMP; listens on 127.0.0.1 only. Prints
{"infohash": hex, "name": str, "files": [[path, size]...], "progress": float,
 "pieces": have, "total_pieces": n, "state": str}.
"""
import json
import sys
import time

import libtorrent as lt

TIMEOUT = 120


def main():
    torrent, save_path = sys.argv[1], sys.argv[2]
    info = lt.torrent_info(torrent)
    session = lt.session({
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "listen_interfaces": "127.0.0.1:0",
        "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
    })
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = save_path
    handle = session.add_torrent(params)
    wait_for_check(session)  # the check libtorrent runs on add
    handle.force_recheck()
    wait_for_check(session)  # the full recheck we asked for
    status = handle.status()
    files = info.files()
    print(json.dumps({
        "infohash": str(info.info_hashes().v1),
        "name": info.name(),
        "files": [[files.file_path(i), files.file_size(i)] for i in range(files.num_files())],
        "progress": status.progress,
        "pieces": status.num_pieces,
        "total_pieces": info.num_pieces(),
        "state": str(status.state),
    }))


def wait_for_check(session):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        session.wait_for_alert(500)
        for alert in session.pop_alerts():
            if isinstance(alert, lt.torrent_checked_alert):
                return
            if isinstance(alert, (lt.torrent_error_alert, lt.file_error_alert)):
                sys.exit("libtorrent: " + alert.message())
    sys.exit("libtorrent did not finish checking in time")


main()

#!/usr/bin/python3
"""Stock libtorrent seeds a torrent on loopback until its stdin closes.

Usage: lt_seed.py TORRENT_FILE DATA_DIR [forced]

Checks the data, then prints `PORT N` (its TCP listen port) once it seeds. No DHT, LSD, UPnP
or NAT-PMP; trackers and web seeds in the torrent are dropped, so peers must connect to it.
With `forced`, it requires protocol encryption both ways with an RC4 stream (qBittorrent's
"require encryption": out_enc_policy and in_enc_policy pe_forced, allowed_enc_level pe_rc4).
"""

import sys
import threading
import time

import lt_loopback


def main():
    torrent_file, data_dir = sys.argv[1:3]
    forced = sys.argv[3:4] == ["forced"]
    session = lt_loopback.session(
        allow_multiple_connections_per_ip=True,
        **(lt_loopback.FORCED_ENCRYPTION if forced else {}),
    )
    handle = lt_loopback.add_torrent_file(session, torrent_file, data_dir)
    handle.force_recheck()
    start = time.monotonic()
    while not handle.status().is_seeding:
        if time.monotonic() - start > 60:
            sys.exit(f"not seeding after 60 s: {handle.status().state}")
        time.sleep(0.05)
    print(f"PORT {session.listen_port()}", flush=True)
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    while not done.wait(0.2):
        session.pop_alerts()
    return 0


if __name__ == "__main__":
    sys.exit(main())

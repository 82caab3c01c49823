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

import libtorrent as lt


def main():
    torrent_file, data_dir = sys.argv[1:3]
    forced = sys.argv[3:4] == ["forced"]
    settings = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
    }
    if forced:
        settings.update({
            "out_enc_policy": int(lt.enc_policy.forced),
            "in_enc_policy": int(lt.enc_policy.forced),
            "allowed_enc_level": int(lt.enc_level.rc4),
            "prefer_rc4": True,
        })
    session = lt.session(settings)
    info = lt.torrent_info(torrent_file)
    info.set_web_seeds([])
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = data_dir
    params.trackers = []
    handle = session.add_torrent(params)
    handle.replace_trackers([])
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

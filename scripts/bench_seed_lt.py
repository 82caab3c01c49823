#!/usr/bin/python3
"""libtorrent on loopback for scripts/bench-seed.

  bench_seed_lt.py leech TORRENT SAVE_DIR HOST:PORT   downloads from that one peer; prints the
                                                      seconds it took, the seconds until the
                                                      first byte arrived, and its own CPU seconds
  bench_seed_lt.py seed TORRENT DATA_DIR              seeds; prints its port; runs until stdin closes

The leecher connects in plaintext unless LT_ENCRYPTION=1 (libtorrent's defaults: an encrypted
MSE handshake first, a plain stream if the other side agrees) or LT_ENCRYPTION=rc4 (encryption
required, RC4 stream, for libtorrent's seeder too): see docs/engine-gaps.md.
"""
import os
import resource
import sys
import time

import libtorrent as lt


def session():
    return lt.session({
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "allow_multiple_connections_per_ip": True,
        # TCP only: uTP on loopback is congestion-controlled to a crawl.
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "alert_mask": lt.alert.category_t.error_notification,
        **ENCRYPTION.get(os.environ.get("LT_ENCRYPTION", ""), ENCRYPTION[""]),
    })


# LT_ENCRYPTION: unset, plaintext only; 1, libtorrent's defaults (encrypted handshake first,
# plaintext accepted, a plain stream preferred); rc4, encryption required with an RC4 stream
# (qBittorrent's "require encryption"), for the leecher and libtorrent's seeder alike.
ENCRYPTION = {
    "": {
        "out_enc_policy": int(lt.enc_policy.disabled),
        "in_enc_policy": int(lt.enc_policy.disabled),
    },
    "1": {},
    "rc4": {
        "out_enc_policy": int(lt.enc_policy.forced),
        "in_enc_policy": int(lt.enc_policy.forced),
        "allowed_enc_level": int(lt.enc_level.rc4),
        "prefer_rc4": True,
    },
}


def main():
    mode, torrent = sys.argv[1], sys.argv[2]
    info = lt.torrent_info(torrent)
    # A node's published torrent lists the node's gateway as a BEP 19 web seed: drop it, so
    # that the one peer given is the only source (this measures BitTorrent seeding).
    info.set_web_seeds([])
    ses = session()
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = sys.argv[3]
    if mode == "seed":
        handle = ses.add_torrent(params)
        handle.force_recheck()
        while not handle.status().is_seeding:
            time.sleep(0.1)
        print(ses.listen_port(), flush=True)
        sys.stdin.read()
        return
    host, port = sys.argv[4].rsplit(":", 1)
    handle = ses.add_torrent(params)
    start = time.monotonic()
    handle.connect_peer((host, int(port)))
    last_connect = start
    first_byte = None
    while not handle.status().is_seeding:
        time.sleep(0.02)
        now = time.monotonic()
        if first_byte is None and handle.status().total_payload_download > 0:
            first_byte = now - start
        if handle.status().num_peers == 0 and now - last_connect > 2:
            handle.connect_peer((host, int(port)))
            last_connect = now
        if now - start > 600:
            sys.exit("timed out")
    end = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(f"{end:.3f} {first_byte if first_byte is not None else end:.3f} {cpu:.2f}")


main()

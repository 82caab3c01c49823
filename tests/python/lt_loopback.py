"""What the libtorrent scripts beside this file share: a session that stays on loopback,
torrents added with no source but the ones a test gives, and the completion test.

Imported by those scripts (Python puts a script's own directory on `sys.path`).
"""

import sys

import libtorrent as lt

# qBittorrent's "require encryption": MSE handshakes only, both ways, with an RC4 stream
# (out_enc_policy and in_enc_policy pe_forced, allowed_enc_level pe_rc4).
FORCED_ENCRYPTION = {
    "out_enc_policy": int(lt.enc_policy.forced),
    "in_enc_policy": int(lt.enc_policy.forced),
    "allowed_enc_level": int(lt.enc_level.rc4),
    "prefer_rc4": True,
}


def settings(dht_bootstrap=None, **extra):
    """Session settings on 127.0.0.1 with no LSD, UPnP or NAT-PMP. With `dht_bootstrap`,
    a DHT bootstrapped from that node alone, set for loopback nodes (all on one IP, ids not
    derived from it: BEP 42's checks off); without, no DHT. `extra` adds or overrides."""
    base = {
        "listen_interfaces": "127.0.0.1:0",
        "enable_dht": dht_bootstrap is not None,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
    }
    if dht_bootstrap is not None:
        base.update({
            "dht_bootstrap_nodes": dht_bootstrap,
            "dht_restrict_routing_ips": False,
            "dht_restrict_search_ips": False,
            "dht_enforce_node_id": False,
            "dht_ignore_dark_internet": False,
            "dht_prefer_verified_node_ids": False,
        })
    base.update(extra)
    return base


def session(dht_bootstrap=None, **extra):
    """A session on `settings(...)`: given to the constructor, so libtorrent's default DHT
    routers are never used."""
    return lt.session(settings(dht_bootstrap, **extra))


def add_torrent_file(session, torrent_file, save_dir, keep_web_seeds=False, flags=0):
    """Adds a .torrent with its trackers dropped (and its web seeds, unless kept), so that
    the sources a test names are the only ones: its handle."""
    info = lt.torrent_info(torrent_file)
    if not keep_web_seeds:
        info.set_web_seeds([])
    params = lt.add_torrent_params()
    params.ti = info
    params.save_path = save_dir
    params.trackers = []
    params.flags |= flags
    handle = session.add_torrent(params)
    handle.replace_trackers([])
    return handle


def complete(status):
    """Every wanted piece downloaded and verified."""
    return status.is_seeding or (
        status.is_finished and status.total_wanted_done == status.total_wanted)


def report_timeout(handle, alerts, extra=""):
    """Says on stderr where a download stood when time ran out, and the alerts seen; 1."""
    status = handle.status()
    print(
        f"TIMEOUT state={status.state} done={status.total_wanted_done}/{status.total_wanted} "
        f"peers={status.num_peers}{extra}",
        file=sys.stderr,
    )
    for line in alerts:
        print(line, file=sys.stderr)
    return 1

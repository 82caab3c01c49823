#!/usr/bin/python3
"""Stock libtorrent downloads several magnet links in one session, finding peers only
through a DHT it bootstraps from one node.

Usage: lt_magnets_dht.py BOOTSTRAP_HOST:PORT MAGNETS_FILE SAVE_DIR TIMEOUT_SECONDS

MAGNETS_FILE holds one magnet link per line. Each is added with its trackers and web seeds
dropped (and any `tr=`/`ws=` should already be stripped by the caller), so the DHT is the
only way to peers. Waits until every torrent has its metadata and every piece downloaded
and verified, then exits 0 printing one `COMPLETE INFOHASH N bytes at S s` line per torrent
and `ALL N torrents, B bytes in S s`. Exits 1 with each torrent's status on stderr when time
runs out. Everything stays on loopback: no LSD, UPnP, NAT-PMP, trackers or web seeds, and
libtorrent's default DHT bootstrap routers are replaced before the session starts.
"""

import sys
import time

import lt_loopback
import libtorrent as lt


def main():
    bootstrap, magnets_file, save_dir, timeout = sys.argv[1:5]
    timeout = float(timeout)
    with open(magnets_file) as f:
        magnets = [line.strip() for line in f if line.strip()]

    session = lt_loopback.session(
        bootstrap,
        dht_announce_interval=5,
        # A connection silent for 10 s is dropped and made again (see lt_magnet_dht.py).
        inactivity_timeout=10,
        # Every peer of a loopback test shares 127.0.0.1: by default libtorrent keeps one
        # peer per IP, which may be a dead one (the publisher's).
        allow_multiple_connections_per_ip=True,
        # Ten torrents at once: no queueing, and DHT lookups for all of them without
        # hitting the default 8 kB/s DHT upload limit.
        active_downloads=-1,
        active_seeds=-1,
        active_limit=-1,
        dht_upload_rate_limit=1000000,
        # libtorrent blocks an IP sending more than 5 DHT requests a second for 5 minutes;
        # here every DHT node shares 127.0.0.1, so that would cut it off from all of them.
        dht_block_ratelimit=100000,
        alert_mask=lt.alert_category.all,
    )
    handles = []
    by_hash = {}
    for magnet in magnets:
        params = lt.parse_magnet_uri(magnet)
        if params.trackers or params.url_seeds:
            print(f"refusing a magnet with trackers or web seeds: {magnet}", file=sys.stderr)
            return 2
        params.save_path = save_dir
        handle = session.add_torrent(params)
        handles.append(handle)
        by_hash[str(params.info_hashes.v1)] = handle

    start = time.monotonic()
    log = []
    done = {}
    next_lookup = start + 2.0
    while time.monotonic() - start < timeout:
        session.wait_for_alert(200)
        for alert in session.pop_alerts():
            if isinstance(alert, lt.dht_get_peers_reply_alert):
                handle = by_hash.get(str(alert.info_hash))
                if handle is not None:
                    for peer in alert.peers():
                        handle.connect_peer(peer)
            if isinstance(alert, (lt.dht_get_peers_reply_alert, lt.peer_connect_alert,
                                  lt.peer_disconnected_alert, lt.metadata_received_alert,
                                  lt.dht_bootstrap_alert, lt.torrent_error_alert,
                                  lt.peer_error_alert,
                                  lt.listen_failed_alert, lt.listen_succeeded_alert)):
                log.append(f"{time.monotonic() - start:7.2f} {type(alert).__name__}: {alert.message()}")
                log = log[-100:]
        lookup = time.monotonic() >= next_lookup
        for handle in handles:
            status = handle.status()
            key = str(status.info_hashes.v1) if hasattr(status, "info_hashes") else str(status.info_hash)
            if key in done:
                continue
            if status.has_metadata and (status.is_seeding or status.state == lt.torrent_status.seeding):
                done[key] = status.total_wanted_done
                print(f"COMPLETE {key} {status.total_wanted_done} bytes at "
                      f"{time.monotonic() - start:.2f} s", flush=True)
            elif lookup and not status.has_metadata:
                # libtorrent schedules torrent DHT announces one at a time; with ten new
                # torrents some wait long. Ask the DHT for their peers directly too.
                handle.force_dht_announce()
                session.dht_get_peers(lt.sha1_hash(bytes.fromhex(key)))
        if lookup:
            next_lookup = time.monotonic() + 3.0
        if len(done) == len(handles):
            print(f"ALL {len(done)} torrents, {sum(done.values())} bytes in "
                  f"{time.monotonic() - start:.2f} s", flush=True)
            return 0

    print(f"TIMEOUT {len(done)} of {len(handles)} complete", file=sys.stderr)
    for handle in handles:
        status = handle.status()
        print(f"  {status.name or '?'} state={status.state} has_metadata={status.has_metadata} "
              f"done={status.total_wanted_done}/{status.total_wanted} peers={status.num_peers}",
              file=sys.stderr)
    for line in log:
        print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

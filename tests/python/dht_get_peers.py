#!/usr/bin/python3
"""Stock libtorrent looks up peers for an infohash through a DHT it bootstraps from one node.

Usage: dht_get_peers.py BOOTSTRAP_HOST:PORT INFOHASH_HEX EXPECTED_IP:PORT TIMEOUT_SECONDS

Exits 0 and prints `FOUND ip:port after N s` once a dht_get_peers_reply_alert holds the
expected peer; exits 1 with libtorrent's DHT log and counters on stderr when time runs out.
Everything stays on loopback: no LSD, UPnP, NAT-PMP or trackers, and libtorrent's default
DHT bootstrap routers are replaced before the session starts.
"""

import sys
import time

import lt_loopback
import libtorrent as lt


def main():
    bootstrap, infohash_hex, expected, timeout = sys.argv[1:5]
    expected_ip, expected_port = expected.rsplit(":", 1)
    expected_peer = (expected_ip, int(expected_port))
    timeout = float(timeout)

    session = lt_loopback.session(bootstrap, alert_mask=lt.alert_category.all)
    info_hash = lt.sha1_hash(bytes.fromhex(infohash_hex))

    log = []
    start = time.monotonic()
    next_query = start
    queries = 0
    replies = []
    while time.monotonic() - start < timeout:
        now = time.monotonic()
        if now >= next_query:
            # The first lookups may start before the routing table has a node: retry.
            session.dht_get_peers(info_hash)
            queries += 1
            next_query = now + 2.0
        session.wait_for_alert(200)
        for alert in session.pop_alerts():
            if isinstance(alert, lt.dht_get_peers_reply_alert):
                peers = [(ip, port) for ip, port in alert.peers()]
                replies.append(peers)
                if expected_peer in peers:
                    elapsed = time.monotonic() - start
                    print(f"FOUND {expected} after {elapsed:.1f} s ({queries} lookups)")
                    return 0
            elif isinstance(alert, (lt.dht_log_alert, lt.dht_pkt_alert)):
                log.append(f"{time.monotonic() - start:7.2f} {alert.message()}")
            elif alert.category() & (lt.alert_category.dht | lt.alert_category.error):
                log.append(f"{time.monotonic() - start:7.2f} {type(alert).__name__}: {alert.message()}")

    print(f"NOT FOUND: {expected} not among the peers of {infohash_hex} after {timeout} s", file=sys.stderr)
    print(f"lookups: {queries}, get_peers replies: {replies}", file=sys.stderr)
    print("--- libtorrent DHT log (last 200 lines) ---", file=sys.stderr)
    for line in log[-200:]:
        print(line, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

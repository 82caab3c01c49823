#!/usr/bin/env python3
"""POST a body to a URL from a given local address (loopback has all of 127/8), print the
status code on the first line and the body after: for per-address limits."""
import http.client
import sys
import urllib.parse

source, url, body = sys.argv[1], sys.argv[2], sys.argv[3].encode()
parts = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=(source, 0))
conn.request("POST", parts.path, body=body, headers={"Content-Type": "application/json"})
response = conn.getresponse()
print(response.status)
print(response.getheader("Retry-After") or "-")
print(response.read().decode("utf-8", "replace"))

"""Checks a gateway's feed exports with feedparser: bozo == 0, and the expected items.

usage: gateway_feeds.py BASE_URL IDENTITY FEED TITLE...
Prints one line per format; exits non-zero on the first problem. Exit 77 when feedparser
is not installed (pip install feedparser).
"""
import json
import sys
import urllib.request

try:
    import feedparser
except ImportError:
    print("feedparser is not installed (pip install feedparser)")
    sys.exit(77)


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.headers.get("Content-Type"), answer.read()


def main():
    base, identity, feed, *titles = sys.argv[1:]
    for ext, mime in (("rss", "application/rss+xml"), ("atom", "application/atom+xml")):
        url = f"{base}/{identity}/{feed}/feed.{ext}"
        content_type, body = fetch(url)
        assert content_type.startswith(mime), (url, content_type)
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, (url, parsed.get("bozo_exception"))
        got = [e.title for e in parsed.entries]
        assert got == titles, (url, got, titles)
        for entry in parsed.entries:
            assert entry.link.startswith(base + "/"), entry.link
            assert entry.get("published_parsed"), entry
        with_files = [e for e in parsed.entries if e.get("enclosures")]
        assert with_files, f"{url}: no enclosures"
        for entry in with_files:
            for enclosure in entry.enclosures:
                assert enclosure.href.startswith(base + "/"), enclosure
        print(f"{ext}: {parsed.version}, {len(parsed.entries)} entries, bozo 0")

    url = f"{base}/{identity}/{feed}/feed.json"
    content_type, body = fetch(url)
    assert content_type.startswith("application/feed+json"), content_type
    doc = json.loads(body)
    # JSON Feed 1.1 required fields and types.
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(doc["title"], str) and doc["feed_url"] == url
    assert [i["title"] for i in doc["items"]] == titles
    for item in doc["items"]:
        assert isinstance(item["id"], str)
        assert "content_html" in item or "content_text" in item
        for attachment in item.get("attachments", []):
            assert attachment["url"] and attachment["mime_type"]
            assert isinstance(attachment["size_in_bytes"], int)
    parsed = feedparser.parse(body)
    print(f"json: {len(doc['items'])} items, feedparser sees {parsed.version or 'json'}")


if __name__ == "__main__":
    main()

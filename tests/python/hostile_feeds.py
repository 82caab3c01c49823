"""Checks that a feed's exports carry hostile text as text: feedparser (its HTML sanitizer
off, so it hides nothing) reads the newest item's title back exactly, and its HTML summary
holds only the gateway's own markup (p and a, no event handler, no script URL) with the
description as text.

usage: hostile_feeds.py BASE_URL IDENTITY FEED TITLE DESCRIPTION FILE_NAME
Prints one line per format; exits non-zero on the first problem.
"""
import json
import sys
import urllib.request
from html.parser import HTMLParser

import feedparser

ALLOWED_TAGS = {"p", "a"}
ALLOWED_SCHEMES = ("http://", "https://", "magnet:")


class Markup(HTMLParser):
    """The tags, attributes and text of an HTML fragment."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems, self.text = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}")
            if name in ("href", "src") and not (value or "").startswith(ALLOWED_SCHEMES):
                self.problems.append(f"{tag} {name}={value}")

    def handle_data(self, data):
        self.text.append(data)


def check_html(what, html, description):
    markup = Markup()
    markup.feed(html)
    markup.close()
    assert not markup.problems, (what, markup.problems, html)
    text = "".join(markup.text)
    assert description in text, (what, description, text)


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read()


def main():
    base, identity, feed, title, description, file_name = sys.argv[1:]
    for ext in ("rss", "atom"):
        body = fetch(f"{base}/{identity}/{feed}/feed.{ext}")
        parsed = feedparser.parse(body, sanitize_html=False)
        assert parsed.bozo == 0, (ext, parsed.get("bozo_exception"))
        entry = parsed.entries[0]
        assert entry.title == title, (ext, entry.title, title)
        check_html(ext, entry.summary, description)
        if ext == "atom":
            names = [link.get("title", "") for link in entry.links]
            assert any(n.endswith(file_name) for n in names), (ext, names)
        print(f"{ext}: title, summary and file names are text")

    doc = json.loads(fetch(f"{base}/{identity}/{feed}/feed.json"))
    item = doc["items"][0]
    assert item["title"] == title, (item["title"], title)
    assert item["summary"] == description, (item["summary"], description)
    check_html("json", item["content_html"], description)
    names = [a["title"] for a in item.get("attachments", [])]
    assert any(n.endswith(file_name) for n in names), names
    print("json: title, summary, content_html and attachments are text")


if __name__ == "__main__":
    main()

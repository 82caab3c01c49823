"""Validates a JSON Feed against tests/fixtures/jsonfeed-1.1.schema.json with jsonschema
(Draft 2020-12, RFC 3339 dates checked), and checks that the schema refuses broken copies of
the same feed, so that a schema that accepts anything fails here.

usage: jsonfeed_schema.py FEED_URL SCHEMA_PATH
Exits non-zero on the first problem; 77 when jsonschema is not installed
(pip install jsonschema).
"""
import copy
import json
import sys
import urllib.request

try:
    import jsonschema
except ImportError:
    print("jsonschema is not installed (pip install jsonschema)")
    sys.exit(77)


def rfc3339(value):
    """RFC 3339 date-time, without relying on jsonschema's optional format packages."""
    import datetime
    import re

    pattern = r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})"
    if not isinstance(value, str):
        return True
    if not re.fullmatch(pattern, value):
        return False
    datetime.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    return True


def main():
    url, schema_path = sys.argv[1:]
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with urllib.request.urlopen(url, timeout=30) as answer:
        content_type = answer.headers.get("Content-Type", "")
        feed = json.load(answer)
    assert content_type.startswith("application/feed+json"), content_type

    jsonschema.Draft202012Validator.check_schema(schema)
    formats = jsonschema.FormatChecker(formats=())
    formats.checks("date-time", raises=ValueError)(rfc3339)
    validator = jsonschema.Draft202012Validator(schema, format_checker=formats)
    errors = sorted(validator.iter_errors(feed), key=lambda e: list(e.path))
    for error in errors:
        print(f"{'/'.join(map(str, error.path))}: {error.message}")
    assert not errors, f"{url} is not valid JSON Feed 1.1"
    assert feed["items"], "no items to check"

    # The schema must refuse what the spec forbids.
    broken = []
    doc = copy.deepcopy(feed); del doc["version"]; broken.append(("no version", doc))
    doc = copy.deepcopy(feed); doc["version"] = "https://jsonfeed.org/version/2"; broken.append(("wrong version", doc))
    doc = copy.deepcopy(feed); del doc["items"][0]["id"]; broken.append(("item without id", doc))
    doc = copy.deepcopy(feed)
    doc["items"][0].pop("content_html", None); doc["items"][0].pop("content_text", None)
    broken.append(("item without content", doc))
    doc = copy.deepcopy(feed); doc["items"][0]["date_published"] = "yesterday"; broken.append(("bad date", doc))
    doc = copy.deepcopy(feed); doc["items"][0]["attachments"] = [{"url": "x"}]; broken.append(("attachment without mime_type", doc))
    doc = copy.deepcopy(feed); doc["items"][0]["titel"] = "typo"; broken.append(("unknown key", doc))
    for what, doc in broken:
        assert not validator.is_valid(doc), f"the schema accepts a feed with {what}"

    attachments = sum(len(i.get("attachments", [])) for i in feed["items"])
    print(f"json feed: {len(feed['items'])} items, {attachments} attachments, valid against "
          f"the JSON Feed 1.1 schema; {len(broken)} broken copies refused")


if __name__ == "__main__":
    main()

"""Feeds: fixture files parsed against their expectations, URL canonicalisation, feed refresh."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from pathlib import Path

import pytest
from http_fixtures import Response, sequence

from pipeline.config import FeedConfig, Settings, load_config
from pipeline.feeds import parse_feed, refresh_feed
from pipeline.fetch import Fetcher
from pipeline.records import FeedState

REPO_ROOT = Path(__file__).resolve().parents[1]
FEED_FIXTURES = Path(__file__).parent / "fixtures" / "feeds"
CASES = sorted(FEED_FIXTURES.glob("*.json"))
FAST = Settings(allow_private_hosts=True, backoff_base=0.01, per_host_delay=0, retries=1,
                read_timeout=0.5, total_timeout=5)


def _feed_body(expectation: Path) -> bytes:
    for suffix in (".xml", ".html"):
        if expectation.with_suffix(suffix).exists():
            return expectation.with_suffix(suffix).read_bytes()
    raise FileNotFoundError(f"no feed file beside {expectation}")


@pytest.mark.parametrize("case", CASES, ids=[case.stem for case in CASES])
def test_feed_fixture(case):
    expected = json.loads(case.read_text(encoding="utf-8"))
    parsed = parse_feed("fixture", _feed_body(case), expected["base_url"])
    assert parsed.bozo is expected["bozo"]
    if expected["error"] is None:
        assert parsed.error is None
    else:
        assert parsed.error and parsed.error.startswith(expected["error"])
    assert parsed.usable is (not (expected["error"] or "").startswith("unusable_feed"))
    assert parsed.title == expected["title"]
    got = [
        {
            "url": entry.url,
            "canonical_url": entry.canonical_url,
            "guid": entry.guid,
            "title": entry.title,
            "published_at": entry.published_at.isoformat() if entry.published_at else None,
            "summary": entry.summary,
        }
        for entry in parsed.entries
    ]
    assert got == expected["entries"]
    assert [list(item) for item in parsed.skipped] == expected["skipped"]
    assert all(entry.feed_name == "fixture" for entry in parsed.entries)


def test_parse_feed_never_opens_a_path_given_as_bytes():
    # feedparser reads a *string* naming a file; the body must only ever be data.
    parsed = parse_feed("x", str(FEED_FIXTURES / "atom_regulator.xml").encode(), "https://x.test/")
    assert parsed.entries == [] and not parsed.usable


def test_entity_expansion_bomb_is_cut_and_entries_kept():
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">' for level in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel>'
        "<title>&lol9;</title><item><title>Bitcoin</title><link>https://a.test/btc</link></item>"
        "</channel></rss>"
    ).encode()
    parsed = parse_feed("x", body, "https://a.test/feed")
    assert parsed.bozo and "amplification" in parsed.error
    assert len(parsed.title or "") < 100  # the billion "lol"s were never expanded
    assert [entry.url for entry in parsed.entries] == ["https://a.test/btc"]


def test_external_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("api-key-123", encoding="utf-8")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{secret.as_uri()}">]>'
        '<rss version="2.0"><channel><title>&xxe;</title>'
        "<item><title>x</title><link>https://a.test/x</link></item></channel></rss>"
    ).encode()
    parsed = parse_feed("x", body, "https://a.test/feed")
    assert "api-key-123" not in (parsed.title or "")
    assert len(parsed.entries) == 1


def test_repository_feeds_yaml_is_valid():
    config = load_config(REPO_ROOT / "feeds.yaml")
    assert 12 <= len(config.feeds) <= 20
    assert all(feed.tags and feed.language for feed in config.feeds)


# -- refresh_feed against a local server ----------------------------------------------------------

RSS = (FEED_FIXTURES / "rss2_crypto_news.xml").read_bytes()


def refresh(server_url: str, state: FeedState, settings: Settings = FAST):
    feed = FeedConfig(name="wire", url=server_url, tags=["crypto"], language="en")

    async def run():
        async with Fetcher(settings) as fetcher:
            return await refresh_feed(fetcher, feed, state)

    return asyncio.run(run())


def test_refresh_then_304_with_stored_validators(http_server, store):
    def feed(request):
        if request.headers.get("if-none-match") == '"rev-7"':
            return Response(304, {"ETag": '"rev-7"'})
        headers = {"Content-Type": "application/rss+xml", "ETag": '"rev-7"',
                   "Last-Modified": "Fri, 06 Feb 2026 01:20:00 GMT"}
        return Response(200, headers, RSS)

    http_server.route("/feed", feed)
    url = http_server.url("/feed")
    first = refresh(url, store.feed_state("wire", url))
    assert first.error is None and not first.not_modified
    assert len(first.entries) == 2 and first.state.entries_seen == 2
    assert first.state.etag == '"rev-7"'
    assert first.state.last_modified == "Fri, 06 Feb 2026 01:20:00 GMT"
    assert first.state.consecutive_failures == 0 and first.state.last_success_at
    store.save_feed_state(first.state)

    second = refresh(url, store.feed_state("wire", url))
    assert second.not_modified and second.entries == [] and second.error is None
    assert http_server.requests[-1].headers["if-none-match"] == '"rev-7"'
    assert http_server.requests[-1].headers["if-modified-since"] == first.state.last_modified
    assert second.state.etag == '"rev-7"'


def test_unchanged_body_is_detected_when_validators_are_ignored(http_server, store):
    http_server.route("/feed", Response(200, {"Content-Type": "application/rss+xml"}, RSS))
    url = http_server.url("/feed")
    first = refresh(url, store.feed_state("wire", url))
    assert len(first.entries) == 2 and first.state.body_hash
    store.save_feed_state(first.state)
    second = refresh(url, store.feed_state("wire", url))
    assert second.not_modified and second.entries == []
    assert second.state.body_hash == first.state.body_hash


def test_failures_are_counted_and_a_success_resets_them(http_server, store):
    http_server.route("/feed", sequence(Response(404), Response(404), Response(
        200, {"Content-Type": "application/rss+xml"}, RSS)))
    url = http_server.url("/feed")
    for expected_failures in (1, 2):
        result = refresh(url, store.feed_state("wire", url))
        assert result.error == "http_404" and result.entries == []
        assert result.state.consecutive_failures == expected_failures
        assert result.state.last_error == "http_404" and result.state.last_success_at is None
        store.save_feed_state(result.state)
    recovered = refresh(url, store.feed_state("wire", url))
    assert recovered.error is None and len(recovered.entries) == 2
    assert recovered.state.consecutive_failures == 0 and recovered.state.last_error is None
    assert datetime.fromisoformat(recovered.state.last_success_at.replace("Z", "+00:00"))


def test_malformed_feed_keeps_recovered_entries_with_a_warning(http_server, store):
    body = (FEED_FIXTURES / "bozo_truncated.xml").read_bytes()
    http_server.route("/feed", Response(200, {"Content-Type": "application/rss+xml"}, body))
    url = http_server.url("/feed")
    result = refresh(url, store.feed_state("wire", url))
    assert result.error is None and result.warning.startswith("bozo: ")
    assert len(result.entries) == 2
    assert result.state.consecutive_failures == 0 and result.state.last_error == result.warning


def test_unusable_feed_is_a_failure_and_keeps_no_validators(http_server, store):
    page = (FEED_FIXTURES / "not_a_feed.html").read_bytes()
    http_server.route("/feed", Response(200, {"Content-Type": "text/html", "ETag": '"x"'}, page))
    url = http_server.url("/feed")
    result = refresh(url, store.feed_state("wire", url))
    assert result.error.startswith("unusable_feed") and result.entries == []
    assert result.state.consecutive_failures == 1
    assert result.state.etag is None and result.state.body_hash is None


def test_unreachable_feed_is_recorded_not_raised(store):
    url = "http://169.254.169.254/feed.xml"
    result = refresh(url, store.feed_state("wire", url), Settings(retries=0))
    assert result.error == "refused_private_address"
    store.save_feed_state(result.state)
    [saved] = store.feed_states()
    assert saved.consecutive_failures == 1 and saved.last_error == "refused_private_address"

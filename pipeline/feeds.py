"""Feeds: parse fetched bytes into normalised `FeedEntry` records, and refresh one feed's state.

`parse_feed` never touches the network or the disk (feedparser is handed a byte stream, never a
string it might take for a URL or a path). A bozo feed keeps whatever entries feedparser recovered
and says what was wrong; a feed with nothing usable says why.

`refresh_feed` is the one place that knows a feed's HTTP life: conditional GET with the stored
validators, a body hash for servers that ignore them, and the health counters kept in `FeedState`.
It returns the new state; saving it is the caller's job (`Store.save_feed_state`).
"""

from __future__ import annotations

import calendar
import hashlib
import io
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime
from html import unescape
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import feedparser

from pipeline.config import FeedConfig
from pipeline.dedup import canonicalize_url
from pipeline.records import FeedEntry, FeedRefresh, FeedState, ParsedFeed
from pipeline.times import now_utc, utc_iso

if TYPE_CHECKING:
    from pipeline.fetch import Fetcher

log = logging.getLogger(__name__)


def _entry_link(entry: Any, base_url: str) -> str | None:
    candidates = [entry.get("link")]
    candidates += [
        link.get("href") for link in entry.get("links", []) if link.get("rel") == "alternate"
    ]
    if entry.get("guidislink") or str(entry.get("id", "")).startswith(("http://", "https://")):
        candidates.append(entry.get("id"))
    for candidate in candidates:
        if candidate and candidate.strip():
            link = urljoin(base_url, candidate.strip())
            if urlsplit(link).scheme in ("http", "https"):
                return link
    return None


def _entry_time(entry: Any) -> datetime | None:
    # feedparser gives struct_time already converted to UTC.
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def _plain_text(html_text: str | None) -> str | None:
    if not html_text:
        return None
    text = _SPACE.sub(" ", unescape(_TAG.sub(" ", html_text))).strip()
    return text or None


_ITEM = re.compile(rb"<((?:[\w-]+:)?(?:item|entry))\b[^>]*>.*?</\1\s*>", re.S | re.I)
_ITEM_LABEL = re.compile(rb"<(?:[\w-]+:)?(?:guid|id|link|title)\b[^>]*>\s*([^<]{1,200})", re.I)


def parse_feed(
    feed_name: str, body: bytes, base_url: str, content_type: str | None = None
) -> ParsedFeed:
    """Parse RSS/Atom bytes into normalised entries (deduplicated by canonical URL).

    Where feedparser fails on the whole body (one entry holding a lone surrogate is enough), the
    entries are parsed one by one, each inside the feed's own head and tail: the bad ones are
    recorded in `skipped` with their reason, the rest are kept.
    """
    try:
        parsed = _feedparser(body, base_url, content_type)
    except Exception as error:  # feedparser is lenient, but a crash must not end the run
        log.warning("feedparser failed on %s (%s: %s); parsing entry by entry",
                    feed_name, type(error).__name__, error)
        return _parse_entry_by_entry(feed_name, body, base_url, content_type, error)
    result = ParsedFeed(feed_name, title=parsed.feed.get("title"), bozo=bool(parsed.bozo))
    if parsed.bozo:
        exception = parsed.get("bozo_exception")
        result.error = f"bozo: {type(exception).__name__}: {exception}"[:300]
    _add_entries(result, parsed.entries, base_url, set())
    if not result.entries and not parsed.get("version"):  # nothing RSS/Atom-like in the body
        why = result.error.removeprefix("bozo: ") if result.error else "no RSS or Atom root element"
        result.usable, result.title, result.error = False, None, f"unusable_feed: {why}"
    return result


def _feedparser(body: bytes, base_url: str, content_type: str | None):
    # Without a content type feedparser flags every feed bozo; XML rules then find the charset.
    headers = {"content-location": base_url, "content-type": content_type or "application/xml"}
    return feedparser.parse(io.BytesIO(body), response_headers=headers)


def _add_entries(result: ParsedFeed, entries, base_url: str, seen: set[str]) -> None:
    for entry in entries:
        label = entry.get("id") or entry.get("title") or "?"
        link = _entry_link(entry, base_url)
        if link is None:
            result.skipped.append((label, "no_link"))
            continue
        canonical = canonicalize_url(link)
        if canonical in seen:
            result.skipped.append((label, "repeated_in_feed"))
            continue
        seen.add(canonical)
        guid = (entry.get("id") or "").strip() or None
        result.entries.append(
            FeedEntry(
                feed_name=result.feed_name,
                url=link,
                canonical_url=canonical,
                guid=guid,
                title=_plain_text(entry.get("title")),
                published_at=_entry_time(entry),
                summary=_plain_text(entry.get("summary")),
            )
        )


def _parse_entry_by_entry(
    feed_name: str, body: bytes, base_url: str, content_type: str | None, error: Exception
) -> ParsedFeed:
    reason = f"{type(error).__name__}: {error}"[:300]
    items = list(_ITEM.finditer(body))
    if not items:
        return ParsedFeed(feed_name, error=f"unusable_feed: {reason}", usable=False)
    head, tail = body[: items[0].start()], body[items[-1].end() :]
    result = ParsedFeed(feed_name, bozo=True, error=f"bozo: {reason}")
    seen: set[str] = set()
    for item in items:
        try:
            parsed = _feedparser(head + item.group(0) + tail, base_url, content_type)
        except Exception as item_error:  # noqa: BLE001  (the same failure, entry by entry)
            found = _ITEM_LABEL.search(item.group(0))
            label = found.group(1).decode("utf-8", "replace").strip() if found else "?"
            result.skipped.append((label, f"unparseable_entry: {type(item_error).__name__}"))
            continue
        result.title = result.title or parsed.feed.get("title")
        _add_entries(result, parsed.entries, base_url, seen)
    return result


def body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


async def refresh_feed(fetcher: Fetcher, feed: FeedConfig, state: FeedState) -> FeedRefresh:
    """Fetch one feed conditionally, parse it if it changed, and update its health."""
    url = str(feed.url)
    now = utc_iso(now_utc())
    result = await fetcher.fetch(
        url, etag=state.etag, last_modified=state.last_modified, accept="feed"
    )
    state = replace(state, url=url, last_fetched_at=now)

    def failed(reason: str) -> FeedRefresh:
        failed_state = replace(
            state, consecutive_failures=state.consecutive_failures + 1, last_error=reason
        )
        return FeedRefresh(feed.name, [], failed_state, error=reason)

    def succeeded(**changes: Any) -> FeedState:
        return replace(state, last_success_at=now, consecutive_failures=0, **changes)

    if result.not_modified:
        return FeedRefresh(feed.name, [], succeeded(last_error=None), not_modified=True)
    if result.error:
        return failed(result.error)
    validators = {
        "etag": result.headers.get("etag"),
        "last_modified": result.headers.get("last-modified"),
    }
    digest = body_hash(result.body)
    if digest == state.body_hash:  # a server that ignores validators sent the same bytes again
        return FeedRefresh(
            feed.name, [], succeeded(last_error=None, **validators), not_modified=True
        )
    content_type = result.headers.get("content-type")
    parsed = parse_feed(feed.name, result.body, result.final_url, content_type)
    if not parsed.usable:
        # Validators and hash are not kept, so a broken feed is parsed (and reported) again.
        return failed(parsed.error or "unusable_feed")
    new_state = succeeded(
        body_hash=digest, last_error=parsed.error, entries_seen=len(parsed.entries), **validators
    )
    return FeedRefresh(
        feed.name, parsed.entries, new_state, warning=parsed.error, skipped=parsed.skipped
    )

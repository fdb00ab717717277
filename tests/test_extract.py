"""Article extraction: one parametrized test over the fixture pages, plus bad input and dates.

A fixture is `tests/fixtures/extraction/<name>.html` with `<name>.json` beside it: `url`, `title`,
`published_at` (ISO, UTC, or null), `must_contain`, `must_not_contain`, and optionally `language`,
`authors`, `site_name`, `canonical_url`, `reject_reason`, `as_bytes` (pass the file's raw bytes
instead of UTF-8 text). Adding a case means adding the two files.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.extract import (
    MAX_HTML_CHARS,
    detect_language,
    extract_article,
    find_published_at,
    headed_text,
    parse_date,
)

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
CASES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def test_fixture_suite_is_large_enough() -> None:
    assert len(CASES) >= 15
    assert all((FIXTURES / f"{name}.html").is_file() for name in CASES)


@pytest.mark.parametrize("name", CASES)
def test_fixture_page(name: str) -> None:
    expected = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    page = FIXTURES / f"{name}.html"
    html: str | bytes = page.read_bytes() if expected.get("as_bytes") else page.read_text("utf-8")

    article = extract_article(html, expected["url"])

    assert article.reject_reason == expected.get("reject_reason")
    if article.reject_reason:
        assert article.text == ""
    else:
        assert article.title == expected["title"]
        published = expected["published_at"]
        assert article.published_at == (datetime.fromisoformat(published) if published else None)
        if article.published_at is not None:
            assert article.published_at.utcoffset().total_seconds() == 0
        assert "\n\n" in article.text  # paragraphs are kept apart
    for snippet in expected.get("must_contain", []):
        assert snippet in article.text, snippet
    for snippet in expected.get("must_not_contain", []):
        assert snippet not in article.text, snippet
    for key in ("language", "authors", "site_name", "canonical_url"):
        if key in expected:
            assert getattr(article, key) == expected[key], key


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        ("", "empty_page"),
        (b"", "empty_page"),
        ("   \n\t ", "empty_page"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" + bytes(range(256)) * 8, "not_html"),
        (gzip.compress(b"<html><body><p>zipped</p></body></html>" * 50), "not_html"),
        ('{"price": 60000, "asset": "BTC"}', "not_html"),
        ("<html><head><title>Markets</title></head><body></body></html>", "no_article_text"),
    ],
    ids=["empty-str", "empty-bytes", "whitespace", "png", "gzip", "json", "no-body-text"],
)
def test_bad_input_is_rejected_with_a_reason(page: str | bytes, reason: str) -> None:
    article = extract_article(page, "https://example.com/x")
    assert article.reject_reason == reason
    assert article.text == ""
    assert article.url == "https://example.com/x"


def _story_page(paragraphs: int) -> str:
    body = "".join(
        f"<p>Paragraph {i}: bitcoin miners sold 1,200 BTC as hash price fell to a record low and "
        f"the network difficulty rose by 4.3 percent over the two weeks to Friday.</p>"
        for i in range(paragraphs)
    )
    return f"<html><head><title>Miners sell</title></head><body><article>{body}</article></body>"


def test_truncated_html_still_yields_the_text_before_the_cut() -> None:
    page = _story_page(12)
    cut = page[: page.index("Paragraph 9") + 40]
    article = extract_article(cut, "https://example.com/miners")
    assert article.reject_reason is None
    assert "Paragraph 8: bitcoin miners sold 1,200 BTC" in article.text
    assert "Paragraph 10" not in article.text


def test_gigantic_page_is_truncated_at_the_cap() -> None:
    # Far beyond both caps (characters, tags): the story comes out, the tail is never parsed.
    page = _story_page(6) + "<div><p>filler text</p></div>" * (MAX_HTML_CHARS // 15)
    assert len(page) > 1.5 * MAX_HTML_CHARS
    article = extract_article(page, "https://example.com/huge")
    assert article.reject_reason is None
    assert "Paragraph 5: bitcoin miners" in article.text
    as_bytes = extract_article(page.encode(), "https://example.com/huge")
    assert as_bytes.text == article.text


def test_undecodable_bytes_without_charset_are_decoded_not_crashed() -> None:
    page = _story_page(4).replace("miners", "mineurs é").encode("latin-1")
    article = extract_article(page, "https://example.com/latin")
    assert article.reject_reason is None
    assert "mineurs é" in article.text


# -- dates ----------------------------------------------------------------------------------------


def _dated_page(*, ld: str = "", meta: str = "", time: str = "", byline: str = "") -> str:
    script = (
        f'<script type="application/ld+json">{{"@type": "NewsArticle", "datePublished": "{ld}"}}'
        "</script>"
        if ld
        else ""
    )
    meta_tag = f'<meta property="article:published_time" content="{meta}">' if meta else ""
    time_tag = f'<time datetime="{time}">then</time>' if time else ""
    byline_tag = f'<p class="byline">By Ana Ruiz. Published {byline}</p>' if byline else ""
    return (
        f"<html><head>{script}{meta_tag}</head><body>{time_tag}{byline_tag}"
        "<p>Body.</p></body></html>"
    )


URL = "https://news.example.com/2021/03/04/story"
TRUST_ORDER = [
    (dict(ld="2024-05-01T10:00:00Z", meta="2023-01-01", time="2022-01-01", byline="May 9, 2020"),
     datetime(2024, 5, 1, 10, tzinfo=UTC), "json_ld"),
    (dict(meta="2023-01-02T08:30:00-05:00", time="2022-01-01", byline="May 9, 2020"),
     datetime(2023, 1, 2, 13, 30, tzinfo=UTC), "meta"),
    (dict(time="2022-01-03T12:00:00+02:00", byline="May 9, 2020"),
     datetime(2022, 1, 3, 10, tzinfo=UTC), "time"),
    (dict(byline="May 9, 2020 at 3:15 p.m. UTC"), datetime(2020, 5, 9, 15, 15, tzinfo=UTC),
     "byline"),
    ({}, datetime(2021, 3, 4, tzinfo=UTC), "url"),
]


@pytest.mark.parametrize(("sources", "expected", "origin"), TRUST_ORDER,
                         ids=[case[2] for case in TRUST_ORDER])
def test_date_sources_in_order_of_trust(sources: dict, expected: datetime, origin: str) -> None:
    from pipeline.extract import _parse

    tree = _parse(_dated_page(**sources))
    assert find_published_at(tree, URL) == (expected, origin)


def test_an_unparseable_trusted_date_falls_through_to_the_next_source() -> None:
    from pipeline.extract import _parse

    tree = _parse(_dated_page(ld="sometime last week", meta="2023-01-02T08:30:00Z"))
    assert find_published_at(tree, URL) == (datetime(2023, 1, 2, 8, 30, tzinfo=UTC), "meta")


def test_no_date_anywhere_gives_none() -> None:
    from pipeline.extract import _parse

    assert find_published_at(_parse(_dated_page()), "https://x.com/a") == (None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-06T09:41:00+09:00", datetime(2026, 2, 6, 0, 41, tzinfo=UTC)),
        ("2026-02-06", datetime(2026, 2, 6, tzinfo=UTC)),
        ("2026-02-06 09:41:00", datetime(2026, 2, 6, 9, 41, tzinfo=UTC)),
        ("Fri, 06 Feb 2026 09:41:00 GMT", datetime(2026, 2, 6, 9, 41, tzinfo=UTC)),
        ("1770370860", datetime(2026, 2, 6, 9, 41, tzinfo=UTC)),
        ("Feb. 6, 2026 4:41 AM EST", datetime(2026, 2, 6, 9, 41, tzinfo=UTC)),
        ("May 9, 2020 3:15 pm GMT+0530", datetime(2020, 5, 9, 9, 45, tzinfo=UTC)),
        ("Fri, 06 Feb 2026 09:41:00 +0100", datetime(2026, 2, 6, 8, 41, tzinfo=UTC)),
        ("6 février 2026", datetime(2026, 2, 6, tzinfo=UTC)),
        ("2026년 2월 6일", datetime(2026, 2, 6, tzinfo=UTC)),
        ("1887-01-01", None),
        ("not a date", None),
        ("", None),
    ],
)
def test_parse_date(value: str, expected: datetime | None) -> None:
    assert parse_date(value) == expected


# -- language -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Bitcoin fell below $60,000 on Friday as liquidations swept the derivatives market.",
         "en"),
        ("Der Bitcoin-Kurs ist am Freitag unter 60.000 Dollar gefallen, weil viele Anleger "
         "ihre Positionen schließen mussten.", "de"),
        ("비트코인 가격이 금요일 6만 달러 아래로 떨어지면서 파생상품 시장에서 대규모 청산이 "
         "발생했습니다.", "ko"),
        ("", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        # The extractor's body leaves the headline out: the text read by NLP puts it back.
        ("Miner sells 900 BTC", "The company sold the coins on Monday.",
         "Miner sells 900 BTC\n\nThe company sold the coins on Monday."),
        # A body that opens with the headline (a kicker around it, other punctuation) keeps it once.
        ("Miner sells 900 BTC", "EXCLUSIVE: Miner sells 900 BTC!\n\nThe company sold them.",
         "EXCLUSIVE: Miner sells 900 BTC!\n\nThe company sold them."),
        ("", "The company sold the coins.", "The company sold the coins."),
    ],
)
def test_the_analysed_text_opens_with_the_headline(title: str, body: str, expected: str) -> None:
    assert headed_text(title, body) == expected


def test_a_processed_page_keeps_its_headline_as_the_first_paragraph() -> None:
    from pipeline.processing import extract_page
    from pipeline.records import ArticleStatus, FeedEntry, FetchResult

    body = " ".join(["Regulators in Seoul fined the exchange 3.2 billion won on Tuesday."] * 8)
    page = (f"<html><head><title>Exchange fined in Seoul | Ledger Daily</title></head><body>"
            f"<article><h1>Exchange fined in Seoul</h1><p>{body}</p></article></body></html>")
    url = "https://ledger.example/news/fined"
    entry = FeedEntry(feed_name="local", url=url, canonical_url=url)
    extracted = extract_page(entry, FetchResult(url=url, final_url=url, body=page.encode()))
    assert extracted.status is ArticleStatus.PROCESSED, extracted.reason
    assert extracted.article.title == "Exchange fined in Seoul"
    assert extracted.article.text == f"Exchange fined in Seoul\n\n{body}"
    assert extract_article(page, url).text == body  # the extraction benchmarks' body alone

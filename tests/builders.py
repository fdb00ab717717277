"""Test inputs that several test modules share: the review database (with texts written to
exercise highlighting and escaping), catalysts published into a store, WARC records.

Fixtures built on these live in conftest.py; test modules import the builders and the texts from
here, never from one another.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline.records import (
    Analysis,
    Article,
    ArticleStatus,
    Catalyst,
    Conflict,
    Direction,
    Entity,
    FeedEntry,
    Figure,
)
from pipeline.store import Store

# -- the review database ------------------------------------------------------------------------

MODEL = "newsignal-direction-test-1"
HOSTILE_TITLE = "<script>alert('title')</script> Exchange <b>hacked</b>"

BTC_TEXT = (
    "Bitcoin fell to $60,000 on Friday before recovering to $65,000, as sellers dominated "
    "derivatives markets.\n\n"
    "U.S. spot Bitcoin ETFs posted an outflow of $258 million on Thursday, the third straight day "
    "of redemptions.\n\n"
    "The crypto market lost $2.65 billion in liquidations over 24 hours, while another tracker "
    "put the figure at $2.65 million.\n\n"
    "The Fear and Greed Index dropped to 5, a level last seen during the 2022 collapse.\n\n"
    "Analysts at Binance Research said a weaker dollar could support a rebound later this month."
)
ETH_TEXT = (
    "Ether climbed 8% to $3,400 after staking deposits rose to a record 34 million ETH.\n\n"
    "Spot Ether ETFs took in $91 million on Tuesday, their best day since January."
)
HOSTILE_TEXT = (
    "Attackers drained $40 million from the exchange <script>alert('text')</script> hot wallet.\n\n"
    "The page said <img src=x onerror=alert(1)> and \"quotes\" & ampersands stay text."
)
QUIET_TEXT = "The conference opens in Lisbon next week with panels on custody and tax rules."


def span(text: str, snippet: str, after: int = 0) -> tuple[int, int]:
    start = text.index(snippet, after)
    return start, start + len(snippet)


def entity(text: str, snippet: str, label: str, ticker: str | None = None) -> Entity:
    start, end = span(text, snippet)
    return Entity(snippet, label, start, end, ticker)


def figure(text: str, snippet: str, value: float, unit: str, metric: str, **extra) -> Figure:
    start, end = span(text, snippet)
    return Figure(snippet, start, end, value, unit, metric, **extra)


def catalyst(
    text: str, sentence: str, category: str, direction: Direction, confidence: float,
    assets: list[str], figures: list[Figure] = (),
) -> Catalyst:
    start, end = span(text, sentence)
    return Catalyst(sentence, start, end, category, direction, confidence, assets,
                    list(figures), MODEL)


def btc_analysis() -> Analysis:
    t = BTC_TEXT
    low = figure(t, "$60,000", 60000, "USD", "price", asset="BTC")
    high = figure(t, "$65,000", 65000, "USD", "price", asset="BTC")
    outflow = figure(t, "an outflow of $258 million", -2.58e8, "USD", "etf_flow", asset="BTC",
                     period="Thursday")
    liquidations = figure(t, "$2.65 billion", 2.65e9, "USD", "liquidations", period="24h")
    liquidations_small = figure(t, "$2.65 million", 2.65e6, "USD", "liquidations", period="24h")
    start = t.index("dropped to 5") + len("dropped to ")
    fear = Figure("5", start, start + 1, 5, "index_points", "fear_greed")
    figures = [low, high, outflow, liquidations, liquidations_small, fear]
    return Analysis(
        entities=[
            entity(t, "Bitcoin", "ASSET", "BTC"),
            entity(t, "Bitcoin ETFs", "ASSET", "BTC"),
            entity(t, "Binance Research", "COMPANY"),
            entity(t, "Fear and Greed Index", "INDICATOR"),
        ],
        figures=figures,
        catalysts=[
            catalyst(t, t[: t.index("\n")], "price_action", Direction.BEARISH, 0.91, ["BTC"],
                     [low, high]),
            catalyst(t, "U.S. spot Bitcoin ETFs posted an outflow of $258 million on Thursday, "
                     "the third straight day of redemptions.", "etf_flows", Direction.BEARISH,
                     0.88, ["BTC"], [outflow]),
            catalyst(t, "The Fear and Greed Index dropped to 5, a level last seen during the 2022 "
                     "collapse.", "market_sentiment", Direction.BEARISH, 0.74, ["BTC"], [fear]),
            catalyst(t, "Analysts at Binance Research said a weaker dollar could support a rebound"
                     " later this month.", "macro", Direction.BULLISH, 0.67, ["BTC"]),
        ],
        conflicts=[Conflict("liquidations", "24h", liquidations, liquidations_small,
                            "values differ 1000x")],
    )


def eth_analysis() -> Analysis:
    t = ETH_TEXT
    inflow = figure(t, "$91 million", 9.1e7, "USD", "etf_flow", asset="ETH", period="Tuesday")
    price = figure(t, "$3,400", 3400, "USD", "price", asset="ETH")
    return Analysis(
        entities=[entity(t, "Ether", "ASSET", "ETH")],
        figures=[price, inflow],
        catalysts=[
            catalyst(t, t[: t.index("\n")], "price_action", Direction.BULLISH, 0.93, ["ETH"],
                     [price]),
            catalyst(t, t[t.index("Spot Ether"):], "etf_flows", Direction.BULLISH, 0.9, ["ETH"],
                     [inflow]),
        ],
    )


def hostile_analysis() -> Analysis:
    t = HOSTILE_TEXT
    stolen = figure(t, "$40 million", 4e7, "USD", "hack_amount")
    return Analysis(
        entities=[entity(t, "<script>alert('text')</script>", "COMPANY")],
        figures=[stolen],
        catalysts=[catalyst(t, t[: t.index("\n")], "security", Direction.BEARISH, 0.8, [],
                            [stolen]),
                   catalyst(t, t[t.index("The page"):], "none", Direction.NEUTRAL, 0.55, [])],
    )


def save(store: Store, slug: str, source: str, title: str, text: str, published: datetime,
         analysis: Analysis | None, status: ArticleStatus = ArticleStatus.PROCESSED) -> int:
    url = f"https://news.example.com/{slug}"
    entry = FeedEntry(source, url, url, guid=slug, title=title, published_at=published)
    article = Article(url, title=title, text=text, published_at=published, language="en",
                      authors=["Dana Reyes"])
    return store.save_article(entry, article, status, analysis=analysis, model=MODEL)


def build_review_db(path: Path) -> dict[str, int]:
    """A small newsignal database for the review tests; returns article ids by name."""
    with Store.open(path) as store:
        ids = {
            "btc": save(store, "btc-slides", "fxstreet",
                        "Bitcoin slides to $60,000 as ETF outflows deepen", BTC_TEXT,
                        datetime(2026, 2, 6, 9, 30, tzinfo=UTC), btc_analysis()),
            "eth": save(store, "ether-rebounds", "coindesk",
                        "Ether rebounds as staking deposits hit a record", ETH_TEXT,
                        datetime(2026, 2, 10, 14, 0, tzinfo=UTC), eth_analysis()),
            "hostile": save(store, "exchange-hacked", "fxstreet", HOSTILE_TITLE, HOSTILE_TEXT,
                            datetime(2026, 2, 8, 7, 15, tzinfo=UTC), hostile_analysis()),
            "quiet": save(store, "lisbon-conference", "coindesk",
                          "Crypto conference opens in Lisbon", QUIET_TEXT,
                          datetime(2026, 1, 20, 12, 0, tzinfo=UTC), Analysis()),
            "failed": save(store, "gone", "coindesk", "A page that could not be fetched", "",
                           datetime(2026, 2, 9, tzinfo=UTC), None, ArticleStatus.FAILED),
        }
    return ids


HEADED_TITLE = "Ether rebounds as staking deposits hit a record"


def build_headed_db(path: Path) -> int:
    """A database of one article stored as a run stores it, headline first
    (`extract.headed_text`), with a catalyst on the headline; returns its id."""
    from pipeline.extract import headed_text

    text = headed_text(HEADED_TITLE, ETH_TEXT)
    analysis = Analysis(catalysts=[
        catalyst(text, HEADED_TITLE, "onchain", Direction.BULLISH, 0.8, ["ETH"]),
        catalyst(text, "Spot Ether ETFs took in $91 million", "etf_flows", Direction.BULLISH,
                 0.9, ["ETH"]),
    ])
    with Store.open(path) as store:
        return save(store, "ether-headed", "coindesk", HEADED_TITLE, text,
                    datetime(2026, 2, 10, tzinfo=UTC), analysis)


# -- catalysts in a store, for the signal and the backtest ----------------------------------------


class Said(NamedTuple):
    """One catalyst sentence; `figure` is (snippet, metric, value) of a figure it cites."""

    sentence: str
    category: str
    direction: Direction
    confidence: float
    assets: tuple[str, ...]
    figure: tuple[str, str, float] | None = None


def publish(
    store: Store, source: str, slug: str, at: datetime, said: list[Said],
    duplicate_of: int | None = None,
) -> int:
    text = "\n\n".join(item.sentence for item in said)
    figures: list[Figure] = []
    catalysts: list[Catalyst] = []
    for item in said:
        start = text.index(item.sentence)
        cited = []
        if item.figure is not None:
            snippet, metric, value = item.figure
            figure_start = start + item.sentence.index(snippet)
            cited = [Figure(snippet, figure_start, figure_start + len(snippet), value, "USD",
                            metric)]
            figures.extend(cited)
        catalysts.append(Catalyst(
            item.sentence, start, start + len(item.sentence), item.category, item.direction,
            item.confidence, list(item.assets), cited, "direction@test",
        ))
    url = f"https://{source}.example/{slug}"
    return store.save_article(
        FeedEntry(feed_name=source, url=url, canonical_url=url),
        Article(url=url, title=slug, text=text, published_at=at, language="en"),
        ArticleStatus.DUPLICATE if duplicate_of else ArticleStatus.PROCESSED,
        analysis=Analysis(figures=figures, catalysts=catalysts),
        duplicate_of=duplicate_of,
    )


OUTFLOW = ("an outflow of $258 million", "etf_flow", -2.58e8)


# -- WARC records ---------------------------------------------------------------------------------


def warc_record(url: str, body: bytes, *, gzip_member: bool = True, record_type: str = "response",
                content_type: str = "text/html; charset=utf-8", status: str = "200 OK") -> bytes:
    """One WARC record as its own bytes (one gzip member when `gzip_member`)."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=gzip_member)
    if record_type == "response":
        headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
        record = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                           http_headers=headers)
    else:
        record = writer.create_warc_record(url, record_type, payload=io.BytesIO(body))
    writer.write_record(record)
    return buffer.getvalue()

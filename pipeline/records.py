"""Typed records passed between the stages.

Every stage takes and returns these; nothing here imports other project modules. Character offsets
(`start_char`, `end_char`) always index into `Article.text`, so `text[start_char:end_char]` is the
evidence a researcher sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ArticleStatus(StrEnum):
    """What became of one feed entry; stored with every article row."""

    PROCESSED = "processed"  # extracted and analysed by the NLP stages
    DUPLICATE = "duplicate"  # same story as an earlier article (see duplicate_of)
    SKIPPED_LANGUAGE = "skipped_language"  # not English: stored, not analysed
    REJECTED = "rejected"  # fetched but unusable (no article text, not HTML, too large, ...)
    FAILED = "failed"  # could not be fetched (404, timeout, refused address, ...)


class Direction(StrEnum):
    BEARISH = "bearish"
    BULLISH = "bullish"
    NEUTRAL = "neutral"


@dataclass(slots=True)
class FeedEntry:
    """One item of a feed, normalised."""

    feed_name: str
    url: str  # the link as the feed gives it
    canonical_url: str  # tracking parameters and fragment removed
    guid: str | None = None
    title: str | None = None
    published_at: datetime | None = None  # timezone-aware UTC
    summary: str | None = None


@dataclass(slots=True)
class FetchResult:
    """The outcome of one HTTP fetch; `error` is set (and `body` may be empty) when it failed."""

    url: str  # as requested
    final_url: str  # after redirects
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    text: str | None = None  # body decoded with `encoding`
    encoding: str | None = None
    error: str | None = None  # short machine-readable reason, e.g. "http_404", "timeout"
    not_modified: bool = False  # a 304 answer to a conditional GET
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and not self.not_modified


@dataclass(slots=True)
class Article:
    """The story extracted from a page. `text` keeps paragraphs separated by a blank line."""

    url: str
    title: str = ""
    text: str = ""
    published_at: datetime | None = None  # timezone-aware UTC
    authors: list[str] = field(default_factory=list)
    language: str | None = None
    canonical_url: str | None = None
    site_name: str | None = None
    reject_reason: str | None = None  # why no usable text was found, else None


@dataclass(slots=True)
class Entity:
    text: str
    label: str  # ASSET, EXCHANGE, COMPANY, PERSON, GOV_BODY, LAW, INDICATOR, COUNTRY, or spaCy's
    start_char: int
    end_char: int
    ticker: str | None = None  # canonical ticker for assets and listed companies


@dataclass(slots=True)
class Figure:
    """A number stated in the text, normalised: "an outflow of $258 million" -> etf_flow, -2.58e8 USD."""

    text: str
    start_char: int
    end_char: int
    value: float
    unit: str  # USD, EUR, percent, ratio, index_points, count, or an asset ticker
    metric: str = "other"  # controlled vocabulary in models/metrics.yaml
    asset: str | None = None
    period: str | None = None
    qualifier: str | None = None  # more than, roughly, above, below, up to
    value_high: float | None = None  # upper end of a range ("$1.2 million to $3.5 million")
    flag: str | None = None  # "implausible: ..." when too large to be meant (models/metrics.yaml)


@dataclass(slots=True)
class Conflict:
    """Two figures of one article with the same metric and period that disagree by orders of magnitude."""

    metric: str
    period: str | None
    first: Figure
    second: Figure
    reason: str


@dataclass(slots=True)
class Catalyst:
    """A sentence (or clause) stating a market-moving factor, with its judgement and evidence."""

    sentence: str
    start_char: int
    end_char: int
    category: str  # models/taxonomy.yaml
    direction: Direction
    confidence: float  # softmax probability of `direction`
    assets: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    model: str = ""  # name and version of the model that judged it
    event_type: str | None = None  # models/events.yaml; None for a model without event outputs


@dataclass(slots=True)
class DatedCatalyst:
    """A stored or exported catalyst with its article's time and source: what the daily signal and
    the backtest read, whether it comes from the store or from a Parquet dataset."""

    at: datetime  # timezone-aware UTC: the article's publication (the store: else its fetch)
    source: str  # the feed it came from
    category: str
    direction: Direction
    confidence: float
    assets: list[str] = field(default_factory=list)
    # (metric, value) of each figure it cites: the signal's novelty rule compares these. Empty
    # where the figure links are unknown (the catalysts export does not carry them).
    figure_keys: list[tuple[str, float]] = field(default_factory=list)
    event_type: str | None = None  # None where the source has no event types


@dataclass(slots=True)
class Analysis:
    """Everything the NLP stages found in one article's text."""

    entities: list[Entity] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    catalysts: list[Catalyst] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


@dataclass(slots=True)
class AnalysisFailure:
    """Why the NLP stages gave no analysis for one article: `internal_error: <ExceptionType>`
    (a bug met on this text; traceback in the log), `time_budget_exceeded` or `text_too_long`.
    The article is stored failed with this reason, and the run goes on."""

    reason: str


@dataclass(slots=True)
class StoredArticle:
    """An article as the store (or a backfill's `articles` dataset) holds it: the article-level
    fields every export row carries. `canonical_url` is the address it is kept under."""

    id: int
    url: str
    canonical_url: str
    source: str
    title: str = ""
    published_at: datetime | None = None  # timezone-aware UTC
    language: str | None = None
    status: ArticleStatus = ArticleStatus.PROCESSED
    reject_reason: str | None = None
    duplicate_of: int | None = None
    text: str = ""


@dataclass(slots=True)
class ArchivePage:
    """One archived HTTP response (a WARC `response` record, or a url+html row of Parquet/JSONL).

    `ordinal` is the input file's place in the backfill's input list and `position` the record's
    place in that file: together they are the page's place in input order, which decides which of
    two copies of a story is the original.
    """

    ordinal: int
    position: int
    url: str
    body: bytes
    status: int | None = None  # HTTP status, None when the archive has none (Parquet/JSONL)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    offset: int | None = None  # byte offset of the record in its file (WARC only)


@dataclass(slots=True)
class ArchiveProblem:
    """Part of an input file that could not be read (a truncated gzip member, a bad row, ...)."""

    path: str
    offset: int | None  # byte offset (WARC) or row number (Parquet/JSONL) where it starts
    reason: str


@dataclass(slots=True)
class RunReport:
    """The record of one `newsignal run`."""

    run_id: int | None
    started_at: datetime
    finished_at: datetime | None = None
    counts: dict[str, int] = field(default_factory=dict)  # per ArticleStatus value, plus "new"
    feed_errors: dict[str, str] = field(default_factory=dict)  # feed name -> reason
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)
    feeds: int = 0  # enabled feeds refreshed
    interrupted: bool = False

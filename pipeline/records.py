"""Typed records passed between the stages, and every other record that crosses a module
boundary (what the store gives back, the daily signal's rows, the review app's views of a tag).

Every stage takes and returns these; nothing here imports other project modules. Character offsets
(`start_char`, `end_char`) always index into `Article.text`, so `text[start_char:end_char]` is the
evidence a researcher sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any


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
class ParsedFeed:
    """A feed's bytes parsed: its entries, and what was wrong with it."""

    feed_name: str
    entries: list[FeedEntry] = field(default_factory=list)
    title: str | None = None
    error: str | None = None  # why the feed is unusable, or what was wrong with a bozo one
    bozo: bool = False
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (entry id or title, reason)
    usable: bool = True  # False when nothing could be read from the body (`error` says why)


@dataclass(slots=True)
class FeedState:
    """A feed's HTTP validators and health, kept by the store between runs. Timestamps are
    ISO 8601 UTC text (`pipeline.times.utc_iso`)."""

    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_fetched_at: str | None = None
    last_success_at: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    entries_seen: int = 0


@dataclass(slots=True)
class FeedRefresh:
    """What one refresh of a feed produced. `state` is the feed's new state, to be saved."""

    feed_name: str
    entries: list[FeedEntry]
    state: FeedState
    error: str | None = None  # the feed could not be read this time (state counts the failure)
    warning: str | None = None  # read, but not cleanly (a bozo feed whose entries were recovered)
    not_modified: bool = False  # 304, or the same bytes as last time: nothing parsed
    skipped: list[tuple[str, str]] = field(default_factory=list)


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
class ExtractedPage:
    """A fetched page after extraction: what the store needs to record it, before NLP."""

    entry: FeedEntry
    article: Article
    status: ArticleStatus  # PROCESSED means "go on to dedup and NLP"
    reason: str | None = None
    html_hash: str | None = None


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
    confidence: float  # calibrated probability of `direction` (catalysts.py: or the figures')
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
class SignalRow:
    """One (UTC day, asset) of the daily signal."""

    day: date
    asset: str
    catalysts: int  # novel catalysts: bullish + bearish + neutral
    bullish: int
    bearish: int
    neutral: int
    net_score: float  # in [-1, 1], rounded to 6 decimals
    sources: int  # distinct feeds the novel catalysts came from
    top_categories: list[str]  # most frequent first, ties by name, at most signal.TOP_CATEGORIES
    repeats: int  # catalysts left out because their story was already seen


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
    fetched_at: datetime | None = None  # None where unknown (a backfill's dataset, an export)
    authors: list[str] = field(default_factory=list)


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
class StoredTag:
    """One of the model's tags as the store keeps it: the entity, figure or catalyst, with its row
    id (what a reviewer's judgement points at) and the model that found it."""

    id: int
    article_id: int
    tag: Entity | Figure | Catalyst
    model: str

    @property
    def kind(self) -> str:
        """`entity`, `figure` or `catalyst`: the kind a correction names."""
        return type(self.tag).__name__.lower()

    @property
    def evidence(self) -> str:
        """The text the tag stands on: a catalyst's sentence, an entity's or a figure's text."""
        return self.tag.sentence if isinstance(self.tag, Catalyst) else self.tag.text


@dataclass(slots=True)
class StoredConflict:
    """A conflict as the store keeps it: the row ids of its two figures."""

    id: int
    article_id: int
    metric: str
    period: str | None
    first_figure_id: int
    second_figure_id: int
    reason: str


@dataclass(slots=True)
class ArticleTags:
    """The model's tags of one article, each list in text order (conflicts in row order)."""

    entities: list[StoredTag] = field(default_factory=list)
    figures: list[StoredTag] = field(default_factory=list)
    catalysts: list[StoredTag] = field(default_factory=list)
    conflicts: list[StoredConflict] = field(default_factory=list)


@dataclass(slots=True)
class Correction:
    """A reviewer's judgement of a tag (`accept`, `reject`, `correct`) or a catalyst added by hand
    (`add`, no `target_id`). `fields` holds the reviewed values and, under "was", the tag as the
    reviewer saw it; see `pipeline.store.review_queries`."""

    id: int
    article_id: int
    target_kind: str  # entity, figure or catalyst
    target_id: int | None
    action: str
    fields: dict[str, Any]
    reviewer: str
    created_at: datetime


@dataclass(slots=True)
class ArticleFilter:
    """What the review app's article list shows; every field is optional."""

    date_from: date | None = None
    date_to: date | None = None  # inclusive
    source: str | None = None
    asset: str | None = None
    category: str | None = None
    direction: str | None = None
    status: str | None = None  # unreviewed, partly or reviewed
    search: str | None = None  # case-insensitive substring of the title


@dataclass(slots=True)
class ArticleSummary:
    """One line of the review app's article list: tag counts and review progress."""

    id: int
    title: str
    source: str
    url: str
    published: datetime  # published, else fetched
    entities: int
    figures: int
    catalysts: int
    bearish: int
    bullish: int
    conflicts: int
    judged: int  # catalysts and figures with a judgement
    corrections: int  # judgements of any kind
    review_status: str  # unreviewed, partly or reviewed (every catalyst and figure judged)


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


@dataclass(slots=True)
class CategoryCounts:
    """How many catalysts of one category a database holds, per direction."""

    category: str
    bearish: int
    bullish: int
    neutral: int
    total: int


@dataclass(slots=True)
class StoredRun:
    """A run as the store records it (`newsignal status` lists them)."""

    id: int
    started_at: datetime
    finished_at: datetime | None
    status: str  # running, ok, failed, interrupted or crashed
    exit_code: int | None
    counts: dict[str, int] = field(default_factory=dict)
    feed_errors: dict[str, str] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)

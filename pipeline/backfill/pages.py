"""The backfill's one adapter to the nightly per-page path: an archived page in, a `PageOutcome` out.

A page goes through exactly what a fetched page goes through: the fetcher's checks on an answer in
hand (`judge_archived_page`: status, type, size, decoding), `extract_page` (text, date, language),
the dedup keys of `pipeline.dedup` and `pipeline.feeds`, and `Processor.analyze` with the models the
settings name. Only the keys are computed here; which copy of a story is the original is decided
later, over the whole input in input order (`pipeline.backfill.dedup`).

`PageWorker` holds the models; one is built per process (a Ray actor, or the local engine), so
spaCy and the direction model load once. Nothing here touches the disk or the network.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pipeline.backfill.archives import FileEnd
from pipeline.config import Settings
from pipeline.dedup import canonicalize_url, text_hash
from pipeline.fetch import judge_archived_page
from pipeline.processing import Processor, extract_page
from pipeline.records import (
    Analysis,
    AnalysisFailure,
    ArchivePage,
    ArchiveProblem,
    ArticleStatus,
    ExtractedPage,
    FeedEntry,
    FetchResult,
)


@dataclass(slots=True)
class PageOutcome:
    """What the per-page path made of one archived page, before dedup decides its fate."""

    ordinal: int  # input file
    position: int  # record in that file
    entry: FeedEntry  # url, its canonical form, and the site as the source
    page: ExtractedPage
    text_hash: str | None  # of the extracted text, when there is text
    declared_url: str | None  # the page's own rel=canonical, canonicalised
    in_range: bool  # published within --since/--until (undated pages are)
    analysis: Analysis | None = None  # for pages that went on to NLP
    model: str = ""  # the models' version (`Processor.model`) of the worker that made it


def source_name(url: str) -> str:
    """The site a page came from, standing in for the feed name nightly runs record."""
    host = (urlsplit(url).hostname or "").lower()
    return host.removeprefix("www.") or "unknown"


def in_window(published: datetime | None, since: datetime | None, until: datetime | None) -> bool:
    """Inside [since, until), as `--since`/`--until` mean; an undated page always is."""
    if published is None:
        return True
    return not (since and published < since) and not (until and published >= until)


def extract_archived(
    page: ArchivePage, settings: Settings, since: datetime | None, until: datetime | None
) -> PageOutcome:
    """Decode and extract one archived page, and compute its dedup keys."""
    canonical = canonicalize_url(page.url)
    entry = FeedEntry(feed_name=source_name(page.url), url=page.url, canonical_url=canonical)
    fetched = judge_archived_page(
        FetchResult(url=page.url, final_url=page.url, status=page.status,
                    headers=dict(page.headers), body=page.body),
        settings.max_body_bytes,
    )
    extracted = extract_page(entry, fetched, max_text_chars=settings.max_text_chars)  # never raises
    article = extracted.article
    declared = canonicalize_url(article.canonical_url) if article.canonical_url else None
    return PageOutcome(
        ordinal=page.ordinal,
        position=page.position,
        entry=entry,
        page=extracted,
        text_hash=text_hash(article.text) if article.text else None,
        declared_url=declared,
        in_range=in_window(article.published_at, since, until),
    )


class PageWorker:
    """Extraction and NLP over batches of archive items; builds the models once."""

    def __init__(
        self,
        settings: Settings,
        since: datetime | None = None,
        until: datetime | None = None,
        processor: Processor | None = None,
    ):
        self.settings = settings
        self.since, self.until = since, until
        self.processor = processor or Processor(settings=settings)
        self.model = self.processor.model

    def process(
        self, items: Sequence[ArchivePage | ArchiveProblem | FileEnd]
    ) -> list[PageOutcome | ArchiveProblem | FileEnd]:
        """The items in order, each page replaced by its outcome; the pages that extraction
        leaves for NLP are analysed together."""
        results = [
            extract_archived(item, self.settings, self.since, self.until)
            if isinstance(item, ArchivePage) else item
            for item in items
        ]
        for outcome in results:
            if isinstance(outcome, PageOutcome):
                outcome.model = self.model
        pending = [
            outcome for outcome in results
            if isinstance(outcome, PageOutcome) and outcome.in_range
            and outcome.page.status is ArticleStatus.PROCESSED
        ]
        analyses = self.processor.analyze([outcome.page.article.text for outcome in pending])
        for outcome, analysis in zip(pending, analyses):
            if isinstance(analysis, AnalysisFailure):  # one text the models fail on fails alone
                outcome.page.status, outcome.page.reason = ArticleStatus.FAILED, analysis.reason
            else:
                outcome.analysis = analysis
        return results

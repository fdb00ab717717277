"""The CPU-bound middle of the pipeline: page -> Article -> Analysis, in one process or several.

`Processor` wraps the spaCy pipeline. With `workers=1` it runs in this process; with more it keeps a
pool of worker processes, each of which builds the models once, and keeps results in input order.
Nothing here touches the network or the database.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.extract import extract_article
from pipeline.records import Analysis, Article, ArticleStatus, FeedEntry, FetchResult

log = logging.getLogger(__name__)

ANALYSED_LANGUAGES = ("en",)


@dataclass(slots=True)
class ExtractedPage:
    """A fetched page after extraction: what the store needs to record it, before NLP."""

    entry: FeedEntry
    article: Article
    status: ArticleStatus  # PROCESSED means "go on to dedup and NLP"
    reason: str | None = None
    html_hash: str | None = None


# Fetch outcomes that say the page itself is unusable (REJECTED), as opposed to a failure to
# reach it (FAILED): the page answered, or we chose not to ask.
REJECTING_FETCH_ERRORS = (
    "not_html", "too_large", "decompression_bomb", "corrupt_body", "unsupported_encoding",
    "refused_", "robots_disallowed", "invalid_url",
)


def extract_page(entry: FeedEntry, fetched: FetchResult) -> ExtractedPage:
    """Decide what a fetch gives: a failure, a rejected page, a foreign-language article, or text."""
    if fetched.error is not None:
        rejected = fetched.error.startswith(REJECTING_FETCH_ERRORS)
        status = ArticleStatus.REJECTED if rejected else ArticleStatus.FAILED
        return ExtractedPage(entry, Article(url=entry.url), status, fetched.error)
    html = fetched.text if fetched.text is not None else fetched.body
    html_hash = hashlib.sha256(fetched.body).hexdigest() if fetched.body else None
    article = extract_article(html, fetched.final_url or entry.url)
    if article.reject_reason or not article.text.strip():
        reason = article.reject_reason or "no_article_text"
        return ExtractedPage(entry, article, ArticleStatus.REJECTED, reason, html_hash)
    if article.language and article.language not in ANALYSED_LANGUAGES:
        reason = f"language: {article.language}"
        return ExtractedPage(entry, article, ArticleStatus.SKIPPED_LANGUAGE, reason, html_hash)
    return ExtractedPage(entry, article, ArticleStatus.PROCESSED, None, html_hash)


def model_version(nlp) -> str:
    """A label for the models behind every tag: the spaCy package and the direction model."""
    parts = [f"{nlp.meta.get('lang', 'xx')}_{nlp.meta.get('name', 'model')}-{nlp.meta.get('version')}"]
    if "newsignal_catalysts" in nlp.pipe_names:
        parts.append(nlp.get_pipe("newsignal_catalysts").model.model_id)
    return "+".join(parts)


# -- worker-process side ---------------------------------------------------------------------------

_worker_nlp = None


def _init_worker(nlp_options: dict) -> None:
    global _worker_nlp
    import torch

    from pipeline.nlp import build_nlp

    torch.set_num_threads(1)  # one core per worker: the pool is the parallelism
    _worker_nlp = build_nlp(**nlp_options)


def _worker_extract(job: tuple[FeedEntry, FetchResult]) -> ExtractedPage:
    return extract_page(*job)


def _worker_analyze(texts: list[str]) -> list[Analysis]:
    from pipeline.nlp import analyze

    return [analyze(doc) for doc in _worker_nlp.pipe(texts)]


class Processor:
    """Extraction and NLP for batches of pages; `close()` (or `with`) ends the worker pool."""

    def __init__(
        self, nlp=None, *, workers: int = 1, batch_size: int = 16, nlp_options: dict | None = None
    ):
        """`nlp_options` are `build_nlp` keyword arguments (`Settings.nlp_options()`), used in this
        process or in each worker when no `nlp` is given."""
        self.workers = max(1, workers)
        self.batch_size = batch_size
        self._pool = None
        options = nlp_options or {}
        if self.workers == 1:
            from pipeline.nlp import build_nlp

            self.nlp = nlp if nlp is not None else build_nlp(**options)
            self.model = model_version(self.nlp)
        else:
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(self.workers, initializer=_init_worker, initargs=(options,))
            self.nlp = None
            self.model = self._pool.apply(_model_version_in_worker)

    def __enter__(self) -> Processor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def extract(self, pages: Sequence[tuple[FeedEntry, FetchResult]]) -> list[ExtractedPage]:
        if self._pool is None:
            return [extract_page(entry, fetched) for entry, fetched in pages]
        return self._pool.map(_worker_extract, pages, chunksize=1)

    def analyze(self, texts: Sequence[str]) -> list[Analysis]:
        if not texts:
            return []
        if self._pool is None:
            from pipeline.nlp import analyze

            return [analyze(doc) for doc in self.nlp.pipe(texts, batch_size=self.batch_size)]
        chunks = [list(texts[i : i + 4]) for i in range(0, len(texts), 4)]
        return [item for chunk in self._pool.map(_worker_analyze, chunks) for item in chunk]

    def analyze_one(self, text: str) -> Analysis:
        return self.analyze([text])[0]


def _model_version_in_worker() -> str:
    return model_version(_worker_nlp)


def batched(items: Iterable, size: int) -> Iterable[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

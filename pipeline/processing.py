"""The CPU-bound middle of the pipeline: page -> Article -> Analysis, in one process or several.

`Processor` wraps the spaCy pipeline. With `workers=1` it runs in this process; with more it keeps a
pool of worker processes, each of which builds the models once, and keeps results in input order.
Nothing here touches the network or the database.

One article can never stop a run. `extract_page` turns an exception into a failed page
(`internal_error: <ExceptionType>`, traceback in the log) and rejects text longer than
`max_text_chars` (`text_too_long`); `Processor.analyze` gives an `AnalysisFailure` instead of an
`Analysis` for a text whose NLP raises or runs past its time budget, and analyses the others.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import signal
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from pipeline.config import Settings
from pipeline.extract import extract_article, headed_text
from pipeline.records import (
    Analysis,
    AnalysisFailure,
    Article,
    ArticleStatus,
    ExtractedPage,
    FeedEntry,
    FetchResult,
)

log = logging.getLogger(__name__)

ANALYSED_LANGUAGES = ("en",)
INTERNAL_ERROR = "internal_error"
TIME_BUDGET_EXCEEDED = "time_budget_exceeded"
TEXT_TOO_LONG = "text_too_long"
DEFAULTS = Settings()


class TimeBudgetExceeded(BaseException):
    """An article's NLP ran past its time budget. A BaseException, so that no `except Exception`
    on the way (ours or a library's) can swallow it."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeBudgetExceeded in this thread after `seconds` (SIGALRM: the main thread of a
    process only; elsewhere, and for 0, no limit)."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(*_args) -> None:
        raise TimeBudgetExceeded

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def internal_error(error: BaseException) -> str:
    return f"{INTERNAL_ERROR}: {type(error).__name__}"


# Fetch outcomes that say the page itself is unusable (REJECTED), as opposed to a failure to
# reach it (FAILED): the page answered, or we chose not to ask.
REJECTING_FETCH_ERRORS = (
    "not_html", "too_large", "decompression_bomb", "corrupt_body", "unsupported_encoding",
    "refused_", "robots_disallowed", "invalid_url",
)


def extract_page(
    entry: FeedEntry, fetched: FetchResult, *, max_text_chars: int = DEFAULTS.max_text_chars
) -> ExtractedPage:
    """Decide what a fetch gives: a failure, a rejected page, a foreign-language article, or text.
    Never raises: a bug met on this page makes it a failed page, and the run goes on."""
    try:
        return _extract_page(entry, fetched, max_text_chars)
    except Exception as error:  # noqa: BLE001  (the per-article error policy)
        log.exception("extraction failed on %s", entry.url)
        return ExtractedPage(entry, Article(url=entry.url), ArticleStatus.FAILED,
                             internal_error(error))


def _extract_page(entry: FeedEntry, fetched: FetchResult, max_text_chars: int) -> ExtractedPage:
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
    article.text = headed_text(article.title, article.text)
    if article.language and article.language not in ANALYSED_LANGUAGES:
        reason = f"language: {article.language}"
        return ExtractedPage(entry, article, ArticleStatus.SKIPPED_LANGUAGE, reason, html_hash)
    if len(article.text) > max_text_chars:
        # Kept with its text, so `reprocess` under a higher limit can still analyse it.
        reason = f"{TEXT_TOO_LONG}: {len(article.text):,} characters"
        return ExtractedPage(entry, article, ArticleStatus.REJECTED, reason, html_hash)
    return ExtractedPage(entry, article, ArticleStatus.PROCESSED, None, html_hash)


def analyze_texts(
    nlp, texts: Sequence[str], *, batch_size: int, time_budget: float, max_text_chars: int
) -> list[Analysis | AnalysisFailure]:
    """The analysis of each text, or why there is none; one bad text costs only itself.

    The texts are analysed together (the catalyst model judges their sentences in one batch)
    within `time_budget` seconds each; when that raises or runs out, they are analysed again one
    by one, each within its own budget, to find the culprit.
    """
    from pipeline.nlp import analyze

    if not texts:
        return []
    if all(len(text) <= max_text_chars for text in texts):
        try:
            with time_limit(time_budget * len(texts)):
                return [analyze(doc) for doc in nlp.pipe(texts, batch_size=batch_size)]
        except (Exception, TimeBudgetExceeded):  # noqa: BLE001  (found below, text by text)
            log.warning("analysis of %d texts failed; analysing them one by one", len(texts))
    results: list[Analysis | AnalysisFailure] = []
    for text in texts:
        if len(text) > max_text_chars:
            results.append(AnalysisFailure(f"{TEXT_TOO_LONG}: {len(text):,} characters"))
            continue
        try:
            with time_limit(time_budget):
                results.append(analyze(nlp(text)))
        except TimeBudgetExceeded:
            log.error("analysis of a %d-character text ran past its %s s budget",
                      len(text), time_budget)
            results.append(AnalysisFailure(TIME_BUDGET_EXCEEDED))
        except Exception as error:  # noqa: BLE001  (the per-article error policy)
            log.exception("analysis of a %d-character text failed", len(text))
            results.append(AnalysisFailure(internal_error(error)))
    return results


def model_version(nlp) -> str:
    """A label for the models behind every tag: the spaCy package and the direction model."""
    parts = [f"{nlp.meta.get('lang', 'xx')}_{nlp.meta.get('name', 'model')}-{nlp.meta.get('version')}"]
    if "newsignal_catalysts" in nlp.pipe_names:
        parts.append(nlp.get_pipe("newsignal_catalysts").model.model_id)
    return "+".join(parts)


# -- worker-process side ---------------------------------------------------------------------------

_worker_nlp = None
_worker_settings: Settings = DEFAULTS


def _init_worker(settings: Settings) -> None:
    global _worker_settings
    import torch

    # One core per worker: the pool is the parallelism. SIGINT (Ctrl-C reaches the whole process
    # group) is the parent's to handle: it ends the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(1)
    _worker_settings = settings


def _nlp_in_worker():
    """The worker's pipeline, built by its first task: an error building it (a direction model
    that will not load) then reaches the parent as that task's exception, where an initializer's
    would make the pool restart its workers for ever."""
    global _worker_nlp
    if _worker_nlp is None:
        from pipeline.nlp import build_nlp

        _worker_nlp = build_nlp(**_worker_settings.nlp_options())
    return _worker_nlp


def _worker_extract(job: tuple[FeedEntry, FetchResult]) -> ExtractedPage:
    return extract_page(*job, max_text_chars=_worker_settings.max_text_chars)


def _worker_analyze(texts: list[str]) -> list[Analysis | AnalysisFailure]:
    return analyze_texts(
        _nlp_in_worker(), texts, batch_size=len(texts),
        time_budget=_worker_settings.article_time_budget,
        max_text_chars=_worker_settings.max_text_chars,
    )


class Processor:
    """Extraction and NLP for batches of pages; `close()` (or `with`) ends the worker pool."""

    def __init__(
        self, nlp=None, *, workers: int = 1, batch_size: int = 16, settings: Settings | None = None
    ):
        """`settings` name the models (`Settings.nlp_options()`, used in this process or in each
        worker when no `nlp` is given) and the per-article limits."""
        self.workers = max(1, workers)
        self.batch_size = batch_size
        self.settings = settings or DEFAULTS
        self._pool = None
        self._in_call = False  # a pool call that did not return: its workers are mid-task
        if self.workers == 1:
            from pipeline.nlp import build_nlp

            self.nlp = nlp if nlp is not None else build_nlp(**self.settings.nlp_options())
            self.model = model_version(self.nlp)
        else:
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(
                self.workers, initializer=_init_worker, initargs=(self.settings,)
            )
            self.nlp = None
            self.model = self._pool_call(self._pool.apply, _model_version_in_worker)

    def __enter__(self) -> Processor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._pool is not None:
            if self._in_call:  # interrupted (a stop request): do not wait for the tasks
                self._pool.terminate()
            else:
                self._pool.close()
            self._pool.join()
            self._pool = None

    def _pool_call(self, method, *args, **kwargs):
        self._in_call = True
        result = method(*args, **kwargs)
        self._in_call = False
        return result

    def extract(self, pages: Sequence[tuple[FeedEntry, FetchResult]]) -> list[ExtractedPage]:
        if self._pool is None:
            limit = self.settings.max_text_chars
            return [extract_page(entry, fetched, max_text_chars=limit) for entry, fetched in pages]
        return self._pool_call(self._pool.map, _worker_extract, pages, chunksize=1)

    def analyze(self, texts: Sequence[str]) -> list[Analysis | AnalysisFailure]:
        """Per text, its Analysis, or an AnalysisFailure saying why there is none."""
        if not texts:
            return []
        if self._pool is None:
            return analyze_texts(
                self.nlp, list(texts), batch_size=self.batch_size,
                time_budget=self.settings.article_time_budget,
                max_text_chars=self.settings.max_text_chars,
            )
        chunks = [list(texts[i : i + 4]) for i in range(0, len(texts), 4)]
        results = self._pool_call(self._pool.map, _worker_analyze, chunks)
        return [item for chunk in results for item in chunk]

    def analyze_one(self, text: str) -> Analysis | AnalysisFailure:
        return self.analyze([text])[0]


def _model_version_in_worker() -> str:
    return model_version(_nlp_in_worker())


def batched(items: Iterable, size: int) -> Iterable[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

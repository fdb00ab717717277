"""The nightly run: feeds -> new entries -> pages -> articles -> analysis -> store.

`run_pipeline` is unattended and incremental: only entries never stored before are fetched; each
article is written in one transaction; a SIGINT/SIGTERM stops after the article in hand; every
outcome (processed, duplicate, skipped, rejected, failed) is stored with its reason, so a re-run does
not redo work and nothing is silently lost. Fetching runs in a background thread (asyncio) while
this thread does the CPU work, so the network and the models overlap.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import signal
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from pipeline.config import Config, FeedConfig, Settings
from pipeline.dedup import (
    NearDuplicateIndex,
    TextSignature,
    canonicalize_url,
    select_new_entries,
    similarity,
    text_hash,
)
from pipeline.exit_codes import EXIT_CRASH, EXIT_FAILURES, EXIT_OK
from pipeline.extract import headed_text
from pipeline.feeds import refresh_feed
from pipeline.fetch import Fetcher
from pipeline.processing import Processor, batched, internal_error
from pipeline.records import (
    Analysis,
    AnalysisFailure,
    ArticleStatus,
    ExtractedPage,
    FeedEntry,
    FeedState,
    FetchResult,
    RunReport,
)
from pipeline.store import Store
from pipeline.times import now_utc

log = logging.getLogger(__name__)


class StopRequested(BaseException):
    """SIGINT/SIGTERM arrived while articles were being extracted or analysed: the work in hand
    (nothing of it committed yet) is dropped so that the run stops within seconds."""


@dataclass
class StopFlag:
    """Set by SIGINT/SIGTERM. The run checks it between articles; inside `interruptible()` (CPU
    work on articles not yet stored) the signal also interrupts that work at once."""

    event: threading.Event = field(default_factory=threading.Event)
    _interruptible: bool = False

    def set(self, *_args) -> None:
        if not self.event.is_set():
            log.warning("stop requested: keeping what is stored, then stopping")
        self.event.set()
        if self._interruptible and threading.current_thread() is threading.main_thread():
            self._interruptible = False
            raise StopRequested

    def is_set(self) -> bool:
        return self.event.is_set()

    @contextmanager
    def interruptible(self) -> Iterator[None]:
        if self.is_set():
            raise StopRequested
        self._interruptible = True
        try:
            yield
        finally:
            self._interruptible = False


@contextmanager
def stop_on_signals(stop: StopFlag) -> Iterator[None]:
    """Route SIGINT and SIGTERM to `stop` (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, stop.set) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# -- feeds ------------------------------------------------------------------------------------------


async def _refresh_all(settings: Settings, feeds: list[FeedConfig], states: list[FeedState]):
    async with Fetcher(settings) as fetcher:
        return await asyncio.gather(
            *(refresh_feed(fetcher, feed, state) for feed, state in zip(feeds, states))
        )


@dataclass
class CollectedEntries:
    """The new entries of a run, and the feed states whose validators wait for those entries.

    A feed's ETag, Last-Modified and body hash say "everything in this feed is handled". They are
    saved only once the run has stored every new entry of that feed for good; saved earlier, a run
    killed or cut short by `--max-articles`, or a page that timed out, would leave entries that the
    next night's 304 hides for good.
    """

    entries: list[FeedEntry]
    pending_states: dict[str, FeedState]

    def commit_validators(self, store: Store) -> None:
        """Save the validators of every feed whose new entries are all stored for good (not cut
        off, not interrupted, not failed for a passing reason such as a timeout)."""
        waiting = {entry.feed_name for entry in self.entries if store.known_entry(entry) is None}
        for name, state in self.pending_states.items():
            if name not in waiting:
                store.save_feed_state(state)


def collect_entries(
    config: Config, store: Store, report: RunReport, *, since: datetime | None = None
) -> CollectedEntries:
    """Refresh every enabled feed, save its health, and return the entries not stored before."""
    feeds = config.enabled_feeds
    report.feeds = len(feeds)
    states = [store.feed_state(feed.name, str(feed.url)) for feed in feeds]
    refreshes = asyncio.run(_refresh_all(config.settings, feeds, states)) if feeds else []
    listed: list[FeedEntry] = []
    pending: dict[str, FeedState] = {}
    for feed, before, refresh in zip(feeds, states, refreshes):
        if refresh.error or refresh.not_modified:
            store.save_feed_state(refresh.state)
        else:  # health now, validators once the entries are stored
            store.save_feed_state(replace(refresh.state, etag=before.etag,
                                          last_modified=before.last_modified,
                                          body_hash=before.body_hash))
            pending[feed.name] = refresh.state
        if refresh.error:
            report.feed_errors[feed.name] = refresh.error
            log.warning("feed %s: %s", feed.name, refresh.error)
        if refresh.warning:
            log.warning("feed %s: %s", feed.name, refresh.warning)
        for label, reason in refresh.skipped:
            if reason.startswith("unparseable_entry"):  # the others are routine (no link, repeats)
                log.warning("feed %s: entry %r skipped: %s", feed.name, label, reason)
                report.failures.append((f"feed {feed.name}: entry {label}", reason))
        if refresh.not_modified:
            log.info("feed %s: not modified", feed.name)
            continue
        listed.extend(
            entry for entry in refresh.entries
            if not (since and entry.published_at and entry.published_at < since)
        )
    return CollectedEntries(select_new_entries(listed, store.known_entry).new, pending)


# -- pages ------------------------------------------------------------------------------------------

_END = object()


class PageStream:
    """Fetch pages concurrently in a background thread; iterate (entry, FetchResult) as they land.

    The queue is bounded, so fetching never runs far ahead of processing; `stop()` cancels what is
    still in flight.
    """

    def __init__(self, settings: Settings, entries: list[FeedEntry], *, buffer: int = 32):
        self.settings = settings
        self.entries = entries
        self.results: queue.Queue = queue.Queue(maxsize=buffer)
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="page-fetcher", daemon=True)

    def __enter__(self) -> PageStream:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self._cancel.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                self.results.get_nowait()
            except queue.Empty:
                self._thread.join(timeout=0.1)

    def batches(self, size: int) -> Iterator[list[tuple[FeedEntry, FetchResult]]]:
        """Up to `size` fetched pages at a time: waits for one, then takes only what has arrived,
        so pages of a slow host are processed and committed as they come, not held for a full batch."""
        while True:
            item = self.results.get()
            if item is _END:
                return
            batch = [item]
            while len(batch) < size:
                try:
                    item = self.results.get_nowait()
                except queue.Empty:
                    break
                if item is _END:
                    yield batch
                    return
                batch.append(item)
            yield batch

    def _run(self) -> None:
        try:
            asyncio.run(self._fetch_all())
        finally:
            self._put(_END)

    def _put(self, item) -> None:
        while not self._cancel.is_set() or item is _END:
            try:
                self.results.put(item, timeout=0.1)
                return
            except queue.Full:
                if item is _END and self._cancel.is_set():
                    return

    async def _fetch_all(self) -> None:
        # At most `buffer` pages are fetched ahead of processing: a slow model must not make the
        # whole backlog's bodies pile up in memory.
        slots = asyncio.Semaphore(self.results.maxsize)
        async with Fetcher(self.settings) as fetcher:

            async def one(entry: FeedEntry) -> None:
                async with slots:
                    result = await fetcher.fetch(entry.url, accept="html")  # never raises
                    await asyncio.to_thread(self._put, (entry, result))

            tasks = [asyncio.create_task(one(entry)) for entry in self.entries]
            everything = asyncio.gather(*tasks, return_exceptions=True)
            while not everything.done():
                if self._cancel.is_set():  # stop requested: abandon what is still in flight
                    for task in tasks:
                        task.cancel()
                    break
                await asyncio.wait([everything], timeout=0.1)
            await asyncio.gather(*tasks, return_exceptions=True)


# -- the run ----------------------------------------------------------------------------------------


class ArticleWriter:
    """Dedup, then store: decides DUPLICATE vs PROCESSED for extracted pages, in arrival order.

    A page is a duplicate of a stored article, or of an earlier page of the same batch, when its
    page-declared canonical URL, its text hash or its MinHash (near-duplicate) matches.
    """

    def __init__(self, store: Store, settings: Settings, model: str, run_id: int | None):
        self.store = store
        self.model = model
        self.run_id = run_id
        self.near_duplicates = NearDuplicateIndex.from_pairs(
            store.minhashes(), threshold=settings.near_duplicate_threshold
        )

    def plan(self, pages: list[ExtractedPage]) -> list[PagePlan]:
        """Decide each page's fate before any NLP runs, so duplicates are never analysed."""
        plans: list[PagePlan] = []
        for page in pages:
            try:
                plan = self._plan(page, plans)
            except Exception as error:  # noqa: BLE001  (the per-article error policy)
                log.exception("deduplication failed on %s", page.entry.url)
                plan = PagePlan(page, page.entry, ArticleStatus.FAILED, internal_error(error))
            plans.append(plan)
        return plans

    def _plan(self, page: ExtractedPage, earlier: list[PagePlan]) -> PagePlan:
        entry, duplicate_of, duplicate_of_batch = self._page_canonical(page, earlier)
        digest = signature = None
        if page.article.text:
            digest = text_hash(page.article.text)
            signature = self.near_duplicates.signature(page.article.text)
            if duplicate_of is None and duplicate_of_batch is None:
                duplicate_of = self.store.article_by_text_hash(digest)
            if duplicate_of is None and duplicate_of_batch is None:
                duplicate_of = self.near_duplicates.find(signature)
            if duplicate_of is None and duplicate_of_batch is None:
                duplicate_of_batch = next(
                    (
                        index
                        for index, other in enumerate(earlier)
                        if other.status is ArticleStatus.PROCESSED
                        and (
                            other.text_hash == digest
                            or self._similar(other.signature, signature)
                        )
                    ),
                    None,
                )
        status = page.status
        if status is ArticleStatus.PROCESSED and (
            duplicate_of is not None or duplicate_of_batch is not None
        ):
            status = ArticleStatus.DUPLICATE
        return PagePlan(page, entry, status, page.reason, duplicate_of, duplicate_of_batch,
                        digest, signature)

    def _similar(self, first, second) -> bool:
        if first is None or second is None or first.is_empty() or second.is_empty():
            return False
        return similarity(first, second) >= self.near_duplicates.threshold

    def _page_canonical(
        self, page: ExtractedPage, earlier: list[PagePlan]
    ) -> tuple[FeedEntry, int | None, int | None]:
        """The entry to store the page under, and what it duplicates by its page-declared
        `rel=canonical` URL: (entry, stored article, earlier page of the batch). The page is
        stored under its own canonical URL unless that page is already known."""
        entry = page.entry
        declared = page.article.canonical_url
        if not declared:
            return entry, None, None
        canonical = canonicalize_url(declared)
        if canonical == entry.canonical_url:
            return entry, None, None
        probe = replace(entry, canonical_url=canonical)
        known = self.store.known_entry(replace(probe, guid=None))
        if known is not None:
            return entry, known, None
        in_batch = next(
            (i for i, other in enumerate(earlier) if other.entry.canonical_url == canonical), None
        )
        if in_batch is not None:
            return entry, None, in_batch
        return probe, None, None

    def save(self, plan: PagePlan, analysis: Analysis | None, batch_ids: list[int]) -> int:
        duplicate_of = plan.duplicate_of
        if duplicate_of is None and plan.duplicate_of_batch is not None:
            duplicate_of = batch_ids[plan.duplicate_of_batch]
        processed = plan.status is ArticleStatus.PROCESSED
        article_id = self.store.save_article(
            plan.entry,
            plan.page.article,
            plan.status,
            analysis=analysis if processed else None,
            reject_reason=plan.reason,
            duplicate_of=duplicate_of,
            html_hash=plan.page.html_hash,
            text_hash=plan.text_hash,
            minhash=self.near_duplicates.serialize(plan.signature) if processed else None,
            model=self.model,
            run_id=self.run_id,
        )
        if processed:
            self.near_duplicates.add(article_id, plan.signature)
        return article_id


@dataclass(slots=True)
class PagePlan:
    """What becomes of one extracted page: the entry it is stored under (the page's own
    canonical URL where it declares an unknown one), its status, and for a duplicate the
    original; for a page with text, its hash and MinHash signature."""

    page: ExtractedPage
    entry: FeedEntry
    status: ArticleStatus
    reason: str | None = None
    duplicate_of: int | None = None  # a stored article
    duplicate_of_batch: int | None = None  # an earlier page of the same batch
    text_hash: str | None = None
    signature: TextSignature | None = None


def run_pipeline(
    config: Config,
    store: Store,
    *,
    processor: Processor | None = None,
    max_articles: int | None = None,
    since: datetime | None = None,
    stop: StopFlag | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunReport:
    """One nightly run. The caller holds the run lock and owns `store` and `processor`.

    A run found still `running` belongs to a process that died (the lock says no other is
    alive): it is marked interrupted first. A crash records this run as crashed, then raises.
    """
    store.close_abandoned_runs()
    started_at = now_utc()
    report = RunReport(run_id=store.start_run(started_at), started_at=started_at)
    own_processor = processor is None
    try:
        processor = processor or Processor(settings=config.settings)
        collected = collect_entries(config, store, report, since=since)
        entries = collected.entries
        if max_articles is not None:
            entries = entries[:max_articles]
        log.info("%d new entries from %d feeds", len(entries), len(config.enabled_feeds))
        process_entries(config.settings, store, entries, processor, report,
                        stop=stop, progress=progress)
        collected.commit_validators(store)
    except Exception:
        report.finished_at = now_utc()
        store.finish_run(report, "crashed", EXIT_CRASH)
        raise
    finally:
        if own_processor and processor is not None:
            processor.close()
    report.finished_at = now_utc()
    return report


def process_entries(
    settings: Settings,
    store: Store,
    entries: list[FeedEntry],
    processor: Processor,
    report: RunReport,
    *,
    stop: StopFlag | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Fetch, extract, dedup, analyse and store `entries`; counts and failures go to `report`."""
    stop = stop or StopFlag()
    counts: Counter[str] = Counter(report.counts)
    counts["new"] += len(entries)
    writer = ArticleWriter(store, settings, processor.model, report.run_id)
    done = 0
    with PageStream(settings, entries) as pages:
        try:
            for batch in pages.batches(processor.batch_size):
                done += _store_batch(writer, processor, batch, counts, report, stop)
                if progress:
                    progress(done, len(entries))
                if stop.is_set():
                    break
        except StopRequested:
            log.warning("stopped in the middle of a batch; its articles are fetched next run")
    report.interrupted = stop.is_set()
    report.counts = dict(counts)


def _store_batch(writer, processor, batch, counts, report, stop) -> int:
    """Extract, plan (dedup), analyse the originals together, then store one transaction per
    article; a failed analysis stores its article failed, with the reason."""
    with stop.interruptible():
        plans = writer.plan(processor.extract(batch))
        originals = [i for i, plan in enumerate(plans) if plan.status is ArticleStatus.PROCESSED]
        results = processor.analyze([plans[i].page.article.text for i in originals])
    analyses: dict[int, Analysis] = {}
    for index, result in zip(originals, results):
        if isinstance(result, AnalysisFailure):
            plans[index] = replace(plans[index], status=ArticleStatus.FAILED, reason=result.reason)
        else:
            analyses[index] = result
    batch_ids: list[int] = []
    for index, plan in enumerate(plans):
        batch_ids.append(writer.save(plan, analyses.get(index), batch_ids))
        counts[str(plan.status)] += 1
        if plan.status in (ArticleStatus.FAILED, ArticleStatus.REJECTED):
            report.failures.append((plan.entry.url, plan.reason or ""))
        if stop.is_set():
            break
    return len(batch_ids)


def run_exit_code(report: RunReport, settings: Settings) -> int:
    """0, or 1 when the share of failed articles, or of failing feeds, passes the threshold."""
    attempted = report.counts.get("new", 0)
    failed = report.counts.get(str(ArticleStatus.FAILED), 0)
    if attempted and failed / attempted > settings.failure_threshold:
        return EXIT_FAILURES
    if report.feeds and len(report.feed_errors) / report.feeds > settings.failure_threshold:
        return EXIT_FAILURES
    return EXIT_OK


def reprocess(
    store: Store,
    processor: Processor,
    *,
    since: datetime | None = None,
    stop: StopFlag | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Re-run the NLP stages on stored article text with the current models; no refetching.
    An article whose analysis fails keeps the tags it had (the failure is logged).

    The text is read as a run now stores it: an article stored by an older release, without
    its headline, gains it (`extract.headed_text`), and its tags and corrections move with it.
    """
    stop = stop or StopFlag()
    rows = [(article_id, headed_text(title, text))
            for article_id, title, text in store.articles_to_reprocess(since)]
    done = 0
    try:
        for batch in batched(rows, processor.batch_size):
            with stop.interruptible():
                results = processor.analyze([text for _, text in batch])
            for (article_id, text), result in zip(batch, results):
                if isinstance(result, AnalysisFailure):
                    log.error("article %d keeps its tags: %s", article_id, result.reason)
                else:
                    store.replace_analysis(article_id, result, processor.model, text=text)
                done += 1
                if stop.is_set():
                    return done
            if progress:
                progress(done, len(rows))
    except StopRequested:
        log.warning("stopped; %d articles were reprocessed", done)
    return done

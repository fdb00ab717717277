"""Backfills: years of archived news (CC-NEWS WARC, or Parquet/JSON Lines of url+html) through the
nightly per-page path, into Parquet datasets, on one machine or a Ray cluster.

    archives ─▶ ArchivePage ─▶ pages (judge, extract_page, dedup keys, Processor.analyze)
             ─▶ PageOutcome ─▶ dedup (first seen in input order) ─▶ output (Parquet per day)

`run_backfill(options)` is the whole job: it resumes an interrupted backfill in the same output
directory (finished input files are skipped, their articles reload the dedup state), runs an
engine (`local` in this process, `ray` on Ray Data actors) over the rest, and commits each input
file's parts and manifest entry when its last page is decided. The engines hand results back in
input order, so the output is the same whichever engine ran it and with how many CPUs.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pipeline.backfill.archives import ArchiveError, FileEnd, resolve_inputs
from pipeline.backfill.dedup import FirstSeen
from pipeline.backfill.output import (
    FileOutput,
    FileRecord,
    Manifest,
    OutputError,
    open_output,
    read_stored_articles,
)
from pipeline.backfill.pages import PageOutcome
from pipeline.config import Settings
from pipeline.records import ArchiveProblem, ArticleStatus, StoredArticle
from pipeline.times import utc_iso

log = logging.getLogger(__name__)

ENGINES = ("ray", "local")
# Outcomes counted besides the article statuses.
REPEATED, OUT_OF_RANGE = "repeated", "out_of_range"


class BackfillError(Exception):
    """The backfill cannot run as asked: its message names the argument or file."""


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


def default_engine() -> str:
    """`ray` where the `scale` extra is installed, else `local`."""
    return "ray" if ray_available() else "local"


@dataclass(slots=True)
class BackfillOptions:
    inputs: list[str]
    output: Path
    engine: str = field(default_factory=default_engine)
    address: str | None = None  # a Ray cluster; None starts a local Ray
    num_cpus: int | None = None  # Ray actors (one CPU each); None: every CPU of the cluster
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None  # pages read in all, over every run of this backfill
    settings: Settings = field(default_factory=Settings)


@dataclass(slots=True)
class Progress:
    """Handed to the progress callback after every page and file."""

    pages: int = 0  # read in this run
    processed: int = 0
    rejected: int = 0  # rejected, failed, skipped language
    files_done: int = 0
    files: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def pages_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.pages / elapsed if elapsed > 0 else 0.0


@dataclass(slots=True)
class BackfillReport:
    output: Path
    engine: str
    manifest: Manifest
    files_skipped: int = 0  # finished by an earlier run
    files_done: int = 0  # finished by this run
    pages: int = 0  # read by this run
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[ArchiveProblem] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    def summary(self) -> str:
        counts = ", ".join(f"{key} {value}" for key, value in sorted(self.counts.items()))
        rate = self.pages / self.seconds if self.seconds > 0 else 0.0
        state = " (interrupted: run again to resume)" if self.interrupted else ""
        return (
            f"backfill{state}: {self.files_done} files done, {self.files_skipped} done before; "
            f"{self.pages} pages in {self.seconds:.1f} s ({rate:.2f} pages/s): "
            f"{counts or 'nothing new'}; {len(self.problems)} unreadable records; "
            f"output {self.output}"
        )


def run_backfill(
    options: BackfillOptions,
    *,
    progress: Callable[[Progress], None] | None = None,
    stop: Callable[[], bool] | None = None,
) -> BackfillReport:
    """Backfill `options.inputs` into `options.output`, resuming what an earlier run left."""
    if options.engine not in ENGINES:
        raise BackfillError(f"--engine {options.engine!r}: choose ray or local")
    if options.engine == "ray" and not ray_available():
        raise BackfillError("--engine ray needs Ray: pip install 'newsignal[scale]'")
    if options.engine == "local" and (options.num_cpus or options.address):
        raise BackfillError("--num-cpus and --address apply to --engine ray")
    try:
        inputs = resolve_inputs(options.inputs)
        manifest = open_output(options.output, Manifest(
            inputs=inputs, since=utc_iso(options.since), until=utc_iso(options.until),
            limit=options.limit, versions=_versions(options.engine),
        ))
    except (ArchiveError, OutputError) as error:
        raise BackfillError(str(error)) from None
    report = BackfillReport(options.output, options.engine, manifest)
    report.files_skipped = len(manifest.files)
    pending = [(o, path) for o, path in enumerate(inputs) if o not in manifest.files]
    if manifest.complete or not pending:
        return report
    first_seen = FirstSeen()
    for article in sorted(read_stored_articles(options.output), key=lambda a: a.id):
        first_seen.remember(article)
    started = time.monotonic()
    try:
        _consume(_items(options, pending), options, manifest, first_seen, report,
                 progress or (lambda _state: None), stop or (lambda: False), len(pending))
    finally:
        report.seconds = time.monotonic() - started
    return report


def _items(options: BackfillOptions, pending: list[tuple[int, str]]) -> Iterator:
    from pipeline.backfill import engines

    if options.engine == "ray":
        return engines.ray_items(pending, options.settings, options.since, options.until,
                                 num_cpus=options.num_cpus, address=options.address)
    return engines.local_items(pending, options.settings, options.since, options.until)


def _consume(items, options, manifest, first_seen, report, progress, stop, files) -> None:
    """Decide and write each page in input order; commit each input file when it ends."""
    state = Progress(files=files)
    current: FileOutput | None = None
    record: FileRecord | None = None
    pages_read = manifest.pages_read
    try:
        for item in items:
            if current is None:
                current, record = _open_file(options.output, item, manifest)
            if isinstance(item, ArchiveProblem):
                record.problems.append({"offset": item.offset, "reason": item.reason})
                report.problems.append(item)
                log.warning("%s at %s: %s", item.path, item.offset, item.reason)
                continue
            if isinstance(item, FileEnd):
                _commit(current, record, manifest, options.output, report)
                current = record = None
                state.files_done += 1
                progress(state)
                if stop():
                    report.interrupted = True
                    return
                continue
            _decide(item, first_seen, current, record, manifest, report, state)
            pages_read += 1
            progress(state)
            if options.limit is not None and pages_read >= options.limit:
                record.cut_by_limit = True
                _commit(current, record, manifest, options.output, report)
                current = None
                return
            if stop():
                report.interrupted = True
                return
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()  # ends a Ray pipeline cut short (limit, stop, error)


def _open_file(root: Path, item, manifest: Manifest) -> tuple[FileOutput, FileRecord]:
    ordinal = item.ordinal if not isinstance(item, ArchiveProblem) else None
    if ordinal is None:  # a problem opening the file comes before any page: find it by path
        ordinal = manifest.inputs.index(item.path)
    return FileOutput(root, ordinal), FileRecord(path=manifest.inputs[ordinal])


def _decide(outcome: PageOutcome, first_seen, output, record, manifest, report, state) -> None:
    record.pages += 1
    report.pages += 1
    state.pages += 1
    counts = Counter()
    if manifest.model is None and outcome.analysis is not None:
        manifest.model = outcome.model
    elif outcome.analysis is not None and outcome.model != manifest.model:
        raise BackfillError(
            f"{report.output} was made with model {manifest.model}, this run has "
            f"{outcome.model}; give a new --output"
        )
    if not outcome.in_range:
        counts[OUT_OF_RANGE] += 1
    elif (decision := first_seen.decide(outcome)) is None:
        counts[REPEATED] += 1
    else:
        page, article, entry = outcome.page, outcome.page.article, outcome.entry
        stored = StoredArticle(
            id=decision.article_id, url=entry.url, canonical_url=decision.canonical_url,
            source=entry.feed_name, title=article.title or entry.title or "",
            published_at=article.published_at or entry.published_at, language=article.language,
            status=decision.status, reject_reason=page.reason or article.reject_reason,
            duplicate_of=decision.duplicate_of, text=article.text,
        )
        processed = decision.status is ArticleStatus.PROCESSED
        output.add(stored, outcome.analysis if processed else None)
        counts[str(decision.status)] += 1
        state.processed += processed
        state.rejected += decision.status in (
            ArticleStatus.REJECTED, ArticleStatus.FAILED, ArticleStatus.SKIPPED_LANGUAGE
        )
    for key, value in counts.items():
        record.counts[key] = record.counts.get(key, 0) + value
    report.counts.update(counts)


def _commit(output: FileOutput, record: FileRecord, manifest, root, report) -> None:
    output.commit()
    record.rows = dict(sorted(output.rows.items()))
    record.counts = dict(sorted(record.counts.items()))
    manifest.files[output.ordinal] = record
    manifest.save(root)
    report.files_done += 1
    log.info("finished %s: %d pages", record.path, record.pages)


def _versions(engine: str) -> dict[str, str]:
    names = ["newsignal", "spacy", "trafilatura", "onnxruntime", "warcio"]
    if engine == "ray":
        names.append("ray")
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions

"""The `newsignal` command line: each command is a thin wrapper over a plain function.

Exit codes: 0 ok; 1 the run finished with failures above the threshold; 2 bad usage or
configuration; 3 another run holds the lock; 4 newsignal crashed (a bug: one line on stderr names
the file holding the traceback).
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from pipeline.exit_codes import EXIT_CRASH, EXIT_LOCKED, EXIT_USAGE
from pipeline.logs import configure_logging, record_crash

log = logging.getLogger("newsignal")

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BENCH = REPO_ROOT.parent / "shared" / "datasets" / "article-extraction-benchmark"
DEFAULT_TWITTER = REPO_ROOT.parent / "shared" / "datasets" / "twitter-financial-news-sentiment"

app = typer.Typer(
    name="newsignal",
    help="Turn financial and crypto news into structured, reviewable market signals.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
eval_app = typer.Typer(help="Measure an extractor or model against gold data.", no_args_is_help=True)
train_app = typer.Typer(help="Train a model from the repository's recipe.", no_args_is_help=True)
plot_app = typer.Typer(help="Draw a chart from the store.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")
app.add_typer(train_app, name="train")
app.add_typer(plot_app, name="plot")


class UserError(Exception):
    """A mistake on the command line or in a file the user gave: one line, exit code 2."""


class Format(str, Enum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


class LogFormat(str, Enum):
    text = "text"
    json = "json"


@app.callback()
def main_options(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="-v info, -vv debug.")] = 0,
    log_format: Annotated[LogFormat, typer.Option(help="Log lines as text or JSON.")] = LogFormat.text,
    log_file: Annotated[Optional[Path], typer.Option(help="Append log lines to this file as well; a crash's traceback goes there too.")] = None,
) -> None:
    configure_logging(verbose, log_format.value, log_file)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn the project's known error types into one-line messages and exit codes."""
    from pipeline.backtest import BacktestError
    from pipeline.config import ConfigError
    from pipeline.direction import DirectionModelError
    from pipeline.export import ExportError
    from pipeline.lock import LockedError
    from pipeline.store import StoreError

    try:
        yield
    except LockedError as error:
        typer.echo(f"newsignal: {error}", err=True)
        raise typer.Exit(EXIT_LOCKED) from None
    except (UserError, BacktestError, ConfigError, ExportError, StoreError, DirectionModelError,
            FileNotFoundError) as error:
        typer.echo(f"newsignal: error: {error}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def parse_day(value: str | None, *, end: bool = False) -> datetime | None:
    """An ISO 8601 date or date-time in UTC; with `end`, a bare date includes that whole day."""
    if value is None:
        return None
    from pipeline.times import DateError, parse_date_bound

    try:
        return parse_date_bound(value, end=end)
    except DateError as error:
        raise UserError(str(error)) from None


def existing_db(path: Path) -> Path:
    if not path.exists():
        raise UserError(f"{path}: no such database (run `newsignal run` or `newsignal demo` first)")
    return path


def to_jsonable(value):
    if is_dataclass(value):
        return {key: to_jsonable(item) for key, item in asdict(value).items()}
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    return value


@contextmanager
def progress_bar(description: str) -> Iterator:
    """A rich progress bar on a terminal; nothing at all under cron (stderr not a TTY)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(description, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


# -- the nightly run -------------------------------------------------------------------------------


@app.command()
def run(
    config: Annotated[Path, typer.Option(help="feeds.yaml with settings and feeds.")] = Path("feeds.yaml"),
    db: Annotated[Path, typer.Option(help="SQLite database (created if missing).")] = Path("newsignal.db"),
    max_articles: Annotated[Optional[int], typer.Option(min=1, help="Process at most N new articles.")] = None,
    since: Annotated[Optional[str], typer.Option(help="Skip entries published before this date.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes for extraction and NLP.")] = 1,
) -> None:
    """Fetch the feeds, process new articles, store them."""
    with user_errors():
        from pipeline.config import load_config
        from pipeline.lock import RunLock

        settings_config = load_config(config)
        since_moment = parse_day(since)
        with RunLock(db):
            code = _run_locked(settings_config, db, max_articles, since_moment, workers)
    raise typer.Exit(code)


def _run_locked(config, db: Path, max_articles, since, workers) -> int:
    from pipeline.processing import Processor
    from pipeline.run import StopFlag, run_exit_code, run_pipeline, stop_on_signals
    from pipeline.store import Store

    stop = StopFlag()
    with Store.open(db) as store, stop_on_signals(stop):
        processor = Processor(workers=workers, settings=config.settings)
        with processor, progress_bar("articles") as progress:
            report = run_pipeline(
                config, store, processor=processor, max_articles=max_articles, since=since,
                stop=stop, progress=progress,
            )
        code = run_exit_code(report, config.settings)
        status = "interrupted" if report.interrupted else ("failed" if code else "ok")
        store.finish_run(report, status, code)
    typer.echo(summary_line(report), err=True)
    for feed, reason in sorted(report.feed_errors.items()):
        typer.echo(f"  feed {feed}: {reason}", err=True)
    return code


def summary_line(report) -> str:
    counts = ", ".join(f"{key} {value}" for key, value in sorted(report.counts.items()))
    seconds = (report.finished_at - report.started_at).total_seconds()
    state = " (interrupted)" if report.interrupted else ""
    return f"run {report.run_id}{state}: {counts or 'nothing new'} in {seconds:.1f} s"


@app.command()
def reprocess(
    db: Annotated[Path, typer.Option(help="SQLite database.")] = Path("newsignal.db"),
    since: Annotated[Optional[str], typer.Option(help="Only articles published since this date.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    config: Annotated[Optional[Path], typer.Option(help="feeds.yaml whose settings name the models (default: the shipped ones).")] = None,
) -> None:
    """Re-run the NLP stages on stored article text with the current models (no refetch)."""
    with user_errors():
        existing_db(db)
        since_moment = parse_day(since)
        from pipeline.config import Settings, load_config
        from pipeline.lock import RunLock
        from pipeline.processing import Processor
        from pipeline.run import StopFlag, reprocess as reprocess_articles, stop_on_signals
        from pipeline.store import Store

        settings = load_config(config).settings if config else Settings()  # bad config: no lock
        stop = StopFlag()
        with RunLock(db), Store.open(db) as store, stop_on_signals(stop):
            processor = Processor(workers=workers, settings=settings)
            with processor, progress_bar("articles") as progress:
                count = reprocess_articles(
                    store, processor, since=since_moment, stop=stop, progress=progress
                )
        typer.echo(f"reprocessed {count} articles with {processor.model}", err=True)


@app.command()
def status(
    db: Annotated[Path, typer.Option(help="SQLite database.")] = Path("newsignal.db"),
    runs: Annotated[int, typer.Option(min=1, help="How many recent runs to show.")] = 5,
) -> None:
    """Show the last runs and the health of every feed."""
    with user_errors():
        from rich.console import Console
        from rich.table import Table

        from pipeline.store import Store
        from pipeline.times import utc_iso

        with Store.open(existing_db(db)) as store:
            console = Console()
            table = Table(title="Recent runs")
            for column in ("run", "started", "finished", "status", "exit", "counts", "feed errors"):
                table.add_column(column)
            for past in store.recent_runs(runs):
                table.add_row(
                    str(past.id), utc_iso(past.started_at), utc_iso(past.finished_at) or "-",
                    past.status, "-" if past.exit_code is None else str(past.exit_code),
                    ", ".join(f"{k} {v}" for k, v in sorted(past.counts.items())) or "-",
                    str(len(past.feed_errors)),
                )
            console.print(table)
            feeds = Table(title="Feeds")
            for column in ("feed", "last success", "failures in a row", "entries seen", "last error"):
                feeds.add_column(column)
            for state in store.feed_states():
                feeds.add_row(
                    state.name, state.last_success_at or "never", str(state.consecutive_failures),
                    str(state.entries_seen), state.last_error or "",
                )
            console.print(feeds)


@app.command()
def backup(
    db: Annotated[Path, typer.Option(help="SQLite database.")] = Path("newsignal.db"),
    output: Annotated[Path, typer.Option("--output", "-o", help="Backup file to write.")] = Path("newsignal-backup.db"),
) -> None:
    """Copy the database safely while runs may be writing to it (SQLite online backup)."""
    with user_errors():
        from pipeline.store import Store

        with Store.open(existing_db(db)) as store:
            store.backup(output)
        typer.echo(f"backed up {db} to {output}", err=True)


# -- exports ---------------------------------------------------------------------------------------


@app.command()
def export(
    kind: Annotated[str, typer.Argument(help="catalysts, figures, entities, articles, signal, conflicts or corrections.")],
    db: Annotated[Path, typer.Option(help="SQLite database.")] = Path("newsignal.db"),
    output: Annotated[str, typer.Option("--output", "-o", help="Output file, or - for stdout.")] = "-",
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="csv, jsonl or parquet (corrections: gold or labelstudio).")] = None,
    since: Annotated[Optional[str], typer.Option(help="Published on or after this date.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Published before this moment (a bare date: through that day).")] = None,
    asset: Annotated[Optional[str], typer.Option(help="Only rows about this ticker.")] = None,
    min_confidence: Annotated[Optional[float], typer.Option(min=0, max=1, help="Catalysts at or above this confidence.")] = None,
    include_duplicates: Annotated[bool, typer.Option(help="Include syndicated duplicates.")] = False,
    from_parquet: Annotated[Optional[Path], typer.Option(help="signal only: read a backfill's output directory instead of --db.")] = None,
) -> None:
    """Write one table of the store as CSV, JSONL or Parquet."""
    with user_errors():
        from pipeline.store import Store

        if from_parquet is not None:
            rows = _export_backfill_signal(
                kind, from_parquet, output, format, since, until, asset, min_confidence,
                include_duplicates,
            )
            if output != "-":
                typer.echo(f"wrote {rows} rows to {output}", err=True)
            return
        existing_db(db)
        with Store.open(db) as store:
            if kind == "corrections":
                from pipeline.review.corrections import export_corrections

                fmt = format or "gold"
                if fmt not in ("gold", "labelstudio"):
                    raise UserError("corrections are exported as --format gold or labelstudio")
                rows = export_corrections(store, output, fmt=fmt)
            else:
                from pipeline.export import EXPORT_KINDS, ExportFilters, export_table

                if kind not in EXPORT_KINDS:
                    raise UserError(
                        f"unknown export {kind!r}; choose one of: "
                        + ", ".join([*EXPORT_KINDS, "corrections"])
                    )
                fmt = format or "csv"
                if fmt not in {item.value for item in Format}:
                    raise UserError(f"unknown format {fmt!r}; choose csv, jsonl or parquet")
                filters = ExportFilters(
                    since=parse_day(since), until=parse_day(until, end=True), asset=asset,
                    min_confidence=min_confidence, include_duplicates=include_duplicates,
                )
                rows = export_table(store, kind, output, fmt, filters)
        if output != "-":
            typer.echo(f"wrote {rows} rows to {output}", err=True)


# -- backfills ---------------------------------------------------------------------------------------


@app.command()
def backfill(
    input: Annotated[list[str], typer.Option("--input", "-i", help="WARC (.warc, .warc.gz), Parquet or JSON Lines of url+html: a path, glob or fsspec URI; repeatable.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Directory for the Parquet datasets and _manifest.json (a re-run resumes it).")],
    engine: Annotated[Optional[str], typer.Option(help="ray or local (default: ray where installed).")] = None,
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address (auto, ray://host:10001); default: a local Ray.")] = None,
    num_cpus: Annotated[Optional[int], typer.Option(min=1, help="Ray actors, one CPU each (default: every CPU).")] = None,
    since: Annotated[Optional[str], typer.Option(help="Skip pages published before this date.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Skip pages published after this date.")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Read at most N pages in all.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="feeds.yaml whose settings name the models and size caps.")] = None,
) -> None:
    """Run archived pages through the nightly path into Parquet datasets, locally or on Ray."""
    with user_errors():
        from pipeline.backfill import BackfillError, BackfillOptions, default_engine, run_backfill
        from pipeline.config import Settings, load_config
        from pipeline.run import StopFlag, stop_on_signals

        options = BackfillOptions(
            inputs=input, output=output, engine=engine or default_engine(), address=address,
            num_cpus=num_cpus, since=parse_day(since), until=parse_day(until, end=True),
            limit=limit, settings=load_config(config).settings if config else Settings(),
        )
        stop = StopFlag()
        try:
            with stop_on_signals(stop), backfill_progress() as progress:
                report = run_backfill(options, progress=progress, stop=stop.is_set)
        except BackfillError as error:
            raise UserError(str(error)) from None
        typer.echo(report.summary(), err=True)
        for problem in report.problems[:20]:
            typer.echo(f"  {problem.path} at {problem.offset}: {problem.reason}", err=True)
        if len(report.problems) > 20:
            typer.echo(f"  ... {len(report.problems) - 20} more in {output}/_manifest.json", err=True)


@contextmanager
def backfill_progress() -> Iterator:
    """Pages/s, processed and rejected on a terminal; nothing under cron."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("backfill")

        def show(state) -> None:
            bar.update(task, description=(
                f"files {state.files_done}/{state.files} | pages {state.pages} "
                f"({state.pages_per_second:.2f}/s) | processed {state.processed} | "
                f"rejected {state.rejected}"
            ))

        yield show


@app.command("import")
def import_command(
    from_parquet: Annotated[Path, typer.Option(help="A backfill's output directory.")],
    db: Annotated[Path, typer.Option(help="SQLite database (created if missing).")] = Path("newsignal.db"),
) -> None:
    """Load a backfill's Parquet datasets into the store, for review."""
    with user_errors():
        from pipeline.backfill.load import import_backfill
        from pipeline.lock import RunLock
        from pipeline.store import Store

        root = _backfill_dir(from_parquet)
        with RunLock(db), Store.open(db) as store:
            result = import_backfill(root, store)
        typer.echo(
            f"imported {result.imported} articles into {db}; {result.known} already there", err=True
        )


def _backfill_dir(path: Path) -> Path:
    if not (path / "_manifest.json").is_file():
        raise UserError(f"{path}: not a backfill output (no _manifest.json)")
    return path


def _export_backfill_signal(
    kind, root, output, format, since, until, asset, min_confidence, include_duplicates
) -> int:
    from pipeline.backfill.load import backfill_signal
    from pipeline.export import signal_export_rows, write_export

    if kind != "signal":
        raise UserError(
            f"--from-parquet exports the signal only; a backfill's {kind} are Parquet already "
            f"in {root}/{kind}"
        )
    if include_duplicates:
        raise UserError("the signal counts each story once; --include-duplicates does not apply")
    fmt = format or "csv"
    if fmt not in {item.value for item in Format}:
        raise UserError(f"unknown format {fmt!r}; choose csv, jsonl or parquet")
    signal = backfill_signal(
        _backfill_dir(root), asset=asset, since=parse_day(since),
        until=parse_day(until, end=True), min_confidence=min_confidence,
    )
    return write_export("signal", signal_export_rows(signal), output, fmt)


# -- single documents -------------------------------------------------------------------------------


@app.command()
def process(
    page: Annotated[Path, typer.Argument(help="A saved HTML page.")],
    url: Annotated[Optional[str], typer.Option(help="The page's URL (helps dates and links).")] = None,
) -> None:
    """Run one saved page through the whole NLP path; JSON on stdout."""
    with user_errors():
        from pipeline.processing import ANALYSED_LANGUAGES, Processor, extract_page
        from pipeline.records import AnalysisFailure, ArticleStatus, FeedEntry, FetchResult

        if not page.is_file():
            raise UserError(f"{page}: no such file")
        address = url or page.resolve().as_uri()
        body = page.read_bytes()
        entry = FeedEntry(feed_name="local", url=address, canonical_url=address)
        extracted = extract_page(entry, FetchResult(url=address, final_url=address, body=body))
        result = {"url": address, "status": str(extracted.status), "reason": extracted.reason,
                  "article": to_jsonable(extracted.article)}
        if extracted.status is ArticleStatus.PROCESSED:
            with Processor() as processor:
                analysis = processor.analyze_one(extracted.article.text)
            if isinstance(analysis, AnalysisFailure):
                result.update(status=str(ArticleStatus.FAILED), reason=analysis.reason)
            else:
                result.update(model=processor.model, **to_jsonable(analysis))
        else:
            log.info("not analysed: %s (analysed languages: %s)", extracted.reason, ANALYSED_LANGUAGES)
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))


@app.command()
def classify(
    file: Annotated[Optional[Path], typer.Argument(help="Sentences, one per line (stdin when absent).")] = None,
    model: Annotated[Optional[str], typer.Option(help="Direction model directory or HF model id.")] = None,
) -> None:
    """Judge the direction of sentences; JSONL {"text", "direction", "confidence"} on stdout.

    One row per input line, in order (a blank line gives a row with no direction); bytes that
    are not UTF-8 are replaced, and counted on stderr.
    """
    with user_errors():
        from pipeline.direction.model import classify_lines

        if file is not None and not file.is_file():
            raise UserError(f"{file}: no such file")
        data = file.read_bytes() if file else sys.stdin.buffer.read()
        text, replaced = decode_counting(data)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # the newline that ends the last line starts no new one
        if replaced:
            typer.echo(f"newsignal: {replaced} bytes were not UTF-8 and were replaced", err=True)
        for row in classify_lines([line.removesuffix("\r") for line in lines],
                                  _direction_model(model)):
            typer.echo(json.dumps(row, ensure_ascii=False))


def decode_counting(data: bytes) -> tuple[str, int]:
    """`data` as UTF-8 (a BOM dropped), invalid bytes replaced; and how many bytes were."""
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    replaced = sum(1 for char in text if "\udc80" <= char <= "\udcff")
    if replaced:
        text = "".join("\ufffd" if "\udc80" <= char <= "\udcff" else char for char in text)
    return text, replaced


# -- demo ----------------------------------------------------------------------------------------------


@app.command()
def demo(
    output: Annotated[Path, typer.Option(help="Directory for demo.db, catalysts.csv and figures.csv.")] = Path("demo-out"),
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the main job on the bundled corpus, served over real HTTP from 127.0.0.1."""
    with user_errors():
        from pipeline.demo import print_summary, run_demo

        result = run_demo(output, workers=workers)
        print_summary(result)


# -- evaluation and training ------------------------------------------------------------------------


@eval_app.command("extraction")
def eval_extraction(
    bench: Annotated[Path, typer.Option(help="Benchmark directory (html/<id>.html.gz and ground-truth.json).")] = DEFAULT_BENCH,
    split: Annotated[Optional[str], typer.Option(help="Score one half only: dev or test (models/extraction/splits.json).")] = None,
    worst: Annotated[int, typer.Option(min=0, help="List the N pages with the lowest F1.")] = 10,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """F1, precision, recall (per source too) and ms/page of the extractor on a benchmark."""
    with user_errors():
        from pipeline.evaluation.extraction import BenchmarkError, evaluate_extraction

        try:
            report = evaluate_extraction(bench, split=split)
        except BenchmarkError as error:
            raise UserError(str(error)) from None
        if json_output:
            typer.echo(json.dumps(report.to_dict(worst), indent=2))
        else:
            typer.echo(report.format(worst))


@eval_app.command("entities")
def eval_entities(
    gold: Annotated[Path, typer.Option(help="Directory of gold articles (.txt + .json, or markup .md).")] = REPO_ROOT / "models" / "data" / "gold",
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Precision, recall and F1 per entity label, and ticker linking where the text states the
    ticker, on gold articles (or a directory of annotated markup)."""
    with user_errors():
        from pipeline.evaluation.nlp import GoldError, evaluate_entities

        try:
            report = evaluate_entities(_existing_dir(gold))
        except GoldError as error:
            raise UserError(str(error)) from None
        _print_report(report, json_output)


@eval_app.command("figures")
def eval_figures(
    gold: Annotated[Path, typer.Option(help="Directory of gold articles (.txt + .json, or markup .md).")] = REPO_ROOT / "models" / "data" / "gold",
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Figures found (value and unit), metric, asset and sign accuracy, and the share left
    without a metric, on gold articles (or a directory of annotated markup)."""
    with user_errors():
        from pipeline.evaluation.nlp import GoldError, evaluate_figures

        try:
            report = evaluate_figures(_existing_dir(gold))
        except GoldError as error:
            raise UserError(str(error)) from None
        _print_report(report, json_output)


@eval_app.command("catalysts")
def eval_catalysts(
    gold: Annotated[Path, typer.Option(help="Directory of gold articles (.txt + catalysts/*.json).")] = REPO_ROOT / "models" / "data" / "gold",
    model: Annotated[Optional[str], typer.Option(help="Direction model directory or HF model id.")] = None,
    pages: Annotated[bool, typer.Option("--pages", help="Read each article from its web page (pages/<name>.html) through the extractor, as a run does.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Catalyst tags on whole gold articles: detection P/R/F1, category, direction and event type."""
    with user_errors():
        from pipeline.evaluation.nlp import PAGES_DIR, evaluate_article_catalysts
        from pipeline.nlp import build_nlp

        gold = _existing_dir(gold)
        if pages:
            _existing_dir(gold / PAGES_DIR)
        _direction_model(model, shared=True)  # a bad --model fails here, in one line
        nlp = build_nlp(direction_model=model)
        _print_report(evaluate_article_catalysts(gold, nlp, from_pages=pages), json_output)


@eval_app.command("compare")
def eval_compare(
    before: Annotated[Path, typer.Argument(help="JSON report of the change's base (eval ... --json).")],
    after: Annotated[Path, typer.Argument(help="JSON report of the change, same kind and gold set.")],
    seed: Annotated[int, typer.Option(help="Resampling seed (same seed, same report).")] = 0,
    json_output: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
) -> None:
    """Whether a change moved a gold-set score by more than the choice of articles would: each
    measure of two saved reports (eval catalysts, figures or entities --json) with the interval
    of its difference, resampling the articles both scored alike."""
    with user_errors():
        from pipeline.evaluation.nlp import GoldError, compare_reports

        reports = []
        for path in _existing_files([before, after]):
            try:
                reports.append(json.loads(path.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise UserError(f"{path}: not a JSON report ({error})") from None
        try:
            differences = compare_reports(*reports, seed=seed)
        except GoldError as error:
            raise UserError(str(error)) from None
        if json_output:
            typer.echo(json.dumps({name: d.to_dict() for name, d in differences.items()}, indent=2))
            return
        articles = next(iter(differences.values())).articles
        typer.echo(f"{before.name} -> {after.name}, paired over {articles} gold articles "
                   "(95% interval of the difference; share of resamples with no gain)")
        for name, d in differences.items():
            typer.echo(f"{name.replace('_', ' '):<20} {d.before:.3f} -> {d.after:.3f}  "
                       f"{d.difference:+.3f}  [{d.low:+.3f}, {d.high:+.3f}]  "
                       f"no gain {d.not_better:.2f}")


@eval_app.command("direction")
def eval_direction(
    model: Annotated[Optional[str], typer.Option(help="Direction model directory or HF model id.")] = None,
    data: Annotated[Optional[list[Path]], typer.Option(help="Extra JSONL gold ({text, direction}) to score.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Macro-F1, per-class scores, confusion matrix and calibration of the direction model."""
    with user_errors():
        from pipeline.evaluation.direction import evaluate_direction

        report = evaluate_direction(_direction_model(model), extra_files=_existing_files(data))
        _print_report(report, json_output)


@train_app.command("direction")
def train_direction_command(
    output: Annotated[Path, typer.Option(help="Where to write the trained model.")] = REPO_ROOT / "models" / "direction",
    extra: Annotated[Optional[list[Path]], typer.Option(help="Extra JSONL training data, e.g. review corrections.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 13,
    epochs: Annotated[Optional[int], typer.Option(min=1, help="Training epochs (recipe default when absent).")] = None,
    validation: Annotated[float, typer.Option(min=0, max=0.5, help="Share of each set's texts kept out and scored at the end, to compare recipes (0: train on everything).")] = 0.0,
    asset_input: Annotated[bool, typer.Option(help="Read each sentence with the asset it is judged for.")] = False,
    repeats: Annotated[Optional[list[str]], typer.Option("--repeats", help="SOURCE=N: read a training set N times per epoch (twitter, crypto, crypto_article_style, events, articles); repeatable.")] = None,
    loss_weight: Annotated[Optional[list[str]], typer.Option("--loss-weight", help="SOURCE=W: weigh a training set's examples W times in the loss (default 1); repeatable.")] = None,
    version: Annotated[Optional[str], typer.Option(help="Version recorded in the model (default: today's date).")] = None,
) -> None:
    """Fine-tune the direction model (direction and event type) on the twitter set plus the
    team's crypto and event-typed sets (CPU)."""
    with user_errors():
        from pipeline.direction.train import DEFAULT_REPEATS, train_direction

        options = {"seed": seed, "extra_files": _existing_files(extra), "version": version,
                   "validation_fraction": validation, "asset_input": asset_input,
                   "repeats": _source_values("--repeats", repeats or [], set(DEFAULT_REPEATS), int),
                   "loss_weights": _source_values("--loss-weight", loss_weight or [],
                                                  set(DEFAULT_REPEATS), float)}
        if epochs is not None:
            options["epochs"] = epochs
        report = train_direction(output, **options)
        _print_report(report, False)


@train_app.command("extraction")
def train_extraction_command(
    bench: Annotated[Optional[list[Path]], typer.Option(help="Benchmark directories whose dev halves train it (default: both under ../shared/datasets).")] = None,
    output: Annotated[Path, typer.Option(help="Where to write the chooser (JSON).")] = REPO_ROOT / "models" / "extraction" / "chooser.json",
    seed: Annotated[int, typer.Option(help="Seed of the cross-validation folds.")] = 13,
) -> None:
    """Fit the extraction chooser on the benchmarks' dev halves (seconds to minutes, CPU)."""
    with user_errors():
        from pipeline.evaluation.extraction import BenchmarkError
        from pipeline.extract_choice import train_chooser

        benches = bench or [DEFAULT_BENCH, DEFAULT_BENCH.parent / "web-content-extraction"]
        try:
            report = train_chooser([_existing_dir(path) for path in benches], output, seed=seed)
        except (BenchmarkError, ValueError) as error:
            raise UserError(str(error)) from None
        _print_report(report, False)


@train_app.command("entities")
def train_entities_command(
    output: Annotated[Path, typer.Option(help="Where to write the trained recogniser.")] = REPO_ROOT / "models" / "entities" / "model",
    data: Annotated[Path, typer.Option(help="Annotated markup: DIR/train/*.md and DIR/valid/*.md.")] = REPO_ROOT / "models" / "data" / "entities",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 13,
    steps: Annotated[Optional[int], typer.Option(min=1, help="Training steps (the config's max_steps when absent).")] = None,
) -> None:
    """Train the entity recogniser with spaCy from models/entities/config.cfg (CPU, seeded)."""
    with user_errors():
        from pipeline.entity_training import EntityDataError, train_entities

        try:
            report = train_entities(output, data_dir=_existing_dir(data), seed=seed, steps=steps)
        except EntityDataError as error:
            raise UserError(str(error)) from None
        _print_report(report, False)


@train_app.command("metrics")
def train_metrics_command(
    output: Annotated[Path, typer.Option(help="Where to write the figure metric model.")] = REPO_ROOT / "models" / "figure_metric",
    data: Annotated[Path, typer.Option(help="Annotated markup: DIR/train/*.md and DIR/valid/*.md.")] = REPO_ROOT / "models" / "data" / "entities",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 13,
) -> None:
    """Train the learned choice of a figure's metric on the annotated figures (CPU, seconds)."""
    with user_errors():
        from pipeline.metric_training import MetricDataError, train_metrics

        try:
            report = train_metrics(output, data_dir=_existing_dir(data), seed=seed)
        except MetricDataError as error:
            raise UserError(str(error)) from None
        _print_report(report, False)


def _direction_model(path_or_id: str | None, *, shared: bool = False):
    """The shipped direction model, or the one named on the command line; `shared` loads it
    into the process-wide copy that pipelines built afterwards use."""
    from pipeline.direction import DEFAULT_MODEL_DIR, DirectionModelError
    from pipeline.direction.model import DirectionModel

    try:
        load = DirectionModel.shared if shared else DirectionModel.load
        return load(path_or_id or DEFAULT_MODEL_DIR)
    except DirectionModelError as exc:  # its message names the model already
        raise UserError(str(exc)) from exc
    except OSError as exc:
        raise UserError(f"cannot load direction model {path_or_id or DEFAULT_MODEL_DIR}: {exc}") from exc


def _source_values(option: str, values: list[str], sources: set[str], kind: type) -> dict:
    """`--repeats SOURCE=N` / `--loss-weight SOURCE=W` options as a dict; a bad one is the
    user's error."""
    parsed = {}
    for value in values:
        source, _, number = value.partition("=")
        try:
            parsed_number = kind(number)
        except ValueError:
            parsed_number = -1
        if source not in sources or not 0 <= parsed_number < math.inf:  # no NaN, no infinity
            raise UserError(f"{option} {value!r}: want SOURCE=N with SOURCE one of "
                            f"{', '.join(sorted(sources))} and N a non-negative "
                            f"{'whole number' if kind is int else 'number'}")
        parsed[source] = parsed_number
    return parsed


def _existing_files(paths: list[Path] | None) -> list[Path]:
    for path in paths or []:
        if not path.is_file():
            raise UserError(f"{path}: no such file")
    return list(paths or [])


def _existing_dir(path: Path) -> Path:
    if not path.is_dir():
        raise UserError(f"{path}: no such directory")
    return path


def _print_report(report, json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(report.to_dict() if hasattr(report, "to_dict") else to_jsonable(report), indent=2))
    else:
        typer.echo(report.format() if hasattr(report, "format") else str(report))


# -- signal and review ------------------------------------------------------------------------------


@plot_app.command("signal")
def plot_signal_command(
    db: Annotated[Path, typer.Option(help="SQLite database.")] = Path("newsignal.db"),
    asset: Annotated[str, typer.Option(help="Ticker to plot.")] = "BTC",
    output: Annotated[Path, typer.Option(help="PNG file to write.")] = Path("signal.png"),
    since: Annotated[Optional[str], typer.Option(help="From this date.")] = None,
    until: Annotated[Optional[str], typer.Option(help="Up to this date.")] = None,
    from_parquet: Annotated[Optional[Path], typer.Option(help="Read a backfill's output directory instead of --db.")] = None,
) -> None:
    """The daily net catalyst score of one asset as a bar chart."""
    with user_errors():
        from pipeline.signal import daily_signal, plot_signal
        from pipeline.store import Store

        window = {"asset": asset, "since": parse_day(since), "until": parse_day(until, end=True)}
        if from_parquet is not None:
            from pipeline.backfill.load import backfill_signal

            rows = backfill_signal(_backfill_dir(from_parquet), **window)
        else:
            with Store.open(existing_db(db)) as store:
                rows = daily_signal(store, **window)
        if not rows:
            raise UserError(f"no catalysts about {asset} in {from_parquet or db}")
        plot_signal(rows, asset, output)
        typer.echo(f"wrote {output}", err=True)


class Grouping(str, Enum):
    category = "category"
    event_type = "event_type"
    source = "source"


@app.command()
def backtest(
    prices: Annotated[Path, typer.Option(help="CSV of daily closes: date,close or timestamp,close.")],
    asset: Annotated[str, typer.Option(help="Ticker the catalysts name, e.g. BTC.")],
    db: Annotated[Optional[Path], typer.Option(help="SQLite database with the catalysts.")] = None,
    from_parquet: Annotated[Optional[Path], typer.Option(help="Directory holding a catalysts/ Parquet dataset (date=YYYY-MM-DD partitions).")] = None,
    horizons: Annotated[str, typer.Option(help="Forward horizons in closes, comma-separated.")] = "1,3,7",
    min_confidence: Annotated[Optional[float], typer.Option(min=0, max=1, help="Catalysts at or above this confidence.")] = None,
    by: Annotated[Optional[Grouping], typer.Option(help="Also break the event study down by this.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the HTML report here.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report's numbers as JSON.")] = False,
    close_time: Annotated[str, typer.Option(help="When a day's close is, HH:MM UTC (24:00: the UTC day boundary, for crypto; e.g. 21:00 for New York in winter).")] = "24:00",
    date_column: Annotated[Optional[str], typer.Option(help="Name of the prices' date column.")] = None,
    price_column: Annotated[Optional[str], typer.Option(help="Name of the prices' close column.")] = None,
    date_format: Annotated[Optional[str], typer.Option(help="strptime format of the dates, when they are ambiguous (e.g. %d/%m/%Y).")] = None,
    max_missing_days: Annotated[Optional[int], typer.Option(min=0, help="Consecutive days the prices may miss (default 0 for 7-day data, 2 for weekdays).")] = None,
    window: Annotated[int, typer.Option(min=2, help="Closes in the trailing mean the abnormal return subtracts.")] = 60,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 2000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed (same seed, same report).")] = 0,
) -> None:
    """Does the signal lead prices? Event study of catalysts and backtest of the daily signal."""
    with user_errors():
        from pipeline.backtest.data import parquet_catalysts, read_prices, store_catalysts
        from pipeline.backtest.study import BacktestSettings, backtest as run_backtest

        if (db is None) == (from_parquet is None):
            raise UserError("give the catalysts with exactly one of --db and --from-parquet")
        settings = BacktestSettings(
            horizons=parse_horizons(horizons), min_confidence=min_confidence,
            by=by.value if by else None, window=window, resamples=resamples, seed=seed,
        )
        series = read_prices(
            prices, date_column=date_column, price_column=price_column, date_format=date_format,
            close_time=close_time, max_missing_days=max_missing_days,
        )
        if db is not None:
            inputs = store_catalysts(existing_db(db), asset=asset, min_confidence=min_confidence)
        else:
            inputs = parquet_catalysts(
                _existing_dir(from_parquet), asset=asset, min_confidence=min_confidence
            )
        report = run_backtest(inputs, series, asset, settings)
        if output is not None:
            from pipeline.backtest.report import write_html

            write_html(report, output)
            typer.echo(f"wrote {output}", err=True)
        if json_output:
            typer.echo(json.dumps(report.to_dict(), indent=2, allow_nan=False))
        elif output is None:
            typer.echo(report.format())


def parse_horizons(text: str) -> tuple[int, ...]:
    try:
        horizons = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise UserError(f"--horizons {text!r}: expected whole numbers of days, e.g. 1,3,7") from None
    if not horizons or horizons[0] < 1:
        raise UserError(f"--horizons {text!r}: expected whole numbers of days, 1 or more")
    return tuple(horizons)


@app.command()
def review(
    db: Annotated[Path, typer.Option(help="SQLite database.")] = Path("newsignal.db"),
    host: Annotated[str, typer.Option(help="Address to bind; non-loopback needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    token: Annotated[Optional[str], typer.Option(help="Access token, required off loopback.")] = None,
    reviewer: Annotated[Optional[str], typer.Option(help="Name recorded with your corrections.")] = None,
    allowed_host: Annotated[Optional[list[str]], typer.Option(help="Another host name the app answers to (besides the bound address and localhost), e.g. behind a proxy.")] = None,
) -> None:
    """Browse articles with their tags highlighted; accept, reject and correct them."""
    with user_errors():
        from pipeline.review.app import serve

        try:
            serve(existing_db(db), host=host, port=port, token=token, reviewer=reviewer,
                  allowed_hosts=tuple(allowed_host or ()))
        except ValueError as error:
            raise UserError(str(error)) from None


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, prog_name="newsignal")
    except Exception as error:  # noqa: BLE001  (a bug: say so in one line, keep the traceback)
        path = record_crash(error)
        where = f"traceback in {path}" if path else "no traceback file could be written"
        sys.stderr.write(
            f"newsignal: crashed: {type(error).__name__}: {error} ({where}); "
            f"please report it\n"
        )
        sys.exit(EXIT_CRASH)


if __name__ == "__main__":
    main()

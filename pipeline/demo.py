"""`newsignal demo`: the nightly job end to end on the bundled corpus, over real HTTP.

The pages and feeds in `pipeline/samples/` are served by a small threaded HTTP server on
127.0.0.1; feed files name their links with a `{BASE_URL}` placeholder that the server fills in.
The run then goes through the same fetcher, extractor, models and store as `newsignal run`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pipeline.config import Config, parse_config
from pipeline.exit_codes import EXIT_OK
from pipeline.records import RunReport

SAMPLES_DIR = Path(__file__).resolve().parent / "samples"
FEED_FILES = {"markets": "feeds/markets.xml", "regulators": "feeds/regulators.xml"}


class SamplesHandler(BaseHTTPRequestHandler):
    """Serves `samples/pages/<path>` for `/<path>`, and the feeds with their base URL filled in."""

    def __init__(self, *args, base_url_holder: list[str], **kwargs):
        self.base_url_holder = base_url_holder
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0].split("#", 1)[0].lstrip("/")
        if path.startswith("feeds/") and (SAMPLES_DIR / path).is_file():
            body = (SAMPLES_DIR / path).read_text(encoding="utf-8")
            self._send(body.replace("{BASE_URL}", self.base_url_holder[0]).encode("utf-8"),
                       "application/xml; charset=utf-8")
            return
        page = resolve_page(path)
        if page is None:
            self.send_error(404, "Not Found")
            return
        self._send(page.read_bytes(), "text/html; charset=utf-8")

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # quiet: the run logs what matters
        pass


def resolve_page(path: str) -> Path | None:
    """The sample page for a URL path: `pages/<path>`, or None (a 404)."""
    if not path or ".." in Path(path).parts:
        return None
    page = SAMPLES_DIR / "pages" / path
    return page if page.is_file() and page.suffix in (".html", ".htm") else None


class SamplesServer:
    """The demo's web server on an ephemeral port of 127.0.0.1, in a background thread."""

    def __init__(self) -> None:
        self._base_url: list[str] = [""]
        handler = partial(SamplesHandler, base_url_holder=self._base_url)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._base_url[0] = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return self._base_url[0]

    def __enter__(self) -> SamplesServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def demo_config(base_url: str) -> Config:
    return parse_config(
        {
            "settings": {
                "allow_private_hosts": True,  # the demo server is on loopback
                "per_host_delay": 0.0,
                "per_host_concurrency": 4,
                "retries": 1,
                "backoff_base": 0.05,
            },
            "feeds": [
                {"name": name, "url": f"{base_url}/{path}", "tags": ["demo"], "language": "en"}
                for name, path in FEED_FILES.items()
            ],
        },
        "<demo>",
    )


@dataclass
class DemoResult:
    output_dir: Path
    db_path: Path
    report: RunReport
    exported: dict[str, int] = field(default_factory=dict)  # file name -> rows


def run_demo(output_dir: Path, *, workers: int = 1, processor=None) -> DemoResult:
    """Serve the samples, run the pipeline into `output_dir/demo.db`, export the CSVs.

    `processor` lets a caller that already holds loaded models (tests) lend them.
    """
    from pipeline.export import ExportFilters, export_table
    from pipeline.processing import Processor
    from pipeline.run import run_pipeline
    from pipeline.store import Store

    output_dir.mkdir(parents=True, exist_ok=True)
    db_path = output_dir / "demo.db"
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)  # the server's port changes per demo: start afresh
    exported: dict[str, int] = {}
    with SamplesServer() as server, Store.open(db_path) as store:
        owned = processor is None
        processor = processor or Processor(workers=workers)
        try:
            report = run_pipeline(demo_config(server.base_url), store, processor=processor)
        finally:
            if owned:
                processor.close()
        store.finish_run(report, "ok", EXIT_OK)
        for kind in ("catalysts", "figures"):
            path = output_dir / f"{kind}.csv"
            exported[path.name] = export_table(store, kind, path, "csv", ExportFilters())
    return DemoResult(output_dir, db_path, report, exported)


def build_demo_db(path: Path, *, processor=None) -> Path:
    """A database holding the processed demo corpus, for tests and notebooks."""
    result = run_demo(Path(path).parent, processor=processor)
    if result.db_path != Path(path):
        result.db_path.replace(path)
    return Path(path)


def print_summary(result: DemoResult) -> None:
    from rich.console import Console
    from rich.table import Table

    from pipeline.store import Store
    from pipeline.store.summary_queries import catalysts_by_category, figures_by_metric

    console = Console()
    counts = result.report.counts
    console.print(
        f"[bold]newsignal demo[/bold]: {counts.get('new', 0)} new entries -> "
        + ", ".join(f"{key} {value}" for key, value in sorted(counts.items()) if key != "new")
    )
    with Store.open(result.db_path) as store:
        categories = catalysts_by_category(store)
        metrics = figures_by_metric(store)
    table = Table(title="Catalysts by category")
    for column in ("category", "bearish", "bullish", "neutral", "total"):
        table.add_column(column, justify="right" if column != "category" else "left")
    for row in categories:
        table.add_row(row.category, str(row.bearish), str(row.bullish), str(row.neutral),
                      str(row.total))
    totals = [sum(getattr(row, name) for row in categories)
              for name in ("bearish", "bullish", "neutral", "total")]
    table.add_row("all", *(str(total) for total in totals), style="bold")
    console.print(table)
    figures = Table(title="Figures by metric")
    figures.add_column("metric")
    figures.add_column("count", justify="right")
    for metric, count in metrics:
        figures.add_row(metric, str(count))
    console.print(figures)
    for name, rows_written in result.exported.items():
        console.print(f"wrote {rows_written} rows to {result.output_dir / name}")
    console.print(f"database: {result.db_path}  (try: newsignal review --db {result.db_path})")

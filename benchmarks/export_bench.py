"""Export benchmark: peak memory and speed of exporting a million catalysts.

    .venv/bin/python benchmarks/export_bench.py [--rows 1000000] [--format csv]

Builds a throwaway database in a temporary directory (articles through `Store.save_article`,
catalysts in bulk through `bulk_insert_catalysts`), then exports it in fresh child processes so
each peak RSS belongs to one export alone: once for about a tenth of the rows (via `until`) and
once for all of them. Equal peaks mean memory does not grow with the row count. Speed is reported
in rows/s and as a ratio to a bare cursor scan of the same query, which is what a machine-neutral
comparison needs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from pipeline.export import ExportFilters, export_table  # noqa: E402
from pipeline.records import Article, ArticleStatus, Catalyst, Direction, FeedEntry  # noqa: E402
from pipeline.store import Store  # noqa: E402
from pipeline.store.export_queries import bulk_insert_catalysts, export_records  # noqa: E402

START = datetime(2026, 1, 1, tzinfo=UTC)
CATEGORIES = ("etf_flows", "liquidations", "regulation", "macro", "earnings", "security")
DIRECTIONS = tuple(Direction)
ASSETS = (["BTC"], ["ETH"], ["BTC", "ETH"], ["SOL"], [])


def build(path: Path, rows: int, per_article: int) -> int:
    """A database of `rows` catalysts, `per_article` to an article, an hour between articles."""
    articles = -(-rows // per_article)
    with Store.open(path) as store:
        for number in range(articles):
            sentences = [
                # Every seventh sentence opens like a formula, to exercise the CSV guard.
                f"{'-' if index % 7 == 0 else ''}Spot funds moved ${index + number} million, "
                f"said desk {index % 13}, as traders weighed rates."
                for index in range(min(per_article, rows - number * per_article))
            ]
            text = "\n\n".join(sentences)
            url = f"https://bench.example/{number}"
            article_id = store.save_article(
                FeedEntry(feed_name=f"feed-{number % 9}", url=url, canonical_url=url),
                Article(url=url, title=f"Benchmark story {number}", text=text,
                        published_at=START + timedelta(hours=number), language="en"),
                ArticleStatus.PROCESSED,
            )
            offset = 0
            catalysts = []
            for index, sentence in enumerate(sentences):
                catalysts.append(Catalyst(
                    sentence, offset, offset + len(sentence), CATEGORIES[index % 6],
                    DIRECTIONS[index % 3], 0.5 + (index % 50) / 100, ASSETS[index % 5],
                    model="bench",
                ))
                offset += len(sentence) + 2
            bulk_insert_catalysts(store, article_id, catalysts)
    return articles


def child_export(database: str, output: str, fmt: str, until: str | None, scan: bool) -> None:
    """Runs in a fresh process: one export (or a bare scan), then prints its numbers as JSON."""
    baseline_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    filters = ExportFilters(until=datetime.fromisoformat(until) if until else None)
    with Store.open(database) as store:
        started = time.perf_counter()
        if scan:
            count = sum(1 for _ in export_records(store, "catalysts", until=filters.until))
        else:
            count = export_table(store, "catalysts", output, fmt, filters)
        seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": count, "seconds": seconds, "baseline_kb": baseline_kb,
                      "peak_kb": peak_kb}))


def run_child(database: Path, output: Path, fmt: str, until: str | None, scan: bool) -> dict:
    command = [sys.executable, __file__, "--child", str(database), str(output), fmt,
               until or "", "scan" if scan else "export"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        database, output, fmt, until, mode = sys.argv[2:7]
        child_export(database, output, fmt, until or None, mode == "scan")
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-article", type=int, default=1_000)
    parser.add_argument("--format", default="csv", choices=["csv", "jsonl", "parquet"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="newsignal-export-bench-") as scratch:
        database = Path(scratch) / "bench.db"
        started = time.perf_counter()
        articles = build(database, args.rows, args.per_article)
        build_seconds = time.perf_counter() - started
        print(f"built {args.rows:,} catalysts in {articles:,} articles in {build_seconds:.1f} s "
              f"({database.stat().st_size / 1e6:.0f} MB database)")
        tenth = (START + timedelta(hours=max(1, articles // 10))).isoformat()
        output = Path(scratch) / f"catalysts.{args.format}"
        results = {
            "tenth": run_child(database, output, args.format, tenth, scan=False),
            "all": run_child(database, output, args.format, None, scan=False),
            "scan": run_child(database, output, args.format, None, scan=True),
        }
        size_mb = output.stat().st_size / 1e6
    for name, result in results.items():
        label = {"tenth": "export, ~1/10 of rows", "all": "export, all rows",
                 "scan": "bare cursor scan"}[name]
        print(f"{label:>22}: {result['rows']:>9,} rows in {result['seconds']:6.1f} s = "
              f"{result['rows'] / result['seconds']:>9,.0f} rows/s; peak RSS "
              f"{result['peak_kb'] / 1024:5.0f} MB "
              f"(after imports {result['baseline_kb'] / 1024:.0f} MB)")
    full, tenth_run, scan = results["all"], results["tenth"], results["scan"]
    print(f"{args.format} file: {size_mb:.0f} MB")
    print(f"peak RSS, all rows / a tenth: {full['peak_kb'] / tenth_run['peak_kb']:.2f}")
    print(f"export time / bare scan time: {full['seconds'] / scan['seconds']:.2f}")


if __name__ == "__main__":
    main()

"""Main-text extraction on both benchmarks: ours against plain trafilatura, in one run.

Runs `extract_article` and `trafilatura.extract` with its defaults over every page of the
article-extraction benchmark (Zyte, 181 pages) and of web-content-extraction (725 pages), one
page at a time and the two extractors back to back on each page, so that both see the same
machine load. Prints F1/precision/recall for each benchmark whole, for its dev and test halves
(`models/extraction/splits.json`) and per source, then ms per page for both extractors and the
ratio of our median time to trafilatura's (a ratio travels between machines; milliseconds do
not).

    python benchmarks/extraction_bench.py [--datasets ../shared/datasets] [--worst 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.evaluation.extraction import (  # noqa: E402
    ExtractionReport,
    PageScore,
    load_benchmark,
    score_page,
    split_ids,
)

BENCHMARKS = ("article-extraction-benchmark", "web-content-extraction")


def trafilatura_default(html: str, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url or None) or ""


def newsignal_extract(html: str, url: str) -> str:
    from pipeline.extract import extract_article

    return extract_article(html, url).text


EXTRACTORS = {"trafilatura default": trafilatura_default, "newsignal extract": newsignal_extract}


def run(bench_dir: Path) -> dict[str, list[PageScore]]:
    scores: dict[str, list[PageScore]] = {name: [] for name in EXTRACTORS}
    for page in load_benchmark(bench_dir):
        for name, extractor in EXTRACTORS.items():
            started = time.perf_counter()
            text = extractor(page.html, page.url)
            ms = (time.perf_counter() - started) * 1000
            scores[name].append(score_page(page.truth, text, page.page_id, ms, page.source))
    return scores


def print_table(bench: str, bench_dir: Path, scores: dict[str, list[PageScore]]) -> None:
    halves = {half: set(split_ids(bench_dir, half)) for half in ("dev", "test")}
    print(f"\n{bench}")
    print(f"  {'part':<18}{'pages':>6}  " + "".join(f"{name:>28}" for name in EXTRACTORS))
    parts: dict[str, object] = {"ALL": lambda s: True}
    parts.update({half: (lambda s, ids=ids: s.page_id in ids) for half, ids in halves.items()})
    sources = sorted({s.source for s in scores["newsignal extract"] if s.source})
    parts.update({source: (lambda s, source=source: s.source == source) for source in sources})
    for part, keep in parts.items():
        cells, pages = [], 0
        for name in EXTRACTORS:
            report = ExtractionReport.from_scores([s for s in scores[name] if keep(s)])
            pages = report.pages
            cells.append(f"F1 {report.f1:.3f} P {report.precision:.3f} R {report.recall:.3f}")
        print(f"  {part:<18}{pages:>6}  " + "".join(f"{cell:>28}" for cell in cells))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages of ours")
    args = parser.parse_args(argv)

    # Warm up imports and the language model so neither extractor pays for loading.
    for extractor in EXTRACTORS.values():
        extractor("<html><body><p>" + "warm up text " * 30 + "</p></body></html>", "")

    every: dict[str, list[PageScore]] = {name: [] for name in EXTRACTORS}
    for bench in BENCHMARKS:
        scores = run(args.datasets / bench)
        print_table(bench, args.datasets / bench, scores)
        for name in EXTRACTORS:
            every[name].extend(scores[name])
        for score in ExtractionReport.from_scores(scores["newsignal extract"]).worst(args.worst):
            print(f"    worst: {score.f1:.3f}  {score.page_id}")

    print(f"\n{'ms per page':<22}{'median':>8}{'mean':>8}{'p90':>8}  ({len(every['newsignal extract'])} pages)")
    medians = {}
    for name, scores in every.items():
        times = sorted(s.ms for s in scores)
        medians[name] = statistics.median(times)
        print(f"{name:<22}{medians[name]:>8.1f}{statistics.fmean(times):>8.1f}"
              f"{times[int(0.9 * len(times))]:>8.1f}")
    ours, theirs = every["newsignal extract"], every["trafilatura default"]
    print(f"time ratio ours / trafilatura: median "
          f"{medians['newsignal extract'] / medians['trafilatura default']:.2f}, mean "
          f"{statistics.fmean(s.ms for s in ours) / statistics.fmean(s.ms for s in theirs):.2f}")


if __name__ == "__main__":
    main()

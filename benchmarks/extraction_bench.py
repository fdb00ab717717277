"""Main-text extraction on the article-extraction benchmark: ours against plain trafilatura.

Runs `extract_article` and `trafilatura.extract` with its defaults over the same 181 pages, in
the same process, and prints F1/precision/recall and ms per page for both, with the ratio of our
median time to trafilatura's (a ratio travels between machines; milliseconds do not).

    python benchmarks/extraction_bench.py [--bench ../shared/datasets/article-extraction-benchmark]
                                          [--worst 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.evaluation.extraction import evaluate_extraction  # noqa: E402

DEFAULT_BENCH = ROOT.parent / "shared" / "datasets" / "article-extraction-benchmark"


def trafilatura_default(html: str, url: str) -> str:
    import trafilatura

    return trafilatura.extract(html, url=url) or ""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH)
    parser.add_argument("--worst", type=int, default=0, help="list the N worst pages of ours")
    args = parser.parse_args(argv)

    # Warm up imports and the language model so neither run pays for loading.
    from pipeline.extract import extract_article

    extract_article("<html><body><p>" + "warm up text " * 30 + "</p></body></html>", "")
    trafilatura_default("<html><body><p>warm up</p></body></html>", "")

    baseline = evaluate_extraction(args.bench, trafilatura_default)
    ours = evaluate_extraction(args.bench)
    print(f"{'extractor':<22}{'F1':>7}{'P':>7}{'R':>7}{'ms median':>11}{'ms mean':>9}")
    for name, report in (("trafilatura default", baseline), ("newsignal extract", ours)):
        print(
            f"{name:<22}{report.f1:>7.3f}{report.precision:>7.3f}{report.recall:>7.3f}"
            f"{report.ms_median:>11.1f}{report.ms_mean:>9.1f}"
        )
    print(f"time ratio ours / trafilatura: median {ours.ms_median / baseline.ms_median:.2f}, "
          f"mean {ours.ms_mean / baseline.ms_mean:.2f}  ({ours.pages} pages)")
    for score in ours.worst(args.worst):
        print(f"  {score.page_id[:16]}  P {score.precision}  R {score.recall}")


if __name__ == "__main__":
    main()

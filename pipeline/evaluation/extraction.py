"""Main-text extraction measured on the Scrapinghub article-extraction benchmark.

The scoring follows the benchmark's own method (see `../shared/datasets/README.md`): tokens are
`\\w+` matches, each text is the multiset of its word 4-grams, per page tp/fp/fn are normalised by
their sum so every page weighs the same, precision and recall are averaged over pages and F1 is
computed from the two averages.
"""

from __future__ import annotations

import gzip
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

NGRAM_SIZE = 4
_TOKEN = re.compile(r"\w+")

Extractor = Callable[[str, str], str]  # (html, url) -> main text


def _default_extractor(html: str, url: str) -> str:
    from pipeline.extract import extract_article

    return extract_article(html, url).text


def ngrams(text: str, size: int = NGRAM_SIZE) -> Counter[tuple[str, ...]]:
    """The multiset of word n-grams; a text shorter than `size` tokens is one short n-gram."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return Counter()
    if len(tokens) < size:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


@dataclass(slots=True)
class PageScore:
    page_id: str
    tp: float  # normalised: tp + fp + fn == 1 (all 0 when both texts are empty)
    fp: float
    fn: float
    ms: float

    @property
    def precision(self) -> float | None:
        """None where the page does not count towards the average (nothing extracted)."""
        if self.fp == self.fn == 0:
            return 1.0
        return self.tp / (self.tp + self.fp) if self.tp + self.fp > 0 else None

    @property
    def recall(self) -> float | None:
        if self.fp == self.fn == 0:
            return 1.0
        return self.tp / (self.tp + self.fn) if self.tp + self.fn > 0 else None


def score_page(truth: str, extracted: str, page_id: str = "", ms: float = 0.0) -> PageScore:
    """tp/fp/fn of one page over 4-gram multisets, divided by their sum."""
    expected, got = ngrams(truth), ngrams(extracted)
    tp = sum((expected & got).values())
    fp = sum((got - expected).values())
    fn = sum((expected - got).values())
    total = tp + fp + fn
    if total == 0:
        return PageScore(page_id, 0.0, 0.0, 0.0, ms)
    return PageScore(page_id, tp / total, fp / total, fn / total, ms)


@dataclass(slots=True)
class ExtractionReport:
    f1: float
    precision: float
    recall: float
    ms_median: float
    ms_mean: float
    pages: int
    page_scores: list[PageScore] = field(default_factory=list, repr=False)

    @classmethod
    def from_scores(cls, scores: list[PageScore]) -> ExtractionReport:
        precisions = [p for s in scores if (p := s.precision) is not None]
        recalls = [r for s in scores if (r := s.recall) is not None]
        precision = statistics.fmean(precisions) if precisions else 0.0
        recall = statistics.fmean(recalls) if recalls else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        times = [s.ms for s in scores] or [0.0]
        return cls(
            f1=f1,
            precision=precision,
            recall=recall,
            ms_median=statistics.median(times),
            ms_mean=statistics.fmean(times),
            pages=len(scores),
            page_scores=scores,
        )

    def worst(self, count: int = 10) -> list[PageScore]:
        """The pages with the lowest per-page F1, for error analysis."""

        def page_f1(score: PageScore) -> float:
            p, r = score.precision or 0.0, score.recall or 0.0
            return 2 * p * r / (p + r) if p + r else 0.0

        return sorted(self.page_scores, key=page_f1)[:count]

    def format(self) -> str:
        return (
            f"article extraction benchmark: {self.pages} pages\n"
            f"  F1 {self.f1:.3f}  precision {self.precision:.3f}  recall {self.recall:.3f}\n"
            f"  ms/page median {self.ms_median:.1f}  mean {self.ms_mean:.1f}"
        )


def load_benchmark(bench_dir: Path) -> list[tuple[str, str, str, str]]:
    """(page id, url, html, true text) for every page of the benchmark, in id order."""
    truth = json.loads((bench_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for page_id in sorted(truth):
        raw = gzip.decompress((bench_dir / "html" / f"{page_id}.html.gz").read_bytes())
        html = raw.decode("utf-8", errors="replace")
        pages.append((page_id, truth[page_id]["url"], html, truth[page_id]["articleBody"]))
    return pages


def evaluate_extraction(
    bench_dir: Path, extractor: Extractor = _default_extractor
) -> ExtractionReport:
    """Run `extractor` over every benchmark page and score it; timing covers extraction only."""
    scores = []
    for page_id, url, html, truth in load_benchmark(Path(bench_dir)):
        started = time.perf_counter()
        extracted = extractor(html, url)
        ms = (time.perf_counter() - started) * 1000
        scores.append(score_page(truth, extracted, page_id, ms))
    return ExtractionReport.from_scores(scores)

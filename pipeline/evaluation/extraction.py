"""Main-text extraction measured on benchmarks in the article-extraction-benchmark layout.

A benchmark is a directory with `ground-truth.json` (`{id: {"articleBody": ..., "url": ...,
"source": ...}}`, `url` and `source` optional) and `html/<id>.html.gz`. Both benchmarks under
`../shared/datasets/` have this layout: Scrapinghub's (Zyte's) 181 pages and the 725 pages of
`web-content-extraction` (sources `wcxb` and `readability`).

The scoring follows the benchmark's own method (see `../shared/datasets/README.md`): tokens are
`\\w+` matches, each text is the multiset of its word 4-grams, per page tp/fp/fn are normalised by
their sum so every page weighs the same, precision and recall are averaged over pages and F1 is
computed from the two averages.

Each benchmark is split into a dev half (to tune on) and a test half (looked at only to report),
fixed in `models/extraction/splits.json` and drawn by `draw_split`.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

NGRAM_SIZE = 4
_TOKEN = re.compile(r"\w+")
SPLITS_FILE = Path(__file__).resolve().parents[2] / "models" / "extraction" / "splits.json"
SPLITS = ("dev", "test")

Extractor = Callable[[str, str], str]  # (html, url) -> main text; url is "" when unknown


class BenchmarkError(ValueError):
    """A benchmark directory or split that cannot be read; the message names the file."""


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
    source: str | None = None

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

    @property
    def f1(self) -> float:
        """This page's own F1 (0 when nothing was extracted), for ranking pages."""
        p, r = self.precision or 0.0, self.recall or 0.0
        return 2 * p * r / (p + r) if p + r else 0.0


def score_page(
    truth: str, extracted: str, page_id: str = "", ms: float = 0.0, source: str | None = None
) -> PageScore:
    """tp/fp/fn of one page over 4-gram multisets, divided by their sum."""
    expected, got = ngrams(truth), ngrams(extracted)
    tp = sum((expected & got).values())
    fp = sum((got - expected).values())
    fn = sum((expected - got).values())
    total = tp + fp + fn
    if total == 0:
        return PageScore(page_id, 0.0, 0.0, 0.0, ms, source)
    return PageScore(page_id, tp / total, fp / total, fn / total, ms, source)


@dataclass(slots=True)
class ExtractionReport:
    f1: float
    precision: float
    recall: float
    ms_median: float
    ms_mean: float
    pages: int
    page_scores: list[PageScore] = field(default_factory=list, repr=False)
    name: str = "article extraction benchmark"

    @classmethod
    def from_scores(cls, scores: list[PageScore], name: str = "article extraction benchmark"
                    ) -> ExtractionReport:
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
            name=name,
        )

    def by_source(self) -> dict[str, ExtractionReport]:
        """One report per `source` the ground truth names (empty when it names none)."""
        sources = sorted({s.source for s in self.page_scores if s.source})
        return {
            source: ExtractionReport.from_scores(
                [s for s in self.page_scores if s.source == source], name=source
            )
            for source in sources
        }

    def worst(self, count: int = 10) -> list[PageScore]:
        """The pages with the lowest per-page F1, for error analysis."""
        return sorted(self.page_scores, key=lambda score: (score.f1, score.page_id))[:count]

    def format(self, worst: int = 10) -> str:
        lines = [
            f"{self.name}: {self.pages} pages",
            f"  {'':<14}{'pages':>6}{'F1':>7}{'P':>7}{'R':>7}",
        ]
        for label, report in [("ALL", self), *self.by_source().items()]:
            lines.append(f"  {label:<14}{report.pages:>6}{report.f1:>7.3f}"
                         f"{report.precision:>7.3f}{report.recall:>7.3f}")
        lines.append(f"  ms/page median {self.ms_median:.1f}  mean {self.ms_mean:.1f}")
        if worst > 0:
            lines.append(f"  worst {min(worst, self.pages)} pages (page F1, P, R):")
            for score in self.worst(worst):
                precision = "-" if score.precision is None else f"{score.precision:.3f}"
                lines.append(f"    {score.f1:.3f}  P {precision:>5}  R {score.recall:.3f}  "
                             f"{score.page_id}" + (f"  ({score.source})" if score.source else ""))
        return "\n".join(lines)

    def to_dict(self, worst: int = 10) -> dict:
        def summary(report: ExtractionReport) -> dict:
            return {"pages": report.pages, "f1": report.f1, "precision": report.precision,
                    "recall": report.recall}

        return {
            "name": self.name,
            **summary(self),
            "ms_median": self.ms_median,
            "ms_mean": self.ms_mean,
            "by_source": {source: summary(r) for source, r in self.by_source().items()},
            "worst": [{"page_id": s.page_id, "source": s.source, "f1": s.f1,
                       "precision": s.precision, "recall": s.recall} for s in self.worst(worst)],
        }


@dataclass(slots=True, frozen=True)
class BenchmarkPage:
    page_id: str
    url: str  # "" where the ground truth names none
    html: str
    truth: str
    source: str | None


def read_ground_truth(bench_dir: Path) -> dict[str, dict]:
    path = Path(bench_dir) / "ground-truth.json"
    if not path.is_file():
        raise BenchmarkError(f"{bench_dir}: no ground-truth.json")
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BenchmarkError(f"{path}: not JSON ({error})") from None
    if not isinstance(truth, dict):
        raise BenchmarkError(f"{path}: expected an object of page id -> record")
    for page_id, record in truth.items():
        if not isinstance(record, dict) or not isinstance(record.get("articleBody"), str):
            raise BenchmarkError(f"{path}: page {page_id!r} has no articleBody")
    return truth


def load_benchmark(
    bench_dir: Path, page_ids: Iterable[str] | None = None
) -> list[BenchmarkPage]:
    """Every page of the benchmark (or those of `page_ids`), in id order."""
    bench_dir = Path(bench_dir)
    truth = read_ground_truth(bench_dir)
    wanted = sorted(truth) if page_ids is None else sorted(page_ids)
    pages = []
    for page_id in wanted:
        record = truth.get(page_id)
        if record is None:
            raise BenchmarkError(f"{bench_dir}/ground-truth.json: no page {page_id!r}")
        html_path = bench_dir / "html" / f"{page_id}.html.gz"
        try:
            raw = gzip.decompress(html_path.read_bytes())
        except (OSError, EOFError) as error:
            raise BenchmarkError(f"{html_path}: cannot read ({error})") from None
        pages.append(BenchmarkPage(
            page_id=page_id,
            url=record.get("url") or "",
            html=raw.decode("utf-8", errors="replace"),
            truth=record["articleBody"],
            source=record.get("source"),
        ))
    return pages


# -- dev and test halves --------------------------------------------------------------------------


def draw_split(truth: dict[str, dict], seed: int) -> dict[str, list[str]]:
    """Page ids in a dev and a test half, stratified by `source`: per source, the sorted ids are
    shuffled with `random.Random(seed)` and the first half (rounded up) is dev."""
    by_source: dict[str, list[str]] = {}
    for page_id, record in truth.items():
        by_source.setdefault(record.get("source") or "", []).append(page_id)
    rng = random.Random(seed)
    halves: dict[str, list[str]] = {"dev": [], "test": []}
    for source in sorted(by_source):
        ids = sorted(by_source[source])
        rng.shuffle(ids)
        cut = (len(ids) + 1) // 2
        halves["dev"].extend(ids[:cut])
        halves["test"].extend(ids[cut:])
    return {half: sorted(ids) for half, ids in halves.items()}


def split_ids(bench_dir: Path, split: str, splits_file: Path = SPLITS_FILE) -> list[str]:
    """The page ids of one half of a benchmark, looked up by the benchmark directory's name."""
    if split not in SPLITS:
        raise BenchmarkError(f"split {split!r}: expected one of {', '.join(SPLITS)}")
    recorded = json.loads(Path(splits_file).read_text(encoding="utf-8"))["benchmarks"]
    name = Path(bench_dir).resolve().name
    if name not in recorded:
        raise BenchmarkError(
            f"{bench_dir}: no split recorded for a benchmark named {name!r} in {splits_file}"
        )
    return recorded[name][split]


def evaluate_extraction(
    bench_dir: Path,
    extractor: Extractor = _default_extractor,
    split: str | None = None,
    pages: list[BenchmarkPage] | None = None,
) -> ExtractionReport:
    """Run `extractor` over the benchmark's pages (one half with `split`) and score it; timing
    covers extraction only. `pages` reuses pages already loaded."""
    if pages is None:
        ids = split_ids(bench_dir, split) if split else None
        pages = load_benchmark(Path(bench_dir), ids)
    scores = []
    for page in pages:
        started = time.perf_counter()
        extracted = extractor(page.html, page.url)
        ms = (time.perf_counter() - started) * 1000
        scores.append(score_page(page.truth, extracted, page.page_id, ms, page.source))
    name = Path(bench_dir).name + (f" ({split} half)" if split else "")
    return ExtractionReport.from_scores(scores, name=name)

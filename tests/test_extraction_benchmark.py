"""Accuracy gate: main-text extraction on the public article-extraction benchmark (181 pages).

Floors are the accepted scores in `extraction_baseline.json` minus its noise margin, and never
below the hard F1 gate. Skips where `../shared/datasets` is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.evaluation.extraction import (
    ExtractionReport,
    evaluate_extraction,
    ngrams,
    score_page,
)

BASELINE = json.loads((Path(__file__).parent / "extraction_baseline.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def report(datasets_dir: Path) -> ExtractionReport:
    bench = datasets_dir / "article-extraction-benchmark"
    if not (bench / "ground-truth.json").is_file():
        pytest.skip("article-extraction-benchmark is not present")
    return evaluate_extraction(bench)


@pytest.mark.slow
def test_extraction_meets_the_gate_and_the_accepted_baseline(report: ExtractionReport) -> None:
    assert report.pages == 181
    margin = BASELINE["margin"]
    assert report.f1 >= BASELINE["gate_f1"]
    for metric in ("f1", "precision", "recall"):
        floor = BASELINE["accepted"][metric] - margin
        assert getattr(report, metric) >= floor, f"{metric} {getattr(report, metric):.4f} < {floor}"


@pytest.mark.slow
def test_no_benchmark_article_is_rejected(report: ExtractionReport) -> None:
    # Every page of the benchmark is an article: a rejection there is a false alarm of our rules.
    empty = [score.page_id for score in report.page_scores if score.precision is None]
    assert empty == []


def test_ngrams_follow_the_benchmark_definition() -> None:
    assert ngrams("Bitcoin fell 5% to $60,000!") == {
        ("Bitcoin", "fell", "5", "to"): 1, ("fell", "5", "to", "60"): 1,
        ("5", "to", "60", "000"): 1,
    }
    assert ngrams("two words") == {("two", "words"): 1}
    assert ngrams(" ... ") == {}


def test_page_scores_are_normalised_and_averaged_per_page() -> None:
    truth = "one two three four five six"  # 3 four-grams
    half = score_page(truth, "one two three four five")  # 2 of them, nothing extra
    assert (half.tp, half.fp, half.fn) == pytest.approx((2 / 3, 0, 1 / 3))
    assert (half.precision, half.recall) == (1.0, pytest.approx(2 / 3))
    noisy = score_page(truth, truth + " seven eight nine ten")  # 3 right, 4 extra
    assert noisy.precision == pytest.approx(3 / 7) and noisy.recall == 1.0
    nothing = score_page(truth, "")
    assert nothing.precision is None and nothing.recall == 0.0
    both_empty = score_page("", "")
    assert (both_empty.precision, both_empty.recall) == (1.0, 1.0)

    report = ExtractionReport.from_scores([half, noisy, nothing, both_empty])
    precision = (1.0 + 3 / 7 + 1.0) / 3  # the empty extraction does not count for precision
    recall = (2 / 3 + 1.0 + 0.0 + 1.0) / 4
    assert report.precision == pytest.approx(precision)
    assert report.recall == pytest.approx(recall)
    assert report.f1 == pytest.approx(2 * precision * recall / (precision + recall))
    assert "F1" in report.format() and report.pages == 4

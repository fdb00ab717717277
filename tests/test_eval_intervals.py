"""Intervals over resampled gold articles, and the paired comparison of two saved reports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.evaluation.intervals import (
    article_interval,
    f1,
    measure_of_counts,
    paired_difference,
    ratio,
)
from pipeline.evaluation.nlp import ArticleCatalystReport, FigureReport, compare_reports

runner = CliRunner()
DIRECTION = ArticleCatalystReport.MEASURES["direction_accuracy"].measure


def test_ratio_and_f1_from_counts() -> None:
    assert ratio(np.array([3, 0]), np.array([4, 0])).tolist() == [0.75, 0.0]
    # tp 8, fp 2, fn 6: precision 0.8, recall 4/7, F1 2PR/(P+R) = 2/3
    assert f1(np.array([8]), np.array([2]), np.array([6]))[0] == pytest.approx(2 / 3)


def _articles(correct: list[int], matched: int = 10) -> dict[str, dict[str, int]]:
    return {f"a{i}": {"matched": matched, "direction_correct": c, "tp": matched, "fp": 0,
                      "fn": 0, "category_correct": matched} for i, c in enumerate(correct)}


def test_an_interval_is_seeded_and_spans_the_articles() -> None:
    per_article = _articles([2, 5, 9, 10])
    low, high = article_interval(per_article, DIRECTION, seed=3)
    assert (low, high) == article_interval(per_article, DIRECTION, seed=3)
    assert 0.2 <= low < 26 / 40 < high <= 1.0  # within the best and worst article
    # Articles alike leave nothing to resample.
    assert article_interval(_articles([7, 7, 7]), DIRECTION) == pytest.approx((0.7, 0.7))


def test_a_paired_difference_counts_only_what_changed() -> None:
    before = _articles([5, 5, 5])
    same = paired_difference(before, before, DIRECTION)
    assert (same.difference, same.low, same.high, same.not_better) == (0, 0, 0, 1.0)
    after = {**before, "a1": {**before["a1"], "direction_correct": 8}}
    gain = paired_difference(before, after, DIRECTION, seed=1)
    assert gain.difference == pytest.approx(0.1) and gain.low >= 0 < gain.high
    # No gain exactly when a resample leaves out a1: (2/3)^3 of resamples.
    assert gain.not_better == pytest.approx((2 / 3) ** 3, abs=0.04)
    loss = paired_difference(after, before, DIRECTION, seed=1, higher_is_better=False)
    assert loss.not_better == pytest.approx(gain.not_better)


def test_the_measure_of_all_counts_is_the_reports_own() -> None:
    report = FigureReport(matched=40, metric_correct=30, sized=41, sign_correct=40, found=50,
                          found_other=6)
    counts = report.counts()
    for name, scored in FigureReport.MEASURES.items():
        expected = {"value_unit_f1": report.value_unit.f1, "other_share": report.other_share,
                    "metric_accuracy": report.metric_accuracy,
                    "sign_accuracy": report.sign_accuracy}[name]
        assert measure_of_counts(scored.measure, counts) == pytest.approx(expected)


def _report(path, per_article) -> str:
    """A saved catalysts report, as far as `eval compare` reads one."""
    path.write_text(json.dumps({"articles": len(per_article), "detection": {},
                                "per_article": per_article}), encoding="utf-8")
    return str(path)


def test_eval_compare_reads_two_saved_reports(tmp_path) -> None:
    before = _articles([5, 5, 5, 5])
    after = {**before, "a2": {**before["a2"], "direction_correct": 9}}
    result = runner.invoke(app, ["eval", "compare", _report(tmp_path / "a.json", before),
                                 _report(tmp_path / "b.json", after)])
    assert result.exit_code == 0, result.output
    assert "paired over 4 gold articles" in result.output
    line = next(row for row in result.output.splitlines() if row.startswith("direction"))
    assert "0.500 -> 0.600  +0.100" in line
    as_json = runner.invoke(app, ["eval", "compare", str(tmp_path / "a.json"),
                                  str(tmp_path / "b.json"), "--json"])
    assert json.loads(as_json.output)["detection_f1"]["difference"] == 0


def test_eval_compare_refuses_what_it_cannot_pair(tmp_path) -> None:
    catalysts = _report(tmp_path / "c.json", _articles([5, 5]))
    figures = tmp_path / "f.json"
    figures.write_text(json.dumps({"value_unit": {}, "per_article": {"a0": {"tp": 1}}}),
                       encoding="utf-8")
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"detection": {}, "direction_accuracy": 0.7}), encoding="utf-8")
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"detection": {}, "per_article": {"zz": {"tp": 1}}}),
                         encoding="utf-8")
    for other, message in ((figures, "cannot be compared"), (old, "per-article counts"),
                           (elsewhere, "share no gold article"),
                           (tmp_path / "none.json", "no such file")):
        result = runner.invoke(app, ["eval", "compare", catalysts, str(other)])
        assert result.exit_code != 0 and message in result.output, result.output
    with pytest.raises(ValueError, match="not a JSON report"):
        compare_reports({"x": 1}, {"x": 1})

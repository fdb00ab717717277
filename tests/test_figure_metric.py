"""The learned choice of a figure's metric: its rule of choice, the shipped model's provenance,
training that reproduces it, and the pipeline using it."""

from __future__ import annotations

import hashlib
import json

import numpy as np
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.metric_training import (
    DATA_DIR,
    MODEL_DIR,
    accuracy,
    data_digest,
    labelled_figures,
    train_metrics,
)
from pipeline.nlp import analyze, build_nlp
from pipeline.nlp.figure_metric import OTHER_WEIGHT, OVERRULE_MARGIN, MetricClassifier


def classifier(logits: dict[str, float]) -> MetricClassifier:
    """A model whose only feature, "f", gives these logits (all other metrics -inf-ish)."""
    metrics = ["price", "market_cap", "etf_flow", "other"]
    weights = np.full((1, len(metrics)), -50.0, dtype=np.float32)
    for name, value in logits.items():
        weights[0, metrics.index(name)] = value
    return MetricClassifier(features={"f": 0}, metrics=metrics, weights=weights,
                            bias=np.zeros(len(metrics), dtype=np.float32))


def test_the_rules_stand_unless_another_metric_is_clearly_more_probable() -> None:
    near = classifier({"etf_flow": 0.2, "market_cap": 0.0})  # 0.55 against 0.45
    assert near.choose(["f"], "market_cap") == "market_cap"
    clear = classifier({"etf_flow": 2.0, "market_cap": 0.0})  # 0.88 against 0.12
    assert clear.choose(["f"], "market_cap") == "etf_flow"
    assert OVERRULE_MARGIN > 0


def test_no_metric_needs_more_evidence_than_a_metric() -> None:
    # `other` at 0.6 against etf_flow at 0.4: weighed down, it loses.
    model = classifier({"other": float(np.log(0.6)), "etf_flow": float(np.log(0.4))})
    assert 0.6 * OTHER_WEIGHT < 0.4
    assert model.choose(["f"], "etf_flow") == "etf_flow"
    assert model.choose(["f"], "other") == "etf_flow"


def test_only_admissible_metrics_are_chosen() -> None:
    model = classifier({"price": 1.0, "market_cap": 0.5})  # 0.62 and 0.38
    assert model.choose(["f"], "etf_flow", {"market_cap", "etf_flow", "other"}) == "market_cap"
    assert model.choose(["unknown feature"], "etf_flow", {"etf_flow"}) == "etf_flow"


def test_the_shipped_model_was_trained_on_the_data_in_the_repository() -> None:
    meta = json.loads((MODEL_DIR / "meta.json").read_text(encoding="utf-8"))
    assert meta["data"]["train_digest"] == data_digest(sorted((DATA_DIR / "train").glob("*.md")))
    weights = (MODEL_DIR / "weights.npz").read_bytes()
    assert meta["weights_sha256"] == hashlib.sha256(weights).hexdigest()
    assert meta["validation"]["model_accuracy"] > meta["validation"]["rules_accuracy"]


def test_training_reproduces_the_shipped_choices(tmp_path) -> None:
    report = train_metrics(tmp_path / "model")
    shipped = MetricClassifier.load(MODEL_DIR)
    retrained = MetricClassifier.load(tmp_path / "model")
    assert report.valid_model_accuracy >= report.valid_rules_accuracy + 0.03, report.format()
    # Floating point may differ across machines; the choices must not, bar a few figures.
    rows = labelled_figures(sorted((DATA_DIR / "valid").glob("*.md")),
                            build_nlp(catalysts=False, figure_metric=False))
    same = sum(shipped.choose(r.features, r.rule_metric, r.admissible)
               == retrained.choose(r.features, r.rule_metric, r.admissible) for r in rows)
    assert same >= 0.97 * len(rows)
    assert abs(accuracy(shipped, rows) - report.valid_model_accuracy) <= 0.01


def test_an_amount_in_billions_is_never_a_price(nlp_no_catalysts) -> None:
    doc = nlp_no_catalysts("Average USDC held in Coinbase products rose to $15.4 billion, and "
                           "bitcoin traded near $69,300.")
    metrics = {f.text: f.metric for f in analyze(doc).figures}
    assert metrics["$15.4 billion"] not in ("price", "share_price")
    assert metrics["$69,300"] == "price"


def test_the_command_refuses_missing_or_broken_data(tmp_path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["train", "metrics", "--data", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "nowhere" in missing.output
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "a.md").write_text("⟪5%|v=5⟫ broken\n", encoding="utf-8")
    broken = runner.invoke(app, ["train", "metrics", "--data", str(tmp_path),
                                 "--output", str(tmp_path / "out")])
    assert broken.exit_code == 2 and "a.md" in broken.output
    assert not (tmp_path / "out").exists()

"""The second annotator's labels (models/data/second_annotator/) stay aligned with the gold they
relabel: every line names an annotated item, every item of a relabelled document has one line,
and every label is one of the vocabularies'. Their agreement with the gold is in that README."""

import json
from pathlib import Path

import pytest
import yaml

from pipeline.evaluation.nlp import catalyst_gold_articles, gold_articles

MODELS = Path(__file__).resolve().parent.parent / "models"
DATA = MODELS / "data"
SECOND = DATA / "second_annotator"
GOLD_DIRS = {"gold_dev": DATA / "gold_dev", "gold": DATA / "gold", "valid": DATA / "entities/valid"}


def labels(name: str) -> dict[tuple[str, int], dict]:
    rows = [json.loads(line) for line in (SECOND / name).read_text().splitlines() if line]
    keyed = {(row["doc"], row["id"]): row for row in rows}
    assert len(keyed) == len(rows), f"{name}: an item is labelled twice"
    return keyed


def gold_items(kind: str, docs: set[str]) -> dict[tuple[str, int], dict]:
    """Each relabelled document's gold figures or catalyst sentences, numbered from 1 in the
    gold file's order (as the annotator saw them)."""
    items = {}
    for split in {doc.split("/")[0] for doc in docs}:
        if kind == "figures":
            articles = [(name, annotations["figures"])
                        for name, _, annotations in gold_articles(GOLD_DIRS[split])]
        else:
            articles = [(name, rows) for name, _, rows in catalyst_gold_articles(GOLD_DIRS[split])]
        for name, rows in articles:
            if f"{split}/{name}" in docs:
                items.update({(f"{split}/{name}", i): row for i, row in enumerate(rows, 1)})
    return items


def vocabularies() -> dict[str, set[str]]:
    """The labels a relabel may use, by field."""
    return {
        "metric": set(yaml.safe_load((MODELS / "metrics.yaml").read_text())["metrics"]),
        "event_type": set(yaml.safe_load((MODELS / "events.yaml").read_text())["events"]),
        "direction": {"bullish", "bearish", "neutral"},
    }


@pytest.mark.parametrize(
    ("name", "kind", "fields"),
    [
        ("figures_gold_dev.jsonl", "figures", ["metric"]),
        ("figures_valid_sample.jsonl", "figures", ["metric"]),
        ("catalysts_gold_dev.jsonl", "catalysts", ["direction", "event_type"]),
        ("catalysts_gold.jsonl", "catalysts", ["direction", "event_type"]),
    ],
)
def test_relabels_cover_their_documents_with_known_labels(name, kind, fields) -> None:
    second = labels(name)
    assert set(second) == set(gold_items(kind, {doc for doc, _ in second}))
    known = vocabularies()
    for field in fields:
        assert {row[field] for row in second.values()} <= known[field], field

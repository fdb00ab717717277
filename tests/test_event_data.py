"""Invariants of the event-typed catalyst sentences (models/data/catalysts/events_*.jsonl).

`events_train.jsonl` (three writers) trains the direction model and its event-type head;
`events_heldout.jsonl` (a fourth writer, who saw neither the training sentences nor the
pipeline) only ever measures it. These tests keep both well-formed and the held-out split honest.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

MODELS = Path(__file__).resolve().parents[1] / "models"
DATA_DIR = MODELS / "data" / "catalysts"
FIELDS = {"text", "direction", "event_type", "category", "asset", "style", "hard_case"}
STYLES = {"headline", "lede", "body", "liveblog", "quote", "social"}
HARD_CASES = {"no_price_words", "counter_default", "negation", "hedged", "macro_inversion",
              "surface_verb", "multi_clause", "delayed"}
NEAR_DUPLICATE_JACCARD = 0.8


def _load(name: str) -> list[dict]:
    with open(DATA_DIR / name, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def events() -> dict[str, dict]:
    return yaml.safe_load((MODELS / "events.yaml").read_text(encoding="utf-8"))["events"]


@pytest.fixture(scope="module")
def data() -> dict[str, list[dict]]:
    return {"train": _load("events_train.jsonl"), "heldout": _load("events_heldout.jsonl")}


def _tokens(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z0-9$%]+(?:[.,][0-9]+)*", text.lower()))


def _near_duplicates(rows: list[dict], others: list[dict]) -> list[str]:
    """Texts of `rows` whose word sets overlap one of `others`' by more than the Jaccard limit
    (each text's words read once: this compares millions of pairs)."""
    other_tokens = [_tokens(row["text"]) for row in others]
    close = []
    for row in rows:
        tokens = _tokens(row["text"])
        if any(len(tokens & other) / len(tokens | other) > NEAR_DUPLICATE_JACCARD
               for other in other_tokens):
            close.append(row["text"])
    return close


def test_every_row_is_well_formed(data, events):
    for split, rows in data.items():
        for row in rows:
            assert set(row) == FIELDS, (split, row)
            assert row["text"] == row["text"].strip() and 3 <= len(row["text"].split()) <= 60, row
            assert row["direction"] in {"bearish", "bullish", "neutral"}, row
            assert row["event_type"] in events, row
            assert row["category"] == events[row["event_type"]]["category"], row
            assert row["style"] in STYLES and row["asset"], row
            assert row["hard_case"] is None or row["hard_case"] in HARD_CASES, row
            if row["category"] == "none":
                assert row["direction"] == "neutral", row


def test_sizes_and_every_event_type_in_both_splits(data, events):
    assert len(data["train"]) >= 3000 and len(data["heldout"]) >= 600
    for split, rows in data.items():
        assert set(events) == {row["event_type"] for row in rows}, split


def test_each_default_direction_is_the_most_common_in_train(data, events):
    """A type's stated default is what its training sentences mostly say (the labels and the
    taxonomy tell the same story)."""
    counts: dict[str, Counter] = {}
    for row in data["train"]:
        counts.setdefault(row["event_type"], Counter())[row["direction"]] += 1
    for name, spec in events.items():
        if spec["direction"] != "depends":
            assert counts[name].most_common(1)[0][0] == spec["direction"], (name, counts[name])


def test_no_duplicates_and_no_near_duplicates_across_splits(data):
    texts = [row["text"].casefold() for rows in data.values() for row in rows]
    assert not [text for text, n in Counter(texts).items() if n > 1]
    assert not _near_duplicates(data["heldout"], data["train"])


ARTICLE_FIELDS = {"text", "direction", "event_type", "category", "asset", "style", "article",
                  "paragraph"}


def test_the_labelled_articles_are_whole_well_formed_and_apart_from_held_out(data, events):
    """`events_train_articles.jsonl`: every sentence of 87 articles in order, background included;
    none restates a held-out sentence."""
    rows = _load("events_train_articles.jsonl")
    articles: dict[str, list[dict]] = {}
    for row in rows:
        assert set(row) == ARTICLE_FIELDS and row["style"] == "article", row
        assert row["event_type"] in events, row
        assert row["category"] == events[row["event_type"]]["category"], row
        assert row["direction"] in {"bearish", "bullish", "neutral"}, row
        if row["event_type"] == "background":
            assert row["direction"] == "neutral", row
        articles.setdefault(row["article"], []).append(row)
    assert len(articles) >= 85
    for name, sentences in articles.items():
        paragraphs = [row["paragraph"] for row in sentences]
        assert paragraphs == sorted(paragraphs), name  # in text order (a dropped line may leave a gap)
        background = sum(row["event_type"] == "background" for row in sentences)
        assert 0 < background < len(sentences), name
    texts = [row["text"].casefold() for row in rows]
    assert len(set(texts)) == len(texts)
    assert not _near_duplicates(rows, data["heldout"])

"""Invariants of the team-written catalyst sentence set (models/data/catalysts).

The direction model is trained on `train.jsonl` and `train_article_style.jsonl` (together the train
split) and scored on `heldout.jsonl`; these tests keep the set well-formed and the held-out split
honest (no shared or near-paraphrased sentences).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from itertools import product
from pathlib import Path

import pytest

DATA_DIR = Path(__file__).resolve().parents[1] / "models" / "data" / "catalysts"
SPLIT_FILES = {"train": ("train.jsonl", "train_article_style.jsonl"), "heldout": ("heldout.jsonl",)}
DIRECTIONS = {"bearish", "bullish", "neutral"}
CATEGORIES = {
    "etf_flows", "derivatives", "market_sentiment", "price_action", "corporate", "regulation",
    "government_policy", "macro", "geopolitics", "security", "adoption", "onchain",
}
HARD_CASES = {
    "negation", "outflows_slowed", "flow_reversal", "short_squeeze", "shorts_liquidated",
    "longs_liquidated", "funding_rate", "extreme_fear", "delayed", "hedged", "mixed_results",
    "ban_lifted", "hack_recovered", "macro_inversion", "multi_clause", "surface_verb",
}
FIELDS = {"text", "direction", "category", "hard_case"}
NEAR_DUPLICATE_JACCARD = 0.8


def _load(split: str) -> list[dict]:
    rows = []
    for name in SPLIT_FILES[split]:
        with open(DATA_DIR / name, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                assert line.strip(), f"{name} line {number} is blank"
                rows.append(json.loads(line))
    return rows


@pytest.fixture(scope="module")
def data() -> dict[str, list[dict]]:
    return {split: _load(split) for split in SPLIT_FILES}


def _tokens(text: str) -> frozenset[str]:
    # Keep figures such as "$95.73" or "0.9594" whole, drop sentence punctuation.
    return frozenset(re.findall(r"[a-z0-9$%]+(?:[.,][0-9]+)*", text.lower()))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b)


def test_every_row_is_well_formed(data):
    for split, rows in data.items():
        for row in rows:
            assert set(row) == FIELDS, (split, row)
            assert isinstance(row["text"], str) and row["text"] == row["text"].strip(), row
            assert 3 <= len(row["text"].split()) <= 45, row
            assert row["direction"] in DIRECTIONS, row
            assert row["category"] in CATEGORIES | {"none"}, row
            assert row["hard_case"] is None or row["hard_case"] in HARD_CASES, row


def test_size_and_split_ratio(data):
    total = sum(len(rows) for rows in data.values())
    assert total >= 800
    assert 0.15 <= len(data["heldout"]) / total <= 0.25


def test_every_category_has_every_direction_in_each_split(data):
    for split, rows in data.items():
        present = {(row["category"], row["direction"]) for row in rows}
        missing = set(product(CATEGORIES, DIRECTIONS)) - present
        assert not missing, (split, sorted(missing))
        assert ("none", "neutral") in present, split


def test_non_catalysts_are_neutral(data):
    for rows in data.values():
        assert all(row["direction"] == "neutral" for row in rows if row["category"] == "none")


def test_hard_cases_appear_in_both_splits(data):
    for split, rows in data.items():
        tags = Counter(row["hard_case"] for row in rows if row["hard_case"])
        assert set(tags) == HARD_CASES, (split, HARD_CASES - set(tags))


def test_no_duplicate_texts(data):
    texts = [row["text"].casefold() for rows in data.values() for row in rows]
    duplicates = [text for text, n in Counter(texts).items() if n > 1]
    assert not duplicates


def test_no_near_duplicates_across_splits(data):
    train = [_tokens(row["text"]) for row in data["train"]]
    close = [
        row["text"]
        for row in data["heldout"]
        if any(_jaccard(_tokens(row["text"]), other) > NEAR_DUPLICATE_JACCARD for other in train)
    ]
    assert not close

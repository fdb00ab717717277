"""End to end: the bundled corpus served over real HTTP, through every stage, into the exports."""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from pipeline.demo import SAMPLES_DIR, SamplesServer, demo_config
from pipeline.processing import Processor
from pipeline.run import run_pipeline
from pipeline.store import Store

EXPECTED = json.loads((SAMPLES_DIR / "expected.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def demo(demo_result):
    db = sqlite3.connect(demo_result.db_path)
    db.row_factory = sqlite3.Row
    yield demo_result, db
    db.close()


def article_by_path(db, path):
    rows = db.execute("SELECT * FROM articles").fetchall()
    matches = [row for row in rows if row["url"].split("?")[0].endswith(path)]
    assert len(matches) == 1, path
    return matches[0]


def test_counts_per_status(demo):
    result, _ = demo
    expected = {key: value for key, value in EXPECTED["counts"].items() if key != "entries"}
    assert result.report.counts == {"new": EXPECTED["counts"]["entries"], **expected}


@pytest.mark.parametrize("path", sorted(EXPECTED["pages"]))
def test_each_page_outcome(demo, path):
    _, db = demo
    expected = EXPECTED["pages"][path]
    row = article_by_path(db, path)
    assert row["status"] == expected["status"], row["reject_reason"]
    if expected["status"] == "failed":
        assert row["reject_reason"] == "http_404"
        return
    assert row["language"] == expected["language"]
    assert row["published_at"].startswith(expected["published"])
    for snippet in expected["must_contain"]:
        assert snippet in row["text"]
    for snippet in expected["must_not_contain"]:
        assert snippet not in row["text"]
    if expected.get("duplicate_of"):
        original = article_by_path(db, expected["duplicate_of"])
        assert row["duplicate_of"] == original["id"]
        count = db.execute("SELECT count(*) FROM catalysts WHERE article_id = ?", (row["id"],))
        assert count.fetchone()[0] == 0  # a syndicated copy is not analysed again
    if expected.get("canonical_path"):
        assert row["canonical_url"].endswith(expected["canonical_path"])
    if expected["status"] == "processed":
        assert db.execute("SELECT count(*) FROM figures WHERE article_id = ?",
                          (row["id"],)).fetchone()[0] > 0


def test_exports_hold_catalysts_and_figures_with_their_evidence(demo):
    result, db = demo
    with open(result.output_dir / "catalysts.csv", newline="", encoding="utf-8") as handle:
        catalysts = list(csv.DictReader(handle))
    with open(result.output_dir / "figures.csv", newline="", encoding="utf-8") as handle:
        figures = list(csv.DictReader(handle))
    assert len(catalysts) >= 20
    assert len(figures) >= 40
    assert {row["direction"] for row in catalysts} == {"bearish", "bullish", "neutral"}
    texts = dict(db.execute("SELECT id, text FROM articles"))
    for row in catalysts:
        text = texts[int(row["article_id"])]
        assert text[int(row["start_char"]):int(row["end_char"])] == row["sentence"].lstrip("'")
        assert 0.0 <= float(row["confidence"]) <= 1.0
    for row in figures:
        text = texts[int(row["article_id"])]
        assert text[int(row["start_char"]):int(row["end_char"])] == row["text"].lstrip("'")
        float(row["value"])


# Share of the demo corpus's figures whose metric the vocabulary does not name (0.081 measured,
# 21 of 260; one figure is 0.4 point of it; the goal is 0.10).
DEMO_OTHER_SHARE_CEILING = 0.10


def test_few_demo_figures_are_left_without_a_metric(demo):
    result, _ = demo
    with open(result.output_dir / "figures.csv", newline="", encoding="utf-8") as handle:
        metrics = [row["metric"] for row in csv.DictReader(handle)]
    assert metrics.count("other") <= DEMO_OTHER_SHARE_CEILING * len(metrics), metrics


def test_a_second_run_finds_nothing_new(tmp_path, nlp):
    processor = Processor(nlp)
    with SamplesServer() as server, Store.open(tmp_path / "again.db") as store:
        config = demo_config(server.base_url)
        first = run_pipeline(config, store, processor=processor)
        articles = store.connection.execute("SELECT count(*) FROM articles").fetchone()[0]
        second = run_pipeline(config, store, processor=processor)
        assert first.counts["new"] == EXPECTED["counts"]["entries"]
        assert second.counts.get("new", 0) == 0
        assert store.connection.execute("SELECT count(*) FROM articles").fetchone()[0] == articles
        feeds = {state.name: state for state in store.feed_states()}
        assert all(state.consecutive_failures == 0 for state in feeds.values())

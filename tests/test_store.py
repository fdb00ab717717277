from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from pipeline.records import (
    Analysis,
    Article,
    ArticleStatus,
    Catalyst,
    Conflict,
    Direction,
    Entity,
    FeedEntry,
    Figure,
    RunReport,
    StoredRun,
)
from pipeline.store import Store, StoreError
from pipeline.store.schema import MIGRATIONS

TEXT = "Bitcoin fell 4.3% to $60,000.\n\nETF outflows reached $258 million on Thursday."


def entry(n: int = 1) -> FeedEntry:
    url = f"https://news.example/story-{n}"
    return FeedEntry(feed_name="desk", url=url, canonical_url=url, guid=f"g{n}", title=f"Story {n}")


def analysis() -> Analysis:
    drop = Figure(text="4.3%", start_char=13, end_char=17, value=-4.3, unit="percent",
                  metric="price_change", asset="BTC")
    flow = Figure(text="$258 million", start_char=51, end_char=63, value=-2.58e8, unit="USD",
                  metric="etf_flow", asset="BTC", period="Thursday")
    sentence_start = TEXT.index("ETF")
    return Analysis(
        entities=[Entity("Bitcoin", "ASSET", 0, 7, "BTC")],
        figures=[drop, flow],
        catalysts=[
            Catalyst(sentence=TEXT[sentence_start:], start_char=sentence_start, end_char=len(TEXT),
                     category="etf_flows", direction=Direction.BEARISH, confidence=0.91,
                     assets=["BTC"], figures=[flow], model="direction@test")
        ],
        conflicts=[Conflict("price_change", None, drop, flow, "test conflict")],
    )


def test_fresh_database_has_every_migration(tmp_path):
    with Store.open(tmp_path / "a.db") as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.migrate() == 0  # opening again applies nothing


def test_save_article_round_trip(store):
    article = Article(url=entry().url, title="Bitcoin slides", text=TEXT,
                      published_at=datetime(2026, 2, 6, 9, 30, tzinfo=UTC), language="en")
    article_id = store.save_article(entry(), article, ArticleStatus.PROCESSED, analysis=analysis(),
                                    model="m1")
    row = store.connection.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
    assert row["published_at"] == "2026-02-06T09:30:00Z"
    assert row["status"] == "processed"
    catalyst = store.connection.execute("SELECT * FROM catalysts").fetchone()
    assert row["text"][catalyst["start_char"]:catalyst["end_char"]] == catalyst["sentence"]
    figure_ids = [r[0] for r in store.connection.execute("SELECT id FROM figures ORDER BY id")]
    assert catalyst["figure_ids"] == f"[{figure_ids[1]}]"
    conflict = store.connection.execute("SELECT * FROM conflicts").fetchone()
    assert (conflict["first_figure_id"], conflict["second_figure_id"]) == tuple(figure_ids)
    assert store.known_entry(entry()) == article_id
    # Same GUID from the same feed under another URL is the same entry.
    moved = FeedEntry(feed_name="desk", url="https://news.example/amp/1",
                      canonical_url="https://news.example/amp/1", guid="g1")
    assert store.known_entry(moved) == article_id


def test_article_is_all_or_nothing(store):
    """A failure half-way through an article leaves no trace of it."""
    broken = analysis()
    broken.catalysts[0].direction = "sideways"  # violates the CHECK constraint, after figures
    with pytest.raises(sqlite3.IntegrityError):
        store.save_article(entry(), Article(url=entry().url, text=TEXT), ArticleStatus.PROCESSED,
                           analysis=broken)
    for table in ("articles", "entities", "figures", "catalysts"):
        assert store.connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0


def test_canonical_url_is_unique(store):
    store.save_article(entry(), Article(url=entry().url), ArticleStatus.FAILED, reject_reason="http_404")
    with pytest.raises(sqlite3.IntegrityError):
        store.save_article(entry(), Article(url=entry().url), ArticleStatus.FAILED)
    assert store.connection.execute("SELECT count(*) FROM articles").fetchone()[0] == 1


def test_replace_analysis_keeps_corrections(store):
    article_id = store.save_article(entry(), Article(url=entry().url, text=TEXT),
                                    ArticleStatus.PROCESSED, analysis=analysis(), model="m1")
    store.connection.execute(
        "INSERT INTO corrections (article_id, target_kind, target_id, action, reviewer, created_at) "
        "VALUES (?, 'catalyst', NULL, 'add', 'ana', '2026-02-07T00:00:00Z')", (article_id,)
    )
    store.replace_analysis(article_id, analysis(), model="m2")
    models = {r[0] for r in store.connection.execute("SELECT model FROM figures")}
    assert models == {"m2"}
    assert store.connection.execute("SELECT count(*) FROM catalysts").fetchone()[0] == 1
    assert store.connection.execute("SELECT count(*) FROM corrections").fetchone()[0] == 1


def test_upgrade_from_older_schema_applies_the_rest(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    with Store.open(path) as store:
        store.save_article(entry(), Article(url=entry().url, text=TEXT), ArticleStatus.PROCESSED,
                           analysis=analysis())
    extra = "CREATE TABLE upgrade_probe (id INTEGER PRIMARY KEY);"
    monkeypatch.setattr("pipeline.store.MIGRATIONS", [*MIGRATIONS, extra])
    with Store.open(path) as store:
        assert store.schema_version == len(MIGRATIONS) + 1
        assert store.connection.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
        store.connection.execute("SELECT * FROM upgrade_probe")


def test_a_first_schema_database_is_upgraded_in_place(tmp_path, monkeypatch):
    """A database written by the first release gains fetch_attempts (migration 2), rows kept."""
    path = tmp_path / "v1.db"
    monkeypatch.setattr("pipeline.store.MIGRATIONS", MIGRATIONS[:1])
    with Store.open(path) as store:
        assert store.schema_version == 1
        store.connection.execute(
            "INSERT INTO articles (url, canonical_url, source, fetched_at, status, reject_reason) "
            "VALUES ('https://x.example/a', 'https://x.example/a', 'desk', "
            "'2026-01-01T00:00:00Z', 'failed', 'timeout')"
        )
        store.connection.commit()
    monkeypatch.setattr("pipeline.store.MIGRATIONS", MIGRATIONS)
    with Store.open(path) as store:
        assert store.schema_version == len(MIGRATIONS) >= 2
        rows = store.connection.execute("SELECT url, fetch_attempts FROM articles").fetchall()
        assert [tuple(r) for r in rows] == [("https://x.example/a", 1)]
        assert store.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    with Store.open(path) as store:
        store.connection.execute("UPDATE schema_version SET version = 999")
    with pytest.raises(StoreError, match="newer"):
        Store.open(path)


def test_foreign_database_is_refused(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE songs (title TEXT)")
    with pytest.raises(StoreError, match="not a newsignal one"):
        Store.open(path)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError):
        Store.open(garbage)


def test_runs_are_recorded(store):
    report = RunReport(run_id=None, started_at=datetime(2026, 2, 6, tzinfo=UTC))
    report.run_id = store.start_run(report.started_at)
    report.finished_at = datetime(2026, 2, 6, 0, 5, tzinfo=UTC)
    report.counts = {"new": 3, "processed": 2, "failed": 1}
    report.feed_errors = {"desk": "http_500"}
    report.failures = [("https://news.example/a", "timeout")]
    store.finish_run(report, "ok", 0)
    assert store.recent_runs() == [StoredRun(
        id=report.run_id, started_at=report.started_at, finished_at=report.finished_at,
        status="ok", exit_code=0, counts=report.counts, feed_errors=report.feed_errors,
        failures=report.failures,
    )]


def test_online_backup_is_a_complete_database(store, tmp_path):
    store.save_article(entry(), Article(url=entry().url, text=TEXT), ArticleStatus.PROCESSED,
                       analysis=analysis())
    store.backup(tmp_path / "copy.db")
    with Store.open(tmp_path / "copy.db") as copy:
        assert copy.integrity_ok()
        assert copy.connection.execute("SELECT count(*) FROM figures").fetchone()[0] == 2


def test_reprocess_moves_corrections_with_their_tags(store):
    article_id = store.save_article(entry(), Article(url=entry().url, text=TEXT),
                                    ArticleStatus.PROCESSED, analysis=analysis(), model="m1")
    db = store.connection
    flow_id = db.execute("SELECT id FROM figures WHERE text = '$258 million'").fetchone()[0]
    drop_id = db.execute("SELECT id FROM figures WHERE text = '4.3%'").fetchone()[0]
    for target in (flow_id, drop_id):
        db.execute(
            "INSERT INTO corrections (article_id, target_kind, target_id, action, reviewer, "
            "created_at) VALUES (?, 'figure', ?, 'accept', 'ana', '2026-02-07T00:00:00Z')",
            (article_id, target),
        )
    reanalysed = analysis()
    reanalysed.figures = reanalysed.figures[1:]  # the new model no longer sees "4.3%"
    reanalysed.conflicts = []
    store.replace_analysis(article_id, reanalysed, model="m2")
    new_flow = db.execute("SELECT id FROM figures WHERE text = '$258 million'").fetchone()[0]
    targets = [row[0] for row in db.execute("SELECT target_id FROM corrections ORDER BY id")]
    assert targets == [new_flow, None]


def test_replace_analysis_refuses_a_text_that_is_not_the_stored_one_extended(store):
    article_id = store.save_article(entry(), Article(url=entry().url, text=TEXT),
                                    ArticleStatus.PROCESSED, analysis=analysis(), model="m1")
    with pytest.raises(ValueError, match="does not end with the stored one"):
        store.replace_analysis(article_id, analysis(), model="m2", text=TEXT[:-1] + "!")
    stored = store.connection.execute("SELECT text FROM articles").fetchone()[0]
    assert stored == TEXT
    assert store.connection.execute("SELECT count(*) FROM figures").fetchone()[0] == 2

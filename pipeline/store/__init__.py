"""The SQLite store: the only place in the project that speaks SQL.

`Store.open(path)` connects in WAL mode and applies pending migrations. Every article is written by
one call to `save_article` inside one transaction, so a crash never leaves half an article. Query
helpers for the exports and the signal, the review app, and the demo's summary live in sibling
modules of this package; like `Store`'s own, they return decoded records (`pipeline.records`),
never rows or JSON text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from pipeline.dedup import text_hash
from pipeline.records import (
    Analysis,
    Article,
    ArticleStatus,
    FeedEntry,
    FeedState,
    RunReport,
    StoredArticle,
    StoredRun,
)
from pipeline.store.schema import MIGRATIONS
from pipeline.times import now_utc, parse_utc, utc_iso


# The keys of a correction's fields that hold character offsets into the article's text.
OFFSET_KEYS = frozenset({"start_char", "end_char"})

# Runs that may fetch one entry: a page still failing after this many nights is left alone.
MAX_FETCH_ATTEMPTS = 5

# Failed fetches worth another try on the next run.
_RETRYABLE = (
    "(status = 'failed' AND (reject_reason IN ('timeout', 'http_429') "
    "OR reject_reason LIKE 'http_5%' OR reject_reason LIKE 'connection_error%' "
    f"OR reject_reason LIKE 'robots_unavailable%') AND fetch_attempts < {MAX_FETCH_ATTEMPTS})"
)


class StoreError(Exception):
    """The database cannot be used (not a newsignal database, newer schema than this code, ...)."""


class Store:
    def __init__(self, connection: sqlite3.Connection, path: str):
        self.connection = connection
        self.path = path

    @classmethod
    def open(cls, path: str | Path) -> Store:
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so a transaction is exactly what
        # `transaction()` encloses.
        connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        connection.row_factory = sqlite3.Row
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as error:
            connection.close()
            raise StoreError(f"{path}: not an SQLite database ({error})") from error
        store = cls(connection, path)
        store.migrate()
        return store

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self.connection
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    # -- schema ---------------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        row = self.connection.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'"
        ).fetchone()
        if row is None:
            return 0
        return self.connection.execute("SELECT version FROM schema_version").fetchone()[0]

    def migrate(self) -> int:
        """Apply the migrations this database lacks; returns how many were applied."""
        current = self.schema_version
        if current > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: schema version {current} is newer than this newsignal "
                f"({len(MIGRATIONS)}); upgrade newsignal"
            )
        if current == 0:
            tables = self.connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='table'"
            ).fetchone()[0]
            if tables:
                raise StoreError(f"{self.path}: an SQLite database, but not a newsignal one")
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            # executescript commits first, so each migration runs as its own script transaction.
            self.connection.executescript(
                "BEGIN;\n"
                + script
                + "\nCREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
                + "\nDELETE FROM schema_version;"
                + f"\nINSERT INTO schema_version (version) VALUES ({number});"
                + "\nCOMMIT;"
            )
        return len(MIGRATIONS) - current

    # -- feeds ----------------------------------------------------------------------------------

    def feed_state(self, name: str, url: str) -> FeedState:
        row = self.connection.execute("SELECT * FROM feeds WHERE name = ?", (name,)).fetchone()
        if row is None:
            return FeedState(name=name, url=url)
        state = FeedState(**{key: row[key] for key in row.keys() if key != "id"})
        if state.url != url:  # the feed moved: cached validators belong to the old address
            state.url, state.etag, state.last_modified, state.body_hash = url, None, None, None
        return state

    def save_feed_state(self, state: FeedState) -> None:
        with self.transaction() as db:
            db.execute(
                """
                INSERT INTO feeds (name, url, etag, last_modified, body_hash, last_fetched_at,
                                   last_success_at, consecutive_failures, last_error, entries_seen)
                VALUES (:name, :url, :etag, :last_modified, :body_hash, :last_fetched_at,
                        :last_success_at, :consecutive_failures, :last_error, :entries_seen)
                ON CONFLICT(name) DO UPDATE SET
                    url = excluded.url, etag = excluded.etag,
                    last_modified = excluded.last_modified, body_hash = excluded.body_hash,
                    last_fetched_at = excluded.last_fetched_at,
                    last_success_at = excluded.last_success_at,
                    consecutive_failures = excluded.consecutive_failures,
                    last_error = excluded.last_error, entries_seen = excluded.entries_seen
                """,
                {slot: getattr(state, slot) for slot in FeedState.__slots__},
            )

    def feed_states(self) -> list[FeedState]:
        rows = self.connection.execute("SELECT * FROM feeds ORDER BY name").fetchall()
        return [FeedState(**{key: row[key] for key in row.keys() if key != "id"}) for row in rows]

    # -- articles -------------------------------------------------------------------------------

    def known_entry(self, entry: FeedEntry) -> int | None:
        """The id of the article already stored for this entry (same canonical URL or GUID).

        An entry whose last fetch failed for a passing reason (timeout, 5xx, 429, connection) is
        not known: the next run tries it again, up to `MAX_FETCH_ATTEMPTS` runs in all.
        """
        row = self.connection.execute(
            f"SELECT id FROM articles WHERE canonical_url = ? AND NOT {_RETRYABLE}",
            (entry.canonical_url,),
        ).fetchone()
        if row is None and entry.guid:
            row = self.connection.execute(
                f"SELECT id FROM articles WHERE source = ? AND guid = ? AND NOT {_RETRYABLE}",
                (entry.feed_name, entry.guid),
            ).fetchone()
        return row[0] if row else None

    def article_by_text_hash(self, text_hash: str) -> int | None:
        row = self.connection.execute(
            "SELECT id FROM articles WHERE text_hash = ? AND duplicate_of IS NULL ORDER BY id LIMIT 1",
            (text_hash,),
        ).fetchone()
        return row[0] if row else None

    def minhashes(self) -> Iterator[tuple[int, bytes]]:
        """(article id, serialised MinHash) of every original (non-duplicate) article."""
        yield from self.connection.execute(
            "SELECT id, minhash FROM articles WHERE minhash IS NOT NULL AND duplicate_of IS NULL"
        )

    def save_article(
        self,
        entry: FeedEntry,
        article: Article,
        status: ArticleStatus,
        *,
        analysis: Analysis | None = None,
        reject_reason: str | None = None,
        duplicate_of: int | None = None,
        html_hash: str | None = None,
        text_hash: str | None = None,
        minhash: bytes | None = None,
        model: str = "",
        run_id: int | None = None,
    ) -> int:
        """Insert one article and everything found in it, atomically; returns its id."""
        fetched_at = utc_iso(now_utc())
        with self.transaction() as db:
            # A retried entry replaces its failed attempt (the run records keep the failure).
            replaced = db.execute(
                f"DELETE FROM articles WHERE canonical_url = ? AND {_RETRYABLE} "
                "RETURNING fetch_attempts",
                (entry.canonical_url,),
            ).fetchall()
            cursor = db.execute(
                """
                INSERT INTO articles (url, canonical_url, guid, source, title, published_at,
                    fetched_at, language, authors, site_name, text, html_hash, text_hash, minhash,
                    status, reject_reason, duplicate_of, processed_at, run_id, fetch_attempts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    entry.url,
                    entry.canonical_url,
                    entry.guid,
                    entry.feed_name,
                    article.title or entry.title or "",
                    utc_iso(article.published_at or entry.published_at),
                    fetched_at,
                    article.language,
                    json.dumps(article.authors, ensure_ascii=False),
                    article.site_name,
                    article.text,
                    html_hash,
                    text_hash,
                    minhash,
                    str(status),
                    reject_reason or article.reject_reason,
                    duplicate_of,
                    fetched_at if analysis is not None else None,
                    run_id,
                    max((row[0] for row in replaced), default=0) + 1,
                ),
            )
            article_id = cursor.lastrowid
            if analysis is not None:
                self._insert_analysis(db, article_id, analysis, model)
        return article_id

    def import_article(
        self,
        article: StoredArticle,
        analysis: Analysis | None,
        *,
        text_hash: str | None = None,
        model: str = "",
    ) -> tuple[int, bool]:
        """Insert an article made elsewhere (a backfill) with its tags, atomically, unless its
        canonical URL is already stored: returns (its id here, whether it was inserted).

        With its text hash stored, nightly runs recognise its copies. A backfill has no fetch
        time: `fetched_at` is the publication time, else the time of the import.
        """
        with self.transaction() as db:
            known = db.execute(
                "SELECT id FROM articles WHERE canonical_url = ?", (article.canonical_url,)
            ).fetchone()
            if known is not None:
                return known[0], False
            cursor = db.execute(
                """
                INSERT INTO articles (url, canonical_url, source, title, published_at, fetched_at,
                    language, text, text_hash, status, reject_reason, duplicate_of, processed_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    article.url, article.canonical_url, article.source, article.title,
                    utc_iso(article.published_at),
                    utc_iso(article.published_at or now_utc()), article.language, article.text,
                    text_hash, str(article.status),
                    article.reject_reason, article.duplicate_of,
                    utc_iso(now_utc()) if analysis is not None else None,
                ),
            )
            if analysis is not None:
                self._insert_analysis(db, cursor.lastrowid, analysis, model)
        return cursor.lastrowid, True

    def replace_analysis(self, article_id: int, analysis: Analysis, model: str, *,
                         text: str | None = None) -> None:
        """Swap an article's tags for a new analysis (reprocess).

        Reviewers' corrections follow their tag to its new row where the new analysis has a tag
        of the same kind at the same offsets; otherwise they keep their copy of the tag as it was
        seen and point at no row (the row ids of deleted tags may be reused).

        `text`: the article's new text, which the analysis's offsets point into: the stored
        text with something put before it (the headline an older release left out). Every
        stored offset, corrections' included, moves by what was put before.
        """
        with self.transaction() as db:
            shift = self._prepend_text(db, article_id, text) if text is not None else 0
            places = {key: (kind, start + shift, end + shift)
                      for key, (kind, start, end) in self._tag_offsets(db, article_id).items()}
            followed = [
                (correction_id, places.get((kind, target_id)))
                for correction_id, kind, target_id in db.execute(
                    "SELECT id, target_kind, target_id FROM corrections "
                    "WHERE article_id = ? AND target_id IS NOT NULL",
                    (article_id,),
                )
            ]
            for table in ("conflicts", "catalysts", "figures", "entities"):
                db.execute(f"DELETE FROM {table} WHERE article_id = ?", (article_id,))
            self._insert_analysis(db, article_id, analysis, model)
            new_ids = {place: key[1] for key, place in self._tag_offsets(db, article_id).items()}
            db.executemany(
                "UPDATE corrections SET target_id = ? WHERE id = ?",
                [(new_ids.get(place), correction_id) for correction_id, place in followed],
            )
            db.execute(
                "UPDATE articles SET processed_at = ?, status = ? WHERE id = ?",
                (utc_iso(now_utc()), str(ArticleStatus.PROCESSED), article_id),
            )

    @staticmethod
    def _prepend_text(db: sqlite3.Connection, article_id: int, text: str) -> int:
        """Store `text`, the stored text with something put before it, and move the offsets in
        the article's corrections by that much; returns it (the old tags are about to go)."""
        (stored,) = db.execute("SELECT text FROM articles WHERE id = ?", (article_id,)).fetchone()
        if text == stored:
            return 0
        if not text.endswith(stored):
            raise ValueError(f"article {article_id}: the new text does not end with the stored one")
        shift = len(text) - len(stored)
        db.execute("UPDATE articles SET text = ?, text_hash = ? WHERE id = ?",
                   (text, text_hash(text), article_id))
        rows = db.execute("SELECT id, fields FROM corrections WHERE article_id = ?", (article_id,))
        db.executemany("UPDATE corrections SET fields = ? WHERE id = ?", [
            (json.dumps(_shifted(json.loads(fields), shift), ensure_ascii=False, sort_keys=True),
             correction_id)
            for correction_id, fields in rows.fetchall()
        ])
        return shift

    @staticmethod
    def _tag_offsets(
        db: sqlite3.Connection, article_id: int
    ) -> dict[tuple[str, int], tuple[str, int, int]]:
        """{(kind, id): (kind, start, end)} for every tag of one article."""
        places = {}
        for kind, table in (("entity", "entities"), ("figure", "figures"), ("catalyst", "catalysts")):
            for tag_id, start, end in db.execute(
                f"SELECT id, start_char, end_char FROM {table} WHERE article_id = ?", (article_id,)
            ):
                places[(kind, tag_id)] = (kind, start, end)
        return places

    @staticmethod
    def _insert_analysis(
        db: sqlite3.Connection, article_id: int, analysis: Analysis, model: str
    ) -> None:
        db.executemany(
            "INSERT INTO entities (article_id, text, label, start_char, end_char, ticker, model) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (article_id, e.text, e.label, e.start_char, e.end_char, e.ticker, model)
                for e in analysis.entities
            ],
        )
        figure_ids: dict[tuple[int, int], int] = {}
        for figure in analysis.figures:
            cursor = db.execute(
                "INSERT INTO figures (article_id, text, start_char, end_char, value, value_high, "
                "unit, metric, asset, period, qualifier, model, flag) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article_id, figure.text, figure.start_char, figure.end_char, figure.value,
                    figure.value_high, figure.unit, figure.metric, figure.asset, figure.period,
                    figure.qualifier, model, figure.flag,
                ),
            )
            figure_ids[(figure.start_char, figure.end_char)] = cursor.lastrowid
        for catalyst in analysis.catalysts:
            ids = [
                figure_ids[(f.start_char, f.end_char)]
                for f in catalyst.figures
                if (f.start_char, f.end_char) in figure_ids
            ]
            db.execute(
                "INSERT INTO catalysts (article_id, sentence, start_char, end_char, category, "
                "direction, confidence, assets, figure_ids, model, event_type) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article_id, catalyst.sentence, catalyst.start_char, catalyst.end_char,
                    catalyst.category, str(catalyst.direction), catalyst.confidence,
                    json.dumps(catalyst.assets), json.dumps(ids), catalyst.model or model,
                    catalyst.event_type,
                ),
            )
        for conflict in analysis.conflicts:
            first = figure_ids.get((conflict.first.start_char, conflict.first.end_char))
            second = figure_ids.get((conflict.second.start_char, conflict.second.end_char))
            if first is None or second is None:
                continue
            db.execute(
                "INSERT INTO conflicts (article_id, metric, period, first_figure_id, "
                "second_figure_id, reason) VALUES (?, ?, ?, ?, ?, ?)",
                (article_id, conflict.metric, conflict.period, first, second, conflict.reason),
            )

    def articles_to_reprocess(
        self, since: datetime | None = None
    ) -> Iterator[tuple[int, str, str]]:
        """(id, title, text) of original English articles with text, oldest first (for
        `newsignal reprocess`)."""
        query = (
            "SELECT id, coalesce(title, ''), text FROM articles WHERE status IN ('processed') "
            "AND duplicate_of IS NULL AND text != ''"
        )
        params: list[object] = []
        if since is not None:
            query += " AND coalesce(published_at, fetched_at) >= ?"
            params.append(utc_iso(since))
        yield from map(tuple, self.connection.execute(query + " ORDER BY id", params).fetchall())

    # -- runs -----------------------------------------------------------------------------------

    def close_abandoned_runs(self) -> int:
        """Mark runs still `running` as interrupted: called by a run holding the lock, so their
        processes are gone (killed). Returns how many there were."""
        with self.transaction() as db:
            return db.execute(
                "UPDATE runs SET status = 'interrupted', "
                "finished_at = coalesce(finished_at, ?) WHERE status = 'running'",
                (utc_iso(now_utc()),),
            ).rowcount

    def start_run(self, started_at: datetime) -> int:
        with self.transaction() as db:
            return db.execute(
                "INSERT INTO runs (started_at) VALUES (?)", (utc_iso(started_at),)
            ).lastrowid

    def finish_run(self, report: RunReport, status: str, exit_code: int) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, counts = ?, feed_errors = ?, "
                "failures = ?, exit_code = ? WHERE id = ?",
                (
                    utc_iso(report.finished_at),
                    status,
                    json.dumps(report.counts, sort_keys=True),
                    json.dumps(report.feed_errors, sort_keys=True),
                    json.dumps(report.failures),
                    exit_code,
                    report.run_id,
                ),
            )

    def recent_runs(self, limit: int = 10) -> list[StoredRun]:
        """The last `limit` runs, newest first."""
        rows = self.connection.execute(
            "SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [
            StoredRun(
                id=row["id"], started_at=parse_utc(row["started_at"]),
                finished_at=parse_utc(row["finished_at"]), status=row["status"],
                exit_code=row["exit_code"], counts=json.loads(row["counts"]),
                feed_errors=json.loads(row["feed_errors"]),
                failures=[tuple(failure) for failure in json.loads(row["failures"])],
            )
            for row in rows
        ]

    def backup(self, target: str | Path) -> None:
        """A consistent copy of the live database through SQLite's online backup API."""
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(str(target)) as destination:
            self.connection.backup(destination)
        destination.close()

    def integrity_ok(self) -> bool:
        return self.connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _shifted(value, shift: int):
    """A correction's fields (the tag as seen, the reviewer's values) with every character
    offset moved by `shift`."""
    if isinstance(value, dict):
        return {key: item + shift if key in OFFSET_KEYS and isinstance(item, int)
                else _shifted(item, shift) for key, item in value.items()}
    if isinstance(value, list):
        return [_shifted(item, shift) for item in value]
    return value

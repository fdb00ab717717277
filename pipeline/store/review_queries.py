"""Queries for the review app and the corrections export.

Review never touches the model's rows (entities, figures, catalysts): every judgement is a new row
in `corrections`, and the latest one per tag (highest id) is that tag's current review state. A
correction also keeps a snapshot of the tag as the reviewer saw it (`fields["was"]`), so exported
gold data stays right even after `reprocess` has replaced the model's rows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from pipeline.store import Store, now_utc, utc_iso

TAG_KINDS = ("entity", "figure", "catalyst")
TAG_TABLES = {"entity": "entities", "figure": "figures", "catalyst": "catalysts"}
ACTIONS = ("accept", "reject", "correct", "add")
REVIEW_STATUSES = ("unreviewed", "partly", "reviewed")

# Per article: tag counts and how many catalysts and figures carry a judgement. An article is
# "reviewed" once every catalyst and figure is judged (entities are optional to review).
_ARTICLE_SUMMARY = """
SELECT a.id, a.title, a.source, a.url, a.canonical_url,
       coalesce(a.published_at, a.fetched_at) AS published,
       (SELECT count(*) FROM entities e WHERE e.article_id = a.id) AS n_entities,
       (SELECT count(*) FROM figures f WHERE f.article_id = a.id) AS n_figures,
       (SELECT count(*) FROM catalysts c WHERE c.article_id = a.id) AS n_catalysts,
       (SELECT count(*) FROM catalysts c
         WHERE c.article_id = a.id AND c.direction = 'bearish') AS n_bearish,
       (SELECT count(*) FROM catalysts c
         WHERE c.article_id = a.id AND c.direction = 'bullish') AS n_bullish,
       (SELECT count(*) FROM conflicts k WHERE k.article_id = a.id) AS n_conflicts,
       (SELECT count(*) FROM catalysts c WHERE c.article_id = a.id AND EXISTS (
            SELECT 1 FROM corrections r WHERE r.target_kind = 'catalyst' AND r.target_id = c.id))
     + (SELECT count(*) FROM figures f WHERE f.article_id = a.id AND EXISTS (
            SELECT 1 FROM corrections r WHERE r.target_kind = 'figure' AND r.target_id = f.id))
         AS n_reviewed,
       (SELECT count(*) FROM corrections r WHERE r.article_id = a.id) AS n_corrections
FROM articles a
"""

_STATUS_EXPR = """
CASE WHEN n_corrections = 0 THEN 'unreviewed'
     WHEN n_reviewed >= n_catalysts + n_figures THEN 'reviewed'
     ELSE 'partly' END
"""

# The order of the article list, newest first; "next article" follows it too.
_ORDER = "published DESC, id DESC"


@dataclass(slots=True)
class ArticleFilter:
    """What the article list shows; every field is optional."""

    date_from: date | None = None
    date_to: date | None = None  # inclusive
    source: str | None = None
    asset: str | None = None
    category: str | None = None
    direction: str | None = None
    status: str | None = None  # one of REVIEW_STATUSES
    search: str | None = None  # case-insensitive substring of the title


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _article_conditions(filters: ArticleFilter) -> tuple[list[str], list[Any]]:
    """WHERE conditions on `articles a` for every filter but the review status."""
    where = ["a.status = 'processed'"]
    params: list[Any] = []
    if filters.date_from is not None:
        where.append("coalesce(a.published_at, a.fetched_at) >= ?")
        params.append(filters.date_from.isoformat())
    if filters.date_to is not None:
        where.append("coalesce(a.published_at, a.fetched_at) < ?")
        params.append((filters.date_to + timedelta(days=1)).isoformat())
    if filters.source:
        where.append("a.source = ?")
        params.append(filters.source)
    if filters.asset:
        where.append(
            "(EXISTS (SELECT 1 FROM entities e WHERE e.article_id = a.id AND e.ticker = ?)"
            " OR EXISTS (SELECT 1 FROM figures f WHERE f.article_id = a.id AND f.asset = ?)"
            " OR EXISTS (SELECT 1 FROM catalysts c, json_each(c.assets) j"
            "            WHERE c.article_id = a.id AND j.value = ?))"
        )
        params += [filters.asset] * 3
    if filters.category or filters.direction:
        clause = "EXISTS (SELECT 1 FROM catalysts c WHERE c.article_id = a.id"
        if filters.category:
            clause += " AND c.category = ?"
            params.append(filters.category)
        if filters.direction:
            clause += " AND c.direction = ?"
            params.append(filters.direction)
        where.append(clause + ")")
    if filters.search:
        where.append("a.title LIKE ? ESCAPE '\\'")
        params.append(f"%{_escape_like(filters.search)}%")
    return where, params


def _filtered_summary(filters: ArticleFilter) -> tuple[str, list[Any]]:
    """The summary query restricted by `filters`, as a sub-select with a `review_status` column."""
    where, params = _article_conditions(filters)
    query = (
        f"SELECT *, {_STATUS_EXPR} AS review_status FROM ("
        + _ARTICLE_SUMMARY
        + " WHERE "
        + " AND ".join(where)
        + ")"
    )
    if filters.status:
        query = f"SELECT * FROM ({query}) WHERE review_status = ?"
        params.append(filters.status)
    return query, params


def list_articles(
    store: Store, filters: ArticleFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[sqlite3.Row], int]:
    """One page of article summaries (newest first) and the number of matching articles."""
    offset = (max(page, 1) - 1) * per_page
    db = store.connection
    if filters.status:  # the status needs every article's summary
        query, params = _filtered_summary(filters)
        total = db.execute(f"SELECT count(*) FROM ({query})", params).fetchone()[0]
        rows = db.execute(
            f"SELECT * FROM ({query}) ORDER BY {_ORDER} LIMIT ? OFFSET ?",
            [*params, per_page, offset],
        ).fetchall()
        return rows, total
    # Otherwise page first and summarise only the page: the tag counts are the costly part.
    where, params = _article_conditions(filters)
    condition = " AND ".join(where)
    total = db.execute(f"SELECT count(*) FROM articles a WHERE {condition}", params).fetchone()[0]
    page_ids = (
        f"SELECT a.id FROM articles a WHERE {condition} "
        "ORDER BY coalesce(a.published_at, a.fetched_at) DESC, a.id DESC LIMIT ? OFFSET ?"
    )
    rows = db.execute(
        f"SELECT *, {_STATUS_EXPR} AS review_status FROM ({_ARTICLE_SUMMARY} "
        f"WHERE a.id IN ({page_ids})) ORDER BY {_ORDER}",
        [*params, per_page, offset],
    ).fetchall()
    return rows, total


def filter_choices(store: Store) -> dict[str, list[str]]:
    """The values each list filter can take in this database."""
    db = store.connection

    def column(query: str) -> list[str]:
        return [row[0] for row in db.execute(query) if row[0]]

    return {
        "sources": column("SELECT DISTINCT source FROM articles ORDER BY source"),
        "assets": column(
            "SELECT ticker FROM entities WHERE ticker IS NOT NULL "
            "UNION SELECT asset FROM figures WHERE asset IS NOT NULL "
            "UNION SELECT j.value FROM catalysts c, json_each(c.assets) j ORDER BY 1"
        ),
        "categories": column("SELECT DISTINCT category FROM catalysts ORDER BY category"),
        "metrics": column("SELECT DISTINCT metric FROM figures ORDER BY metric"),
        "units": column("SELECT DISTINCT unit FROM figures ORDER BY unit"),
        "labels": column("SELECT DISTINCT label FROM entities ORDER BY label"),
    }


def article(store: Store, article_id: int) -> sqlite3.Row | None:
    return store.connection.execute(
        "SELECT *, coalesce(published_at, fetched_at) AS published FROM articles WHERE id = ?",
        (article_id,),
    ).fetchone()


def article_tags(store: Store, article_id: int) -> dict[str, list[sqlite3.Row]]:
    """The model's entities, figures, catalysts and conflicts of one article, in text order."""
    db = store.connection
    tags = {
        kind: db.execute(
            f"SELECT * FROM {table} WHERE article_id = ? ORDER BY start_char, end_char DESC, id",
            (article_id,),
        ).fetchall()
        for kind, table in TAG_TABLES.items()
    }
    tags["conflict"] = db.execute(
        "SELECT * FROM conflicts WHERE article_id = ? ORDER BY id", (article_id,)
    ).fetchall()
    return tags


def latest_corrections(store: Store, article_id: int) -> dict[tuple[str, int], sqlite3.Row]:
    """The current review state of each judged tag of an article: (kind, tag id) -> correction."""
    rows = store.connection.execute(
        """
        SELECT r.* FROM corrections r
        WHERE r.article_id = ? AND r.target_id IS NOT NULL AND r.id = (
            SELECT max(id) FROM corrections
            WHERE target_kind = r.target_kind AND target_id = r.target_id)
        """,
        (article_id,),
    ).fetchall()
    return {(row["target_kind"], row["target_id"]): row for row in rows}


def added_catalysts(store: Store, article_id: int | None = None) -> list[sqlite3.Row]:
    """Catalysts reviewers added by hand ("add" corrections), oldest first."""
    query = "SELECT * FROM corrections WHERE action = 'add'"
    params: tuple[Any, ...] = ()
    if article_id is not None:
        query += " AND article_id = ?"
        params = (article_id,)
    return store.connection.execute(query + " ORDER BY id", params).fetchall()


def tag_row(store: Store, kind: str, tag_id: int) -> sqlite3.Row | None:
    return store.connection.execute(
        f"SELECT * FROM {TAG_TABLES[kind]} WHERE id = ?", (tag_id,)
    ).fetchone()


def add_correction(
    store: Store,
    *,
    article_id: int,
    target_kind: str,
    target_id: int | None,
    action: str,
    fields: dict[str, Any],
    reviewer: str,
) -> int:
    """Record one judgement; returns the correction's id."""
    if target_kind not in TAG_KINDS:
        raise ValueError(f"unknown tag kind {target_kind!r}")
    if action not in ACTIONS:
        raise ValueError(f"unknown review action {action!r}")
    with store.transaction() as db:
        return db.execute(
            "INSERT INTO corrections (article_id, target_kind, target_id, action, fields, "
            "reviewer, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                article_id,
                target_kind,
                target_id,
                action,
                json.dumps(fields, ensure_ascii=False, sort_keys=True),
                reviewer,
                utc_iso(now_utc()),
            ),
        ).lastrowid


def next_article_id(store: Store, article_id: int) -> int | None:
    """The article after `article_id` in list order that still needs review, wrapping round."""
    query, params = _filtered_summary(ArticleFilter())
    ordered = f"SELECT id FROM ({query}) WHERE review_status != 'reviewed' AND id != ?"
    current = store.connection.execute(
        "SELECT coalesce(published_at, fetched_at) FROM articles WHERE id = ?", (article_id,)
    ).fetchone()
    if current is not None:
        after = store.connection.execute(
            f"SELECT id FROM ({query}) WHERE review_status != 'reviewed' AND id != ? "
            f"AND (published < ? OR (published = ? AND id < ?)) ORDER BY {_ORDER} LIMIT 1",
            [*params, article_id, current[0], current[0], article_id],
        ).fetchone()
        if after is not None:
            return after[0]
    first = store.connection.execute(
        f"{ordered} ORDER BY {_ORDER} LIMIT 1", [*params, article_id]
    ).fetchone()
    return first[0] if first else None


def latest_corrections_all(store: Store) -> list[sqlite3.Row]:
    """Every tag's current judgement plus every added catalyst, by article then correction id."""
    return store.connection.execute(
        """
        SELECT r.* FROM corrections r
        WHERE r.action = 'add' OR (r.target_id IS NOT NULL AND r.id = (
            SELECT max(id) FROM corrections
            WHERE target_kind = r.target_kind AND target_id = r.target_id))
        ORDER BY r.article_id, r.id
        """
    ).fetchall()


def reviewed_article_ids(store: Store) -> list[int]:
    return [
        row[0]
        for row in store.connection.execute(
            "SELECT DISTINCT article_id FROM corrections ORDER BY article_id"
        )
    ]

"""Queries for the review app and the corrections export; they return decoded records
(`pipeline.records`: ArticleSummary, StoredArticle, ArticleTags, Correction).

Review never touches the model's rows (entities, figures, catalysts): every judgement is a new row
in `corrections`, and the latest one per tag (highest id) is that tag's current review state. A
correction also keeps a snapshot of the tag as the reviewer saw it (`fields["was"]`), so exported
gold data stays right even after `reprocess` has replaced the model's rows.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from typing import Any

from pipeline.records import (
    ArticleFilter,
    ArticleSummary,
    ArticleTags,
    ArticleStatus,
    Catalyst,
    Correction,
    Direction,
    Entity,
    Figure,
    StoredArticle,
    StoredConflict,
    StoredTag,
)
from pipeline.store import Store
from pipeline.times import now_utc, parse_utc, utc_iso

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


def _summary(row: sqlite3.Row) -> ArticleSummary:
    return ArticleSummary(
        id=row["id"], title=row["title"], source=row["source"], url=row["url"],
        published=parse_utc(row["published"]), entities=row["n_entities"],
        figures=row["n_figures"], catalysts=row["n_catalysts"], bearish=row["n_bearish"],
        bullish=row["n_bullish"], conflicts=row["n_conflicts"], judged=row["n_reviewed"],
        corrections=row["n_corrections"], review_status=row["review_status"],
    )


def list_articles(
    store: Store, filters: ArticleFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[ArticleSummary], int]:
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
        return [_summary(row) for row in rows], total
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
    return [_summary(row) for row in rows], total


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


def article(store: Store, article_id: int) -> StoredArticle | None:
    row = store.connection.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
    if row is None:
        return None
    return StoredArticle(
        id=row["id"], url=row["url"], canonical_url=row["canonical_url"], source=row["source"],
        title=row["title"], published_at=parse_utc(row["published_at"]),
        language=row["language"], status=ArticleStatus(row["status"]),
        reject_reason=row["reject_reason"], duplicate_of=row["duplicate_of"], text=row["text"],
        fetched_at=parse_utc(row["fetched_at"]), authors=json.loads(row["authors"] or "[]"),
    )


def _entity(row: sqlite3.Row) -> StoredTag:
    entity = Entity(row["text"], row["label"], row["start_char"], row["end_char"], row["ticker"])
    return StoredTag(row["id"], row["article_id"], entity, row["model"])


def _figure(row: sqlite3.Row) -> StoredTag:
    figure = Figure(
        row["text"], row["start_char"], row["end_char"], row["value"], row["unit"], row["metric"],
        row["asset"], row["period"], row["qualifier"], row["value_high"], row["flag"],
    )
    return StoredTag(row["id"], row["article_id"], figure, row["model"])


def _catalyst(row: sqlite3.Row) -> StoredTag:
    catalyst = Catalyst(
        row["sentence"], row["start_char"], row["end_char"], row["category"],
        Direction(row["direction"]), row["confidence"], json.loads(row["assets"] or "[]"),
        model=row["model"], event_type=row["event_type"],
    )
    return StoredTag(row["id"], row["article_id"], catalyst, row["model"])


_TAG_DECODERS = {"entity": _entity, "figure": _figure, "catalyst": _catalyst}


def _conflict(row: sqlite3.Row) -> StoredConflict:
    return StoredConflict(
        row["id"], row["article_id"], row["metric"], row["period"], row["first_figure_id"],
        row["second_figure_id"], row["reason"],
    )


def _correction(row: sqlite3.Row) -> Correction:
    return Correction(
        id=row["id"], article_id=row["article_id"], target_kind=row["target_kind"],
        target_id=row["target_id"], action=row["action"], fields=json.loads(row["fields"]),
        reviewer=row["reviewer"], created_at=parse_utc(row["created_at"]),
    )


def article_tags(store: Store, article_id: int) -> ArticleTags:
    """The model's entities, figures, catalysts and conflicts of one article, in text order."""
    db = store.connection
    tags = {
        kind: [
            _TAG_DECODERS[kind](row)
            for row in db.execute(
                f"SELECT * FROM {table} WHERE article_id = ? "
                "ORDER BY start_char, end_char DESC, id",
                (article_id,),
            )
        ]
        for kind, table in TAG_TABLES.items()
    }
    conflicts = [
        _conflict(row)
        for row in db.execute(
            "SELECT * FROM conflicts WHERE article_id = ? ORDER BY id", (article_id,)
        )
    ]
    return ArticleTags(tags["entity"], tags["figure"], tags["catalyst"], conflicts)


def latest_corrections(store: Store, article_id: int) -> dict[tuple[str, int], Correction]:
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
    return {(row["target_kind"], row["target_id"]): _correction(row) for row in rows}


def added_catalysts(store: Store, article_id: int | None = None) -> list[Correction]:
    """Catalysts reviewers added by hand ("add" corrections), oldest first."""
    query = "SELECT * FROM corrections WHERE action = 'add'"
    params: tuple[Any, ...] = ()
    if article_id is not None:
        query += " AND article_id = ?"
        params = (article_id,)
    return [_correction(row) for row in store.connection.execute(query + " ORDER BY id", params)]


def stored_tag(store: Store, kind: str, tag_id: int) -> StoredTag | None:
    row = store.connection.execute(
        f"SELECT * FROM {TAG_TABLES[kind]} WHERE id = ?", (tag_id,)
    ).fetchone()
    return None if row is None else _TAG_DECODERS[kind](row)


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


def latest_corrections_all(store: Store) -> list[Correction]:
    """Every tag's current judgement plus every added catalyst, by article then correction id."""
    rows = store.connection.execute(
        """
        SELECT r.* FROM corrections r
        WHERE r.action = 'add' OR (r.target_id IS NOT NULL AND r.id = (
            SELECT max(id) FROM corrections
            WHERE target_kind = r.target_kind AND target_id = r.target_id))
        ORDER BY r.article_id, r.id
        """
    ).fetchall()
    return [_correction(row) for row in rows]


def reviewed_article_ids(store: Store) -> list[int]:
    return [
        row[0]
        for row in store.connection.execute(
            "SELECT DISTINCT article_id FROM corrections ORDER BY article_id"
        )
    ]

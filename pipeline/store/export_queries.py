"""Read-only queries behind the exports and the daily signal, each streamed with `fetchmany`.

Export queries come back as records, (StoredArticle, tag) pairs, in a stable order: the article's
time (published, else fetched), then article id, then the tag's start offset; `pipeline.export`
turns a record into a row (`export_row`), the same way for the store and for a backfill. Timestamps
stay the ISO 8601 UTC text the store writes in SQL, so comparing them as strings compares the
moments.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from pipeline.records import (
    ArticleStatus,
    Catalyst,
    Conflict,
    DatedCatalyst,
    Direction,
    Entity,
    Figure,
    StoredArticle,
)
from pipeline.store import Store
from pipeline.times import parse_utc, utc_iso

FETCH_SIZE = 2_000

# An article's moment: when it was published, or when we fetched it if the page had no date.
ARTICLE_TIME = "coalesce(a.published_at, a.fetched_at)"
ORIGINALS_ONLY = "a.duplicate_of IS NULL AND a.status != 'duplicate'"

# Every query starts with the article's columns (_ARTICLE), then the tag's.
_ARTICLE = (
    "a.id, a.url, a.canonical_url, a.source, a.title, a.published_at, a.language, a.status, "
    "a.reject_reason, a.duplicate_of"
)
_SELECT = {
    "catalysts": f"""
        SELECT {_ARTICLE}, c.sentence, c.start_char, c.end_char, c.category, c.direction,
               c.confidence, c.assets, c.model, c.event_type
        FROM catalysts c JOIN articles a ON a.id = c.article_id
    """,
    "figures": f"""
        SELECT {_ARTICLE}, f.text, f.start_char, f.end_char, f.value, f.unit, f.metric, f.asset,
               f.period, f.qualifier, f.value_high, f.flag
        FROM figures f JOIN articles a ON a.id = f.article_id
    """,
    "entities": f"""
        SELECT {_ARTICLE}, e.text, e.label, e.start_char, e.end_char, e.ticker
        FROM entities e JOIN articles a ON a.id = e.article_id
    """,
    "articles": f"""
        SELECT {_ARTICLE}, a.text
        FROM articles a
    """,
    "conflicts": f"""
        SELECT {_ARTICLE}, k.metric, k.period,
               f1.text, f1.start_char, f1.end_char, f1.value, f1.unit,
               f2.text, f2.start_char, f2.end_char, f2.value, f2.unit, k.reason
        FROM conflicts k JOIN articles a ON a.id = k.article_id
        JOIN figures f1 ON f1.id = k.first_figure_id
        JOIN figures f2 ON f2.id = k.second_figure_id
    """,
}
_ARTICLE_WIDTH = _ARTICLE.count(",") + 1

# How `asset` narrows each kind; `?` is the ticker.
_ASSET_CONDITION = {
    "catalysts": "EXISTS (SELECT 1 FROM json_each(c.assets) WHERE json_each.value = ?)",
    "figures": "f.asset = ?",
    "entities": "e.ticker = ?",
    "articles": "(EXISTS (SELECT 1 FROM entities x WHERE x.article_id = a.id AND x.ticker = ?)"
    " OR EXISTS (SELECT 1 FROM catalysts y, json_each(y.assets) j"
    " WHERE y.article_id = a.id AND j.value = ?))",
    "conflicts": "(f1.asset = ? OR f2.asset = ?)",
}

_TAG_ORDER = {
    "catalysts": "c.start_char, c.id",
    "figures": "f.start_char, f.id",
    "entities": "e.start_char, e.id",
    "articles": "a.id",
    "conflicts": "f1.start_char, k.id",
}

TABLE_KINDS = tuple(_SELECT)


def _stream(store: Store, query: str, params: list[object]) -> Iterator[dict[str, object]]:
    cursor = store.connection.execute(query, params)
    names = [description[0] for description in cursor.description]
    try:
        while batch := cursor.fetchmany(FETCH_SIZE):
            for row in batch:
                yield dict(zip(names, row, strict=True))
    finally:
        cursor.close()


def _stream_tuples(store: Store, query: str, params: list[object]) -> Iterator[tuple]:
    cursor = store.connection.execute(query, params)
    try:
        while batch := cursor.fetchmany(FETCH_SIZE):
            yield from map(tuple, batch)
    finally:
        cursor.close()


def _time_conditions(
    since: datetime | None, until: datetime | None
) -> tuple[list[str], list[object]]:
    conditions: list[str] = []
    params: list[object] = []
    if since is not None:
        conditions.append(f"{ARTICLE_TIME} >= ?")
        params.append(utc_iso(since))
    if until is not None:
        conditions.append(f"{ARTICLE_TIME} < ?")
        params.append(utc_iso(until))
    return conditions, params


ExportRecord = tuple[StoredArticle, "Catalyst | Figure | Entity | Conflict | None"]


def _article(values: tuple, text: str = "") -> StoredArticle:
    (article_id, url, canonical_url, source, title, published_at, language, status,
     reject_reason, duplicate_of) = values
    return StoredArticle(
        article_id, url, canonical_url, source, title, parse_utc(published_at), language,
        ArticleStatus(status), reject_reason, duplicate_of, text,
    )


def _figure(text, start_char, end_char, value, unit) -> Figure:
    return Figure(text, start_char, end_char, value, unit)


_TAG = {
    "catalysts": lambda sentence, start, end, category, direction, confidence, assets, model,
    event_type: (
        Catalyst(sentence, start, end, category, Direction(direction), confidence,
                 json.loads(assets), model=model, event_type=event_type)
    ),
    "figures": lambda text, start, end, value, unit, metric, asset, period, qualifier, high, flag: (
        Figure(text, start, end, value, unit, metric, asset, period, qualifier, high, flag)
    ),
    "entities": lambda text, label, start, end, ticker: Entity(text, label, start, end, ticker),
    "conflicts": lambda metric, period, *rest: Conflict(
        metric, period, _figure(*rest[0:5]), _figure(*rest[5:10]), rest[10]
    ),
}


def _records(kind: str, rows: Iterator[tuple]) -> Iterator[ExportRecord]:
    """(article, tag) per row; consecutive rows of one article share one StoredArticle."""
    article: StoredArticle | None = None
    for row in rows:
        if kind == "articles":
            yield _article(row[:_ARTICLE_WIDTH], row[_ARTICLE_WIDTH]), None
            continue
        if article is None or article.id != row[0]:
            article = _article(row[:_ARTICLE_WIDTH])
        yield article, _TAG[kind](*row[_ARTICLE_WIDTH:])


def export_records(
    store: Store,
    kind: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    asset: str | None = None,
    min_confidence: float | None = None,
    include_duplicates: bool = False,
) -> Iterator[ExportRecord]:
    """(article, tag) records of one table kind (see TABLE_KINDS), oldest article first, in
    constant memory; the tag is None for `articles`, whose StoredArticle carries the text.

    `since` is inclusive and `until` exclusive, both on the article's time. `min_confidence` only
    exists for catalysts.
    """
    if kind not in _SELECT:
        raise ValueError(f"unknown export kind {kind!r}; expected one of {TABLE_KINDS}")
    conditions, params = _time_conditions(since, until)
    if not include_duplicates:
        conditions.append(ORIGINALS_ONLY)
    if asset is not None:
        condition = _ASSET_CONDITION[kind]
        conditions.append(condition)
        params.extend([asset] * condition.count("?"))
    if min_confidence is not None:
        if kind != "catalysts":
            raise ValueError("min_confidence applies to catalysts only")
        conditions.append("c.confidence >= ?")
        params.append(min_confidence)
    query = _SELECT[kind]
    if conditions:
        query += " WHERE " + " AND ".join(conditions)
    query += f" ORDER BY {ARTICLE_TIME}, a.id, {_TAG_ORDER[kind]}"
    return _records(kind, _stream_tuples(store, query, params))


def catalysts_have_event_types(store: Store) -> bool:
    """Whether any catalyst of this database carries an `event_type` (those judged by a model
    with event outputs, direction model 0.6.0 and later, do)."""
    return store.connection.execute(
        "SELECT EXISTS (SELECT 1 FROM catalysts WHERE event_type IS NOT NULL)"
    ).fetchone()[0] == 1


def signal_catalysts(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    asset: str | None = None,
    min_confidence: float | None = None,
) -> Iterator[DatedCatalyst]:
    """Catalysts of original articles in time order, with what the novelty rule compares.

    `at` is the article's time (published, else fetched); `figure_keys` the (metric, value) pairs
    of the figures the catalyst cites; `event_type` where the model that judged it named one.
    """
    conditions, params = _time_conditions(since, until)
    conditions.append(ORIGINALS_ONLY)
    if asset is not None:
        conditions.append(_ASSET_CONDITION["catalysts"])
        params.append(asset)
    if min_confidence is not None:
        conditions.append("c.confidence >= ?")
        params.append(min_confidence)
    query = f"""
        SELECT {ARTICLE_TIME} AS at, a.source, c.category, c.direction, c.confidence, c.assets,
               (SELECT json_group_array(json_array(f.metric, f.value))
                FROM json_each(c.figure_ids) j JOIN figures f ON f.id = j.value) AS figure_keys,
               c.event_type
        FROM catalysts c JOIN articles a ON a.id = c.article_id
        WHERE {" AND ".join(conditions)}
        ORDER BY {ARTICLE_TIME}, a.id, c.start_char, c.id
    """
    for row in _stream(store, query, params):
        at = parse_utc(row["at"])
        yield DatedCatalyst(
            at=at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC),
            source=row["source"],
            category=row["category"],
            direction=Direction(row["direction"]),
            confidence=row["confidence"],
            assets=json.loads(row["assets"]),
            figure_keys=[(metric, value) for metric, value in json.loads(row["figure_keys"])],
            event_type=row["event_type"],
        )


def bulk_insert_catalysts(
    store: Store, article_id: int, catalysts: Iterable[Catalyst], *, model: str = ""
) -> None:
    """Insert many catalysts of one article in one transaction (benchmarks and bulk loads).

    Unlike `Store.save_article` it links no figures: `figure_ids` stays empty.
    """
    with store.transaction() as db:
        db.executemany(
            "INSERT INTO catalysts (article_id, sentence, start_char, end_char, category, "
            "direction, confidence, assets, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    article_id, catalyst.sentence, catalyst.start_char, catalyst.end_char,
                    catalyst.category, str(catalyst.direction), catalyst.confidence,
                    json.dumps(catalyst.assets), catalyst.model or model,
                )
                for catalyst in catalysts
            ),
        )

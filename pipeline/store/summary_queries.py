"""Counts over a whole database, for the summary `newsignal demo` prints."""

from __future__ import annotations

from pipeline.records import CategoryCounts
from pipeline.store import Store


def catalysts_by_category(store: Store) -> list[CategoryCounts]:
    """Catalysts per category and direction, the most frequent category first."""
    rows = store.connection.execute(
        "SELECT category, sum(direction='bearish'), sum(direction='bullish'), "
        "sum(direction='neutral'), count(*) FROM catalysts GROUP BY category ORDER BY 5 DESC"
    ).fetchall()
    return [CategoryCounts(*row) for row in rows]


def figures_by_metric(store: Store) -> list[tuple[str, int]]:
    """(metric, figures) of every metric found, the most frequent first."""
    return [
        (metric, count)
        for metric, count in store.connection.execute(
            "SELECT metric, count(*) FROM figures GROUP BY metric ORDER BY 2 DESC"
        )
    ]

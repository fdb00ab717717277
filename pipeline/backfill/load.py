"""Reading a backfill back: its daily signal, and an import into the store for review.

A catalyst's cited figures are not an export column; they are the figures of its article that lie
inside its sentence, which is how the catalysts component picks them (`candidates`), so the
signal's repeat rule works on a backfill as on the store.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pipeline.backfill.output import UNKNOWN_DAY, dataset, load_manifest, read_stored_articles
from pipeline.dedup import text_hash
from pipeline.records import (
    Analysis,
    Catalyst,
    DatedCatalyst,
    Direction,
    Entity,
    Figure,
    SignalRow,
)
from pipeline.signal import NOVELTY_WINDOW, aggregate_signal
from pipeline.store import Store


def _figures_by_article(root: Path, article_ids: set[int] | None = None) -> dict[int, list[Figure]]:
    figures: dict[int, list[Figure]] = defaultdict(list)
    for row in dataset(root, "figures").to_table().to_pylist():
        if article_ids is None or row["article_id"] in article_ids:
            figures[row["article_id"]].append(_figure(row))
    for found in figures.values():
        found.sort(key=lambda figure: (figure.start_char, figure.end_char))
    return figures


def _figure(row: dict) -> Figure:
    return Figure(
        text=row["text"], start_char=row["start_char"], end_char=row["end_char"],
        value=row["value"], unit=row["unit"], metric=row["metric"], asset=row["asset"],
        period=row["period"], qualifier=row["qualifier"], value_high=row["value_high"],
        flag=row["flag"],
    )


def _cited(figures: list[Figure], start: int, end: int) -> list[Figure]:
    """The figures inside [start, end) (figures sorted by start)."""
    first = bisect_left([figure.start_char for figure in figures], start)
    return [figure for figure in figures[first:] if figure.start_char < end and figure.end_char <= end]


def backfill_signal(
    root: Path,
    *,
    asset: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_confidence: float | None = None,
) -> list[SignalRow]:
    """The daily signal of a backfill's catalysts, as `daily_signal` computes it from the store.

    A backfill has no fetch time, so catalysts of undated articles (`date=unknown`) count on no
    day. Catalysts of duplicates are never written, so every catalyst counts as an original's.
    """
    import pyarrow.compute as pc

    table = dataset(root, "catalysts").to_table(filter=pc.field("date") != UNKNOWN_DAY)
    rows = [
        row for row in table.to_pylist()
        if (since is None or row["published_at"] >= since - NOVELTY_WINDOW)
        and (until is None or row["published_at"] < until)
        and (min_confidence is None or row["confidence"] >= min_confidence)
        and (asset is None or asset in row["assets"])
    ]
    rows.sort(key=lambda row: (row["published_at"], row["article_id"], row["start_char"]))
    figures = _figures_by_article(root, {row["article_id"] for row in rows})
    catalysts = (
        DatedCatalyst(
            at=_aware(row["published_at"]), source=row["source"], category=row["category"],
            direction=Direction(row["direction"]), confidence=row["confidence"],
            assets=list(row["assets"]), event_type=row.get("event_type"),
            figure_keys=[
                (figure.metric, figure.value)
                for figure in _cited(figures.get(row["article_id"], []),
                                     row["start_char"], row["end_char"])
            ],
        )
        for row in rows
    )
    return aggregate_signal(catalysts, asset=asset, since=since)


@dataclass(slots=True)
class ImportResult:
    imported: int = 0
    known: int = 0  # already in the store under the same canonical URL


def _analyses(root: Path) -> Iterator[tuple[int, Analysis]]:
    """Each article's tags, rebuilt as an Analysis (catalysts cite the figures they contain)."""
    analyses: dict[int, Analysis] = defaultdict(Analysis)
    for row in dataset(root, "entities").to_table().to_pylist():
        analyses[row["article_id"]].entities.append(Entity(
            row["text"], row["label"], row["start_char"], row["end_char"], row["ticker"]
        ))
    figures = _figures_by_article(root)
    for article_id, found in figures.items():
        analyses[article_id].figures = found
    for row in dataset(root, "catalysts").to_table().to_pylist():
        analyses[row["article_id"]].catalysts.append(Catalyst(
            sentence=row["sentence"], start_char=row["start_char"], end_char=row["end_char"],
            category=row["category"], direction=Direction(row["direction"]),
            confidence=row["confidence"], assets=list(row["assets"]),
            figures=_cited(figures.get(row["article_id"], []), row["start_char"], row["end_char"]),
            model=row["model"], event_type=row.get("event_type"),
        ))
    for analysis in analyses.values():
        analysis.entities.sort(key=lambda entity: entity.start_char)
        analysis.catalysts.sort(key=lambda catalyst: catalyst.start_char)
    yield from analyses.items()


def import_backfill(root: Path, store: Store) -> ImportResult:
    """Load a backfill into the store, oldest id first, one transaction per article.

    An article whose canonical URL the store already holds is not imported; a duplicate points at
    its original's new id (or at the stored article its original matched).
    """
    manifest = load_manifest(root)
    model = (manifest.model if manifest else None) or ""
    analyses = dict(_analyses(root))
    result = ImportResult()
    new_ids: dict[int, int] = {}
    for article in sorted(read_stored_articles(root), key=lambda found: found.id):
        original = article.duplicate_of
        if original is not None:
            article.duplicate_of = new_ids.get(original)
        stored_id, created = store.import_article(
            article, analyses.get(article.id), model=model,
            text_hash=text_hash(article.text) if article.text else None,
        )
        new_ids[article.id] = stored_id
        if created:
            result.imported += 1
        else:
            result.known += 1
    return result


def _aware(moment: datetime) -> datetime:
    """Parquet timestamps read back naive or in UTC: the signal wants them in UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

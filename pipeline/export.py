"""Exports for analysts: CSV, JSON Lines and Parquet, with every column declared once, below.

`export_table(store, kind, output, fmt, filters)` streams one kind of row (EXPORT_KINDS) to a path,
to `-` (standard output) or to an open stream, in constant memory, and returns the number of rows.
`docs/exports.md` documents the contract; the README's column tables are generated from `COLUMNS`
and a test keeps the two in step (`update_docs()` rewrites them).

Spreadsheet safety: in CSV, a text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage
return would be run as a formula by spreadsheet programs, so it is written with a leading `'`
(OWASP's advice on CSV injection). A text cell that itself begins with `'` gets one more, so the
rule can be undone exactly: `unguard_cell` strips one leading quote. JSON Lines and Parquet carry
text unchanged.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from pipeline.records import Catalyst, Conflict, Entity, Figure, SignalRow, StoredArticle
from pipeline.signal import daily_signal
from pipeline.store import Store
from pipeline.store.export_queries import TABLE_KINDS, export_records
from pipeline.times import parse_utc, utc_iso

if TYPE_CHECKING:  # pyarrow is imported only by Parquet exports: CSV runs start faster without it
    import pyarrow as pa

DOCS_PATH = Path(__file__).resolve().parents[1] / "README.md"
PARQUET_BATCH_ROWS = 10_000
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_LIST_SEPARATOR = ";"
# A leading quote is guarded too, which makes the guard reversible (see unguard_cell).
_GUARDED_STARTS = (*FORMULA_TRIGGERS, "'")


class ExportError(Exception):
    """The export cannot be made as asked (unknown kind or format, a filter that does not apply)."""


class ColumnType(StrEnum):
    INTEGER = "integer"
    FLOAT = "float"
    TEXT = "text"
    TIMESTAMP = "timestamp"  # ISO 8601 UTC
    DATE = "date"  # a UTC day
    TEXT_LIST = "list of text"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: ColumnType
    description: str
    in_csv: bool = True  # long texts stay out of CSV, where they make spreadsheets unusable


def _columns(*specs: tuple[str, ColumnType, str] | Column) -> tuple[Column, ...]:
    return tuple(spec if isinstance(spec, Column) else Column(*spec) for spec in specs)


# Short aliases keep each declaration below on one line.
I, F, T, TS, D, L = (
    ColumnType.INTEGER, ColumnType.FLOAT, ColumnType.TEXT, ColumnType.TIMESTAMP, ColumnType.DATE,
    ColumnType.TEXT_LIST,
)
_ARTICLE_ID = ("article_id", I, "Id of the article in the database (joins all exports).")
_URL = ("url", T, "The article's address as its feed gave it.")
_START = ("start_char", I, "Offset in the article text where the evidence starts.")
_END = ("end_char", I, "Offset where the evidence ends: `text[start_char:end_char]` is it.")

COLUMNS: dict[str, tuple[Column, ...]] = {
    "catalysts": _columns(
        _ARTICLE_ID,
        _URL,
        ("source", T, "Name of the feed (feeds.yaml) the article came from."),
        ("published_at", TS, "When the article was published; empty when the page had no date."),
        ("title", T, "The article's headline."),
        ("category", T, "Catalyst category from models/taxonomy.yaml."),
        ("event_type", T, "The fact the catalyst reports, an event type of models/events.yaml "
                          "(e.g. `etf_outflows`, `funding_round`); empty for models without one."),
        ("direction", T, "`bullish`, `bearish` or `neutral`, as judged by the direction model."),
        ("confidence", F, "Calibrated probability the model gives its direction, 0 to 1; 0.71 "
                          "where the model was below 0.7 and the sentence's signed figures "
                          "settled the direction (how often they were right there on the dev "
                          "sets)."),
        ("assets", L, "Tickers the catalyst concerns; `;`-joined in CSV."),
        ("sentence", T, "The evidence: the catalyst sentence as it stands in the article text."),
        _START,
        _END,
        ("model", T, "Name and version of the model that judged the catalyst."),
    ),
    "figures": _columns(
        _ARTICLE_ID,
        _URL,
        ("metric", T, "What the number measures (models/metrics.yaml), `other` when unknown."),
        ("asset", T, "Ticker the figure is about, when the text says."),
        ("value", F, "The number normalised to `unit` (an outflow of $258 million is -2.58e8)."),
        ("unit", T, "USD, EUR, ..., percent, ratio, index_points, count, hashrate (hashes per second), MW (electric power), or an asset ticker."),
        ("period", T, "The period the figure covers (e.g. `24h`, `Q4 2025`), when stated."),
        ("qualifier", T, "more than, roughly, above, below, up to; empty when exact."),
        ("text", T, "The figure as written in the article."),
        _START,
        _END,
        ("value_high", F, "Upper end of a range (`$1.2 million to $3.5 million`), else empty."),
        ("flag", T, "`implausible: ...` when the value is too large to be meant "
                    "(bounds in models/metrics.yaml); empty for a figure to trust."),
    ),
    "entities": _columns(
        _ARTICLE_ID,
        _URL,
        ("text", T, "The entity as written in the article."),
        ("label", T, "ASSET, EXCHANGE, COMPANY, FUND, PERSON, GOV_BODY, LAW, INDICATOR or COUNTRY."),
        ("ticker", T, "Canonical ticker of an asset or listed company, when known."),
        _START,
        _END,
    ),
    "articles": _columns(
        _ARTICLE_ID,
        _URL,
        ("canonical_url", T, "The address without tracking parameters, used to spot repeats."),
        ("source", T, "Name of the feed (feeds.yaml) the article came from."),
        ("title", T, "The article's headline."),
        ("published_at", TS, "When the article was published; empty when the page had no date."),
        ("language", T, "Detected language code (`en`, `ko`, ...)."),
        ("status", T, "processed, duplicate, skipped_language, rejected or failed."),
        ("reject_reason", T, "Why the article was rejected or failed, else empty."),
        ("duplicate_of", I, "For a syndicated copy, the `article_id` of the original."),
        Column("text", T, "The extracted article text: the headline, then the body, paragraphs "
               "split by a blank line (every tag's offsets point into it).", False),
    ),
    "conflicts": _columns(
        _ARTICLE_ID,
        _URL,
        ("metric", T, "The metric both figures claim to measure."),
        ("period", T, "The period both figures claim to cover, when stated."),
        ("first_text", T, "The first figure as written."),
        ("first_value", F, "The first figure's normalised value."),
        ("first_unit", T, "The first figure's unit."),
        ("first_start_char", I, "Where the first figure starts in the article text."),
        ("first_end_char", I, "Where the first figure ends."),
        ("second_text", T, "The second figure as written."),
        ("second_value", F, "The second figure's normalised value."),
        ("second_unit", T, "The second figure's unit."),
        ("second_start_char", I, "Where the second figure starts in the article text."),
        ("second_end_char", I, "Where the second figure ends."),
        ("reason", T, "Why the two figures are held to disagree."),
    ),
    "signal": _columns(
        ("day", D, "The UTC day."),
        ("asset", T, "Ticker."),
        ("catalysts", I, "Catalysts counted (bullish + bearish + neutral); repeats excluded."),
        ("bullish", I, "Bullish catalysts counted."),
        ("bearish", I, "Bearish catalysts counted."),
        ("neutral", I, "Neutral catalysts counted."),
        ("net_score", F, "sum(confidence x direction) / sum(confidence), -1 (bearish) to +1."),
        ("sources", I, "Distinct feeds the counted catalysts came from."),
        ("top_categories", L, "Most frequent categories, most frequent first (at most 3)."),
        ("repeats", I, "Catalysts not counted: same category, asset and figure within 24 hours."),
    ),
}
EXPORT_KINDS: tuple[str, ...] = tuple(COLUMNS)
EXPORT_FORMATS = ("csv", "jsonl", "parquet")
assert set(TABLE_KINDS) | {"signal"} == set(EXPORT_KINDS)
assert [f.name for f in fields(SignalRow)] == [c.name for c in COLUMNS["signal"]]


@dataclass(frozen=True, slots=True)
class ExportFilters:
    """Which rows to export; `since` is inclusive and `until` exclusive (see
    `pipeline.times.parse_date_bound`)."""

    since: datetime | None = None
    until: datetime | None = None
    asset: str | None = None
    min_confidence: float | None = None  # catalysts and signal only
    include_duplicates: bool = False  # not for signal, which counts each story once


def guard_cell(text: str) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(_GUARDED_STARTS) else text


def unguard_cell(text: str) -> str:
    """The exact text of a CSV text cell written by `guard_cell`."""
    return text[1:] if text.startswith("'") else text


def columns_for(kind: str, fmt: str) -> tuple[Column, ...]:
    if kind not in COLUMNS:
        raise ExportError(f"unknown export {kind!r}; choose one of {', '.join(EXPORT_KINDS)}")
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
    return tuple(c for c in COLUMNS[kind] if fmt != "csv" or c.in_csv)


# -- records to rows -----------------------------------------------------------------------------


def _article_fields(article: StoredArticle) -> dict[str, Any]:
    return {"article_id": article.id, "url": article.url}


def _catalyst_row(article: StoredArticle, catalyst: Catalyst) -> dict[str, Any]:
    return {
        **_article_fields(article), "source": article.source, "published_at": article.published_at,
        "title": article.title, "category": catalyst.category,
        "event_type": catalyst.event_type, "direction": str(catalyst.direction), "confidence": catalyst.confidence,
        "assets": catalyst.assets, "sentence": catalyst.sentence,
        "start_char": catalyst.start_char, "end_char": catalyst.end_char, "model": catalyst.model,
    }


def _figure_row(article: StoredArticle, figure: Figure) -> dict[str, Any]:
    return {
        **_article_fields(article), "metric": figure.metric, "asset": figure.asset,
        "value": figure.value, "unit": figure.unit, "period": figure.period,
        "qualifier": figure.qualifier, "text": figure.text, "start_char": figure.start_char,
        "end_char": figure.end_char, "value_high": figure.value_high, "flag": figure.flag,
    }


def _entity_row(article: StoredArticle, entity: Entity) -> dict[str, Any]:
    return {
        **_article_fields(article), "text": entity.text, "label": entity.label,
        "ticker": entity.ticker, "start_char": entity.start_char, "end_char": entity.end_char,
    }


def _article_row(article: StoredArticle, _tag: None) -> dict[str, Any]:
    return {
        **_article_fields(article), "canonical_url": article.canonical_url,
        "source": article.source, "title": article.title, "published_at": article.published_at,
        "language": article.language, "status": str(article.status),
        "reject_reason": article.reject_reason, "duplicate_of": article.duplicate_of,
        "text": article.text,
    }


def _conflict_row(article: StoredArticle, conflict: Conflict) -> dict[str, Any]:
    first, second = conflict.first, conflict.second
    return {
        **_article_fields(article), "metric": conflict.metric, "period": conflict.period,
        "first_text": first.text, "first_value": first.value, "first_unit": first.unit,
        "first_start_char": first.start_char, "first_end_char": first.end_char,
        "second_text": second.text, "second_value": second.value, "second_unit": second.unit,
        "second_start_char": second.start_char, "second_end_char": second.end_char,
        "reason": conflict.reason,
    }


_ROW_BUILDERS: dict[str, Callable[[StoredArticle, Any], dict[str, Any]]] = {
    "catalysts": _catalyst_row,
    "figures": _figure_row,
    "entities": _entity_row,
    "articles": _article_row,
    "conflicts": _conflict_row,
}
assert set(_ROW_BUILDERS) == set(TABLE_KINDS)


def export_row(
    kind: str, article: StoredArticle, tag: Catalyst | Figure | Entity | Conflict | None = None
) -> dict[str, Any]:
    """One export row of `kind` (a table kind, not `signal`): the columns COLUMNS declares, from
    the article and its tag (None for `articles`). The store's exports and backfills both build
    their rows here, so the two can never disagree."""
    return _ROW_BUILDERS[kind](article, tag)


# -- reading rows ------------------------------------------------------------------------------


def _rows(store: Store, kind: str, filters: ExportFilters) -> Iterator[dict[str, Any]]:
    if kind == "signal":
        if filters.include_duplicates:
            raise ExportError(
                "the signal counts each story once; --include-duplicates does not apply"
            )
        signal = daily_signal(
            store, asset=filters.asset, since=filters.since, until=filters.until,
            min_confidence=filters.min_confidence,
        )
        return signal_export_rows(signal)
    if filters.min_confidence is not None and kind != "catalysts":
        raise ExportError(f"--min-confidence applies to catalysts and signal, not {kind}")
    records = export_records(
        store, kind, since=filters.since, until=filters.until, asset=filters.asset,
        min_confidence=filters.min_confidence, include_duplicates=filters.include_duplicates,
    )
    return (export_row(kind, article, tag) for article, tag in records)


# Rows arrive grouped by article, so the same timestamp or asset list repeats row after row.
@lru_cache(maxsize=4096)
def _parse_timestamp(text: str) -> datetime:
    moment = parse_utc(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@lru_cache(maxsize=4096)
def _iso_timestamp(text: str) -> str:
    return utc_iso(_parse_timestamp(text))


@lru_cache(maxsize=4096)
def _parse_text_list(text: str) -> tuple[str, ...]:
    return tuple(str(item) for item in json.loads(text))


def _timestamp(value: Any) -> datetime | None:
    return _parse_timestamp(value) if isinstance(value, str) else value


def _timestamp_text(value: Any) -> str | None:
    return _iso_timestamp(value) if isinstance(value, str) else utc_iso(value)


def _text_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return _parse_text_list(value) if isinstance(value, str) else tuple(map(str, value))


def _integer(value: Any) -> int | None:
    return value if value is None or type(value) is int else int(value)


def _finite(value: Any) -> float | None:
    """A float, or None for a missing or non-finite one (JSON and CSV readers have no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _text(value: Any) -> str | None:
    return value if value is None or type(value) is str else str(value)


def _csv_text(value: Any) -> str | None:
    return None if value is None else guard_cell(_text(value))


def _csv_text_list(value: Any) -> str:
    return guard_cell(CSV_LIST_SEPARATOR.join(_text_list(value)))


def _day_text(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


# Column type -> raw query value -> the value each format writes.
_CSV: dict[ColumnType, Callable[[Any], Any]] = {
    I: _integer,
    F: _finite,  # csv writes repr(): dot decimals, no thousands separators, never guarded
    T: _csv_text,
    TS: _timestamp_text,
    D: _day_text,
    L: _csv_text_list,
}
_JSON: dict[ColumnType, Callable[[Any], Any]] = {
    I: _integer,
    F: _finite,
    T: _text,
    TS: _timestamp_text,
    D: _day_text,
    L: _text_list,
}
_PARQUET: dict[ColumnType, Callable[[Any], Any]] = {
    I: _integer,
    F: _float,
    T: _text,
    TS: _timestamp,
    D: _day,
    L: _text_list,
}


def _converted(
    rows: Iterable[dict[str, Any]],
    columns: tuple[Column, ...],
    converters: dict[ColumnType, Callable[[Any], Any]],
) -> Iterator[dict[str, Any]]:
    plan = [(column.name, converters[column.type]) for column in columns]
    for row in rows:
        yield {name: convert(row[name]) for name, convert in plan}


# -- writers -----------------------------------------------------------------------------------


def _write_csv(rows: Iterable[dict[str, Any]], columns: tuple[Column, ...], out: IO[str]) -> int:
    # QUOTE_MINIMAL quotes exactly what RFC 4180 needs (separators, quotes, line breaks).
    writer = csv.DictWriter(out, fieldnames=[column.name for column in columns])
    writer.writeheader()
    count = 0
    for row in _converted(rows, columns, _CSV):
        writer.writerow(row)
        count += 1
    return count


def _write_jsonl(rows: Iterable[dict[str, Any]], columns: tuple[Column, ...], out: IO[str]) -> int:
    count = 0
    for row in _converted(rows, columns, _JSON):
        out.write(json.dumps(row, ensure_ascii=False, allow_nan=False) + "\n")
        count += 1
    return count


def parquet_schema(columns: tuple[Column, ...]) -> pa.Schema:
    import pyarrow as pa

    types = {
        I: pa.int64(),
        F: pa.float64(),
        T: pa.string(),
        TS: pa.timestamp("us", tz="UTC"),
        D: pa.date32(),
        L: pa.list_(pa.string()),
    }
    return pa.schema(
        [
            pa.field(column.name, types[column.type], metadata={"description": column.description})
            for column in columns
        ]
    )


def parquet_batch(rows: Iterable[dict[str, Any]], columns: tuple[Column, ...]) -> pa.RecordBatch:
    """Export rows (`export_row`) as one Arrow record batch of the declared Parquet schema."""
    import pyarrow as pa

    converted = list(_converted(rows, columns, _PARQUET))
    return pa.RecordBatch.from_pylist(converted, schema=parquet_schema(columns))


def _write_parquet(
    rows: Iterable[dict[str, Any]], columns: tuple[Column, ...], out: IO[bytes]
) -> int:
    import pyarrow.parquet as pq

    count = 0
    with pq.ParquetWriter(out, parquet_schema(columns)) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) == PARQUET_BATCH_ROWS:
                writer.write_batch(parquet_batch(batch, columns))
                count += len(batch)
                batch.clear()
        if batch or count == 0:  # an empty export still holds its schema
            writer.write_batch(parquet_batch(batch, columns))
            count += len(batch)
    return count


def _write(rows: Iterable[dict[str, Any]], columns: tuple[Column, ...], fmt: str, out: IO) -> int:
    if fmt == "parquet":
        return _write_parquet(rows, columns, out)
    if fmt == "csv":
        return _write_csv(rows, columns, out)
    return _write_jsonl(rows, columns, out)


def _stream_for(output: IO, fmt: str) -> IO:
    """The stream the writer for `fmt` needs: text for CSV/JSONL, bytes for Parquet."""
    binary = not isinstance(output, io.TextIOBase)
    if fmt == "parquet":
        if binary:
            return output
        if hasattr(output, "buffer"):
            output.flush()
            return output.buffer
        raise ExportError("Parquet needs a binary stream or a file path")
    if binary:
        return io.TextIOWrapper(output, encoding="utf-8", newline="", write_through=True)
    return output


def export_table(
    store: Store,
    kind: str,
    output: str | Path | IO[str] | IO[bytes],
    fmt: str = "csv",
    filters: ExportFilters | None = None,
) -> int:
    """Write one export (`kind` in EXPORT_KINDS, `fmt` in EXPORT_FORMATS); returns rows written.

    `output` is a path, `-` for standard output, or an open stream. A path is written to a
    temporary file beside it and renamed at the end, so a failed export never leaves half a file.
    """
    filters = filters or ExportFilters()
    columns_for(kind, fmt)
    return write_export(kind, _rows(store, kind, filters), output, fmt)


def signal_export_rows(signal: Iterable[SignalRow]) -> Iterator[dict[str, Any]]:
    """The `signal` export's rows of daily signal rows (from the store or a backfill)."""
    return ({f.name: getattr(row, f.name) for f in fields(SignalRow)} for row in signal)


def write_export(
    kind: str,
    rows: Iterable[dict[str, Any]],
    output: str | Path | IO[str] | IO[bytes],
    fmt: str = "csv",
) -> int:
    """Write rows of one export kind as `export_table` does (path, `-` or stream)."""
    columns = columns_for(kind, fmt)
    if output == "-":
        output = sys.stdout
    if not isinstance(output, (str, Path)):
        stream = _stream_for(output, fmt)
        count = _write(rows, columns, fmt, stream)
        stream.flush()
        if isinstance(stream, io.TextIOWrapper) and stream is not output:
            stream.detach()  # leave the caller's binary stream open
        return count
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        if fmt == "parquet":
            with partial.open("wb") as binary:
                count = _write(rows, columns, fmt, binary)
        else:
            with partial.open("w", encoding="utf-8", newline="") as text:
                count = _write(rows, columns, fmt, text)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return count


# -- documentation -----------------------------------------------------------------------------

DOCS_BEGIN = "<!-- columns: generated from pipeline/export.py COLUMNS by update_docs() -->"
DOCS_END = "<!-- end of generated columns -->"


def columns_markdown() -> str:
    """The column tables of README.md, one section per export kind."""
    parts: list[str] = []
    for kind, columns in COLUMNS.items():
        parts.append(f"### `{kind}`\n\n| column | type | meaning |\n| --- | --- | --- |")
        for column in columns:
            note = "" if column.in_csv else " JSONL and Parquet only, not in CSV."
            parts.append(f"| `{column.name}` | {column.type} | {column.description}{note} |")
        parts.append("")
    return "\n".join(parts)


def update_docs(path: Path = DOCS_PATH) -> None:
    """Rewrite the generated column tables in README.md after changing COLUMNS."""
    text = path.read_text(encoding="utf-8")
    head, rest = text.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1)
    path.write_text(f"{head}{DOCS_BEGIN}\n\n{columns_markdown()}\n{DOCS_END}{tail}", "utf-8")

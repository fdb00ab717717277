"""The backtest's inputs, read at the edge: the user's daily prices (CSV), and the catalysts of one
asset from the store or from a Parquet dataset written with the catalysts export's columns.

Prices are checked, never repaired: a gap, a repeated day, rows out of order, an unreadable date
or price is an error naming the file and the line. A file sorted newest first is read in reverse,
since that order is unambiguous. A row's day is its date as written; its time of day and zone are
ignored (the moment of the close comes from `--close-time`), except for Unix timestamps, which
have no written date and are read as UTC.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np

from pipeline.backtest import BacktestError
from pipeline.backtest.study import CatalystInput, PriceSeries
from pipeline.records import DatedCatalyst, Direction

DATE_COLUMNS = ("date", "timestamp", "time", "datetime", "day")
PRICE_COLUMN = "close"
# Consecutive expected days a series may miss: none on a 7-day calendar (crypto); on weekdays,
# up to two holidays in a row (Christmas and Boxing Day, a Thursday-Friday closure).
DEFAULT_MISSING_DAYS = {False: 0, True: 2}

# Day formats tried when none is given; a format is used when it reads every row. Formats that
# read every row but disagree (03/04/2026) make the file ambiguous: the user names one.
DAY_FORMATS = (
    "%m/%d/%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y", "%Y.%m.%d", "%d-%m-%Y", "%m-%d-%Y",
    "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%m/%d/%y", "%d/%m/%y",
)
# A time of day, and perhaps a zone, after the date: ignored (see the module docstring).
_TIME_SUFFIX = re.compile(
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?:\s*(?:[AaPp][Mm]))?"
    r"(?:\s*(?:Z|UTC|GMT|[+-]\d{2}:?\d{2}))?$"
)
_EPOCH = re.compile(r"\d{9,13}(?:\.\d+)?")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")  # 62,345.10
_DECIMAL_COMMA = re.compile(r"\d{1,3}(?:\.\d{3})*,\d+|\d+,\d+")  # 62.345,10 or 62345,10


# -- prices ---------------------------------------------------------------------------------------


def parse_close_time(text: str) -> timedelta:
    """`HH:MM` (UTC) after the start of a row's day; 24:00 is the end of the day."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if match is None:
        raise BacktestError(f"--close-time {text!r}: expected HH:MM in UTC, e.g. 21:00 or 24:00")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise BacktestError(f"--close-time {text!r}: not a time of day (00:01 to 24:00)")
    if hours == 0 and minutes == 0:
        raise BacktestError(
            "--close-time 00:00 would put a day's close before its trading; use 24:00 (the "
            "default) for the end of the UTC day"
        )
    return timedelta(hours=hours, minutes=minutes)


def read_prices(
    path: str | Path,
    *,
    date_column: str | None = None,
    price_column: str | None = None,
    date_format: str | None = None,
    close_time: str = "24:00",
    max_missing_days: int | None = None,
) -> PriceSeries:
    """The daily closes in a CSV file (see `parse_prices`)."""
    path = Path(path)
    if not path.is_file():
        raise BacktestError(f"{path}: no such price file")
    try:
        text = path.read_text(encoding="utf-8-sig")  # spreadsheets write a BOM
    except UnicodeDecodeError as error:
        raise BacktestError(f"{path}: not a UTF-8 text file ({error.reason})") from None
    return parse_prices(
        text, name=str(path), date_column=date_column, price_column=price_column,
        date_format=date_format, close_time=parse_close_time(close_time),
        max_missing_days=max_missing_days,
    )


def parse_prices(
    text: str,
    *,
    name: str = "prices",
    date_column: str | None = None,
    price_column: str | None = None,
    date_format: str | None = None,
    close_time: timedelta = timedelta(hours=24),
    max_missing_days: int | None = None,
) -> PriceSeries:
    """Daily closes from CSV text with a header row (`date,close` or `timestamp,close`, other
    columns ignored). Errors name `name` and the line."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    if first_line.count("\t") > max(first_line.count(","), first_line.count(";")):
        delimiter = "\t"
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise BacktestError(f"{name}: empty file (expected a header row such as date,close)")
    names = [column.strip().lower() for column in header]
    date_at = _column_index(names, header, date_column, DATE_COLUMNS, "--date-column", name)
    price_at = _column_index(
        names, header, price_column, (PRICE_COLUMN,), "--price-column", name
    )
    lines: list[int] = []
    day_texts: list[str] = []
    closes: list[float] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        if len(row) <= max(date_at, price_at):
            raise BacktestError(f"{name} line {line}: {len(row)} cells, fewer than the header's")
        lines.append(line)
        day_texts.append(row[date_at].strip())
        closes.append(_close(row[price_at], name, line, header[price_at], delimiter == ";"))
    if len(lines) < 2:
        raise BacktestError(f"{name}: {len(lines)} price rows; a backtest needs many more")
    days = _parse_days(day_texts, lines, date_format, name)
    order = _check_order(days, lines, name)
    days = [days[i] for i in order]
    lines = [lines[i] for i in order]
    weekdays_only = all(day.weekday() < 5 for day in days)
    allowed = DEFAULT_MISSING_DAYS[weekdays_only] if max_missing_days is None else max_missing_days
    _check_gaps(days, lines, weekdays_only, allowed, name)
    return PriceSeries(
        days=tuple(days), closes=np.asarray([closes[i] for i in order], dtype=float),
        close_time=close_time, weekdays_only=weekdays_only, name=name,
    )


def _column_index(names: list[str], header: list[str], wanted: str | None,
                  defaults: tuple[str, ...], option: str, name: str) -> int:
    candidates = (wanted.strip().lower(),) if wanted else defaults
    for candidate in candidates:
        if candidate in names:
            return names.index(candidate)
    shown = ", ".join(cell.strip() for cell in header)
    looked = f"no column {wanted!r}" if wanted else f"no {' or '.join(defaults)} column"
    raise BacktestError(f"{name}: {looked} (columns: {shown}); name it with {option}")


def _close(cell: str, name: str, line: int, column: str, decimal_comma: bool) -> float:
    """A price as spreadsheets write it: `62345.1`, `$62,345.10`, or in a `;`-separated file
    (where the comma is the decimal mark) `62.345,10`."""
    text = cell.strip().lstrip("$").strip()
    if decimal_comma and _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(".", "").replace(",", ".")
    elif _THOUSANDS.fullmatch(text):
        text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        raise BacktestError(
            f"{name} line {line}: {column} {cell.strip()!r} is not a number"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise BacktestError(
            f"{name} line {line}: {column} {cell.strip()!r} is not a positive price"
        )
    return value


def _day_parser(fmt: str) -> Callable[[str], date]:
    def parse(text: str) -> date:
        return datetime.strptime(_TIME_SUFFIX.sub("", text), fmt).date()

    return parse


def _iso_day(text: str) -> date:
    return datetime.fromisoformat(_TIME_SUFFIX.sub("", text)).date()


def _epoch_day(text: str) -> date:
    if not _EPOCH.fullmatch(text):
        raise ValueError(text)
    seconds = float(text)
    if seconds >= 1e11:  # milliseconds
        seconds /= 1000
    return datetime.fromtimestamp(seconds, UTC).date()


def _parse_days(texts: list[str], lines: list[int], date_format: str | None,
                name: str) -> list[date]:
    if date_format:
        parser = _day_parser(date_format)
        days = []
        for text, line in zip(texts, lines, strict=True):
            try:
                days.append(parser(text))
            except ValueError:
                raise BacktestError(
                    f"{name} line {line}: date {text!r} does not match --date-format {date_format}"
                ) from None
        return days
    candidates: list[tuple[str, Callable[[str], date]]] = [
        ("ISO 8601", _iso_day), ("Unix time", _epoch_day),
        *((fmt, _day_parser(fmt)) for fmt in DAY_FORMATS),
    ]
    readings: dict[str, list[date]] = {}
    furthest = (-1, "", "")  # rows read, format, the text it stopped at
    for label, parser in candidates:
        days = []
        for text in texts:
            try:
                days.append(parser(text))
            except (ValueError, OverflowError, OSError):
                break
        if len(days) == len(texts):
            readings[label] = days
        elif len(days) > furthest[0]:
            furthest = (len(days), label, texts[len(days)])
    if not readings:
        read, label, text = furthest
        if read <= 0:
            raise BacktestError(
                f"{name} line {lines[0]}: cannot read the date {texts[0]!r}; give --date-format "
                "(e.g. %d/%m/%Y)"
            )
        raise BacktestError(
            f"{name} line {lines[read]}: cannot read the date {text!r} as {label} like the rows "
            "before it; give --date-format"
        )
    distinct = {tuple(days): label for label, days in readings.items()}
    if len(distinct) > 1:
        formats = " or ".join(sorted(distinct.values()))
        raise BacktestError(
            f"{name}: the dates read both as {formats} (e.g. {texts[0]!r}); say which with "
            "--date-format"
        )
    return next(iter(readings.values()))


def _check_order(days: list[date], lines: list[int], name: str) -> list[int]:
    """Row indices oldest first: the file's order, or its reverse when it is newest first."""
    seen: dict[date, int] = {}
    for day, line in zip(days, lines, strict=True):
        if day in seen:
            raise BacktestError(
                f"{name} line {line}: {day} again (first on line {seen[day]}); a backtest needs "
                "one close per day (intraday data? give daily closes)"
            )
        seen[day] = line
    rising = days[1] > days[0]
    for index in range(2, len(days)):
        if (days[index] > days[index - 1]) != rising:
            raise BacktestError(
                f"{name} line {lines[index]}: {days[index]} comes after {days[index - 1]} "
                f"(line {lines[index - 1]}); sort the rows by date"
            )
    order = list(range(len(days)))
    return order if rising else order[::-1]


def _check_gaps(days: list[date], lines: list[int], weekdays_only: bool, allowed: int,
                name: str) -> None:
    for index in range(1, len(days)):
        before, after = days[index - 1], days[index]
        between = [before + timedelta(days=n) for n in range(1, (after - before).days)]
        missing = [day for day in between if not weekdays_only or day.weekday() < 5]
        if len(missing) > allowed:
            calendar = "weekdays" if weekdays_only else "days"
            raise BacktestError(
                f"{name} line {lines[index]}: {len(missing)} {calendar} missing between "
                f"{before} and {after}; fill the gap, or allow it with --max-missing-days "
                f"{len(missing)}"
            )


# -- catalysts ------------------------------------------------------------------------------------


def store_catalysts(
    path: str | Path, *, asset: str, min_confidence: float | None = None
) -> CatalystInput:
    """The catalysts about `asset` in a newsignal database, time-ordered, syndicated copies out."""
    from pipeline.store import Store
    from pipeline.store.export_queries import catalysts_have_event_types, signal_catalysts

    with Store.open(path) as store:
        catalysts = list(signal_catalysts(store, asset=asset, min_confidence=min_confidence))
        has_event_types = catalysts_have_event_types(store)
    return CatalystInput(
        catalysts=catalysts, origin=f"database {path}", figure_links=True,
        has_event_types=has_event_types,
    )


def parquet_catalysts(
    directory: str | Path, *, asset: str, min_confidence: float | None = None
) -> CatalystInput:
    """The catalysts about `asset` in `DIRECTORY/catalysts/` (Hive-partitioned Parquet with the
    columns of the catalysts export), ordered as the store orders them: article time, article,
    offset. Rows without a publication time are left out and counted."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from pipeline.export import COLUMNS

    root = Path(directory) / "catalysts"
    if not root.is_dir():
        raise BacktestError(
            f"{directory}: no catalysts/ dataset in it (expected "
            f"{root}/date=YYYY-MM-DD/*.parquet)"
        )
    try:
        dataset = ds.dataset(root, format="parquet", partitioning="hive")
    except (pa.ArrowInvalid, OSError) as error:
        raise BacktestError(f"{root}: not a Parquet dataset ({error})") from None
    if not dataset.files:
        raise BacktestError(f"{root}: no Parquet files in it")
    missing = [c.name for c in COLUMNS["catalysts"] if c.name not in dataset.schema.names]
    if missing:
        raise BacktestError(
            f"{root}: not the catalysts export's columns: {', '.join(missing)} missing"
        )
    assets_type = dataset.schema.field("assets").type
    if not (pa.types.is_list(assets_type) or pa.types.is_large_list(assets_type)):
        raise BacktestError(f"{root}: column assets is {assets_type}, expected a list of text")
    wanted = ["published_at", "article_id", "start_char", "source", "category", "direction",
              "confidence", "assets", "event_type"]
    rows: list[dict] = []
    try:
        for batch in dataset.to_batches(columns=wanted):
            about = pc.equal(pc.list_flatten(batch.column("assets")), asset)
            parents = pc.filter(pc.list_parent_indices(batch.column("assets")), about)
            batch = batch.take(pc.unique(parents))
            if min_confidence is not None:
                batch = batch.filter(pc.fill_null(
                    pc.greater_equal(batch.column("confidence"), min_confidence), False))
            rows.extend(batch.to_pylist())
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as error:
        raise BacktestError(f"{root}: cannot read it ({error})") from None
    dated = [row for row in rows if row["published_at"] is not None]
    catalysts = []
    for row in sorted(dated, key=lambda row: (_utc(row["published_at"]), row["article_id"] or 0,
                                              row["start_char"] or 0)):
        try:
            direction = Direction(row["direction"])
        except ValueError:
            raise BacktestError(
                f"{root}: direction {row['direction']!r} of article {row['article_id']} is not "
                "bullish, bearish or neutral"
            ) from None
        if row["confidence"] is None:
            raise BacktestError(f"{root}: a catalyst of article {row['article_id']} has no "
                                "confidence")
        catalysts.append(DatedCatalyst(
            at=_utc(row["published_at"]), source=row["source"] or "", category=row["category"],
            direction=direction, confidence=float(row["confidence"]), assets=list(row["assets"]),
            event_type=row.get("event_type"),
        ))
    return CatalystInput(
        catalysts=catalysts, origin=f"Parquet dataset {root}", figure_links=False,
        has_event_types=any(c.event_type for c in catalysts), undated=len(rows) - len(dated),
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

"""The backtest's inputs: price files in the shapes users have them, each fault a clear error;
catalysts from the store and from a Hive-partitioned Parquet dataset giving the same report."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from builders import OUTFLOW, Said, publish

from pipeline.backtest import BacktestError
from pipeline.backtest.data import (
    parquet_catalysts,
    parse_close_time,
    parse_prices,
    read_prices,
    store_catalysts,
)
from pipeline.backtest.study import BacktestSettings, backtest
from pipeline.backtest.synthetic import planted_market
from pipeline.export import COLUMNS, ExportFilters, export_table, parquet_schema
from pipeline.records import Direction
from pipeline.store import Store

# -- prices ----------------------------------------------------------------------------------------


def closes(series) -> list[float]:
    return series.closes.tolist()


def test_date_close_in_iso():
    series = parse_prices("date,close\n2026-02-05,100\n2026-02-06,101.5\n2026-02-07,99\n")
    assert series.days == (date(2026, 2, 5), date(2026, 2, 6), date(2026, 2, 7))
    assert closes(series) == [100.0, 101.5, 99.0] and not series.weekdays_only
    assert series.close_time == timedelta(hours=24)


@pytest.mark.parametrize("stamps", [
    ["2026-02-05T00:00:00Z", "2026-02-06T00:00:00Z", "2026-02-07T00:00:00Z"],
    ["2026-02-05 00:00:00 UTC", "2026-02-06 00:00:00 UTC", "2026-02-07 00:00:00 UTC"],
    ["2026-02-05T16:00:00-05:00", "2026-02-06T16:00:00-05:00", "2026-02-07T16:00:00-05:00"],
    ["1770249600", "1770336000", "1770422400"],  # Unix seconds (UTC midnights)
    ["1770249600000", "1770336000000", "1770422400000"],  # milliseconds
    ["20260205", "20260206", "20260207"],
], ids=["iso-z", "coingecko", "offset", "unix-s", "unix-ms", "basic"])
def test_timestamp_close_in_common_shapes(stamps):
    text = "timestamp,close\n" + "".join(f"{stamp},{100 + n}\n" for n, stamp in enumerate(stamps))
    series = parse_prices(text)
    assert series.days == (date(2026, 2, 5), date(2026, 2, 6), date(2026, 2, 7))


def test_a_spreadsheet_export_newest_first_with_thousands_separators():
    """Investing.com's shape: month names, quoted prices with thousands separators, newest first."""
    text = (
        '"Date","Price","Open"\n'
        '"Feb 07, 2026","62,990.50","62,000.00"\n'
        '"Feb 06, 2026","$62,345.10","61,000.00"\n'
        '"Feb 05, 2026","61,002.00","60,000.00"\n'
    )
    series = parse_prices(text, price_column="Price")
    assert series.days == (date(2026, 2, 5), date(2026, 2, 6), date(2026, 2, 7))
    assert closes(series) == [61002.0, 62345.1, 62990.5]


def test_semicolons_and_decimal_commas():
    series = parse_prices("Datum;Schluss\n05.02.2026;62.345,10\n06.02.2026;62400,5\n",
                          date_column="datum", price_column="Schluss")
    assert series.days == (date(2026, 2, 5), date(2026, 2, 6))
    assert closes(series) == [62345.1, 62400.5]


def test_an_equity_file_on_weekdays_with_a_holiday():
    # Yahoo's columns; Monday 16 February 2026 is a US holiday.
    rows = [("2026-02-12", 10), ("2026-02-13", 11), ("2026-02-17", 12), ("2026-02-18", 13)]
    text = "Date,Open,High,Low,Close,Adj Close,Volume\n" + "".join(
        f"{day},1,1,1,{close},{close / 2},100\n" for day, close in rows)
    series = parse_prices(text, price_column="Adj Close", close_time=parse_close_time("21:00"))
    assert series.weekdays_only and closes(series) == [5.0, 5.5, 6.0, 6.5]
    assert series.close_time_text == "21:00 UTC"


def test_ambiguous_day_month_order_needs_a_format():
    text = "date,close\n03/04/2026,1\n04/04/2026,2\n"
    with pytest.raises(BacktestError, match=r"read both as %d/%m/%Y or %m/%d/%Y.*--date-format"):
        parse_prices(text)
    assert parse_prices(text, date_format="%d/%m/%Y").days == (date(2026, 4, 3), date(2026, 4, 4))
    # One row past the 12th settles it.
    assert parse_prices("date,close\n12/31/2025,1\n01/01/2026,2\n").days[0] == date(2025, 12, 31)


@pytest.mark.parametrize(("text", "message"), [
    # A Saturday row makes it a 7-day series (crypto), where any missing day is a gap.
    ("date,close\n2026-02-07,1\n2026-02-08,2\n2026-02-11,3\n",
     r"prices line 4: 2 days missing between 2026-02-08 and 2026-02-11; .*--max-missing-days 2"),
    ("date,close\n2026-02-05,1\n2026-02-06,2\n2026-02-06,3\n",
     r"prices line 4: 2026-02-06 again \(first on line 3\).*intraday"),
    ("date,close\n2026-02-05,1\n2026-02-07,2\n2026-02-06,3\n",
     r"prices line 4: 2026-02-06 comes after 2026-02-07 \(line 3\); sort the rows"),
    ("date,close\n2026-02-05,1\n2026-02-06,n/a\n", r"prices line 3: close 'n/a' is not a number"),
    ("date,close\n2026-02-05,1\n2026-02-06,0\n", r"prices line 3: close '0' is not a positive"),
    ("date,close\n2026-02-05,1\n2026-02-06,\n", r"prices line 3: close '' is not a number"),
    ("date,close\n2026-02-05,1\nyesterday,2\n",
     r"prices line 3: cannot read the date 'yesterday' as ISO 8601 like the rows before it"),
    ("day,price\n2026-02-05,1\n2026-02-06,2\n",
     r"prices: no close column \(columns: day, price\); name it with --price-column"),
    ("when,close\n2026-02-05,1\n2026-02-06,2\n",
     r"no date or timestamp or time or datetime or day column .*--date-column"),
    ("date,close\n2026-02-05,1\n", r"1 price rows; a backtest needs many more"),
    ("", r"prices: empty file"),
    ("date,close\n2026-02-05\n2026-02-06,1\n", r"prices line 2: 1 cells, fewer than the header"),
], ids=["gap", "duplicate", "unsorted", "not-a-number", "zero", "empty-cell", "bad-date",
        "no-close", "no-date", "one-row", "empty", "short-row"])
def test_bad_prices_are_one_clear_error(text, message):
    with pytest.raises(BacktestError, match=message):
        parse_prices(text)


def test_missing_days_can_be_allowed():
    text = "date,close\n2026-02-07,1\n2026-02-08,2\n2026-02-11,3\n"
    assert len(parse_prices(text, max_missing_days=2).days) == 3
    # Thursday, Friday, Monday: an exchange's weekend is no gap.
    assert parse_prices("date,close\n2026-02-05,1\n2026-02-06,2\n2026-02-09,3\n").weekdays_only
    weekdays = "date,close\n2026-02-02,1\n2026-02-06,2\n"  # Monday, then Friday: 3 weekdays gone
    with pytest.raises(BacktestError, match="3 weekdays missing"):
        parse_prices(weekdays)


def test_close_times():
    assert parse_close_time("21:00") == timedelta(hours=21)
    assert parse_close_time("24:00") == timedelta(hours=24)
    assert parse_close_time("9:30") == timedelta(hours=9, minutes=30)
    for bad, message in (("00:00", "use 24:00"), ("25:00", "not a time of day"),
                         ("24:30", "not a time of day"), ("9pm", "expected HH:MM")):
        with pytest.raises(BacktestError, match=message):
            parse_close_time(bad)


def test_price_files_on_disk(tmp_path):
    good = tmp_path / "btc.csv"
    good.write_bytes(b"\xef\xbb\xbfdate,close\r\n2026-02-05,1\r\n2026-02-06,2\r\n")  # BOM, CRLF
    series = read_prices(good, close_time="21:00")
    assert series.name == str(good) and series.close_time == timedelta(hours=21)
    with pytest.raises(BacktestError, match="no such price file"):
        read_prices(tmp_path / "absent.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("Datum,close\n2026-02-05,1\n\xe9".encode("latin-1"))
    with pytest.raises(BacktestError, match="not a UTF-8 text file"):
        read_prices(latin)


# -- catalysts: the store and Parquet --------------------------------------------------------------


def fill_store(store: Store, catalysts) -> None:
    """One article per catalyst, plus an ETH-only story the backtest of BTC must not see, and a
    restated figure that the store knows to be a repeat."""
    for number, item in enumerate(catalysts):
        publish(store, item.source, f"story-{number}", item.at, [Said(
            f"Story {number} moved the market.", item.category, item.direction,
            item.confidence, tuple(item.assets),
        )])
    at = catalysts[len(catalysts) // 2].at
    publish(store, "wire", "eth-only", at, [Said("Ether funds grew.", "etf_flows",
                                                 Direction.BULLISH, 0.9, ("ETH",))])
    for hours, source in ((1, "wire"), (5, "desk")):
        publish(store, source, f"outflow-{hours}", at + timedelta(hours=hours), [Said(
            f"Funds saw an outflow of $258 million ({source}).", "etf_flows", Direction.BEARISH,
            0.8, ("BTC", "ETH"), OUTFLOW)])


def write_partitioned(store: Store, root: Path, *, event_types: bool = False,
                      drop: str | None = None, undated: bool = False) -> Path:
    """`newsignal export catalysts` as Parquet, split into root/catalysts/date=YYYY-MM-DD/ files
    with exactly the export's columns (event_type filled in when asked)."""
    whole = root / "whole.parquet"
    export_table(store, "catalysts", whole, "parquet", ExportFilters())
    table = pq.read_table(whole)
    if event_types:
        kinds = pa.array([f"kind-{row % 3}" for row in range(table.num_rows)])
        table = table.set_column(table.schema.get_field_index("event_type"), "event_type", kinds)
    if drop:
        table = table.drop_columns([drop])
    if undated:
        dates = table.column("published_at").to_pylist()
        dates[0] = None
        table = table.set_column(table.schema.get_field_index("published_at"), "published_at",
                                 pa.array(dates, table.schema.field("published_at").type))
    days = pc.strftime(table.column("published_at"), format="%Y-%m-%d").to_pylist()
    for day in sorted({d for d in days if d}) + ([None] if None in days else []):
        part = root / "dataset" / "catalysts" / f"date={day or '__HIVE_DEFAULT_PARTITION__'}"
        part.mkdir(parents=True)
        keep = pa.array([d == day for d in days])
        pq.write_table(table.filter(keep), part / "part-0.parquet")
    return root / "dataset"


@pytest.fixture()
def market_store(store):
    prices, catalysts = planted_market(seed=4, days=500, per_direction=60, neutral=20)
    fill_store(store, catalysts)
    return prices, store


def comparable(report) -> dict:
    numbers = report.to_dict()
    for key in ("catalysts_from", "caveats"):
        numbers.pop(key)
    numbers["counts"].pop("repeats")
    return numbers


def test_parquet_dataset_gives_the_store_report(market_store, tmp_path):
    prices, store = market_store
    directory = write_partitioned(store, tmp_path)
    assert [c.name for c in COLUMNS["catalysts"]] == pq.read_schema(
        next((directory / "catalysts").rglob("*.parquet"))).names
    from_store = store_catalysts(store.path, asset="BTC")
    from_parquet = parquet_catalysts(directory, asset="BTC")
    assert len(from_parquet.catalysts) == len(from_store.catalysts) == 142  # 140 + 2 outflows
    # The same catalysts in the same order (article time, article, offset): the novelty rule and
    # the signal read them in order.
    def described(inputs):
        return [(c.at, c.source, c.direction, c.confidence, c.assets) for c in inputs.catalysts]

    assert described(from_parquet) == described(from_store)
    settings = BacktestSettings(resamples=300, by="source")
    store_report = backtest(from_store, prices, "BTC", settings)
    parquet_report = backtest(from_parquet, prices, "BTC", settings)
    # The store knows the second outflow restates the first; the export has no figure links.
    assert store_report.counts.repeats == 1 and parquet_report.counts.repeats == 0
    assert any("Restated stories count again" in note for note in parquet_report.caveats)
    assert not any("Restated" in note for note in store_report.caveats)
    store_numbers, parquet_numbers = comparable(store_report), comparable(parquet_report)
    assert store_numbers["counts"]["events"] + 1 == parquet_numbers["counts"]["events"]


def test_parquet_and_store_agree_without_restated_figures(tmp_path):
    prices, catalysts = planted_market(seed=4, days=500, per_direction=60, neutral=20)
    with Store.open(tmp_path / "plain.db") as store:
        for number, item in enumerate(catalysts):
            publish(store, item.source, f"story-{number}", item.at, [Said(
                f"Story {number}.", item.category, item.direction, item.confidence,
                tuple(item.assets))])
        directory = write_partitioned(store, tmp_path)
        settings = BacktestSettings(resamples=300, min_confidence=0.6)
        from_store = store_catalysts(store.path, asset="BTC", min_confidence=0.6)
    from_parquet = parquet_catalysts(directory, asset="BTC", min_confidence=0.6)
    assert 0 < len(from_store.catalysts) < len(catalysts)
    assert all(c.confidence >= 0.6 for c in from_parquet.catalysts)
    assert comparable(backtest(from_store, prices, "BTC", settings)) == comparable(
        backtest(from_parquet, prices, "BTC", settings))


def test_parquet_event_types_group_the_study(market_store, tmp_path):
    prices, store = market_store
    directory = write_partitioned(store, tmp_path, event_types=True)
    inputs = parquet_catalysts(directory, asset="BTC")
    assert inputs.has_event_types and {c.event_type for c in inputs.catalysts} == {
        "kind-0", "kind-1", "kind-2"}
    report = backtest(inputs, prices, "BTC", BacktestSettings(resamples=300, by="event_type"))
    groups = {e.group for e in report.effects if e.grouping == "event_type"}
    assert groups == {"kind-0", "kind-1", "kind-2"}


def test_store_without_event_types_refuses_grouping_by_them(market_store):
    prices, store = market_store
    inputs = store_catalysts(store.path, asset="BTC")
    assert not inputs.has_event_types
    with pytest.raises(BacktestError, match=r"--by event_type: the catalysts in database .* carry "
                                            r"no event_type"):
        backtest(inputs, prices, "BTC", BacktestSettings(by="event_type"))


def test_parquet_rows_without_a_time_are_counted_and_left_out(market_store, tmp_path):
    _, store = market_store
    directory = write_partitioned(store, tmp_path, undated=True)
    inputs = parquet_catalysts(directory, asset="BTC")
    assert inputs.undated == 1 and len(inputs.catalysts) == 141


def test_bad_parquet_datasets_are_clear_errors(market_store, tmp_path):
    _, store = market_store
    with pytest.raises(BacktestError, match=r"no catalysts/ dataset in it"):
        parquet_catalysts(tmp_path, asset="BTC")
    (tmp_path / "empty" / "catalysts").mkdir(parents=True)
    with pytest.raises(BacktestError, match="no Parquet files in it"):
        parquet_catalysts(tmp_path / "empty", asset="BTC")
    directory = write_partitioned(store, tmp_path / "lacking", drop="confidence")
    with pytest.raises(BacktestError, match="export's columns: confidence missing"):
        parquet_catalysts(directory, asset="BTC")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("direction", "up", "direction 'up' of article 7 is not bullish, bearish or neutral"),
    ("confidence", None, "a catalyst of article 7 has no confidence"),
])
def test_a_bad_parquet_row_names_its_article(tmp_path, field, value, message):
    row = {column.name: None for column in COLUMNS["catalysts"]} | {
        "article_id": 7, "published_at": datetime(2026, 2, 5, 9, tzinfo=UTC), "source": "wire",
        "category": "macro", "direction": "bullish", "confidence": 0.9, "assets": ["BTC"],
        "start_char": 0, field: value,
    }
    part = tmp_path / "catalysts" / "date=2026-02-05"
    part.mkdir(parents=True)
    table = pa.Table.from_pylist([row], schema=parquet_schema(COLUMNS["catalysts"]))
    pq.write_table(table, part / "part-0.parquet")
    with pytest.raises(BacktestError, match=message):
        parquet_catalysts(tmp_path, asset="BTC")

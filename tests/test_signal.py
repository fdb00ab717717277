"""The daily signal: counts and score on a hand-built store, the novelty rule, the plot."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pyarrow.parquet as pq
import pytest
from builders import OUTFLOW, Said, publish
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from pipeline.export import ExportFilters, export_table
from pipeline.records import Direction, SignalRow
from pipeline.signal import daily_signal, plot_signal
from pipeline.store import Store

BULLISH, BEARISH, NEUTRAL = Direction.BULLISH, Direction.BEARISH, Direction.NEUTRAL


def fill(store: Store) -> None:
    """Three days of BTC news (one ETH catalyst), with a syndicated copy and restated stories."""
    first = publish(store, "fxstreet", "etf-outflow", datetime(2026, 2, 5, 9, tzinfo=UTC), [
        Said("Spot ETFs saw an outflow of $258 million.", "etf_flows", BEARISH, 0.9, ("BTC",),
             OUTFLOW),
        Said("Senators moved the market bill forward.", "regulation", BULLISH, 0.6,
             ("BTC", "ETH")),
    ])
    # The syndicated copy: never counted, however confident.
    publish(store, "mitrade", "etf-outflow-copy", datetime(2026, 2, 5, 10, tzinfo=UTC), [
        Said("Spot ETFs saw an outflow of $258 million, a copy says.", "etf_flows", BULLISH,
             0.99, ("BTC",), OUTFLOW),
    ], duplicate_of=first)
    publish(store, "coindesk", "etf-and-rates", datetime(2026, 2, 5, 15, tzinfo=UTC), [
        # The same outflow six hours later: a repeat.
        Said("Funds reported an outflow of $258 million again.", "etf_flows", BEARISH, 0.7,
             ("BTC",), OUTFLOW),
        Said("Rates were left where they were.", "macro", NEUTRAL, 0.5, ("BTC",)),
    ])
    publish(store, "fxstreet", "next-day", datetime(2026, 2, 6, 14, tzinfo=UTC), [
        # 29 h after the first report but 23 h after the restatement: still a repeat.
        Said("Yesterday's tally: an outflow of $258 million.", "etf_flows", BEARISH, 0.8,
             ("BTC",), OUTFLOW),
        Said("A further outflow of $100 million followed.", "etf_flows", BEARISH, 0.8, ("BTC",),
             ("outflow of $100 million", "etf_flow", -1e8)),
        # Same figure, other category: a different story.
        Said("Shorts were squeezed after an outflow of $258 million.", "liquidations", BULLISH,
             0.4, ("BTC",), OUTFLOW),
    ])
    publish(store, "theblock", "two-days-later", datetime(2026, 2, 8, 12, tzinfo=UTC), [
        # More than 24 h after the last sighting: news again.
        Said("Once more an outflow of $258 million left the funds.", "etf_flows", BEARISH, 0.6,
             ("BTC",), OUTFLOW),
    ])


@pytest.fixture()
def filled(store) -> Store:
    fill(store)
    return store


def test_daily_counts_scores_and_sources(filled):
    rows = daily_signal(filled)
    assert [(row.day, row.asset) for row in rows] == [
        (date(2026, 2, 5), "BTC"), (date(2026, 2, 5), "ETH"),
        (date(2026, 2, 6), "BTC"), (date(2026, 2, 8), "BTC"),
    ]
    fifth_btc, fifth_eth, sixth_btc, eighth_btc = rows
    assert fifth_btc == SignalRow(
        day=date(2026, 2, 5), asset="BTC", catalysts=3, bullish=1, bearish=1, neutral=1,
        net_score=pytest.approx((0.6 - 0.9) / (0.9 + 0.6 + 0.5)), sources=2,
        top_categories=["etf_flows", "macro", "regulation"], repeats=1,
    )
    assert (fifth_eth.catalysts, fifth_eth.net_score, fifth_eth.sources) == (1, 1.0, 1)
    assert (sixth_btc.bullish, sixth_btc.bearish, sixth_btc.repeats) == (1, 1, 1)
    assert sixth_btc.net_score == pytest.approx((0.4 - 0.8) / (0.4 + 0.8))
    assert sixth_btc.top_categories == ["etf_flows", "liquidations"]
    assert (eighth_btc.catalysts, eighth_btc.net_score, eighth_btc.repeats) == (1, -1.0, 0)


def test_since_still_remembers_the_day_before(filled):
    rows = daily_signal(filled, since=datetime(2026, 2, 6, tzinfo=UTC), asset="BTC")
    assert [row.day for row in rows] == [date(2026, 2, 6), date(2026, 2, 8)]
    assert rows[0].repeats == 1 and rows[0].catalysts == 2  # the restated outflow stays a repeat


def test_until_asset_and_confidence_filters(filled):
    until = daily_signal(filled, until=datetime(2026, 2, 6, tzinfo=UTC))
    assert {row.day for row in until} == {date(2026, 2, 5)}
    assert [row.asset for row in daily_signal(filled, asset="ETH")] == ["ETH"]
    confident = daily_signal(filled, asset="BTC", min_confidence=0.65)
    assert [(row.day, row.catalysts, row.repeats) for row in confident] == [
        (date(2026, 2, 5), 1, 1), (date(2026, 2, 6), 1, 1),
    ]


def test_signal_export_in_csv_and_parquet(filled, tmp_path):
    out = io.StringIO()
    assert export_table(filled, "signal", out, "csv", ExportFilters(asset="BTC")) == 3
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "day,asset,catalysts,bullish,bearish,neutral,net_score,sources,top_categories,repeats"
    )
    assert lines[1] == "2026-02-05,BTC,3,1,1,1,-0.15,2,etf_flows;macro;regulation,1"
    path = tmp_path / "signal.parquet"
    export_table(filled, "signal", path, "parquet", ExportFilters())
    table = pq.read_table(path)
    assert str(table.schema.field("day").type) == "date32[day]"
    assert table.column("top_categories").to_pylist()[1] == ["regulation"]


def test_empty_store_has_no_signal(store):
    assert daily_signal(store) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(list(Direction)), st.floats(0.0, 1.0), st.integers(0, 71),
    st.sampled_from(["etf_flows", "macro"]), st.booleans(),
), max_size=12))
def test_score_is_bounded_and_counts_add_up(catalysts):
    with Store.open(":memory:") as store:
        for number, (direction, confidence, hour, category, cites) in enumerate(catalysts):
            at = datetime(2026, 2, 1 + hour // 24, hour % 24, tzinfo=UTC)
            publish(store, "feed", f"a{number}", at, [Said(
                f"Sentence {number}: an outflow of $258 million.", category, direction,
                confidence, ("BTC",), OUTFLOW if cites else None,
            )])
        rows = daily_signal(store)
    assert sum(row.catalysts + row.repeats for row in rows) == len(catalysts)
    for row in rows:
        assert -1.0 <= row.net_score <= 1.0
        assert row.catalysts == row.bullish + row.bearish + row.neutral
    # An independent count of the rule: per category, the first sighting of the outflow is news,
    # and so is each one coming more than 24 hours after the previous sighting.
    expected = sum(1 for *_, cites in catalysts if not cites)
    for category in {category for *_, category, cites in catalysts if cites}:
        hours = sorted(hour for _, _, hour, c, cites in catalysts if cites and c == category)
        expected += 1 + sum(1 for before, after in zip(hours, hours[1:]) if after - before > 24)
    assert sum(row.catalysts for row in rows) == expected


def test_plot_writes_a_readable_png(filled, tmp_path):
    path = plot_signal(daily_signal(filled), "BTC", tmp_path / "plots" / "btc.png")
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.size[0] > 600 and image.size[1] > 300
        assert len(image.getcolors(maxcolors=1_000_000)) > 10  # more than a blank canvas


def test_plot_of_an_asset_without_news_still_writes_a_png(filled, tmp_path):
    path = plot_signal(daily_signal(filled), "DOGE", tmp_path / "doge.png")
    with Image.open(path) as image:
        assert image.format == "PNG"

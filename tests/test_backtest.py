"""The backtest's statistics on synthetic prices where the truth is known: a planted effect is
recovered with its sign and size, shuffled dates give intervals around zero, the no-look-ahead
rule holds for articles published after the close; and the bootstrap's pieces, one by one."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.backtest import BacktestError
from pipeline.backtest.stats import (
    MIN_BLOCKS,
    Blocks,
    bootstrap_intervals,
    mean_statistic,
    median_statistic,
    point_estimate,
    spearman_statistic,
    spread_statistic,
    t_quantile,
)
from pipeline.backtest.study import (
    BLOCK_HORIZONS,
    CONFIDENCE_BUCKETS,
    BacktestSettings,
    CatalystInput,
    PriceSeries,
    anchor_close,
    backtest,
    collect_events,
    confidence_bucket,
    event_window_returns,
    signal_anchor_close,
)
from pipeline.backtest.synthetic import DIRECTION_SIGN as SIGN
from pipeline.backtest.synthetic import planted_market, price_series, shuffled_dates
from pipeline.records import DatedCatalyst, Direction

BULLISH, BEARISH, NEUTRAL = Direction.BULLISH, Direction.BEARISH, Direction.NEUTRAL
START = date(2020, 1, 1)


def catalyst(at: datetime, direction: Direction, confidence: float = 0.9, *,
             category: str = "etf_flows", source: str = "wire",
             assets: tuple[str, ...] = ("BTC",)) -> DatedCatalyst:
    return DatedCatalyst(at, source, category, direction, confidence, list(assets))


def series(returns: np.ndarray, *, close_time: timedelta = timedelta(hours=24)) -> PriceSeries:
    return price_series(returns, start=START, close_time=close_time)


def effect(report, horizon, direction, grouping="all", group="all"):
    (found,) = [e for e in report.effects if (e.horizon, e.direction, e.grouping, e.group)
                == (horizon, str(direction), grouping, group)]
    return found


def spread(report, horizon, grouping="all", group="all"):
    (found,) = [s for s in report.spreads
                if (s.horizon, s.grouping, s.group) == (horizon, grouping, group)]
    return found


def near(value: float, truth: float, low: float, high: float) -> bool:
    """Within one and a half interval half-widths of the truth: about three standard errors."""
    return abs(value - truth) <= 1.5 * (high - low) / 2


# -- the planted effect ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted():
    prices, catalysts = planted_market(seed=11)
    report = backtest(CatalystInput(catalysts, "synthetic"), prices, "BTC")
    return prices, catalysts, report


def test_planted_effect_is_recovered_with_its_sign_and_size(planted):
    _, _, report = planted
    assert report.counts.events == 700 and report.counts.by_direction == {
        "bullish": 300, "bearish": 300, "neutral": 100}
    for horizon in (1, 3, 7):
        truth = 0.5 * horizon
        bullish, bearish = effect(report, horizon, BULLISH), effect(report, horizon, BEARISH)
        neutral = effect(report, horizon, NEUTRAL)
        assert bullish.mean_low > 0 and bearish.mean_high < 0, horizon
        assert near(bullish.mean, truth, bullish.mean_low, bullish.mean_high), bullish
        assert near(bearish.mean, -truth, bearish.mean_low, bearish.mean_high), bearish
        assert near(neutral.mean, 0.0, neutral.mean_low, neutral.mean_high), neutral
        both = spread(report, horizon)
        assert both.low > 0 and near(both.spread, 2 * truth, both.low, both.high), both
        assert bullish.median_low > 0 and bearish.median_high < 0


def test_the_signal_backtest_sees_the_planted_effect(planted):
    _, _, report = planted
    for score in report.scores:
        assert score.ic_low > 0 and score.hit_low > 0.5, score
    assert report.strategy.total_return > report.strategy.buy_and_hold


def test_event_window_at_h_is_the_event_study_at_h(planted):
    _, _, report = planted
    for window in report.windows:
        for horizon in report.settings.horizons:
            at = window.offsets.index(horizon)
            row = effect(report, horizon, window.direction)
            assert window.mean[at] == row.mean and window.events[at] == row.events
            assert (window.low[at], window.high[at]) == (row.mean_low, row.mean_high)
        assert window.mean[window.offsets.index(0)] == 0.0


def test_confidence_buckets_hold_every_event_once(planted):
    _, _, report = planted
    for direction in (BULLISH, BEARISH, NEUTRAL):
        buckets = [effect(report, 1, direction, "confidence", name) for name in CONFIDENCE_BUCKETS]
        assert sum(b.events for b in buckets) == effect(report, 1, direction).events


def test_same_seed_same_report_other_seed_other_intervals(planted):
    prices, catalysts, report = planted
    again = backtest(CatalystInput(catalysts, "synthetic"), prices, "BTC")
    assert again.to_dict() == report.to_dict()
    other = backtest(CatalystInput(catalysts, "synthetic"), prices, "BTC",
                     BacktestSettings(seed=1))
    assert effect(other, 3, BULLISH).mean == effect(report, 3, BULLISH).mean
    assert effect(other, 3, BULLISH).mean_low != effect(report, 3, BULLISH).mean_low


# -- shuffled dates --------------------------------------------------------------------------------


def test_shuffled_dates_give_effects_within_their_intervals_around_zero(planted):
    prices, catalysts, _ = planted
    report = backtest(CatalystInput(shuffled_dates(catalysts, seed=5), "shuffled"), prices, "BTC")
    for horizon in (1, 3, 7):
        for direction in (BULLISH, BEARISH, NEUTRAL):
            row = effect(report, horizon, direction)
            assert near(row.mean, 0.0, row.mean_low, row.mean_high), row
        both = spread(report, horizon)
        assert both.low < 0 < both.high, both
    assert all(score.ic_low < 0 < score.ic_high for score in report.scores)


def test_shuffled_dates_intervals_cover_zero_at_their_level(planted):
    """Over many shuffles, the 95% interval of the bullish-bearish spread holds zero about 95% of
    the time. Measured 0.975 at 1 and 3 closes on these 80 shuffles (a count of 80 moves by
    about 2 points from chance alone); the floor leaves room for that and more."""
    prices, catalysts, _ = planted
    options = BacktestSettings(resamples=500)
    log_closes = np.log(prices.closes)
    covered = {1: 0, 3: 0}
    estimates = {1: [], 3: []}
    trials = 80
    for trial in range(trials):
        events, _ = collect_events(shuffled_dates(catalysts, seed=trial), prices, "BTC", options)
        bullish = events.directions == "bullish"
        bearish = events.directions == "bearish"
        for horizon in covered:
            values = event_window_returns(log_closes, events, horizon)
            blocks = Blocks.of(events.anchors, BLOCK_HORIZONS * horizon)
            statistic = spread_statistic(values, blocks, bullish, bearish)
            (interval,) = bootstrap_intervals([statistic], blocks, resamples=500,
                                              seed=0, level=0.95)
            covered[horizon] += interval[0] <= 0 <= interval[1]
            estimates[horizon].append(point_estimate(statistic, blocks))
    for horizon in covered:
        assert covered[horizon] / trials >= 0.88, (horizon, covered)
        # Unbiased: the average spread is far nearer zero than the planted one (2h * 0.5).
        assert abs(np.mean(estimates[horizon])) < 0.1 * horizon


# -- no look-ahead ---------------------------------------------------------------------------------


NEW_YORK_CLOSE = timedelta(hours=21)


def jump_market(published_at: time, seed: int = 3, jump: float = 5.0):
    """Calm prices with a close at 21:00 UTC. On 150 days an article comes out at
    `published_at` UTC, and the price jumps `jump` % (up for bullish, down for bearish) from that
    day's close to the next one: news that came out after the close moves the next close."""
    rng = np.random.default_rng(seed)
    days = 900
    returns = rng.normal(0, 0.005, days)
    chosen = rng.choice(np.arange(80, days - 20, 4), size=150, replace=False)
    catalysts = []
    for number, day in enumerate(sorted(chosen)):
        direction = BULLISH if number % 2 == 0 else BEARISH
        returns[day + 1] += SIGN[direction] * jump / 100
        at = datetime.combine(START + timedelta(days=int(day)), published_at, UTC)
        catalysts.append(catalyst(at, direction))
    return series(returns, close_time=NEW_YORK_CLOSE), catalysts


def test_an_article_after_the_close_counts_from_the_next_close():
    prices, catalysts = jump_market(published_at=time(22, 30))  # after the 21:00 close
    report = backtest(CatalystInput(catalysts, "after the close"), prices, "BTC")
    one_day = effect(report, 1, BULLISH)
    # The jump happened between publication and the first close after it: out of reach.
    assert abs(one_day.mean) < 0.3 and one_day.mean_low < 0 < one_day.mean_high
    # It shows to the left of the anchor: the move into the first close after publication.
    (window,) = [w for w in report.windows if w.direction == "bullish"]
    assert window.mean[window.offsets.index(-1)] == pytest.approx(-5.0, abs=0.3)
    # The daily signal of a day is known at its end, after that day's close: no IC either.
    one_day_ic = report.scores[0]
    assert one_day_ic.horizon == 1 and one_day_ic.ic_low < 0 < one_day_ic.ic_high


def test_an_article_before_the_close_counts_from_that_close():
    """The control: the same jumps, with the articles out before the close, are in the return."""
    prices, catalysts = jump_market(published_at=time(15, 0))
    report = backtest(CatalystInput(catalysts, "before the close"), prices, "BTC")
    assert effect(report, 1, BULLISH).mean == pytest.approx(5.0, abs=0.3)
    assert effect(report, 1, BEARISH).mean == pytest.approx(-5.0, abs=0.3)


def test_anchor_boundaries():
    day = date(2026, 2, 5)
    crypto = PriceSeries((day, day + timedelta(days=1)), np.array([1.0, 1.0]))
    moments = crypto.close_moments()
    assert moments[0] == datetime(2026, 2, 6, tzinfo=UTC)  # 24:00 of the 5th
    assert anchor_close(moments, datetime(2026, 2, 5, 23, 59, 59, tzinfo=UTC)) == 0
    assert anchor_close(moments, datetime(2026, 2, 6, 0, 0, tzinfo=UTC)) == 1  # at the close
    assert anchor_close(moments, datetime(2026, 2, 7, 0, 0, 1, tzinfo=UTC)) == 2  # after all
    assert signal_anchor_close(moments, day) == 0
    equities = PriceSeries((day, day + timedelta(days=1)), np.array([1.0, 1.0]),
                           close_time=NEW_YORK_CLOSE)
    moments = equities.close_moments()
    assert anchor_close(moments, datetime(2026, 2, 5, 20, 59, tzinfo=UTC)) == 0
    assert anchor_close(moments, datetime(2026, 2, 5, 21, 0, tzinfo=UTC)) == 1
    assert signal_anchor_close(moments, day) == 1  # the 5th's signal is complete after its close


def test_a_weekend_article_waits_for_monday():
    friday = date(2026, 2, 6)
    days = (friday, friday + timedelta(days=3), friday + timedelta(days=4))  # Fri, Mon, Tue
    prices = PriceSeries(days, np.ones(3), close_time=NEW_YORK_CLOSE, weekdays_only=True)
    saturday = datetime(2026, 2, 7, 12, tzinfo=UTC)
    assert anchor_close(prices.close_moments(), saturday) == 1


# -- the bootstrap's pieces ------------------------------------------------------------------------


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(-5, 5), st.integers(0, 4)),
                min_size=3, max_size=30))
def test_weighted_statistics_equal_the_expanded_sample(rows):
    """A resample draws blocks with multiplicity; the statistics must equal those of the sample
    with each observation repeated that many times."""
    first = np.array([row[0] for row in rows], float)
    second = np.array([row[1] for row in rows], float)
    copies = np.array([row[2] for row in rows])
    if copies.sum() == 0:
        return
    blocks = Blocks(np.arange(len(rows)), len(rows))
    draws = copies[None, :].astype(float)
    expanded_first, expanded_second = np.repeat(first, copies), np.repeat(second, copies)
    assert mean_statistic(first, blocks)(draws)[0] == pytest.approx(expanded_first.mean())
    assert median_statistic(first, blocks)(draws)[0] == np.median(expanded_first)
    correlation = spearman_statistic(first, second, blocks)(draws)[0]
    expected = _spearman(expanded_first, expanded_second)
    if np.isnan(expected):
        assert np.isnan(correlation)
    else:
        assert correlation == pytest.approx(expected, abs=1e-9)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    import pandas as pd

    rank_x, rank_y = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rank_x.std() == 0 or rank_y.std() == 0:
        return float("nan")
    return float(np.corrcoef(rank_x, rank_y)[0, 1])


def test_blocks_group_anchors_by_length():
    blocks = Blocks.of(np.array([3, 4, 5, 9, 10, 31]), 5)
    assert blocks.count == 4 and blocks.ids.tolist() == [0, 0, 1, 1, 2, 3]


def test_too_few_blocks_give_no_interval():
    values = np.arange(40, dtype=float)
    few = Blocks.of(np.repeat(np.arange(MIN_BLOCKS - 1), 10), 1)
    assert bootstrap_intervals([mean_statistic(values, few)], few, resamples=200, seed=0,
                               level=0.95) == [None]
    enough = Blocks.of(np.repeat(np.arange(MIN_BLOCKS), 8), 1)
    (interval,) = bootstrap_intervals([mean_statistic(values, enough)], enough, resamples=200,
                                      seed=0, level=0.95)
    assert interval[0] < values.mean() < interval[1]


def test_t_quantiles_match_the_tables():
    for freedom, expected in ((4, 2.776), (10, 2.228), (30, 2.042), (1000, 1.962)):
        assert t_quantile(0.975, freedom) == pytest.approx(expected, abs=1e-3)


def test_confidence_buckets():
    assert [confidence_bucket(c) for c in (0.34, 0.6, 0.79, 0.85, 0.9, 1.0)] == [
        "0.00-0.60", "0.60-0.80", "0.60-0.80", "0.80-0.90", "0.90-1.00", "0.90-1.00"]


# -- what the report counts and refuses ------------------------------------------------------------


def test_repeats_early_and_late_catalysts_are_counted_not_studied(planted):
    prices, catalysts, _ = planted
    first_day = datetime.combine(prices.days[0], time(9), UTC)
    last_day = datetime.combine(prices.days[-1] + timedelta(days=1), time(9), UTC)
    story = [("etf_flow", -2.58e8)]
    extra = [
        catalyst(first_day + timedelta(days=10), BULLISH),  # inside the trailing window
        catalyst(last_day, BEARISH),  # after the last close
        DatedCatalyst(first_day + timedelta(days=200), "wire", "etf_flows", BEARISH, 0.9,
                      ["BTC"], story),
        DatedCatalyst(first_day + timedelta(days=200, hours=3), "desk", "etf_flows", BEARISH, 0.9,
                      ["BTC"], story),  # the same outflow again: a repeat
    ]
    everything = sorted(catalysts + extra, key=lambda item: item.at)
    report = backtest(CatalystInput(everything, "synthetic"), prices, "BTC")
    counts = report.counts
    assert (counts.catalysts, counts.repeats, counts.too_early, counts.after_prices) == (
        704, 1, 1, 1)
    assert counts.events == 701


def test_no_event_in_the_prices_is_an_error_saying_why():
    prices = series(np.zeros(100))
    late = [catalyst(datetime(2030, 1, 1, tzinfo=UTC), BULLISH)]
    with pytest.raises(BacktestError, match="1 after the last close; the prices run 2020-01-01"):
        backtest(CatalystInput(late, "x"), prices, "BTC")
    with pytest.raises(BacktestError, match="no catalysts about ETH in x"):
        backtest(CatalystInput(late, "x"), prices, "ETH")


def test_grouping_by_event_type_needs_the_column(planted):
    prices, catalysts, _ = planted
    with pytest.raises(BacktestError, match="carry no event_type"):
        backtest(CatalystInput(catalysts, "old export"), prices, "BTC",
                 BacktestSettings(by="event_type"))


def test_bad_settings_are_refused():
    for bad in ({"horizons": ()}, {"horizons": (0,)}, {"by": "mood"}, {"window": 1},
                {"post": 0}, {"resamples": 10}, {"level": 1.0}, {"threshold": 1.0}):
        with pytest.raises(BacktestError):
            BacktestSettings(**bad)

"""Does the signal lead prices? An event study of catalysts and a backtest of the daily signal.

Everything here is a pure function: catalysts (`DatedCatalyst` records, from the store or from a
Parquet dataset) and the user's daily closes (`PriceSeries`) in, a `BacktestReport` out. Reading the
inputs is in `data.py`, the block bootstrap in `stats.py`, the HTML report in `report.py`, and
docs/backtest.md explains the method and its caveats for users.

Conventions, chosen so that nothing a trader could not have known enters a number:
- A row of prices is the close of day D, at D + `close_time` UTC (default 24:00, the UTC day
  boundary, which suits crypto; equities set their exchange's close). Horizons count price rows.
- A catalyst published at t is anchored at the first close strictly after t: an article published
  after the close counts from the next close. The daily signal of UTC day D (`pipeline.signal`) is
  complete at the end of D, so it is anchored at the first close at or after 24:00 of D.
- Returns are log returns, ln(P[a+h] / P[a]), so they add up over days; reports show them x100 as
  percent. The abnormal return subtracts h times the asset's mean daily log return over the
  `window` closes before the event window (which starts `pre` closes before the anchor), so a
  run-up into the news does not inflate the baseline.
- Intervals are bootstraps over blocks of 2h consecutive closes (events that share a close, or
  whose h-day windows overlap, mostly fall in one block and are drawn together), widened for the
  number of blocks, and seeded, so a report is reproducible. With fewer than MIN_BLOCKS blocks
  there is no interval.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta

import numpy as np

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
)
from pipeline.records import DatedCatalyst, Direction, SignalRow
from pipeline.signal import aggregate_signal, story_sightings

DIRECTIONS = (Direction.BULLISH, Direction.BEARISH, Direction.NEUTRAL)
GROUPINGS = ("category", "event_type", "source")
# Confidence buckets: [0, 0.6), [0.6, 0.8), [0.8, 0.9), [0.9, 1].
CONFIDENCE_EDGES = (0.6, 0.8, 0.9)
# Bootstrap blocks span BLOCK_HORIZONS horizons, so that fewer overlapping windows straddle a
# block boundary. On synthetic markets one and two cover alike for these statistics (docs/
# backtest.md); two is the safer where events cluster, and with very few events it withholds
# intervals that one would give too narrow.
BLOCK_HORIZONS = 2


@dataclass(frozen=True, slots=True, eq=False)
class PriceSeries:
    """Daily closes, oldest first, one row per trading day, every close positive."""

    days: tuple[date, ...]
    closes: np.ndarray  # float64, same length as days
    close_time: timedelta = timedelta(hours=24)  # after 00:00 UTC of the row's day, in (0, 24h]
    weekdays_only: bool = False  # no row on a Saturday or Sunday: an exchange's calendar
    name: str = ""  # where the prices came from, for the report

    def close_moments(self) -> list[datetime]:
        midnight = time(0, tzinfo=UTC)
        return [datetime.combine(day, midnight) + self.close_time for day in self.days]

    @property
    def close_time_text(self) -> str:
        minutes = int(self.close_time.total_seconds() // 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d} UTC"


@dataclass(slots=True)
class CatalystInput:
    """The catalysts about one asset, in time order, and what their reader knows about them."""

    catalysts: list[DatedCatalyst]
    origin: str  # "database PATH" or "Parquet dataset DIR", for the report
    figure_links: bool = True  # whether `figure_keys` are known (the novelty rule needs them)
    has_event_types: bool = False
    undated: int = 0  # left out by the reader: no publication time


@dataclass(frozen=True, slots=True)
class BacktestSettings:
    horizons: tuple[int, ...] = (1, 3, 7)  # in closes
    min_confidence: float | None = None  # recorded here; the catalysts are read with it applied
    by: str | None = None  # one of GROUPINGS
    window: int = 60  # closes in the trailing mean of the abnormal return
    pre: int = 5  # closes shown before the anchor in the event window
    post: int = 10  # and after it (at least up to the longest horizon)
    resamples: int = 2000
    seed: int = 0
    level: float = 0.95
    threshold: float = 0.0  # |net score| the toy strategy needs to take a position

    def __post_init__(self) -> None:
        if not self.horizons or any(h < 1 for h in self.horizons):
            raise BacktestError("horizons must be whole numbers of days, 1 or more")
        if self.by is not None and self.by not in GROUPINGS:
            raise BacktestError(f"--by must be one of {', '.join(GROUPINGS)}, not {self.by!r}")
        if self.window < 2:
            raise BacktestError("the trailing window needs at least 2 closes")
        if self.pre < 1 or self.post < 1:
            raise BacktestError("the event window needs at least one close on each side")
        if self.resamples < 100:
            raise BacktestError("at least 100 bootstrap resamples are needed for an interval")
        if not 0.5 < self.level < 1:
            raise BacktestError("the interval level must lie between 0.5 and 1")
        if not 0 <= self.threshold < 1:
            raise BacktestError("the strategy threshold must lie in [0, 1)")


# -- results -------------------------------------------------------------------------------------


@dataclass(slots=True)
class Effect:
    """Abnormal log returns (percent) of one direction's catalysts over a horizon, in a group."""

    horizon: int
    direction: str
    grouping: str  # "all", "confidence", or the --by grouping
    group: str  # "all", a confidence bucket, or a value of the grouping
    events: int
    blocks: int  # independent blocks the bootstrap resamples
    mean: float | None
    mean_low: float | None
    mean_high: float | None
    median: float | None
    median_low: float | None
    median_high: float | None
    raw_mean: float | None  # the mean forward log return before the trailing-mean adjustment


@dataclass(slots=True)
class Spread:
    """Mean abnormal return of bullish minus bearish catalysts: does the direction tell apart?"""

    horizon: int
    grouping: str
    group: str
    bullish: int
    bearish: int
    spread: float | None
    low: float | None
    high: float | None


@dataclass(slots=True)
class EventWindow:
    """Cumulative average abnormal return (percent) around the anchor close, one direction."""

    direction: str
    offsets: list[int]  # -pre .. post; 0 is the anchor close, where the curve is 0 by definition
    mean: list[float | None]
    low: list[float | None]
    high: list[float | None]
    events: list[int]


@dataclass(slots=True)
class SignalScore:
    """The daily signal against the next h closes: information coefficient and hit rate."""

    horizon: int
    days: int  # signal days with an h-day forward return
    blocks: int
    ic: float | None  # Spearman rank correlation of net score and forward log return
    ic_low: float | None
    ic_high: float | None
    signed_days: int  # days whose net score clears the threshold: the ones the hit rate reads
    hit_rate: float | None  # share of signed days whose forward return has the score's sign
    hit_low: float | None
    hit_high: float | None
    up_share: float | None  # share of the same days that went up: a hit rate's base rate


@dataclass(slots=True)
class Strategy:
    """Long when the latest net score is above the threshold, short below minus it, else flat;
    one position a close, held to the next. No costs."""

    start: date
    end: date
    long_days: int
    short_days: int
    flat_days: int
    total_return: float  # percent, compounded simple returns
    buy_and_hold: float  # percent, over the same closes
    days: list[date] = field(default_factory=list)
    equity: list[float] = field(default_factory=list)  # growth of 1, strategy
    hold_equity: list[float] = field(default_factory=list)  # growth of 1, buy and hold


@dataclass(slots=True)
class EventCounts:
    catalysts: int  # read: about the asset, at or above the minimum confidence, with a time
    repeats: int  # stories already seen within 24 hours (pipeline.signal's novelty rule)
    too_early: int  # anchored before `window + pre` closes of history exist
    after_prices: int  # published after the last close
    events: int  # in the study
    by_direction: dict[str, int] = field(default_factory=dict)
    undated: int = 0  # left out before all this: no publication time (Parquet only)


@dataclass(slots=True)
class BacktestReport:
    asset: str
    catalysts_from: str  # "database PATH" or "Parquet dataset DIR"
    prices_from: str
    first_close: date
    last_close: date
    closes: int
    calendar: str  # "every day" or "weekdays"
    close_time: str
    settings: BacktestSettings
    counts: EventCounts
    effects: list[Effect]
    spreads: list[Spread]
    windows: list[EventWindow]
    signal_days: int
    scores: list[SignalScore]
    strategy: Strategy | None
    intervals: int  # intervals of effects, spreads and ICs shown
    intervals_excluding_zero: int
    caveats: list[str]

    def to_dict(self) -> dict:
        return _jsonable(asdict(self))

    def format(self) -> str:
        return format_report(self)


def _jsonable(value):
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- anchoring -----------------------------------------------------------------------------------


def anchor_close(moments: Sequence[datetime], published: datetime) -> int:
    """Index of the first close strictly after `published`; len(moments) when there is none."""
    return bisect_right(moments, published)


def signal_anchor_close(moments: Sequence[datetime], day: date) -> int:
    """Index of the first close at or after the end of UTC day `day`, when its signal is known."""
    end_of_day = datetime.combine(day + timedelta(days=1), time(0, tzinfo=UTC))
    return bisect_left(moments, end_of_day)


_BOUNDS = (0.0, *CONFIDENCE_EDGES, 1.0)
CONFIDENCE_BUCKETS = tuple(f"{low:.2f}-{high:.2f}" for low, high in zip(_BOUNDS, _BOUNDS[1:]))


def confidence_bucket(confidence: float) -> str:
    return CONFIDENCE_BUCKETS[bisect_right(CONFIDENCE_EDGES, confidence)]


# -- the event study -----------------------------------------------------------------------------


@dataclass(slots=True)
class Events:
    """The catalysts in the study, as arrays: one entry per (novel) catalyst."""

    anchors: np.ndarray  # int: index of the anchor close
    directions: np.ndarray  # str
    confidences: np.ndarray  # float
    groups: np.ndarray  # str: the --by value, "" without --by
    baselines: np.ndarray  # float: mean daily log return over the trailing window


def event_window_returns(log_closes: np.ndarray, events: Events, offset: int) -> np.ndarray:
    """Cumulative abnormal log return from the anchor close to `offset` closes after it (before
    it when negative), x100; NaN where the prices end first."""
    index = events.anchors + offset
    valid = index < len(log_closes)
    out = np.full(len(events.anchors), np.nan)
    inside = index[valid]
    anchors = events.anchors[valid]
    out[valid] = 100 * (log_closes[inside] - log_closes[anchors] - offset * events.baselines[valid])
    return out


def forward_raw_returns(log_closes: np.ndarray, anchors: np.ndarray, horizon: int) -> np.ndarray:
    """ln(P[a+h] / P[a]) x100 for each anchor a; NaN where the prices end first."""
    index = anchors + horizon
    out = np.full(len(anchors), np.nan)
    valid = index < len(log_closes)
    out[valid] = 100 * (log_closes[index[valid]] - log_closes[anchors[valid]])
    return out


def collect_events(
    catalysts: Iterable[DatedCatalyst], prices: PriceSeries, asset: str, settings: BacktestSettings
) -> tuple[Events, EventCounts]:
    """Anchor each novel catalyst about `asset` at its first close after publication."""
    moments = prices.close_moments()
    log_closes = np.log(prices.closes)
    history = settings.window + settings.pre
    counts = EventCounts(catalysts=0, repeats=0, too_early=0, after_prices=0, events=0)
    anchors: list[int] = []
    directions: list[str] = []
    confidences: list[float] = []
    groups: list[str] = []
    for catalyst, _, repeat in story_sightings(catalysts, asset=asset):
        counts.catalysts += 1
        if repeat:
            counts.repeats += 1
            continue
        anchor = anchor_close(moments, catalyst.at)
        if anchor >= len(moments):
            counts.after_prices += 1
            continue
        if anchor < history:
            counts.too_early += 1
            continue
        anchors.append(anchor)
        directions.append(str(catalyst.direction))
        confidences.append(catalyst.confidence)
        groups.append(_group_of(catalyst, settings.by))
    anchor_array = np.asarray(anchors, dtype=np.int64)
    start = anchor_array - settings.pre
    baselines = (log_closes[start] - log_closes[start - settings.window]) / settings.window
    events = Events(
        anchors=anchor_array, directions=np.asarray(directions, dtype=str),
        confidences=np.asarray(confidences, dtype=float), groups=np.asarray(groups, dtype=str),
        baselines=baselines,
    )
    counts.events = len(anchors)
    counts.by_direction = {str(d): int((events.directions == str(d)).sum()) for d in DIRECTIONS}
    return events, counts


def _group_of(catalyst: DatedCatalyst, by: str | None) -> str:
    if by is None:
        return ""
    value = getattr(catalyst, by)
    return value if value else "(none)"


def _effect(values: np.ndarray, raw: np.ndarray, anchors: np.ndarray, *, horizon: int,
            direction: str, grouping: str, group: str, settings: BacktestSettings) -> Effect:
    blocks = Blocks.of(anchors, BLOCK_HORIZONS * horizon)
    mean, median = mean_statistic(values, blocks), median_statistic(values, blocks)
    mean_interval, median_interval = bootstrap_intervals(
        [mean, median], blocks, resamples=settings.resamples, seed=settings.seed,
        level=settings.level,
    )
    return Effect(
        horizon=horizon, direction=direction, grouping=grouping, group=group,
        events=len(values), blocks=blocks.count,
        mean=point_estimate(mean, blocks),
        mean_low=mean_interval[0] if mean_interval else None,
        mean_high=mean_interval[1] if mean_interval else None,
        median=point_estimate(median, blocks),
        median_low=median_interval[0] if median_interval else None,
        median_high=median_interval[1] if median_interval else None,
        raw_mean=float(raw.mean()) if len(raw) else None,
    )


def _spread(values: np.ndarray, directions: np.ndarray, anchors: np.ndarray, *, horizon: int,
            grouping: str, group: str, settings: BacktestSettings) -> Spread:
    bullish = directions == str(Direction.BULLISH)
    bearish = directions == str(Direction.BEARISH)
    length = BLOCK_HORIZONS * horizon
    blocks = Blocks.of(anchors, length)
    statistic = spread_statistic(values, blocks, bullish, bearish)
    enough = (
        Blocks.of(anchors[bullish], length).count >= MIN_BLOCKS
        and Blocks.of(anchors[bearish], length).count >= MIN_BLOCKS
    )
    interval = bootstrap_intervals(
        [statistic], blocks, resamples=settings.resamples, seed=settings.seed,
        level=settings.level,
    )[0] if enough else None
    return Spread(
        horizon=horizon, grouping=grouping, group=group, bullish=int(bullish.sum()),
        bearish=int(bearish.sum()), spread=point_estimate(statistic, blocks),
        low=interval[0] if interval else None, high=interval[1] if interval else None,
    )


def event_study(
    events: Events, log_closes: np.ndarray, settings: BacktestSettings
) -> tuple[list[Effect], list[Spread]]:
    """Per horizon: each direction's abnormal returns overall, per confidence bucket and per
    --by group, and the bullish-minus-bearish spread of each."""
    groupings: list[tuple[str, str, np.ndarray]] = [
        ("all", "all", np.ones(len(events.anchors), bool))
    ]
    buckets = np.array([confidence_bucket(c) for c in events.confidences], dtype=str)
    for bucket in CONFIDENCE_BUCKETS:
        groupings.append(("confidence", bucket, buckets == bucket))
    if settings.by is not None:
        names, sizes = np.unique(events.groups, return_counts=True)
        for name in names[np.argsort(-sizes, kind="stable")]:  # largest group first
            groupings.append((settings.by, str(name), events.groups == name))
    effects: list[Effect] = []
    spreads: list[Spread] = []
    for horizon in settings.horizons:
        values = event_window_returns(log_closes, events, horizon)
        raw = forward_raw_returns(log_closes, events.anchors, horizon)
        has_horizon = np.isfinite(values)
        for grouping, group, members in groupings:
            chosen = members & has_horizon
            for direction in DIRECTIONS:
                picked = chosen & (events.directions == str(direction))
                effects.append(_effect(
                    values[picked], raw[picked], events.anchors[picked], horizon=horizon,
                    direction=str(direction), grouping=grouping, group=group, settings=settings,
                ))
            spreads.append(_spread(
                values[chosen], events.directions[chosen], events.anchors[chosen],
                horizon=horizon, grouping=grouping, group=group, settings=settings,
            ))
    return effects, spreads


def event_windows(events: Events, log_closes: np.ndarray,
                  settings: BacktestSettings) -> list[EventWindow]:
    """The cumulative average abnormal return from -pre to +post closes around the anchor, per
    direction, with its intervals; at +h it is the event study's mean and interval for h."""
    offsets = list(range(-settings.pre, max(settings.post, *settings.horizons) + 1))
    windows = []
    for direction in DIRECTIONS:
        window = EventWindow(str(direction), offsets, [], [], [], [])
        of_direction = events.directions == str(direction)
        for offset in offsets:
            values = event_window_returns(log_closes, events, offset)
            picked = of_direction & np.isfinite(values)
            if offset == 0:  # the anchor close: zero by definition
                mean, interval = (0.0 if picked.any() else None), None
            else:
                blocks = Blocks.of(events.anchors[picked], BLOCK_HORIZONS * abs(offset))
                statistic = mean_statistic(values[picked], blocks)
                mean = point_estimate(statistic, blocks)
                (interval,) = bootstrap_intervals(
                    [statistic], blocks, resamples=settings.resamples, seed=settings.seed,
                    level=settings.level,
                )
            window.mean.append(mean)
            window.low.append(interval[0] if interval else None)
            window.high.append(interval[1] if interval else None)
            window.events.append(int(picked.sum()))
        windows.append(window)
    return windows


# -- the signal backtest ---------------------------------------------------------------------------


def signal_by_close(rows: Sequence[SignalRow], prices: PriceSeries) -> dict[int, float]:
    """Net score per anchor close: each signal day at the first close at or after its end; when
    several days reach the same close (a weekend before an exchange's Monday), the latest wins.
    Days before the prices start or after they end are left out."""
    moments = prices.close_moments()
    scores: dict[int, float] = {}
    for row in sorted(rows, key=lambda row: row.day):
        anchor = signal_anchor_close(moments, row.day)
        if 1 <= anchor < len(moments):  # close 0 has no close before it: the day may be far older
            scores[anchor] = row.net_score
    return scores


def signal_scores(scores: dict[int, float], log_closes: np.ndarray,
                  settings: BacktestSettings) -> list[SignalScore]:
    anchors = np.fromiter(scores, dtype=np.int64, count=len(scores))
    net = np.fromiter(scores.values(), dtype=float, count=len(scores))
    results = []
    for horizon in sorted({1, *settings.horizons}):
        forward = forward_raw_returns(log_closes, anchors, horizon)
        has = np.isfinite(forward)
        x, y, at = net[has], forward[has], anchors[has]
        blocks = Blocks.of(at, BLOCK_HORIZONS * horizon)
        ic = spearman_statistic(x, y, blocks)
        signed = np.abs(x) > settings.threshold
        hits = (np.sign(x) * y > 0).astype(float)
        hit = mean_statistic(hits, blocks, signed)
        signed_blocks = Blocks.of(at[signed], BLOCK_HORIZONS * horizon).count
        options = {"resamples": settings.resamples, "seed": settings.seed, "level": settings.level}
        (ic_interval,) = bootstrap_intervals([ic], blocks, bounds=(-1, 1), **options)
        (hit_interval,) = bootstrap_intervals([hit], blocks, bounds=(0, 1), **options)
        if signed_blocks < MIN_BLOCKS:
            hit_interval = None
        results.append(SignalScore(
            horizon=horizon, days=int(has.sum()), blocks=blocks.count,
            ic=point_estimate(ic, blocks) if len(x) >= 3 else None,
            ic_low=ic_interval[0] if ic_interval else None,
            ic_high=ic_interval[1] if ic_interval else None,
            signed_days=int(signed.sum()),
            hit_rate=point_estimate(hit, blocks) if signed.any() else None,
            hit_low=hit_interval[0] if hit_interval else None,
            hit_high=hit_interval[1] if hit_interval else None,
            up_share=float((y[signed] > 0).mean()) if signed.any() else None,
        ))
    return results


def toy_strategy(scores: dict[int, float], prices: PriceSeries,
                 settings: BacktestSettings) -> Strategy | None:
    """Long/flat/short on the latest net score, from the first signal's close to the close after
    the last one (beyond it the news data ends, and flat would say nothing about the signal)."""
    if not scores:
        return None
    first, last = min(scores), min(max(scores) + 1, len(prices.days) - 1)
    if first >= last:
        return None
    positions = np.zeros(len(prices.days))
    for anchor, score in scores.items():
        if abs(score) > settings.threshold:
            positions[anchor] = math.copysign(1, score)
    closes = prices.closes[first:last + 1]
    held = positions[first:last]
    daily = closes[1:] / closes[:-1] - 1
    equity = np.r_[1.0, np.cumprod(1 + held * daily)]
    hold = closes / closes[0]
    return Strategy(
        start=prices.days[first], end=prices.days[last],
        long_days=int((held > 0).sum()), short_days=int((held < 0).sum()),
        flat_days=int((held == 0).sum()),
        total_return=float(100 * (equity[-1] - 1)), buy_and_hold=float(100 * (hold[-1] - 1)),
        days=list(prices.days[first:last + 1]), equity=[float(v) for v in equity],
        hold_equity=[float(v) for v in hold],
    )


# -- the whole report ------------------------------------------------------------------------------


def backtest(
    inputs: CatalystInput,
    prices: PriceSeries,
    asset: str,
    settings: BacktestSettings | None = None,
) -> BacktestReport:
    """The event study and the signal backtest of `asset`'s catalysts against `prices`."""
    settings = settings or BacktestSettings()
    if settings.by == "event_type" and not inputs.has_event_types:
        raise BacktestError(
            f"--by event_type: the catalysts in {inputs.origin} carry no event_type (it comes "
            "with a later version of the catalysts export); group by category or source"
        )
    log_closes = np.log(prices.closes)
    events, counts = collect_events(inputs.catalysts, prices, asset, settings)
    counts.undated = inputs.undated
    if counts.events == 0:
        raise BacktestError(_no_events_message(counts, inputs, prices, asset, settings))
    effects, spreads = event_study(events, log_closes, settings)
    windows = event_windows(events, log_closes, settings)
    signal_rows = aggregate_signal(inputs.catalysts, asset=asset)
    by_close = signal_by_close(signal_rows, prices)
    scores = signal_scores(by_close, log_closes, settings)
    strategy = toy_strategy(by_close, prices, settings)
    shown = [(e.mean_low, e.mean_high) for e in effects]
    shown += [(e.median_low, e.median_high) for e in effects]
    shown += [(s.low, s.high) for s in spreads]
    shown += [(s.ic_low, s.ic_high) for s in scores]
    intervals = [(low, high) for low, high in shown if low is not None and high is not None]
    excluding = sum(1 for low, high in intervals if low > 0 or high < 0)
    report = BacktestReport(
        asset=asset, catalysts_from=inputs.origin, prices_from=prices.name,
        first_close=prices.days[0], last_close=prices.days[-1], closes=len(prices.days),
        calendar="weekdays" if prices.weekdays_only else "every day",
        close_time=prices.close_time_text, settings=settings, counts=counts, effects=effects,
        spreads=spreads, windows=windows, signal_days=len(by_close), scores=scores,
        strategy=strategy, intervals=len(intervals), intervals_excluding_zero=excluding,
        caveats=[],
    )
    report.caveats = caveats(report, figure_links=inputs.figure_links)
    return report


def _no_events_message(counts: EventCounts, inputs: CatalystInput, prices: PriceSeries,
                       asset: str, settings: BacktestSettings) -> str:
    if counts.catalysts == 0:
        return f"no catalysts about {asset} in {inputs.origin}"
    first = min(c.at for c in inputs.catalysts).date()
    last = max(c.at for c in inputs.catalysts).date()
    return (
        f"no catalyst about {asset} can be studied with these prices: of {counts.catalysts} "
        f"(published {first} to {last}), {counts.repeats} repeat a story, {counts.too_early} "
        f"come before {settings.window + settings.pre} closes of history, and "
        f"{counts.after_prices} after the last close; the prices run {prices.days[0]} to "
        f"{prices.days[-1]}"
    )


def caveats(report: BacktestReport, *, figure_links: bool) -> list[str]:
    """What a reader must keep in mind, in words, with this report's own numbers."""
    settings = report.settings
    chance = report.intervals * (1 - settings.level)
    notes = [
        f"Multiple testing: this report shows {report.intervals} intervals; at "
        f"{settings.level:.0%} about {chance:.1f} of them would exclude zero by chance alone if "
        f"the news said nothing about prices. {report.intervals_excluding_zero} do.",
        "Overlapping horizons: the h-day returns of events a few closes apart share days, so they "
        "are not independent. The intervals resample blocks of 2h closes, which allows for most "
        "of the overlap but not for events on either side of a block boundary.",
        "No costs: the toy strategy pays no fees, spread, slippage or funding, trades exactly at "
        "the close, and may switch position every day. It illustrates the signal; it is not a "
        "trading result.",
        "Abnormal returns are measured against the asset's own trailing mean "
        f"({settings.window} closes), not against a market index: a market-wide move on news "
        "days counts as the news' effect.",
    ]
    events = report.counts.events
    if events < 100:
        notes.append(
            f"Few events: {events} catalysts in the study. Intervals are missing where fewer "
            f"than {MIN_BLOCKS} independent blocks exist, and are rough where few more do."
        )
    if not figure_links:
        notes.append(
            "Restated stories count again: the catalysts export carries no figure links, so the "
            "novelty rule of the daily signal cannot spot a figure repeated within 24 hours."
        )
    return notes


# -- text output -----------------------------------------------------------------------------------


def _number(value: float | None, digits: int = 2, sign: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def format_interval(low: float | None, high: float | None, digits: int = 2) -> str:
    """An interval as text, `[-0.12, +0.34]`; `n/a` where it could not be computed."""
    if low is None or high is None:
        return "n/a"
    return f"[{low:+.{digits}f}, {high:+.{digits}f}]"


def format_report(report: BacktestReport) -> str:
    """A plain-text summary: what the HTML report shows in tables, without the plots."""
    settings = report.settings
    counts = report.counts
    lines = [
        f"{report.asset}: catalysts from {report.catalysts_from}; prices {report.prices_from}, "
        f"{report.closes} closes {report.first_close} to {report.last_close} "
        f"({report.calendar}, close at {report.close_time})",
        f"catalysts {counts.catalysts}, repeats {counts.repeats}, too early for the "
        f"{settings.window}-close window {counts.too_early}, after the last close "
        f"{counts.after_prices}: {counts.events} events "
        + "(" + ", ".join(f"{d} {n}" for d, n in counts.by_direction.items()) + ")",
        "",
        f"Abnormal log return, percent, mean with {settings.level:.0%} interval (events):",
    ]
    for effect in report.effects:
        if effect.grouping != "all":
            continue
        lines.append(
            f"  {effect.horizon:>2}d {effect.direction:<8} {_number(effect.mean):>7} "
            f"{format_interval(effect.mean_low, effect.mean_high):<18} ({effect.events})"
        )
    for spread in report.spreads:
        if spread.grouping == "all":
            lines.append(
                f"  {spread.horizon:>2}d bullish-bearish {_number(spread.spread):>7} "
                f"{format_interval(spread.low, spread.high)}"
            )
    lines += ["", f"Daily signal: {report.signal_days} days with news"]
    for score in report.scores:
        lines.append(
            f"  {score.horizon:>2}d IC {_number(score.ic, 3)} "
            f"{format_interval(score.ic_low, score.ic_high, 3)}, hit rate "
            f"{_number(score.hit_rate, 3, sign=False)} of {score.signed_days} days "
            f"(up share {_number(score.up_share, 3, sign=False)})"
        )
    strategy = report.strategy
    if strategy is not None:
        lines.append(
            f"  toy strategy {strategy.start} to {strategy.end}: {strategy.total_return:+.1f}% "
            f"(long {strategy.long_days}, short {strategy.short_days}, flat "
            f"{strategy.flat_days} days); buy and hold {strategy.buy_and_hold:+.1f}%"
        )
    lines += ["", "Caveats:"] + [f"- {note}" for note in report.caveats]
    return "\n".join(lines)

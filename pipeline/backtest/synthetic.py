"""Synthetic daily prices, for trying the backtest where the truth is known.

No real prices ship with newsignal. These series are random walks, optionally with fat tails and
volatility that comes in clusters, as real returns do; `planted_market` adds catalysts whose effect
on the following closes is set by hand, so a reader (or a test) can check that the event study
finds an effect that is there and none that is not. Nothing here is market data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np

from pipeline.backtest.study import PriceSeries
from pipeline.records import DatedCatalyst, Direction

DIRECTION_SIGN = {Direction.BULLISH: 1, Direction.BEARISH: -1, Direction.NEUTRAL: 0}


def random_returns(
    days: int, *, seed: int, volatility: float = 2.0, fat_tails: bool = False
) -> np.ndarray:
    """Daily log returns with standard deviation about `volatility` percent and no drift.

    With `fat_tails`, shocks follow Student's t with 3 degrees of freedom (scaled to the same
    standard deviation) and the volatility itself wanders (a log-AR(1) with a half-life of about
    a month), so calm and stormy spells alternate.
    """
    rng = np.random.default_rng(seed)
    if not fat_tails:
        return rng.normal(0, volatility / 100, days)
    shocks = rng.standard_t(3, days) / np.sqrt(3.0)  # t(3) has variance 3
    log_scale = np.zeros(days)
    for day in range(1, days):
        log_scale[day] = 0.98 * log_scale[day - 1] + 0.14 * rng.normal()
    scale = np.exp(log_scale)
    return shocks * scale / np.sqrt(np.mean(scale**2)) * volatility / 100


def price_series(
    returns: np.ndarray, *, start: date, first_close: float = 100.0,
    close_time: timedelta = timedelta(hours=24), name: str = "synthetic prices",
) -> PriceSeries:
    """Closes on consecutive calendar days from `start`, growing by the given log returns."""
    days = tuple(start + timedelta(days=offset) for offset in range(len(returns)))
    return PriceSeries(days, first_close * np.exp(np.cumsum(returns)), close_time=close_time,
                       name=name)


def prices_csv(prices: PriceSeries) -> str:
    """`date,close` CSV text of a series, as a user's file would hold it."""
    rows = [f"{day.isoformat()},{close:.6f}" for day, close in zip(prices.days, prices.closes,
                                                                    strict=True)]
    return "date,close\n" + "\n".join(rows) + "\n"


def planted_market(
    seed: int,
    *,
    days: int = 1500,
    per_direction: int = 300,
    neutral: int = 100,
    drift: float = 0.5,
    lasting: int = 7,
    volatility: float = 1.0,
    fat_tails: bool = False,
    asset: str = "BTC",
    start: date = date(2020, 1, 1),
) -> tuple[PriceSeries, list[DatedCatalyst]]:
    """Prices and catalysts where each bullish catalyst, published at 10:00 UTC, adds `drift`
    percent a day to the `lasting` closes after its day's close, each bearish one takes as much
    away, and neutral ones do nothing. The true abnormal return at h <= `lasting` closes is
    therefore +h * drift (bullish), -h * drift (bearish) and 0 (neutral); `drift=0` plants nothing.
    """
    returns = random_returns(days, seed=seed, volatility=volatility, fat_tails=fat_tails)
    rng = np.random.default_rng([seed, 1])
    directions = (
        [Direction.BULLISH] * per_direction + [Direction.BEARISH] * per_direction
        + [Direction.NEUTRAL] * neutral
    )
    published = rng.integers(80, days - 20, size=len(directions))
    catalysts = []
    for day, direction in zip(published, directions, strict=True):
        returns[day + 1:day + 1 + lasting] += DIRECTION_SIGN[direction] * drift / 100
        at = datetime.combine(start + timedelta(days=int(day)), time(10), UTC)
        catalysts.append(DatedCatalyst(
            at=at, source="synthetic", category="etf_flows", direction=direction,
            confidence=float(rng.uniform(0.4, 1.0)), assets=[asset],
        ))
    catalysts.sort(key=lambda item: item.at)
    return price_series(returns, start=start), catalysts


def shuffled_dates(catalysts: list[DatedCatalyst], seed: int) -> list[DatedCatalyst]:
    """The same catalysts, each moved to a random day (same time of day) of the span they cover:
    whatever they said no longer has anything to do with the prices that follow."""
    rng = np.random.default_rng(seed)
    first, last = catalysts[0].at, catalysts[-1].at
    span = (last - first).days
    moved = []
    for item in catalysts:
        day = first.date() + timedelta(days=int(rng.integers(0, span + 1)))
        moved.append(DatedCatalyst(
            at=datetime.combine(day, item.at.timetz()), source=item.source,
            category=item.category, direction=item.direction, confidence=item.confidence,
            assets=list(item.assets), figure_keys=list(item.figure_keys),
            event_type=item.event_type,
        ))
    return sorted(moved, key=lambda item: item.at)

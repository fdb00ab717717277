"""The block bootstrap behind the backtest's intervals, and the statistics it resamples.

Observations (events, or signal days) are grouped into blocks of consecutive closes (`Blocks`);
a resample draws blocks with replacement, so observations that share a close or overlap in time
are drawn together. A statistic maps resampled block counts to one value per resample; the
interval is the percentile interval of those values, widened for the number of blocks (see
`bootstrap_intervals`). Nothing here knows about catalysts or prices.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

MIN_BLOCKS = 5  # fewer independent blocks than this give no interval
# Cells of one resampled weight matrix: bounds the bootstrap's memory whatever the event count.
CHUNK_CELLS = 2_000_000

# A statistic maps resampled block counts (resamples x blocks) to one value per resample.
Statistic = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True, slots=True)
class Blocks:
    """Which bootstrap block each observation belongs to: its anchor close // block length."""

    ids: np.ndarray  # per observation, 0 .. count-1
    count: int

    @classmethod
    def of(cls, anchors: np.ndarray, length: int) -> Blocks:
        _, ids = np.unique(np.asarray(anchors) // max(1, length), return_inverse=True)
        return cls(ids.reshape(-1), int(ids.max()) + 1 if len(ids) else 0)

    def totals(self, values: np.ndarray) -> np.ndarray:
        return np.bincount(self.ids, weights=values, minlength=self.count)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator / denominator


def mean_statistic(values: np.ndarray, blocks: Blocks, mask: np.ndarray | None = None) -> Statistic:
    """The mean of `values` (of the observations in `mask`) in each resample."""
    mask = np.ones(len(values), bool) if mask is None else mask
    sums = blocks.totals(np.where(mask, values, 0.0))
    counts = blocks.totals(mask.astype(float))
    return lambda draws: _divide(draws @ sums, draws @ counts)


def spread_statistic(values: np.ndarray, blocks: Blocks, first: np.ndarray,
                     second: np.ndarray) -> Statistic:
    """Mean over `first` minus mean over `second`, both from the same resample."""
    first_mean = mean_statistic(values, blocks, first)
    second_mean = mean_statistic(values, blocks, second)
    return lambda draws: first_mean(draws) - second_mean(draws)


def median_statistic(values: np.ndarray, blocks: Blocks) -> Statistic:
    """The median of `values` in each resample (each observation weighted by its block's draws);
    the mean of the lower and upper weighted medians, so with unit weights it is np.median."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    ids = blocks.ids[order]

    def statistic(draws: np.ndarray) -> np.ndarray:
        cumulative = np.cumsum(draws[:, ids], axis=1)
        half = cumulative[:, -1:] / 2
        lower = ordered[(cumulative >= half).argmax(axis=1)]
        upper = ordered[(cumulative > half).argmax(axis=1)]
        return np.where(half[:, 0] > 0, (lower + upper) / 2, np.nan)

    return statistic


def _weighted_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average ranks of `values` when each observation stands for `weights` copies of itself."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    group = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1  # tie group, in sorted order
    cumulative = np.cumsum(weights[:, order], axis=1)
    before = np.concatenate([np.zeros((len(weights), 1)), cumulative], axis=1)
    ends = np.r_[starts[1:], len(ordered)]
    tied = before[:, ends] - before[:, starts]
    group_rank = before[:, starts] + (tied + 1) / 2
    ranks = np.empty_like(cumulative)
    ranks[:, order] = group_rank[:, group]
    return ranks


def spearman_statistic(first: np.ndarray, second: np.ndarray, blocks: Blocks) -> Statistic:
    """Spearman's rank correlation of two paired series in each resample."""

    def statistic(draws: np.ndarray) -> np.ndarray:
        weights = draws[:, blocks.ids]
        total = weights.sum(axis=1, keepdims=True)
        x = _weighted_ranks(first, weights)
        y = _weighted_ranks(second, weights)
        x = x - (weights * x).sum(axis=1, keepdims=True) / total
        y = y - (weights * y).sum(axis=1, keepdims=True) / total
        covariance = (weights * x * y).sum(axis=1)
        spread = np.sqrt((weights * x * x).sum(axis=1) * (weights * y * y).sum(axis=1))
        return _divide(covariance, spread)

    return statistic


def point_estimate(statistic: Statistic, blocks: Blocks) -> float | None:
    """The statistic on the sample as observed: every block drawn once."""
    value = float(statistic(np.ones((1, blocks.count)))[0]) if blocks.count else math.nan
    return value if math.isfinite(value) else None


def t_quantile(probability: float, freedom: int) -> float:
    """Student's t quantile by its Cornish-Fisher expansion about the normal one: within 0.001 of
    the exact value from 4 degrees of freedom up (MIN_BLOCKS - 1), which is all this module asks."""
    z = NormalDist().inv_cdf(probability)
    v = freedom
    return (
        z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
    )


def bootstrap_intervals(
    statistics: Sequence[Statistic],
    blocks: Blocks,
    *,
    resamples: int,
    seed: int,
    level: float,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> list[tuple[float, float] | None]:
    """Intervals of each statistic from `resamples` block resamples, all from the same seeded
    draws (so the same data and seed give the same interval, whatever else is computed).

    A percentile interval from few blocks is too narrow, so each side's distance from the
    estimate is widened by t(G-1) / z * sqrt(G / (G-1)) for G blocks, then clipped to `bounds`.
    None when there are fewer than MIN_BLOCKS blocks, or when more than a tenth of the resamples
    leave the statistic undefined (a group missing from the resample).
    """
    if blocks.count < MIN_BLOCKS:
        return [None] * len(statistics)
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_CELLS // max(len(blocks.ids), blocks.count))
    collected: list[list[np.ndarray]] = [[] for _ in statistics]
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        picks = rng.integers(0, blocks.count, size=(size, blocks.count))
        offsets = picks + blocks.count * np.arange(size)[:, None]
        draws = np.bincount(offsets.ravel(), minlength=size * blocks.count)
        draws = draws.reshape(size, blocks.count).astype(float)
        for values, statistic in zip(collected, statistics, strict=True):
            values.append(statistic(draws))
    alpha = (1 - level) / 2
    count = blocks.count
    widen = t_quantile(1 - alpha, count - 1) / NormalDist().inv_cdf(1 - alpha)
    widen *= math.sqrt(count / (count - 1))
    intervals: list[tuple[float, float] | None] = []
    for values, statistic in zip(collected, statistics, strict=True):
        finite = np.concatenate(values)
        finite = finite[np.isfinite(finite)]
        estimate = point_estimate(statistic, blocks)
        if len(finite) < 0.9 * resamples or estimate is None:
            intervals.append(None)
            continue
        low, high = np.quantile(finite, [alpha, 1 - alpha])
        low = max(bounds[0], estimate - widen * (estimate - low))
        high = min(bounds[1], estimate + widen * (high - estimate))
        intervals.append((float(low), float(high)))
    return intervals

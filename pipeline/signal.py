"""The daily signal: catalysts aggregated per (UTC day, asset), and its plot.

Each story counts once. Catalysts of near-duplicate articles (syndicated copies, `duplicate_of` set)
never count, and a catalyst restating a figure already seen is a repeat: same category, same asset
and a cited figure with the same (metric, value) as a catalyst at most 24 hours earlier (in this or
an earlier article). Repeats are reported in their own column and left out of every other number.

The net score is the confidence-weighted mean direction, sum(confidence * d) / sum(confidence) with
d = +1 bullish, -1 bearish, 0 neutral, so it lies in [-1, 1]; 0 when there is nothing to weigh. It
is rounded to 6 decimals, so exports do not show float noise (-0.15, not -0.15000000000000002).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from pipeline.records import DatedCatalyst, Direction, SignalRow
from pipeline.store import Store
from pipeline.store.export_queries import signal_catalysts

NOVELTY_WINDOW = timedelta(hours=24)
TOP_CATEGORIES = 3
DIRECTION_SIGN = {Direction.BULLISH: 1, Direction.BEARISH: -1, Direction.NEUTRAL: 0}


@dataclass(slots=True)
class _DayAccumulator:
    counts: Counter[str] = field(default_factory=Counter)
    weighted: float = 0.0
    weight: float = 0.0
    sources: set[str] = field(default_factory=set)
    categories: Counter[str] = field(default_factory=Counter)
    repeats: int = 0

    def add(self, direction: Direction, confidence: float, source: str, category: str) -> None:
        self.counts[direction] += 1
        self.weighted += confidence * DIRECTION_SIGN[direction]
        self.weight += confidence
        self.sources.add(source)
        self.categories[category] += 1

    def row(self, day: date, asset: str) -> SignalRow:
        ranked = sorted(self.categories.items(), key=lambda item: (-item[1], item[0]))
        return SignalRow(
            day=day,
            asset=asset,
            catalysts=sum(self.counts.values()),
            bullish=self.counts[Direction.BULLISH],
            bearish=self.counts[Direction.BEARISH],
            neutral=self.counts[Direction.NEUTRAL],
            net_score=round(self.weighted / self.weight, 6) if self.weight > 0 else 0.0,
            sources=len(self.sources),
            top_categories=[name for name, _ in ranked[:TOP_CATEGORIES]],
            repeats=self.repeats,
        )


def story_sightings(
    catalysts: Iterable[DatedCatalyst], *, asset: str | None = None
) -> Iterator[tuple[DatedCatalyst, str, bool]]:
    """(catalyst, an asset it names, whether it repeats a story already seen) for each catalyst
    and each asset it names (only `asset` when given), in the order given, which must be time
    order. The daily signal counts only the sightings that are not repeats, and so does the
    backtest's event study.
    """
    last_seen: dict[tuple[str, str, str, float], datetime] = {}
    current_day: date | None = None
    for catalyst in catalysts:
        at = catalyst.at
        day = at.astimezone(UTC).date()
        if day != current_day:  # forget stories older than the window, so memory stays small
            current_day = day
            last_seen = {
                key: seen for key, seen in last_seen.items() if at - seen <= NOVELTY_WINDOW
            }
        for tagged in dict.fromkeys(catalyst.assets):
            if asset is not None and tagged != asset:
                continue
            story = [(catalyst.category, tagged, metric, value)
                     for metric, value in catalyst.figure_keys]
            repeat = any(
                key in last_seen and at - last_seen[key] <= NOVELTY_WINDOW for key in story
            )
            last_seen.update(dict.fromkeys(story, at))
            yield catalyst, tagged, repeat


def aggregate_signal(
    catalysts: Iterable[DatedCatalyst],
    *,
    asset: str | None = None,
    since: datetime | None = None,
) -> list[SignalRow]:
    """The signal per (UTC day, asset) of time-ordered catalysts, sorted by day then asset.

    Catalysts before `since` only tell which stories were already seen; catalysts naming no asset
    belong to no row.
    """
    days: dict[tuple[date, str], _DayAccumulator] = {}
    for catalyst, tagged, repeat in story_sightings(catalysts, asset=asset):
        if since is not None and catalyst.at < since:
            continue
        accumulator = days.setdefault(
            (catalyst.at.astimezone(UTC).date(), tagged), _DayAccumulator()
        )
        if repeat:
            accumulator.repeats += 1
        else:
            accumulator.add(
                catalyst.direction, catalyst.confidence, catalyst.source, catalyst.category
            )
    return [days[key].row(*key) for key in sorted(days)]


def daily_signal(
    store: Store,
    *,
    asset: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    min_confidence: float | None = None,
) -> list[SignalRow]:
    """The signal per (UTC day, asset) of the store's catalysts, sorted by day then asset.

    `since` (inclusive) and `until` (exclusive) bound the catalysts counted; catalysts in the 24
    hours before `since` are still read so that a story seen just before the window stays a repeat.
    """
    read_from = since - NOVELTY_WINDOW if since is not None else None
    catalysts = signal_catalysts(
        store, since=read_from, until=until, asset=asset, min_confidence=min_confidence
    )
    return aggregate_signal(catalysts, asset=asset, since=since)


def plot_signal(rows: list[SignalRow], asset: str, output_path: str | Path) -> Path:
    """A PNG of one asset's signal: net score bars per day above, catalyst counts below."""
    # The object-oriented API with the Agg canvas: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    colours = {"bullish": "#2e7d32", "bearish": "#c62828", "neutral": "#9e9e9e"}
    by_day = {row.day: row for row in rows if row.asset == asset}
    figure = Figure(figsize=(11, 6.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    score_axis, count_axis = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]}
    )
    figure.suptitle(f"{asset}: daily news signal (each story counted once)", fontsize=13)
    score_axis.set_ylabel("Net score\n-1 all bearish ... +1 all bullish")
    score_axis.set_ylim(-1.2, 1.2)
    score_axis.axhline(0, color="black", linewidth=0.8)
    score_axis.grid(axis="y", alpha=0.3)
    count_axis.set_ylabel("Catalysts counted")
    count_axis.set_xlabel("Day (UTC)")
    if not by_day:
        score_axis.text(
            0.5, 0.5, f"No catalysts for {asset} in this period", transform=score_axis.transAxes,
            ha="center", va="center", fontsize=12, bbox={"facecolor": "white", "edgecolor": "none"},
        )
        count_axis.set_xticks([])
    else:
        # Every day of the range gets a slot, so quiet days show as gaps, not as nothing.
        first, last = min(by_day), max(by_day)
        days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
        slots = range(len(days))
        scores = [by_day[day].net_score if day in by_day else 0.0 for day in days]
        score_axis.bar(
            slots, scores, width=0.7, zorder=2,
            color=[colours["bullish"] if score >= 0 else colours["bearish"] for score in scores],
        )
        for slot, day, score in zip(slots, days, scores, strict=True):
            if day in by_day:
                score_axis.annotate(
                    f"{score:+.2f}", (slot, score), textcoords="offset points",
                    xytext=(0, 4 if score >= 0 else -12), ha="center", fontsize=8,
                )
        bottom = [0] * len(days)
        for direction in ("bullish", "bearish", "neutral"):
            heights = [getattr(by_day[day], direction) if day in by_day else 0 for day in days]
            count_axis.bar(
                slots, heights, width=0.7, bottom=bottom, color=colours[direction],
                label=direction, zorder=2,
            )
            bottom = [below + height for below, height in zip(bottom, heights, strict=True)]
        count_axis.set_ylim(0, max(bottom) * 1.15 + 0.5)
        count_axis.yaxis.get_major_locator().set_params(integer=True)
        count_axis.grid(axis="y", alpha=0.3)
        count_axis.legend(loc="upper left", fontsize=8, ncols=3)
        step = max(1, math.ceil(len(days) / 10))  # at most ten labels: they must not overlap
        years = sorted({day.year for day in days})
        label_format = "%d %b" if len(years) == 1 else "%d %b %Y"
        labels = [day.strftime(label_format) for day in days]
        count_axis.set_xticks(list(slots)[::step], labels[::step])
        if len(years) == 1:
            count_axis.set_xlabel(f"Day (UTC), {years[0]}")
        count_axis.set_xlim(-0.6, len(days) - 0.4)
    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output_path, format="png")
    return output_path

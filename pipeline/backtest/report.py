"""The backtest report as one self-contained HTML file: tables, and plots embedded as base64 PNGs.

Nothing in the file is fetched when it opens (no scripts, fonts or images from elsewhere), so it
can be mailed or archived as it is. Every number comes from the same `BacktestReport` that
`--json` prints. Group names and sources come from feeds and are escaped (Jinja2 autoescape).
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from pipeline.backtest.study import DIRECTIONS, BacktestReport, format_interval

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
COLOURS = {"bullish": "#2e7d32", "bearish": "#c62828", "neutral": "#757575"}
PNG_COLOURS = 64


def _figure(width: float, height: float):
    # The object-oriented API with the Agg canvas: no pyplot global state, no display needed.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=90, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    """The figure as a PNG of at most PNG_COLOURS colours: a quarter of the bytes of a full-colour
    one for line plots, which keeps reports and notebooks small. No metadata, so the same report
    gives the same bytes."""
    from PIL import Image

    figure.canvas.draw()
    image = Image.frombuffer("RGBA", figure.canvas.get_width_height(),
                             figure.canvas.buffer_rgba()).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(PNG_COLOURS).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def event_window_png(report: BacktestReport) -> bytes:
    """Cumulative average abnormal return around the anchor close, per direction, with bands."""
    figure = _figure(7.5, 3.8)
    axis = figure.subplots()
    for window in report.windows:
        points = [(offset, mean) for offset, mean in zip(window.offsets, window.mean, strict=True)
                  if mean is not None]
        if not points:
            continue
        colour = COLOURS[window.direction]
        events = report.counts.by_direction.get(window.direction, 0)
        axis.plot(*zip(*points, strict=True), marker="o", markersize=3, color=colour,
                  label=f"{window.direction} ({events})")
        band = [
            (offset, low, high)
            for offset, low, high in zip(window.offsets, window.low, window.high, strict=True)
            if low is not None and high is not None
        ]
        if band:
            offsets, lows, highs = zip(*band, strict=True)
            axis.fill_between(offsets, lows, highs, color=colour, alpha=0.15, linewidth=0)
    axis.axhline(0, color="black", linewidth=0.8)
    axis.axvline(0, color="black", linewidth=0.8, linestyle=":")
    axis.set_xlabel("closes from the first close after publication (0)")
    axis.set_ylabel("cumulative abnormal\nlog return, %")
    axis.set_title(
        f"{report.asset}: average path around catalysts, {report.settings.level:.0%} bands",
        fontsize=11,
    )
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="best")
    return _png(figure)


def ic_png(report: BacktestReport) -> bytes:
    """The information coefficient of the daily signal per horizon, with its interval."""
    figure = _figure(5.0, 3.2)
    axis = figure.subplots()
    scores = [score for score in report.scores if score.ic is not None]
    for slot, score in enumerate(scores):
        axis.plot([slot], [score.ic], "o", color="#1f4e79")
        if score.ic_low is not None and score.ic_high is not None:
            axis.vlines(slot, score.ic_low, score.ic_high, color="#1f4e79", linewidth=2)
        axis.annotate(f"{score.days} days", (slot, score.ic), textcoords="offset points",
                      xytext=(8, -3), fontsize=8)
    axis.set_xticks(range(len(scores)), [f"{score.horizon}d" for score in scores])
    axis.set_xlim(-0.6, max(len(scores), 1) - 0.4)
    axis.set_ylim(-1.05, 1.05)
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xlabel("horizon (closes)")
    axis.set_ylabel("rank correlation")
    axis.set_title("Information coefficient of the daily net score", fontsize=11)
    axis.grid(axis="y", alpha=0.3)
    return _png(figure)


def strategy_png(report: BacktestReport) -> bytes | None:
    strategy = report.strategy
    if strategy is None:
        return None
    figure = _figure(7.5, 3.0)
    axis = figure.subplots()
    axis.plot(strategy.days, strategy.equity, color="#1f4e79",
              label="long/flat/short on the signal")
    axis.plot(strategy.days, strategy.hold_equity, color="#999999", label="buy and hold")
    axis.axhline(1, color="black", linewidth=0.8)
    axis.set_ylabel("growth of 1")
    axis.set_title("Toy strategy, no costs", fontsize=11)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="best")
    figure.autofmt_xdate()
    return _png(figure)


def _data_uri(png: bytes | None) -> str | None:
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode()


def _signed(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def _plain(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render_html(report: BacktestReport) -> str:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(["html"]),
        trim_blocks=True, lstrip_blocks=True,
    )
    environment.filters.update(signed=_signed, plain=_plain)
    environment.globals["interval"] = format_interval
    groupings = []
    for grouping in ("confidence", report.settings.by):
        if grouping is None:
            continue
        effects = [e for e in report.effects if e.grouping == grouping]
        groups = list(dict.fromkeys(e.group for e in effects))
        groupings.append((grouping, groups, effects))
    return environment.get_template("report.html").render(
        report=report,
        directions=[str(d) for d in DIRECTIONS],
        overall=[e for e in report.effects if e.grouping == "all"],
        spreads=report.spreads,
        groupings=groupings,
        window_png=_data_uri(event_window_png(report)),
        ic_png=_data_uri(ic_png(report)),
        strategy_png=_data_uri(strategy_png(report)),
    )


def write_html(report: BacktestReport, path: str | Path) -> Path:
    """Write the report to `path` through a temporary file, so a failure leaves no half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(render_html(report), encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path

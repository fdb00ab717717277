"""Does the signal lead prices? `newsignal backtest` sets the catalysts and the daily signal
against the user's own daily closes.

- `pipeline.backtest.study`: the event study and the signal backtest, pure functions from
  catalysts (`DatedCatalyst`) and a `PriceSeries` to a `BacktestReport`, and its text form.
- `pipeline.backtest.stats`: the block bootstrap and the statistics it resamples.
- `pipeline.backtest.data`: the inputs, read at the edge: the price CSV, and the catalysts of one
  asset from the store or from a Parquet dataset.
- `pipeline.backtest.report`: the self-contained HTML report (`templates/report.html`).
- `pipeline.backtest.synthetic`: synthetic prices with planted catalyst effects, for tests, the
  coverage benchmark and the signal notebook.

This module itself stays light (the error type only), so that code which only needs to catch a
`BacktestError` does not load numpy and the signal's modules.
"""


class BacktestError(Exception):
    """The backtest cannot run as asked: bad prices, a grouping the catalysts lack, bad settings."""

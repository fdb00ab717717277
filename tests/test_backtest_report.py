"""`newsignal backtest` in-process: the HTML report is self-contained and shows the JSON's
numbers; bad arguments are one line and exit code 2."""

from __future__ import annotations

import base64
import io
import json
import re

import pytest
from builders import Said, publish
from PIL import Image
from typer.testing import CliRunner

from pipeline.backtest.data import store_catalysts
from pipeline.backtest.report import render_html
from pipeline.backtest.study import BacktestSettings, backtest
from pipeline.backtest.synthetic import planted_market, prices_csv
from pipeline.cli import app
from pipeline.store import Store

runner = CliRunner()
HOSTILE_SOURCE = '<script>alert("feed")</script>'


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A database of 170 BTC catalysts over a synthetic market, and its prices as a CSV file."""
    root = tmp_path_factory.mktemp("backtest")
    prices, catalysts = planted_market(seed=8, days=400, per_direction=70, neutral=30)
    with Store.open(root / "news.db") as store:
        for number, item in enumerate(catalysts):
            source = HOSTILE_SOURCE if number % 5 == 0 else f"feed-{number % 3}"
            publish(store, source, f"story-{number}", item.at, [Said(
                f"Story {number}.", item.category, item.direction, item.confidence,
                tuple(item.assets))])
    (root / "btc.csv").write_text(prices_csv(prices), encoding="utf-8")
    return root


def invoke(market, *extra: str):
    return runner.invoke(app, ["backtest", "--db", str(market / "news.db"), "--prices",
                               str(market / "btc.csv"), "--asset", "BTC", "--resamples", "300",
                               *extra])


def test_html_report_and_json_carry_the_same_numbers(market, tmp_path):
    output = tmp_path / "report.html"
    result = invoke(market, "--by", "source", "--output", str(output), "--json")
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.stdout)
    html = output.read_text(encoding="utf-8")
    assert numbers["asset"] == "BTC" and numbers["counts"]["events"] == 170
    assert numbers["settings"]["horizons"] == [1, 3, 7] and numbers["settings"]["by"] == "source"
    overall = [e for e in numbers["effects"] if e["grouping"] == "all"]
    assert len(overall) == 9
    for row in overall:
        shown = f"<td>{row['horizon']}</td><td class=\"text {row['direction']}\">{row['direction']}"
        shown += f"</td><td>{row['events']}</td><td>{row['blocks']}</td><td>{row['mean']:+.2f}</td>"
        assert shown in html, shown
        if row["mean_low"] is not None:
            assert f"[{row['mean_low']:+.2f}, {row['mean_high']:+.2f}]" in html
    for score in numbers["scores"]:
        assert f"<td>{score['ic']:+.3f}</td>" in html
    assert f"{numbers['strategy']['total_return']:+.1f}%" in html


def test_html_report_is_self_contained_and_escapes_feed_names(market, tmp_path):
    output = tmp_path / "report.html"
    assert invoke(market, "--by", "source", "--output", str(output)).exit_code == 0
    html = output.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 3  # the event window, the IC, the toy strategy
    for encoded in images:
        with Image.open(io.BytesIO(base64.b64decode(encoded))) as image:
            assert image.format == "PNG" and image.size[0] > 400
            assert len(image.getcolors(maxcolors=1_000_000)) > 10
    assert not re.search(r'(src|href)="(?!data:)', html)  # nothing fetched when it opens
    assert "<script" not in html and "&lt;script&gt;alert(&#34;feed&#34;)&lt;/script&gt;" in html
    assert "Multiple testing" in html and "No costs" in html


def test_same_inputs_same_report_bytes(market):
    from pipeline.backtest.data import read_prices

    inputs = store_catalysts(market / "news.db", asset="BTC")
    prices = read_prices(market / "btc.csv")
    settings = BacktestSettings(resamples=300)
    first = render_html(backtest(inputs, prices, "BTC", settings))
    assert render_html(backtest(inputs, prices, "BTC", settings)) == first


def test_text_summary_without_output_or_json(market):
    result = invoke(market, "--horizons", "2,1", "--min-confidence", "0.5")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("BTC: catalysts from database ")
    assert " 2d bullish-bearish " in result.stdout and " 7d " not in result.stdout
    assert "Caveats:\n- Multiple testing" in result.stdout


def test_parquet_source_through_the_cli(market, tmp_path):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from pipeline.export import ExportFilters, export_table

    with Store.open(market / "news.db") as store:
        export_table(store, "catalysts", tmp_path / "all.parquet", "parquet", ExportFilters())
    table = pq.read_table(tmp_path / "all.parquet")
    days = pc.strftime(table.column("published_at"), format="%Y-%m-%d")
    for day in sorted(set(days.to_pylist())):
        part = tmp_path / "backfill" / "catalysts" / f"date={day}"
        part.mkdir(parents=True)
        pq.write_table(table.filter(pc.equal(days, day)), part / "part-0.parquet")
    result = runner.invoke(app, ["backtest", "--from-parquet", str(tmp_path / "backfill"),
                                 "--prices", str(market / "btc.csv"), "--asset", "BTC",
                                 "--resamples", "300", "--json"])
    assert result.exit_code == 0, result.output
    numbers = json.loads(result.stdout)
    assert numbers["catalysts_from"].startswith("Parquet dataset ")
    assert numbers["counts"]["events"] == 170


@pytest.mark.parametrize(("arguments", "message"), [
    (["--from-parquet", "."], "exactly one of --db and --from-parquet"),
    (["--horizons", "1,x"], "--horizons '1,x': expected whole numbers"),
    (["--horizons", "0"], "--horizons '0': expected whole numbers of days, 1 or more"),
    (["--close-time", "25:00"], "--close-time '25:00': not a time of day"),
    (["--by", "event_type"], "--by event_type: the catalysts in database"),
    (["--asset", "DOGE"], "no catalysts about DOGE in database"),
    (["--date-format", "%d/%m/%Y"], "does not match --date-format %d/%m/%Y"),
], ids=["both-sources", "horizon-text", "horizon-zero", "close-time", "event-type", "no-asset",
        "date-format"])
def test_bad_arguments_are_one_line_and_exit_2(market, arguments, message):
    result = invoke(market, *arguments)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("newsignal: error: ")
    assert message in lines[0], lines[0]


def test_missing_inputs_are_exit_2(market, tmp_path):
    base = ["backtest", "--prices", str(market / "btc.csv"), "--asset", "BTC"]
    cases = [
        (base, "exactly one of --db and --from-parquet"),
        ([*base, "--db", str(tmp_path / "absent.db")], "no such database"),
        ([*base, "--from-parquet", str(tmp_path / "absent")], "no such directory"),
        ([*base, "--from-parquet", str(tmp_path)], "no catalysts/ dataset in it"),
        (["backtest", "--prices", str(tmp_path / "none.csv"), "--asset", "BTC", "--db",
          str(market / "news.db")], "no such price file"),
    ]
    for arguments, message in cases:
        result = runner.invoke(app, arguments)
        assert result.exit_code == 2 and message in result.output, (arguments, result.output)


def test_a_gap_in_the_prices_names_the_line(market, tmp_path):
    lines = (market / "btc.csv").read_text(encoding="utf-8").splitlines()
    gapped = tmp_path / "gapped.csv"
    gapped.write_text("\n".join(lines[:100] + lines[103:]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["backtest", "--db", str(market / "news.db"), "--prices",
                                 str(gapped), "--asset", "BTC"])
    assert result.exit_code == 2
    assert f"{gapped} line 101: 3 days missing between" in result.output

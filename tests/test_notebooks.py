"""The notebooks run top to bottom against a database, and are committed with their outputs from
the demo corpus (`make notebooks`), small, so a reader on a code host sees the tables and plots."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from builders import HOSTILE_TEXT, build_review_db
from nbclient import NotebookClient

from pipeline.backtest.data import store_catalysts
from pipeline.backtest.synthetic import price_series, prices_csv, random_returns
from pipeline.signal import daily_signal, story_sightings
from pipeline.store import Store

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
MAX_NOTEBOOK_BYTES = 200_000
MAX_PNGS = 4
# Paths of the machine that ran the notebooks must not reach the committed outputs.
MASKS = ((r"127\.0\.0\.1:\d+", "PORT"), (r"\barticle \d+", "article ID"), (r"\d+\.\d+", "#"))
MACHINE_PATHS = re.compile(r"/tmp/|/home/|/root/|/work/|/Users/|[A-Z]:\\\\")


@pytest.fixture(scope="module")
def notebook_db(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("notebooks") / "review.db"
    return path, build_review_db(path)


def execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    # "python3" resolves to the interpreter running the tests (jupyter_client swaps in
    # sys.executable), so the kernel sees this venv and its `pipeline` package.
    NotebookClient(notebook, kernel_name="python3", timeout=180,
                   resources={"metadata": {"path": str(workdir)}}).execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode, mime: str) -> list[str]:
    return [
        output["data"][mime] if mime in output.get("data", {}) else output.get("text", "")
        for cell in notebook.cells if cell.cell_type == "code"
        for output in cell.outputs
        if mime in output.get("data", {}) or (mime == "text/plain" and "text" in output)
    ]


def test_notebooks_exist():
    assert [path.name for path in NOTEBOOKS] == ["review.ipynb", "signal.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_notebooks_carry_small_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert [cell["execution_count"] for cell in code] == list(range(1, len(code) + 1))
    assert any(cell["outputs"] for cell in code)
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES
    pngs = [output for cell in code for output in cell["outputs"]
            if "image/png" in output.get("data", {})]
    assert 1 <= len(pngs) <= MAX_PNGS
    for cell in code:
        for output in cell["outputs"]:
            assert not MACHINE_PATHS.search(json.dumps(output)), (cell["id"], output)


@pytest.mark.slow
def test_review_notebook_renders_an_article(notebook_db, tmp_path, monkeypatch):
    path, ids = notebook_db
    monkeypatch.setenv("NEWSIGNAL_DB", str(path))
    monkeypatch.setenv("NEWSIGNAL_ARTICLE", str(ids["hostile"]))
    notebook = execute("review.ipynb", tmp_path)
    html = "".join(outputs(notebook, "text/html"))
    # displaCy drew the article's spans, with the hostile text escaped, never live markup.
    assert "FIGURE:hack_amount" in html and "BEARISH · security" in html
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    printed = "".join(outputs(notebook, "text/plain"))
    assert "4 processed articles" in printed
    assert f"article {ids['hostile']}:" in printed
    # The table lists the article's catalysts; the chart covers the whole database.
    table = next(part for part in outputs(notebook, "text/html") if "<table id=\"T_" in part)
    assert HOSTILE_TEXT.split("<")[0] in table and ">0.80<" in table and "unreviewed" in table
    assert "8 catalysts of original articles in 6 categories" in printed
    assert len(outputs(notebook, "image/png")) == 1


@pytest.mark.slow
def test_signal_notebook_plots_the_daily_signal_and_backtests_it(notebook_db, tmp_path,
                                                                   monkeypatch):
    path, _ = notebook_db
    with Store.open(path) as store:
        expected = daily_signal(store, asset="BTC")
    inputs = store_catalysts(path, asset="BTC")
    events = sum(1 for _, _, repeat in story_sightings(inputs.catalysts) if not repeat)
    # The user's own prices: a CSV of daily closes around the catalysts.
    start = inputs.catalysts[0].at.date() - timedelta(days=90)
    prices = tmp_path / "prices.csv"
    prices.write_text(prices_csv(price_series(random_returns(200, seed=1), start=start)),
                      encoding="utf-8")
    monkeypatch.setenv("NEWSIGNAL_DB", str(path))
    monkeypatch.setenv("NEWSIGNAL_PRICES", str(prices))
    monkeypatch.delenv("NEWSIGNAL_ASSET", raising=False)
    notebook = execute("signal.ipynb", tmp_path)
    printed = "".join(outputs(notebook, "text/plain"))
    latest = expected[-1]
    assert f"BTC: {len(expected)} days, latest {latest.day} net score {latest.net_score:+.3f}" in (
        printed)
    assert f"{events} BTC catalysts against {prices}, " in printed
    assert "IC 1d " in printed and "intervals exclude zero" in printed
    # plot_signal's PNG, the inline chart, the event window and the IC
    assert len(outputs(notebook, "image/png")) == 4


def comparable(notebook) -> list[tuple[str, list[str], int]]:
    """Per code cell: printed text, and how many PNGs it shows. Masked: decimals (their last
    digits may differ across machines), the demo server's port and article ids (the order in
    which concurrent fetches finish sets them)."""
    cells = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        texts = ["".join(output["text"]) for output in cell["outputs"] if "text" in output]
        for pattern, mask in MASKS:
            texts = [re.sub(pattern, mask, text) for text in texts]
        pngs = sum("image/png" in output.get("data", {}) for output in cell["outputs"])
        cells.append((cell["id"], texts, pngs))
    return cells


@pytest.mark.slow
@pytest.mark.parametrize("name", [path.name for path in NOTEBOOKS])
def test_committed_outputs_are_the_demo_corpus_outputs(name, demo_result, monkeypatch):
    monkeypatch.setenv("NEWSIGNAL_DB", "demo-out/demo.db")
    for variable in ("NEWSIGNAL_ASSET", "NEWSIGNAL_ARTICLE", "NEWSIGNAL_PRICES"):
        monkeypatch.delenv(variable, raising=False)
    committed = nbformat.read(NOTEBOOKS_DIR / name, as_version=4)
    fresh = execute(name, demo_result.output_dir.parent)  # where demo-out/demo.db resolves
    assert comparable(fresh) == comparable(committed), (
        f"{name}: the committed outputs are stale; run `make notebooks` and commit the result")

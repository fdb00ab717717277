"""The notebooks run top to bottom against a database, and are committed without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from test_review import HOSTILE_TEXT, build_review_db

from pipeline.signal import daily_signal
from pipeline.store import Store

NOTEBOOKS_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


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
def test_committed_notebooks_have_no_outputs(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]


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
    assert "8 catalysts in 6 categories" in printed
    assert len(outputs(notebook, "image/png")) == 1


@pytest.mark.slow
def test_signal_notebook_plots_the_daily_signal(notebook_db, tmp_path, monkeypatch):
    path, _ = notebook_db
    monkeypatch.setenv("NEWSIGNAL_DB", str(path))
    monkeypatch.delenv("NEWSIGNAL_ASSET", raising=False)
    with Store.open(path) as store:
        expected = daily_signal(store, asset="BTC")
    notebook = execute("signal.ipynb", tmp_path)
    printed = "".join(outputs(notebook, "text/plain"))
    latest = expected[-1]
    assert f"BTC: {len(expected)} days, latest {latest.day} net score {latest.net_score:+.3f}" in (
        printed)
    assert len(outputs(notebook, "image/png")) == 2  # plot_signal's PNG and the inline chart

"""Re-run the notebooks on the demo corpus and save them with their outputs (`make notebooks`).

The committed notebooks carry the outputs of this run, so a reader on a code host sees the tables
and plots; tests/test_notebooks.py re-executes them and checks the committed text still matches.
The demo database goes to `demo-out/demo.db` (what `make demo` writes), and the notebooks run from
the repository root with `NEWSIGNAL_DB=demo-out/demo.db`, so no machine's paths enter the outputs.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from pipeline.demo import run_demo  # noqa: E402

DEMO_DB = "demo-out/demo.db"  # relative to the repository root, as the outputs print it
# What changes on every run though nothing did: pandas Styler's random table ids ("T_f349f") and
# object addresses in reprs ("<... Styler at 0x7f245b7fa190>").
STYLER_ID = re.compile(r"\bT_[0-9a-f]{5}(?=[_\"])")
ADDRESS = re.compile(r" at 0x[0-9a-f]+>")


def steady(notebook: nbformat.NotebookNode) -> None:
    """Give each Styler table an id by its order in the notebook and drop object addresses, so
    that a refresh changes the committed outputs only where the results changed."""
    ids: dict[str, str] = {}

    def rename(match: re.Match) -> str:
        return ids.setdefault(match.group(0), f"T_{len(ids):05d}")

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str):
                    output["data"][mime] = ADDRESS.sub(">", STYLER_ID.sub(rename, value))


def main() -> None:
    run_demo(REPO_ROOT / "demo-out")
    os.environ["NEWSIGNAL_DB"] = DEMO_DB
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, kernel_name="python3", timeout=300, record_timing=False,
                       resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
        steady(notebook)
        nbformat.write(notebook, path)
        print(f"{path.relative_to(REPO_ROOT)}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()

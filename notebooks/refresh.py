"""Re-run the notebooks on the demo corpus and save them with their outputs (`make notebooks`).

The committed notebooks carry the outputs of this run, so a reader on a code host sees the tables
and plots; tests/test_notebooks.py re-executes them and checks the committed text still matches.
The demo database goes to `demo-out/demo.db` (what `make demo` writes), and the notebooks run from
the repository root with `NEWSIGNAL_DB=demo-out/demo.db`, so no machine's paths enter the outputs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from pipeline.demo import run_demo  # noqa: E402

DEMO_DB = "demo-out/demo.db"  # relative to the repository root, as the outputs print it


def main() -> None:
    run_demo(REPO_ROOT / "demo-out")
    os.environ["NEWSIGNAL_DB"] = DEMO_DB
    for path in sorted((REPO_ROOT / "notebooks").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(notebook, kernel_name="python3", timeout=300, record_timing=False,
                       resources={"metadata": {"path": str(REPO_ROOT)}}).execute()
        nbformat.write(notebook, path)
        print(f"{path.relative_to(REPO_ROOT)}: {path.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()

"""What each extraction step contributes, on the dev halves of both benchmarks.

Runs `extract_article` over the dev half of each benchmark with every step in turn switched
off (the rest as shipped) and prints F1/P/R per benchmark, with the difference to the shipped
extractor. A step that does not help on both dev halves does not ship (models/EXTRACTION_CARD.md).

    python benchmarks/extraction_ablation.py [--datasets ../shared/datasets] [--split dev]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline import extract  # noqa: E402
from pipeline.evaluation.extraction import evaluate_extraction, load_benchmark, split_ids  # noqa: E402

BENCHMARKS = ("article-extraction-benchmark", "web-content-extraction")


@contextmanager
def patched(name: str, value: object) -> Iterator[None]:
    saved = getattr(extract, name)
    setattr(extract, name, value)
    try:
        yield
    finally:
        setattr(extract, name, saved)


@contextmanager
def without_rule(rule: str) -> Iterator[None]:
    rules = {name: check for name, check in extract.PARAGRAPH_RULES.items() if name != rule}
    with patched("PARAGRAPH_RULES", rules):
        yield


@contextmanager
def chooser_closed() -> Iterator[None]:
    from pipeline.extract_choice import shipped_chooser

    chooser = shipped_chooser()
    saved = chooser.threshold
    chooser.threshold = 1.0  # no probability exceeds it: the base is always kept
    try:
        yield
    finally:
        chooser.threshold = saved


@contextmanager
def old_index_rule() -> Iterator[None]:
    # the rule before: a declared listing without two prose paragraphs, linked headlines or not
    with patched("INDEX_MIN_HEADLINES", 0), patched("INDEX_MIN_HEADLINE_SHARE", 0.0):
        yield


@contextmanager
def as_shipped() -> Iterator[None]:
    yield


VARIANTS: dict[str, Callable[[], object]] = {
    "shipped": as_shipped,
    "- chooser (base text always)": chooser_closed,
    "- recall paragraphs within the span": lambda: patched("within_span", lambda base, wide: base),
    "- other stories' text keeps an alternative out":
        lambda: patched("reads_other_stories", lambda tree, base, alternative: False),
    "+ recall merged on every page (no structure gate)":
        lambda: patched("RECALL_MIN_DROPPED_WORDS", 0),
    "- full mode when precise < 500 chars": lambda: patched("PRECISE_MIN_CHARS", 0),
    "- boilerplate node removal": lambda: patched("_remove_boilerplate_nodes", lambda tree: None),
    "- repeated headline dropped": lambda: patched("DROP_REPEATED_HEADLINE", False),
    **{f"- paragraph rule {rule}": (lambda rule=rule: without_rule(rule))
       for rule in extract.PARAGRAPH_RULES},
    "+ old index rule (no linked headlines needed)": old_index_rule,
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--split", default="dev", choices=("dev", "test"))
    args = parser.parse_args(argv)

    benches = {name: args.datasets / name for name in BENCHMARKS}
    pages = {name: load_benchmark(path, split_ids(path, args.split)) for name, path in benches.items()}
    print(f"{'variant':<48}" + "  ".join(f"{name:<36}" for name in BENCHMARKS))
    shipped: dict[str, float] = {}
    for label, variant in VARIANTS.items():
        cells = []
        for name, path in benches.items():
            with variant():
                report = evaluate_extraction(path, pages=pages[name])
            shipped.setdefault(name, report.f1)
            delta = report.f1 - shipped[name]
            cells.append(f"F1 {report.f1:.4f} ({delta:+.4f}) P {report.precision:.3f} "
                         f"R {report.recall:.3f}")
        print(f"{label:<48}" + "  ".join(cells), flush=True)


if __name__ == "__main__":
    main()

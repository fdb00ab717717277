"""How the cost of one article grows with its length: near-linear, or not.

Hostile or odd pages (a 340 KB wall of "Bitcoin fell 5%.", a catalyst sentence repeated for 250 KB,
one paragraph with thousands of figures) once took minutes in the NLP stages and the review page,
because lookups rescanned the text for every figure, sentence or tag. This benchmark analyses
texts of doubling length with the whole pipeline (direction model included) and renders their
review page, and prints seconds per 100,000 characters for each length: a flat column is linear
cost, a column doubling with the length is quadratic. Not a test: timings depend on the machine.

    .venv/bin/python benchmarks/long_text_bench.py [--sizes 25000,50000,100000,200000]
"""

from __future__ import annotations

import argparse
import time

SHAPES = {
    "figure sentences": "Bitcoin fell 5% to $88,000 on Tuesday. ",
    "catalyst sentences": "Bitcoin fell 5% as ETF outflows hit $258 million on Thursday. ",
    "one paragraph of figures": "5%, $7.3 million, 1,200 BTC and 0.96 ratio; ",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="25000,50000,100000,200000")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    from pipeline.nlp import analyze, build_nlp
    from pipeline.review.highlight import Highlight, render_text

    nlp = build_nlp()
    nlp("Warm-up: Bitcoin fell 2% as ETF outflows reached $100 million.")
    print(f"{'text':<26} {'chars':>8} {'nlp s':>7} {'s/100k':>7} {'page s':>7} {'s/100k':>7}")
    for shape, unit in SHAPES.items():
        for size in sizes:
            text = unit * (size // len(unit))
            started = time.perf_counter()
            analysis = analyze(nlp(text))
            nlp_seconds = time.perf_counter() - started
            tags = [Highlight(f"f{i}", "figure", f.start_char, f.end_char)
                    for i, f in enumerate(analysis.figures)]
            tags += [Highlight(f"c{i}", "catalyst", c.start_char, c.end_char)
                     for i, c in enumerate(analysis.catalysts)]
            started = time.perf_counter()
            render_text(text, tags)
            page_seconds = time.perf_counter() - started
            per = 100_000 / len(text)
            print(f"{shape:<26} {len(text):>8} {nlp_seconds:7.2f} {nlp_seconds * per:7.2f} "
                  f"{page_seconds:7.2f} {page_seconds * per:7.2f}")


if __name__ == "__main__":
    main()

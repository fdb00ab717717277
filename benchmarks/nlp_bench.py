"""How much our entity, figure and conflict components add to bare `en_core_web_sm`, and what
the trained entity recogniser costs against the pipeline it replaced.

Runs `nlp.pipe` over the same texts (the gold articles, repeated), after a warm-up, best of
several interleaved rounds each, with:
- `load_base_model()`, the bare model (goal for ours: at most 1.30x);
- the same without lemmatizer and attribute_ruler (what `build_nlp` leaves out);
- the structure `build_nlp` had before the trained recogniser: en_core_web_sm's own `ner` with
  the gazetteer ruler before it, then cleanup, figures and conflicts (goal for ours: at most
  1.2x of it, measured in the same run);
- `build_nlp(catalysts=False)`.
Not a test: timings depend on the machine and its load.

    .venv/bin/python benchmarks/nlp_bench.py [--repeat 8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
GOLD_DIR = REPO_ROOT / "models" / "data" / "gold"


def texts(repeat: int) -> list[str]:
    articles = [p.read_text(encoding="utf-8") for p in sorted(GOLD_DIR.glob("*.txt"))]
    return articles * repeat


def time_once(nlp, corpus: list[str]) -> float:
    started = time.perf_counter()
    for _doc in nlp.pipe(corpus, batch_size=32):
        pass
    return time.perf_counter() - started


def best_times(pipelines: dict, corpus: list[str], rounds: int) -> dict[str, float]:
    """Best time of each pipeline; rounds interleave them so load changes hit all alike."""
    for nlp in pipelines.values():
        list(nlp.pipe(corpus[:4]))  # warm-up: lazy initialisation, caches
    best = {name: float("inf") for name in pipelines}
    for _ in range(rounds):
        for name, nlp in pipelines.items():
            best[name] = min(best[name], time_once(nlp, corpus))
    return best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=8, help="copies of the gold corpus")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds; the best counts")
    args = parser.parse_args(argv)

    from pipeline.nlp import build_nlp, load_base_model

    corpus = texts(args.repeat)
    characters = sum(map(len, corpus))
    times = best_times(
        {
            "base": load_base_model(),
            "base_trimmed": load_base_model(exclude=["lemmatizer", "attribute_ruler"]),
            "stock_ner": stock_ner_pipeline(),
            "ours": build_nlp(catalysts=False),
        },
        corpus,
        args.rounds,
    )
    base, base_trimmed, ours = times["base"], times["base_trimmed"], times["ours"]
    stock = times["stock_ner"]
    print(f"{len(corpus)} texts, {characters:,} characters, best of {args.rounds} rounds")
    print(f"en_core_web_sm (load_base_model)           {base:7.2f} s")
    print(f"en_core_web_sm without the two             {base_trimmed:7.2f} s")
    print(f"before: its own ner, ruler before it       {stock:7.2f} s")
    print(f"build_nlp(catalysts=False)                 {ours:7.2f} s")
    print(f"ratio ours / bare                          {ours / base:7.2f}  (goal <= 1.30)")
    print(f"ratio ours / bare without the two          {ours / base_trimmed:7.2f}")
    print(f"ratio ours / before                        {ours / stock:7.2f}  (goal <= 1.20)")


def stock_ner_pipeline():
    """`build_nlp`'s structure before the trained recogniser: en_core_web_sm's `ner` with the
    gazetteer ruler placed before it, cleanup, figures (rules alone, no learned metric choice)
    and conflicts."""
    from pipeline.nlp import MODELS_DIR, conflicts, entities, figures, load_base_model  # noqa: F401

    nlp = load_base_model(exclude=["lemmatizer", "attribute_ruler"])
    nlp.add_pipe("newsignal_entities", before="ner",
                 config={"patterns_dir": str(MODELS_DIR / "patterns")})
    nlp.add_pipe("newsignal_entity_cleanup", after="ner")
    nlp.add_pipe("newsignal_figures", config={"metrics_path": str(MODELS_DIR / "metrics.yaml"),
                                              "words_path": str(MODELS_DIR / "figure_words.yaml"),
                                              "metric_model_path": ""})
    nlp.add_pipe("newsignal_conflicts")
    return nlp


if __name__ == "__main__":
    main()

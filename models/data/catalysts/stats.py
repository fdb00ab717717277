"""Print counts of the catalyst sentence set per split x category x direction.

Usage: python models/data/catalysts/stats.py  (prints a Markdown table for README.md)
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPLIT_FILES = {"train": ("train.jsonl", "train_article_style.jsonl"), "heldout": ("heldout.jsonl",)}
SPLITS = tuple(SPLIT_FILES)
DIRECTIONS = ("bearish", "bullish", "neutral")


def load(split: str) -> list[dict]:
    rows = []
    for name in SPLIT_FILES[split]:
        with open(HERE / name, encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def main() -> None:
    rows = {split: load(split) for split in SPLITS}
    counts = Counter(
        (split, row["category"], row["direction"]) for split in SPLITS for row in rows[split]
    )
    categories = sorted({category for _, category, _ in counts}, key=lambda c: (c == "none", c))
    header = [f"{split} {d[:4]}" for split in SPLITS for d in DIRECTIONS] + ["total"]
    print("| category | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    for category in categories + ["**total**"]:
        cells = [
            sum(
                n for (s, c, d), n in counts.items()
                if s == split and d == direction and category in (c, "**total**")
            )
            for split in SPLITS
            for direction in DIRECTIONS
        ]
        print(f"| {category} | " + " | ".join(map(str, cells)) + f" | {sum(cells)} |")
    hard = Counter(
        (row["hard_case"], split, row["direction"])
        for split in SPLITS
        for row in rows[split]
        if row["hard_case"]
    )
    print()
    print("| hard_case | " + " | ".join(header[:-1]) + " |")
    print("|---" * len(header) + "|")
    for tag in sorted({tag for tag, _, _ in hard}):
        cells = [hard[(tag, split, direction)] for split in SPLITS for direction in DIRECTIONS]
        print(f"| {tag} | " + " | ".join(map(str, cells)) + " |")

if __name__ == "__main__":
    main()

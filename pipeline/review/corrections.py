"""Reviewers' judgements exported as gold data.

`gold` (JSON Lines) has one line per judged tag, in the shape of the team's catalyst training sets
(`models/data/catalysts/*.jsonl`: `text`, `direction`, `category`), so the direction trainer and
evaluator read it as it is:
- a catalyst accepted, corrected or added by hand -> its sentence with the reviewed direction and
  category;
- a catalyst rejected -> "this sentence is not a catalyst": category "none", direction "neutral";
- figures and entities -> lines with `"kind": "figure"` / `"entity"` carrying the reviewed values
  and `valid` (false when rejected). Readers of catalyst data keep only lines whose `kind` is
  "catalyst".
Values come from the snapshot stored with each judgement, so the export stays right after
`reprocess` has replaced the model's rows.

`labelstudio` writes Label Studio's JSON import format: one task per reviewed article with its
text, the model's tags as `predictions` and the reviewed tags as `annotations` (rejected ones
left out), regions as character offsets. `label_studio_config` gives the matching labelling
config.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from pipeline.records import Correction
from pipeline.store import Store
from pipeline.store import review_queries as queries
from pipeline.times import utc_iso

FORMATS = ("gold", "labelstudio")
NOT_A_CATALYST = {"category": "none", "direction": "neutral"}


def _gold_line(correction: Correction) -> dict[str, Any]:
    fields = correction.fields
    was = fields.get("was", {})
    kind = correction.target_kind
    action = correction.action
    common = {
        "kind": kind,
        "action": action,
        "article_id": correction.article_id,
        "source": "review",
        "reviewer": correction.reviewer,
        "reviewed_at": utc_iso(correction.created_at),
        "correction_id": correction.id,
    }
    if kind == "catalyst":
        if action == "add":
            return {
                "text": fields["sentence"],
                "direction": fields["direction"],
                "category": fields["category"],
                "start_char": fields["start_char"],
                "end_char": fields["end_char"],
                "assets": fields.get("assets", []),
                **common,
                "catalyst_id": None,
            }
        judged = {"direction": was["direction"], "category": was["category"]}
        if action == "reject":
            judged = dict(NOT_A_CATALYST)
        elif action == "correct":
            judged |= {k: fields[k] for k in ("direction", "category") if k in fields}
        return {
            "text": was["sentence"],
            **judged,
            "start_char": was["start_char"],
            "end_char": was["end_char"],
            "assets": fields.get("assets", was.get("assets", [])),
            **common,
            "catalyst_id": correction.target_id,
            "model_direction": was["direction"],
            "model_category": was["category"],
            "model_confidence": was.get("confidence"),
            "model": was.get("model"),
        }
    names = {
        "figure": ("value", "value_high", "unit", "metric", "asset", "period", "qualifier"),
        "entity": ("label", "ticker"),
    }[kind]
    reviewed = {name: fields.get(name, was.get(name)) for name in names}
    return {
        "text": was["text"],
        **reviewed,
        "valid": action != "reject",
        "start_char": was["start_char"],
        "end_char": was["end_char"],
        **common,
        f"{kind}_id": correction.target_id,
        "model_values": {name: was.get(name) for name in names},
        "model": was.get("model"),
    }


def gold_records(
    store: Store, kinds: Iterable[str] = ("catalyst", "figure", "entity")
) -> Iterator[dict[str, Any]]:
    """One gold record per judged tag (its latest judgement) and per added catalyst."""
    wanted = set(kinds)
    for correction in queries.latest_corrections_all(store):
        if correction.target_kind in wanted:
            yield _gold_line(correction)


def _region(
    region_id: str, start: int, end: int, text: str, control: str, label: str,
    score: float | None = None,
) -> dict[str, Any]:
    region: dict[str, Any] = {
        "id": region_id,
        "from_name": control,
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": end, "text": text, "labels": [label]},
    }
    if score is not None:
        region["score"] = score
    return region


def _catalyst_regions(
    region_id: str, start: int, end: int, text: str, direction: str, category: str,
    score: float | None = None,
) -> list[dict[str, Any]]:
    # One region labelled by two controls: Label Studio pairs results that share an id.
    return [
        _region(region_id, start, end, text, "direction", direction, score),
        _region(region_id, start, end, text, "category", category, score),
    ]


def label_studio_tasks(store: Store) -> list[dict[str, Any]]:
    """Label Studio tasks for every article with at least one judgement."""
    tasks = []
    for article_id in queries.reviewed_article_ids(store):
        article = queries.article(store, article_id)
        tags = queries.article_tags(store, article_id)
        states = queries.latest_corrections(store, article_id)
        predicted: list[dict[str, Any]] = []
        models = set()
        for stored in tags.catalysts:
            catalyst = stored.tag
            models.add(stored.model)
            predicted += _catalyst_regions(
                f"catalyst-{stored.id}", catalyst.start_char, catalyst.end_char,
                catalyst.sentence, str(catalyst.direction), catalyst.category,
                catalyst.confidence,
            )
        for stored in tags.figures:
            figure = stored.tag
            predicted.append(_region(f"figure-{stored.id}", figure.start_char, figure.end_char,
                                     figure.text, "figure", figure.metric))
        for stored in tags.entities:
            entity = stored.tag
            predicted.append(_region(f"entity-{stored.id}", entity.start_char, entity.end_char,
                                     entity.text, "entity", entity.label))
        annotated: list[dict[str, Any]] = []
        for (kind, tag_id), correction in sorted(states.items()):
            if correction.action == "reject":
                continue
            record = _gold_line(correction)
            region_id = f"{kind}-{tag_id}"
            if kind == "catalyst":
                annotated += _catalyst_regions(
                    region_id, record["start_char"], record["end_char"], record["text"],
                    record["direction"], record["category"],
                )
            else:
                label = record["metric"] if kind == "figure" else record["label"]
                annotated.append(_region(region_id, record["start_char"], record["end_char"],
                                         record["text"], kind, label))
        added = queries.added_catalysts(store, article_id)
        for correction in added:
            record = _gold_line(correction)
            annotated += _catalyst_regions(
                f"added-{correction.id}", record["start_char"], record["end_char"],
                record["text"], record["direction"], record["category"],
            )
        reviewers = sorted({c.reviewer for c in [*states.values(), *added]})
        tasks.append({
            "id": article_id,
            "data": {
                "text": article.text,
                "title": article.title,
                "url": article.url,
                "article_id": article_id,
                "source": article.source,
                "published": utc_iso(article.published_at or article.fetched_at),
            },
            "predictions": [{"model_version": ", ".join(sorted(models)) or "newsignal",
                             "result": predicted}],
            "annotations": [{"result": annotated, "ground_truth": True,
                             "meta": {"reviewers": reviewers}}],
        })
    return tasks


def label_studio_config(store: Store) -> str:
    """The labelling config (XML) matching `label_studio_tasks`, with this database's labels."""
    from xml.sax.saxutils import quoteattr

    choices = queries.filter_choices(store)
    categories = sorted({*choices["categories"], *(
        c.fields.get("category", "") for c in queries.added_catalysts(store)
    ), NOT_A_CATALYST["category"]} - {""})
    labels = {
        "direction": ["bearish", "bullish", "neutral"],
        "category": categories,
        "figure": choices["metrics"],
        "entity": choices["labels"],
    }
    lines = ["<View>"]
    for control, values in labels.items():
        lines.append(f'  <Labels name="{control}" toName="text">')
        lines += [f"    <Label value={quoteattr(value)}/>" for value in values]
        lines.append("  </Labels>")
    lines += ['  <Text name="text" value="$text"/>', "</View>"]
    return "\n".join(lines) + "\n"


def export_corrections(
    store: Store,
    output: str | Path,
    fmt: str = "gold",
    *,
    kinds: Iterable[str] = ("catalyst", "figure", "entity"),
) -> int:
    """Write the reviewed data to `output` ("-" for stdout); returns the number of records
    (gold) or tasks (labelstudio)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown corrections format {fmt!r}: use one of {', '.join(FORMATS)}")
    with _opened(output) as handle:
        if fmt == "labelstudio":
            tasks = label_studio_tasks(store)
            handle.write(json.dumps(tasks, ensure_ascii=False, indent=1) + "\n")
            return len(tasks)
        count = 0
        for record in gold_records(store, kinds):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count


@contextmanager
def _opened(output: str | Path) -> Iterator[TextIO]:
    if str(output) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        yield handle

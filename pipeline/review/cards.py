"""The article page's view of its tags: one `Card` per tag (its highlight in the text, its facts,
its review state and the values a correction form starts from), in text order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.records import ArticleTags, Correction, StoredTag
from pipeline.review.highlight import Highlight
from pipeline.times import utc_iso

STATE_LABELS = {"unreviewed": "unreviewed", "accept": "accepted", "reject": "rejected",
                "correct": "corrected", "add": "added"}


@dataclass(slots=True)
class Card:
    """One tag as the page shows it: highlight, facts, review state."""

    key: str
    kind: str
    tag_id: int | None
    text: str
    facts: list[tuple[str, str]]
    highlight: Highlight
    state: str  # unreviewed, accept, reject, correct, add
    state_note: str
    current: dict[str, Any]  # the values a correction form starts from


def build_cards(
    tags: ArticleTags, states: dict[tuple[str, int], Correction], added: list[Correction]
) -> list[Card]:
    """The cards of an article's tags, with their latest judgements, and of the catalysts
    reviewers added, in the order their highlights open in the text."""
    conflicted = {
        figure_id
        for conflict in tags.conflicts
        for figure_id in (conflict.first_figure_id, conflict.second_figure_id)
    }
    cards: list[Card] = []
    for stored in tags.catalysts:
        catalyst = stored.tag
        state, note, changed = _state(states.get(("catalyst", stored.id)))
        direction = changed.get("direction", str(catalyst.direction))
        facts = [
            ("direction", str(catalyst.direction)),
            ("category", catalyst.category),
            ("event type", catalyst.event_type or "—"),
            ("confidence", f"{catalyst.confidence:.2f}"),
            ("assets", ", ".join(catalyst.assets) or "—"),
            ("model", stored.model),
            ("offsets", f"{catalyst.start_char}–{catalyst.end_char}"),
        ]
        cards.append(_card(stored, facts, state, note, classes=(f"dir-{direction}",),
                           current={"direction": str(catalyst.direction),
                                    "category": catalyst.category,
                                    "assets": ", ".join(catalyst.assets)} | _as_text(changed)))
    for stored in tags.figures:
        figure = stored.tag
        state, note, changed = _state(states.get(("figure", stored.id)))
        value = _number(figure.value)
        if figure.value_high is not None:
            value += f" to {_number(figure.value_high)}"
        facts = [
            ("value", value),
            ("unit", figure.unit),
            ("metric", figure.metric),
            ("asset", figure.asset or "—"),
            ("period", figure.period or "—"),
            ("qualifier", figure.qualifier or "—"),
            ("model", stored.model),
            ("offsets", f"{figure.start_char}–{figure.end_char}"),
        ]
        if figure.flag:
            facts.append(("flag", figure.flag))
        classes = ("conflict",) if stored.id in conflicted else ()
        classes += ("flagged",) if figure.flag else ()
        cards.append(_card(stored, facts, state, note, classes=classes,
                           current={"metric": figure.metric, "value": repr(figure.value),
                                    "unit": figure.unit, "asset": figure.asset or ""}
                           | _as_text(changed)))
    for stored in tags.entities:
        entity = stored.tag
        state, note, changed = _state(states.get(("entity", stored.id)))
        facts = [
            ("label", entity.label),
            ("ticker", entity.ticker or "—"),
            ("model", stored.model),
            ("offsets", f"{entity.start_char}–{entity.end_char}"),
        ]
        cards.append(_card(stored, facts, state, note, classes=(f"label-{entity.label.lower()}",),
                           current={"label": entity.label, "ticker": entity.ticker or ""}
                           | _as_text(changed)))
    for correction in added:
        fields = correction.fields
        facts = [
            ("direction", fields["direction"]),
            ("category", fields["category"]),
            ("assets", ", ".join(fields.get("assets", [])) or "—"),
            ("added by", f"{correction.reviewer} at {utc_iso(correction.created_at)}"),
            ("offsets", f"{fields['start_char']}–{fields['end_char']}"),
        ]
        key = f"added-{correction.id}"
        highlight = Highlight(key, "added", fields["start_char"], fields["end_char"],
                              ("state-add", f"dir-{fields['direction']}"),
                              _tooltip("added catalyst", facts))
        cards.append(Card(key, "added", None, fields["sentence"], facts, highlight, "add",
                          f"added by {correction.reviewer}", {}))
    cards.sort(key=lambda card: card.highlight.order())
    return cards


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _state(correction: Correction | None) -> tuple[str, str, dict[str, Any]]:
    if correction is None:
        return "unreviewed", "not reviewed yet", {}
    changed = {k: v for k, v in correction.fields.items() if k != "was"}
    action = STATE_LABELS[correction.action]
    note = f"{action} by {correction.reviewer} at {utc_iso(correction.created_at)}"
    if changed:
        note += " · " + ", ".join(f"{k} → {v}" for k, v in sorted(changed.items()))
    return correction.action, note, changed


def _as_text(changed: dict[str, Any]) -> dict[str, str]:
    return {k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in changed.items()}


def _tooltip(title: str, facts: list[tuple[str, str]]) -> str:
    return "\n".join([title, *(f"{name}: {value}" for name, value in facts)])


def _card(
    stored: StoredTag,
    facts: list[tuple[str, str]],
    state: str,
    note: str,
    *,
    classes: tuple[str, ...],
    current: dict[str, str],
) -> Card:
    key = f"{stored.kind}-{stored.id}"
    highlight = Highlight(key, stored.kind, stored.tag.start_char, stored.tag.end_char,
                          (*classes, f"state-{state}"), _tooltip(stored.kind, facts))
    return Card(key, stored.kind, stored.id, stored.evidence, facts, highlight, state, note,
                current)

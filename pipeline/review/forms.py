"""What a reviewer sends, checked: the list's filters, a judgement's corrected fields, an added
catalyst. Bad filters become messages shown above the list; a bad judgement raises `BadReview`,
whose message the app sends back as it is.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from starlette.datastructures import FormData, QueryParams

from pipeline.records import ArticleFilter, Direction, StoredTag
from pipeline.store.review_queries import REVIEW_STATUSES
from pipeline.times import DateError, parse_iso_day

MAX_ADDED_CHARS = 2000
MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer: a larger id in a URL is no row, not an error
DIRECTIONS = tuple(str(d) for d in Direction)

# Free-text values a reviewer may type (categories, metrics, units, tickers, labels).
_VOCABULARY_VALUE = re.compile(r"^[\w.$%/&:+\- ]{1,80}$")

# The fields a "correct" action may change, per tag kind.
CORRECTABLE = {
    "catalyst": ("direction", "category", "assets"),
    "figure": ("metric", "value", "unit", "asset"),
    "entity": ("label", "ticker"),
}

# The fields of a tag kept with each judgement as "what the reviewer saw".
SNAPSHOT_FIELDS = {
    "catalyst": ("sentence", "start_char", "end_char", "category", "event_type", "direction",
                 "confidence", "assets", "model"),
    "figure": ("text", "start_char", "end_char", "value", "value_high", "unit", "metric", "asset",
               "period", "qualifier", "model"),
    "entity": ("text", "label", "start_char", "end_char", "ticker", "model"),
}


class BadReview(ValueError):
    """A judgement the app refuses; the message says why."""


# -- the article list's filters ----------------------------------------------------------------


def article_filter(params: QueryParams, errors: list[str]) -> ArticleFilter:
    """The list's filters from its query string; what cannot be read is left out, and said in
    `errors`."""
    return ArticleFilter(
        date_from=_day(params.get("date_from"), "from", errors),
        date_to=_day(params.get("date_to"), "to", errors),
        source=params.get("source") or None,
        asset=params.get("asset") or None,
        category=params.get("category") or None,
        direction=_choice(params.get("direction"), list(DIRECTIONS), errors),
        status=_choice(params.get("status"), list(REVIEW_STATUSES), errors),
        search=(params.get("q") or "").strip() or None,
    )


def positive_int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        return default


def _day(value: str | None, name: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return parse_iso_day(value)
    except DateError:
        errors.append(f"date {name} must look like 2026-02-06, not {value!r}")
        return None


def _choice(value: str | None, allowed: list[str], errors: list[str]) -> str | None:
    if not value:
        return None
    if value not in allowed:
        errors.append(f"{value!r} is not one of {', '.join(allowed)}")
        return None
    return value


# -- judgements ----------------------------------------------------------------------------------


def choice(value: object, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise BadReview(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def whole_number(value: object, name: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise BadReview(f"{name} must be a whole number") from None
    if abs(number) > MAX_ROW_ID:
        raise BadReview(f"{name} is out of range")
    return number


def _vocabulary(value: str, name: str) -> str:
    if not _VOCABULARY_VALUE.match(value):
        raise BadReview(f"{name} {value!r}: use letters, digits and . $ % / & : + - _ only")
    return value


def _tickers(value: str) -> list[str]:
    return [_vocabulary(part.strip().upper(), "asset") for part in value.split(",") if part.strip()]


def corrected_fields(kind: str, form: FormData) -> dict[str, Any]:
    """The fields a reviewer changed, validated; empty inputs mean "unchanged"."""
    changes: dict[str, Any] = {}
    for name in CORRECTABLE[kind]:
        raw = str(form.get(name) or "").strip()
        if not raw:
            continue
        if name == "direction":
            changes[name] = choice(raw, DIRECTIONS, "direction")
        elif name == "value":
            try:
                number = float(raw.replace(",", ""))
            except ValueError:
                raise BadReview(f"value {raw!r} is not a number") from None
            if not math.isfinite(number):  # nan, inf, 1e309: no JSON number can hold them
                raise BadReview(f"value {raw!r} is not a finite number")
            changes[name] = number
        elif name == "assets":
            changes[name] = _tickers(raw)
        elif name in ("asset", "ticker"):
            changes[name] = _vocabulary(raw.upper(), name)
        else:
            changes[name] = _vocabulary(raw, name)
    return changes


def added_catalyst(text: str, form: FormData) -> dict[str, Any]:
    """The fields of a catalyst a reviewer selected in `text` and judged."""
    start = whole_number(form.get("start_char"), "start_char")
    end = whole_number(form.get("end_char"), "end_char")
    if not 0 <= start < end <= len(text):
        raise BadReview(f"offsets {start}..{end} are outside the article (0..{len(text)})")
    # Selections often catch surrounding spaces; the evidence is the text without them.
    selected = text[start:end]
    start += len(selected) - len(selected.lstrip())
    end -= len(selected) - len(selected.rstrip())
    if start >= end:
        raise BadReview("the selection holds no text")
    if end - start > MAX_ADDED_CHARS:
        raise BadReview(f"select one sentence (at most {MAX_ADDED_CHARS} characters)")
    direction = choice(str(form.get("direction") or ""), DIRECTIONS, "direction")
    category = _vocabulary(str(form.get("category") or "").strip(), "category")
    return {
        "sentence": text[start:end],
        "start_char": start,
        "end_char": end,
        "direction": direction,
        "category": category,
        "assets": _tickers(str(form.get("assets") or "")),
    }


def snapshot(stored: StoredTag) -> dict[str, Any]:
    """The tag as the reviewer saw it, kept with the judgement (`fields["was"]`)."""
    values: dict[str, Any] = {
        name: getattr(stored.tag, name) for name in SNAPSHOT_FIELDS[stored.kind] if name != "model"
    }
    values["model"] = stored.model
    if stored.kind == "catalyst":
        values["direction"] = str(values["direction"])
        values["assets"] = list(values["assets"])
    return values

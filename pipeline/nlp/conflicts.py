"""Conflicts: figures of one article that contradict each other.

`newsignal_conflicts` runs after `newsignal_figures` and compares the figures of one document with
the same metric, unit, asset and sign; it flags values that disagree by two orders of magnitude or
more where that looks like a slip of scale or both state one period (`Doc._.conflicts`, a list of
`records.Conflict`).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from spacy.language import Language
from spacy.tokens import Doc

from pipeline.records import Conflict, Figure

if not Doc.has_extension("conflicts"):
    Doc.set_extension("conflicts", default=[])

CONFLICT_RATIO = 100.0  # two orders of magnitude
SCALE_SLIP_TOLERANCE = 0.02  # "$2.65 billion" vs "$2.65 million": a power of ten apart, +-2%
# More flags than this in one article is a table of figures, not a slip of scale: the rest are
# left unflagged (and the pairs not looked for) so that no page can make this step quadratic.
MAX_CONFLICTS = 50
_LARGEST_SLIP = 24  # powers of ten looked at for a scale slip (a yotta-fold apart)


@Language.component("newsignal_conflicts")
def find_conflicts(doc: Doc) -> Doc:
    """Figures of one metric, unit and asset that disagree by two orders of magnitude or more.

    Rules read metrics from context, so two figures of "one metric" may be two different things;
    to keep the flag worth a researcher's time, a pair counts only where the gap looks like a slip
    of scale (the same digits a power of ten apart, e.g. a headline's "$2.65 billion" against the
    body's "$2.65 million"; an unstated period matches any) or both state the same period.

    Pairs are found by looking up values, not by comparing every two figures: within a group of
    one metric, unit, asset and sign, sorted by size, a slip is a value near v x 10^k, and a
    same-period conflict a value at least 100 x v of that period.
    """
    figures = [span._.figure for span in doc.spans.get("figures", []) if span._.figure]
    groups: dict[tuple, list[int]] = {}
    for index, figure in enumerate(figures):
        if figure.metric == "other" or figure.value == 0 or figure.value_high is not None:
            continue
        if figure.flag:  # an implausible figure is no evidence of a slip of scale
            continue
        key = (figure.metric, figure.unit, figure.asset, figure.value > 0)
        groups.setdefault(key, []).append(index)
    pairs: set[tuple[int, int]] = set()
    for members in groups.values():
        if len(members) > 1:
            pairs.update(_conflicting_pairs(figures, members))
    conflicts: list[Conflict] = []
    for first_index, second_index in sorted(pairs):
        first, second = figures[first_index], figures[second_index]
        reason = _conflict_reason(first, second)
        if reason is not None:
            conflicts.append(
                Conflict(metric=first.metric, period=first.period or second.period,
                         first=first, second=second, reason=reason)
            )
            if len(conflicts) == MAX_CONFLICTS:
                break
    doc._.conflicts = conflicts
    return doc


def _conflicting_pairs(figures: list[Figure], members: list[int]) -> Iterator[tuple[int, int]]:
    """Index pairs (earlier, later) of `members` that may conflict, at most MAX_CONFLICTS
    candidates per figure and kind of conflict."""
    ordered = sorted(members, key=lambda i: abs(figures[i].value))
    sizes = [abs(figures[i].value) for i in ordered]
    by_period: dict[str, tuple[list[int], list[float]]] = {}
    for i in ordered:
        if figures[i].period:
            indices, values = by_period.setdefault(figures[i].period, ([], []))
            indices.append(i)
            values.append(abs(figures[i].value))
    for i in members:
        size = abs(figures[i].value)
        for power in range(2, _LARGEST_SLIP + 1):
            low = size * 10**power * (1 - SCALE_SLIP_TOLERANCE)
            high = size * 10**power * (1 + SCALE_SLIP_TOLERANCE)
            if low > sizes[-1]:
                break
            found = ordered[bisect_left(sizes, low) : bisect_right(sizes, high)]
            for j in found[:MAX_CONFLICTS]:
                yield (min(i, j), max(i, j))
        if figures[i].period:
            indices, values = by_period[figures[i].period]
            found = indices[bisect_left(values, size * CONFLICT_RATIO) :]
            for j in found[:MAX_CONFLICTS]:
                yield (min(i, j), max(i, j))


def _conflict_reason(first: Figure, second: Figure) -> str | None:
    same = (second.metric, second.unit, second.asset) == (first.metric, first.unit, first.asset)
    if not same or second.value == 0 or second.value_high is not None:
        return None
    if (first.value > 0) != (second.value > 0):
        return None
    if first.period and second.period and first.period != second.period:
        return None
    ratio = max(abs(first.value), abs(second.value)) / min(abs(first.value), abs(second.value))
    if ratio < CONFLICT_RATIO:
        return None
    power = 10 ** round(math.log10(ratio))
    if abs(ratio / power - 1) <= SCALE_SLIP_TOLERANCE:
        return f"{first.text!r} and {second.text!r}: same digits, {power:,}-fold apart"
    if first.period and first.period == second.period:
        return f"{first.text!r} and {second.text!r} ({first.period}) differ {ratio:,.0f}-fold"
    return None

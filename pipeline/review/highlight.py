"""Article text as HTML with tags highlighted in place, built from character offsets.

The text is untrusted: every character of it passes through `markupsafe.escape`, and the markup
around it is ours. Tags may nest (a figure inside a catalyst) or overlap without nesting; each
stretch of text between two tag boundaries is wrapped in exactly the tags that cover it, opened
outermost first, and a tag that must close early to keep the HTML well formed is reopened right
after as a continuation piece. Paragraphs (separated by a blank line) are split the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from markupsafe import Markup, escape

PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")

# Which tag is outermost when two cover exactly the same characters.
_KIND_RANK = {"catalyst": 0, "added": 0, "figure": 1, "entity": 2}


@dataclass(frozen=True, slots=True)
class Highlight:
    """One tag to mark in the text; `key` is unique per article, e.g. "catalyst-12"."""

    key: str
    kind: str
    start: int
    end: int
    classes: tuple[str, ...] = ()
    title: str = ""  # the native tooltip
    data: Mapping[str, str] = field(default_factory=dict)  # extra data-* attributes

    def order(self) -> tuple[int, int, int, str]:
        return (self.start, -self.end, _KIND_RANK.get(self.kind, 3), self.key)


@dataclass(frozen=True, slots=True)
class Paragraph:
    start: int
    end: int
    html: Markup


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph, surrounding whitespace excluded, empty ones skipped."""
    spans = []
    position = 0
    for match in [*PARAGRAPH_BREAK.finditer(text), None]:
        stop = match.start() if match else len(text)
        chunk = text[position:stop]
        stripped = chunk.strip()
        if stripped:
            start = position + chunk.index(stripped[0])
            spans.append((start, start + len(stripped)))
        if match:
            position = match.end()
    return spans


def _open_tag(highlight: Highlight, first_piece: bool) -> Markup:
    classes = ["tag", f"tag-{highlight.kind}", *highlight.classes]
    attributes = [("data-key", highlight.key)]
    if first_piece:
        attributes += [("id", f"mark-{highlight.key}"), ("tabindex", "0")]
    else:
        classes.append("cont")
    if highlight.title:
        attributes.append(("title", highlight.title))
    attributes += [(f"data-{name}", value) for name, value in highlight.data.items()]
    rendered = "".join(Markup(' {}="{}"').format(name, value) for name, value in attributes)
    return Markup('<mark class="{}"').format(" ".join(classes)) + Markup(rendered) + Markup(">")


def render_paragraph(
    text: str,
    start: int,
    end: int,
    highlights: Iterable[Highlight],
    opened: set[str] | None = None,
) -> Markup:
    """The HTML of text[start:end] with every highlight clipped to it and properly nested.

    `opened` holds the keys already rendered (in earlier paragraphs): only a tag's first piece
    gets its id and tab stop. One sweep over the boundaries, keeping the tags that cover the
    current stretch: the cost grows with the number of tags and boundaries, not their product.
    """
    opened = set() if opened is None else opened
    clipped = sorted(
        (h for h in highlights if h.start < end and h.end > start and h.start < h.end),
        key=lambda h: max(h.start, start),
    )
    boundaries = sorted(
        {start, end}
        | {max(h.start, start) for h in clipped}
        | {min(h.end, end) for h in clipped}
    )
    pieces: list[Markup] = []
    stack: list[Highlight] = []
    covering: list[Highlight] = []
    waiting = 0  # clipped[waiting:] start after the current stretch
    for left, right in zip(boundaries, boundaries[1:], strict=False):
        while waiting < len(clipped) and max(clipped[waiting].start, start) <= left:
            covering.append(clipped[waiting])
            waiting += 1
        covering = [h for h in covering if left < h.end]
        wanted = sorted(covering, key=Highlight.order)
        keep = 0
        while keep < min(len(stack), len(wanted)) and stack[keep] is wanted[keep]:
            keep += 1
        pieces.extend(Markup("</mark>") for _ in stack[keep:])
        for highlight in wanted[keep:]:
            pieces.append(_open_tag(highlight, first_piece=highlight.key not in opened))
            opened.add(highlight.key)
        stack = wanted
        pieces.append(escape(text[left:right]))
    pieces.extend(Markup("</mark>") for _ in stack)
    return Markup("").join(pieces)


def render_text(text: str, highlights: Iterable[Highlight]) -> list[Paragraph]:
    """Every paragraph of `text` as HTML with `highlights` marked in place."""
    pending = sorted(highlights, key=lambda h: h.start)
    opened: set[str] = set()
    paragraphs = []
    live: list[Highlight] = []  # tags that start before the paragraph's end, still unfinished
    taken = 0
    for start, end in paragraph_spans(text):
        while taken < len(pending) and pending[taken].start < end:
            live.append(pending[taken])
            taken += 1
        live = [h for h in live if h.end > start]
        paragraphs.append(
            Paragraph(start, end, render_paragraph(text, start, end, live, opened))
        )
    return paragraphs

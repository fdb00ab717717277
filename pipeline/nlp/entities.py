"""The gazetteer: known assets, exchanges, companies, funds, people, bodies, laws, indicators.

`newsignal_entities` runs *after* the trained recogniser (`ner`) as a high-precision ruler and the
linker of known names to tickers: a listed name that covers what the recogniser found there
replaces it, one inside a longer recognised name stays out (unless listed names make up most of
it), one where the recogniser found nothing is added (see `_merge`). Patterns live in
`models/patterns/*.jsonl`, one JSON object a line:

    {"label": "ASSET", "pattern": [{"LOWER": "bitcoin"}], "id": "BTC"}

- `id`: the canonical ticker for ASSET, COMPANY, FUND and listed EXCHANGE (read as `Span._.ticker`),
  else a canonical name (or "" when there is none).
- `context: "ticker"`: an ambiguous ticker ("ONE", "SAND", "LINK") that only counts with a sign of
  being a ticker: "$" before it, parentheses around it, an amount before it, a pair ("LINK-USDT"),
  a market word after it ("LINK price"), or its asset named unambiguously in the same document
  ("Chainlink ... LINK is up").
- `keep: [a, b]`: only tokens a..b of the match become the entity ("Saylor's Strategy" -> Strategy).
- `propagate: true`: once matched in context, the same capitalised word elsewhere in the document
  gets the same label ("Strategy (MSTR) ... Strategy posted a loss"), except after a determiner.

`newsignal_entity_cleanup` has the last word: only newsignal's labels, without a possessive
ending or a leading "the".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from spacy.language import Language
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.util import filter_spans

TICKER_LABELS = frozenset({"ASSET", "COMPANY", "EXCHANGE", "FUND"})
CUSTOM_LABELS = (
    "ASSET", "EXCHANGE", "COMPANY", "FUND", "PERSON", "GOV_BODY", "LAW", "INDICATOR", "COUNTRY"
)
# Words after a ticker that show it is one ("LINK price", "SAND futures").
TICKER_CONTEXT_AFTER = frozenset(
    {"price", "prices", "token", "tokens", "coin", "coins", "holders", "futures", "perpetual",
     "perpetuals", "perps", "spot", "etf", "etfs", "staking", "whales", "bulls", "bears", "rallies",
     "rallied", "surged", "jumped", "slid", "dropped", "fell", "rose", "gained", "trades", "traded"}
)
PAIR_QUOTES = frozenset({"USDT", "USD", "USDC", "BTC", "ETH", "KRW", "EUR"})
DETERMINERS = frozenset(
    {"a", "an", "the", "this", "that", "our", "its", "their", "his", "her", "new"}
)
POSSESSIVES = ("'s", "’s", "'", "’")


def _ticker_of(span: Span) -> str | None:
    if span.label_ in TICKER_LABELS and span.ent_id_:
        return span.ent_id_
    return None


if not Span.has_extension("ticker"):
    # A getter (not a stored value) so the ticker survives `ner` and relabelling.
    Span.set_extension("ticker", getter=_ticker_of)


@dataclass(frozen=True, slots=True)
class _Rule:
    label: str
    ident: str
    context: str | None
    keep: tuple[int, int] | None
    propagate: bool


def load_patterns(patterns_dir: Path) -> list[dict]:
    """Every pattern object of `patterns_dir/*.jsonl`, files in name order."""
    patterns: list[dict] = []
    for path in sorted(Path(patterns_dir).glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    record["label"], record["pattern"]  # noqa: B018 - both keys are required
                except (json.JSONDecodeError, KeyError, TypeError) as error:
                    raise ValueError(f"{path.name}:{number}: bad pattern ({error})") from error
                patterns.append(record)
    return patterns


class EntityRuler:
    """Matches the patterns and writes `doc.ents`; keeps entities already set that do not clash."""

    def __init__(self, nlp: Language, name: str, patterns: Iterable[dict]):
        self.name = name
        self.rules: list[_Rule] = []
        # Plain single-attribute phrases go to phrase matchers (fast); the rest to the Matcher.
        self.lower_phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.exact_phrases = PhraseMatcher(nlp.vocab, attr="ORTH")
        self.matcher = Matcher(nlp.vocab)
        for record in patterns:
            self._add(nlp, record)

    def _add(self, nlp: Language, record: dict) -> None:
        keep = record.get("keep")
        rule = _Rule(
            label=record["label"],
            ident=record.get("id", ""),
            context=record.get("context"),
            keep=tuple(keep) if keep else None,
            propagate=bool(record.get("propagate", False)),
        )
        key = f"rule{len(self.rules)}"
        self.rules.append(rule)
        pattern = record["pattern"]
        if isinstance(pattern, str):
            pattern = [{"LOWER": token.lower_} for token in nlp.make_doc(pattern)]
        attrs = {attr for token in pattern for attr in token}
        plain = all(isinstance(value, str) for token in pattern for value in token.values())
        if plain and attrs == {"LOWER"}:
            words = [token["LOWER"] for token in pattern]
            self.lower_phrases.add(key, [Doc(nlp.vocab, words=words)])
        elif plain and attrs == {"ORTH"}:
            self.exact_phrases.add(key, [Doc(nlp.vocab, words=[t["ORTH"] for t in pattern])])
        else:
            self.matcher.add(key, [pattern])

    def __call__(self, doc: Doc) -> Doc:
        strings = doc.vocab.strings
        found: list[Span] = []
        propagating: dict[str, _Rule] = {}
        matches = [
            match
            for matcher in (self.lower_phrases, self.exact_phrases, self.matcher)
            if len(matcher)  # an empty matcher warns on every call
            for match in matcher(doc)
        ]
        pending: list[tuple[_Rule, int, int]] = []
        for match_id, start, end in matches:
            rule = self.rules[int(strings[match_id][4:])]
            if rule.keep:
                start, end = start + rule.keep[0], start + rule.keep[1]
            pending.append((rule, start, end))
        named = {rule.ident for rule, _, _ in pending if rule.context is None and rule.ident}
        rejected: set[tuple[int, int]] = set()
        for rule, start, end in pending:
            if (rule.context == "ticker" and rule.ident not in named
                    and not _looks_like_ticker(doc, start, end)):
                rejected.add((start, end))  # "The LINK between the two": a word, whoever says
                continue
            found.append(Span(doc, start, end, label=rule.label, span_id=rule.ident))
            if rule.propagate:
                propagating[doc[start:end].text] = rule
        found.extend(_propagated(doc, propagating))
        recognised = [ent for ent in doc.ents if (ent.start, ent.end) not in rejected]
        doc.ents = _merge(recognised, filter_spans(found))
        return doc


def _merge(recognised: list[Span], listed: list[Span]) -> list[Span]:
    """The recogniser's entities with the list's: a listed name that covers what the recogniser
    found there (or more: "Coinbase Global" over "Coinbase") replaces it, label and ticker; one
    inside a longer recognised name ("Bitcoin" in "iShares Bitcoin Trust") or crossing one
    leaves the recogniser's, unless listed names make up most of its words ("LINK-USDT pair",
    "U.S. Bitcoin ETFs": those names); one where it found nothing is added."""
    result = list(recognised)
    for span in listed:
        overlapping = [ent for ent in result if ent.start < span.end and span.start < ent.end]
        if all(span.start <= ent.start and ent.end <= span.end for ent in overlapping):
            for ent in overlapping:
                result.remove(ent)
            result.append(span)
    for ent in list(result):
        inside = [span for span in listed if ent.start <= span.start and span.end <= ent.end
                  and (span.start, span.end) != (ent.start, ent.end)]
        words = [token for token in ent if any(char.isalnum() for char in token.text)]
        covered = {token.i for span in inside for token in span}
        if inside and 2 * sum(token.i in covered for token in words) > len(words):
            result.remove(ent)
            result.extend(filter_spans(inside))
    return sorted(result, key=lambda ent: ent.start)


def _looks_like_ticker(doc: Doc, start: int, end: int) -> bool:
    before = doc[start - 1] if start > 0 else None
    after = doc[end] if end < len(doc) else None
    if before is not None and before.text == "$":
        return True
    if before is not None and after is not None and before.text == "(" and after.text == ")":
        return True
    if before is not None and before.like_num:
        return True  # "5,000 LINK"
    if after is not None and after.text in ("-", "/") and end + 1 < len(doc):
        return doc[end + 1].text in PAIR_QUOTES
    return after is not None and after.lower_ in TICKER_CONTEXT_AFTER


def _propagated(doc: Doc, rules: dict[str, _Rule]) -> list[Span]:
    spans: list[Span] = []
    for text, rule in rules.items():
        words = text.split()
        for token in doc:
            end = token.i + len(words)
            if end > len(doc) or [t.text for t in doc[token.i : end]] != words:
                continue
            if token.i > 0 and doc[token.i - 1].lower_ in DETERMINERS:
                continue
            if end < len(doc) and doc[end].is_title and not doc[end].is_sent_start:
                continue  # part of a longer name ("Strategy Report")
            spans.append(Span(doc, token.i, end, label=rule.label, span_id=rule.ident))
    return spans


@Language.factory("newsignal_entities", default_config={"patterns_dir": None})
def make_entities(nlp: Language, name: str, patterns_dir: str | None) -> EntityRuler:
    default = Path(__file__).parents[2] / "models" / "patterns"
    directory = Path(patterns_dir) if patterns_dir else default
    return EntityRuler(nlp, name, load_patterns(directory))


@Language.component("newsignal_entity_cleanup")
def entity_cleanup(doc: Doc) -> Doc:
    """Last word on `doc.ents`: only newsignal's labels (the recogniser started from one with
    OntoNotes labels, which training taught it to leave); spans without a possessive ending
    ("Saylor's" -> "Saylor") or a leading "the"."""
    cleaned: list[Span] = []
    for ent in doc.ents:
        if ent.label_ not in CUSTOM_LABELS:
            continue
        start, end = ent.start, ent.end
        if end - start > 1 and doc[end - 1].text in POSSESSIVES:
            end -= 1
        if end - start > 1 and doc[start].lower_ == "the":
            start += 1
        if (start, end) != (ent.start, ent.end):
            ent = Span(doc, start, end, label=ent.label_, span_id=ent.id)
        cleaned.append(ent)
    doc.ents = cleaned
    return doc

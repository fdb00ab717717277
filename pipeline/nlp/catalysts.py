"""Catalyst sentences: which market-moving fact a sentence states, and in which direction.

`newsignal_catalysts` writes `doc.spans["catalysts"]`; each span has `Span._.catalyst`, a
`records.Catalyst`. Every statement sentence is judged by the direction model
(`pipeline.direction`), over the sentences of all docs passed to `nlp.pipe` together: chart
captions, questions and a press release's closing sections ("About ...", "Forward-Looking
Statements") are skipped, and so are short fragments and verbless headlines unless they carry a
figure. The shipped model also names the event type of `models/events.yaml` the sentence
reports: a sentence of type `background` states no market fact and is no catalyst, and the
category is that of the event type. Where the model is unsure of the direction and the
sentence's signed figures all say one way (`positive_direction` in `models/metrics.yaml`: an
inflow of $64 million, net withdrawals of 19,400 BTC from exchanges, a yield up 14 basis points),
the figures settle it.

A model without event outputs (any Hugging Face classifier named in the settings) judges
direction only; then a sentence is a candidate when it has a trigger of some category of
`models/taxonomy.yaml`, and its category is the best taxonomy score, near-ties settled by the
similarity of the sentence to each category's prototype (its description and examples, embedded
with the base MiniLM encoder, run in int8).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span

from pipeline.direction import BACKGROUND, BASE_PACKAGE, EVENTS_PATH, load_event_types
from pipeline.direction.model import DirectionModel, base_model_version, resolve_base_model
from pipeline.nlp import MODELS_DIR
from pipeline.nlp.vocabulary import MetricSpec, load_metrics, unit_kind
from pipeline.onnx_int8 import cache_key, load_int8
from pipeline.records import Catalyst, Direction, Figure

SPAN_KEY = "catalysts"
# Below this calibrated confidence the model's direction yields to what the sentence's signed
# figures say. Chosen on the dev sets (old gold, gold dev, the training articles' catalyst
# sentences; int8 and fp32): 0.6 to 0.8 gain on each, 0.7 the most on all three. Where it
# applies there, the figures were right for 0.71 of the sentences and the model for 0.56; that
# share is the confidence such a tag reports.
FIGURES_SETTLE_BELOW = 0.7
FIGURES_SETTLED_CONFIDENCE = 0.71
# "Bitcoin ETFs data. Source: Sosovalue" and the like under charts.
CAPTION = re.compile(r"(^|\s)(source|chart|image|photo|credit)s?\s*:\s*\S", re.IGNORECASE)

# The closing sections of a press release or a page ("About Crestmoor", "Forward-Looking
# Statements", "Important information: ...") describe the issuer or disclaim: no sentence in them
# reports a market fact (all 31 in the training articles are background).
CLOSING_HEADING = re.compile(
    r"(about(?-i:(\s+[A-Z][\w.&'’-]*)+)|forward[- ]looking statements?"
    r"|cautionary (note|statements?)|safe harbou?r( statement)?|disclaimers?"
    r"|important (information|notice)"
    r"|(media|investor|press) (contacts?|relations)|contacts?)\W*$",
    re.IGNORECASE,
)
CLOSING_PARAGRAPH = re.compile(
    r"(about\s+(?-i:[A-Z])[^:\n]{0,60}|forward[- ]looking statements?"
    r"|important (information|notice)|disclaimer):\s",
    re.IGNORECASE,
)
HEADING_WORDS = 8

SENTENCE_END = frozenset({".", "!", "?", "…", ":", ";"})
BULLETS = frozenset({"•", "·", "-", "–", "—", "*", "▪", "►", "■", "◦"})

if not Span.has_extension("catalyst"):
    Span.set_extension("catalyst", default=None)


class TaxonomyError(ValueError):
    """`models/taxonomy.yaml` is malformed."""


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    description: str
    triggers: tuple[str, ...]
    entity_labels: frozenset[str] = frozenset()
    figure_metrics: frozenset[str] = frozenset()
    examples: tuple[str, ...] = ()
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Taxonomy:
    categories: dict[str, Category]
    tie_margin: float = 0.5
    min_words: int = 6

    @classmethod
    def load(cls, path: str | Path) -> Taxonomy:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
            categories = {
                name: Category(
                    name=name,
                    description=" ".join(str(spec["description"]).split()),
                    triggers=tuple(str(t).lower() for t in spec["triggers"]),
                    entity_labels=frozenset(spec.get("entity_labels", ())),
                    figure_metrics=frozenset(spec.get("figure_metrics", ())),
                    examples=tuple(spec.get("examples", ())),
                    weight=float(spec.get("weight", 1.0)),
                )
                for name, spec in raw["categories"].items()
            }
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as error:
            raise TaxonomyError(f"{path}: {error!r}") from error
        if not categories or any(not c.triggers for c in categories.values()):
            raise TaxonomyError(f"{path}: every category needs triggers")
        return cls(
            categories,
            tie_margin=float(raw.get("tie_margin", 0.5)),
            min_words=int(raw.get("min_words", 6)),
        )


@dataclass(slots=True)
class Candidate:
    """A sentence with taxonomy evidence, waiting for the direction model."""

    doc: Doc
    sentence: Span
    scores: dict[str, float]
    assets: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    category: str = ""
    subject: str | None = None  # the asset the sentence is judged for (first named, else the doc's)


class CategoryPrototypes:
    """Mean-pooled MiniLM embeddings of each category's description and examples."""

    def __init__(self, taxonomy: Taxonomy, base_model: str = BASE_PACKAGE) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = resolve_base_model(base_model)
        version = base_model_version(base_model)  # "" for a folder: no cache key for it
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        # int8 on ONNX Runtime like the direction model: about half the time; held-out category
        # accuracy 0.794 against 0.799 in fp32 (pipeline/onnx_int8.py).
        self.encoder = load_int8(
            lambda: AutoModel.from_pretrained(path),
            inputs=self.tokenizer.model_input_names,
            output="last_hidden_state",
            key=cache_key("category-encoder", base_model, version) if version else None,
        )
        self.names = list(taxonomy.categories)
        texts = [[c.description, *c.examples] for c in taxonomy.categories.values()]
        flat = self.embed([t for group in texts for t in group])
        prototypes, start = [], 0
        for group in texts:
            prototypes.append(flat[start : start + len(group)].mean(0))
            start += len(group)
        self.prototypes = torch.nn.functional.normalize(torch.stack(prototypes), dim=-1)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """Unit-length mean-pooled embeddings, each text on its own (see `Int8Model`)."""
        hidden_states = self.encoder.each_text(self.tokenizer, texts, max_length=128)
        pooled = [hidden[0].mean(0) for hidden in hidden_states]
        return torch.nn.functional.normalize(torch.from_numpy(np.stack(pooled)), dim=-1)

    def best(self, texts: Sequence[str], allowed: Sequence[Sequence[str]]) -> list[str]:
        """For each text, the most similar category among its `allowed` ones."""
        similarity = self.embed(texts) @ self.prototypes.T
        return [
            max(names, key=lambda name: float(row[self.names.index(name)]))
            for row, names in zip(similarity, allowed)
        ]


class CatalystTagger:
    """The `newsignal_catalysts` component."""

    def __init__(
        self,
        nlp: Language,
        name: str,
        taxonomy_path: str,
        events_path: str,
        metrics_path: str,
        direction_model: str,
        direction_label_map: dict[str, str] | None,
        direction_int8: bool | None,
        batch_size: int,
    ) -> None:
        self.name = name
        self.taxonomy = Taxonomy.load(taxonomy_path)
        self.metrics = load_metrics(Path(metrics_path)).metrics
        self.batch_size = batch_size
        self.model = DirectionModel.shared(
            direction_model, label_map=direction_label_map, quantize=direction_int8
        )
        self.events = load_event_types(events_path)
        # With event outputs the model itself tells catalysts from background; without, the
        # taxonomy's triggers decide which sentences it judges.
        self.typed = bool(self.model.event_types)
        self.matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
        for category in self.taxonomy.categories.values():
            self.matcher.add(category.name, [nlp.make_doc(t) for t in category.triggers])
        self._prototypes: CategoryPrototypes | None = None

    def __call__(self, doc: Doc) -> Doc:
        return next(iter(self.pipe([doc])))

    def pipe(self, docs: Iterable[Doc], batch_size: int = 64) -> Iterator[Doc]:
        """Judge the candidate sentences of `batch_size` docs at a time in one model batch."""
        chunk: list[Doc] = []
        for doc in docs:
            chunk.append(doc)
            if len(chunk) >= batch_size:
                yield from self._process(chunk)
                chunk = []
        if chunk:
            yield from self._process(chunk)

    def _process(self, docs: list[Doc]) -> list[Doc]:
        candidates = [c for doc in docs for c in self.candidates(doc)]
        judgements = self.model.judge(
            [c.sentence.text for c in candidates], [c.subject for c in candidates],
            self.batch_size, in_article=True,
        )
        if self.typed:
            kept = [(c, j) for c, j in zip(candidates, judgements) if j.event_type != BACKGROUND]
            for candidate, judgement in kept:
                candidate.category = self.events[judgement.event_type].category
        else:
            kept = list(zip(candidates, judgements))
            self._assign_categories([c for c, _ in kept])
        spans: dict[int, list[Span]] = {id(doc): [] for doc in docs}
        for candidate, judgement in kept:
            direction, confidence = judgement.direction, judgement.confidence
            if confidence < FIGURES_SETTLE_BELOW:
                said = figures_direction(candidate.figures, self.metrics)
                if said is not None and said != direction:
                    direction, confidence = said, FIGURES_SETTLED_CONFIDENCE
            sentence = candidate.sentence
            span = Span(candidate.doc, sentence.start, sentence.end, label=candidate.category)
            span._.catalyst = Catalyst(
                sentence=sentence.text,
                start_char=sentence.start_char,
                end_char=sentence.end_char,
                category=candidate.category,
                direction=direction,
                confidence=round(confidence, 4),
                assets=candidate.assets,
                figures=candidate.figures,
                model=self.model.model_id,
                event_type=judgement.event_type,
            )
            spans[id(candidate.doc)].append(span)
        for doc in docs:
            doc.spans[SPAN_KEY] = spans[id(doc)]
        return docs

    def candidates(self, doc: Doc) -> list[Candidate]:
        """The sentences to judge: every statement for a model with event outputs (which
        names the category itself), else those with at least one taxonomy trigger, with their
        per-category taxonomy scores."""
        figure_spans = list(doc.spans.get("figures", []))
        by_sentence: dict[tuple[int, int], dict[str, float]] = {}
        sentences = list(_sentences(doc))
        starts = [s.start for s in sentences]
        for match_id, start, end in [] if self.typed else self.matcher(doc):
            index = bisect_right(starts, start) - 1
            if index < 0 or end > sentences[index].end:
                continue  # a trigger across a sentence boundary is no trigger
            key = (sentences[index].start, sentences[index].end)
            scores = by_sentence.setdefault(key, {})
            name = doc.vocab.strings[match_id]
            scores[name] = scores.get(name, 0.0) + (1.5 if end - start > 1 else 1.0)
        # Span.ents scans the whole document on every call: look entities and figures up by
        # position instead, so a long text costs linear time.
        ents = list(doc.ents)
        ent_starts, ent_ends = [e.start for e in ents], [e.end for e in ents]
        figure_spans = [
            span for span in figure_spans
            if span.has_extension("figure") and span._.figure is not None
        ]
        figure_starts = [span.start for span in figure_spans]
        subject = _main_asset(ents)
        closing = _closing_sections(doc.text)
        result = []
        for sentence in sentences:
            scores = by_sentence.get((sentence.start, sentence.end), {})
            if not scores and not self.typed:
                continue
            if any(start <= sentence.start_char < end for start, end in closing):
                continue
            figures = [
                span._.figure
                for span in figure_spans[
                    bisect_left(figure_starts, sentence.start) :
                    bisect_left(figure_starts, sentence.end)
                ]
                if span.end <= sentence.end
            ]
            if not self._is_statement(sentence, figures):
                continue
            sentence_ents = [
                ent
                for ent in ents[bisect_left(ent_starts, sentence.start) :
                                bisect_right(ent_ends, sentence.end)]
                if ent.end <= sentence.end
            ]
            labels = [ent.label_ for ent in sentence_ents]
            for name in scores:  # support alone (a company named, a price quoted) is no catalyst
                category = self.taxonomy.categories[name]
                support = 0.5 * sum(label in category.entity_labels for label in labels)
                support += sum(f.metric in category.figure_metrics for f in figures)
                scores[name] = (scores[name] + support) * category.weight
            assets = _assets(sentence_ents)
            result.append(Candidate(doc, sentence, scores, assets=assets, figures=figures,
                                    subject=assets[0] if assets else subject))
        return result

    def _is_statement(self, sentence: Span, figures: Sequence[Figure]) -> bool:
        # A question asks rather than reports ("Does staking soak up the supply?"); every
        # question in the training articles is labelled background.
        if CAPTION.search(sentence.text) or sentence.text.rstrip("\"'”’ ").endswith("?"):
            return False
        # A figure is a reported fact however tersely written: "ARB slipped 1.7% to $0.33.",
        # a fact sheet's "Shorts: $312 million". Gold dev catalyst recall 0.861 -> 0.976.
        if figures:
            return True
        words = [t for t in sentence if t.is_alpha]
        if len(words) < self.taxonomy.min_words:
            return False
        # Headlines without a verb ("Bitcoin ETFs data.") state nothing; a doc without a tagger
        # (tests with a blank pipeline) has no tags, so it is given the benefit of the doubt.
        # Penn tags, not POS: the pipeline leaves out the attribute_ruler that maps tags to POS.
        has_tags = any(t.tag_ for t in sentence)
        return not has_tags or any(t.tag_.startswith("VB") or t.tag_ == "MD" for t in sentence)

    def _assign_categories(self, candidates: list[Candidate]) -> None:
        ambiguous: list[tuple[Candidate, list[str]]] = []
        for candidate in candidates:
            ranked = sorted(candidate.scores.items(), key=lambda kv: (-kv[1], kv[0]))
            candidate.category = ranked[0][0]
            close = [n for n, s in ranked if ranked[0][1] - s <= self.taxonomy.tie_margin]
            if len(close) > 1:
                ambiguous.append((candidate, close))
        if ambiguous:
            if self._prototypes is None:
                self._prototypes = CategoryPrototypes(self.taxonomy)
            best = self._prototypes.best(
                [c.sentence.text for c, _ in ambiguous], [names for _, names in ambiguous]
            )
            for (candidate, _), name in zip(ambiguous, best):
                candidate.category = name


def _sentences(doc: Doc) -> Iterator[Span]:
    """Sentences cut at line breaks (paragraphs and list items never share one), with the
    parser's false breaks inside a line mended ("... ratio" + "confirm a bearish bias.")."""
    pieces: list[Span] = []
    for sentence in doc.sents:
        start = sentence.start
        for token in sentence:
            if token.is_space and "\n" in token.text:
                if token.i > start:
                    pieces.append(doc[start : token.i])
                start = token.i + 1
        if start < sentence.end:
            pieces.append(doc[start : sentence.end])
    merged: list[Span] = []
    for piece in pieces:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.end == piece.start
            and piece[0].is_lower
            and previous[-1].text not in SENTENCE_END
        ):
            merged[-1] = doc[previous.start : piece.end]
        else:
            merged.append(piece)
    for span in merged:
        span = _strip(span)
        if len(span):
            yield span


def _closing_sections(text: str) -> list[tuple[int, int]]:
    """Character ranges of closing sections (`CLOSING_HEADING`): from such a heading to the next
    other heading (a short line without a sentence's end), or the end of the text; and single
    paragraphs that open with one and a colon."""
    ranges: list[tuple[int, int]] = []
    start: int | None = None
    for line in re.finditer(r"[^\n]+", text):
        words = line.group().split()
        if not words:
            continue
        heading = len(words) <= HEADING_WORDS and words[-1][-1] not in ".!?;,"
        if heading and CLOSING_HEADING.match(line.group().strip()):
            start = line.start() if start is None else start
        elif heading and start is not None:
            ranges.append((start, line.start()))
            start = None
        elif start is None and CLOSING_PARAGRAPH.match(line.group().strip()):
            ranges.append((line.start(), line.end()))
    if start is not None:
        ranges.append((start, len(text)))
    return ranges


def _strip(span: Span) -> Span:
    """Without leading bullets and surrounding whitespace."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and (doc[start].is_space or doc[start].text in BULLETS):
        start += 1
    while end > start and doc[end - 1].is_space:
        end -= 1
    return doc[start:end]


def _main_asset(ents: Iterable[Span]) -> str | None:
    """The ASSET ticker the document names most (first named on a tie)."""
    counts: dict[str, int] = {}
    for ent in ents:
        if ent.label_ == "ASSET" and Span.has_extension("ticker") and ent._.ticker:
            counts[ent._.ticker] = counts.get(ent._.ticker, 0) + 1
    return max(counts, key=counts.get) if counts else None


def _assets(ents: Iterable[Span]) -> list[str]:
    """Tickers of the assets and companies among `ents`, first mention first."""
    if not Span.has_extension("ticker"):
        return []
    tickers: list[str] = []
    for ent in ents:
        ticker = ent._.ticker
        if ticker and ticker not in tickers:
            tickers.append(ticker)
    return tickers


def figures_direction(figures: Sequence[Figure], metrics: dict[str, MetricSpec]
                      ) -> Direction | None:
    """The direction the signed figures of a sentence agree on, by their metrics'
    `positive_direction`; None when none says one or they disagree ("$120 million in, $118
    million out")."""
    said: set[str] = set()
    for figure in figures:
        spec = metrics.get(figure.metric)
        if spec is None or spec.positive_direction is None or figure.value == 0:
            continue
        if unit_kind(figure.unit) in spec.level_units:
            continue  # "4.12%" of a yield is a level and says no direction
        positive = spec.positive_direction
        said.add(positive if figure.value > 0 else
                 ("bearish" if positive == "bullish" else "bullish"))
    return Direction(said.pop()) if len(said) == 1 else None


@Language.factory(
    "newsignal_catalysts",
    default_config={
        "taxonomy_path": str(MODELS_DIR / "taxonomy.yaml"),
        "events_path": str(EVENTS_PATH),
        "metrics_path": str(MODELS_DIR / "metrics.yaml"),
        "direction_model": str(MODELS_DIR / "direction"),
        "direction_label_map": None,
        "direction_int8": None,
        "batch_size": 32,
    },
)
def make_catalyst_tagger(
    nlp: Language,
    name: str,
    taxonomy_path: str,
    events_path: str,
    metrics_path: str,
    direction_model: str,
    direction_label_map: dict[str, str] | None,
    direction_int8: bool | None,
    batch_size: int,
) -> CatalystTagger:
    return CatalystTagger(nlp, name, taxonomy_path, events_path, metrics_path, direction_model,
                          direction_label_map, direction_int8, batch_size)

"""Entities and figures measured against the team-written gold articles.

Gold lives in `models/data/gold/`: `<name>.txt` (the article) beside `<name>.json`
(`{"entities": [...], "figures": [...]}` with exact character offsets). Both are generated from
`markup/<name>.md`, where annotations are written inline so offsets never drift:

    ⟦Bitcoin|ASSET|BTC⟧ fell ⟪4.3%|v=-4.3;u=percent;m=price_change;a=BTC;p=24h⟫

(`⟦text|LABEL|TICKER⟧` an entity; `⟪text|key=value;...⟫` a figure with v value, h value_high,
u unit, m metric, a asset, p period, q qualifier; entities may sit inside a figure's text.)

- `evaluate_entities`: precision, recall and F1 per label of ours, exact span and label match.
  Labels spaCy adds that the gold does not annotate (DATE, MONEY, ORG, ...) are not scored.
- `evaluate_figures`: a predicted figure matches a gold one when their spans overlap, the unit is
  the same and the value is within 0.5%; over matched pairs, the accuracy of metric, asset, sign
  and period.
- `evaluate_article_catalysts`: the catalyst tags of whole articles against
  `catalysts/<name>.json` (the sentences a reader marks as catalysts, with category and
  direction): detection by overlap, then category and direction accuracy.

Each report keeps the counts every article adds (`per_article`), gives a 95% interval of each
of its measures over resampled articles, and two saved reports of one gold set are compared,
paired by article, by `compare_reports` (`newsignal eval compare`; see `intervals.py`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from spacy.language import Language

from pipeline.evaluation.intervals import (
    Difference,
    Scored,
    counts_added,
    f1,
    intervals_of,
    paired_difference,
    ratio,
)
from pipeline.nlp import analyze
from pipeline.nlp.numbers import OTHER_UNITS
from pipeline.records import Figure

SCORED_LABELS = (
    "ASSET", "EXCHANGE", "COMPANY", "FUND", "PERSON", "GOV_BODY", "LAW", "INDICATOR", "COUNTRY"
)
VALUE_TOLERANCE = 0.005
_FIGURE_KEYS = {"v": "value", "h": "value_high", "u": "unit", "m": "metric", "a": "asset",
                "p": "period", "q": "qualifier"}


class GoldError(ValueError):
    """A gold file is malformed (the message names it)."""


# -- gold files ----------------------------------------------------------------------------------
def parse_markup(markup: str) -> tuple[str, dict]:
    """(plain text, {"entities": [...], "figures": [...]}) of an annotated markup text."""
    out: list[str] = []
    stack: list[dict] = []  # open annotations: kind, start, attrs (None while in the text part)
    entities: list[dict] = []
    figures: list[dict] = []
    position = 0
    for char in markup:
        if char in "⟦⟪":
            stack.append({"kind": char, "start": position, "end": None, "attrs": None})
        elif char == "|" and stack and stack[-1]["attrs"] is None:
            stack[-1]["end"], stack[-1]["attrs"] = position, ""
        elif char in "⟧⟫":
            if not stack or {"⟦": "⟧", "⟪": "⟫"}[stack[-1]["kind"]] != char:
                raise ValueError(f"unbalanced {char!r} at text offset {position}")
            note = stack.pop()
            if note["attrs"] is None:
                raise ValueError(f"annotation without attributes at text offset {position}")
            text = "".join(out)[note["start"] : note["end"]]
            if note["kind"] == "⟦":
                entities.append(_gold_entity(text, note))
            else:
                figures.append(_gold_figure(text, note))
        elif stack and stack[-1]["attrs"] is not None:
            stack[-1]["attrs"] += char
        else:
            out.append(char)
            position += 1
    if stack:
        raise ValueError("annotation left open at the end of the markup")
    entities.sort(key=lambda e: e["start"])
    figures.sort(key=lambda f: f["start"])
    return "".join(out), {"entities": entities, "figures": figures}


def _gold_entity(text: str, note: dict) -> dict:
    label, _, ticker = note["attrs"].partition("|")
    if label not in SCORED_LABELS:
        raise ValueError(f"unknown entity label {label!r} for {text!r}")
    return {"text": text, "label": label, "start": note["start"], "end": note["end"],
            "ticker": ticker or None}


def _gold_figure(text: str, note: dict) -> dict:
    figure: dict = {"text": text, "start": note["start"], "end": note["end"], "value": None,
                    "value_high": None, "unit": None, "metric": "other", "asset": None,
                    "period": None, "qualifier": None}
    for pair in filter(None, note["attrs"].split(";")):
        key, _, value = pair.partition("=")
        if key not in _FIGURE_KEYS:
            raise ValueError(f"unknown figure attribute {key!r} for {text!r}")
        name = _FIGURE_KEYS[key]
        figure[name] = float(value) if name in ("value", "value_high") else value
    if figure["value"] is None or figure["unit"] is None:
        raise ValueError(f"figure {text!r} needs v= and u=")
    return figure


def write_gold(markup_path: Path, gold_dir: Path) -> Path:
    """Write `<name>.txt` and `<name>.json` of one markup file; returns the text's path."""
    text, annotations = parse_markup(Path(markup_path).read_text(encoding="utf-8"))
    name = Path(markup_path).stem
    text_path = Path(gold_dir) / f"{name}.txt"
    text_path.write_text(text, encoding="utf-8")
    (Path(gold_dir) / f"{name}.json").write_text(
        json.dumps(annotations, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return text_path


def gold_articles(gold_dir: Path, pattern: str = "*") -> list[tuple[str, str, dict]]:
    """(name, text, annotations) of every `<name>.txt` (name matching `pattern`) with its json;
    in a directory of markup only (the training data), of every `<name>.md` read as markup but
    the directory's README.md."""
    articles = []
    text_paths = sorted(Path(gold_dir).glob(f"{pattern}.txt"))
    for text_path in text_paths:
        annotations = json.loads(text_path.with_suffix(".json").read_text(encoding="utf-8"))
        articles.append((text_path.stem, text_path.read_text(encoding="utf-8"), annotations))
    if not text_paths:
        for markup_path in sorted(Path(gold_dir).glob(f"{pattern}.md")):
            if markup_path.name == "README.md":
                continue
            try:
                text, annotations = parse_markup(markup_path.read_text(encoding="utf-8"))
            except ValueError as error:
                raise GoldError(f"{markup_path}: {error}") from error
            articles.append((markup_path.stem, text, annotations))
    return articles


# -- scores --------------------------------------------------------------------------------------
@dataclass(slots=True)
class PRF:
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 0.0

    @property
    def recall(self) -> float:
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4),
                "f1": round(self.f1, 4), "tp": self.true_positives, "fp": self.false_positives,
                "fn": self.false_negatives}


@dataclass(slots=True)
class TickerScore:
    """Gold entities whose ticker the text states, and how many of them came out with it."""

    stated: int = 0
    linked: int = 0

    @property
    def accuracy(self) -> float:
        return self.linked / self.stated if self.stated else 0.0

    def to_dict(self) -> dict:
        return {"stated": self.stated, "linked": self.linked, "accuracy": round(self.accuracy, 4)}


@dataclass(slots=True)
class EntityReport:
    per_label: dict[str, PRF] = field(default_factory=dict)
    articles: int = 0
    errors: list[str] = field(default_factory=list)  # "name: missed/extra LABEL 'text'"
    # Per gold label: entities whose ticker the text states somewhere, found with that ticker.
    tickers: dict[str, TickerScore] = field(default_factory=dict)
    per_article: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> its counts
    MEASURES: ClassVar[dict[str, Scored]] = {
        "micro_f1": Scored(lambda c: f1(c["tp"], c["fp"], c["fn"])),
        "ticker_linking": Scored(lambda c: ratio(c["linked"], c["stated"])),
    }

    def counts(self) -> dict[str, int]:
        micro, tickers = self.micro, self.ticker_total
        return {"tp": micro.true_positives, "fp": micro.false_positives,
                "fn": micro.false_negatives, "stated": tickers.stated, "linked": tickers.linked}

    @property
    def ticker_total(self) -> TickerScore:
        return TickerScore(sum(t.stated for t in self.tickers.values()),
                           sum(t.linked for t in self.tickers.values()))

    @property
    def micro(self) -> PRF:
        total = PRF()
        for score in self.per_label.values():
            total.true_positives += score.true_positives
            total.false_positives += score.false_positives
            total.false_negatives += score.false_negatives
        return total

    def to_dict(self) -> dict:
        return {"articles": self.articles,
                "per_label": {label: s.to_dict() for label, s in self.per_label.items()},
                "micro": self.micro.to_dict(),
                "tickers": {label: t.to_dict() for label, t in self.tickers.items()},
                "tickers_all": self.ticker_total.to_dict(), **_resampling(self),
                "errors": list(self.errors)}

    def format(self) -> str:
        lines = [f"Entities over {self.articles} gold articles (exact span and label; ticker: "
                 "of gold entities whose ticker the text states, found with it)",
                 f"{'label':<10} {'P':>6} {'R':>6} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}"
                 f" {'ticker':>7} {'of':>4}"]
        for label, s in [*self.per_label.items(), ("all", self.micro)]:
            ticker = self.ticker_total if label == "all" else self.tickers.get(label)
            linked = (f" {ticker.accuracy:7.3f} {ticker.stated:4d}" if ticker and ticker.stated
                      else "")
            lines.append(f"{label:<10} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} "
                         f"{s.true_positives:4d} {s.false_positives:4d} {s.false_negatives:4d}"
                         + linked)
        return "\n".join([*lines, *_interval_lines(self)])


@dataclass(slots=True)
class FigureReport:
    value_unit: PRF = field(default_factory=PRF)
    matched: int = 0
    sized: int = 0  # gold figures found with the right size and unit, either sign
    metric_correct: int = 0
    asset_correct: int = 0
    sign_correct: int = 0
    period_correct: int = 0
    articles: int = 0
    errors: list[str] = field(default_factory=list)
    confusions: Counter = field(default_factory=Counter)  # (gold metric, predicted metric)
    found: int = 0  # figures the pipeline gave, matched or not
    found_other: int = 0  # of those, with metric `other`
    per_article: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> its counts
    MEASURES: ClassVar[dict[str, Scored]] = {
        "value_unit_f1": Scored(lambda c: f1(c["tp"], c["fp"], c["fn"])),
        "metric_accuracy": Scored(lambda c: ratio(c["metric_correct"], c["matched"])),
        "sign_accuracy": Scored(lambda c: ratio(c["sign_correct"], c["sized"])),
        "other_share": Scored(lambda c: ratio(c["found_other"], c["found"]),
                              higher_is_better=False),
    }

    def counts(self) -> dict[str, int]:
        s = self.value_unit
        return {"tp": s.true_positives, "fp": s.false_positives, "fn": s.false_negatives,
                "matched": self.matched, "metric_correct": self.metric_correct,
                "sized": self.sized, "sign_correct": self.sign_correct, "found": self.found,
                "found_other": self.found_other}

    def _share(self, count: int) -> float:
        return count / self.matched if self.matched else 0.0

    @property
    def metric_accuracy(self) -> float:
        return self._share(self.metric_correct)

    @property
    def asset_accuracy(self) -> float:
        return self._share(self.asset_correct)

    @property
    def sign_accuracy(self) -> float:
        """Over the figures found with the right size and unit, whatever their sign: a wrong
        sign makes a figure miss the value+unit match, so over those matches it is always
        right."""
        return self.sign_correct / self.sized if self.sized else 0.0

    @property
    def period_accuracy(self) -> float:
        return self._share(self.period_correct)

    @property
    def other_share(self) -> float:
        """Share of the figures found that got no metric of the vocabulary."""
        return self.found_other / self.found if self.found else 0.0

    def to_dict(self) -> dict:
        return {"articles": self.articles, "value_unit": self.value_unit.to_dict(),
                "matched": self.matched, "sized": self.sized,
                "metric_accuracy": round(self.metric_accuracy, 4),
                "asset_accuracy": round(self.asset_accuracy, 4),
                "sign_accuracy": round(self.sign_accuracy, 4),
                "period_accuracy": round(self.period_accuracy, 4),
                "found": self.found, "other_share": round(self.other_share, 4),
                "confusions": {f"{gold}->{got}": n for (gold, got), n in
                               self.confusions.most_common()},
                **_resampling(self), "errors": list(self.errors)}

    def format(self) -> str:
        s = self.value_unit
        return "\n".join([
            f"Figures over {self.articles} gold articles (value within 0.5% and same unit)",
            f"value+unit  P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}  "
            f"(tp {s.true_positives}, fp {s.false_positives}, fn {s.false_negatives})",
            f"over {self.matched} matched figures: metric {self.metric_accuracy:.3f}, "
            f"asset {self.asset_accuracy:.3f}, period {self.period_accuracy:.3f}",
            f"sign {self.sign_accuracy:.3f} over {self.sized} figures found with the right size "
            f"and unit, either sign",
            f"metric other: {self.found_other} of {self.found} figures found "
            f"({self.other_share:.3f})",
            *_interval_lines(self),
        ])


def _resampling(report) -> dict:
    """The JSON report's per-article counts (what `newsignal eval compare` pairs) and the 95%
    interval of each measure over resampled articles (`pipeline.evaluation.intervals`)."""
    return {"per_article": report.per_article,
            "intervals": {name: [round(low, 4), round(high, 4)] for name, (low, high)
                          in intervals_of(report.per_article, report.MEASURES).items()}}


def _interval_lines(report) -> list[str]:
    if len(report.per_article) < 2:
        return []
    intervals = intervals_of(report.per_article, report.MEASURES)
    return [f"95% interval over {len(report.per_article)} resampled articles: " + ", ".join(
        f"{name.replace('_', ' ')} {low:.3f}-{high:.3f}" for name, (low, high)
        in intervals.items())]


# A saved JSON report's kind, by a key only that kind has.
_REPORT_KINDS = (("detection", "catalysts"), ("value_unit", "figures"), ("micro", "entities"))


def report_kind(report: dict) -> str:
    """"catalysts", "figures" or "entities": which evaluation wrote this JSON report."""
    for key, kind in _REPORT_KINDS:
        if key in report:
            return kind
    raise GoldError("not a JSON report of `newsignal eval catalysts`, `figures` or `entities`")


def compare_reports(before: dict, after: dict, *, seed: int = 0) -> dict[str, Difference]:
    """Each measure of two JSON reports of one kind, `after` against `before`, paired over the
    gold articles both scored (`intervals.paired_difference`)."""
    kind = report_kind(before)
    if report_kind(after) != kind:
        raise GoldError(f"a {kind} report cannot be compared with a {report_kind(after)} one")
    if "per_article" not in before or "per_article" not in after:
        raise GoldError("a report without per-article counts (written before they were kept): "
                        "run the evaluation again")
    shared = set(before["per_article"]) & set(after["per_article"])
    if not shared:
        raise GoldError("the two reports share no gold article")
    measures = {"catalysts": ArticleCatalystReport, "figures": FigureReport,
                "entities": EntityReport}[kind].MEASURES
    return {name: paired_difference(before["per_article"], after["per_article"],
                                    scored.measure, higher_is_better=scored.higher_is_better,
                                    seed=seed)
            for name, scored in measures.items()}


def _default_nlp(nlp: Language | None, *, catalysts: bool = False) -> Language:
    if nlp is not None:
        return nlp
    from pipeline.nlp import build_nlp

    return build_nlp(catalysts=catalysts)


def evaluate_entities(
    gold_dir: Path, nlp: Language | None = None, *, pattern: str = "*"
) -> EntityReport:
    """P/R/F1 per entity label over the gold articles of `gold_dir` (exact span match).

    `pattern` picks articles by name, e.g. "heldout_*" for those written after tuning.
    """
    nlp = _default_nlp(nlp)
    report = EntityReport(per_label={label: PRF() for label in SCORED_LABELS},
                          tickers={label: TickerScore() for label in SCORED_LABELS})
    for name, text, annotations in gold_articles(gold_dir, pattern):
        report.articles += 1
        before = report.counts()
        gold = {(e["start"], e["end"], e["label"]) for e in annotations["entities"]}
        doc = nlp(text)
        predicted = {(e.start_char, e.end_char, e.label_) for e in doc.ents
                     if e.label_ in SCORED_LABELS}
        tickers = {(e.start_char, e.end_char): e._.get("ticker") for e in doc.ents
                   if e.has_extension("ticker")}
        for entity in annotations["entities"]:
            if entity["ticker"] and _states(text, entity["ticker"]):
                score = report.tickers[entity["label"]]
                score.stated += 1
                found = tickers.get((entity["start"], entity["end"]))
                score.linked += found == entity["ticker"]
                if found != entity["ticker"]:
                    report.errors.append(f"{name}: ticker of {entity['text']!r} is {found!r}, "
                                         f"not {entity['ticker']!r}")
        for start, end, label in gold | predicted:
            score = report.per_label[label]
            if (start, end, label) in gold and (start, end, label) in predicted:
                score.true_positives += 1
            elif (start, end, label) in predicted:
                score.false_positives += 1
                report.errors.append(f"{name}: extra {label} {text[start:end]!r}")
            else:
                score.false_negatives += 1
                report.errors.append(f"{name}: missed {label} {text[start:end]!r}")
        report.per_article[name] = counts_added(report.counts(), before)
    return report


def _states(text: str, ticker: str) -> bool:
    """Whether `text` writes `ticker` as a word of its own ("(NGDH)", "$NGDH", "NGDH shares")."""
    return re.search(rf"(?<![A-Za-z0-9]){re.escape(ticker)}(?![A-Za-z0-9])", text) is not None


def _values_agree(gold: dict, figure: Figure, *, signed: bool = True) -> bool:
    """Same unit and value within VALUE_TOLERANCE; with `signed=False` the same size, either
    sign."""
    if gold["unit"] != figure.unit:
        return False
    value = figure.value if signed else abs(figure.value)
    return any(
        abs(value - (expected if signed else abs(expected)))
        <= VALUE_TOLERANCE * max(abs(expected), 1e-12)
        for expected in _gold_values(gold)
    )


def _gold_values(gold: dict) -> tuple[float, ...]:
    """The gold value, and for a hash rate also that value read in the unit its text writes:
    annotators normalise "60 EH/s" to 6e19 hashes per second or keep 60, and both mean one
    thing."""
    if gold["unit"] == "hashrate":
        for pattern, unit, multiplier in OTHER_UNITS:
            if unit == "hashrate" and re.search(pattern, gold["text"]):
                return gold["value"], gold["value"] * multiplier
    return (gold["value"],)


def _match_by_overlap(items: Iterable, candidates: Iterable, item_span: Callable,
                      candidate_span: Callable, agree: Callable | None = None) -> tuple[list, list]:
    """Walk `items` in order; each takes the first candidate not yet taken whose (start, end)
    character span overlaps its own and, given `agree`, agrees with it. Returns the (item,
    candidate or None) pairs in item order, and the candidates nothing took."""
    unmatched, pairs = list(candidates), []
    for item in items:
        start, end = item_span(item)
        match = next((c for c in unmatched
                      if candidate_span(c)[0] < end and start < candidate_span(c)[1]
                      and (agree is None or agree(item, c))), None)
        if match is not None:
            unmatched.remove(match)
        pairs.append((item, match))
    return pairs, unmatched


def match_figures(gold: list[dict], found: list[Figure], *, signed: bool = True
                  ) -> tuple[list, list]:
    """Each annotated figure with the found figure it matches (overlapping span, same unit,
    value within VALUE_TOLERANCE; either sign unless `signed`) or None, and the found figures
    nothing matched."""
    return _match_by_overlap(gold, found, _gold_span, _record_span,
                             lambda g, f: _values_agree(g, f, signed=signed))


def _gold_span(row: dict) -> tuple[int, int]:
    return row["start"], row["end"]


def _record_span(record) -> tuple[int, int]:
    return record.start_char, record.end_char


def evaluate_figures(
    gold_dir: Path, nlp: Language | None = None, *, pattern: str = "*"
) -> FigureReport:
    """Value+unit P/R/F1, then metric, asset, sign and period accuracy over matched figures."""
    nlp = _default_nlp(nlp)
    report = FigureReport()
    for name, text, annotations in gold_articles(gold_dir, pattern):
        report.articles += 1
        before = report.counts()
        found = analyze(nlp(text)).figures
        report.found += len(found)
        report.found_other += sum(figure.metric == "other" for figure in found)
        pairs, unmatched = match_figures(annotations["figures"], found)
        for gold, match in pairs:
            if match is None:
                report.value_unit.false_negatives += 1
                report.errors.append(f"{name}: missed {gold['text']!r} {gold['value']} "
                                     f"{gold['unit']}")
                continue
            report.value_unit.true_positives += 1
            report.matched += 1
            report.metric_correct += match.metric == gold["metric"]
            report.asset_correct += match.asset == gold["asset"]
            report.period_correct += match.period == gold["period"]
            if match.metric != gold["metric"]:
                report.confusions[(gold["metric"], match.metric)] += 1
            for key, got in (("metric", match.metric), ("asset", match.asset)):
                if got != gold[key]:
                    report.errors.append(f"{name}: {gold['text']!r} {key} {got!r} != "
                                         f"{gold[key]!r}")
        for gold, match in match_figures(annotations["figures"], found, signed=False)[0]:
            if match is None:
                continue
            report.sized += 1
            report.sign_correct += (match.value < 0) == (gold["value"] < 0)
            if (match.value < 0) != (gold["value"] < 0):
                report.errors.append(f"{name}: {gold['text']!r} sign {match.value} != "
                                     f"{gold['value']} ({match.metric})")
        for figure in unmatched:
            report.value_unit.false_positives += 1
            report.errors.append(f"{name}: extra {figure.text!r} {figure.value} {figure.unit} "
                                 f"({figure.metric})")
        report.per_article[name] = counts_added(report.counts(), before)
    return report


# -- catalysts, article by article ---------------------------------------------------------------
# <gold_dir>/catalysts/<name>.json: the article's catalyst sentences. Its text is
# <gold_dir>/<name>.txt for articles with entity and figure gold too, or
# <gold_dir>/catalysts/<name>.txt for articles annotated for catalysts only.
CATALYST_GOLD_DIR = "catalysts"


PAGES_DIR = "pages"  # a gold set's articles as web pages, `<name>.html`


def catalyst_gold_articles(gold_dir: Path, pattern: str = "*") -> list[tuple[str, str, list[dict]]]:
    """(name, text, catalyst sentences) of every article with catalyst gold."""
    articles = []
    for gold_path in sorted((Path(gold_dir) / CATALYST_GOLD_DIR).glob(f"{pattern}.json")):
        text_path = Path(gold_dir) / f"{gold_path.stem}.txt"
        if not text_path.is_file():
            text_path = gold_path.with_suffix(".txt")
        articles.append((gold_path.stem, text_path.read_text(encoding="utf-8"),
                         json.loads(gold_path.read_text(encoding="utf-8"))))
    return articles


@dataclass(slots=True)
class ArticleCatalystReport:
    """The catalyst component on whole articles: which sentences it tags, and how."""

    detection: PRF = field(default_factory=PRF)  # tagged sentence overlaps a gold catalyst
    matched: int = 0
    category_correct: int = 0
    direction_correct: int = 0
    event_typed: int = 0  # matched gold sentences that name an event type
    event_correct: int = 0
    articles: int = 0
    gold_sentences: int = 0
    lost_in_extraction: int = 0  # from pages: gold sentences the extracted text does not hold
    directions: Counter = field(default_factory=Counter)  # (gold, predicted) over matched
    errors: list[str] = field(default_factory=list)
    per_article: dict[str, dict[str, int]] = field(default_factory=dict)  # name -> its counts
    MEASURES: ClassVar[dict[str, Scored]] = {
        "detection_f1": Scored(lambda c: f1(c["tp"], c["fp"], c["fn"])),
        "direction_accuracy": Scored(lambda c: ratio(c["direction_correct"], c["matched"])),
        "category_accuracy": Scored(lambda c: ratio(c["category_correct"], c["matched"])),
    }

    def counts(self) -> dict[str, int]:
        s = self.detection
        return {"tp": s.true_positives, "fp": s.false_positives, "fn": s.false_negatives,
                "matched": self.matched, "direction_correct": self.direction_correct,
                "category_correct": self.category_correct}

    @property
    def category_accuracy(self) -> float:
        return self.category_correct / self.matched if self.matched else 0.0

    @property
    def direction_accuracy(self) -> float:
        return self.direction_correct / self.matched if self.matched else 0.0

    @property
    def event_accuracy(self) -> float | None:
        return self.event_correct / self.event_typed if self.event_typed else None

    def to_dict(self) -> dict:
        event = self.event_accuracy
        return {"articles": self.articles, "gold_catalysts": self.gold_sentences,
                "detection": self.detection.to_dict(), "matched": self.matched,
                "category_accuracy": round(self.category_accuracy, 4),
                "direction_accuracy": round(self.direction_accuracy, 4),
                "event_type_accuracy": None if event is None else round(event, 4),
                "lost_in_extraction": self.lost_in_extraction,
                "direction_confusion": {f"{g}->{p}": n for (g, p), n in
                                        sorted(self.directions.items())},
                **_resampling(self), "errors": list(self.errors)}

    def format(self) -> str:
        s = self.detection
        return "\n".join([
            f"Catalysts over {self.articles} gold articles ({self.gold_sentences} gold catalyst "
            "sentences; a tag matches a gold sentence it overlaps)",
            f"detection  P {s.precision:.3f}  R {s.recall:.3f}  F1 {s.f1:.3f}  "
            f"(tp {s.true_positives}, fp {s.false_positives}, fn {s.false_negatives})",
            f"over {self.matched} matched: category {self.category_accuracy:.3f}, "
            f"direction {self.direction_accuracy:.3f}"
            + (f", event type {self.event_accuracy:.3f} (of {self.event_typed} typed)"
               if self.event_accuracy is not None else ""),
            *([f"{self.lost_in_extraction} gold sentences are not in the extracted text"]
              if self.lost_in_extraction else []),
            *_interval_lines(self),
        ])


def evaluate_article_catalysts(
    gold_dir: Path, nlp: Language | None = None, *, pattern: str = "*", from_pages: bool = False
) -> ArticleCatalystReport:
    """Run the whole pipeline (catalysts included) over each gold article that has catalyst gold
    and score the tags against it: detection P/R/F1 by overlap, then the category, direction and
    event type of each matched tag.

    `from_pages`: read each article from its web page (`pages/<name>.html`) through the extractor,
    as a run would, and find each gold sentence in the extracted text; a sentence the extractor
    lost counts as missed.
    """
    nlp = _default_nlp(nlp, catalysts=True)
    report = ArticleCatalystReport()
    for name, text, gold in catalyst_gold_articles(gold_dir, pattern):
        report.articles += 1
        report.gold_sentences += len(gold)
        before = report.counts()
        if from_pages:
            text, gold, lost = _gold_in_page(Path(gold_dir) / PAGES_DIR / f"{name}.html", gold)
            report.lost_in_extraction += len(lost)
            report.detection.false_negatives += len(lost)
            report.errors += [f"{name}: not in the extracted text {row['text'][:80]!r}"
                              for row in lost]
        pairs, unmatched = _match_by_overlap(
            analyze(nlp(text)).catalysts, gold, _record_span, _gold_span
        )
        for tag, match in pairs:
            if match is None:
                report.detection.false_positives += 1
                report.errors.append(f"{name}: extra {tag.category} {tag.direction} "
                                     f"{tag.sentence[:80]!r}")
                continue
            report.detection.true_positives += 1
            report.matched += 1
            report.category_correct += tag.category == match["category"]
            report.direction_correct += str(tag.direction) == match["direction"]
            report.directions[(match["direction"], str(tag.direction))] += 1
            if match.get("event_type"):
                report.event_typed += 1
                report.event_correct += tag.event_type == match["event_type"]
            if (tag.category, str(tag.direction)) != (match["category"], match["direction"]):
                report.errors.append(f"{name}: {match['text'][:80]!r} is {match['category']} "
                                     f"{match['direction']}, tagged {tag.category} "
                                     f"{tag.direction}")
        for missed in unmatched:
            report.detection.false_negatives += 1
            report.errors.append(f"{name}: missed {missed['category']} {missed['direction']} "
                                 f"{missed['text'][:80]!r}")
        report.per_article[name] = counts_added(report.counts(), before)
    return report


def _gold_in_page(page: Path, gold: list[dict]) -> tuple[str, list[dict], list[dict]]:
    """(extracted text, gold sentences with their offsets in it, gold sentences it lacks)."""
    from pipeline.extract import extract_article, headed_text

    article = extract_article(page.read_bytes(), page.resolve().as_uri())
    text = headed_text(article.title, article.text)  # as a run reads it (processing.py)
    found, lost, cursor = [], [], 0
    for row in gold:
        start = text.find(row["text"], cursor)
        if start < 0:
            start = text.find(row["text"])
        if start < 0:
            lost.append(row)
            continue
        found.append({**row, "start": start, "end": start + len(row["text"])})
        cursor = start + len(row["text"])
    return text, found, lost


__all__ = ["ArticleCatalystReport", "EntityReport", "FigureReport", "GoldError", "PRF",
           "catalyst_gold_articles", "compare_reports", "evaluate_article_catalysts",
           "evaluate_entities", "evaluate_figures", "gold_articles", "parse_markup",
           "report_kind", "write_gold"]

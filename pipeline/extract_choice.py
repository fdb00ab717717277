"""Choosing between extractors' readings of one page: the span merge and the learned chooser.

`extract_article` reads a page with trafilatura's precise mode (the base). Where that reading
left lists, subheadings or tables out of the story's container (`extract.
dropped_structure_words`), its recall mode runs too and the recall paragraphs that lie between the
base's first and last paragraph are taken in (`within_span`): what the precise mode dropped inside
the story, without the teasers and comment boxes that the recall mode also picks up around it.

A page is doubtful when the base covers little of the page's visible words (or is short). Only
then the costly alternatives are run (the recall reading, a jusText pass), and the chooser
decides, for each alternative at least `min_ratio` times longer than the base, whether it is the
story the base missed: a logistic regression over three features (how much longer, how much of
it the base already has, how prose-like its extra paragraphs are). An alternative that mostly
adds other stories' `<article>` elements is not weighed at all (`reads_other_stories`). The
chooser ships as JSON (`models/extraction/chooser.json`) and is trained on the dev halves of both
benchmarks by `newsignal train extraction` (`train_chooser`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import lxml.html

CHOOSER_FILE = Path(__file__).resolve().parents[1] / "models" / "extraction" / "chooser.json"
FEATURES = ("log_length_ratio", "share_in_base", "new_stopword_share")
# A recall paragraph counts as the base's when at least this share of its 4-grams is there.
SPAN_MATCH = 0.5
# The recall reading must hold this share of the base's 4-grams to be merged with it at all
# (below it, the two read different parts of the page and the base is kept).
SPAN_MIN_COVER = 0.8
# An alternative is not weighed when at least this share of the words it adds lies in other
# stories' <article> elements (`reads_other_stories`).
OTHER_STORIES_SHARE = 0.5
_WORD = re.compile(r"\w+")
_INVISIBLE = ("script", "style", "noscript", "template")


def _grams(text: str) -> set[tuple[str, ...]]:
    tokens = _WORD.findall(text.lower())
    if len(tokens) < 4:
        return {tuple(tokens)} if tokens else set()
    return set(zip(tokens, tokens[1:], tokens[2:], tokens[3:]))


def _paragraphs(text: str) -> list[str]:
    return [block for block in text.split("\n\n") if block.strip()]


def _share_in(grams: set, reference: set) -> float:
    return len(grams & reference) / len(grams) if grams else 0.0


def within_span(base: str, wide: str) -> str:
    """`wide`'s paragraphs from the first to the last one that `base` also has; `base` itself
    when `wide` does not hold most of it."""
    base_grams = _grams(base)
    paragraphs = _paragraphs(wide)
    paragraph_grams = [_grams(paragraph) for paragraph in paragraphs]
    # 4-grams across paragraph boundaries are left out; they change the share by a hair
    wide_grams = set().union(*paragraph_grams)
    if not base_grams or _share_in(base_grams, wide_grams) < SPAN_MIN_COVER:
        return base
    shared = [_share_in(grams, base_grams) >= SPAN_MATCH for grams in paragraph_grams]
    if not any(shared):
        return base
    first = shared.index(True)
    last = len(shared) - 1 - shared[::-1].index(True)
    return "\n\n".join(paragraphs[first : last + 1])


def reads_other_stories(tree: lxml.html.HtmlElement, base: str, alternative: str) -> bool:
    """Whether most of what `alternative` adds to `base` is other stories' text: that of
    `<article>` elements other than the story's, where the story's is the one holding the page's
    headline (its first h1) and the base. HTML gives each self-contained piece its own `<article>`,
    so the others are teasers, related posts or comments; a listing of quotes or posts reads as a
    long, prose-like alternative that the chooser would otherwise take. False wherever the page
    does not say so: no h1 inside an `<article>`, or the base not in it."""
    headline = tree.find(".//h1")
    story = next(headline.iterancestors("article"), None) if headline is not None else None
    if story is None:
        return False
    base_grams = _grams(base)
    if _share_in(base_grams, _grams(story.text_content())) < SPAN_MATCH:
        return False
    base_paragraphs = [_grams(paragraph) for paragraph in _paragraphs(base)]
    around = set(story.iterancestors())
    foreign: set[tuple[str, ...]] = set()
    for article in tree.iter("article"):
        if article is story or article in around:
            continue
        grams = _grams(article.text_content())
        # an article holding part of the base (the story's body in an article of its own) is
        # the story's, not another one
        if not any(_share_in(paragraph, grams) >= SPAN_MATCH for paragraph in base_paragraphs):
            foreign |= grams
    if not foreign:
        return False
    added = [paragraph for paragraph in _paragraphs(alternative)
             if _share_in(_grams(paragraph), base_grams) < SPAN_MATCH]
    added_words = sum(len(_WORD.findall(paragraph)) for paragraph in added)
    foreign_words = sum(len(_WORD.findall(paragraph)) for paragraph in added
                        if _share_in(_grams(paragraph), foreign) >= SPAN_MATCH)
    return added_words > 0 and foreign_words >= OTHER_STORIES_SHARE * added_words


def visible_words(tree: lxml.html.HtmlElement) -> int:
    """Words a reader could see on the page: whitespace-separated, scripts and styles left out."""
    body = tree.find("body")
    root = body if body is not None else tree
    hidden = sum(len((element.text or "").split()) for element in root.iter(*_INVISIBLE))
    return len(" ".join(root.itertext()).split()) - hidden


@lru_cache(maxsize=32)
def _stop_words(language: str | None) -> frozenset[str]:
    """jusText's stop words for the language, or those of every language it knows."""
    from justext.utils import get_stoplist, get_stoplists
    from trafilatura.settings import JUSTEXT_LANGUAGES

    if language in JUSTEXT_LANGUAGES:
        return frozenset(get_stoplist(JUSTEXT_LANGUAGES[language]))
    return frozenset(word for name in get_stoplists() for word in get_stoplist(name))


def switch_features(base: str, alternative: str, language: str | None) -> list[float]:
    """FEATURES of replacing `base` by `alternative`: log of the word-count ratio, the share of
    the alternative's 4-grams the base has, and the stop-word share of the alternative's
    paragraphs that the base lacks (prose has many; menus, tags and link lists few)."""
    base_grams = _grams(base)
    alternative_grams = _grams(alternative)
    ratio = (len(_WORD.findall(alternative)) + 1) / (len(_WORD.findall(base)) + 1)
    stop_words = _stop_words(language)
    new_words = [
        word
        for paragraph in _paragraphs(alternative)
        if _share_in(_grams(paragraph), base_grams) < SPAN_MATCH
        for word in _WORD.findall(paragraph.lower())
    ]
    stop_share = sum(word in stop_words for word in new_words) / len(new_words) if new_words else 0.0
    return [math.log(ratio), _share_in(alternative_grams, base_grams), stop_share]


@dataclass(slots=True)
class Chooser:
    """When to doubt the base text, and a logistic regression deciding whether an alternative
    reading replaces it. `weights` apply to the standardised FEATURES ((x - mean) / scale)."""

    means: list[float]
    scales: list[float]
    weights: list[float]
    bias: float
    threshold: float = 0.5
    min_ratio: float = 2.5  # an alternative is weighed only when this many times longer
    doubt_coverage: float = 0.35  # the base is doubtful below this share of the visible words
    doubt_chars: int = 500  # ... or when shorter than this
    features: list[str] = field(default_factory=lambda: list(FEATURES))
    trained: dict = field(default_factory=dict)  # how it was trained and what it scored

    @classmethod
    def load(cls, path: Path = CHOOSER_FILE) -> Chooser:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if data.get("features") != list(FEATURES):
            raise ValueError(f"{path}: features {data.get('features')} are not {list(FEATURES)}")
        return cls(**data)

    def save(self, path: Path = CHOOSER_FILE) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    def doubtful(self, text: str, page_words: int) -> bool:
        """Cheap signals that the base may have missed the story: little of the page, or short."""
        return len(text) < self.doubt_chars or len(text.split()) < self.doubt_coverage * page_words

    def probability(self, features: list[float]) -> float:
        """P(the alternative reads the page better than the base)."""
        score = self.bias + sum(
            weight * (value - mean) / scale
            for weight, value, mean, scale in zip(self.weights, features, self.means, self.scales)
        )
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, score))))

    def weighed(self, base: str, alternative: str) -> bool:
        """Whether the chooser considers the alternative at all: enough longer than the base."""
        base_words = len(_WORD.findall(base))
        return len(_WORD.findall(alternative)) >= self.min_ratio * base_words and bool(alternative)

    def choose(self, base: str, alternatives: dict[str, str], language: str | None) -> str:
        """The name of the reading to keep: "base", or the likeliest alternative above the
        threshold."""
        best, best_probability = "base", self.threshold
        for name, text in alternatives.items():
            if not self.weighed(base, text):
                continue
            probability = self.probability(switch_features(base, text, language))
            if probability > best_probability:
                best, best_probability = name, probability
        return best


@lru_cache(maxsize=1)
def shipped_chooser() -> Chooser:
    return Chooser.load(CHOOSER_FILE)


# -- training -------------------------------------------------------------------------------------


def fit_logistic(
    rows: list[list[float]], labels: list[int], sample_weights: list[float], l2: float
) -> tuple[list[float], float]:
    """Weighted logistic regression with an L2 penalty on the weights (not the bias), by Newton's
    method: deterministic, so a seed only matters for the folds around it."""
    import numpy as np

    x = np.hstack([np.asarray(rows, dtype=float), np.ones((len(rows), 1))])
    y = np.asarray(labels, dtype=float)
    w = np.asarray(sample_weights, dtype=float)
    penalty = np.full(x.shape[1], l2)
    penalty[-1] = 0.0
    beta = np.zeros(x.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -30, 30)))
        gradient = x.T @ (w * (p - y)) + penalty * beta
        hessian = (x.T * (w * p * (1 - p))) @ x + np.diag(penalty) + 1e-9 * np.eye(x.shape[1])
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return [float(b) for b in beta[:-1]], float(beta[-1])


@dataclass(slots=True)
class TrainingRow:
    """One (page, alternative) pair the chooser weighs, with what replacing the base would do."""

    page: str  # "<benchmark>/<page id>"
    alternative: str
    features: list[float]
    gain: float  # page F1 of the alternative minus that of the base


@dataclass(slots=True)
class PageOutcome:
    page: str
    base_f1: float
    alternative_f1: dict[str, float]


def collect_rows(bench_dirs: list[Path], split: str = "dev", min_ratio: float = 2.5
                 ) -> tuple[list[TrainingRow], list[PageOutcome]]:
    """The chooser's training rows from one half of each benchmark: the alternatives of every
    doubtful page (the doubt gates as shipped), scored against the page's true text."""
    from pipeline.evaluation.extraction import load_benchmark, score_page, split_ids
    from pipeline.extract import readings_of_page

    rows: list[TrainingRow] = []
    outcomes: list[PageOutcome] = []
    chooser = Chooser([0.0] * len(FEATURES), [1.0] * len(FEATURES), [0.0] * len(FEATURES), 0.0,
                      min_ratio=min_ratio)
    for bench_dir in bench_dirs:
        for page in load_benchmark(bench_dir, split_ids(bench_dir, split)):
            readings = readings_of_page(page.html, page.url, chooser)
            if readings is None:
                continue
            key = f"{Path(bench_dir).name}/{page.page_id}"
            base_f1 = score_page(page.truth, readings.base).f1
            scores = {name: score_page(page.truth, text).f1
                      for name, text in readings.alternatives.items()}
            outcomes.append(PageOutcome(key, base_f1, scores))
            for name, text in readings.alternatives.items():
                if chooser.weighed(readings.base, text):
                    features = switch_features(readings.base, text, readings.language)
                    rows.append(TrainingRow(key, name, features, scores[name] - base_f1))
    return rows, outcomes


def fit_chooser(rows: list[TrainingRow], c: float, min_ratio: float) -> Chooser:
    """Standardise the features and fit: label = the alternative reads the page better, weight =
    by how much (a page where the choice hardly matters teaches little)."""
    columns = list(zip(*(row.features for row in rows)))
    means = [sum(column) / len(column) for column in columns]
    scales = [
        math.sqrt(sum((v - mean) ** 2 for v in column) / len(column)) or 1.0
        for column, mean in zip(columns, means)
    ]
    standard = [[(v - m) / s for v, m, s in zip(row.features, means, scales)] for row in rows]
    weights, bias = fit_logistic(
        standard, [int(row.gain > 0) for row in rows], [abs(row.gain) + 1e-3 for row in rows],
        l2=1.0 / c,
    )
    return Chooser(means, scales, weights, bias, min_ratio=min_ratio)


def chosen_gain(chooser: Chooser, rows: list[TrainingRow]) -> dict[str, float]:
    """Per page, the F1 gained (or lost) by the alternative the chooser takes, if any."""
    best: dict[str, tuple[float, float]] = {}
    for row in rows:
        probability = chooser.probability(row.features)
        if probability > chooser.threshold and probability > best.get(row.page, (0.0, 0.0))[0]:
            best[row.page] = (probability, row.gain)
    return {page: gain for page, (_probability, gain) in best.items()}


def cross_validated_gain(rows: list[TrainingRow], c: float, min_ratio: float, seed: int,
                         folds: int = 5) -> dict[str, float]:
    """chosen_gain with each page judged by a chooser fitted without it (pages dealt to folds
    by a seeded shuffle)."""
    import random

    pages = sorted({row.page for row in rows})
    random.Random(seed).shuffle(pages)
    fold_of = {page: i % folds for i, page in enumerate(pages)}
    gains: dict[str, float] = {}
    for fold in range(folds):
        train = [row for row in rows if fold_of[row.page] != fold]
        held = [row for row in rows if fold_of[row.page] == fold]
        if train and held:
            gains.update(chosen_gain(fit_chooser(train, c, min_ratio), held))
    return gains


@dataclass(slots=True)
class ChooserReport:
    """What training saw and what the chooser is expected to change, per benchmark (dev half)."""

    pages: dict[str, int]
    rows: int
    cross_validated: dict[str, dict[str, float]]  # benchmark -> switches, mean page-F1 gain
    in_sample: dict[str, dict[str, float]]
    output: str

    def format(self) -> str:
        lines = [f"extraction chooser: {self.rows} weighed alternatives on "
                 f"{sum(self.pages.values())} dev pages -> {self.output}"]
        for label, table in (("cross-validated", self.cross_validated),
                             ("in sample", self.in_sample)):
            for bench, result in table.items():
                lines.append(f"  {label:<16}{bench:<30}switches {int(result['switches']):>3}  "
                             f"mean page-F1 gain {result['gain']:+.4f}")
        return "\n".join(lines)


def _gain_by_benchmark(gains: dict[str, float], pages: dict[str, int]) -> dict[str, dict]:
    table = {}
    for bench, count in pages.items():
        mine = [gain for page, gain in gains.items() if page.startswith(f"{bench}/")]
        table[bench] = {"switches": len(mine), "gain": sum(mine) / count if count else 0.0}
    return table


def train_chooser(bench_dirs: list[Path], output: Path = CHOOSER_FILE, seed: int = 13,
                  c: float = 0.3, min_ratio: float = 2.5) -> ChooserReport:
    """Fit the chooser on the dev halves of `bench_dirs` and write it to `output`."""
    rows, outcomes = collect_rows(bench_dirs, "dev", min_ratio)
    if not rows:
        raise ValueError("no page of the dev halves has an alternative worth weighing")
    pages: dict[str, int] = {}
    for outcome in outcomes:
        bench = outcome.page.split("/", 1)[0]
        pages[bench] = pages.get(bench, 0) + 1
    chooser = fit_chooser(rows, c, min_ratio)
    report = ChooserReport(
        pages=pages,
        rows=len(rows),
        cross_validated=_gain_by_benchmark(cross_validated_gain(rows, c, min_ratio, seed), pages),
        in_sample=_gain_by_benchmark(chosen_gain(chooser, rows), pages),
        output=str(output),
    )
    chooser.trained = {
        "command": "newsignal train extraction",
        "data": "dev halves (models/extraction/splits.json) of " + ", ".join(sorted(pages)),
        "seed": seed,
        "c": c,
        "pages": pages,
        "rows": len(rows),
        "cross_validated": report.cross_validated,
    }
    chooser.save(output)
    return report

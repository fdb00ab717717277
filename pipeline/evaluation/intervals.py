"""How far a gold-set score would move on other articles of the same kind: intervals, and paired
differences between two runs, by resampling whole articles.

The articles are the independent units, not the sentences or figures in them: one article's
sentences share a writer, a topic and a template, and a rule that fixes one of them tends to fix
its neighbours. So a report keeps the counts each article contributes (`per_article`), and a
resample draws articles with replacement, adds up their counts and recomputes the measure from
the sums, the same way the report computes it from all of them. With 15 or 16 articles the
intervals are wide; that is the point of showing them.

- `article_interval`: the percentile interval of one measure over resamples of one report.
- `paired_difference`: the difference `after - before` of one measure between two reports of the
  same gold articles, each resample drawing the same articles for both, with its interval and
  the share of resamples in which `after` does not beat `before`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95

Counts = Mapping[str, int]
# A measure computed from summed counts, one value per resample: {"tp": array, ...} -> array.
Measure = Callable[[Mapping[str, np.ndarray]], np.ndarray]


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (as the reports do)."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator),
                     where=denominator > 0)


def f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F1 from counts, 2tp / (2tp + fp + fn): the harmonic mean of precision and recall."""
    return ratio(2 * np.asarray(tp), 2 * np.asarray(tp) + np.asarray(fp) + np.asarray(fn))


def measure_of_counts(measure: Measure, counts: Counts) -> float:
    """The measure of one set of counts (a whole report's, or one article's)."""
    return float(measure({key: np.asarray([value]) for key, value in counts.items()})[0])


def _resampled_sums(rows: list[Counts], keys: list[str], draws: np.ndarray
                    ) -> dict[str, np.ndarray]:
    table = np.asarray([[row.get(key, 0) for key in keys] for row in rows], dtype=float)
    sums = table[draws].sum(axis=1)  # resamples x keys
    return {key: sums[:, column] for column, key in enumerate(keys)}


def _draws(articles: int, resamples: int, seed: int) -> np.ndarray:
    if articles == 0:
        raise ValueError("no articles to resample")
    return np.random.default_rng(seed).integers(0, articles, size=(resamples, articles))


def _keys(*reports: Mapping[str, Counts]) -> list[str]:
    return sorted({key for report in reports for row in report.values() for key in row})


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def article_interval(per_article: Mapping[str, Counts], measure: Measure, *,
                     resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL
                     ) -> tuple[float, float]:
    """The `level` percentile interval of `measure` over `resamples` resamples of the articles
    of `per_article` (name -> counts). Same seed, same interval."""
    if not per_article:
        raise ValueError("no articles to resample")
    return intervals_of(per_article, {"measure": Scored(measure)}, resamples=resamples,
                        seed=seed, level=level)["measure"]


@dataclass(frozen=True, slots=True)
class Difference:
    """`after - before` of one measure over the articles both reports scored."""

    before: float
    after: float
    low: float  # the interval of the difference
    high: float
    not_better: float  # share of resamples in which `after` is no better than `before`
    articles: int

    @property
    def difference(self) -> float:
        return self.after - self.before

    def to_dict(self) -> dict:
        return {"before": round(self.before, 4), "after": round(self.after, 4),
                "difference": round(self.difference, 4),
                "interval": [round(self.low, 4), round(self.high, 4)],
                "not_better": round(self.not_better, 4), "articles": self.articles}


def paired_difference(before: Mapping[str, Counts], after: Mapping[str, Counts],
                      measure: Measure, *, higher_is_better: bool = True,
                      resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL
                      ) -> Difference:
    """`measure` of `after` minus that of `before`, over the articles both name, each resample
    drawing the same articles for both (a paired bootstrap)."""
    names = sorted(set(before) & set(after))
    keys = _keys(before, after)
    draws = _draws(len(names), resamples, seed)
    every = np.arange(len(names))[None, :]
    values = {}
    for side, report in (("before", before), ("after", after)):
        rows = [report[name] for name in names]
        values[side] = (measure(_resampled_sums(rows, keys, every))[0],
                        measure(_resampled_sums(rows, keys, draws)))
    differences = values["after"][1] - values["before"][1]
    low, high = _interval(differences, level)
    gains = differences if higher_is_better else -differences
    return Difference(before=float(values["before"][0]), after=float(values["after"][0]),
                      low=low, high=high,
                      not_better=float(np.mean(gains <= 0)), articles=len(names))


@dataclass(frozen=True, slots=True)
class Scored:
    """A measure a report states, and whether more is better (an `other` share: less is)."""

    measure: Measure
    higher_is_better: bool = True


def intervals_of(per_article: Mapping[str, Counts], measures: Mapping[str, Scored], *,
                 resamples: int = RESAMPLES, seed: int = 0, level: float = LEVEL
                 ) -> dict[str, tuple[float, float]]:
    """The `level` percentile interval of each measure over the same resamples of the articles
    (drawn and summed once); empty where there are no articles."""
    if not per_article:
        return {}
    names = sorted(per_article)
    sums = _resampled_sums([per_article[n] for n in names], _keys(per_article),
                           _draws(len(names), resamples, seed))
    return {name: _interval(scored.measure(sums), level) for name, scored in measures.items()}


def counts_added(after: Counts, before: Counts) -> dict[str, int]:
    """What one article added to a report's running counts."""
    return {key: after[key] - before.get(key, 0) for key in after}


__all__ = ["Difference", "LEVEL", "Measure", "RESAMPLES", "Scored", "article_interval",
           "counts_added", "f1", "intervals_of", "measure_of_counts", "paired_difference", "ratio"]

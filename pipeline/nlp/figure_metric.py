"""A learned choice of a figure's metric, over what the rules chose and the words around it.

The rules of `figures.py` pick a metric from trigger words, the parse and the figure's subject;
on text nobody here wrote they leave a long tail of confusions (a cumulative flow read as a
market cap, a rate-cut probability as an interest rate) that no single rule fixes. The
classifier reads the rules' choice beside the figure's unit, the words either side of it, the
words it hangs on in the parse and the entities of its sentence, and keeps the rules' metric
unless the evidence says otherwise: it is a multinomial logistic regression over those sparse
features, trained on the annotated figures of `models/data/entities/train`
(`newsignal train metrics`) and shipped in `models/figure_metric/`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spacy.tokens import Span

from pipeline.nlp.vocabulary import unit_kind

FEATURES_FILE = "features.json"
WEIGHTS_FILE = "weights.npz"
META_FILE = "meta.json"

LEFT_WINDOW = 8  # tokens before the figure read as a bag
RIGHT_WINDOW = 6
HEAD_STEPS = 3  # parse heads read above the figure
TRIGGER_NEAR = 2  # tokens between a metric's trigger word and the figure for it to count as near
# The rules' metric stands unless another is this much more probable; `other` (no metric, the
# figure lost to analysts' filters) counts at this weight. Both chosen on the validation
# documents and the old gold together (the model card has the table).
OVERRULE_MARGIN = 0.1
OTHER_WEIGHT = 0.2


def metric_features(span: Span, sent: Span, unit: str, value: float, rule_metric: str,
                    period: str | None, triggers: list[tuple[str, int, int]],
                    currencies: AbstractSet[str] = frozenset()) -> list[str]:
    """The sparse features of one figure: `span` in its context `sent` (see figures.py), with
    its unit, its size, the metric the rules gave it and the trigger words of metrics.yaml in
    the sentence, `triggers` as (metric, start token, end token): these carry what a word
    unseen in training means ("a $12.6 billion loss"); `currencies` as in `unit_kind`."""
    doc = span.doc
    kind = unit_kind(unit, currencies)
    features = [f"rule={rule_metric}", f"kind={kind}", f"rule+kind={rule_metric}|{kind}",
                f"size={kind}|{math.floor(math.log10(abs(value))) if value else '0'}"]
    if kind not in ("currency", "asset"):
        features.append(f"unit={unit}")
    features.append(f"period={'yes' if period else 'no'}")
    left = [t for t in doc[max(sent.start, span.start - LEFT_WINDOW):span.start] if not t.is_punct]
    right = [t for t in doc[span.end:min(sent.end, span.end + RIGHT_WINDOW)] if not t.is_punct]
    features.extend(_side_features("L", list(reversed(left))))
    features.extend(_side_features("R", right))
    if len(left) >= 2:
        features.append(f"L21={left[-2].norm_}_{left[-1].norm_}")
    if len(right) >= 2:
        features.append(f"R12={right[0].norm_}_{right[1].norm_}")
    features.extend(f"in={t.norm_}" for t in span if not t.is_punct and not t.like_num)
    head = span.root
    features.append(f"dep={head.dep_}")
    for step in range(1, HEAD_STEPS + 1):
        if head.head is head:
            break
        head = head.head
        features.append(f"H{step}={head.norm_}")
        features.append(f"H={head.norm_}")
        for child in head.children:
            if child.dep_ in ("nsubj", "nsubjpass") and child.i not in range(span.start, span.end):
                features.append(f"subj={child.norm_}")
                if child.ent_type_:
                    features.append(f"subjlabel={child.ent_type_}")
    for token in sent:
        if token.tag_[:2] in ("NN", "VB", "JJ") and not (span.start <= token.i < span.end):
            features.append(f"S={token.norm_}")
    for metric, start, end in triggers:
        gap = start - span.end if start >= span.end else span.start - end
        features.append(f"T={metric}")
        if gap <= TRIGGER_NEAR:
            features.append(f"Tnear={metric}")
    labels_before = [t.ent_type_ for t in left if t.ent_type_]
    if labels_before:
        features.append(f"E1={labels_before[-1]}")
    features.extend(f"E={t.ent_type_}" for t in sent if t.ent_type_ and t.ent_iob_ == "B")
    return list(dict.fromkeys(features))


def _side_features(side: str, nearest_first: list) -> list[str]:
    """The words on one side of a figure as a bag, and the nearest three by place."""
    features = []
    for distance, token in enumerate(nearest_first, start=1):
        features.append(f"{side}={token.norm_}")
        if distance <= 3:
            features.append(f"{side}{distance}={token.norm_}")
    return features


@dataclass(slots=True)
class MetricClassifier:
    """The trained model: feature index, weights (features x metrics) and the metric names."""

    features: dict[str, int]
    metrics: list[str]
    weights: np.ndarray
    bias: np.ndarray

    @classmethod
    def load(cls, model_dir: Path) -> MetricClassifier:
        model_dir = Path(model_dir)
        if not (model_dir / WEIGHTS_FILE).is_file():
            raise OSError(f"{model_dir}: no figure metric model (run `newsignal train metrics`)")
        index = json.loads((model_dir / FEATURES_FILE).read_text(encoding="utf-8"))
        arrays = np.load(model_dir / WEIGHTS_FILE)
        return cls(
            features={name: i for i, name in enumerate(index["features"])},
            metrics=index["metrics"],
            weights=arrays["weights"].astype(np.float32),
            bias=arrays["bias"].astype(np.float32),
        )

    def scores(self, features: list[str]) -> np.ndarray:
        rows = [self.features[name] for name in features if name in self.features]
        logits = self.bias + self.weights[rows].sum(axis=0)
        logits = logits - logits.max()
        probabilities = np.exp(logits)
        return probabilities / probabilities.sum()

    def choose(self, features: list[str], rule_metric: str, allowed: set[str] | None = None) -> str:
        """The most probable metric among `allowed` (those whose units admit the figure's),
        where it beats the rules' choice by OVERRULE_MARGIN; else the rules' choice."""
        probability = dict(zip(self.metrics, self.scores(features).tolist()))
        probability["other"] = probability.get("other", 0.0) * OTHER_WEIGHT
        best, best_score = rule_metric, -math.inf
        for metric, score in probability.items():
            if (allowed is None or metric in allowed) and score > best_score:
                best, best_score = metric, score
        if best != rule_metric and best_score < probability.get(rule_metric, 0.0) + OVERRULE_MARGIN:
            return rule_metric
        return best

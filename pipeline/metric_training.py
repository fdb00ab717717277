"""Training the learned figure-metric choice (`pipeline/nlp/figure_metric.py`).

`train_metrics()` is what `newsignal train metrics` runs: it reads the annotated documents of
`models/data/entities/{train,valid}` (the README there), runs our spaCy pipeline with the metric
rules alone, and pairs each figure it finds with the annotated figure it matches (overlapping
span, same unit, value within 0.5%, as `newsignal eval figures` scores). Each pair gives the
features the component saw and the annotated metric. A multinomial logistic regression (L2,
full batch, seeded, CPU) is fitted on the training documents and scored on the validation ones
against the rules; the model goes to `models/figure_metric/` with a `meta.json` (data digest,
settings, scores).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from pipeline.evaluation.nlp import match_figures, parse_markup
from pipeline.nlp import MODELS_DIR, analyze, build_nlp
from pipeline.nlp.figure_metric import FEATURES_FILE, META_FILE, WEIGHTS_FILE, MetricClassifier
from pipeline.nlp.figures import METRIC_CURRENCIES_KEY, METRIC_FEATURES_KEY

log = logging.getLogger(__name__)

DATA_DIR = MODELS_DIR / "data" / "entities"
MODEL_DIR = MODELS_DIR / "figure_metric"
MODEL_VERSION = "1.0.0"


class MetricDataError(ValueError):
    """The annotated documents are missing or malformed (the message names the file)."""


@dataclass(slots=True)
class LabelledFigure:
    document: str
    text: str
    features: list[str]
    metric: str  # the annotated metric
    rule_metric: str  # what the rules chose
    admissible: set[str]  # the metrics the figure's unit and size allow


@dataclass(slots=True)
class MetricTrainingReport:
    output: str
    train_figures: int
    valid_figures: int
    features: int
    seconds: float
    valid_rules_accuracy: float
    valid_model_accuracy: float
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        return (
            f"figure metric model -> {self.output}\n"
            f"  trained on {self.train_figures} matched figures, {self.features} features, "
            f"{self.seconds:.0f} s\n"
            f"  validation ({self.valid_figures} matched figures): metric accuracy "
            f"{self.valid_model_accuracy:.3f} (rules alone {self.valid_rules_accuracy:.3f})"
        )


def labelled_figures(paths: list[Path], nlp) -> list[LabelledFigure]:
    """The figures the pipeline finds in the markup documents at `paths` that match an
    annotated figure, with the features the metric rules left for them."""
    finder = nlp.get_pipe("newsignal_figures")
    finder.record_features = True
    rows: list[LabelledFigure] = []
    try:
        for path in paths:
            try:
                text, annotations = parse_markup(path.read_text(encoding="utf-8"))
            except ValueError as error:
                raise MetricDataError(f"{path}: {error}") from error
            doc = nlp(text)
            recorded = doc.user_data.get(METRIC_FEATURES_KEY, {})
            currencies = doc.user_data.get(METRIC_CURRENCIES_KEY, frozenset())
            pairs, _ = match_figures(annotations["figures"], analyze(doc).figures)
            for gold, found in pairs:
                if found is None:
                    continue
                rows.append(LabelledFigure(
                    document=path.stem, text=found.text,
                    features=recorded[(found.start_char, found.end_char)],
                    metric=gold["metric"], rule_metric=found.metric,
                    admissible=finder.admissible(found.unit, found.value, currencies),
                ))
    finally:
        finder.record_features = False
    return rows


def fit(rows: list[LabelledFigure], *, metrics: list[str], min_count: int, l2: float,
        max_iterations: int, seed: int) -> MetricClassifier:
    """Softmax regression over the features seen in at least `min_count` training figures."""
    import torch

    counts = Counter(name for row in rows for name in row.features)
    names = sorted(name for name, count in counts.items() if count >= min_count)
    index = {name: i for i, name in enumerate(names)}
    label_index = {metric: i for i, metric in enumerate(metrics)}
    torch.manual_seed(seed)
    inputs = torch.zeros(len(rows), len(names))
    for i, row in enumerate(rows):
        for name in row.features:
            if name in index:
                inputs[i, index[name]] = 1.0
    targets = torch.tensor([label_index[row.metric] for row in rows])
    layer = torch.nn.Linear(len(names), len(metrics))
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    optimizer = torch.optim.LBFGS(layer.parameters(), lr=1.0, max_iter=max_iterations,
                                  line_search_fn="strong_wolfe")

    def loss_and_grad():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(layer(inputs), targets)
        loss = loss + l2 * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(loss_and_grad)
    return MetricClassifier(
        features=index, metrics=list(metrics),
        weights=layer.weight.detach().numpy().T.astype(np.float32).copy(),
        bias=layer.bias.detach().numpy().astype(np.float32).copy(),
    )


def accuracy(model: MetricClassifier | None, rows: list[LabelledFigure]) -> float:
    """Metric accuracy of `model` (None: the rules) over `rows`, chosen as the component does."""
    if not rows:
        return 0.0
    right = 0
    for row in rows:
        chosen = (row.rule_metric if model is None
                  else model.choose(row.features, row.rule_metric, row.admissible))
        right += chosen == row.metric
    return right / len(rows)


def data_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def train_metrics(output: Path = MODEL_DIR, *, data_dir: Path = DATA_DIR, seed: int = 13,
                  min_count: int = 2, l2: float = 1e-4,
                  max_iterations: int = 300) -> MetricTrainingReport:
    started = time.monotonic()
    train_paths = sorted((Path(data_dir) / "train").glob("*.md"))
    valid_paths = sorted((Path(data_dir) / "valid").glob("*.md"))
    if not train_paths:
        raise MetricDataError(f"{data_dir}/train: no annotated documents (*.md)")
    nlp = build_nlp(catalysts=False, figure_metric=False)
    finder = nlp.get_pipe("newsignal_figures")
    metrics = list(finder.metrics)
    train_rows = labelled_figures(train_paths, nlp)
    valid_rows = labelled_figures(valid_paths, nlp)
    unknown = {row.metric for row in train_rows + valid_rows} - set(metrics)
    if unknown:
        raise MetricDataError(f"{data_dir}: metrics not in models/metrics.yaml: {sorted(unknown)}")
    model = fit(train_rows, metrics=metrics, min_count=min_count, l2=l2,
                max_iterations=max_iterations, seed=seed)
    # Scored as saved: half-precision weights.
    model.weights = model.weights.astype(np.float16).astype(np.float32)
    model.bias = model.bias.astype(np.float16).astype(np.float32)
    settings = {"seed": seed, "min_count": min_count, "l2": l2, "max_iterations": max_iterations}
    report = MetricTrainingReport(
        output=str(output), train_figures=len(train_rows), valid_figures=len(valid_rows),
        features=len(model.features), seconds=time.monotonic() - started,
        valid_rules_accuracy=round(accuracy(None, valid_rows), 4),
        valid_model_accuracy=round(accuracy(model, valid_rows), 4),
        settings=settings,
    )
    save(model, Path(output), meta={
        "version": MODEL_VERSION,
        "data": {"train_documents": len(train_paths), "valid_documents": len(valid_paths),
                 "train_digest": data_digest(train_paths)},
        "settings": settings,
        "validation": {"figures": len(valid_rows),
                       "rules_accuracy": report.valid_rules_accuracy,
                       "model_accuracy": report.valid_model_accuracy},
    })
    return report


def save(model: MetricClassifier, output: Path, *, meta: dict) -> None:
    output.mkdir(parents=True, exist_ok=True)
    names = sorted(model.features, key=model.features.get)
    (output / FEATURES_FILE).write_text(
        json.dumps({"metrics": model.metrics, "features": names}, ensure_ascii=False, indent=0)
        + "\n", encoding="utf-8")
    np.savez_compressed(output / WEIGHTS_FILE, weights=model.weights.astype(np.float16),
                        bias=model.bias.astype(np.float16))
    weights_sha256 = hashlib.sha256((output / WEIGHTS_FILE).read_bytes()).hexdigest()
    meta = {**meta, "weights_sha256": weights_sha256}
    (output / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")

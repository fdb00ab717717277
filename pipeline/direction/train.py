"""The direction model's training recipe (`newsignal train direction`): CPU, seeded, reproducible.

All-MiniLM-L6-v2 from the PyPI package, its embeddings frozen, the encoder layers, pooler and a
new linear head trained for two things at once: the direction (3 outputs) and the event type of
`models/events.yaml` (one output per type), each with its own cross-entropy; a sentence whose set
names no event type trains the direction only. Data:
- the twitter-financial-news-sentiment train split (headline sentiment of finance news);
- the team's crypto catalyst sentences (`train.jsonl`, `train_article_style.jsonl`);
- the team's event-typed sentences (`events_train.jsonl`), which teach market impact: a fact is
  bullish or bearish for the asset it concerns whether or not a price move is written;
- the team's whole articles labelled sentence by sentence (`events_train_articles.jsonl`): the
  background around catalysts (descriptions, boilerplate, quotes of no market consequence) and
  sentences that lean on their paragraph. Read 0 times by default (scored on its validation
  part only): the model card says what reading it costs and gains;
- any `extra_files` (same JSONL format, e.g. review corrections).
Each source is repeated as `repeats` says, and its examples' losses weigh as `loss_weights` says
(1 by default). `validation_fraction` of each source's distinct texts
(chosen by a seeded hash, so the same texts whatever else changes) is kept out and scored at the
end: recipes are compared there, never on a held-out set. A stratified `calibration_fraction` of
the rest fits the softmax temperatures. The saved weights are the mean of the weights at the end
of each of the last `average_epochs` epochs (checkpoint averaging).
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch

from pipeline.direction import (
    BASE_PACKAGE,
    DEFAULT_CRYPTO_DIR,
    DEFAULT_MODEL_DIR,
    DEFAULT_TWITTER_DIR,
    EVENTS_PATH,
    LABELS,
    MODEL_NAME,
    DirectionModelError,
    load_event_types,
)
from pipeline.direction.data import Example, read_direction_jsonl, read_twitter_csv
from pipeline.direction.model import (
    DirectionModel,
    _quiet_transformers,
    resolve_base_model,
    round_to_fp16,
)

log = logging.getLogger(__name__)

IGNORE = -100  # the event target of a sentence whose set names no event type
# How often each set is seen per epoch (0.6.0's recipe; the model card compares the others tried).
DEFAULT_REPEATS = {"twitter": 2, "crypto": 3, "crypto_article_style": 2, "events": 2,
                   "articles": 0}


@dataclass
class TrainReport:
    output_dir: str
    version: str
    seed: int
    epochs: int
    steps: int
    examples: dict[str, int]  # per source, after repeats
    label_counts: dict[str, int]
    calibration_examples: int
    temperature: float
    event_temperature: float = 1.0
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    hyperparameters: dict = field(default_factory=dict)
    validation: dict = field(default_factory=dict)  # per source: scores of the kept-out texts

    def to_dict(self) -> dict:
        return asdict(self)


def train_direction(
    output_dir: str | Path = DEFAULT_MODEL_DIR,
    *,
    seed: int = 13,
    epochs: int = 4,
    average_epochs: int = 2,
    trainable_layers: int = 6,
    batch_size: int = 32,
    learning_rate: float = 1e-4,
    head_learning_rate: float = 1e-3,
    max_length: int = 64,
    warmup_fraction: float = 0.06,
    event_loss_weight: float = 0.5,
    asset_input: bool = False,
    twitter_dir: str | Path | None = DEFAULT_TWITTER_DIR,
    crypto_train: str | Path | None = DEFAULT_CRYPTO_DIR / "train.jsonl",
    article_style_train: str | Path | None = DEFAULT_CRYPTO_DIR / "train_article_style.jsonl",
    events_train: str | Path | None = DEFAULT_CRYPTO_DIR / "events_train.jsonl",
    articles_train: str | Path | None = DEFAULT_CRYPTO_DIR / "events_train_articles.jsonl",
    events_path: str | Path = EVENTS_PATH,
    extra_files: Sequence[str | Path] = (),
    repeats: dict[str, int] | None = None,
    loss_weights: dict[str, float] | None = None,
    validation_fraction: float = 0.0,
    calibration_fraction: float = 0.05,
    limit: int | None = None,
    max_steps: int | None = None,
    threads: int = 2,
    version: str | None = None,
) -> TrainReport:
    """Fine-tune MiniLM for direction and event type; save the result to `output_dir`.

    The layers below the top `trainable_layers` stay as the base package has them, so their
    outputs are computed once per sentence and cached. Seeded, CPU only; `limit`/`max_steps` are
    for smoke tests.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    started = time.monotonic()
    torch.set_num_threads(threads)
    _seed_everything(seed)
    _quiet_transformers()
    repeats = {**DEFAULT_REPEATS, **(repeats or {})}
    loss_weights = {name: float(w) for name, w in (loss_weights or {}).items() if w != 1}
    event_names = list(load_event_types(events_path))
    event_index = {name: i for i, name in enumerate(event_names)}

    sources: dict[str, list[Example]] = {}
    if twitter_dir is not None and (Path(twitter_dir) / "train.csv").is_file():
        sources["twitter"] = read_twitter_csv(Path(twitter_dir) / "train.csv")
    for name, path in (("crypto", crypto_train), ("crypto_article_style", article_style_train),
                       ("events", events_train), ("articles", articles_train)):
        if path is not None and Path(path).is_file():
            sources[name] = read_direction_jsonl(path, name)
    for extra in extra_files:
        sources[Path(extra).stem] = read_direction_jsonl(extra)
    unknown = {e.event_type for rows in sources.values() for e in rows} - set(event_index) - {None}
    if unknown:
        raise DirectionModelError(f"event types not in {events_path}: {sorted(unknown)}")
    validation = {
        name: [e for e in rows if _kept_out(e.text, seed, validation_fraction)]
        for name, rows in sources.items()
    }
    examples = [
        example
        for name, rows in sources.items()
        for example in rows * repeats.get(name, 1)
        if not _kept_out(example.text, seed, validation_fraction)
    ]
    if not examples:
        raise DirectionModelError("no training examples found")
    rng = random.Random(seed)
    if limit is not None:
        examples = rng.sample(examples, min(limit, len(examples)))
    train, calibration = _split_calibration(examples, calibration_fraction, rng)

    base = resolve_base_model(BASE_PACKAGE)
    tokenizer = AutoTokenizer.from_pretrained(base)
    outputs = [str(d) for d in LABELS] + event_names
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(outputs), id2label=dict(enumerate(outputs))
    )
    layers = model.bert.encoder.layer
    if not 0 < trainable_layers <= len(layers):
        raise DirectionModelError(f"trainable_layers must be 1..{len(layers)}")
    if average_epochs < 1:
        raise DirectionModelError("average_epochs must be at least 1")
    first_trained = len(layers) - trainable_layers
    average_epochs = min(average_epochs, epochs)
    trained_prefixes = [f"bert.encoder.layer.{i}." for i in range(first_trained, len(layers))]
    trained_prefixes += ["bert.pooler.", "classifier."]
    base_parameters = []
    for name, parameter in model.named_parameters():
        trained = any(name.startswith(prefix) for prefix in trained_prefixes)
        parameter.requires_grad_(trained)
        if not trained:
            base_parameters.append(name)

    direction_model = DirectionModel(
        model, tokenizer, LABELS, name=MODEL_NAME, version="training",
        base_parameters=base_parameters, event_types=event_names, asset_input=asset_input,
    )

    def model_text(example: Example) -> str:
        return direction_model.normalize(direction_model.input_text(example.text, example.asset))

    # Cache the frozen layers' output once per distinct input.
    texts = sorted({model_text(e) for e in train})
    cache = _frozen_features(model, tokenizer, texts, first_trained, max_length)
    cached = [
        (cache[model_text(e)], e.label, event_index.get(e.event_type, IGNORE) if e.event_type
         else IGNORE, loss_weights.get(e.source, 1.0))
        for e in train
    ]
    log.info("cached frozen-layer features of %d texts", len(texts))

    head = [p for n, p in model.named_parameters() if n.startswith("classifier.")]
    body = [
        p for n, p in model.named_parameters()
        if p.requires_grad and not n.startswith("classifier.")
    ]
    optimizer = torch.optim.AdamW(
        [{"params": body, "lr": learning_rate}, {"params": head, "lr": head_learning_rate}],
        weight_decay=0.01,
    )
    batches_per_epoch = math.ceil(len(cached) / batch_size)
    total_steps = batches_per_epoch * epochs if max_steps is None else max_steps
    warmup = max(1, int(total_steps * warmup_fraction))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(
            (step + 1) / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup))
        ),
    )
    # Square-root inverse frequency: lifts the rarer bearish/bullish classes without overshooting.
    counts = Counter(label for _, label, _, _ in cached)
    weights = torch.tensor([(len(cached) / max(1, counts[i])) ** 0.5 for i in range(len(LABELS))])
    class_weights = weights / weights.mean()
    direction_loss = torch.nn.CrossEntropyLoss(weight=class_weights)
    event_loss = torch.nn.CrossEntropyLoss(ignore_index=IGNORE)
    n_labels = len(LABELS)

    step, epoch_losses = 0, []
    trained = {n: p for n, p in model.named_parameters() if p.requires_grad}
    checkpoints: list[dict[str, torch.Tensor]] = []
    model.train()
    for epoch in range(epochs):
        total, seen = 0.0, 0
        for batch in _length_bucketed_batches(cached, batch_size, rng):
            if step >= total_steps:
                break
            hidden, mask = _pad([features for features, *_ in batch])
            logits = _top_forward(model, hidden, mask, first_trained)
            directions = torch.tensor([d for _, d, _, _ in batch])
            events = torch.tensor([e for _, _, e, _ in batch])
            # The plain path is the one 0.6.0 was trained with (same sums, same rounding).
            if loss_weights:
                loss = _weighted_loss(logits, directions, events, class_weights,
                                      torch.tensor([w for *_, w in batch]), event_loss_weight)
            else:
                loss = direction_loss(logits[:, :n_labels], directions)
                if (events != IGNORE).any():
                    loss = loss + event_loss_weight * event_loss(logits[:, n_labels:], events)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(body + head, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            total += loss.detach().item() * len(batch)
            seen += len(batch)
            if step % 50 == 0:
                log.info(
                    "epoch %d step %d/%d loss %.4f", epoch + 1, step, total_steps, total / seen
                )
        epoch_losses.append(total / max(1, seen))
        log.info("epoch %d done: mean loss %.4f", epoch + 1, epoch_losses[-1])
        if epoch >= epochs - average_epochs:
            checkpoints.append({n: p.detach().clone() for n, p in trained.items()})

    with torch.no_grad():
        for name, parameter in trained.items():
            parameter.copy_(torch.stack([c[name] for c in checkpoints]).mean(0))
    model.eval()
    round_to_fp16(model)  # what gets saved; calibrate and validate on exactly that
    direction_model.version = version or datetime.now(UTC).strftime("%Y.%m.%d")
    if calibration:
        logits = direction_model.logits([direction_model.input_text(e.text, e.asset)
                                         for e in calibration])
        direction_model.temperature = fit_temperature(
            logits[:, :n_labels], torch.tensor([e.label for e in calibration])
        )
        typed = [i for i, e in enumerate(calibration) if e.event_type]
        if typed:
            direction_model.event_temperature = fit_temperature(
                logits[typed, n_labels:],
                torch.tensor([event_index[calibration[i].event_type] for i in typed]),
            )
    report = TrainReport(
        output_dir=str(output_dir),
        version=direction_model.version,
        seed=seed,
        epochs=epochs,
        steps=step,
        examples=dict(Counter(e.source for e in train)),
        label_counts={str(LABELS[i]): n for i, n in sorted(counts.items())},
        calibration_examples=len(calibration),
        temperature=direction_model.temperature,
        event_temperature=direction_model.event_temperature,
        epoch_losses=[round(x, 5) for x in epoch_losses],
        hyperparameters={
            "trainable_layers": trainable_layers,
            "average_epochs": average_epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "head_learning_rate": head_learning_rate,
            "max_length_train": max_length,
            "warmup_fraction": warmup_fraction,
            "event_loss_weight": event_loss_weight,
            "asset_input": asset_input,
            "repeats": repeats,
            "loss_weights": loss_weights,
            "validation_fraction": validation_fraction,
            "calibration_fraction": calibration_fraction,
            "class_weights": [round(float(w), 4) for w in class_weights],
            "extra_files": [Path(p).name for p in extra_files],
        },
        validation=_validate(direction_model, validation),
    )
    report.seconds = round(time.monotonic() - started, 1)
    direction_model.save(output_dir, extra={"training": report.to_dict()})
    return report


def _weighted_loss(logits: torch.Tensor, directions: torch.Tensor, events: torch.Tensor,
                   class_weights: torch.Tensor, example_weights: torch.Tensor,
                   event_loss_weight: float) -> torch.Tensor:
    """The two cross-entropies as the unweighted path has them, each example's terms scaled by
    its source's loss weight (normalised by the weights' sum, as the class weights are)."""
    cross_entropy = torch.nn.functional.cross_entropy
    n_labels = len(class_weights)
    direction_weights = class_weights[directions] * example_weights
    loss = (cross_entropy(logits[:, :n_labels], directions, weight=class_weights,
                          reduction="none") * example_weights).sum() / direction_weights.sum()
    typed = events != IGNORE
    if typed.any():
        event_terms = cross_entropy(logits[typed, n_labels:], events[typed], reduction="none")
        loss = loss + event_loss_weight * (event_terms * example_weights[typed]).sum() / (
            example_weights[typed].sum())
    return loss


def _validate(model: DirectionModel, sets: dict[str, list[Example]]) -> dict:
    """Direction macro-F1 and event-type accuracy of each source's kept-out texts."""
    from pipeline.evaluation.direction import score_predictions

    scores = {}
    for name, rows in sets.items():
        if not rows:
            continue
        judged = model.judge([e.text for e in rows], [e.asset for e in rows])
        report = score_predictions(name, [e.label for e in rows],
                                   [LABELS.index(j.direction) for j in judged],
                                   [j.confidence for j in judged])
        typed = [(e, j) for e, j in zip(rows, judged) if e.event_type]
        scores[name] = {
            "examples": len(rows),
            "macro_f1": report.macro_f1,
            "accuracy": report.accuracy,
            "event_accuracy": round(sum(e.event_type == j.event_type for e, j in typed)
                                    / len(typed), 4) if typed else None,
        }
    return scores


def _kept_out(text: str, seed: int, fraction: float) -> bool:
    """Whether `text` belongs to the validation part: a seeded hash of the text, so a text keeps
    its side whatever else in the data changes."""
    if fraction <= 0:
        return False
    digest = hashlib.sha256(f"{seed}:{text.strip().casefold()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _frozen_features(
    model, tokenizer, texts: Sequence[str], first_trained: int, max_length: int
) -> dict[str, torch.Tensor]:
    """Per text, the (tokens, hidden) output of the embeddings and the frozen layers."""
    features: dict[str, torch.Tensor] = {}
    bert = model.bert
    order = sorted(texts, key=len)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), 64):
            chunk = order[start : start + 64]
            batch = tokenizer(
                chunk, truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            )
            hidden = bert.embeddings(
                input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"]
            )
            additive = _additive_mask(batch["attention_mask"], hidden.dtype)
            for layer in bert.encoder.layer[:first_trained]:
                hidden = layer(hidden, additive)
            for text, row, mask in zip(chunk, hidden, batch["attention_mask"]):
                features[text] = row[: int(mask.sum())].clone()
    model.train(was_training)
    return features


def _additive_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, 1, 1, tokens): 0 where attended, a large negative number on padding."""
    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def _pad(rows: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(r.shape[0] for r in rows)
    hidden = torch.zeros((len(rows), length, rows[0].shape[1]))
    mask = torch.zeros((len(rows), length), dtype=torch.long)
    for i, row in enumerate(rows):
        hidden[i, : row.shape[0]] = row
        mask[i, : row.shape[0]] = 1
    return hidden, mask


def _top_forward(model, hidden: torch.Tensor, mask: torch.Tensor, first_trained: int):
    """The classifier's logits from cached features: top layers, pooler, dropout, head."""
    additive = _additive_mask(mask, hidden.dtype)
    for layer in model.bert.encoder.layer[first_trained:]:
        hidden = layer(hidden, additive)
    return model.classifier(model.dropout(model.bert.pooler(hidden)))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The softmax temperature minimising negative log-likelihood (grid search, deterministic)."""
    grid = torch.linspace(0.5, 4.0, 141)
    losses = [float(torch.nn.functional.cross_entropy(logits / t, labels)) for t in grid]
    return round(float(grid[losses.index(min(losses))]), 4)


def _split_calibration(
    examples: list[Example], fraction: float, rng: random.Random
) -> tuple[list[Example], list[Example]]:
    """Stratified by label; repeated texts never straddle the split."""
    if fraction <= 0:
        return list(examples), []
    unique_texts = sorted({e.text for e in examples})
    rng.shuffle(unique_texts)
    by_label: dict[int, list[str]] = {}
    label_of = {e.text: e.label for e in examples}
    for text in unique_texts:
        by_label.setdefault(label_of[text], []).append(text)
    held = {t for texts in by_label.values() for t in texts[: int(len(texts) * fraction)]}
    calibration_seen: set[str] = set()
    train, calibration = [], []
    for example in examples:
        if example.text not in held:
            train.append(example)
        elif example.text not in calibration_seen:
            calibration_seen.add(example.text)
            calibration.append(example)
    return train, calibration


def _length_bucketed_batches(items: list[tuple], batch_size: int, rng: random.Random
                             ) -> Iterator[list[tuple]]:
    """Shuffled batches of (features, ...) of similar length (less padding), shuffled."""
    shuffled = list(items)
    rng.shuffle(shuffled)
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(shuffled), chunk):
        part = sorted(shuffled[start : start + chunk], key=lambda item: item[0].shape[0])
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(batches)
    yield from batches


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy

        numpy.random.seed(seed)
    except ImportError:  # numpy is optional for training itself
        pass

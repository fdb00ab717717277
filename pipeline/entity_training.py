"""Training the entity recogniser the spaCy way: team-written markup -> DocBin corpora ->
`spacy train` with `models/entities/config.cfg` -> the `ner` component in `models/entities/model`.

`train_entities()` is what `newsignal train entities` runs: it converts
`models/data/entities/{train,valid}/*.md` (see that folder's README) to spaCy's binary corpora,
trains from the config with a fixed seed on CPU, and saves the last step's `ner` with the config
spaCy wrote and a `meta.json` of its own (seed, steps, data digest, validation scores, the
weights' digest). `build_nlp()` loads that folder in place of en_core_web_sm's `ner`.

The config starts from en_core_web_sm's `ner` (its own tok2vec included) and reads the model's
`lexeme_norm` table through `newsignal.base_lookups.v1` (`pipeline/nlp/registered.py`, which
`spacy train` needs as `--code` when run by hand).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from pipeline.evaluation.nlp import parse_markup
from pipeline.nlp import (
    MODELS_DIR,
    load_base_model,
    load_entity_model,
    spacy_model_name,
    split_abbreviation_hyphens,
)
from pipeline.nlp.registered import BASE_COMPONENTS

log = logging.getLogger(__name__)

ENTITY_DATA_DIR = MODELS_DIR / "data" / "entities"
CONFIG_PATH = MODELS_DIR / "entities" / "config.cfg"
MODEL_DIR = MODELS_DIR / "entities" / "model"
MODEL_VERSION = "1.0.0"


class EntityDataError(ValueError):
    """The annotated training data is missing or malformed (the message names the file)."""


@dataclass(slots=True)
class Corpus:
    """What one split of the markup became: documents, entities, and spans left unannotated
    because they do not fall on token boundaries ("U.S.-listed": one token)."""

    documents: int = 0
    entities: int = 0
    unaligned: list[str] = field(default_factory=list)


def markup_docs(paths: Iterable[Path], nlp: Language) -> tuple[list[Doc], Corpus]:
    """Docs tokenised by `nlp` with the entities of each markup file; an entity that does not
    fall on token boundaries leaves its tokens unannotated (missing), not outside."""
    docs: list[Doc] = []
    corpus = Corpus()
    for path in paths:
        try:
            text, annotations = parse_markup(Path(path).read_text(encoding="utf-8"))
        except ValueError as error:
            raise EntityDataError(f"{path}: {error}") from error
        doc = nlp.make_doc(text)
        spans, missing = [], []
        for entity in annotations["entities"]:
            span = doc.char_span(entity["start"], entity["end"], label=entity["label"])
            if span is None:
                corpus.unaligned.append(f"{Path(path).stem}: {entity['text']!r}")
                missing.append(doc.char_span(entity["start"], entity["end"],
                                             alignment_mode="expand"))
            else:
                spans.append(span)
        doc.set_ents(spans, default="outside")
        if missing:
            doc.set_ents([], missing=[m for m in missing if m is not None], default="unmodified")
        docs.append(doc)
        corpus.documents += 1
        corpus.entities += len(spans)
    return docs, corpus


@dataclass(slots=True)
class EntityTrainingReport:
    output: str
    base_model: str
    seed: int
    steps: int
    seconds: float
    train: dict
    valid: dict
    scores: dict  # on the validation split: P/R/F overall and per label (spaCy's scorer)
    weights_sha256: str

    def format(self) -> str:
        lines = [f"Entity recogniser -> {self.output} ({self.steps} steps, seed {self.seed}, "
                 f"{self.seconds:.0f} s, base {self.base_model})",
                 f"train: {self.train['documents']} documents, {self.train['entities']} entities; "
                 f"valid: {self.valid['documents']} documents, {self.valid['entities']} entities",
                 f"validation (ner alone): P {self.scores['ents_p']:.3f} R "
                 f"{self.scores['ents_r']:.3f} F1 {self.scores['ents_f']:.3f}"]
        for label, score in sorted(self.scores.get("ents_per_type", {}).items()):
            lines.append(f"  {label:<10} P {score['p']:.3f} R {score['r']:.3f} F1 {score['f']:.3f}")
        lines.append(f"weights sha256 {self.weights_sha256}")
        return "\n".join(lines)


def train_entities(
    output: Path = MODEL_DIR,
    *,
    data_dir: Path = ENTITY_DATA_DIR,
    config: Path = CONFIG_PATH,
    seed: int = 13,
    steps: int | None = None,
) -> EntityTrainingReport:
    """Train the recogniser on `data_dir/train`, score it on `data_dir/valid`, save it to
    `output` (replaced). `steps` overrides the config's `max_steps` (tests train briefly)."""
    train_paths = sorted(Path(data_dir, "train").glob("*.md"))
    valid_paths = sorted(Path(data_dir, "valid").glob("*.md"))
    if not train_paths or not valid_paths:
        raise EntityDataError(f"{data_dir}: needs train/*.md and valid/*.md")
    base_model = spacy_model_name()
    tokenizer = split_abbreviation_hyphens(load_base_model(exclude=list(BASE_COMPONENTS)))
    train_docs, train_corpus = markup_docs(train_paths, tokenizer)
    valid_docs, valid_corpus = markup_docs(valid_paths, tokenizer)
    for note in train_corpus.unaligned + valid_corpus.unaligned:
        log.info("entity not on token boundaries, left unannotated: %s", note)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="newsignal-ner-") as work:
        work_dir = Path(work)
        DocBin(docs=train_docs).to_disk(work_dir / "train.spacy")
        DocBin(docs=valid_docs).to_disk(work_dir / "valid.spacy")
        overrides = {
            "paths.train": str(work_dir / "train.spacy"),
            "paths.dev": str(work_dir / "valid.spacy"),
            "paths.base_model": base_model,
            "system.seed": str(seed),
        }
        if steps is not None:
            overrides["training.max_steps"] = str(steps)
            overrides["training.eval_frequency"] = str(max(1, min(steps, 500)))
        _spacy_train(config, work_dir / "out", overrides)
        trained = work_dir / "out" / "model-last"
        output = Path(output)
        if output.exists():
            shutil.rmtree(output)
        output.mkdir(parents=True)
        for name in ("config.cfg", "meta.json"):  # spaCy's meta, replaced by ours below
            shutil.copy(trained / name, output / name)
        shutil.copytree(trained / "ner", output / "ner")
    scores = _validation_scores(output, valid_docs)
    seconds = time.perf_counter() - started
    final_steps = steps if steps is not None else int(
        spacy.util.load_config(config)["training"]["max_steps"]
    )
    report = EntityTrainingReport(
        output=str(output),
        base_model=f"{base_model} {spacy.util.get_package_version(base_model)}",
        seed=seed,
        steps=final_steps,
        seconds=round(seconds, 1),
        train={"documents": train_corpus.documents, "entities": train_corpus.entities,
               "unaligned": len(train_corpus.unaligned), "digest": _digest(train_paths)},
        valid={"documents": valid_corpus.documents, "entities": valid_corpus.entities,
               "unaligned": len(valid_corpus.unaligned), "digest": _digest(valid_paths)},
        scores=scores,
        weights_sha256=weights_digest(output),
    )
    meta = {"lang": "en", "name": "newsignal_entities", "version": MODEL_VERSION,
            "spacy_version": _compatible_spacy(),
            "labels": sorted(_labels(train_docs)), **asdict(report)}
    meta.pop("output")
    meta.pop("seconds")  # the digest of a re-run must not differ by the clock
    (output / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return report


def _spacy_train(config: Path, output: Path, overrides: dict[str, str]) -> None:
    """`python -m spacy train` in a child process with Python's hash seed and the BLAS threads
    fixed: the order spaCy adds new labels in follows string hashes, which Python randomises
    per process, and that order changes the trained weights."""
    command = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output),
               "--code", str(Path(__file__).resolve().parent / "nlp" / "registered.py")]
    for key, value in overrides.items():
        command += [f"--{key}", value]
    env = {**os.environ, "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    result = subprocess.run(command, env=env, stdout=sys.stderr, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"spacy train exited with {result.returncode} (its output is above)")


def _compatible_spacy() -> str:
    major, minor = (int(part) for part in spacy.about.__version__.split(".")[:2])
    return f">={major}.{minor}.0,<{major}.{minor + 1}.0"


def weights_digest(model_dir: Path) -> str:
    """sha256 over the files of the saved `ner` component, in name order."""
    digest = hashlib.sha256()
    for path in sorted(Path(model_dir, "ner").rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(model_dir).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _labels(docs: list[Doc]) -> Counter:
    return Counter(ent.label_ for doc in docs for ent in doc.ents)


def _validation_scores(model_dir: Path, valid_docs: list[Doc]) -> dict:
    """spaCy's entity scores of the saved recogniser alone on the validation docs."""
    from spacy.training import Example

    # the base model's vocabulary (its norms) and the pipeline's tokenizer, as in use
    nlp = split_abbreviation_hyphens(load_base_model(exclude=list(BASE_COMPONENTS)))
    nlp.add_pipe("ner", source=load_entity_model(model_dir))
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in valid_docs]
    performance = nlp.evaluate(examples)
    scores = {key: round(float(performance.get(key) or 0.0), 4)
              for key in ("ents_p", "ents_r", "ents_f")}
    scores["ents_per_type"] = {
        label: {k: round(float(v), 4) for k, v in score.items()}
        for label, score in sorted((performance.get("ents_per_type") or {}).items())
    }
    return scores

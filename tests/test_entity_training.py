"""Training the entity recogniser: the markup becomes spaCy docs, `newsignal train entities`
runs spaCy's trainer for real (a few steps on a copy of the data) and saves a recogniser the
pipeline loads; the shipped one was trained on the data in the repository."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.entity_training import (
    ENTITY_DATA_DIR,
    MODEL_DIR,
    EntityDataError,
    _digest,
    markup_docs,
    train_entities,
    weights_digest,
)
from pipeline.nlp import load_base_model, load_entity_model


@pytest.fixture(scope="module")
def tokenizer():
    return load_base_model(exclude=["tok2vec", "tagger", "parser", "attribute_ruler",
                                    "lemmatizer", "ner"])


def test_markup_becomes_docs_with_entities(tmp_path, tokenizer) -> None:
    path = tmp_path / "one.md"
    path.write_text("⟦Fjord Mining Corp.|COMPANY|FJMC⟧ mined ⟪412 ⟦BTC|ASSET|BTC⟧|v=412;u=BTC⟫ "
                    "in ⟦Norway|COUNTRY|⟧.\n", encoding="utf-8")
    (doc,), corpus = markup_docs([path], tokenizer)
    assert doc.text == "Fjord Mining Corp. mined 412 BTC in Norway.\n"
    assert [(e.text, e.label_) for e in doc.ents] == [
        ("Fjord Mining Corp.", "COMPANY"), ("BTC", "ASSET"), ("Norway", "COUNTRY")]
    assert (corpus.documents, corpus.entities, corpus.unaligned) == (1, 3, [])
    # every token is annotated: inside an entity or outside, none left unknown
    assert all(token.ent_iob_ in ("B", "I", "O") for token in doc)


def test_an_entity_off_token_boundaries_is_left_unknown_not_outside(tmp_path, tokenizer) -> None:
    path = tmp_path / "two.md"
    path.write_text("⟦U.S.|COUNTRY|⟧-listed funds drew money.\n", encoding="utf-8")
    (doc,), corpus = markup_docs([path], tokenizer)
    assert corpus.unaligned == ["two: 'U.S.'"] and list(doc.ents) == []
    assert doc[0].ent_iob_ == ""  # missing: the trainer neither rewards nor punishes it
    assert doc[1].ent_iob_ == "O"


def test_bad_markup_names_its_file(tmp_path, tokenizer) -> None:
    path = tmp_path / "bad.md"
    path.write_text("⟦Fjord|COMPNY|⟧ fell.\n", encoding="utf-8")
    with pytest.raises(EntityDataError, match="bad.md"):
        markup_docs([path], tokenizer)


def test_the_shipped_recogniser_was_trained_on_the_data_in_the_repository() -> None:
    meta = json.loads((MODEL_DIR / "meta.json").read_text(encoding="utf-8"))
    assert meta["train"]["digest"] == _digest(sorted((ENTITY_DATA_DIR / "train").glob("*.md")))
    assert meta["valid"]["digest"] == _digest(sorted((ENTITY_DATA_DIR / "valid").glob("*.md")))
    assert meta["weights_sha256"] == weights_digest(MODEL_DIR)
    assert set(meta["labels"]) == {"ASSET", "EXCHANGE", "COMPANY", "FUND", "PERSON", "GOV_BODY",
                                   "LAW", "INDICATOR", "COUNTRY"}


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    """Eight training and four validation documents of the real data."""
    root = tmp_path_factory.mktemp("entity-data")
    for split, count in (("train", 8), ("valid", 4)):
        (root / split).mkdir()
        for path in sorted((ENTITY_DATA_DIR / split).glob("*.md"))[:count]:
            shutil.copy(path, root / split / path.name)
    return root


def test_training_saves_a_recogniser_the_pipeline_loads(tmp_path, small_data) -> None:
    report = train_entities(tmp_path / "model", data_dir=small_data, steps=4)
    assert (report.train["documents"], report.valid["documents"], report.steps) == (8, 4, 4)
    meta = json.loads((tmp_path / "model" / "meta.json").read_text(encoding="utf-8"))
    assert meta["weights_sha256"] == weights_digest(tmp_path / "model") == report.weights_sha256
    ner = load_entity_model(tmp_path / "model").get_pipe("ner")
    assert {"COMPANY", "FUND", "LAW"} <= set(ner.labels)
    assert "validation (ner alone)" in report.format()


def test_the_command_refuses_missing_or_broken_data(tmp_path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["train", "entities", "--data", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "nowhere" in missing.output
    (tmp_path / "train").mkdir()
    (tmp_path / "valid").mkdir()
    (tmp_path / "train" / "a.md").write_text("⟦x|NOPE|⟧\n", encoding="utf-8")
    (tmp_path / "valid" / "b.md").write_text("fine.\n", encoding="utf-8")
    broken = runner.invoke(app, ["train", "entities", "--data", str(tmp_path),
                                 "--output", str(tmp_path / "out")])
    assert broken.exit_code == 2 and "a.md" in broken.output
    assert not (tmp_path / "out").exists()

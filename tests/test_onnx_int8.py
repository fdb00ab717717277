"""int8 inference on ONNX Runtime: export, the cache and its faults, one answer per input."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from pipeline import onnx_int8
from pipeline.onnx_int8 import cache_dir, cache_key, load_int8

INPUTS = ["input_ids", "token_type_ids", "attention_mask"]  # a BERT tokenizer's order


def tiny_classifier():
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, num_labels=3,
    )
    return BertForSequenceClassification(config).eval()


def encoding(ids: list[int]) -> dict[str, list[int]]:
    return {"input_ids": ids, "token_type_ids": [0] * len(ids), "attention_mask": [1] * len(ids)}


TEXTS = [encoding([2, 5, 9, 14, 3]), encoding([2, 40, 41, 3]), encoding([2, *range(10, 40), 3])]


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSIGNAL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def fp32_logits(model, item: dict[str, list[int]]) -> np.ndarray:
    with torch.no_grad():
        return model(**{k: torch.tensor([v]) for k, v in item.items()}).logits.numpy()


def test_int8_follows_the_fp32_model_and_names_inputs_right(cache):
    model = tiny_classifier()
    int8 = load_int8(lambda: model, inputs=INPUTS, output="logits", key=None)
    for item, answer in zip(TEXTS, int8.each(TEXTS)):
        assert answer.shape == (1, 3)
        np.testing.assert_allclose(answer, fp32_logits(model, item), atol=0.05)
    # token_type_ids and attention_mask swapped by position would change the answer.
    swapped = {**TEXTS[0], "attention_mask": [1, 1, 0, 0, 0]}
    assert not np.allclose(int8.each([swapped])[0], int8.each([TEXTS[0]])[0])
    assert not cache.exists()  # key=None: nothing cached


def test_an_answer_does_not_depend_on_what_else_is_in_flight(cache):
    one = load_int8(tiny_classifier, inputs=INPUTS, output="logits", key=None, threads=1)
    two = load_int8(tiny_classifier, inputs=INPUTS, output="logits", key=None, threads=2)
    alone = [one.each([item])[0] for item in TEXTS]
    for answers in (one.each(TEXTS), two.each(TEXTS), two.each(TEXTS[::-1])[::-1]):
        for answer, expected in zip(answers, alone):
            np.testing.assert_array_equal(answer, expected)


def test_the_cache_is_written_once_and_then_used(cache):
    first = load_int8(tiny_classifier, inputs=INPUTS, output="logits", key="k1")
    files = list(cache.iterdir())
    assert [f.name for f in files] == ["k1.int8.onnx"]

    def no_export():
        raise AssertionError("exported again despite the cache")

    second = load_int8(no_export, inputs=INPUTS, output="logits", key="k1")
    np.testing.assert_array_equal(np.concatenate(second.each(TEXTS)),
                                  np.concatenate(first.each(TEXTS)))


def test_a_corrupt_cache_file_is_exported_again(cache, caplog):
    expected = load_int8(tiny_classifier, inputs=INPUTS, output="logits", key=None).each(TEXTS)
    cache.mkdir(parents=True)
    (cache / "k2.int8.onnx").write_bytes(b"half a file")
    with caplog.at_level(logging.WARNING, logger="pipeline.onnx_int8"):
        model = load_int8(tiny_classifier, inputs=INPUTS, output="logits", key="k2")
    assert "does not load" in caplog.text
    np.testing.assert_array_equal(np.concatenate(model.each(TEXTS)), np.concatenate(expected))
    assert (cache / "k2.int8.onnx").stat().st_size > 1000
    assert not list(cache.glob("*.part"))


def test_a_dead_exporters_partial_file_is_removed_once_stale(cache):
    import os
    import time

    cache.mkdir(parents=True)
    stale, fresh = cache / "old.int8.onnx.111.part", cache / "new.int8.onnx.222.part"
    stale.write_bytes(b"half"), fresh.write_bytes(b"half")
    an_hour_ago = time.time() - onnx_int8.STALE_PART_SECONDS - 60
    os.utime(stale, (an_hour_ago, an_hour_ago))
    load_int8(tiny_classifier, inputs=INPUTS, output="logits", key="k4")
    assert not stale.exists()
    assert fresh.exists()  # may be another process writing right now
    assert (cache / "k4.int8.onnx").is_file()


def test_an_unwritable_cache_only_costs_time(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("NEWSIGNAL_CACHE_DIR", str(blocker))
    with caplog.at_level(logging.WARNING, logger="pipeline.onnx_int8"):
        model = load_int8(tiny_classifier, inputs=INPUTS, output="logits", key="k3")
    assert "cannot cache" in caplog.text
    assert model.each(TEXTS[:1])[0].shape == (1, 3)


def test_cache_keys_and_directory(monkeypatch, tmp_path):
    assert cache_key(b"weights", "config") == cache_key(b"weights", "config")
    assert cache_key(b"weights", "config") != cache_key(b"weights2", "config")
    assert cache_key("ab", "c") != cache_key("a", "bc")  # parts are delimited
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"weights" * 300_000)  # over one read chunk
    assert cache_key(weights, "config") == cache_key(weights.read_bytes(), "config")
    before = cache_key(b"weights", "config")
    monkeypatch.setattr(onnx_int8, "version", lambda name: "0.0.1")  # an upgrade re-exports
    assert cache_key(b"weights", "config") != before
    monkeypatch.setenv("NEWSIGNAL_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("NEWSIGNAL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "newsignal"

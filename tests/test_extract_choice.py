"""The extraction chooser: span merge, features, the logistic fit, the JSON round trip, and the
choice it makes on a page."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from pipeline.extract_choice import (
    CHOOSER_FILE,
    FEATURES,
    Chooser,
    TrainingRow,
    chosen_gain,
    fit_chooser,
    fit_logistic,
    reads_other_stories,
    shipped_chooser,
    switch_features,
    within_span,
)

STORY = [
    "Bitcoin miners sold more coins in March than in any month since the last halving.",
    "- Hash price fell to a record low\n- Difficulty rose by 4.3 percent",
    "Analysts expect the selling to slow once older machines are switched off for good.",
]


def test_within_span_takes_recall_paragraphs_inside_the_base_only() -> None:
    base = "\n\n".join([STORY[0], STORY[2]])  # the precise reading dropped the list
    wide = "\n\n".join(["Subscribe to our newsletter today", *STORY, "Related: Ether falls 5%"])
    assert within_span(base, wide) == "\n\n".join(STORY)


def test_within_span_keeps_the_base_when_the_wide_reading_misses_it() -> None:
    base = "\n\n".join(STORY)
    assert within_span(base, "Only a menu and a cookie notice here") == base
    assert within_span("", "anything at all") == ""


QUOTE = ("Patience is the quiet skill of the long-term holder: the market rewards those who "
         "can sit through a bad quarter without selling everything they own.")
TEASERS = [
    "Fear sells newspapers and greed sells courses, but neither of them has ever paid for a "
    "house; saving a little every month has, for more people than you would think.",
    "The best time to plant a tree was twenty years ago and the second best time is now, which "
    "is also true of an emergency fund that covers three months of rent.",
    "Nobody rings a bell at the top of a market, so the only sensible plan is one that still "
    "works when you are wrong about where the top is going to be.",
]


def _quote_page(headline_in_story: bool = True, body_article: bool = False) -> str:
    """A quote site's page in the shape of the real one on the Zyte dev half: the quote in its
    own <article> under the headline, then a box of other posts, each an <article>."""
    headline = "<h1>On patience</h1>"
    body = f"<p>{QUOTE}</p><p>Shared by the editors of the daily quote.</p>"
    if body_article:
        body = f"<article class='entry-body'>{body}</article>"
    story = f"<article class='post'>{headline if headline_in_story else ''}{body}</article>"
    others = "".join(f"<article class='post'><h3><a href='/q{i}'>Quote {i}</a></h3><p>{text}</p>"
                     "</article>" for i, text in enumerate(TEASERS))
    top = "" if headline_in_story else headline
    return (f"<html><body>{top}{story}<section><h2>You may also like</h2>{others}</section>"
            "</body></html>")


def test_other_stories_text_is_recognised_by_its_articles() -> None:
    from pipeline.extract import _parse

    base = QUOTE
    with_teasers = "\n\n".join([QUOTE, *TEASERS])
    with_own_credit = "\n\n".join([QUOTE, "Shared by the editors of the daily quote."])
    tree = _parse(_quote_page())
    assert reads_other_stories(tree, base, with_teasers)
    assert not reads_other_stories(tree, base, with_own_credit)  # more of the story's article
    # a teaser that is under half of the added words (the rest is in no other article)
    elsewhere = ("The editors choose one quote a day from letters sent in by readers, and they "
                 "read every one of them before the weekly meeting on Thursday afternoons, so "
                 "please keep your letters short and write the source of the quote under it.")
    mixed = "\n\n".join([QUOTE, TEASERS[0], elsewhere])
    assert not reads_other_stories(tree, base, mixed)
    # the page must say which article is the story: the headline's, holding the base
    assert not reads_other_stories(_parse(_quote_page(headline_in_story=False)), base,
                                   with_teasers)
    assert not reads_other_stories(tree, TEASERS[0], with_teasers)
    # a body article inside the story's holds the base: it is the story's, the posts are not
    nested = _parse(_quote_page(body_article=True))
    assert reads_other_stories(nested, base, with_teasers)
    assert not reads_other_stories(nested, base, with_own_credit)


def test_switch_features_measure_length_overlap_and_prose() -> None:
    base = STORY[0]
    prose = base + "\n\n" + STORY[2]
    menu = base + "\n\nMarkets\n\nPrices\n\nBitcoin ETF\n\nLogin"
    ratio, share, stop = switch_features(base, prose, "en")
    assert ratio == pytest.approx(math.log((29 + 1) / (15 + 1)))
    assert 0.3 < share < 0.7
    assert stop > 0.3  # "the", "to", "once", "are", "for" ...
    assert switch_features(base, menu, "en")[2] < stop / 2
    assert len(FEATURES) == 3


def test_logistic_fit_separates_and_is_deterministic() -> None:
    rows = [[x] for x in (-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0)]
    labels = [0, 0, 0, 0, 1, 1, 1, 1]
    weights, bias = fit_logistic(rows, labels, [1.0] * 8, l2=0.1)
    assert weights[0] > 1.0 and abs(bias) < 1e-6
    assert fit_logistic(rows, labels, [1.0] * 8, l2=0.1) == (weights, bias)
    # a heavier penalty shrinks the weight
    assert fit_logistic(rows, labels, [1.0] * 8, l2=10.0)[0][0] < weights[0]


def _rows() -> list[TrainingRow]:
    # prose-like, much longer alternatives gained; menu-like ones lost
    return [
        TrainingRow("b/1", "justext", [1.5, 0.1, 0.50], +0.6),
        TrainingRow("b/2", "justext", [1.2, 0.2, 0.48], +0.5),
        TrainingRow("b/3", "justext", [1.4, 0.1, 0.10], -0.7),
        TrainingRow("b/4", "recall", [1.1, 0.3, 0.12], -0.4),
    ]


def test_fit_chooser_learns_the_prose_feature_and_round_trips(tmp_path: Path) -> None:
    chooser = fit_chooser(_rows(), c=10.0, min_ratio=2.5)
    assert chooser.weights[2] > 0  # stop-word share of the new paragraphs
    assert chosen_gain(chooser, _rows()) == {"b/1": 0.6, "b/2": 0.5}

    path = tmp_path / "chooser.json"
    chooser.save(path)
    loaded = Chooser.load(path)
    assert loaded == chooser
    for features in (row.features for row in _rows()):
        assert loaded.probability(features) == chooser.probability(features)


def test_a_chooser_file_with_other_features_is_refused(tmp_path: Path) -> None:
    data = json.loads(CHOOSER_FILE.read_text(encoding="utf-8"))
    data["features"] = ["something", "else", "entirely"]
    path = tmp_path / "chooser.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="features"):
        Chooser.load(path)


def test_choose_weighs_only_much_longer_alternatives() -> None:
    always = Chooser([0.0] * 3, [1.0] * 3, [0.0] * 3, bias=5.0, min_ratio=2.5)
    base = STORY[0]
    slightly_longer = base + "\n\n" + STORY[2]
    much_longer = "\n\n".join([base, STORY[2], STORY[2].replace("Analysts", "Traders"),
                               STORY[0].replace("March", "April")])
    assert always.choose(base, {"recall": slightly_longer}, "en") == "base"
    assert always.choose(base, {"recall": slightly_longer, "justext": much_longer}, "en") == "justext"
    never = Chooser([0.0] * 3, [1.0] * 3, [0.0] * 3, bias=-5.0, min_ratio=2.5)
    assert never.choose(base, {"justext": much_longer}, "en") == "base"


def test_doubt_comes_from_coverage_or_length() -> None:
    chooser = Chooser([0.0] * 3, [1.0] * 3, [0.0] * 3, 0.0, doubt_coverage=0.35, doubt_chars=50)
    text = " ".join(["word"] * 100)
    assert not chooser.doubtful(text, page_words=200)
    assert chooser.doubtful(text, page_words=400)
    assert chooser.doubtful("short", page_words=1)


def test_the_shipped_chooser_says_how_it_was_trained() -> None:
    chooser = shipped_chooser()
    assert chooser.features == list(FEATURES)
    assert chooser.trained["command"] == "newsignal train extraction"
    assert "dev halves" in chooser.trained["data"]


def _story_with_linked_steps() -> str:
    paragraph = ("<p>Paragraph {}: the exchange said withdrawals of bitcoin and ether would resume "
                 "on Monday after a review of its hot wallets found no further losses.</p>")
    steps = "".join(f"<li><a href='/guide/{i}'>Step {i}: confirm the withdrawal address again "
                    "before the Friday deadline</a></li>" for i in range(6))
    return ("<html><head><title>Exchange resumes withdrawals</title></head><body>"
            "<ul><li><a href='/'>Home page of the exchange news desk</a></li></ul><article>"
            + paragraph.format(1) + paragraph.format(2)
            + f"<h2>What customers need to do</h2><ul>{steps}</ul>"
            + paragraph.format(3) + paragraph.format(4) + "</article></body></html>")


def test_dropped_structure_counts_what_the_precise_reading_left_inside_the_story() -> None:
    from pipeline.extract import _parse, dropped_structure_words, trafilatura_text

    tree = _parse(_story_with_linked_steps())
    precise = trafilatura_text(tree, "", favor_precision=True)
    assert "Paragraph 1" in precise and "Step 1" not in precise  # trafilatura drops linked lists
    # 6 steps of 11 words (the subheading was kept); the menu outside the story does not count
    assert dropped_structure_words(tree, precise) == 6 * 11
    everything = precise + "\n\n" + "\n\n".join(
        f"Step {i}: confirm the withdrawal address again before the Friday deadline"
        for i in range(6))
    assert dropped_structure_words(tree, everything) == 0
    assert dropped_structure_words(tree, "Text that is nowhere on the page") is None


def _doubtful_story(steps: int) -> str:
    """A story with a linked promo line between its paragraphs and, with `steps`, a subheading
    over that many linked steps (which trafilatura's precise mode drops), on a page whose footer
    makes it doubtful (the story is under 35% of the visible words)."""
    paragraph = ("<p>Paragraph {}: the exchange said withdrawals of bitcoin and ether would resume "
                 "on Monday after a review of its hot wallets found no further losses, and that "
                 "customers who moved funds during the outage would be refunded in full.</p>")
    promo = "<p><a href='/app'><b>GET MARKET ALERTS ON YOUR PHONE BY CLICKING HERE</b></a></p>"
    listed = "".join(f"<li><a href='/guide/{i}'>Step {i}: confirm the withdrawal address again "
                     "before the Friday deadline</a></li>" for i in range(steps))
    footer = "".join(f"<li><a href='/t/{i}'>Topic number {i} in the archive</a></li>"
                     for i in range(80))
    return ("<html><head><title>Exchange resumes withdrawals</title></head><body><article>"
            "<h1>Exchange resumes withdrawals</h1>" + paragraph.format(1) + paragraph.format(2)
            + promo + (f"<h2>What customers need to do</h2><ul>{listed}</ul>" if steps else "")
            + paragraph.format(3) + paragraph.format(4)
            + f"</article><footer><ul>{footer}</ul></footer></body></html>")


def test_recall_paragraphs_join_the_base_only_where_structure_was_dropped() -> None:
    from pipeline.extract import RECALL_MIN_DROPPED_WORDS, readings_of_page

    kept = readings_of_page(_doubtful_story(steps=0), "", shipped_chooser())
    assert kept is not None and kept.doubtful
    # doubt runs the recall pass (an alternative), but does not widen a base that lost nothing
    assert "GET MARKET ALERTS" in kept.alternatives["recall"]
    assert "GET MARKET ALERTS" not in kept.base and "Paragraph 4" in kept.base

    # 8 linked steps of 11 words dropped inside the story: the recall paragraphs within the
    # base's span join it (the promo with them: the gate is per page, not per paragraph)
    assert 8 * 11 >= RECALL_MIN_DROPPED_WORDS
    widened = readings_of_page(_doubtful_story(steps=8), "", shipped_chooser())
    assert widened is not None and widened.doubtful
    assert "Step 0" not in widened.base  # both of trafilatura's modes drop linked lists
    assert "GET MARKET ALERTS" in widened.base and "Paragraph 4" in widened.base


def test_train_extraction_needs_recorded_halves(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    bench = tmp_path / "unknown-benchmark"
    (bench / "html").mkdir(parents=True)
    (bench / "ground-truth.json").write_text('{"p1": {"articleBody": "text"}}', encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "extraction", "--bench", str(bench),
                                      "--output", str(tmp_path / "chooser.json")])
    assert result.exit_code == 2 and "no split recorded" in result.output
    assert not (tmp_path / "chooser.json").exists()


@pytest.mark.training
@pytest.mark.slow
def test_training_reproduces_the_shipped_chooser(datasets_dir: Path, tmp_path: Path) -> None:
    from pipeline.extract_choice import train_chooser

    benches = [datasets_dir / "article-extraction-benchmark", datasets_dir / "web-content-extraction"]
    if not all((bench / "ground-truth.json").is_file() for bench in benches):
        pytest.skip("the extraction benchmarks are not present")
    train_chooser(benches, tmp_path / "chooser.json", seed=shipped_chooser().trained["seed"])
    trained = Chooser.load(tmp_path / "chooser.json")
    shipped = shipped_chooser()
    assert trained.weights == pytest.approx(shipped.weights, abs=1e-9)
    assert trained.bias == pytest.approx(shipped.bias, abs=1e-9)
    assert trained.trained["cross_validated"] == shipped.trained["cross_validated"]

"""The gold articles: each file is sound, and the pipeline keeps its accuracy floors on them.

Adding a case means adding `models/data/gold/markup/<name>.md` and writing its `.txt`/`.json`
with `pipeline.evaluation.nlp.write_gold`. An article annotated for catalysts only keeps its text
and catalyst sentences side by side in `models/data/gold/catalysts/`.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.evaluation.intervals import measure_of_counts
from pipeline.evaluation.nlp import (
    SCORED_LABELS,
    catalyst_gold_articles,
    evaluate_article_catalysts,
    evaluate_entities,
    evaluate_figures,
    parse_markup,
)
from pipeline.nlp import MODELS_DIR, analyze

GOLD_DIR = MODELS_DIR / "data" / "gold"
GOLD_TEXTS = sorted(GOLD_DIR.glob("*.txt"))

# Floors; measured values are in models/ENTITIES_FIGURES_CARD.md. The recogniser is trained
# deterministically, so the spread is that of spaCy and package versions: a floor sits two to
# four errors below the measured figure (one error is 1-7 points of a small label's F1).
# Old gold (the dev set; measured F1 ASSET 1.000, EXCHANGE 1.000 of 14, COMPANY 0.966, FUND 1.000
# of 3, PERSON 1.000 of 9, GOV_BODY 1.000, LAW 1.000 of 6, INDICATOR 1.000 of 7, COUNTRY 0.960;
# tickers 1.000; figures F1 0.991, metric 0.947 with the learned metric choice (0.880 with the
# rules alone), sign 0.994 of 171 found with the right size).
FIGURE_VALUE_UNIT_F1 = 0.95
FIGURE_METRIC_ACCURACY = 0.90
FIGURE_SIGN_ACCURACY = 0.95
ENTITY_F1 = {"ASSET": 0.96, "EXCHANGE": 0.88, "COMPANY": 0.93, "FUND": 0.75, "PERSON": 0.88,
             "GOV_BODY": 0.90, "LAW": 0.85, "INDICATOR": 0.70, "COUNTRY": 0.88}
TICKER_ACCURACY = 0.95
# The validation split of the training data (85 documents; measured micro F1 0.921, tickers
# 0.896 of 364; figures F1 0.969, metric 0.856, no metric 0.171, sign 0.986 of 947).
VALID_DIR = MODELS_DIR / "data" / "entities" / "valid"
VALID_FLOORS = {"entity_f1": 0.89, "tickers": 0.86, "figures_f1": 0.94, "metric": 0.80,
                "sign": 0.95}
# Gold dev, 15 articles written apart and tuned on since (measured micro F1 0.921, tickers
# 0.969 of 295; figures F1 0.972, metric 0.788, no metric 0.122, sign 0.983 of 465).
DEV_DIR = MODELS_DIR / "data" / "gold_dev"
DEV_FLOORS = {"entity_f1": 0.89, "tickers": 0.94, "figures_f1": 0.94, "metric": 0.75,
              "other_share": 0.14, "sign": 0.95}
# Gold dev 2, 15 articles written apart on 2026-12-07, scored once untuned and tuned on since
# (measured micro F1 0.874, tickers 0.976 of 163; figures F1 0.920, metric 0.769, no metric
# 0.152, sign 0.971 of 477).
DEV2_DIR = MODELS_DIR / "data" / "gold_dev2"
DEV2_FLOORS = {"entity_f1": 0.83, "tickers": 0.95, "figures_f1": 0.89, "metric": 0.73,
               "other_share": 0.17, "sign": 0.94}
# The figure documents written apart (104, figures only; a dev set since the sixteenth stop:
# measured figures F1 0.948, metric 0.716, no metric 0.144, sign 0.971 of 2,175). With 2,256
# figures one error moves a figure by 0.05 points; the floors sit below the lower end of the
# interval over resampled articles.
FIGURES_DEV_DIR = MODELS_DIR / "data" / "figures_dev"
FIGURES_DEV_FLOORS = {"figures_f1": 0.93, "metric": 0.68, "other_share": 0.17, "sign": 0.95}
# New gold, written apart in unseen templates, scored to report (16 articles; measured
# micro F1 0.932; ASSET 0.954 of 132, COMPANY 0.911 of 97, PERSON 0.945 of 55, GOV_BODY 0.933
# of 52, EXCHANGE 0.911 of 37, COUNTRY 0.935 of 29; tickers 0.947 of 114; figures F1 0.938,
# metric 0.790 (rules alone 0.690 before), no metric 0.125, sign 0.969 of 226).
TEST_DIR = MODELS_DIR / "data" / "gold_test"
TEST_ENTITY_F1 = {"ASSET": 0.92, "COMPANY": 0.87, "PERSON": 0.89, "GOV_BODY": 0.88,
                  "EXCHANGE": 0.84, "COUNTRY": 0.88}
TEST_FLOORS = {"entity_f1": 0.89, "tickers": 0.91, "figures_f1": 0.90, "metric": 0.75,
               "other_share": 0.15, "sign": 0.94}
# Catalysts on the 25 old gold articles (dev), direction model 0.6.0 in int8 / fp32: detection
# P 0.980 / 0.980, R 0.971 / 0.976; category 0.774 / 0.785; direction 0.794 / 0.775 (0.779 /
# 0.765 before signed figures settled unsure directions; 0.769 / 0.760 before the article
# offset, `article_neutral_offset`). One sentence is half a point; floors sit below the lower
# figure by more than the int8-fp32 spread.
CATALYST_DETECTION_PRECISION = 0.95
CATALYST_DETECTION_RECALL = 0.93
CATALYST_CATEGORY_ACCURACY = 0.75
CATALYST_DIRECTION_ACCURACY = 0.735
# The 16 new gold articles (test, scored for totals), int8 / fp32: detection F1 0.894 / 0.896,
# category 0.700 / 0.724, direction 0.752 / 0.752 (0.740 / 0.740 before signed figures settled
# unsure directions, 0.716 / 0.724 before the article offset), event type 0.472 / 0.484. One
# sentence is 0.4 point.
TEST_CATALYST_FLOORS = {"detection_f1": 0.86, "category": 0.67, "direction": 0.69,
                        "event_type": 0.44}
# The 15 gold dev articles written apart, 0.6.0 in int8 / fp32: detection F1 0.935 / 0.935,
# category 0.646 / 0.646, direction 0.729 / 0.721 (0.714 / 0.704 before signed figures settled
# unsure directions, 0.700 / 0.704 before the article offset), event type 0.450 / 0.450. One
# sentence is 0.4 point.
DEV_CATALYST_FLOORS = {"detection_f1": 0.90, "category": 0.61, "direction": 0.67,
                       "event_type": 0.42}
# Gold dev 2, int8 / fp32: detection F1 0.889 / 0.888, category 0.648 / 0.632, direction
# 0.644 / 0.664 (0.641 / 0.661 untuned), event type 0.488 / 0.482. One sentence is 0.4 point.
DEV2_CATALYST_FLOORS = {"detection_f1": 0.86, "category": 0.60, "direction": 0.61,
                        "event_type": 0.45}
CATALYST_GOLD = catalyst_gold_articles(GOLD_DIR)


def test_there_are_enough_gold_articles() -> None:
    assert len(GOLD_TEXTS) >= 12


@pytest.mark.parametrize("text_path", GOLD_TEXTS, ids=[p.stem for p in GOLD_TEXTS])
def test_gold_article(text_path: Path, nlp_no_catalysts) -> None:
    text = text_path.read_text(encoding="utf-8")
    gold = json.loads(text_path.with_suffix(".json").read_text(encoding="utf-8"))
    # The files are what their markup says, and every offset points at its own text.
    markup = GOLD_DIR / "markup" / f"{text_path.stem}.md"
    assert parse_markup(markup.read_text(encoding="utf-8")) == (text, gold)
    for entity in gold["entities"]:
        assert text[entity["start"] : entity["end"]] == entity["text"]
        assert entity["label"] in SCORED_LABELS
    for figure in gold["figures"]:
        assert text[figure["start"] : figure["end"]] == figure["text"]
    # The pipeline finds most of this article's figures, each with offsets into the text.
    found = analyze(nlp_no_catalysts(text)).figures
    for figure in found:
        assert text[figure.start_char : figure.end_char] == figure.text
    found_spans = [(f.start_char, f.end_char) for f in found]
    hits = sum(
        any(start < g["end"] and g["start"] < end for start, end in found_spans)
        for g in gold["figures"]
    )
    assert hits >= 0.75 * len(gold["figures"])


@pytest.fixture(scope="module")
def entity_report(nlp_no_catalysts):
    return evaluate_entities(GOLD_DIR, nlp_no_catalysts)


@pytest.fixture(scope="module")
def figure_report(nlp_no_catalysts):
    return evaluate_figures(GOLD_DIR, nlp_no_catalysts)


@pytest.mark.parametrize("label", sorted(ENTITY_F1))
def test_entity_f1_floor(entity_report, label: str) -> None:
    score = entity_report.per_label[label]
    assert score.f1 >= ENTITY_F1[label], entity_report.format()


def test_ticker_linking_floor(entity_report) -> None:
    assert entity_report.ticker_total.accuracy >= TICKER_ACCURACY, entity_report.format()


def assert_floors(entities, figures, floors: dict[str, float]) -> None:
    """Each measure named in `floors` is at its floor or above (`other_share`: at or below)."""
    summary = entities.format() + "\n" + figures.format()
    measured = {"entity_f1": entities.micro.f1, "tickers": entities.ticker_total.accuracy,
                "figures_f1": figures.value_unit.f1, "metric": figures.metric_accuracy,
                "sign": figures.sign_accuracy}
    for name, floor in floors.items():
        if name == "other_share":
            assert figures.other_share <= floor, summary
        else:
            assert measured[name] >= floor, f"{name}\n{summary}"


@pytest.mark.parametrize(("gold_dir", "articles", "floors"),
                         [(VALID_DIR, 85, VALID_FLOORS), (DEV_DIR, 15, DEV_FLOORS),
                          (DEV2_DIR, 15, DEV2_FLOORS)])
def test_dev_set_floors(nlp_no_catalysts, gold_dir: Path, articles: int, floors) -> None:
    entities = evaluate_entities(gold_dir, nlp_no_catalysts)
    figures = evaluate_figures(gold_dir, nlp_no_catalysts)
    assert entities.articles == articles
    assert_floors(entities, figures, floors)


def test_figure_documents_floors(nlp_no_catalysts) -> None:
    figures = evaluate_figures(FIGURES_DEV_DIR, nlp_no_catalysts)
    summary = figures.format()
    assert figures.articles == 104, summary  # the directory's README is no article
    assert figures.value_unit.f1 >= FIGURES_DEV_FLOORS["figures_f1"], summary
    assert figures.metric_accuracy >= FIGURES_DEV_FLOORS["metric"], summary
    assert figures.other_share <= FIGURES_DEV_FLOORS["other_share"], summary
    assert figures.sign_accuracy >= FIGURES_DEV_FLOORS["sign"], summary


@pytest.fixture(scope="module")
def test_reports(nlp_no_catalysts):
    if not any(TEST_DIR.glob("*.txt")):
        pytest.skip("models/data/gold_test is not present")
    return (evaluate_entities(TEST_DIR, nlp_no_catalysts),
            evaluate_figures(TEST_DIR, nlp_no_catalysts))


@pytest.mark.parametrize("label", sorted(TEST_ENTITY_F1))
def test_new_gold_entity_floor(test_reports, label: str) -> None:
    entities, _ = test_reports
    assert entities.per_label[label].f1 >= TEST_ENTITY_F1[label], entities.format()


def test_new_gold_floors(test_reports) -> None:
    assert_floors(*test_reports, TEST_FLOORS)


def test_figure_floors(figure_report) -> None:
    summary = figure_report.format()
    assert figure_report.value_unit.f1 >= FIGURE_VALUE_UNIT_F1, summary
    assert figure_report.metric_accuracy >= FIGURE_METRIC_ACCURACY, summary
    assert figure_report.sign_accuracy >= FIGURE_SIGN_ACCURACY, summary


def test_reports_serialise_for_the_cli(entity_report, figure_report) -> None:
    entities = json.loads(json.dumps(entity_report.to_dict()))
    assert set(entities["per_label"]) == set(SCORED_LABELS)
    assert entities["articles"] == len(GOLD_TEXTS)
    figures = json.loads(json.dumps(figure_report.to_dict()))
    assert figures["matched"] == figure_report.value_unit.true_positives
    # Each miss, extra and mislabel, for a researcher reading the JSON.
    assert entities["errors"] == entity_report.errors and figures["errors"] == figure_report.errors
    assert "F1" in figure_report.format() and "ASSET" in entity_report.format()
    # Per-article counts add up to the report's, and every measure has its interval around it.
    for report, as_json in ((entity_report, entities), (figure_report, figures)):
        _per_article_counts_add_up(report, as_json)
    assert "95% interval over 15 resampled articles" in figure_report.format()


def _per_article_counts_add_up(report, as_json: dict) -> None:
    assert len(as_json["per_article"]) == report.articles
    totals = report.counts()
    for key, total in totals.items():
        assert sum(row[key] for row in as_json["per_article"].values()) == total, key
    for name, scored in report.MEASURES.items():
        low, high = as_json["intervals"][name]
        assert low - 1e-4 <= measure_of_counts(scored.measure, totals) <= high + 1e-4, name


def test_evaluation_counts_a_wrong_figure_as_an_error(tmp_path, nlp_no_catalysts) -> None:
    """Fault injection: a gold value the text does not state is a miss, and the found one extra."""
    markup = "ETFs saw an outflow of ⟪$258 million|v=-2.58e9;u=USD;m=etf_flow⟫ on Thursday."
    text, annotations = parse_markup(markup)
    (tmp_path / "wrong.txt").write_text(text, encoding="utf-8")
    (tmp_path / "wrong.json").write_text(json.dumps(annotations), encoding="utf-8")
    report = evaluate_figures(tmp_path, nlp_no_catalysts)
    assert (report.value_unit.true_positives, report.value_unit.false_negatives) == (0, 1)
    assert report.value_unit.false_positives == 1


@pytest.mark.parametrize("value", ["6.1e20", "610", "61"])
def test_a_hash_rate_is_scored_in_the_unit_written_or_normalised(tmp_path, nlp_no_catalysts,
                                                                value) -> None:
    """610 EH/s annotated as 6.1e20 hashes per second or as written (610) is found; a value
    that is neither (61) is not."""
    markup = f"The network hash rate hit ⟪610 EH/s|v={value};u=hashrate;m=hash_rate⟫ on Friday."
    text, annotations = parse_markup(markup)
    (tmp_path / "hash.txt").write_text(text, encoding="utf-8")
    (tmp_path / "hash.json").write_text(json.dumps(annotations), encoding="utf-8")
    report = evaluate_figures(tmp_path, nlp_no_catalysts)
    assert report.value_unit.true_positives == (0 if value == "61" else 1)


@pytest.mark.parametrize(("value", "found", "sign"), [("-4.2", 1, 1.0), ("4.2", 0, 0.0)])
def test_a_wrong_sign_misses_the_value_and_counts_as_a_sign_error(tmp_path, nlp_no_catalysts,
                                                                  value, found, sign) -> None:
    """Bitcoin "fell 4.2%" is -4.2: annotated +4.2 (a fault injected), the figure found is no
    value+unit match, and it counts against the sign."""
    markup = f"Bitcoin fell ⟪4.2%|v={value};u=percent;m=price_change;a=BTC⟫ on Monday."
    text, annotations = parse_markup(markup)
    (tmp_path / "fell.txt").write_text(text, encoding="utf-8")
    (tmp_path / "fell.json").write_text(json.dumps(annotations), encoding="utf-8")
    report = evaluate_figures(tmp_path, nlp_no_catalysts)
    assert report.value_unit.true_positives == found
    assert (report.sized, report.sign_accuracy) == (1, sign)


@pytest.mark.parametrize(
    "markup",
    ["⟦Bitcoin|ASSET|BTC", "Bitcoin⟧", "⟦Bitcoin⟧", "⟦Bitcoin|COIN|BTC⟧", "⟪5|u=USD⟫",
     "⟪5|v=5;u=USD;z=1⟫"],
)
def test_bad_markup_is_refused(markup: str) -> None:
    with pytest.raises(ValueError):
        parse_markup(markup)


@pytest.mark.parametrize(
    ("name", "text", "gold"), CATALYST_GOLD, ids=[name for name, _, _ in CATALYST_GOLD]
)
def test_catalyst_gold_is_sound(name: str, text: str, gold: list[dict]) -> None:
    from pipeline.nlp.catalysts import Taxonomy

    categories = set(Taxonomy.load(MODELS_DIR / "taxonomy.yaml").categories)
    previous_end = 0
    for row in gold:
        assert text[row["start"] : row["end"]] == row["text"], row
        assert row["start"] >= previous_end, f"overlaps the one before: {row}"
        assert row["category"] in categories and row["direction"] in {"bearish", "bullish", "neutral"}
        previous_end = row["end"]


def test_catalyst_floors_on_whole_articles(nlp) -> None:
    report = evaluate_article_catalysts(GOLD_DIR, nlp)
    summary = report.format() + "\n" + "\n".join(report.errors)
    assert report.articles == len(CATALYST_GOLD) >= 25
    assert report.detection.precision >= CATALYST_DETECTION_PRECISION, summary
    assert report.detection.recall >= CATALYST_DETECTION_RECALL, summary
    assert report.category_accuracy >= CATALYST_CATEGORY_ACCURACY, summary
    assert report.direction_accuracy >= CATALYST_DIRECTION_ACCURACY, summary
    as_json = json.loads(json.dumps(report.to_dict()))
    assert sum(as_json["direction_confusion"].values()) == report.matched
    _per_article_counts_add_up(report, as_json)


@pytest.mark.parametrize(("gold_dir", "articles", "floors"),
                         [(DEV_DIR, 15, DEV_CATALYST_FLOORS), (DEV2_DIR, 15, DEV2_CATALYST_FLOORS),
                          (TEST_DIR, 16, TEST_CATALYST_FLOORS)])
def test_catalyst_floors_on_gold_written_apart(nlp, gold_dir: Path, articles: int,
                                               floors) -> None:
    report = evaluate_article_catalysts(gold_dir, nlp)
    summary = report.format()
    assert report.articles == articles
    assert report.detection.f1 >= floors["detection_f1"], summary
    assert report.category_accuracy >= floors["category"], summary
    assert report.direction_accuracy >= floors["direction"], summary
    assert report.event_accuracy >= floors["event_type"], summary

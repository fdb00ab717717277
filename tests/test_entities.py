"""The entity ruler on sentences shaped like the news we read (written for these tests)."""

from __future__ import annotations

import json

import pytest
import spacy
from spacy.tokens import Span

from pipeline.nlp import entities as entities_module  # noqa: F401 - registers the factories
from pipeline.nlp.entities import load_patterns


def ents(nlp, text: str) -> list[tuple[str, str, str | None]]:
    return [(e.text, e.label_, e._.ticker) for e in nlp(text).ents]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bitcoin slipped under $90,000 on Tuesday.", ("Bitcoin", "ASSET", "BTC")),
        ("Traders sold BTC into the rally.", ("BTC", "ASSET", "BTC")),
        ("Ether funds saw outflows.", ("Ether", "ASSET", "ETH")),
        ("Staked ether keeps growing.", ("ether", "ASSET", "ETH")),
        ("Cardano (ADA) lost ground.", ("Cardano", "ASSET", "ADA")),
        ("The largest single liquidation occurred on Binance.", ("Binance", "EXCHANGE", None)),
        ("Coinbase reported its results.", ("Coinbase", "EXCHANGE", "COIN")),
        ("Analysts at Glassnode track whales.", ("Glassnode", "COMPANY", None)),
        ("The CLARITY Act stalled again.", ("CLARITY Act", "LAW", None)),
        ("The GENIUS Act covers stablecoins.", ("GENIUS Act", "LAW", None)),
        ("Firms need a license under MiCA.", ("MiCA", "LAW", None)),
        ("The SEC dropped the case.", ("SEC", "GOV_BODY", None)),
        ("The Federal Reserve held rates.", ("Federal Reserve", "GOV_BODY", None)),
        ("The US Treasury declined to comment.", ("US Treasury", "GOV_BODY", None)),
        ("CME FedWatch puts the odds of a cut at 62%.", ("CME FedWatch", "INDICATOR", None)),
        ("The Fear and Greed Index reads 20.", ("Fear and Greed Index", "INDICATOR", None)),
        ("Scott Bessent spoke on Friday.", ("Scott Bessent", "PERSON", None)),
        ("Talks between the two sides in Oman resume.", ("Oman", "COUNTRY", None)),
        # real regulators and venues the recogniser alone got wrong (an asset, a law, a country)
        ("The broker is a member of FINRA, the filing said.", ("FINRA", "GOV_BODY", None)),
        ("Italy's CONSOB issued a warning.", ("CONSOB", "GOV_BODY", None)),
        ("Mt. Gox began repaying creditors.", ("Mt. Gox", "EXCHANGE", None)),
        ("Indodax and BtcTurk halted withdrawals.", ("BtcTurk", "EXCHANGE", None)),
        ("WisdomTree and Hashdex launched funds.", ("Hashdex", "COMPANY", None)),
        ("Whale Alert flagged a transfer of 2,000 BTC.", ("Whale Alert", "COMPANY", None)),
        # listing venues read as an index or a government body
        ("Its shares trade on Nasdaq First North in Stockholm.",
         ("Nasdaq First North", "EXCHANGE", None)),
        ("The shares moved to the Nasdaq Global Select Market.",
         ("Nasdaq Global Select Market", "EXCHANGE", None)),
        ("The fund trades on the ASX and on Cboe Australia.", ("ASX", "EXCHANGE", None)),
        ("Trading opened on Boerse Stuttgart Digital.", ("Boerse Stuttgart Digital", "EXCHANGE",
                                                          None)),
        # a standard setter read as an index, a data release missed, a stablecoin missed
        ("The FSB and IOSCO published recommendations.", ("IOSCO", "GOV_BODY", None)),
        ("The ISM services PMI rose to 52.1 in May.", ("ISM services PMI", "INDICATOR", None)),
        ("Ethena's USDe supply shrank.", ("USDe", "ASSET", "USDE")),
        # stock indexes outside the U.S. read as a fund, a law or a government body
        ("The BSE Sensex gained 1.2 per cent last week.", ("BSE Sensex", "INDICATOR", None)),
        ("The Nifty 50 ended at 24,768.15.", ("Nifty 50", "INDICATOR", None)),
        ("The MSCI COLCAP index slipped 0.4%.", ("MSCI COLCAP", "INDICATOR", None)),
    ],
)
def test_labels_and_tickers(nlp_no_catalysts, text: str, expected: tuple) -> None:
    assert expected in ents(nlp_no_catalysts, text)


def test_the_bare_model_gets_these_wrong_and_we_do_not(base_nlp, nlp_no_catalysts) -> None:
    text = "Bitcoin fell while Binance paused withdrawals."
    bare = {e.text: e.label_ for e in base_nlp(text).ents}
    ours = {e.text: e.label_ for e in nlp_no_catalysts(text).ents}
    assert bare.get("Binance") != "EXCHANGE"  # the reason this component exists
    assert ours["Bitcoin"] == "ASSET" and ours["Binance"] == "EXCHANGE"


def test_saylors_strategy_is_mstr(nlp_no_catalysts) -> None:
    found = ents(nlp_no_catalysts, "Michael Saylor's Strategy (MSTR) posted a loss.")
    assert ("Strategy", "COMPANY", "MSTR") in found
    assert ("MSTR", "COMPANY", "MSTR") in found
    assert ("Michael Saylor", "PERSON", None) in found


def test_strategy_once_anchored_is_the_company_later_in_the_article(nlp_no_catalysts) -> None:
    text = "Strategy (MSTR) bought more bitcoin. Later, Strategy said it would raise money."
    assert [e for e in ents(nlp_no_catalysts, text) if e[0] == "Strategy"] == [
        ("Strategy", "COMPANY", "MSTR"), ("Strategy", "COMPANY", "MSTR")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Our strategy is to buy the dip.",
        "A new Strategy for growth was announced.",
        "The firm changed its Strategy in March.",
    ],
)
def test_plain_strategy_is_not_a_company(nlp_no_catalysts, text: str) -> None:
    assert not any(e[1] == "COMPANY" for e in ents(nlp_no_catalysts, text))


@pytest.mark.parametrize(
    ("text", "is_asset"),
    [
        ("ALL traders should read this.", False),
        ("ONE more thing before we go.", False),
        ("The LINK between the two is clear.", False),
        ("Holders bought 5,000 LINK this week.", True),
        ("The $SAND token jumped.", True),
        ("The Sandbox (SAND) jumped.", True),
        ("LINK price is testing resistance.", True),
        ("The LINK-USDT pair was volatile.", True),
        ("Chainlink gained. LINK is up this week.", True),
    ],
)
def test_ambiguous_tickers_need_case_or_context(nlp_no_catalysts, text: str, is_asset) -> None:
    found = {e[0].lstrip("$") for e in ents(nlp_no_catalysts, text) if e[1] == "ASSET"}
    assert bool(found & {"ALL", "ONE", "LINK", "SAND"}) is is_asset


def test_countries_are_country_and_possessives_are_trimmed(nlp_no_catalysts) -> None:
    found = ents(nlp_no_catalysts, "US-Iran tensions rose as Japan watched. Jane Doe's fund sold.")
    assert ("US", "COUNTRY", None) in found and ("Iran", "COUNTRY", None) in found
    assert ("Japan", "COUNTRY", None) in found
    assert not any(text.endswith("'s") for text, _, _ in found)


def test_ticker_survives_ner_and_relabelling(nlp_no_catalysts) -> None:
    doc = nlp_no_catalysts("Solana rallied while the SEC met.")
    solana = next(e for e in doc.ents if e.text == "Solana")
    assert solana.ent_id_ == "SOL"
    assert Span(doc, solana.start, solana.end, label="ASSET", span_id="SOL")._.ticker == "SOL"


def test_patterns_dir_is_configurable(tmp_path) -> None:
    (tmp_path / "mine.jsonl").write_text(
        json.dumps({"label": "ASSET", "pattern": [{"LOWER": "zorkcoin"}], "id": "ZRK"}) + "\n"
    )
    nlp = spacy.blank("en")
    nlp.add_pipe("newsignal_entities", config={"patterns_dir": str(tmp_path)})
    doc = nlp("I bought zorkcoin and bitcoin.")
    assert [(e.text, e.label_, e._.ticker) for e in doc.ents] == [("zorkcoin", "ASSET", "ZRK")]


def test_a_broken_pattern_file_names_the_line(tmp_path) -> None:
    (tmp_path / "bad.jsonl").write_text('{"label": "ASSET", "pattern": []}\n{"label": \n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_patterns(tmp_path)


def test_shipped_patterns_cover_about_a_hundred_assets() -> None:
    from pipeline.nlp import MODELS_DIR

    records = load_patterns(MODELS_DIR / "patterns")
    assets = {r["id"] for r in records if r["label"] == "ASSET"}
    labels = {r["label"] for r in records}
    assert len(assets) >= 100
    assert {"ASSET", "EXCHANGE", "COMPANY", "GOV_BODY", "LAW", "INDICATOR"} <= labels

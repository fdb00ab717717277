"""The context rules after the recogniser (pipeline/nlp/entity_context.py): tickers the text
states, corporate endings, head words and laws by number. Each rule is tested on a blank
pipeline with the recogniser's entities set by hand, so that what is asserted is the rule's
doing; the last tests run the whole pipeline on invented names."""

from __future__ import annotations

import re

import pytest
import spacy
from spacy.tokens import Span

from pipeline.nlp import MODELS_DIR
from pipeline.nlp import entity_context  # noqa: F401 - registers the factory
from pipeline.nlp.entity_context import EntityRules


@pytest.fixture(scope="module")
def context():
    nlp = spacy.blank("en")
    component = nlp.add_pipe("newsignal_entity_context")

    def run(text: str, recognised: list[tuple[str, str]]) -> list[tuple[str, str, str | None]]:
        """`recognised`: (text, label) the recogniser is said to have found, wherever the
        text is written."""
        doc = nlp.make_doc(text)
        spans = []
        for name, label in recognised:
            for match in re.finditer(re.escape(name), text):
                spans.append(doc.char_span(*match.span(), label=label))
        doc.ents = spans
        return [(e.text, e.label_, e._.ticker) for e in component(doc).ents]

    return run


def test_a_listing_links_exchange_ticker_and_name(context) -> None:
    found = context(
        "Northgate Digital Holdings, Inc. (NASDAQ: NGDH) said on Monday that Northgate bought "
        "bitcoin. NGDH shares rose.",
        [("Northgate Digital Holdings, Inc.", "COMPANY"), ("bitcoin", "ASSET")],
    )
    assert found[:3] == [("Northgate Digital Holdings, Inc.", "COMPANY", "NGDH"),
                         ("NASDAQ", "EXCHANGE", None), ("NGDH", "COMPANY", "NGDH")]
    assert ("Northgate", "COMPANY", "NGDH") in found  # a later, shorter mention
    assert found[-1] == ("NGDH", "COMPANY", "NGDH")  # "NGDH shares", never recognised


def test_a_fund_keeps_its_label_for_its_ticker(context) -> None:
    found = context(
        "The Kestrel Bitcoin Strategy ETF (KBTS) drew $40 million. KBTS now holds more.",
        [("Kestrel Bitcoin Strategy ETF", "FUND"), ("KBTS now", "EXCHANGE")],
    )
    # the recogniser's wrong "KBTS now" gives way to the ticker the text stated
    assert found == [("Kestrel Bitcoin Strategy ETF", "FUND", "KBTS"), ("KBTS", "FUND", "KBTS"),
                     ("KBTS", "FUND", "KBTS")]


def test_a_token_symbol_after_its_name(context) -> None:
    found = context("Solvane (SLV) jumped 8%, and $SLV traders cheered.",
                    [("Solvane", "ASSET"), ("$SLV", "ASSET")])
    assert found == [("Solvane", "ASSET", "SLV"), ("SLV", "ASSET", "SLV"),
                     ("$SLV", "ASSET", "SLV")]


def test_a_name_in_the_headline_gets_the_ticker_stated_below(context) -> None:
    found = context(
        "Sterling Harbor Bancorp beats estimates\n\nPORTLAND — Sterling Harbor Bancorp "
        "(NYSE: SHBC) reported a profit.",
        [("Sterling Harbor Bancorp", "COMPANY")],
    )
    assert found[0] == ("Sterling Harbor Bancorp", "COMPANY", "SHBC")
    assert found[1] == ("Sterling Harbor Bancorp", "COMPANY", "SHBC")


def test_a_title_case_headline_gives_back_the_words_after_a_name() -> None:
    nlp = spacy.blank("en")
    component = nlp.add_pipe("newsignal_entity_context")
    text = ("Tessaly Lending Wins Court Backing For Payout Plan\n\nA judge backed the plan on "
            "Monday. Tessaly Lending said payments start in May.")
    doc = nlp.make_doc(text)
    body = text.rindex("Tessaly Lending")
    doc.ents = [doc.char_span(0, len("Tessaly Lending Wins"), label="COMPANY"),
                doc.char_span(body, body + len("Tessaly Lending"), label="COMPANY")]
    assert [(e.text, e.label_) for e in component(doc).ents] == [
        ("Tessaly Lending", "COMPANY"), ("Tessaly Lending", "COMPANY")]


def test_a_short_form_defined_for_a_body_is_that_body_everywhere(context) -> None:
    found = context(
        "The Tavrenia Revenue Authority (TRA) said on Monday that TRA collected more; the TRA "
        "board met.",
        [("Tavrenia Revenue Authority", "GOV_BODY"), ("TRA board", "ASSET")],
    )
    assert found == [("Tavrenia Revenue Authority", "GOV_BODY", None), ("TRA", "GOV_BODY", None),
                     ("TRA", "GOV_BODY", None), ("TRA", "GOV_BODY", None)]
    # a short form is no ticker
    assert context("The Federal Reserve (FED) met.", [("Federal Reserve", "GOV_BODY")]) == [
        ("Federal Reserve", "GOV_BODY", None), ("FED", "GOV_BODY", None)]


def labelled(text: str, recognised: list[tuple[str, str]]) -> dict[str, set[str]]:
    """Run the context rules with `recognised` (text, label) set wherever written as whole
    words, longer names first; the labels each name ends up with."""
    nlp = spacy.blank("en")
    component = nlp.add_pipe("newsignal_entity_context")
    doc = nlp.make_doc(text)
    spans: list[Span] = []
    for name, label in sorted(recognised, key=lambda r: -len(r[0])):
        for match in re.finditer(rf"\b{re.escape(name)}\b", text):
            span = doc.char_span(*match.span(), label=label)
            if not any(s.start < span.end and span.start < s.end for s in spans):
                spans.append(span)
    doc.ents = sorted(spans, key=lambda s: s.start)
    found: dict[str, set[str]] = {}
    for ent in component(doc).ents:
        found.setdefault(ent.text, set()).add(ent.label_)
    return found


def test_a_name_whose_head_settles_it_settles_its_short_form() -> None:
    found = labelled("Orvell Exchange froze withdrawals. Orvell said the freeze would end soon.",
                     [("Orvell Exchange", "EXCHANGE"), ("Orvell", "COMPANY")])
    assert found["Orvell"] == {"EXCHANGE"}
    # a person read by the recogniser, of a firm's name
    found = labelled("Tessmer Capital Partners sold. Tessmer declined to comment.",
                     [("Tessmer Capital Partners", "COMPANY"), ("Tessmer", "PERSON")])
    assert found["Tessmer"] == {"COMPANY"}


def test_the_noun_before_a_name_says_what_it_is_wherever_written() -> None:
    found = labelled(
        "Domestic exchange Morikawa said volumes rose. Morikawa will list two tokens, and "
        "analytics firm Delvane traced the coins. Delvane said more.",
        [("Morikawa", "COMPANY"), ("Delvane", "PERSON")],
    )
    assert found == {"Morikawa": {"EXCHANGE"}, "Delvane": {"COMPANY"}}
    # two such nouns that disagree settle nothing
    found = labelled("The exchange Tallow and the firm Tallow merged. Tallow said more.",
                     [("Tallow", "COMPANY")])
    assert found == {"Tallow": {"COMPANY"}}


def test_a_head_word_settles_a_name_but_not_past_of() -> None:
    found = labelled(
        "Kettering Forensics traced the coins. Kettering said the Marovian Ministry of Energy "
        "knew.",
        [("Kettering Forensics", "PERSON"), ("Kettering", "PERSON"),
         ("Marovian Ministry of Energy", "GOV_BODY")],
    )
    assert found == {"Kettering Forensics": {"COMPANY"}, "Kettering": {"COMPANY"},
                     "Marovian Ministry of Energy": {"GOV_BODY"}}


@pytest.mark.parametrize(
    ("text", "recognised"),
    [
        # a person named in the text with that surname
        ("Ingrid Brakstad founded Brakstad Capital. Brakstad said more.",
         [("Ingrid Brakstad", "PERSON"), ("Brakstad Capital", "COMPANY"), ("Brakstad", "PERSON")]),
        # two longer names of different kinds share it
        ("Ashgrove Exchange and Ashgrove Payments merged. Ashgrove said more.",
         [("Ashgrove Exchange", "EXCHANGE"), ("Ashgrove Payments", "COMPANY"),
          ("Ashgrove", "PERSON")]),
        # a company's short form may be the brand of the exchange it runs
        ("Tradeline Europe Holdings runs Tradeline. Tradeline listed a token.",
         [("Tradeline Europe Holdings", "COMPANY"), ("Tradeline", "EXCHANGE")]),
    ],
)
def test_a_short_form_keeps_its_label_where_the_document_leaves_doubt(text, recognised) -> None:
    short, label = recognised[-1]
    assert labelled(text, recognised)[short] == {label}


def test_a_name_read_whole_once_is_whole_where_only_its_end_was_read() -> None:
    nlp = spacy.blank("en")
    component = nlp.add_pipe("newsignal_entity_context")
    text = "Creditors of Merlion Vault Exchange met. Merlion Vault Exchange said more."
    doc = nlp.make_doc(text)
    first = text.index("Vault Exchange")
    second = text.rindex("Merlion Vault Exchange")
    doc.ents = [doc.char_span(first, first + len("Vault Exchange"), label="EXCHANGE"),
                doc.char_span(second, second + len("Merlion Vault Exchange"), label="EXCHANGE")]
    assert [(e.text, e.label_) for e in component(doc).ents] == [
        ("Merlion Vault Exchange", "EXCHANGE"), ("Merlion Vault Exchange", "EXCHANGE")]


def test_a_surname_alone_is_the_person_named_in_full() -> None:
    found = labelled(
        "Babatunde Okafor-Lind runs the desk. Okafor-Lind said flows slowed, and Jordan "
        "Hale agreed; Hale left for Jordan on Friday.",
        [("Babatunde Okafor-Lind", "PERSON"), ("Okafor-Lind", "COMPANY"),
         ("Jordan Hale", "PERSON"), ("Jordan", "COUNTRY")],
    )
    assert found["Okafor-Lind"] == {"PERSON"}  # read as a firm, taken back
    assert found["Hale"] == {"PERSON"}  # not read at all, added
    assert found["Jordan"] == {"COUNTRY"}  # a place keeps its label
    # a firm that starts with the surname leaves a lone mention as the recogniser read it
    found = labelled("Ingrid Maalen founded Maalen & Dorr Capital. Maalen raised a fund.",
                     [("Ingrid Maalen", "PERSON"), ("Maalen & Dorr Capital", "COMPANY"),
                      ("Maalen", "COMPANY")])
    assert found["Maalen"] == {"COMPANY"}


def test_a_name_starts_at_a_word_of_the_name(context) -> None:
    found = context(
        "Stig Holm, chief executive of Vennberg, spoke. Vennberg Holding AB (VNBG) bought "
        "bitcoin. Vennberg shares rose.",
        [("Stig Holm", "PERSON"), ("of Vennberg", "PERSON"), ("Vennberg Holding AB", "COMPANY")],
    )
    # "of Vennberg" would make Vennberg a surname; cut, it is the company's short form
    assert found == [("Stig Holm", "PERSON", None), ("Vennberg", "COMPANY", "VNBG"),
                     ("Vennberg Holding AB", "COMPANY", "VNBG"), ("VNBG", "COMPANY", "VNBG"),
                     ("Vennberg", "COMPANY", "VNBG")]


def test_a_wire_storys_credits_name_people(context) -> None:
    found = context(
        "(Reporting by Ines Carvalho and Tomas Reyna in Lisbon; Additional reporting by Yuki "
        "Sato; Editing by Paul Okafor)\n\nData compiled by Kestrel Research.",
        [("Tomas Reyna", "PERSON"), ("Yuki Sato", "COMPANY"), ("Paul Okafor", "COMPANY"),
         ("Kestrel Research", "COMPANY")],
    )
    assert found == [("Ines Carvalho", "PERSON", None), ("Tomas Reyna", "PERSON", None),
                     ("Yuki Sato", "PERSON", None), ("Paul Okafor", "PERSON", None),
                     ("Kestrel Research", "COMPANY", None)]  # data credited to a firm stays


def test_a_short_heading_in_capitals_names_nothing(context) -> None:
    found = context("BY THE NUMBERS\n\nON OUR RADAR\n\n"
                    "KESTREL DIGITAL SLIDES AS GRIDLOCK BITES HARD",
                    [("NUMBERS", "INDICATOR"), ("OUR RADAR", "INDICATOR"),
                     ("KESTREL DIGITAL", "COMPANY")])
    assert found == [("KESTREL DIGITAL", "COMPANY", None)]  # a headline is longer


def test_a_currency_code_before_an_amount_is_its_unit(context) -> None:
    found = context("The euro (EUR) slipped. Brannvik paid EUR 40.0 million, or EUR 88,930 a coin.",
                    [("euro", "ASSET"), ("EUR", "ASSET"), ("Brannvik", "COMPANY")])
    assert [(text, label) for text, label, _ in found] == [
        ("euro", "ASSET"), ("EUR", "ASSET"), ("Brannvik", "COMPANY")]


def test_an_amount_after_a_currency_symbol_is_no_name(context) -> None:
    found = context("Tether was quoted at TL 39.71, and Rs 500 crore changed hands on SB 318 day.",
                    [("Tether", "ASSET"), ("TL 39.71", "LAW"), ("Rs 500", "COMPANY"),
                     ("SB 318", "LAW")])
    assert [(text, label) for text, label, _ in found] == [
        ("Tether", "ASSET"), ("SB 318", "LAW")]


def test_a_name_things_trade_on_is_no_person(context) -> None:
    found = context("Funding rose to 0.12% on Zentrex. Zentrex said volume doubled.",
                    [("Zentrex", "PERSON")])
    assert found == [("Zentrex", "EXCHANGE", None), ("Zentrex", "EXCHANGE", None)]
    # "on" before a name read as anything else changes nothing
    assert context("Tokens built on Velora rose.", [("Velora", "ASSET")]) == [
        ("Velora", "ASSET", None)]


def test_a_symbol_that_counts_an_amount_makes_its_name_a_token(context) -> None:
    found = context(
        "Brindle (BRND) jumped 38%. Funding on Brindle perpetuals rose on Kelvar. A wallet sent "
        "2.5 billion BRND to Kelvar.",
        [("Brindle", "EXCHANGE"), ("BRND", "COMPANY"), ("Kelvar", "EXCHANGE")],
    )
    assert [(text, label) for text, label, _ in found] == [
        ("Brindle", "ASSET"), ("BRND", "ASSET"), ("Brindle", "ASSET"), ("Kelvar", "EXCHANGE"),
        ("BRND", "ASSET"), ("Kelvar", "EXCHANGE")]
    # a symbol that counts nothing settles nothing: a stock's ticker after its company
    found = context("Brindle (BRND) jumped 38%. BRND shares rose.",
                    [("Brindle", "COMPANY"), ("BRND", "COMPANY")])
    assert {label for _, label, _ in found} == {"COMPANY"}


def test_a_person_named_in_full_is_the_person_in_capitals_too(context) -> None:
    found = context(
        "Anchor Imelda Vasquez spoke to Rowan Tate.\n\nIMELDA VASQUEZ: Welcome.\n\nTATE: Thanks."
        "\n\nVASQUEZ: And the coin?",
        [("Imelda Vasquez", "PERSON"), ("Rowan Tate", "PERSON")],
    )
    assert found == [("Imelda Vasquez", "PERSON", None), ("Rowan Tate", "PERSON", None),
                     ("IMELDA VASQUEZ", "PERSON", None), ("TATE", "PERSON", None),
                     ("VASQUEZ", "PERSON", None)]


def test_a_whole_name_written_in_running_text_stays_whole_in_the_headline(context) -> None:
    found = context(
        "Brightfen Capital Partners Opens Fund For Miners\n\nBrightfen Capital Partners "
        "opened a fund. Brightfen Capital said more.",
        [("Brightfen Capital Partners", "COMPANY"), ("Brightfen Capital said", "COMPANY")],
    )
    assert found[0] == ("Brightfen Capital Partners", "COMPANY", None)


def test_under_the_symbol(context) -> None:
    found = context('Lanternfish Custody Corp. will trade under the symbol "LNFC" on Friday.',
                    [("Lanternfish Custody Corp.", "COMPANY")])
    assert found == [("Lanternfish Custody Corp.", "COMPANY", "LNFC"), ("LNFC", "COMPANY", "LNFC")]


@pytest.mark.parametrize(
    ("text", "recognised"),
    [
        ("Bitcoin (see chart) fell.", [("Bitcoin", "ASSET")]),
        ("Jordan Ellis (CEO) spoke.", [("Jordan Ellis", "PERSON")]),
    ],
)
def test_parentheses_after_other_names_are_no_ticker(context, text, recognised) -> None:
    assert all(ticker is None or ticker == "BTC" for _, _, ticker in context(text, recognised))
    assert len(context(text, recognised)) == 1


def test_an_upper_case_company_is_its_own_ticker_only_where_stated(context) -> None:
    stated = context("QRLX shares rose after QRLX said so.", [("QRLX", "COMPANY")])
    assert stated[0] == ("QRLX", "COMPANY", "QRLX")
    assert context("KPMG audited the firm.", [("KPMG", "COMPANY")]) == [("KPMG", "COMPANY", None)]


def test_a_corporate_ending_joins_the_name(context) -> None:
    found = context("Harbor Basin Energy Partners, L.P. reported results.",
                    [("Harbor Basin Energy Partners", "COMPANY")])
    assert found == [("Harbor Basin Energy Partners, L.P.", "COMPANY", None)]


@pytest.mark.parametrize(
    ("name", "said", "label"),
    [("Savanna Digital Exchange", "COMPANY", "EXCHANGE"),
     ("Halvard Liquidity Gauge", "COMPANY", "INDICATOR"),
     ("Saltire Customer Protection Fund", "EXCHANGE", "FUND"),
     ("Buckeye Digital Reserve Act", "ORG", "LAW"),
     ("Kestovian Securities Commission", "COMPANY", "GOV_BODY"),
     ("Tarnwood Swap", "COMPANY", "EXCHANGE"),
     ("Brennholt Verwaltung AG", "PERSON", "COMPANY"),
     ("Kestovian Market Conduct Regulation", "INDICATOR", "LAW"),
     # the head of "<office> of <field>" comes before "of": left as read
     ("Office of Financial Regulation", "GOV_BODY", "GOV_BODY")],
)
def test_the_last_word_of_a_longer_name_settles_its_label(context, name, said, label) -> None:
    assert context(f"Yesterday {name} said no.", [(name, said)]) == [(name, label, None)]


def test_analysts_ratings_and_accounting_terms_are_no_names(context) -> None:
    found = context(
        "Corvel Research cut Tidewell Markets to Underperform from Neutral and sees EPS of "
        "$0.42; adjusted EBITDA (non-GAAP) rose. Its Board of Directors, in Menlo Park, "
        "Calif., approved a buyback.",
        [("Corvel Research", "COMPANY"), ("Tidewell Markets", "COMPANY"),
         ("Underperform", "PERSON"), ("Neutral", "COMPANY"), ("EPS", "ASSET"),
         ("EBITDA", "ASSET"), ("GAAP", "ASSET"), ("Board of Directors", "GOV_BODY"),
         ("Calif.", "COUNTRY")],
    )
    assert found == [("Corvel Research", "COMPANY", None), ("Tidewell Markets", "COMPANY", None)]


@pytest.mark.parametrize(
    ("text", "law"),
    [("The Ohio Senate passed Senate Bill 1142 on Tuesday.", "Senate Bill 1142"),
     ("Under House Bill 183, the state may buy bitcoin.", "House Bill 183"),
     ("H.R. 4763 cleared the House.", "H.R. 4763"),
     ("Arizona's SB 1025 stalled.", "SB 1025"),
     ("The firm adopted ASU 2023-08 early.", "ASU 2023-08"),
     ("It breached Rule 10b-5 twice.", "Rule 10b-5"),
     ("Colorado's HB25-1207 advanced.", "HB25-1207")],
)
def test_laws_by_number(context, text: str, law: str) -> None:
    # the recogniser split it, or read part of it as something else
    first_word = law.split()[0]
    found = context(text, [(first_word, "GOV_BODY")] if first_word in ("Senate", "House") else [])
    assert (law, "LAW", None) in found


def test_shipped_rules_load() -> None:
    rules = EntityRules.load(MODELS_DIR / "entity_rules.yaml")
    assert rules.heads["Exchange"] == "EXCHANGE" and "Inc." in rules.name_endings


def test_a_bad_rules_file_is_refused(tmp_path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("law_patterns: ['(unclosed']\nname_endings: []\nheads: {}\ninstruments: []\n"
                    "issuer_countries: []\nlaw_words: []\n")
    with pytest.raises(ValueError, match="rules.yaml"):
        EntityRules.load(path)


@pytest.mark.parametrize(
    ("text", "recognised", "expected"),
    [
        # a person's role after the name: nothing read, or only a part of the name
        ("Noor Castellane, rates strategist at Brightwell, expects a cut.", [],
         ("Noor Castellane", "PERSON")),
        ("Odile Marchetti, the exchange's chief risk officer, resigned.",
         [("Marchetti", "PERSON")], ("Odile Marchetti", "PERSON")),
        # a role only people hold takes a name back from a firm the recogniser read...
        ("Tobiah Renwick, chief investment officer of Larchmont, sold.",
         [("Tobiah Renwick", "COMPANY")], ("Tobiah Renwick", "PERSON")),
        # ... a role firms hold too does not, and a title before the name is left out
        ("Brisk Ledger Partners, a partner of the exchange, sold.",
         [("Brisk Ledger Partners", "COMPANY")], ("Brisk Ledger Partners", "COMPANY")),
        ("Senator Aldous Prentiss, chair of the banking committee, objected.", [],
         ("Aldous Prentiss", "PERSON")),
        # a role after a firm that belongs to someone else ("..., as board chair")
        ("Gale Sutter, a former trader at Kallow Digital, as board chair.",
         [("Kallow Digital", "COMPANY")], ("Kallow Digital", "COMPANY")),
    ],
)
def test_a_name_followed_by_its_bearers_role_is_a_person(nlp_no_catalysts, text, recognised,
                                                          expected) -> None:
    doc = nlp_no_catalysts.make_doc(text)
    for name in ("tok2vec", "tagger", "parser"):  # the tags and parse the rule reads
        doc = nlp_no_catalysts.get_pipe(name)(doc)
    doc.ents = [doc.char_span(m.start(), m.end(), label=label)
                for name, label in recognised for m in re.finditer(re.escape(name), text)]
    found = nlp_no_catalysts.get_pipe("newsignal_entity_context")(doc).ents
    assert expected in [(e.text, e.label_) for e in found]


# -- the whole pipeline, invented names ---------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fjord Mining Corp. (NASDAQ: FJMC) said revenue rose. Fjord mined 412 BTC.",
         [("Fjord Mining Corp.", "COMPANY", "FJMC"), ("NASDAQ", "EXCHANGE", None),
          ("FJMC", "COMPANY", "FJMC"), ("Fjord", "COMPANY", "FJMC")]),
        ("The Brambleton Bitcoin Trust (BRBT) saw $212 million of outflows.",
         [("Brambleton Bitcoin Trust", "FUND", "BRBT"), ("BRBT", "FUND", "BRBT")]),
        ("Kelvara Exchange halted withdrawals after Jordan Whitfield resigned.",
         [("Kelvara Exchange", "EXCHANGE", None), ("Jordan Whitfield", "PERSON", None)]),
        ("The Wyoming Legislature passed House Bill 183, the Wyoming Strategic Bitcoin "
         "Reserve Act.",
         [("House Bill 183", "LAW", None),
          ("Wyoming Strategic Bitcoin Reserve Act", "LAW", None)]),
    ],
)
def test_invented_names_through_the_pipeline(nlp_no_catalysts, text, expected) -> None:
    found = [(e.text, e.label_, e._.ticker) for e in nlp_no_catalysts(text).ents]
    for entity in expected:
        assert entity in found, found


def test_a_name_ends_before_the_noun_that_says_what_it_is(context) -> None:
    found = context(
        "Harlow Group owns the Brisko exchange, and traders watch the CME FedWatch tool. "
        "Said Ana Ruiz of Lisbon broker Tavora Capital.",
        [("Harlow Group", "COMPANY"), ("Brisko exchange", "EXCHANGE"),
         ("CME FedWatch tool", "INDICATOR"), ("Ana Ruiz", "PERSON"), ("Lisbon broker", "COMPANY")],
    )
    assert found == [("Harlow Group", "COMPANY", None), ("Brisko", "EXCHANGE", None),
                     ("CME FedWatch", "INDICATOR", None), ("Ana Ruiz", "PERSON", None),
                     ("Lisbon broker", "COMPANY", None)]  # a name follows: left as read


def test_a_bracketed_corporate_ending_belongs_to_the_name(context) -> None:
    found = context("Vennberg Holding AB (publ) bought 120 bitcoin on Monday.",
                    [("Vennberg Holding AB", "COMPANY")])
    assert found == [("Vennberg Holding AB (publ)", "COMPANY", None)]


def test_a_name_things_trade_on_is_a_venue_whatever_it_was_read_as(context) -> None:
    found = context(
        "CUSD traded as low as $0.912 on Quillon. Quillon paused withdrawals. Options on Bitcoin "
        "rose. The bill put pressure on the Commission.",
        [("Quillon", "ASSET"), ("Bitcoin", "ASSET"), ("Commission", "GOV_BODY")],
    )
    # a market word before "on" makes a name a venue; no market word leaves a body a body
    assert [(text, label) for text, label, _ in found] == [
        ("Quillon", "EXCHANGE"), ("Quillon", "EXCHANGE"), ("Bitcoin", "ASSET"),
        ("Commission", "GOV_BODY")]


def test_a_ticker_stated_for_a_short_form_goes_to_the_full_name() -> None:
    nlp = spacy.blank("en")
    component = nlp.add_pipe("newsignal_entity_context")
    doc = nlp.make_doc("Vennberg Holding AB bought bitcoin. Vennberg is a payments company. Its "
                       "shares are listed under the ticker VNBG.")
    doc.ents = [doc.char_span(0, 19, label="COMPANY"), doc.char_span(36, 44, label="COMPANY")]
    found = [(e.text, e.label_, e._.ticker) for e in component(doc).ents]
    assert found[:2] == [("Vennberg Holding AB", "COMPANY", "VNBG"),
                         ("Vennberg", "COMPANY", "VNBG")]


def test_a_name_whose_own_symbol_follows_it_is_that_token(context) -> None:
    found = context("Quarrel's QUAR slid 9% after 200 million QUAR unlocked. Quarrel said staking "
                    "is growing. Kestrel Swap's KSW token and Harbor's HODL fund were flat.",
                    [("Quarrel", "COMPANY"), ("QUAR", "ASSET"), ("Kestrel Swap", "EXCHANGE"),
                     ("KSW", "ASSET"), ("Harbor", "COMPANY"), ("HODL", "ASSET")])
    # an exchange's own token leaves it an exchange; "HODL" spells no start of "Harbor"
    assert [(t, label, ticker) for t, label, ticker in found
            if t in ("Quarrel", "Kestrel Swap", "Harbor")] == [
        ("Quarrel", "ASSET", "QUAR"), ("Quarrel", "ASSET", "QUAR"),
        ("Kestrel Swap", "EXCHANGE", None), ("Harbor", "COMPANY", None)]



def _listed(text: str, recognised: list[tuple[str, str]], plural_tag: str) -> dict[str, str]:
    """The context rules over hand-set entities, the tagger's tag of every "platforms",
    "exchanges" and "venues" set to `plural_tag`."""
    nlp = spacy.blank("en")
    component = nlp.add_pipe("newsignal_entity_context")
    doc = nlp.make_doc(text)
    doc.ents = sorted((doc.char_span(*m.span(), label=label) for name, label in recognised
                       for m in re.finditer(rf"\b{re.escape(name)}\b", text)),
                      key=lambda span: span.start)
    for token in doc:
        if token.lower_ in ("platforms", "exchanges", "venues"):
            token.tag_ = plural_tag
    return {e.text: e.label_ for e in component(doc).ents}


def test_names_listed_after_a_plural_venue_noun_are_exchanges() -> None:
    text = ("Volume on the three largest local platforms, Brenholt, Pellamy and Quaresh, fell. "
            "Brenholt said withdrawals were normal. Funds moved to venues such as Olvarra; "
            "Ardsley Group, a firm, and Tamsin Hale sold.")
    recognised = [("Brenholt", "COMPANY"), ("Pellamy", "PERSON"), ("Quaresh", "COMPANY"),
                  ("Olvarra", "COMPANY"), ("Ardsley Group", "COMPANY"), ("Tamsin Hale", "PERSON")]
    found = _listed(text, recognised, "NNS")
    assert {name: found[name] for name in ("Brenholt", "Pellamy", "Quaresh", "Olvarra")} == {
        "Brenholt": "EXCHANGE", "Pellamy": "EXCHANGE", "Quaresh": "EXCHANGE",
        "Olvarra": "EXCHANGE"}
    # the list ends where the names do; a label other than a firm's or a person's stays
    assert found["Ardsley Group"] == "COMPANY" and found["Tamsin Hale"] == "PERSON"
    assert _listed("Trading rose on exchanges like Velmar.", [("Velmar", "COUNTRY")],
                   "NNS") == {"Velmar": "COUNTRY"}
    # "exchanges" as a verb lists nothing
    assert _listed("The treasurer exchanges Halvery for cash.", [("Halvery", "COMPANY")],
                   "VBZ") == {"Halvery": "COMPANY"}


def test_a_legislators_party_tag_names_nothing(context) -> None:
    found = context("Sen. Lena Arquette (D-Nev.) and Rep. Tom Hale (R-N.Y.) backed it; "
                    "Sen. Curtis Hallorann (R-Elko) did not. Nevada passed it.",
                    [("Lena Arquette", "PERSON"), ("D-Nev.", "PERSON"), ("Tom Hale", "PERSON"),
                     ("N.Y.", "COUNTRY"), ("Curtis Hallorann", "PERSON"), ("R-Elko", "PERSON"),
                     ("Nevada", "GOV_BODY")])
    assert [(text, label) for text, label, _ in found] == [
        ("Lena Arquette", "PERSON"), ("Tom Hale", "PERSON"), ("Curtis Hallorann", "PERSON"),
        ("Nevada", "GOV_BODY")]


def test_a_persons_name_holds_no_comma(context) -> None:
    found = labelled(
        "Sen. Marisol Okafor-Reyes and Sen. Dale Brannock sponsored it. "
        "Yes: Okafor-Reyes, Brannock, Lindqvist. No: Park.",
        [("Marisol Okafor-Reyes", "PERSON"), ("Dale Brannock", "PERSON"),
         ("Okafor-Reyes, Brannock, Lindqvist", "PERSON")],
    )
    assert found == {"Marisol Okafor-Reyes": {"PERSON"}, "Dale Brannock": {"PERSON"},
                     "Okafor-Reyes": {"PERSON"}, "Brannock": {"PERSON"},
                     "Lindqvist": {"PERSON"}}
    # a generation after a comma is the name's own
    assert context("Harold Vance, Jr. objected.", [("Harold Vance, Jr.", "PERSON")]) == [
        ("Harold Vance, Jr.", "PERSON", None)]


def test_a_vote_tally_ends_no_name(context) -> None:
    found = context("The bill cleared House Financial Services 32-19, and National "
                    "Instrument 81-102 applies.",
                    [("House Financial Services 32-19", "GOV_BODY"),
                     ("National Instrument 81-102", "LAW")])
    assert [(text, label) for text, label, _ in found] == [
        ("House Financial Services", "GOV_BODY"), ("National Instrument 81-102", "LAW")]

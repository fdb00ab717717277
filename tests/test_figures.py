"""The figures and conflicts components on sentences shaped like the news we read."""

from __future__ import annotations

import math

import pytest
import spacy
import yaml

from pipeline.nlp import MODELS_DIR, analyze
from pipeline.nlp import conflicts  # noqa: F401 - registers newsignal_conflicts
from pipeline.nlp.vocabulary import load_metrics
from pipeline.records import Figure


def figures(nlp, text: str) -> list[Figure]:
    found = analyze(nlp(text)).figures
    for figure in found:  # evidence: the offsets point at the figure's own text
        assert text[figure.start_char : figure.end_char] == figure.text
    return found


def only(nlp, text: str) -> Figure:
    found = figures(nlp, text)
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("text", "value", "unit", "metric", "asset"),
    [
        ("An outflow of $258 million on Thursday hit spot ETFs.", -2.58e8, "USD", "etf_flow", None),
        ("Bitcoin traded at TL 2.98 million on Turkish platforms.", 2.98e6, "TRY", "price", "BTC"),
        ("Bitcoin ended the week at ₹88.9 lakh on local exchanges.", 8.89e6, "INR", "price", "BTC"),
        ("Bitcoin fell 4.3% over the weekend.", -4.3, "percent", "price_change", "BTC"),
        ("Strategy (MSTR) posted a $12.6 billion loss in Q4 2025.", -1.26e10, "USD", "net_income",
         "MSTR"),
        ("The Fear and Greed Index reading falls to 5 on Friday.", 5.0, "index_points",
         "fear_greed_index", None),
        ("The long-to-short ratio is at 0.9594 over the last 24 hours.", 0.9594, "ratio",
         "long_short_ratio", None),
        ("Bitcoin touched $60,000 on Friday.", 60000.0, "USD", "price", "BTC"),
        ("Open Interest (OI) has dropped to $95.73 billion.", 9.573e10, "USD", "open_interest",
         None),
        ("Whales bought 1.5K BTC this week.", 1500.0, "BTC", "purchase", "BTC"),
        ("The fund holds 12,000 bitcoin.", 12000.0, "BTC", "holdings", "BTC"),
        ("Ether ETFs drew inflows of $1.2bn last week.", 1.2e9, "USD", "etf_flow", "ETH"),
        ("The total crypto market capitalization is $2.8 trillion.", 2.8e12, "USD", "market_cap",
         None),
        ("Hackers stole $450M from the bridge.", 4.5e8, "USD", "stolen_funds", None),
        ("The company booked an operating loss of $17.4 billion.", -1.74e10, "USD",
         "operating_income", None),
        ("Inflation eased to 2.9% in January.", 2.9, "percent", "inflation_rate", None),
        ("The Fed cut rates by 25 basis points.", -25.0, "basis_points", "interest_rate", None),
        ("The Bank of Korea cut its base rate by 25 basis points on Thursday.", -25.0,
         "basis_points", "interest_rate", None),
        # Hyphenated before its noun, as news writes a rate move.
        ("The Fed delivered a 50-basis-point hike.", 50.0, "basis_points", "interest_rate", None),
        ("Futures price a 25-basis-point cut.", -25.0, "basis_points", "interest_rate", None),
        ("Her 2027 earnings-per-share estimate falls to $5.10.", 5.1, "USD", "eps", None),
        ("Solana's funding rate turned negative at -0.01%.", -0.01, "percent", "funding_rate",
         "SOL"),
        ("Bitcoin dominance climbed to 61%.", 61.0, "percent", "dominance", "BTC"),
        ("Trading volume on Binance reached $38 billion.", 3.8e10, "USD", "trading_volume", None),
        ("MSTR shares closed at $106.", 106.0, "USD", "share_price", "MSTR"),
        ("The network hash rate reached 1,040 EH/s.", 1.04e21, "hashrate", "hash_rate", None),
        # members of a co-op or a fund are counted, but they are no traders or accounts
        ("The co-op's 2,300 members run rigs in garages and barns.", 2300.0, "count", "other",
         None),
        # coins a miner produced are its output: no metric of the guide (not sold, not held)
        ("Listed miners produced about 790 BTC and sold most of it.", 790.0, "BTC", "other",
         "BTC"),
        # how far exchange balances moved is a net flow; where they ended, a balance
        ("Exchange balances of ether fell by 410,000 ETH this month.", -410000.0, "ETH",
         "exchange_netflow", "ETH"),
        ("Exchange balances of ether fell to 16.2 million ETH.", 1.62e7, "ETH",
         "exchange_balance", "ETH"),
        # A trigger's plural names its metric as the singular does.
        ("Thefts totalled $2.7 billion last year.", 2.7e9, "USD", "stolen_funds", None),
        ("Average discounts narrowed to 24% in March.", -24.0, "percent", "premium", None),
        ("The settlements came to $21 million.", 2.1e7, "USD", "fine", None),
        # Sentiment gauges under other names ("a fear & greed or sentiment index reading").
        ("The Tern Bay Risk Appetite Index stood at 68.", 68.0, "index_points",
         "fear_greed_index", None),
        ("The Osprey Perp Crowding Score averaged 58.", 58.0, "index_points",
         "fear_greed_index", None),
        # ... but "reading" alone names no sentiment gauge: any index has readings
        ("The Ferrowood Peg Stress Index rose to 88, its highest reading since 2022.", 88.0,
         "index_points", "other", None),
        # A coin's price in won or yen runs to millions: sized in dollars, it is still a price.
        ("On Upbit, bitcoin changed hands at 128.6 million won.", 1.286e8, "KRW", "price", "BTC"),
        ("Bitcoin rose to ¥15.6 million in Tokyo.", 1.56e7, "JPY", "price", "BTC"),
    ],
)
def test_value_unit_metric_asset(nlp_no_catalysts, text, value, unit, metric, asset) -> None:
    figure = only(nlp_no_catalysts, text)
    assert math.isclose(figure.value, value, rel_tol=1e-9)
    assert (figure.unit, figure.metric, figure.asset) == (unit, metric, asset)


def test_roughly_585000_traders_were_liquidated(nlp_no_catalysts) -> None:
    figure = only(nlp_no_catalysts, "Roughly 585,000 traders were liquidated in 24 hours.")
    assert (figure.value, figure.unit, figure.metric) == (585000.0, "count", "count_traders")
    assert figure.qualifier == "roughly"
    assert figure.period == "24h"


def test_shares_decline_then_close(nlp_no_catalysts) -> None:
    decline, close = figures(
        nlp_no_catalysts,
        "This caused the MSTR shares to decline by 17% on Thursday, closing at approximately $106.",
    )
    assert (decline.value, decline.metric, decline.asset) == (-17.0, "share_price_change", "MSTR")
    assert (close.value, close.metric, close.asset) == (106.0, "share_price", "MSTR")
    assert close.qualifier == "approximately"
    assert decline.period == "Thursday"


@pytest.mark.parametrize(
    ("text", "low", "high", "unit"),
    [
        ("Fees sit in a band of $1.2 million to $3.5 million.", 1.2e6, 3.5e6, "USD"),
        ("Analysts expect inflation between 4% and 5% next year.", 4.0, 5.0, "percent"),
        ("The stock could move 4-5% on the news.", 4.0, 5.0, "percent"),
        ("Losses could reach $1.2 to $3.5 million.", 1.2e6, 3.5e6, "USD"),
    ],
)
def test_ranges_give_value_and_value_high(nlp_no_catalysts, text, low, high, unit) -> None:
    figure = only(nlp_no_catalysts, text)
    assert (figure.value, figure.value_high, figure.unit) == (low, high, unit)


@pytest.mark.parametrize(("text", "value", "unit", "metric"), [
    ("Local venue Tarnova Exchange reported KSL 18 billion of trades in 24 hours.", 1.8e10,
     "KSL", "trading_volume"),
    ("The authority may fine an unlicensed dealer up to ORD 50 million.", 5e7, "ORD", "fine"),
    ("Each resident may hold up to VDO 50,000 in the digital currency.", 5e4, "VDO", None),
])
def test_an_unlisted_currency_code_before_an_amount_is_its_currency(
    nlp_no_catalysts, text, value, unit, metric
) -> None:
    """A country the vocabulary does not know writes its money as a code: a currency, no asset."""
    figure = only(nlp_no_catalysts, text)
    assert (figure.value, figure.unit, figure.asset) == (value, unit, None)
    if metric is not None:
        assert figure.metric == metric


@pytest.mark.parametrize("text", [
    "Under ASU 2023-08, companies measure the coins at fair value.",  # a standard's number
    "The desk quoted BTC 1,200 as the block size.",  # a named asset: not a currency
])
def test_codes_that_are_no_currency_stay_out_of_figures(nlp_no_catalysts, text) -> None:
    assert not any(f.text.startswith(("ASU", "BTC")) for f in figures(nlp_no_catalysts, text))


def test_a_futures_basis_is_a_premium(nlp_no_catalysts) -> None:
    text = "The Heat Index reads 81 and the annualised basis is 11.2%."
    assert [(f.text, f.metric) for f in figures(nlp_no_catalysts, text)] == [
        ("81", "other"), ("11.2%", "premium")]


def test_a_company_that_moved_moved_its_share_price(nlp_no_catalysts) -> None:
    # whatever its relative clause names ("which holds 6,480 bitcoin")
    text = "Kitamura Digital Holdings, which holds 6,480 bitcoin, rose 5.3% on Tuesday."
    assert [(f.text, f.metric) for f in figures(nlp_no_catalysts, text)] == [
        ("6,480 bitcoin", "holdings"), ("5.3%", "share_price_change")]


def test_a_year_before_to_is_no_range(nlp_no_catalysts) -> None:
    text = "The note raises its average bitcoin price for 2027 to $110,000 from $100,000."
    found = figures(nlp_no_catalysts, text)
    assert [(f.text, f.value, f.value_high) for f in found] == [
        ("$110,000", 110000.0, None), ("$100,000", 100000.0, None)]
    assert only(nlp_no_catalysts, "Output could reach 1,500 to 2,000 BTC.").value_high == 2000.0


def test_a_move_from_one_price_to_another_is_two_figures(nlp_no_catalysts) -> None:
    found = figures(nlp_no_catalysts, "Bitcoin rose from $60,000 to $65,000 on Friday.")
    assert [f.value for f in found] == [60000.0, 65000.0]


@pytest.mark.parametrize(
    "text",
    [
        "The report was published on October 7, 2025.",
        "In Q4 2025 the company met its board.",
        "Markets open at 09:30 and close at 16:00.",
        "It was the 7th straight week of gains.",
        "Call +1 212-555-0199 for details.",
        "Outflows lasted three consecutive months and 24 hours.",
        "The rally began in 2024.",
        "Top 10 coins by market cap.",
        # a number inside a name: a leveraged product's
        "Tessel launched the Tessel 2x Ether Daily Target ETF on Tuesday.",
        # a dateline's year and the name opening the next paragraph are no amount of bitcoin
        "ISTANBUL, June 16, 2026\n\nBitcoin eased on Tuesday.",
        # a thread's post number, a token standard's name (a live blog's time stamp: below)
        "1/ A thread on why this listing matters.\n4/ Deposits open on Monday.",
        "The exchange paused BEP-20 deposits while it checks the bridge.",
    ],
)
def test_years_dates_times_ordinals_counts_and_phones_are_not_figures(
    nlp_no_catalysts, text: str
) -> None:
    assert figures(nlp_no_catalysts, text) == []


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("Bitcoin fell 3% over the past 24 hours.", "24h"),
        ("ETFs saw $500 million of outflows so far this month.", "month to date"),
        ("Strategy (MSTR) reported a $1 billion loss in the fourth quarter of 2025.", "Q4 2025"),
        ("ETFs saw $100 million of inflows on Monday.", "Monday"),
        ("Ether gained 12% this month.", "this month"),
    ],
)
def test_periods(nlp_no_catalysts, text: str, period: str) -> None:
    assert only(nlp_no_catalysts, text).period == period


@pytest.mark.parametrize(
    ("text", "qualifier"),
    [
        ("More than $2.60 billion was wiped out.", "more than"),
        ("Liquidations topped out at up to $1 billion.", "up to"),
        ("The market cap is above $2 trillion.", "above"),
        ("The altcoin market is below $1 trillion.", "below"),
        ("Nearly $300 million left ETFs.", "nearly"),
    ],
)
def test_qualifiers(nlp_no_catalysts, text: str, qualifier: str) -> None:
    assert only(nlp_no_catalysts, text).qualifier == qualifier


@pytest.mark.parametrize(
    ("text", "negative"),
    [
        ("ETFs recorded an outflow of $258 million.", True),
        ("ETFs recorded an inflow of $258 million.", False),
        ("Bitcoin gave up 3.1% on Monday.", True),
        ("Bitcoin jumped 3.1% on Monday.", False),
        ("The crypto market lost $2.65 million in a day.", True),
        ("The firm reported a net profit of $2 billion.", False),
        ("Bitcoin dropped to $60,000.", False),  # a price level keeps its sign
        # a distance from a reference price, whatever moved before it
        ("After a weak week the token trades 88% below its peak.", True),
        ("Despite Friday's fall, the coin is still 40% above its June low.", False),
        # a threshold crossed is a level, whatever verb crossed it
        ("Basis funds unwound after the futures premium fell below 5%.", False),
        ("The Harbor Spot Ether Fund has taken $640 million this month on its fee cut.", False),
        # where coins went says the sign of an exchange flow, whatever else the sentence says
        ("Miners sent 4,900 BTC to exchanges this week, a sign of selling pressure.", False),
        ("Holders pulled 52,000 ETH off exchanges as the price rose.", True),
        # a change named before "of" ("a cut of 25 basis points")
        ("Two members voted for a cut of 25 basis points.", True),
        # money pulled in comes in; pulled out goes
        ("Spot bitcoin ETFs pulled in a net $1.14 billion last week.", False),
        ("Bitcoin ETFs pull in $1.4bn as the Fed cuts again.", False),
        ("Investors pulled $400 million from bitcoin ETFs on Monday.", True),
        ("Ether ETFs went the other way, shedding $118m.", True),
        # a comparative right after a move
        ("By the close, ether was 11.9% lower on the day.", True),
        ("After the cut, the token is 6% higher than before the vote.", False),
    ],
)
def test_sign_from_context(nlp_no_catalysts, text: str, negative: bool) -> None:
    assert (only(nlp_no_catalysts, text).value < 0) is negative


@pytest.mark.parametrize(
    ("text", "values"),
    [
        # a restatement per share takes the sign of what it restates
        ("Net income slipped to $88 million, or $0.41 a share, from $97 million.",
         [8.8e7, 0.41, 9.7e7]),
        ("It booked a net loss of $12.5 million, or $0.09 per share.", [-1.25e7, -0.09]),
        # the change word after a change ("a 75 basis point hike")
        ("Traders now price a 50 basis point cut in June.", [-50.0]),
        ("The franc weakened 0.8% against the euro.", [-0.8]),
    ],
)
def test_signs_read_from_the_figure_beside(nlp_no_catalysts, text: str, values: list) -> None:
    assert [f.value for f in figures(nlp_no_catalysts, text)] == pytest.approx(values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # where a reading started takes the unit and metric of where it ended
        ("The Fear and Greed Index slid to 21 from 58 a week earlier.",
         [(21.0, "index_points"), (58.0, "index_points")]),
        ("The Miner Stress Index rose to 66, up from a low of 31 in March.",
         [(66.0, "index_points"), (31.0, "index_points")]),
        # a count of things the parse names, past the words that qualify them
        ("Regulators have now licensed 31 regional digital asset custodians.", [(31.0, "count")]),
        ("The desk filed more than 2,400 suspicious activity reports.", [(2400.0, "count")]),
        # a currency quoted against the dollar
        ("Traders said the weak won, now near 1,395 per dollar, keeps the premium high.",
         [(1395.0, "KRW")]),
        ("The lira closed at 41.02 against the dollar.", [(41.02, "TRY")]),
        # a currency named in more than one country's way leaves the number alone
        ("The peso ended at 18.9 per dollar.", []),
        # ... unless the document names one of its countries, and only one
        ("Kenya's central bank held rates. The shilling ended at 129.4 per dollar.",
         [(129.4, "KES")]),
        ("Mexican and Chilean bonds rallied. The peso ended at 18.9 per dollar.", []),
        # ... and so is an amount of that currency
        ("Chile's central bank holds 740 million pesos in the fund.", [(7.4e8, "CLP")]),
        # (two of its countries named: no currency is guessed, and the plural noun is what
        # the number counts)
        ("A ticket costs 90 shillings in Nairobi, Kenya, and in Kampala, Uganda.",
         [(90.0, "count")]),
        # the level of an indicator that is the subject of the move, or stands beside it
        ("The U.S. dollar index lost 0.7% over the week and closed at 101.3.",
         [(-0.7, "percent"), (101.3, "index_points")]),
        ("Analysts expect the U.S. dollar index, at 97.2, to slip further.",
         [(97.2, "index_points")]),
        # ... a ratio below three, unless it is signed as a move
        ("The Calder Stress Index eased to 1.4 on Friday.", [(1.4, "ratio")]),
        ("The Calder Stress Index added +0.6 on Friday.", [(0.6, "index_points")]),
        # the level of the things a plural subject counts, in whole numbers only
        ("Monthly active users climbed to 4.2 million in the quarter.", [(4.2e6, "count")]),
        ("The number of funded accounts had risen to about 610,000 by June.",
         [(610000.0, "count")]),
        ("Prices rose to 45 while the traders on the desk were at 0.8.", []),
        ("Funded Customers were 27.4 million at the end of the quarter.", [(2.74e7, "count")]),
        ("Its customers were 4.5 on the satisfaction scale.", []),
        # ... or the object of a verb of level ("reached", "averaged")
        ("Funded accounts reached 1.7 million, and monthly transacting users averaged 5.2 "
         "million.", [(1.7e6, "count"), (5.2e6, "count")]),
        ("Its app said verified users hit 12.6 million in the quarter.", [(1.26e7, "count")]),
        ("Holders of the token totalled 48,300 by Friday.", [(48300.0, "count")]),
        # the value of a line's label that names what is counted
        ("Network activity\nActive wallets: 118,400\nBlock height: 871,204\n",
         [(118400.0, "count")]),
        ("Spot volume: $2.1B | Active traders, 24h: 91,300\n",
         [(2.1e9, "USD"), (91300.0, "count")]),
        ("Opened at 09:30 with 14 desks.", [(14.0, "count")]),
        # a live blog's time stamp is no count
        ("Funding is deeper in the red at -0.024%.\n\n15:50 UTC — Bitcoin futures open "
         "interest has fallen 4%.", [(-0.024, "percent"), (-4.0, "percent")]),
        # ... or that names an indicator
        ("Markets at the close\nFTSE 100: 8,312, up 0.9%\nDollar index: 103.2\n",
         [(8312.0, "index_points"), (0.9, "percent"), (103.2, "index_points")]),
        # a number set against the figure before it is read as that figure is
        ("The Fear & Greed Index printed 21, against 44 a day earlier.",
         [(21.0, "index_points"), (44.0, "index_points")]),
        ("The company held 1,430 BTC at the end of June, compared with 1,220 in March.",
         [(1430.0, "BTC"), (1220.0, "BTC")]),
        # a document's number is no count, however spaCy splits "No."
        ("Update No. 9 to 41,200 creditors was published on Friday.", [(41200.0, "count")]),
    ],
)
def test_plain_numbers_read_through_their_neighbours(nlp_no_catalysts, text, expected) -> None:
    assert [(f.value, f.unit) for f in figures(nlp_no_catalysts, text)] == expected


def test_headline_and_body_disagreeing_by_orders_of_magnitude_is_a_conflict(
    nlp_no_catalysts,
) -> None:
    text = (
        "Crypto market loses $2.65 billion as Bitcoin dips\n\n"
        "The crypto market lost $2.65 million in the last 24 hours. "
        "Bitcoin touched $60,000 on Friday."
    )
    conflicts = analyze(nlp_no_catalysts(text)).conflicts
    assert len(conflicts) == 1
    conflict = conflicts[0]
    assert conflict.metric == "market_cap_change"
    assert {conflict.first.text, conflict.second.text} == {"$2.65 billion", "$2.65 million"}
    assert "1,000" in conflict.reason


def test_consistent_figures_are_no_conflict(nlp_no_catalysts) -> None:
    text = (
        "ETF outflows reach $258 million\n\n"
        "Spot ETFs saw an outflow of $258 million on Thursday and $500 million so far this month."
    )
    assert analyze(nlp_no_catalysts(text)).conflicts == []


def test_the_seed_article_shape(nlp_no_catalysts) -> None:
    """A page in the shape of the seed (our own sentences): the figures researchers need."""
    text = (
        "Bitcoin dips to $60,000 as liquidations mount\n\n"
        "Roughly 585,000 traders were liquidated in derivatives over the last 24 hours, resulting "
        "in a $2.62 billion wipeout of bullish positions. The derivatives market Open Interest "
        "(OI) has dropped to $95.73 billion on Friday. The long-to-short ratio is at 0.9594. "
        "The Fear and Greed Index reading falls to 5 on Friday.\n\n"
        "Spot Bitcoin ETFs saw an outflow of $258 million on Thursday, amounting to more than "
        "$500 million so far this month."
    )
    got = {(f.text, f.metric, f.value) for f in figures(nlp_no_catalysts, text)}
    assert got == {
        ("$60,000", "price", 60000.0),
        ("585,000", "count_traders", 585000.0),
        ("$2.62 billion", "liquidations", 2.62e9),
        ("$95.73 billion", "open_interest", 9.573e10),
        ("0.9594", "long_short_ratio", 0.9594),
        ("5", "fear_greed_index", 5.0),
        ("$258 million", "etf_flow", -2.58e8),
        ("$500 million", "etf_flow", -5e8),
    }


def test_every_metric_of_the_vocabulary_is_described() -> None:
    vocabulary = load_metrics(MODELS_DIR / "metrics.yaml")
    metrics, etf_tickers = vocabulary.metrics, vocabulary.etf_tickers
    required = {"price", "price_change", "market_cap", "liquidations", "open_interest",
                "long_short_ratio", "funding_rate", "fear_greed_index", "etf_flow", "net_income",
                "operating_income", "trading_volume", "holdings", "share_price",
                "share_price_change", "count_traders", "inflation_rate", "interest_rate", "other"}
    assert required <= set(metrics)
    assert all(spec.description for spec in metrics.values())
    assert "IBIT" in etf_tickers


def test_a_metrics_file_with_an_unknown_key_is_refused(tmp_path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text("metrics:\n  other: {description: x, units: [count], trigers: []}\n")
    with pytest.raises(ValueError, match="trigers"):
        load_metrics(path)


def test_components_work_in_a_user_pipeline_without_a_parser() -> None:
    """A blank pipeline with a sentencizer: results still land on the Doc."""
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("newsignal_entities")
    nlp.add_pipe("newsignal_figures")
    nlp.add_pipe("newsignal_conflicts")
    doc = nlp("Bitcoin fell 4.3% to $60,000.")
    found = [(s._.figure.value, s._.figure.unit) for s in doc.spans["figures"]]
    assert found == [(-4.3, "percent"), (60000.0, "USD")]
    assert doc._.conflicts == []


@pytest.mark.parametrize(
    "text",
    ["", "   ", "$", "$$$ 5", "9" * 400, "$" + "9" * 400, "\n\n\n", "−−5%", "🚀 BTC 🚀 $1", "$1e999", "1,,000 BTC",
     "between and", "4-", "-", "% % %", "Bitcoin\n\n$60,000\n\n", "₩", "0.000000001%"],
)
def test_odd_text_never_breaks_the_components(nlp_no_catalysts, text: str) -> None:
    for figure in figures(nlp_no_catalysts, text):
        assert math.isfinite(figure.value)


def test_a_gap_that_is_no_scale_slip_needs_the_same_stated_period(nlp_no_catalysts) -> None:
    unrelated = (
        "Bitcoin ETFs saw inflows of $7.3 million on Monday.\n\n"
        "Since launch, Bitcoin ETFs have drawn net inflows of $1.2 billion."
    )
    assert analyze(nlp_no_catalysts(unrelated)).conflicts == []
    same_day = (
        "Bitcoin ETFs saw inflows of $7.3 million on Monday.\n\n"
        "Bitcoin ETFs saw inflows of $1.2 billion on Monday."
    )
    (conflict,) = analyze(nlp_no_catalysts(same_day)).conflicts
    assert (conflict.metric, conflict.period) == ("etf_flow", "Monday")


def test_conflicts_are_looked_up_not_found_by_comparing_every_pair(nlp_no_catalysts, monkeypatch):
    """A page of thousands of like figures: the pairs examined grow with the figures, not with
    their square, and an article gets at most MAX_CONFLICTS flags."""
    from pipeline.nlp import conflicts as module

    examined = []
    real = module._conflict_reason
    monkeypatch.setattr(module, "_conflict_reason", lambda a, b: examined.append(1) or real(a, b))
    same = "Bitcoin ETFs saw inflows of $7.3 million on Monday. " * 300
    assert analyze(nlp_no_catalysts(same)).conflicts == []
    assert len(examined) == 0  # equal values: no pair is even a candidate
    slips = "Bitcoin ETFs saw inflows of $7.3 million on Monday. " * 150 + (
        "Bitcoin ETFs saw inflows of $7.3 billion on Monday. " * 150
    )
    conflicts = analyze(nlp_no_catalysts(slips)).conflicts
    assert len(conflicts) == module.MAX_CONFLICTS
    assert all("1,000-fold" in c.reason for c in conflicts)
    # 300 figures: linear growth allows 30,000 pairs; all pairs would be 44,850
    assert len(examined) <= 300 * 2 * module.MAX_CONFLICTS


def test_a_long_text_gets_the_figures_of_its_sentences(nlp_no_catalysts) -> None:
    """Context lookups by position give each figure of a long, unbroken text what the same
    sentence gives alone (the lookups once rescanned the whole text for every figure)."""
    sentence = "Roughly $410 million of long positions were liquidated on Tuesday, CoinGlass said."
    alone = only(nlp_no_catalysts, sentence)
    found = figures(nlp_no_catalysts, " ".join([sentence] * 400))
    assert len(found) == 400
    for index, figure in enumerate(found):
        offset = index * (len(sentence) + 1)
        assert (figure.start_char - offset, figure.end_char - offset) == (
            alone.start_char, alone.end_char)
        assert (figure.value, figure.unit, figure.metric, figure.period, figure.qualifier) == (
            alone.value, alone.unit, alone.metric, alone.period, alone.qualifier)


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Spot ETFs saw outflows of $999,999,999,999,999,999,999 trillion on Monday.", True),
        ("The Fear and Greed Index reading rose to 870 on Friday.", True),
        ("Spot ETFs saw outflows of $258 million on Monday.", False),
        ("The token's supply stands at 589 trillion PEPE.", False),
    ],
)
def test_a_figure_too_large_to_be_meant_is_flagged_not_trusted(nlp_no_catalysts, text, flagged):
    """Once stored as a 1e33 USD ETF flow; now kept as evidence with its reason, out of
    conflicts."""
    found = figures(nlp_no_catalysts, text)
    assert found and all(math.isfinite(f.value) for f in found)
    assert any(f.flag for f in found) is flagged
    if flagged:
        assert next(f.flag for f in found if f.flag).startswith("implausible: ")


def test_a_figure_words_file_missing_a_list_or_with_a_bad_pattern_is_refused(tmp_path) -> None:
    from pipeline.nlp.vocabulary import load_figure_words

    words = yaml.safe_load((MODELS_DIR / "figure_words.yaml").read_text(encoding="utf-8"))
    assert load_figure_words(MODELS_DIR / "figure_words.yaml").qualifiers["over"] == "more than"
    path = tmp_path / "figure_words.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in words.items() if k != "months"}))
    with pytest.raises(ValueError, match="months"):
        load_figure_words(path)
    path.write_text(yaml.safe_dump({**words, "periods": [{"pattern": "(unclosed"}]}))
    with pytest.raises(ValueError, match="bad period"):
        load_figure_words(path)


def test_a_metric_with_an_unknown_trait_is_refused(tmp_path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text("metrics:\n  other: {description: x, units: [count], traits: [level]}\n")
    with pytest.raises(ValueError, match="traits"):
        load_metrics(path)


@pytest.mark.parametrize("entry", [
    "{description: x, units: [count], signed: true, positive_direction: up}",
    "{description: x, units: [count], positive_direction: bullish}",  # unsigned: no sign to read
])
def test_a_metric_with_a_bad_positive_direction_is_refused(tmp_path, entry) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text(f"metrics:\n  other: {entry}\n")
    with pytest.raises(ValueError, match="positive_direction"):
        load_metrics(path)


@pytest.mark.parametrize("entry", [
    # a level and a change in the same unit could not be told apart
    "{description: x, units: [percent], signed: true, positive_direction: bearish, "
    "traits: [level_or_change]}",
    "{description: x, units: [percent], signed: true, positive_direction: bearish, "
    "traits: [level_or_change], level_units: [index_points]}",  # not one of its units
    "{description: x, units: [percent], signed: true, level_units: [percent]}",  # not level_or_change
])
def test_a_metric_with_bad_level_units_is_refused(tmp_path, entry) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text(f"metrics:\n  other: {entry}\n")
    with pytest.raises(ValueError, match="level_units"):
        load_metrics(path)


# The metrics the vocabulary grew by (and a few it had), each in a sentence of the kind news
# writes it; plain numbers that count things or read a named indicator are figures too.
@pytest.mark.parametrize(
    ("text", "value", "unit", "metric"),
    [
        ("Northgate said its holdings reached 4,210 BTC at the end of June.", 4210.0, "BTC", "holdings"),
        ("The fund now has $1.9 billion in assets under management.", 1.9e9, "USD", "aum"),
        ("Quillon Labs raised $85 million in a Series B round.", 8.5e7, "USD", "capital_raised"),
        # a sale of securities the seller issues raises money; a sale of holdings does not
        ("Brennock sold $250 million of 1.5% convertible senior notes due 2030.", 2.5e8, "USD",
         "capital_raised"),
        ("Brennock sold $250 million of ether over the quarter.", -2.5e8, "USD", "purchase"),
        # ... and what coins sold brought in is that sale, where a share offering's proceeds
        # are money raised
        ("The miner sold 95 BTC in May for net proceeds of $6.1 million.", -6.1e6, "USD",
         "purchase"),
        ("Lumora sold 4 million shares for net proceeds of $38 million.", 3.8e7, "USD",
         "capital_raised"),
        ("The board authorised a share repurchase program of up to $25 million.", 2.5e7, "USD", "buyback"),
        ("Hashprice averaged $49.10 per petahash per day in the quarter.", 49.1, "USD", "hashprice"),
        ("The network block reward is now 3.125 BTC.", 3.125, "BTC", "block_reward"),
        ("Mining difficulty rose 4.7% at the latest adjustment.", 4.7, "percent", "difficulty"),
        ("The company priced convertible notes carrying a 0.75% coupon.", 0.75, "percent", "coupon_rate"),
        ("The bill lets the treasurer place up to 5% of idle funds in bitcoin.", 5.0, "percent", "allocation"),
        ("Hackers stole $38.6 million from the lending protocol.", 3.86e7, "USD", "stolen_funds"),
        # a loss in a theft or a scam is the victims', not a company's result
        ("Address-poisoning wave: 900 wallets hit, median loss $1,800.", 1800.0, "USD",
         "stolen_funds"),
        ("The exchange posted a net loss of $12 million for the quarter after the hack.", -1.2e7,
         "USD", "net_income"),
        ("Tether froze $9.8 million of the stolen stablecoins.", 9.8e6, "USD", "frozen_funds"),
        ("The attacker returned $18 million to the bridge on Friday.", 1.8e7, "USD", "recovered_funds"),
        ("Spot bitcoin ETFs have drawn net inflows of $41.8 billion since launch.", 4.18e10, "USD", "cumulative_flow"),
        ("CME FedWatch puts the probability of a June cut at 62%.", 62.0, "percent", "rate_probability"),
        ("The 10-year Treasury yield rose 6 basis points to 4.38%.", 6.0, "basis_points", "bond_yield"),
        ("The U.S. dollar index slid 0.6% to 97.7.", -0.6, "percent", "dollar_index"),
        ("Consumer prices rose 3.2% from a year earlier, the CPI report showed.", 3.2, "percent", "inflation_rate"),
        ("The kimchi premium widened to 5.2% on Thursday.", 5.2, "percent", "premium"),
        ("The regulator fined the exchange $4.3 million for compliance failures.", 4.3e6, "USD", "fine"),
        ("Total value locked on the protocol fell to $88 million.", 8.8e7, "USD", "tvl"),
        ("Employers added 22,000 jobs in August.", 22000.0, "count", "payrolls"),
        ("The unemployment rate rose to 4.3%.", 4.3, "percent", "unemployment_rate"),
        ("The White House will impose a 35% tariff on imports.", 35.0, "percent", "tariff_rate"),
        ("The reform would cut the tax on trading gains to a flat 20%.", 20.0, "percent", "tax_rate"),
        ("Options worth $5.8 billion in notional value expire on Friday.", 5.8e9, "USD", "options_notional"),
        ("Solvane recorded 1.84 million daily active addresses on Thursday.", 1.84e6, "count", "active_addresses"),
        ("Net income came to $9.3 million, or $0.07 per diluted share.", 0.07, "USD", "eps"),
        ("The Series B valued the company at $1.1 billion.", 1.1e9, "USD", "valuation"),
        ("Exchanges saw net outflows of 38,400 BTC last week.", -38400.0, "BTC", "exchange_netflow"),
        ("About 120 million ARDN tokens unlock on Tuesday.", 1.2e8, "ARDN", "token_unlock"),
        ("Stablecoin supply passed $300 billion this month.", 3e11, "USD", "stablecoin_supply"),
        ("The Montana Senate voted 34 to 16 to pass the bill.", 34.0, "count", "other"),
        ("The Brackenridge Miner Stress Index eased to 52 on Friday.", 52.0, "index_points", "other"),
        # an insurance fund is no holding of the guide's, whatever its words
        ("Users will be repaid from the venue's insurance reserve, which stood at $84 million.",
         8.4e7, "USD", "other"),
        # a price of electricity is no price of an asset
        ("Bitcoin held steady while wholesale power averaged $38 per megawatt-hour last week.",
         38.0, "USD", "other"),
    ],
)
def test_metrics_of_the_grown_vocabulary(nlp_no_catalysts, text, value, unit, metric) -> None:
    found = [(f.value, f.unit, f.metric) for f in figures(nlp_no_catalysts, text)]
    assert any(math.isclose(v, value, rel_tol=1e-9) and (u, m) == (unit, metric)
               for v, u, m in found), found


# A count of traders, users or accounts is `count_traders`; a count of anything else is not,
# whatever its sentence is about.
@pytest.mark.parametrize(
    ("text", "metrics"),
    [
        ("The venue now serves 2.6 million users in 40 countries.",
         [(2.6e6, "count_traders"), (40.0, "other")]),
        ("Prosecutors said the two traders placed more than 12,000 spoof orders.",
         [(12000.0, "other")]),
        ("The launchpad says it has hosted 8,300 launches since March.", [(8300.0, "other")]),
        ("About 3.4 million Norwegians hold some crypto, the survey found.",
         [(3.4e6, "count_traders")]),
        ("The broker now has 540,000 funded accounts.", [(540000.0, "count_traders")]),
    ],
)
def test_only_a_count_of_people_or_accounts_is_a_count_of_traders(nlp_no_catalysts, text, metrics):
    assert [(f.value, f.metric) for f in figures(nlp_no_catalysts, text)
            if f.unit == "count"] == metrics


# A percentage move is a price move only when what moved has a price: the subject of its verb
# is a priced thing, a name, or a noun that names one.
@pytest.mark.parametrize(
    ("text", "value", "metric"),
    [
        ("Deposits at the exchange rose 18% in the week to Wednesday.", 18.0, "other"),
        # no metric, no sign: a figure of no known metric is written as its size (label guide)
        ("Deposits at the exchange fell 18% in the week to Wednesday.", 18.0, "other"),
        ("Operating expenses would rise about 8% this year, the finance chief said.", 8.0, "other"),
        ("The token fell 12% on Monday.", -12.0, "price_change"),
        ("Ether fell 4.1% on Monday.", -4.1, "price_change"),
        ("Its parent, Rothmere Holdings (NYSE: RTHM), rose 4.4%.", 4.4, "share_price_change"),
    ],
)
def test_a_move_of_what_has_no_price_is_no_price_change(nlp_no_catalysts, text, value, metric):
    found = [(f.value, f.metric) for f in figures(nlp_no_catalysts, text) if f.unit == "percent"]
    assert found == [(value, metric)]


# A metric's word inside a name is part of the name ("Internal Revenue Service").
@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("The Marovia Revenue Authority collected $312 million from the levy last year.", "other"),
        ("Quillon's revenue rose to $312 million last year.", "revenue"),
    ],
)
def test_a_metric_word_inside_a_name_names_no_metric(nlp_no_catalysts, text, metric) -> None:
    assert [f.metric for f in figures(nlp_no_catalysts, text)] == [metric]


def test_a_move_of_the_stock_is_a_share_price_change(nlp_no_catalysts) -> None:
    found = figures(nlp_no_catalysts, "Pinewood Digital reported a loss. The stock has fallen 41% "
                                      "from its peak.")
    assert [(f.value, f.metric) for f in found if f.unit == "percent"] == [
        (-41.0, "share_price_change")]


# The share of creditors' claims a plan pays back is a recovery, whatever words lead to it; a
# fund's return is not.
@pytest.mark.parametrize(
    ("text", "metric"),
    [
        ("The trustee said account holders should get about 58% of their claims back.",
         "recovered_funds"),
        ("The plan gives depositors an estimated recovery of 61% on claims filed by March.",
         "recovered_funds"),
        ("The fund returned 9.8% last year.", "other"),
    ],
)
def test_a_share_of_claims_is_a_recovery(nlp_no_catalysts, text, metric) -> None:
    assert [f.metric for f in figures(nlp_no_catalysts, text) if f.unit == "percent"] == [metric]


def test_a_list_line_takes_the_metric_its_heading_names(nlp_no_catalysts) -> None:
    text = ("Liquidations over 24 hours, by side:\n\nShorts: $214 million\n\nLongs: $57 million\n\n"
            "Traders were caught off guard.\n\nTotal: $271 million")
    found = [(f.value, f.metric) for f in figures(nlp_no_catalysts, text)]
    # A sentence between ends the list: the last line has no heading of its own.
    assert found == [(214e6, "liquidations"), (57e6, "liquidations"), (271e6, "other")]


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("Quarrel (QRL) slid 9% as 1.1 billion tokens were unlocked.", "QRL"),
        ("Staked QRL rose by 14 million coins this week.", "QRL"),
        ("The exchange now lists 37 tokens from the Quarrel ecosystem.", "count"),  # kinds of token
    ],
)
def test_an_amount_of_tokens_is_in_the_token_the_story_is_about(nlp_no_catalysts, text, unit):
    assert [f.unit for f in figures(nlp_no_catalysts, text) if f.unit != "percent"] == [unit]


def test_a_word_between_an_amount_and_its_token_keeps_the_token_its_unit(nlp_no_catalysts):
    found = figures(nlp_no_catalysts, "The foundation still holds 1.2 million staked ETH, the "
                                      "filing shows.")
    assert [(f.value, f.unit) for f in found] == [(1.2e6, "ETH")]

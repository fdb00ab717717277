"""The number normaliser: a table of texts -> (value, unit), generated and hand-written cases,
plus property tests that formatting a number and parsing it back gives the number."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.nlp import numbers
from pipeline.nlp.numbers import Quantity, find_quantities, parse

# -- generated table: every currency form x number form x scale spelling ----------------------
CURRENCY_FORMS = [("$", "", "USD"), ("US$", "", "USD"), ("€", "", "EUR"), ("£", "", "GBP"),
                  ("¥", "", "JPY"), ("₩", "", "KRW"), ("", " USD", "USD"), ("", " EUR", "EUR")]
NUMBER_FORMS = [("2.65", 2.65), ("1,200", 1200.0), ("450", 450.0), ("0.5", 0.5),
                ("12,345.67", 12345.67)]
SCALE_FORMS = [("", 1.0), (" million", 1e6), (" billion", 1e9), (" trillion", 1e12), ("M", 1e6),
               ("bn", 1e9), ("B", 1e9), ("k", 1e3), (" thousand", 1e3), (" mln", 1e6),
               ("T", 1e12), (" tn", 1e12)]


def _generated_currency_cases():
    for (prefix, suffix, unit), (number, value), (scale, factor) in itertools.product(
        CURRENCY_FORMS, NUMBER_FORMS, SCALE_FORMS
    ):
        yield f"{prefix}{number}{scale}{suffix}", value * factor, unit


PERCENT_FORMS = ["{}%", "{} %", "{} percent", "{} per cent", "{} pct"]
SIGNED_NUMBERS = [("4.3", 4.3), ("-4.3", -4.3), ("+4.3", 4.3), ("0.012", 0.012), ("100", 100.0),
                  ("−2.5", -2.5)]


def _generated_percent_cases():
    for form, (number, value) in itertools.product(PERCENT_FORMS, SIGNED_NUMBERS):
        yield form.format(number), value, "percent"


GENERATED = [*_generated_currency_cases(), *_generated_percent_cases()]

HAND_CASES = [
    ("$2.65 billion", 2.65e9, "USD"),
    ("$1.2bn", 1.2e9, "USD"),
    ("$450M", 4.5e8, "USD"),
    ("$2.8 trillion", 2.8e12, "USD"),
    ("$60,000", 60000.0, "USD"),
    ("$0.41", 0.41, "USD"),
    ("$106", 106.0, "USD"),
    ("$.5", 0.5, "USD"),
    ("US$ 5", 5.0, "USD"),
    ("USD 5 million", 5e6, "USD"),
    ("A$12", 12.0, "AUD"),
    ("HK$3.2 billion", 3.2e9, "HKD"),
    ("C$40", 40.0, "CAD"),
    # Indian English: a lakh is 10^5, a crore 10^7, digits grouped in pairs above a thousand
    ("₹500 crore", 5e9, "INR"),
    ("Rs 500 cr", 5e9, "INR"),
    ("Rs. 2.5 lakh crore", 2.5e12, "INR"),
    ("₹89 lakh", 8.9e6, "INR"),
    ("Rs 1,25,000", 1.25e5, "INR"),
    ("₹12,34,56,789.50", 123456789.5, "INR"),
    ("1.3 lakh", 1.3e5, None),
    ("TL 2.98 million", 2.98e6, "TRY"),  # Turkish sites write the lira "TL"
    ("1.2 million dollars", 1.2e6, "USD"),
    ("300 euros", 300.0, "EUR"),
    ("5 billion yen", 5e9, "JPY"),
    ("2 trillion won", 2e12, "KRW"),
    ("58.2 lira", 58.2, "TRY"),
    ("Rp15,920", 15920.0, "IDR"),  # Indonesian sites write the rupiah "Rp"
    ("Rp7.5 trillion", 7.5e12, "IDR"),
    ("3 billion rupiah", 3e9, "IDR"),
    ("25 basis points", 25.0, "basis_points"),
    ("25bps", 25.0, "basis_points"),
    ("1 basis point", 1.0, "basis_points"),
    ("3 percentage points", 3.0, "percentage_points"),
    ("0.5 percentage point", 0.5, "percentage_points"),
    ("50 points", 50.0, "index_points"),
    ("12 pts", 12.0, "index_points"),
    ("1,040 EH/s", 1.04e21, "hashrate"),
    ("1 zettahash", 1e21, "hashrate"),
    ("850 exahashes per second", 8.5e20, "hashrate"),
    ("600,000 TH/s", 6e17, "hashrate"),
    ("3.4 PH/s", 3.4e15, "hashrate"),
    ("200 megawatts", 200.0, "MW"),
    ("300-megawatt", 300.0, "MW"),
    ("1.1 gigawatts", 1100.0, "MW"),
    ("75 MW", 75.0, "MW"),
    ("$(0.06)", -0.06, "USD"),  # accounting notation for a negative amount
    ("$(12.5) million", -1.25e7, "USD"),
    ("KSh 312 million", 3.12e8, "KES"),
    ("₽48 billion", 4.8e10, "RUB"),
    ("R$2.2 billion", 2.2e9, "BRL"),
    ("NZ$40", 40.0, "NZD"),
    ("NOK 1.6 billion", 1.6e9, "NOK"),
    ("AED 600,000", 6e5, "AED"),
    ("5 billion tenge", 5e9, "KZT"),
    ("18.4p", 0.184, "GBP"),
    ("31.4 pence", 0.314, "GBP"),
    ("1.6 times", 1.6, "ratio"),
    ("20x", 20.0, "ratio"),
    ("minus 2%", -2.0, "percent"),
    ("-0.012%", -0.012, "percent"),
    (".5%", 0.5, "percent"),
    ("17%", 17.0, "percent"),
    ("0.9594", 0.9594, None),
    ("585,000", 585000.0, None),
    ("5", 5.0, None),
    ("1.5K", 1500.0, None),
    ("10k", 10000.0, None),
    ("9.7 million", 9.7e6, None),
    ("2 billion", 2e9, None),
]


@pytest.mark.parametrize(("text", "value", "unit"), [*GENERATED, *HAND_CASES])
def test_parse_table(text: str, value: float, unit: str | None) -> None:
    quantity = parse(text)
    assert quantity.unit == unit
    assert math.isclose(quantity.value, value, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("text", "value", "code"),
    [("1,000 BTC", 1000.0, "BTC"), ("1.5K BTC", 1500.0, "BTC"), ("401,000 ETH", 401000.0, "ETH"),
     ("4.2 million USDC", 4.2e6, "USDC"), ("2.1 million LINK", 2.1e6, "LINK"),
     ("1 billion USDT", 1e9, "USDT")],
)
def test_an_upper_case_code_is_left_to_the_caller(text: str, value: float, code: str) -> None:
    quantity = parse(text)
    assert (quantity.value, quantity.unit, quantity.code) == (value, None, code)


@pytest.mark.parametrize(
    "text",
    ["", "dollars", "$", "1.2.3", "abc 5", "5 5", "$5 $6", "1,2", "Q4", "twenty", "5 m",
     "$" + "9" * 400],
)
def test_not_a_quantity(text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Bitcoin fell 4.3% to $60,000.", ["4.3%", "$60,000"]),
        ("BTC-USDT and US-Iran, A380 and 7th and 24h", []),
        ("an outflow of $258 million on Thursday", ["$258 million"]),
        ("down -2% and up +3%", ["-2%", "+3%"]),
        ("from 4-5%", ["4", "5%"]),  # a hyphen between numbers is no minus sign
        ("Q4 2025", ["2025"]),
        # "x" is a multiple only right after the digits; "p" (pence) too
        ("an 8x leverage, 2 x 4, 12p and 5 p", ["8x", "2", "4", "12p", "5"]),
        ("valued at $1.2bn, or €1.1bn", ["$1.2bn", "€1.1bn"]),
        # pairs of digits are Indian grouping only before a last group of three
        ("1,25,000 and 12,345 and 1,234,567", ["1,25,000", "12,345", "1,234,567"]),
        ("TL;DR: TL 39.71 and a new ATL 0.5", ["TL 39.71", "0.5"]),
        # Exponent notation is no amount: "10^400 BTC" once became 400 BTC.
        ("a supply of 10^400 BTC and 2**64 coins, then 5%", ["5%"]),
        # A unit, scale or currency stands on its number's line: the next line's first word is
        # not it ("ratio: 0.86\nETH ratio: 0.79" once read 0.86 ETH).
        ("ratio: 0.86\nETH ratio: 0.79\nheld 412\nBTC, 5\nmillion, $\n20 and USD\n30",
         ["0.86", "0.79", "412", "5", "20", "30"]),
    ],
)
def test_find_quantities(text: str, found: list[str]) -> None:
    assert [text[start:end] for start, end, _ in find_quantities(text)] == found


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(2.65e9, "USD", "$2.65 billion"), (1500.0, "BTC", "1,500 BTC"), (-4.3, "percent", "-4.3%"),
     (0.9594, "ratio", "0.9594"), (5.0, "index_points", "5 points"), (585000.0, "count", "585,000"),
     (2.8e12, "USD", "$2.8 trillion"), (1e-05, "USD", "$0.00001"), (25.0, "basis_points",
     "25 basis points"), (1.04e21, "hashrate", "1,040 EH/s"), (3.5e6, "EUR", "€3.5 million")],
)
def test_format(value: float, unit: str, text: str) -> None:
    assert numbers.format(value, unit) == text


def test_format_refuses_what_is_not_a_number() -> None:
    with pytest.raises(ValueError):
        numbers.format(math.nan, "USD")


FORMAT_UNITS = ["USD", "EUR", "GBP", "JPY", "KRW", "percent", "ratio", "count", "index_points",
                "basis_points", "BTC", "ETH"]
finite_values = st.one_of(
    st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=-10**12, max_value=10**12, places=2).map(float),
    st.integers(min_value=-10**13, max_value=10**13).map(float),
)


@given(value=finite_values, unit=st.sampled_from(FORMAT_UNITS))
def test_parse_of_format_gives_the_number_back(value: float, unit: str) -> None:
    quantity = parse(numbers.format(value, unit))
    assert quantity.value == value or (value == 0 and quantity.value == 0)
    expected_unit = None if unit in ("ratio", "count", "BTC", "ETH") else unit
    assert quantity.unit == expected_unit
    if unit in ("BTC", "ETH"):
        assert quantity.code == unit


@given(value=finite_values, scale=st.sampled_from([1e6, 1e9, 1e12]))
def test_a_forced_scale_still_round_trips(value: float, scale: float) -> None:
    assert parse(numbers.format(value, "USD", scale=scale)).value == value


@given(st.text(max_size=60))
def test_find_quantities_never_fails_and_spans_parse(text: str) -> None:
    for start, end, quantity in find_quantities(text):
        assert 0 <= start < end <= len(text)
        assert isinstance(quantity, Quantity)
        assert math.isfinite(quantity.value)

"""Number normaliser: the text of a quantity -> value, unit and scale. Pure; no spaCy.

`parse("$2.65 billion")` gives `Quantity(value=2.65e9, unit="USD", scale=1e9)`;
`format(2.65e9, "USD")` gives `"$2.65 billion"`, and `parse(format(x, unit))` gives back `x`.
`find_quantities(text)` scans a text for every quantity the figures component should consider.
"""

from __future__ import annotations

import builtins
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

SCALES: dict[str, float] = {
    "thousand": 1e3,
    "k": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "m": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "bn": 1e9,
    "b": 1e9,
    "trillion": 1e12,
    "trillions": 1e12,
    "tn": 1e12,
    "t": 1e12,
    # Indian English: a lakh is 100,000, a crore 10 million ("Rs 500 crore", "₹1.2 lakh crore")
    "lakh": 1e5,
    "lakhs": 1e5,
    "crore": 1e7,
    "crores": 1e7,
    "cr": 1e7,
    "lakh crore": 1e12,
    "lakh crores": 1e12,
}

# Longest symbols first so "US$" wins over "$".
CURRENCY_SYMBOLS: dict[str, str] = {
    "US$": "USD",
    "A$": "AUD",
    "C$": "CAD",
    "HK$": "HKD",
    "NZ$": "NZD",
    "S$": "SGD",
    "R$": "BRL",
    "KSh": "KES",
    "Rp": "IDR",  # "Rp16,380", "Rp4.2 trillion"
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "₩": "KRW",
    "₹": "INR",
    "₽": "RUB",
    "₺": "TRY",
    "₦": "NGN",
    "₱": "PHP",
    "₴": "UAH",
    "₸": "KZT",
    "Rs.": "INR",
    "Rs": "INR",
    "TL": "TRY",  # Turkish sites write "TL 2.98 million"
}
CURRENCY_CODES = frozenset(
    {"USD", "EUR", "GBP", "JPY", "KRW", "CNY", "INR", "CAD", "AUD", "CHF", "HKD", "SGD", "BRL",
     "NZD", "NOK", "SEK", "DKK", "PLN", "CZK", "HUF", "RUB", "UAH", "TRY", "ZAR", "MXN", "ARS",
     "CLP", "COP", "PEN", "PYG", "NGN", "KES", "GHS", "EGP", "AED", "SAR", "QAR", "ILS", "THB",
     "VND", "PHP", "IDR", "MYR", "TWD", "PKR", "KZT"}
)
CURRENCY_WORDS: dict[str, str] = {
    "dollar": "USD",
    "dollars": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "yen": "JPY",
    "won": "KRW",
    "yuan": "CNY",
    "renminbi": "CNY",
    "pounds sterling": "GBP",
    "rupees": "INR",
    "rubles": "RUB",
    "roubles": "RUB",
    "tenge": "KZT",
    "baht": "THB",
    "naira": "NGN",
    "rand": "ZAR",
    "reais": "BRL",
    "francs": "CHF",
    "dong": "VND",
    "lira": "TRY",
    "liras": "TRY",
    "rupiah": "IDR",
    "ringgit": "MYR",
    "guaranies": "PYG",
}
# Hundredths of a currency, written after the number ("18.4p", "31.4 pence"): (unit, factor).
SUBUNITS: dict[str, tuple[str, float]] = {
    "pence": ("GBP", 0.01), "p": ("GBP", 0.01), "cents": ("USD", 0.01), "cent": ("USD", 0.01)
}
PERCENT_WORDS = ("%", "percent", "per cent", "pct")
# Units after the number that are not currencies: (regex, unit, multiplier)
OTHER_UNITS: tuple[tuple[str, str, float], ...] = (
    # also hyphenated before a noun: "a 25-basis-point cut", "a 0.5-percentage-point rise"
    (r"-?percentage[- ]points?|pp\b", "percentage_points", 1.0),
    (r"-?basis[- ]points?|bps\b", "basis_points", 1.0),
    (r"points?\b|pts\b", "index_points", 1.0),
    # hash rates in hashes per second
    (r"ZH/s|zettahash(?:es)?(?: per second)?", "hashrate", 1e21),
    (r"EH/s|exahash(?:es)?(?: per second)?", "hashrate", 1e18),
    (r"PH/s|petahash(?:es)?(?: per second)?", "hashrate", 1e15),
    (r"TH/s|terahash(?:es)?(?: per second)?", "hashrate", 1e12),
    # electric power (mining sites, data centres): "200 megawatts", "a 300-megawatt site"
    (r"MW\b|-?megawatts?\b", "MW", 1.0),
    (r"GW\b|-?gigawatts?\b", "MW", 1e3),
    # multiples: "1.6 times" (leverage "20x" below: only right after the digits)
    (r"times\b", "ratio", 1.0),
)

# A symbol of letters starts no word's tail: "ATL 0.5" (an all-time low) is the bare number.
_SYMBOL_RE = "|".join(
    (r"(?<!\w)" if symbol[0].isalpha() else "") + re.escape(symbol) for symbol in CURRENCY_SYMBOLS
)
# Indian grouping first ("1,25,000": lakhs in pairs of digits), then thousands, then plain.
_NUMBER_RE = (r"\d{1,2}(?:,\d{2})+,\d{3}(?:\.\d+)?|\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
              r"|\.\d+")
# Between a number and its symbol, scale or unit: a space, never a line break (`[^\S\n]`); the
# next line's first word is no unit of this line's number ("ratio: 0.86\nETH ratio: 0.79").
# Single-letter scales only directly after the digits ("$450M", "1.5K"), never "5 m".
_SCALE_RE = (
    r"(?:[^\S\n]?(?i:thousand|millions?|billions?|trillions?|mn|mln|bn|tn|lakh crores?|lakhs?"
    r"|crores?|cr)\b"
    r"|(?i:k|m|b|t)\b)"
)
_SUFFIX_UNIT_RE = (
    r"[^\S\n]?(?:%|(?i:per cent|percent|pct)\b"
    + "".join(f"|(?:{pattern})" for pattern, _, _ in OTHER_UNITS)
    + r"|(?:" + "|".join(sorted(CURRENCY_CODES)) + r")\b"
    + r"|(?i:" + "|".join(re.escape(w) for w in sorted(CURRENCY_WORDS, key=len, reverse=True))
    + r")\b"
    + r"|pence\b|cents?\b|(?<=\d)p\b|(?<=\d)x\b"
    + r"|[A-Z][A-Z0-9]{1,5}\b)"
)
QUANTITY_RE = re.compile(
    rf"(?P<sign>[-−+])?"
    rf"(?P<prefix>(?:{_SYMBOL_RE})[^\S\n]?|(?:{'|'.join(sorted(CURRENCY_CODES))})[^\S\n])?"
    rf"(?P<number>{_NUMBER_RE})"
    rf"(?P<scale>{_SCALE_RE})?"
    rf"(?P<suffix>{_SUFFIX_UNIT_RE})?"
)
# Accounting notation for a negative amount: "$(0.06)", "$(12.5) million" is -0.06, -12.5 million.
ACCOUNTING_RE = re.compile(
    rf"(?P<prefix>{_SYMBOL_RE})\((?P<number>{_NUMBER_RE})\)(?P<scale>{_SCALE_RE})?"
)
# A quantity must not continue a word or a longer number ("A380", "1.2.3", "3,4"): the one
# character before it decides (looking at more would make a long text's scan quadratic).
_CONTINUES = re.compile(r"[\w.,]")
# Exponent notation ("10^400", "2**64") is no amount anyone means: neither side is a figure.
EXPONENT_MARKS = ("^", "**")


@dataclass(frozen=True, slots=True)
class Quantity:
    """A parsed quantity. `unit` None is a bare number; `code` an unknown upper-case suffix."""

    value: float
    unit: str | None
    scale: float = 1.0
    code: str | None = None  # e.g. "BTC" after the number: the caller decides if it is an asset


def _unit_of_suffix(suffix: str) -> tuple[str | None, float, str | None]:
    """(unit, multiplier, unknown code) for the text after the number."""
    word = suffix.strip()
    lowered = word.lower()
    if not word:
        return None, 1.0, None
    if word == "%" or lowered in PERCENT_WORDS:
        return "percent", 1.0, None
    for pattern, unit, multiplier in OTHER_UNITS:
        if re.fullmatch(pattern, word):
            return unit, multiplier, None
    if word in CURRENCY_CODES:
        return word, 1.0, None
    if lowered in CURRENCY_WORDS:
        return CURRENCY_WORDS[lowered], 1.0, None
    if word == "x":
        return "ratio", 1.0, None
    if word in SUBUNITS:
        return SUBUNITS[word][0], SUBUNITS[word][1], None
    return None, 1.0, word


def _quantity_of_match(match: re.Match[str]) -> Quantity:
    number = float(match["number"].replace(",", ""))
    scale = SCALES[match["scale"].strip().lower()] if match["scale"] else 1.0
    unit: str | None = None
    code: str | None = None
    multiplier = 1.0
    if match["prefix"]:
        prefix = match["prefix"].strip()
        unit = CURRENCY_SYMBOLS.get(prefix, prefix)
    if match["suffix"]:
        suffix_unit, multiplier, code = _unit_of_suffix(match["suffix"])
        if unit is None:
            unit = suffix_unit
        elif suffix_unit is not None or code is not None:
            code = None  # "$5 USD": the prefix already said it
    sign = -1.0 if match["sign"] in ("-", "−") else 1.0
    return Quantity(value=sign * number * scale * multiplier, unit=unit, scale=scale, code=code)


def parse(text: str) -> Quantity:
    """The quantity `text` states, as a whole; ValueError where it is not one quantity."""
    stripped = text.strip()
    lowered = stripped.lower()
    sign = 1.0
    if lowered.startswith("minus "):
        sign, stripped = -1.0, stripped[6:].lstrip()
    accounting = ACCOUNTING_RE.fullmatch(stripped)
    match = QUANTITY_RE.fullmatch(stripped)
    if match is None and accounting is None:
        raise ValueError(f"not a quantity: {text!r}")
    quantity = _accounting(accounting) if accounting else _quantity_of_match(match)
    if not math.isfinite(quantity.value):
        raise ValueError(f"not a finite quantity: {text!r}")
    if sign < 0:
        quantity = Quantity(-quantity.value, quantity.unit, quantity.scale, quantity.code)
    return quantity


def _accounting(match: re.Match[str]) -> Quantity:
    scale = SCALES[match["scale"].strip().lower()] if match["scale"] else 1.0
    value = -float(match["number"].replace(",", "")) * scale
    return Quantity(value=value, unit=CURRENCY_SYMBOLS[match["prefix"]], scale=scale)


def find_quantities(text: str) -> Iterator[tuple[int, int, Quantity]]:
    """Every (start, end, Quantity) in `text`, left to right; numbers inside words are skipped."""
    accounting = [match for match in ACCOUNTING_RE.finditer(text)
                  if not (match.end() < len(text) and text[match.end()].isalnum())]
    if accounting:  # rare: merge them in, in text order, over the bare numbers they hold
        found = [(m.start(), m.end(), _accounting(m)) for m in accounting]
        spans = [(start, end) for start, end, _ in found]
        found += [item for item in _find_quantities(text)
                  if not any(s < item[1] and item[0] < e for s, e in spans)]
        yield from sorted(found, key=lambda item: item[0])
    else:
        yield from _find_quantities(text)


def _find_quantities(text: str) -> Iterator[tuple[int, int, Quantity]]:
    for match in QUANTITY_RE.finditer(text):
        start, end = match.span()
        # A sign after a letter or digit is a hyphen ("4-5%", "BTC-100"), not a minus.
        if match["sign"] and start > 0 and text[start - 1].isalnum():
            start += 1
            match = QUANTITY_RE.fullmatch(text, start, end) or match
        if start > 0 and _CONTINUES.match(text[start - 1]) and text[start - 1] != "-":
            continue
        if end < len(text) and text[end].isalnum():
            continue
        if text.startswith(EXPONENT_MARKS, end) or text.endswith(EXPONENT_MARKS, 0, start):
            continue
        quantity = _quantity_of_match(match)
        if math.isfinite(quantity.value):  # "$" and 400 nines is no amount anyone means
            yield start, end, quantity


_SCALE_WORDS = ((1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
_SYMBOL_OF_UNIT = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "KRW": "₩", "INR": "₹"}


def _plain(number: float) -> str:
    """Shortest fixed-point text of `number` that reads back to the same float."""
    text = builtins.format(Decimal(repr(float(number))), "f")
    return text[:-2] if text.endswith(".0") else text


def _grouped(number: float) -> str:
    text = _plain(number)
    whole, _, fraction = text.partition(".")
    whole = f"{int(whole):,}"
    return f"{whole}.{fraction}" if fraction else whole


def format(value: float, unit: str | None, *, scale: float | None = None) -> str:  # noqa: A001
    """`value` written as a news text would: `format(2.65e9, "USD")` -> "$2.65 billion".

    `scale` forces a scale word (1e6, 1e9, 1e12); by default the largest one that leaves a
    number >= 1 is used for currencies and asset amounts, none for percent, ratio and others.
    """
    if not math.isfinite(value):
        raise ValueError(f"cannot format {value!r}")
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    scale_word = ""
    if scale is None and unit not in (None, "percent", "ratio", "index_points", "count",
                                      "percentage_points", "basis_points", "hashrate", "MW"):
        scale = next((size for size, _ in _SCALE_WORDS if magnitude >= size), None)
    if scale:
        scale_word = " " + dict(_SCALE_WORDS)[scale]
        scaled = magnitude / scale
        if scaled * scale != magnitude:  # keep exact round trips: fall back to the full number
            scaled, scale_word = magnitude, ""
        magnitude = scaled
    number = _grouped(magnitude)
    if unit in _SYMBOL_OF_UNIT:
        return f"{sign}{_SYMBOL_OF_UNIT[unit]}{number}{scale_word}"
    if unit == "percent":
        return f"{sign}{number}%"
    if unit in (None, "ratio", "count"):
        return f"{sign}{number}{scale_word}"
    if unit == "index_points":
        return f"{sign}{number} points"
    if unit == "percentage_points":
        return f"{sign}{number} percentage points"
    if unit == "basis_points":
        return f"{sign}{number} basis points"
    if unit == "hashrate":  # hashes per second, written in EH/s
        return f"{sign}{_grouped(magnitude / 1e18)} EH/s"
    return f"{sign}{number}{scale_word} {unit}"

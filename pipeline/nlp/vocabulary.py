"""What the figures component knows, read from data: the metric vocabulary (`models/metrics.yaml`)
and the words it reads around a number (`models/figure_words.yaml`).

Both load once per pipeline into frozen records; a malformed file is a `ValueError` naming it.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.nlp import numbers
from pipeline.records import Figure

CURRENCY_UNITS = numbers.CURRENCY_CODES
UNIT_KINDS = {
    "percent": "percent",
    "ratio": "ratio",
    "index_points": "index_points",
    "count": "count",
    "hashrate": "hashrate",
    "MW": "power",
    "basis_points": "basis_points",
    "percentage_points": "percentage_points",
}
# What a metric's `traits` in metrics.yaml may say of it (see that file's header).
METRIC_TRAITS = frozenset({"change", "price_level", "price_move", "share", "level_or_change"})
BARE_SIDES = frozenset({"before", "after", "either"})


def unit_kind(unit: str, currencies: AbstractSet[str] = frozenset()) -> str:
    """currency, percent, ratio, ... or asset (any other code); `currencies`: codes a document
    writes as currencies though the vocabulary does not list them ("KSL 18 billion")."""
    if unit in CURRENCY_UNITS or unit in currencies:
        return "currency"
    return UNIT_KINDS.get(unit, "asset")


@dataclass(slots=True)
class MetricSpec:
    name: str
    description: str
    units: frozenset[str]
    signed: bool
    triggers: list[str]
    with_any: list[str] = field(default_factory=list)
    bare_unit: str | None = None
    bare_window: int = 0
    bare_side: str = "before"  # where the trigger of a plain number is: before, after, either
    window: int | None = None
    weight: float = 1.0
    max_abs: dict[str, float] = field(default_factory=dict)  # per unit kind: larger is implausible
    traits: frozenset[str] = frozenset()
    # Labels of the entity a figure with no asset in its sentence takes from the document;
    # None: it takes none (an empty tuple: only the paragraph's last subject).
    inherit_asset: tuple[str, ...] | None = None
    # The market direction a positive value says for the asset concerned (an inflow: bullish; a
    # rate rise: bearish); None where the sign says none.
    positive_direction: str | None = None
    # Unit kinds in which a value of a level-or-change metric is a level, which says no
    # direction ("4.12%" of a yield, "100.2" of the dollar index, "158.2 trillion" of difficulty).
    level_units: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MetricsVocabulary:
    """What `models/metrics.yaml` says: the metrics, the ETF tickers, the plausible sizes."""

    metrics: dict[str, MetricSpec]
    etf_tickers: frozenset[str]
    max_abs: dict[str, float]  # per unit kind, for metrics that set no bound of their own
    stablecoins: frozenset[str] = frozenset()

    def with_trait(self, trait: str) -> frozenset[str]:
        """Names of the metrics that have `trait`."""
        return frozenset(name for name, spec in self.metrics.items() if trait in spec.traits)

    def bound(self, metric: str, kind: str) -> float | None:
        """The largest plausible size of a `metric` figure in a unit of `kind`, if any."""
        return self.metrics[metric].max_abs.get(kind, self.max_abs.get(kind))

    def implausible(self, figure: Figure, currencies: AbstractSet[str] = frozenset()) -> str | None:
        """Why `figure` is too large to be meant, or None."""
        bound = self.bound(figure.metric, unit_kind(figure.unit, currencies))
        largest = max(abs(figure.value), abs(figure.value_high or 0.0))
        if bound is None or largest <= bound:
            return None
        return f"implausible: {largest:.3g} {figure.unit} is beyond {bound:.3g} for {figure.metric}"


_METRIC_KEYS = frozenset({"description", "units", "signed", "triggers", "with_any", "bare_unit",
                          "bare_window", "bare_side", "window", "weight", "max_abs", "traits",
                          "inherit_asset", "positive_direction", "level_units"})
MARKET_DIRECTIONS = frozenset({"bullish", "bearish"})


def load_metrics(path: Path) -> MetricsVocabulary:
    """The vocabulary of `metrics.yaml`; a bad file is a programmer error."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    specs: dict[str, MetricSpec] = {}
    for name, entry in raw["metrics"].items():
        unknown = set(entry) - _METRIC_KEYS
        if unknown:
            raise ValueError(f"{path}: metric {name!r} has unknown keys {sorted(unknown)}")
        traits = frozenset(entry.get("traits") or [])
        if traits - METRIC_TRAITS:
            raise ValueError(f"{path}: metric {name!r} has unknown traits "
                             f"{sorted(traits - METRIC_TRAITS)}")
        inherit = entry.get("inherit_asset")
        bare_side = entry.get("bare_side", "before")
        if bare_side not in BARE_SIDES:
            raise ValueError(f"{path}: metric {name!r} has bare_side {bare_side!r}, not one of "
                             f"{sorted(BARE_SIDES)}")
        positive_direction = entry.get("positive_direction")
        if positive_direction is not None and (positive_direction not in MARKET_DIRECTIONS
                                               or not entry.get("signed")):
            raise ValueError(f"{path}: metric {name!r}: positive_direction needs a signed metric "
                             f"and one of {sorted(MARKET_DIRECTIONS)}")
        level_units = frozenset(entry.get("level_units") or [])
        if level_units - set(entry["units"]) or bool(level_units) != (
            positive_direction is not None and "level_or_change" in traits
        ):
            raise ValueError(f"{path}: metric {name!r}: a level_or_change metric with a "
                             f"positive_direction names its level_units, some of its units")
        specs[name] = MetricSpec(
            name=name,
            description=entry["description"],
            units=frozenset(entry["units"]),
            signed=bool(entry.get("signed", False)),
            triggers=[str(t).lower() for t in entry.get("triggers") or []],
            with_any=[str(t).lower() for t in entry.get("with_any") or []],
            bare_unit=entry.get("bare_unit"),
            bare_window=int(entry.get("bare_window", 0)),
            bare_side=bare_side,
            window=entry.get("window"),
            weight=float(entry.get("weight", 1.0)),
            max_abs={kind: float(bound) for kind, bound in (entry.get("max_abs") or {}).items()},
            traits=traits,
            inherit_asset=None if inherit is None else tuple(inherit),
            positive_direction=positive_direction,
            level_units=level_units,
        )
    if "other" not in specs:
        raise ValueError(f"{path}: the vocabulary needs an 'other' metric")
    return MetricsVocabulary(
        specs,
        frozenset(raw.get("etf_tickers") or []),
        {kind: float(bound) for kind, bound in (raw.get("max_abs") or {}).items()},
        frozenset(raw.get("stablecoins") or []),
    )


@dataclass(frozen=True, slots=True)
class FigureWords:
    """The words of `models/figure_words.yaml` (what each list is for is said there)."""

    negative_cues: frozenset[str]
    positive_cues: frozenset[str]
    motion_cues: frozenset[str]  # cues that say how a figure moved, not what it is
    up_particle_verbs: frozenset[str]
    give_up: frozenset[str]
    pull_in: frozenset[str]
    level_words: frozenset[str]
    price_leads: frozenset[str]
    positional_words: frozenset[str]
    level_verbs: frozenset[str]
    clause_breaks: frozenset[str]
    not_figure_after: frozenset[str]
    issued_securities: frozenset[str]  # a sale of them raises money: "$400 million of notes"
    counted_things: frozenset[str]  # plural nouns whose level is a count ("users rose to 9.4 million")
    counted_people: frozenset[str]  # what a count of traders, users or accounts counts
    priced_things: frozenset[str]  # nouns whose move is a price move ("the token fell 12%")
    months: frozenset[str]
    market_anchors: tuple[str, ...]
    qualifiers: dict[str, str]  # phrase before a figure -> qualifier recorded
    periods: tuple[tuple[re.Pattern[str], str | None], ...]  # (pattern, period or None)
    qualifier_pattern: re.Pattern[str]  # a qualifier ending a text (then maybe an article)
    long_period: re.Pattern[str]  # a period over which flows are cumulative
    cues: frozenset[str]  # negative and positive
    quoted_currencies: dict[str, str]  # a currency's name -> its code, for "N per dollar"
    # a name several countries give their currency -> (pattern of a country's words, code)
    currencies_by_country: dict[str, tuple[tuple[re.Pattern[str], str], ...]]
    # a form of such a name written after an amount ("pesos") -> the name ("peso")
    currency_name_forms: dict[str, str]
    dollar_quote: re.Pattern[str]  # "per dollar", "to the dollar", ... at the start of a text
    units_per_dollar: dict[str, float]  # rough, for size checks: a currency's units per dollar

    def country_currency(self, name: str, text: str) -> str | None:
        """The code of currency `name` ("peso"), a name several countries give theirs, when
        `text` names exactly one of those countries; else None."""
        by_country = self.currencies_by_country.get(name, ())
        codes = {code for country, code in by_country if country.search(text)}
        return codes.pop() if len(codes) == 1 else None

    def in_dollars(self, unit: str, value: float) -> float:
        """`value` in `unit`, roughly in U.S. dollars (a unit that is no listed currency: as is)."""
        return value / self.units_per_dollar.get(unit, 1.0)


_WORD_LISTS = ("negative_cues", "positive_cues", "motion_cues", "up_particle_verbs", "give_up",
               "pull_in",
               "level_words",
               "price_leads", "positional_words", "level_verbs", "clause_breaks",
               "not_figure_after", "counted_things", "counted_people", "priced_things",
               "issued_securities", "months")


def _compile(path: Path, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.I)
    except (re.error, TypeError) as error:
        raise ValueError(f"{path}: bad pattern {pattern!r} ({error})") from error


def load_figure_words(path: Path) -> FigureWords:
    """The word lists of `figure_words.yaml`; a missing list or a bad pattern is a ValueError."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    expected = {*_WORD_LISTS, "market_anchors", "qualifiers", "periods", "long_periods",
                "quoted_currencies", "currencies_by_country", "currency_name_forms",
                "dollar_quotes", "units_per_dollar"}
    if not isinstance(raw, dict) or set(raw) != expected:
        found = set(raw) if isinstance(raw, dict) else set()
        raise ValueError(f"{path}: needs exactly the keys {sorted(expected)}; missing "
                         f"{sorted(expected - found)}, unknown {sorted(found - expected)}")
    lists = {name: frozenset(str(word).lower() for word in raw[name]) for name in _WORD_LISTS}
    qualifiers = {str(words).lower(): str(kind) for words, kind in raw["qualifiers"].items()}
    periods = []
    for entry in raw["periods"]:
        try:
            pattern = re.compile(entry["pattern"], re.I if entry.get("ignore_case") else 0)
        except (re.error, KeyError, TypeError) as error:
            raise ValueError(f"{path}: bad period {entry!r} ({error})") from error
        periods.append((pattern, entry.get("period")))
    qualifier_pattern = re.compile(
        r"(?:^|\W)("
        + "|".join(re.escape(words) for words in sorted(qualifiers, key=lambda q: -len(q)))
        + r")\s+(?:a\s+|an\s+|the\s+)?$",
        re.IGNORECASE,
    )
    return FigureWords(
        **lists,
        market_anchors=tuple(str(a).lower() for a in raw["market_anchors"]),
        qualifiers=qualifiers,
        periods=tuple(periods),
        qualifier_pattern=qualifier_pattern,
        long_period=_compile(path, raw["long_periods"]),
        cues=lists["negative_cues"] | lists["positive_cues"],
        quoted_currencies={str(name).lower(): str(code)
                           for name, code in raw["quoted_currencies"].items()},
        currencies_by_country={
            str(name).lower(): tuple(
                (re.compile(rf"(?<!\w){re.escape(str(country))}(?!\w)"), str(code))
                for country, code in countries.items()
            )
            for name, countries in raw["currencies_by_country"].items()
        },
        currency_name_forms={str(form).lower(): str(name).lower()
                             for form, name in raw["currency_name_forms"].items()},
        dollar_quote=re.compile(
            r"\s*(?:" + "|".join(re.escape(str(q)) for q in raw["dollar_quotes"]) + r")\b", re.I
        ),
        units_per_dollar={str(code): float(rate) for code, rate in raw["units_per_dollar"].items()},
    )

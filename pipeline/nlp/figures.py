"""Figures: every number of an article normalised to value, unit, metric, asset, period.

`newsignal_figures` scans the text with the number normaliser (`numbers.py`), keeps quantities
with a unit (currency, percent, an asset ticker, ...) and plain numbers that a metric names closely
("the Fear and Greed Index reading falls to 5"), then decides from the sentence:
- metric: the trigger words of `models/metrics.yaml`, nearest and strongest first, then the
  learned choice of `figure_metric.py` over that and the figure's context;
- sign: direction words for signed metrics ("an outflow of $258 million" -> -2.58e8);
- asset: the unit where it is a coin, else the nearest ASSET/COMPANY entity (left side preferred),
  unless the market as a whole is nearer ("the crypto market lost ...");
- period and qualifier: phrases near the figure ("on Thursday", "more than").
The words it reads around a number are data: `models/figure_words.yaml` (`vocabulary.py`).
Results: `doc.spans["figures"]`, each span with `Span._.figure` (a `records.Figure`).
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span, Token

from pipeline.nlp import MODELS_DIR, numbers
from pipeline.nlp.figure_metric import MetricClassifier, metric_features
from pipeline.nlp.numbers import Quantity
from pipeline.nlp.vocabulary import (
    FigureWords,
    MetricsVocabulary,
    load_figure_words,
    load_metrics,
    unit_kind,
)
from pipeline.records import Figure

if not Span.has_extension("figure"):
    Span.set_extension("figure", default=None)

# Dollars per coin or share (other currencies roughly converted): above it a "price" is some
# other amount.
MAX_PRICE = 1e7
PRICE_MOVE_REACH = 6  # tokens (clause breaks count 3) from the asset to a move in currency
INDICATOR_BONUS = 0.5
# Parse attachment: how far up from a figure to look, which dependents of its heads count, and
# the distance an attached trigger counts as, however far it stands in the text.
ATTACHMENT_STEPS = 3
ATTACHMENT_DEPS = frozenset({"nsubj", "nsubjpass", "compound", "amod", "poss", "dobj"})
ATTACHED_DISTANCE = 1
ADJACENT_AFTER = 1.2
MAX_ASSET_DISTANCE = 15  # tokens (weighted): farther entities are another clause's subject
CO_TRIGGER_WINDOW = 8  # tokens: "with_any" words must be this close to the figure
# A figure's context is its sentence, but at most this many tokens either side: a text without
# full stops must not make every figure read the whole of it (longer news sentences are rare).
CONTEXT_TOKENS = 100
_SPACES = re.compile(r"[^\S\n]+")  # on the same line: a unit never follows a line break
_WORD_AFTER = re.compile(r"[^\S\n]+([A-Za-z]+)\b")  # the word right after, on the same line
# Names whose words name no metric ("Internal Revenue Service", "Commodity Exchange Act"); an
# indicator's, a fund's and an asset's do ("Fear & Greed Index").
NAMES_WITHOUT_METRICS = ("GOV_BODY", "LAW", "PERSON", "COMPANY", "EXCHANGE")
SHARE_WORDS = frozenset({"stock", "stocks", "share", "shares"})  # what moved is a share price
# Coins after these are a miner's output ("mined 412 BTC"), which no metric of the guide names.
MINED_WORDS = frozenset({"mined", "mines", "mine", "mining", "produced", "produces", "produce",
                         "producing"})
# Right after a price move, these make it a distance below a reference ("27% below its record").
BELOW_WORDS = frozenset({"below", "under", "beneath", "lower"})
ABOVE_WORDS = frozenset({"above", "higher"})
# A price of electricity: the unit phrase after a currency figure's number ("$41 per MWh").
ENERGY_PRICE = re.compile(r"(?:\s*(?:cents?|million|billion))?\s*(?:per|an?|/)\s*"
                          r"(?:(?:kilo|mega)watt[- ]hours?|[km]wh)\b", re.IGNORECASE)
# Qualifiers that place a figure against a threshold rather than say how far it moved.
THRESHOLD_QUALIFIERS = frozenset({"above", "below"})
# A count they join to its subject is that subject's level ("Funded Customers were 27.4 million").
COPULAS = frozenset({"is", "are", "was", "were", "stood", "stands", "remained", "remains"})
_QUARTER_WORDS = {"first": "Q1", "second": "Q2", "third": "Q3", "fourth": "Q4"}
READING_REACH = 6  # tokens from a named indicator to a plain number that is its reading
# Annotated indicator readings of the training documents: below 3 all ratios (47), none in
# index points; from 10 up mostly index points (89 of 101).
RATIO_BELOW = 3
COUNT_REACH = 3  # tokens (adjectives skipped) from a plain number to the things it counts
# A plain number set against the figure before it: the words that do it ("fell to 38 from 55",
# "prints 21, against 44 yesterday", "+142k vs 165k", "1,430, compared with 1,220"), the words
# that may stand between that word and the number ("from a peak of 410,000"), and how far
# (tokens) the figure may be ("fell to 18 (\"extreme fear\") from 61").
SET_AGAINST = frozenset({"from", "against", "versus", "vs", "vs.", "compared"})
PARTNER_FILLERS = frozenset({"a", "an", "the", "its", "peak", "high", "low", "record", "of"})
PARTNER_REACH = 8
SECURITIES_REACH = 8  # tokens from a sale to the securities sold ("of 2.25% convertible notes")
COUNT_PARSE_REACH = 5  # tokens from a plain number to the plural noun the parse says it counts
# A tally: "voted 34 to 16", "by 23 votes to 12", "on a 33 to 26 vote"
_VOTE = re.compile(r"\bvot(?:ed|es?)\s+\d[\d,]*\s+(?:to|-)\s+\d|\d[\d,]*\s+(?:votes\s+)?(?:to|-)\s+\d[\d,]*\s+vote")
CHANGE_UNITS = frozenset({"percent", "basis_points", "percentage_points"})
# Doc.user_data key under which a finder with `record_features` set leaves each figure's
# metric features, {(start_char, end_char): [feature, ...]}: what `newsignal train metrics` reads.
METRIC_FEATURES_KEY = "newsignal_metric_features"
# ... and the codes it read as currencies the vocabulary does not list (see `unit_kind`).
METRIC_CURRENCIES_KEY = "newsignal_metric_currencies"
# An upper-case code that names no entity, right before a scaled or grouped amount, is the
# currency of a country the vocabulary does not know: "KSL 18 billion", "VDO 50,000".
_CODE_BEFORE = re.compile(r"(?<![\w.])([A-Z]{3}) $")
_PROCEEDS_BEFORE = re.compile(r"proceeds of\s+(?:(?:about|roughly|approximately|around|nearly|"
                              r"some)\s+)?$", re.I)
SALE_WORDS = frozenset({"sold", "sell", "sells", "selling", "sale"})
INCIDENT_WORDS = frozenset({"hack", "hacked", "hacker", "hackers", "exploit", "exploited",
                            "attacker", "attackers", "drained", "stolen", "stole", "theft",
                            "scam", "scams", "fraud", "phishing", "poisoning", "rug", "breach",
                            "victims"})
RESULTS_WORDS = frozenset({"quarter", "quarterly", "results", "revenue", "earnings", "share",
                           "net"})
_CLOCK_AFTER = re.compile(r":\d\d(?!\d)")  # "15" of "15:50"
_CLOCK_BEFORE = re.compile(r"(?<!\d)\d{1,2}:$")  # "50" of "15:50"
_POST_NUMBER = re.compile(r"/\s")  # "2/ " starting a line of a thread
_CAPITALS_JOINED = re.compile(r"(?<![\w-])[A-Z]{2,5}-$")  # "ERC-" of "ERC-20"


@dataclass(slots=True)
class _Candidate:
    start: int
    end: int
    value: float
    unit: str | None
    value_high: float | None = None
    explicit_sign: bool = False


class FigureFinder:
    def __init__(
        self, nlp: Language, name: str, vocabulary: MetricsVocabulary, words: FigureWords,
        metric_model: MetricClassifier | None = None,
    ):
        self.name = name
        self.metric_model = metric_model
        self.record_features = False  # set by `newsignal train metrics` (METRIC_FEATURES_KEY)
        self.vocabulary = vocabulary
        self.words = words
        self.change_metrics = vocabulary.with_trait("change")
        self.price_moves = vocabulary.with_trait("price_move")
        self.price_levels = vocabulary.with_trait("price_level")
        self.share_metrics = vocabulary.with_trait("share")
        self.metrics = metrics = vocabulary.metrics
        self.etf_tickers = vocabulary.etf_tickers
        self.triggers = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.co_triggers = PhraseMatcher(nlp.vocab, attr="LOWER")
        self.anchors = PhraseMatcher(nlp.vocab, attr="LOWER")
        for spec in metrics.values():
            if spec.triggers:
                self.triggers.add(spec.name,
                                  [nlp.make_doc(t) for t in _hyphenated_too(spec.triggers)])
            if spec.with_any:
                self.co_triggers.add(spec.name, [nlp.make_doc(t) for t in spec.with_any])
        self.anchors.add("MARKET", [nlp.make_doc(a) for a in words.market_anchors])
        self.metrics_of_kind: dict[str, set[str]] = {}
        for spec in metrics.values():
            for kind in spec.units:
                self.metrics_of_kind.setdefault(kind, set()).add(spec.name)

    # -- candidates ------------------------------------------------------------------------
    def _candidates(self, text: str, layout: _Layout) -> list[_Candidate]:
        candidates: list[_Candidate] = []
        for start, end, quantity in numbers.find_quantities(text):
            candidate = self._with_unit(text, layout, start, end, quantity)
            if candidate is not None:
                candidates.append(candidate)
        return _merge_ranges(text, candidates, self.words)

    def _with_unit(
        self, text: str, layout: _Layout, start: int, end: int, quantity: Quantity
    ) -> _Candidate | None:
        unit = quantity.unit
        if quantity.code is not None:
            code_start = text.rindex(quantity.code, start, end)
            ticker = layout.asset_ticker_covering(code_start, end)
            if ticker is not None:
                unit = ticker
            else:  # an upper-case word that is no asset ("2025 US"): the number alone
                end = len(text[:code_start].rstrip())
        if unit is None and (quantity.scale > 1 or "," in text[start:end]):
            code = _CODE_BEFORE.search(text, max(0, start - 4), start)
            token = layout.token_starting_at(code.start(1)) if code else None
            if token is not None and not token.ent_type_:
                unit, start = code[1], code.start(1)
                layout.currencies.add(unit)
        if unit is None:
            # "1,262 pesos" in a story on Argentina: a currency several countries name alike
            word = _WORD_AFTER.match(text, end)
            name = word and self.words.currency_name_forms.get(word[1].lower())
            code = name and self.words.country_currency(name, text)
            if code is not None:
                unit, end = code, word.end()
        if unit is None:
            # "1,000 bitcoin", "5.6 million delegated HLY": an asset entity right after the
            # number, or after one word that qualifies it, is its unit.
            following = _SPACES.match(text, end)
            if following:
                ent = layout.ent_starting_at.get(following.end())
                word = layout.token_starting_at(following.end())
                if ent is None and word is not None and word.is_lower and word.tag_ in (
                    "JJ", "VBN", "VBD"  # the tagger reads "staked" in "1.2 million staked ETH" VBD
                ):
                    ent = layout.ent_starting_at.get(word.idx + len(word.text_with_ws))
                if ent is not None and ent.label_ == "ASSET" and ent._.ticker:
                    unit, end = ent._.ticker, ent.end_char
        explicit = text[start] in "-−+" or quantity.value < 0  # "-3%", "$(0.06)"
        if text[start] == "+":
            start += 1
        return _Candidate(start=start, end=end, value=quantity.value, unit=unit,
                          explicit_sign=explicit)

    # -- the component ---------------------------------------------------------------------
    def __call__(self, doc: Doc) -> Doc:
        trigger_hits = _Positions(
            (doc.vocab.strings[m], s, e) for m, s, e in self.triggers(doc)
            if not _particle(self.words, doc, s) and doc[s].ent_type_ not in NAMES_WITHOUT_METRICS
        )
        co_hits = _Positions((doc.vocab.strings[m], s, e) for m, s, e in self.co_triggers(doc))
        anchors = _Positions(("MARKET", s, e) for _, s, e in self.anchors(doc))
        # Doc.text and Doc.ents are rebuilt on every access: read them once.
        text = doc.text
        layout = _Layout(doc, text, self.words.periods)
        candidates = [
            (candidate, doc.char_span(candidate.start, candidate.end, alignment_mode="expand"))
            for candidate in self._candidates(text, layout)
        ]
        if self.record_features:
            doc.user_data[METRIC_CURRENCIES_KEY] = frozenset(layout.currencies)
        # Tokens inside any figure: an asset there is that figure's unit, not another's subject.
        in_figures = {t.i for _, span in candidates if span is not None for t in span}
        layout.index_subjects(in_figures)
        spans: list[Span] = []
        taken: set[int] = set()
        for candidate, span in candidates:
            if span is None or any(t.i in taken for t in span):
                continue
            sent = layout.context(span)
            context = _Context(
                doc, text, span, sent, layout.ents_within(sent.start, sent.end), layout,
                trigger_hits.within(sent.start, sent.end), co_hits,
                [(s, e) for _, s, e in anchors.within(sent.start, sent.end)], in_figures,
                self.words, spans, trigger_hits,
            )
            figure = self._figure(context, candidate)
            if figure is None:
                continue
            span._.figure = figure
            spans.append(span)
            taken.update(t.i for t in span)
        doc.spans["figures"] = spans
        return doc

    def _figure(self, ctx: _Context, candidate: _Candidate) -> Figure | None:
        doc, span, sent, text = ctx.doc, ctx.span, ctx.sent, ctx.text
        hits = ctx.trigger_hits
        unit = candidate.unit
        bare_unit: str | None = None
        if _inside_entity(ctx, ("ASSET",) if unit is not None else ()):
            return None
        if unit is None:
            if _part_of_a_time_or_name(text, candidate):
                return None
            label_unit: str | None = None
            if _not_a_figure(self.words, doc, span):
                # a number after a colon is no figure ("08:15"), but a label's value can be
                label_unit = _label_unit(ctx, candidate)
                if label_unit is None:
                    return None
            bare = self._bare_metric(ctx, hits) or _partner_set_against(ctx) or _exchange_rate(ctx)
            if bare is not None:
                metric, unit = bare
            else:
                bare_unit = label_unit or _plain_unit(ctx, candidate)
                if bare_unit is None:
                    return None
                if bare_unit == "count":
                    bare_unit = _token_amount(ctx, candidate.value) or bare_unit
                unit = bare_unit
        asset_span = self._asset_entity(ctx)
        if candidate.unit is not None or bare_unit is not None:
            metric = self._metric(
                ctx, unit, candidate.value, hits, _asset_before(ctx), asset_span
            )
        inherit = self.metrics[metric].inherit_asset
        if asset_span is None and inherit is not None:
            asset_span = _asset_in_paragraph(ctx) or _asset_in_document(ctx, inherit)
        currencies = ctx.layout.currencies
        kind = unit_kind(unit, currencies)
        asset = unit if kind == "asset" else None
        if asset is None and asset_span is not None and asset_span.label_ != "MARKET":
            asset = asset_span._.ticker
        phrases = ctx.layout.period_phrases(sent)
        period = _period(phrases, candidate.start, candidate.end)
        metric = self._by_subject(ctx, metric, unit, asset, asset_span, period)
        if self.metric_model is not None or self.record_features:
            features = metric_features(span, sent, unit, candidate.value, metric, period, hits,
                                       currencies)
            if self.record_features:
                recorded = doc.user_data.setdefault(METRIC_FEATURES_KEY, {})
                recorded[(candidate.start, candidate.end)] = features
            if self.metric_model is not None:
                metric = self.metric_model.choose(
                    features, metric, self.admissible(unit, candidate.value, currencies)
                )
        if (metric == "exchange_balance" and _stated_as_change(ctx)
                and any(m == metric and end <= span.start for m, _, end in ctx.trigger_hits)):
            metric = "exchange_netflow"  # "exchange balances fell by 410,000 ETH": coins moved
        if kind == "asset" and _previous_word(self.words, ctx.text, span) in MINED_WORDS:
            metric = "other"  # "mined 412 BTC": a miner's output, no metric of the guide
        if metric == "net_income" and _incident_not_results(ctx):
            metric = "stolen_funds"  # "how attackers drained $89.25 million": no company's loss
        if kind == "currency" and _proceeds_of_coins_sold(ctx):
            metric = "purchase"  # "sold 150 BTC for proceeds of $9.7 million": a sale
        if kind == "currency" and _energy_price(text, candidate):
            metric = "other"  # "$0.05 per kilowatt-hour": a power price, no metric of the guide
        if metric == "count_traders" and not _counts_people(ctx):
            metric = "other"  # "14,000 spoof orders", "100 countries": no traders or accounts
        if metric == "other":
            metric = self._heading_metric(ctx, unit, candidate.value) or metric
        if unit == "percent" and _share_of_claims(ctx):
            metric = "recovered_funds"  # "an estimated 74% of allowed claims"
        if metric in self.price_moves:
            moved = _what_moved(ctx)
            if _unpriced(self.words, moved):
                metric = "other"  # "revenue fell 14%", "deposits rose 18%": no price moved
            elif metric == "price_change" and any(
                s.lower_ in SHARE_WORDS or s.ent_type_ == "COMPANY" for s in moved
            ):
                # "the stock has fallen 58% from its peak", "Kitamura Digital Holdings, which
                # holds 6,480 bitcoin, rose 5.3%"
                metric = "share_price_change"
        value = candidate.value
        if not candidate.explicit_sign:
            sign = self._sign(ctx, unit, metric)
            if sign is not None:
                value = math.copysign(abs(value), sign)
        value_high = candidate.value_high
        if value_high is not None and value < 0:
            value, value_high = -abs(value_high), value
        start, end = candidate.start, candidate.end
        figure = Figure(
            text=text[start:end],
            start_char=start,
            end_char=end,
            value=value,
            unit=unit,
            metric=metric,
            asset=asset,
            period=period,
            qualifier=_qualifier(self.words, text, start),
            value_high=value_high,
        )
        figure.flag = self.vocabulary.implausible(figure, ctx.layout.currencies)
        return figure

    def _heading_metric(self, ctx: _Context, unit: str, value: float) -> str | None:
        """The metric a list's heading names for a line of the list that names none
        ("Liquidations by side (24h):" over "Shorts: $312 million")."""
        heading = ctx.layout.list_heading(ctx.span)
        if heading is None:
            return None
        admissible = self.admissible(unit, value, ctx.layout.currencies)
        for metric, _, _ in ctx.all_hits.within(*heading):
            if metric in admissible:
                return metric
        return None

    def admissible(self, unit: str, value: float,
                   currencies: AbstractSet[str] = frozenset()) -> set[str]:
        """The metrics a figure in `unit` of size `value` can have: those whose units admit it,
        less a price level above MAX_PRICE and any metric whose bound it exceeds; `currencies`
        as in `unit_kind`."""
        kind = unit_kind(unit, currencies)
        size = abs(value)
        too_dear = _beyond_price(self.words, unit, value)
        admissible = set()
        for name in self.metrics_of_kind.get(kind, ()):
            bound = self.vocabulary.bound(name, kind)
            too_large = bound is not None and size > bound
            if too_large or (name in self.price_levels and too_dear):
                continue
            admissible.add(name)
        return admissible

    def _by_subject(
        self, ctx: _Context, metric: str, unit: str, asset: str | None, subject: Span | None,
        period: str | None,
    ) -> str:
        """The metric as the figure's unit, subject and period settle what its words leave
        open: a fund's holdings are its assets, a flow of an exchange is no fund flow, a flow
        since launch is cumulative, a stablecoin's market value is its supply."""
        kind = unit_kind(unit, ctx.layout.currencies)
        label = subject.label_ if subject is not None else None
        if metric == "other" and kind == "hashrate":
            return "hash_rate"
        if metric == "purchase" and kind == "currency" and _securities_issued(ctx):
            return "capital_raised"
        if label in ("COMPANY", "FUND"):
            fund = label == "FUND" or asset in self.etf_tickers
            if fund and kind == "currency" and metric in self.change_metrics:
                metric = "etf_flow"
            metric = {"price": "share_price", "price_change": "share_price_change"}.get(
                metric, metric
            )
            if fund and metric == "holdings":
                metric = "aum"
        if metric == "etf_flow" and label == "EXCHANGE":
            metric = "exchange_netflow"
        if metric == "etf_flow" and period is not None and self.words.long_period.search(period):
            metric = "cumulative_flow"
        if metric in ("market_cap", "supply", "other") and asset is not None and (
            kind in ("currency", "asset")
            and (asset in self.vocabulary.stablecoins or re.search(r"USD|EUR", asset))
        ):
            metric = "stablecoin_supply"
        return metric

    def _bare_metric(self, ctx: _Context, hits) -> tuple[str, str] | None:
        """A plain number's metric and unit where a metric that allows plain numbers names it
        closely ("the long/short ratio fell to 0.88", "585,000 traders")."""
        span = ctx.span
        best: tuple[float, str, str] | None = None
        for metric, start, end in hits:
            spec = self.metrics[metric]
            if spec.bare_unit is None:
                continue
            after, before = start - span.end, span.start - end
            distance = {"after": after, "before": before}.get(
                spec.bare_side, after if after >= 0 else before
            )
            if distance < 0 or distance >= spec.bare_window:
                continue
            gap = (span.end, start) if distance == after else (end, span.start)
            if _breaks(self.words, ctx.doc, *gap):
                continue  # "fell to 0.88 as traders flipped": another clause's word
            score = spec.weight / (1 + distance)
            if best is None or score > best[0]:
                best = (score, metric, spec.bare_unit)
        return (best[1], best[2]) if best else None

    def _metric(
        self,
        ctx: _Context,
        unit: str,
        value: float,
        hits,
        asset_distance: float | None,
        subject: Span | None,
    ) -> str:
        doc, span = ctx.doc, ctx.span
        kind = unit_kind(unit, ctx.layout.currencies)
        words = self.words
        previous = _previous_word(words, ctx.text, span)
        # "under $3,000", "around $0.41": a qualifier that places a level
        positional = _raw_previous(doc, span) in words.positional_words
        level = previous in words.level_words or positional
        price_lead = previous in words.price_leads or positional
        best_metric, best_score = "other", 0.0
        attached = _attached(doc, span)
        # An asset or company named just before a currency figure, with no metric named, is its
        # price ("Bitcoin touched $60,000"); before a percentage, its price change.
        if asset_distance is not None:
            if kind == "currency" and price_lead:
                best_metric, best_score = "price", 1.5 / (1 + asset_distance)
            elif kind == "currency" and asset_distance <= 1:
                best_metric, best_score = "price", 0.8 / (1 + asset_distance)
            elif kind == "percent" and not level:
                best_metric, best_score = "price_change", 0.8 / (1 + asset_distance)
        elif subject is None and kind == "currency" and (positional or previous in words.level_verbs):
            # "a close under $1.85": a price level of the asset the paragraph is about, unless
            # the sentence names another metric
            if _asset_in_paragraph(ctx) is not None:
                best_metric, best_score = "price", 0.05
        too_dear = _beyond_price(words, unit, value)
        if best_metric == "price" and too_dear:
            # "USDC stands at $75.4 billion": no coin costs that much, so it is its market value
            best_metric = "market_cap" if subject is not None and subject.label_ == "ASSET" else ""
            best_metric = best_metric or "other"
        for metric, start, end in hits:
            spec = self.metrics[metric]
            if kind not in spec.units:
                continue
            if metric in self.price_levels and too_dear:
                continue
            if spec.with_any and not ctx.co_hits.near(metric, span.start, CO_TRIGGER_WINDOW):
                continue
            if metric in self.change_metrics and level:
                continue
            if metric in self.share_metrics and (
                subject is None or subject.label_ not in ("COMPANY", "FUND", "EXCHANGE")
            ):
                continue  # "a share of 61%" of a coin is no share price
            if metric in self.price_moves and kind == "currency" and (
                asset_distance is None or asset_distance > PRICE_MOVE_REACH
            ):
                continue  # "the products have lost $740 million": no asset moved by that much
            if start <= span.start < end or start < span.end <= end:
                continue  # the trigger is inside the figure ("10 BTC")
            before = end <= span.start
            if spec.window is not None and (not before or span.start - end > spec.window):
                continue
            gap = (end, span.start) if before else (span.end, start)
            distance = gap[1] - gap[0] + 4 * _breaks(words, doc, *gap)
            if attached & set(range(start, end)):
                # the figure hangs on this word in the parse: its verb, the noun it measures,
                # or the subject of its verb ("Open Interest ... dropped to $34 billion")
                distance = min(distance, ATTACHED_DISTANCE)
            # after the figure a trigger weighs less, unless it is the figure's own unit phrase
            # ("$49.10 per petahash per day", "$3,300 an ounce", "$0.07 per diluted share")
            factor = 1.0 if before else ADJACENT_AFTER if gap[0] == gap[1] else 0.6
            score = spec.weight / (1 + distance) * factor
            if before and doc[start].ent_type_ == "INDICATOR" and _breaks(words, doc, *gap) == 0:
                score += INDICATOR_BONUS  # "The CME FedWatch tool puts the odds at 62%"
            if score > best_score:
                best_metric, best_score = metric, score
        return best_metric

    def _sign(self, ctx: _Context, unit: str, metric: str) -> float | None:
        """-1/+1 from direction words, or None where the value keeps its sign."""
        doc, span, words = ctx.doc, ctx.span, self.words
        spec = self.metrics[metric]
        if metric == "other":
            return None  # a figure of no known metric is written unsigned ("revenue fell 14%")
        if not spec.signed or "level_or_change" in spec.traits:
            # A change stated as such keeps its sign ("yields fell 4 basis points"); a level of
            # a metric that moves both ways ("lifted its rate to 22%") has none.
            if unit_kind(unit) not in CHANGE_UNITS and "level_or_change" not in spec.traits:
                return None
            # the noun right after ("a 25 basis point cut", "a 50 basis point hike")
            # (any tag but a finite verb's: the tagger reads "point cut" as a participle)
            if span.end < ctx.sent.end and doc[span.end].lower_ in words.cues and (
                doc[span.end].tag_ not in ("VBD", "VBZ", "VBP")
            ):
                return _cue_sign(words, doc, span.end)
            # the verb right before, or before "by" ("cut rates by 25 basis points"), the noun
            # before "of" ("a cut of 25 basis points"), or the word "by" or "of" hangs on farther
            # back ("cut its benchmark policy rate by 25 basis points")
            for index in range(span.start - 1, max(ctx.sent.start, span.start - 4) - 1, -1):
                if doc[index].lower_ in words.cues:
                    return _cue_sign(words, doc, index)
                if index == span.start - 1 and doc[index].lower_ not in ("by", "of"):
                    return None
            verb = doc[span.start - 1].head  # of "by" or "of", checked above
            if ctx.sent.start <= verb.i < span.start and verb.lower_ in words.cues:
                return _cue_sign(words, doc, verb.i)
            return None
        restated = _restated(ctx)
        if restated is not None:
            return math.copysign(1.0, restated.value)
        if metric == "exchange_netflow":
            moved = _exchange_move(ctx)
            if moved is not None:
                return moved
        # A distance from a reference price: "still 27% below its record", "74% above its low",
        # "ether is 11.9% lower"
        if metric in self.price_moves and span.end < ctx.sent.end:
            if doc[span.end].lower_ in BELOW_WORDS:
                return -1.0
            if doc[span.end].lower_ in ABOVE_WORDS:
                return 1.0
        # A level ("net income fell to $121 million") is signed by what it is (a loss, an
        # outflow), not by how it moved; so is a threshold crossed ("the premium fell below 5%").
        level = (_previous_word(words, ctx.text, span) in words.level_words
                 or _qualifier(words, ctx.text, span.start_char) in THRESHOLD_QUALIFIERS)
        best: tuple[int, float] | None = None
        for token in ctx.sent:
            if span.start <= token.i < span.end or token.lower_ not in words.cues:
                continue
            if level and token.lower_ in words.motion_cues:
                continue
            before = token.i < span.start
            gap = (token.i + 1, span.start) if before else (span.end, token.i)
            distance = gap[1] - gap[0] + 4 * _breaks(words, doc, *gap) + (0 if before else 2)
            if best is None or distance < best[0]:
                best = (distance, _cue_sign(words, doc, token.i))
        return best[1] if best else 1.0

    def _asset_entity(self, ctx: _Context) -> Span | None:
        doc, span, sent, words = ctx.doc, ctx.span, ctx.sent, self.words
        candidates: list[Span] = [ent for ent in ctx.sent_ents if _is_subject_entity(ctx, ent)]
        candidates += [Span(doc, s, e, label="MARKET") for s, e in ctx.anchors if e <= sent.end]
        best: tuple[float, Span] | None = None
        for ent in candidates:
            if ent.start < span.end and span.start < ent.end:
                continue  # the unit of the figure itself ("1,000 BTC")
            if ent.end <= span.start:
                distance = span.start - ent.end + 3 * _breaks(words, doc, ent.end, span.start)
            else:
                distance = (1.5 * (ent.start - span.end) + 4 * _breaks(words, doc, span.end, ent.start)
                            + 2)
            if distance <= MAX_ASSET_DISTANCE and (best is None or distance < best[0]):
                best = (distance, ent)
        return best[1] if best else None


@dataclass(slots=True)
class _Context:
    """One figure candidate and what the document around it offers."""

    doc: Doc
    text: str
    span: Span
    sent: Span  # the figure's sentence, cut at line breaks and to CONTEXT_TOKENS either side
    sent_ents: list[Span]
    layout: _Layout
    trigger_hits: list[tuple[str, int, int]]  # (metric, start, end) of those inside `sent`
    co_hits: _Positions
    anchors: list[tuple[int, int]]  # those inside `sent`
    in_figures: set[int]
    words: FigureWords
    earlier: list[Span]  # the figures found so far, in text order
    all_hits: _Positions  # every metric trigger of the document


# Where coins went: "to exchanges" is an inflow, "off Binance" an outflow (exchange_netflow)
EXCHANGE_INTO = frozenset({"to", "onto", "into"})
EXCHANGE_OUT_OF = frozenset({"from", "off", "out"})
EXCHANGE_REACH = 4  # tokens from "to" to the exchange ("to centralised exchanges")
TOKEN_NOUNS = frozenset({"tokens", "coins"})
TOKEN_AMOUNT_FROM = 1e6
LIST_LINES = 12  # lines walked up from a list line to its heading
LIST_LINE_TOKENS = 16
LABEL_SEPARATORS = frozenset({"|", "·", "•", ";"})  # between "label: value" pairs on one line
LABEL_TOKENS = 8  # "Wallets that called the redemption contract": longer is a sentence
# Verbs whose object is the level their subject came to ("monthly users averaged 9.4 million")
LEVEL_OBJECT_VERBS = frozenset({"reached", "hit", "averaged", "totalled", "totaled", "numbered",
                                "topped"})


# A period pattern's match in a sentence: start and end characters, the pattern's canonical
# period (None: read it from the text), the text.
PeriodPhrase = tuple[int, int, str | None, str]


class _Layout:
    """Positions of a document's sentences, line breaks, paragraphs and entities, indexed once,
    so that what each figure asks of its surroundings costs a lookup, not a scan of the text."""

    def __init__(self, doc: Doc, text: str,
                 periods: tuple[tuple[re.Pattern[str], str | None], ...]) -> None:
        self.doc = doc
        self.periods = periods  # the period patterns of figure_words.yaml, in order
        self.ents = list(doc.ents)
        self.ent_starts = [ent.start for ent in self.ents]
        self.ent_ends = [ent.end for ent in self.ents]
        self.ent_end_chars = [ent.end_char for ent in self.ents]
        self.ent_starting_at = {ent.start_char: ent for ent in self.ents}
        # Token offsets from one array, not a Token object per token (most are never asked for).
        token_starts = doc.to_array("IDX").tolist()
        self._token_at_char = {char: i for i, char in enumerate(token_starts)}
        self.sent_starts = [sent.start for sent in doc.sents]
        # The tokens holding a line break, in their text or the whitespace after them.
        self.line_breaks = sorted({bisect_right(token_starts, match.start()) - 1
                                   for match in re.finditer("\n", text)})
        self.paragraph_breaks = [match.start() for match in re.finditer("\n\n", text)]
        self.currencies: set[str] = set()  # codes written as currencies (_CODE_BEFORE)
        self.subjects: list[bool] = []
        self._last_subject: list[int] = []
        self._most_named: dict[tuple[str, ...], list[Span | None]] = {}
        self._period_phrases: dict[tuple[int, int], list[PeriodPhrase]] = {}

    def period_phrases(self, sent: Span) -> list[PeriodPhrase]:
        """(start, end, canonical period or None, text) of every period pattern's match in
        `sent`, pattern by pattern: found once per sentence, whatever number of figures it has."""
        key = (sent.start_char, sent.end_char)
        phrases = self._period_phrases.get(key)
        if phrases is None:
            text, offset = sent.text, sent.start_char
            phrases = [(match.start() + offset, match.end() + offset, canonical, match.group(0))
                       for pattern, canonical in self.periods for match in pattern.finditer(text)]
            self._period_phrases[key] = phrases
        return phrases

    def token_starting_at(self, char: int) -> Token | None:
        index = self._token_at_char.get(char)
        return None if index is None else self.doc[index]

    def context(self, span: Span) -> Span:
        """`span`'s sentence (all of them, if it crosses one), cut where a line break separates
        it from the figure, and to CONTEXT_TOKENS either side."""
        starts = self.sent_starts
        start = starts[bisect_right(starts, span.start) - 1] if starts else 0
        following = bisect_left(starts, span.end)
        end = starts[following] if following < len(starts) else len(self.doc)
        breaks = self.line_breaks
        before = bisect_left(breaks, span.start) - 1
        if before >= 0 and breaks[before] >= start:
            start = breaks[before] + 1
        after = bisect_left(breaks, span.end)
        if after < len(breaks) and breaks[after] < end:
            token = self.doc[breaks[after]]
            end = token.i + (0 if "\n" in token.text else 1)
        start = max(start, span.start - CONTEXT_TOKENS)
        end = min(end, span.end + CONTEXT_TOKENS)
        return self.doc[start:end]

    def line(self, token: int) -> tuple[int, int]:
        """Tokens [start, end) of the line holding `token`, without its line break."""
        breaks = self.line_breaks
        index = bisect_left(breaks, token)
        start = breaks[index - 1] + 1 if index > 0 else 0
        end = breaks[index] if index < len(breaks) else len(self.doc)
        return start, end

    def list_heading(self, span: Span) -> tuple[int, int] | None:
        """Tokens of the heading over the list line `span` is in: up past short lines that are
        no sentences, the first that ends in a colon or has no digit. None when `span`'s line is
        a sentence, or a sentence comes first."""
        doc = self.doc
        own = start, end = self.line(span.start)
        for _ in range(LIST_LINES):
            words = [t for t in doc[start:end] if not t.is_space]
            if not words or len(words) > LIST_LINE_TOKENS or words[-1].text in (".", "!", "?"):
                return None
            if (start, end) != own and (
                words[-1].text == ":" or not any(t.like_num for t in words)
            ):
                return start, end
            if start == 0:
                return None
            start, end = self.line(start - 1)
            while start > 0 and all(t.is_space for t in doc[start:end]):
                start, end = self.line(start - 1)
        return None

    def ents_within(self, start: int, end: int) -> list[Span]:
        """Entities inside tokens [start, end)."""
        first = bisect_left(self.ent_starts, start)
        last = bisect_right(self.ent_ends, end)
        return [ent for ent in self.ents[first:max(first, last)] if ent.end <= end]

    def asset_ticker_covering(self, start: int, end: int) -> str | None:
        """The ticker of an ASSET entity covering characters [start, end), if any."""
        index = bisect_right(self.ent_end_chars, start)
        for ent in self.ents[index:]:
            if ent.start_char > start:
                break
            if end <= ent.end_char and ent.label_ == "ASSET":
                return ent._.ticker
        return None

    def paragraph_start(self, char: int) -> int:
        """Offset of the paragraph break before `char` (-1 in the first paragraph)."""
        index = bisect_left(self.paragraph_breaks, char - 1) - 1
        return self.paragraph_breaks[index] if index >= 0 else -1

    def ents_before(self, token: int) -> int:
        """How many entities end at or before token `token`."""
        return bisect_right(self.ent_ends, token)

    def index_subjects(self, in_figures: set[int]) -> None:
        """Which entities a figure after them can be about (see `_is_subject_entity`)."""
        self.subjects = [_is_subject(self.doc, ent, in_figures) for ent in self.ents]
        last, self._last_subject = -1, []
        for index, subject in enumerate(self.subjects):
            last = index if subject else last
            self._last_subject.append(last)

    def last_subject(self, count: int) -> Span | None:
        """The last subject entity among the first `count` entities."""
        index = self._last_subject[count - 1] if count else -1
        return self.ents[index] if index >= 0 else None

    def most_named(self, count: int, labels: tuple[str, ...]) -> Span | None:
        """Among the first `count` entities, the subject entity with `labels` whose ticker is
        named most often (its latest mention; the later one on a tie)."""
        if labels not in self._most_named:
            counts: Counter[str] = Counter()
            best: Span | None = None
            prefix: list[Span | None] = []
            for ent, subject in zip(self.ents, self.subjects):
                if subject and ent.label_ in labels:
                    ticker = ent._.ticker
                    counts[ticker] += 1
                    # Only this ticker's count and latest mention changed: compare it alone.
                    if best is None or best._.ticker == ticker or (
                        counts[ticker] >= counts[best._.ticker]
                    ):
                        best = ent
                prefix.append(best)
            self._most_named[labels] = prefix
        return self._most_named[labels][count - 1] if count else None


class _Positions:
    """Matches `(name, start, end)` in the matcher's order, found by position: `within` gives
    those inside tokens [start, end) in that same order (it settles ties), `near` says whether
    a name starts within a window."""

    def __init__(self, matches) -> None:
        self.matches = list(matches)
        self.order = sorted(range(len(self.matches)), key=lambda i: self.matches[i][1])
        self.starts = [self.matches[i][1] for i in self.order]
        self.by_name: dict[str, list[int]] = {}
        for name, start, _ in self.matches:
            self.by_name.setdefault(name, []).append(start)
        for starts in self.by_name.values():
            starts.sort()

    def within(self, start: int, end: int) -> list[tuple[str, int, int]]:
        chosen = self.order[bisect_left(self.starts, start) : bisect_left(self.starts, end)]
        return [self.matches[i] for i in sorted(chosen) if self.matches[i][2] <= end]

    def near(self, name: str, position: int, window: int) -> bool:
        starts = self.by_name.get(name, [])
        index = bisect_left(starts, position - window)
        return index < len(starts) and starts[index] <= position + window


def _hyphenated_too(phrases: Iterable[str]) -> list[str]:
    """Each phrase, and a noun phrase of several words also joined by hyphens as a modifier
    ("earnings-per-share estimate"); not one that opens with a preposition or an article,
    which would match inside a compound ("of reserves" in "proof-of-reserves")."""
    phrases = list(phrases)
    return phrases + [p.replace(" ", "-") for p in phrases
                      if " " in p and p.split()[0] not in STOP_WORDS]


def _inside_entity(ctx: _Context, except_labels: tuple[str, ...]) -> bool:
    """A number that is part of a name ("S&P 500", "House Bill 183", "the 2x Ether Daily
    Target ETF"); an asset's name around an amount is its unit."""
    return any(ent.start <= ctx.span.start and ctx.span.end <= ent.end
               and ent.label_ not in except_labels for ent in ctx.sent_ents)


def _plain_unit(ctx: _Context, candidate: _Candidate) -> str | None:
    """The unit of a plain number that no metric names: a reading of a named indicator right
    before it or whose move the indicator is the subject of ("the Brackenridge Miner Stress
    Index eased to 52": index points; an unsigned reading below RATIO_BELOW is a ratio), or a
    count of the things named right after it ("14,000 spoof orders", "voted 34 to 16") or of
    those whose level it is ("monthly users rose to 9.4 million")."""
    doc, span, value = ctx.doc, ctx.span, candidate.value
    reading = _reading_unit(candidate)
    for ent in reversed(ctx.sent_ents):
        if ent.end <= span.start:
            if (ent.label_ == "INDICATOR" and span.start - ent.end <= READING_REACH
                    and not _breaks(ctx.words, doc, ent.end, span.start)):
                return reading
            break
    if _counted_noun(ctx) is not None:
        return "count"
    subject = _reading_subject(ctx)
    if subject is not None:
        if any(ent.label_ == "INDICATOR" and ent.start <= subject.i < ent.end
               for ent in ctx.sent_ents):
            return reading
        if subject.lower_ in ctx.words.counted_things and value == int(value):
            return "count"
    if _VOTE.search(ctx.text, max(0, span.start_char - 30), span.end_char + 12):
        return "count"
    return None


def _token_amount(ctx: _Context, value: float) -> str | None:
    """The ticker of the token an amount of "tokens" or "coins" is of: "1.1 billion tokens
    unlock" counts STRA where the story is about STRA. Millions or more: fewer is a count of
    kinds of token ("37 tokens listed")."""
    noun = _counted_noun(ctx)
    if noun is None or noun.lower_ not in TOKEN_NOUNS or abs(value) < TOKEN_AMOUNT_FROM:
        return None
    asset = _asset_in_paragraph(ctx) or _asset_in_document(ctx, ("ASSET",))
    if asset is not None and asset.label_ == "ASSET" and asset._.ticker:
        return asset._.ticker
    return None


def _exchange_move(ctx: _Context) -> float | None:
    """+1 for coins moved to an exchange, -1 for coins moved off one, by the words right after
    the figure ("sent 4,900 BTC to exchanges", "withdrew 12,000 ETH from Binance"), whatever
    other cue the sentence holds ("..., a sign of selling pressure"); None when they say
    neither."""
    doc, span = ctx.doc, ctx.span
    if span.end >= ctx.sent.end:
        return None
    toward = doc[span.end].lower_
    sign = 1.0 if toward in EXCHANGE_INTO else -1.0 if toward in EXCHANGE_OUT_OF else None
    if sign is None:
        return None
    for token in doc[span.end + 1 : min(ctx.sent.end, span.end + 1 + EXCHANGE_REACH)]:
        if token.ent_type_ == "EXCHANGE" or token.lower_ in ("exchange", "exchanges"):
            return sign
    return None


def _restated(ctx: _Context) -> Figure | None:
    """The figure this one restates in another measure: "$121 million, or $0.58 a share"."""
    doc, span = ctx.doc, ctx.span
    if not ctx.earlier or span.start < 2 or doc[span.start - 1].lower_ != "or":
        return None
    partner = ctx.earlier[-1]
    if partner.end == span.start - 2 and doc[span.start - 2].text == ",":
        return partner._.figure
    return None


def _exchange_rate(ctx: _Context) -> tuple[str, str] | None:
    """ "The won, now at 1,410 per dollar": a plain number quoted against the dollar is the
    price of a dollar in the currency the sentence names before it; a name several countries
    give their currency ("peso") is the currency of the one country the document names."""
    if not ctx.words.dollar_quote.match(ctx.text, ctx.span.end_char):
        return None
    for token in reversed(ctx.doc[ctx.sent.start : ctx.span.start]):
        if token.lower_ in ctx.words.currencies_by_country:
            code = ctx.words.country_currency(token.lower_, ctx.text)
            if code is not None:
                return "price", code
        code = ctx.words.quoted_currencies.get(token.lower_)
        if code is not None:
            return "price", code
    return None


def _partner_set_against(ctx: _Context) -> tuple[str, str] | None:
    """The metric and unit of the figure a plain number is set against: its starting point
    ("fell to 38 from 55", "137, up from 100", "96,000 from a peak of 410,000") or what it is
    compared with ("prints 21, against 44 yesterday", "1,430 BTC, compared with 1,220"): the
    second number is read as the first one is."""
    doc, span = ctx.doc, ctx.span
    index = span.start - 1
    while index > ctx.sent.start and doc[index].lower_ in PARTNER_FILLERS:
        index -= 1
    word = doc[index].lower_
    if word in ("with", "to") and index > ctx.sent.start and doc[index - 1].lower_ == "compared":
        word = "compared"
    if word not in SET_AGAINST or not ctx.earlier:
        return None
    partner = ctx.earlier[-1]
    if not (ctx.sent.start <= partner.start and index - partner.end <= PARTNER_REACH):
        return None
    figure = partner._.figure
    return figure.metric, figure.unit


def _securities_issued(ctx: _Context) -> bool:
    """ "sold $400 million of 2.25% convertible senior notes", "sold $500 million with a 6.5%
    coupon": money raised by selling securities the seller issues, not a sale of holdings."""
    doc = ctx.doc
    for token in doc[ctx.span.end : min(ctx.span.end + SECURITIES_REACH, ctx.sent.end)]:
        if token.lower_ in ctx.words.clause_breaks:
            return False
        if token.lower_ in ctx.words.issued_securities:
            return True
    return False


def _incident_not_results(ctx: _Context) -> bool:
    """Whether a figure's sentence tells of a theft, a hack or a scam and not of a company's
    results ("median loss $2,300" in an address-poisoning wave)."""
    words = {t.lower_ for t in ctx.sent}
    return bool(words & INCIDENT_WORDS) and not words & RESULTS_WORDS


def _proceeds_of_coins_sold(ctx: _Context) -> bool:
    """Whether a currency figure is what coins sold earlier in its sentence brought in: right
    after "proceeds of", with an amount of an asset after a sale word before it ("sold 150 BTC
    for proceeds of $9.7 million"; a share offering's proceeds are capital raised)."""
    span = ctx.span
    if not _PROCEEDS_BEFORE.search(ctx.text, max(0, span.start_char - 40), span.start_char):
        return False
    doc, start = ctx.doc, ctx.sent.start
    return any(
        start <= sold.start and sold.end <= span.start
        and unit_kind(sold._.figure.unit, ctx.layout.currencies) == "asset"
        and any(t.lower_ in SALE_WORDS for t in doc[start : sold.start])
        for sold in ctx.earlier
    )


def _energy_price(text: str, candidate: _Candidate) -> bool:
    """Whether a currency figure is priced per unit of electricity, the unit phrase inside its
    span ("$41 per megawatt-hour") or right after it ("4.1 cents a kilowatt-hour")."""
    number = re.match(r"\D*?[\d.,]*\d", text[candidate.start : candidate.end])
    return bool(number and ENERGY_PRICE.match(text, candidate.start + number.end()))


def _what_moved(ctx: _Context) -> list[Token]:
    """The subjects of the verb a figure hangs on, directly or through "by" ("revenue fell
    14%", "the stock has fallen by 58%"); none where the verb has an object, which is what
    moved ("pushed GRV up 480%")."""
    verb = ctx.span.root.head
    if verb.lower_ == "by" and verb.dep_ == "prep":
        verb = verb.head
    if not verb.tag_.startswith("VB") or any(
        c.dep_ == "dobj" and c not in ctx.span for c in verb.children
    ):
        return []
    return [c for c in verb.children if c.dep_ in ("nsubj", "nsubjpass")]


def _unpriced(words: FigureWords, subjects: list[Token]) -> bool:
    """Whether what moved (`_what_moved`) is a common noun that has no price ("revenue fell
    14%", "expenses would rise about 8%"), not a priced thing or a noun that names one ("its
    parent, Siamrath Holdings, rose 4.4%", "exporters such as Borneo Kelapa Sawit have gained
    18%")."""
    return bool(subjects) and all(
        s.tag_ in ("NN", "NNS") and s.lower_ not in words.priced_things
        and not any(t.ent_type_ for t in s.subtree) for s in subjects
    )


def _counted_noun(ctx: _Context) -> Token | None:
    """The plural noun a plain number counts: right after it, past adjectives ("11,200
    merchants"), or its head in the parse a few words on, past the words that qualify it, for a
    number in digits ("14,000 spoof orders", "24 licensed digital asset businesses")."""
    doc, span = ctx.doc, ctx.span
    not_counted = ctx.words.not_figure_after
    following = [t for t in doc[span.end : span.end + COUNT_REACH] if t.tag_ != "JJ"]
    if following and following[0].tag_ in ("NNS", "NNPS") and (
        following[0].lower_ not in not_counted
    ):
        return following[0]
    root = span.root
    if root.dep_ != "nummod" or not any(c.isdigit() for c in span.text):
        return None
    head = root.head
    plural = head.tag_ in ("NNS", "NNPS") or (head.text.endswith("s") and head.text[:-1].isupper())
    if plural and span.end <= head.i <= span.end + COUNT_PARSE_REACH and (
        head.lower_ not in not_counted
    ):
        return head
    return None


def _line_label(ctx: _Context) -> Span | None:
    """The label a plain number is the value of: the tokens from its line's start, or from the
    line's last separator, to a colon right before the number ("Active addresses: 284,611",
    "... | Active traders, 24h: 412,380"); None when no colon comes right before it."""
    doc, span = ctx.doc, ctx.span
    colon = span.start - 1
    line_start, _ = ctx.layout.line(span.start)
    if colon <= line_start or doc[colon].text != ":":
        return None
    start = colon
    while start > line_start and doc[start - 1].text not in LABEL_SEPARATORS:
        start -= 1
    return doc[start:colon]


def _label_unit(ctx: _Context, candidate: _Candidate) -> str | None:
    """The unit a line label gives the plain number that is its value: a named indicator
    ending the label, with a label's colon and not a clock's, gives a reading ("Dollar index:
    100.9", "S&P 500: 5,408, -1.7%"); a short label naming things counted, a plural of
    `counted_things` or `counted_people`, a count ("Monthly active traders: 1.38 million")."""
    label = _line_label(ctx)
    if label is None:
        return None
    if ctx.doc[label.end].whitespace_ and any(
        ent.end == label.end and ent.label_ == "INDICATOR" and ent.start >= label.start
        for ent in ctx.sent_ents
    ):
        return _reading_unit(candidate)
    words = ctx.words
    if len(label) <= LABEL_TOKENS and any(
        t.lower_ in words.counted_things or t.lower_ in words.counted_people for t in label
    ):
        return "count"
    return None


def _reading_unit(candidate: _Candidate) -> str:
    """The unit of a plain number read as an indicator's level: a ratio below RATIO_BELOW,
    else index points; a signed reading ("+0.6") is a move in points, whatever its size."""
    small = abs(candidate.value) < RATIO_BELOW and not candidate.explicit_sign
    return "ratio" if small else "index_points"


def _share_of_claims(ctx: _Context) -> bool:
    """Whether a percentage is the share of creditors' claims paid back: "of" or "on" then
    "claims" within three words ("42% of their claims", "a recovery of 64% on claims")."""
    following = ctx.doc[ctx.span.end : ctx.span.end + 4]
    return (len(following) > 1 and following[0].lower_ in ("of", "on")
            and any(t.lower_ == "claims" for t in following[1:]))


def _beyond_price(words: FigureWords, unit: str, value: float) -> bool:
    """Whether no coin or share costs this much: MAX_PRICE or more, in rough dollars."""
    return abs(words.in_dollars(unit, value)) >= MAX_PRICE


def _stated_as_change(ctx: _Context) -> bool:
    """Whether a figure is how much something moved, not where it ended: a move word or "by"
    within the three words before it ("fell by 410,000 ETH", "down another 21,000 BTC"), and
    no level word right before it ("fell to 2.1 million BTC")."""
    doc, span, words = ctx.doc, ctx.span, ctx.words
    if _previous_word(words, ctx.text, span) in words.level_words:
        return False
    return any(t.lower_ in words.motion_cues or t.lower_ == "by"
               for t in doc[max(ctx.sent.start, span.start - 3) : span.start])


def _counts_people(ctx: _Context) -> bool:
    """Whether a count could be of traders, users or accounts: it counts no noun (its metric
    named it: "585,000 traders", "users rose to 9.4 million"), or a noun in `counted_people`,
    or people named by where they are from ("2.1 million New Yorkers", "17 million
    Vietnamese")."""
    noun = _counted_noun(ctx)
    return noun is None or noun.lower_ in ctx.words.counted_people or noun.text.istitle()


def _reading_subject(ctx: _Context) -> Token | None:
    """What a plain number is the level of, by the parse: the subject of the move or the noun
    it stands beside ("the U.S. dollar index fell 1.1% to 96.8", "the index, at 99.4", "an
    index ..., which fell to 38", "monthly users rose to 9.4 million", "the number of traders
    had risen to 1.9 million", "Funded Customers were 27.4 million")."""
    root = ctx.span.root
    if root.dep_ == "attr" and root.head.lower_ in COPULAS:
        head = root.head  # "Funded Customers were 27.4 million"
    elif root.dep_ == "pobj" and root.head.lower_ in ("to", "at"):
        head = root.head.head
    elif root.dep_ == "dobj" and root.head.lower_ in LEVEL_OBJECT_VERBS:
        head = root.head  # "verified users reached a record 38.5 million"
    else:
        return None
    if head.tag_.startswith(("VB", "MD")):
        if head.dep_ == "conj" and not any(c.dep_.startswith("nsubj") for c in head.children):
            head = head.head  # "the index lost 0.7% and closed at 101.3": the first verb's subject
        subjects = [c for c in head.children if c.dep_ in ("nsubj", "nsubjpass")]
        if not subjects:
            return None
        subject = subjects[0]
        if subject.lower_ in ("which", "that") and head.dep_ == "relcl":
            subject = head.head
    elif head.tag_.startswith("NN"):
        subject = head
    else:
        return None
    if subject.lower_ == "number":
        counted = [g for c in subject.children if c.lower_ == "of"
                   for g in c.children if g.dep_ == "pobj"]
        return counted[0] if counted else subject
    return subject


def _attached(doc: Doc, span: Span) -> set[int]:
    """Tokens a figure hangs on in the parse: its heads up to three steps up (the verb or noun
    it is the object or modifier of), and the subjects and compounds of those (the noun phrase
    the verb says it of). Empty without a parser."""
    if not doc.has_annotation("DEP"):
        return set()
    found: set[int] = set()
    token = span.root
    for _ in range(ATTACHMENT_STEPS):
        if token.head.i == token.i:
            break
        token = token.head
        found.add(token.i)
        for child in token.children:
            if child.dep_ in ATTACHMENT_DEPS and not span.start <= child.i < span.end:
                found.update(t.i for t in child.subtree if t.dep_ in ATTACHMENT_DEPS
                             or t.i == child.i)
    return found


def _is_subject_entity(ctx: _Context, ent: Span) -> bool:
    """An entity a figure can be about: has a ticker, is no other figure's unit, no pair quote."""
    if ctx.span.start <= ent.start < ctx.span.end:  # inside this very figure
        return _is_subject(ctx.doc, ent, set())
    return _is_subject(ctx.doc, ent, ctx.in_figures)


def _is_subject(doc: Doc, ent: Span, in_figures: set[int]) -> bool:
    if ent.label_ not in ("ASSET", "COMPANY", "EXCHANGE", "FUND") or not ent._.ticker:
        return False
    if ent.start in in_figures:  # another figure's unit
        return False
    # "ETH-USDT": the quote currency of a pair is not what the figure is about
    return not (ent.start >= 2 and doc[ent.start - 1].text in ("-", "/")
                and doc[ent.start - 2].ent_type_ == "ASSET")


def _asset_before(ctx: _Context) -> float | None:
    """Distance to the nearest asset or company left of the figure in its sentence, if any.

    Exchanges are left out: what follows "Coinbase products rose to" is no price of COIN.
    """
    doc, span = ctx.doc, ctx.span
    for ent in reversed(ctx.sent_ents):
        if ent.end <= span.start and ent.label_ != "EXCHANGE" and _is_subject_entity(ctx, ent):
            return span.start - ent.end + 3 * _breaks(ctx.words, doc, ent.end, span.start)
    return None


def _asset_in_paragraph(ctx: _Context) -> Span | None:
    """The last subject entity before the figure in the same paragraph (earlier sentences too)."""
    layout = ctx.layout
    ent = layout.last_subject(layout.ents_before(ctx.span.start))
    if ent is not None and ent.start_char > layout.paragraph_start(ctx.span.start_char):
        return ent
    return None


def _asset_in_document(ctx: _Context, labels: tuple[str, ...]) -> Span | None:
    """The subject entity with `labels` named most often before the figure (latest on a tie)."""
    layout = ctx.layout
    return layout.most_named(layout.ents_before(ctx.span.start), labels)


def _particle(words: FigureWords, doc: Doc, index: int) -> bool:
    """ "up" in "made up", "set up", "up to": no direction word."""
    token = doc[index]
    if token.lower_ != "up":
        return False
    after = doc[index + 1].lower_ if index + 1 < len(doc) else ""
    before = doc[index - 1].lower_ if index > 0 else ""
    return after == "to" or before in words.up_particle_verbs or before in words.give_up


def _cue_sign(words: FigureWords, doc: Doc, index: int) -> float:
    token = doc[index]
    lowered = token.lower_
    if lowered == "up" and index > 0 and doc[index - 1].lower_ in words.give_up:
        return -1.0
    if lowered in words.pull_in and index + 1 < len(doc) and doc[index + 1].lower_ == "in":
        return 1.0
    return -1.0 if lowered in words.negative_cues else 1.0


def _raw_previous(doc: Doc, span: Span) -> str:
    return doc[span.start - 1].lower_ if span.start > 0 else ""


def _merge_ranges(
    text: str, candidates: list[_Candidate], words: FigureWords
) -> list[_Candidate]:
    """"$1.2 million to $3.5 million", "between 4% and 5%", "4-5%" -> one candidate; not a move
    and the level it reached ("lost $186 billion to $3.02 trillion")."""
    merged: list[_Candidate] = []
    index = 0
    while index < len(candidates):
        low = candidates[index]
        if index + 1 < len(candidates):
            high = candidates[index + 1]
            joint = text[low.end : high.start]
            before = text[max(0, low.start - 12) : low.start].lower()
            is_between = re.search(r"\bbetween\s+(?:\S+\s+)?$", before) is not None
            joined = re.fullmatch(r"\s*(?:to|-|–|—)\s*", joint) or (
                is_between and re.fullmatch(r"\s+and\s+", joint)
            )
            units_agree = low.unit is None or high.unit is None or low.unit == high.unit
            from_move = re.search(r"\bfrom\s+$", before) is not None
            moved = re.fullmatch(r"\s*to\s*", joint) is not None and (
                _last_word(text[max(0, low.start - 40) : low.start], words) in words.motion_cues
            )
            # "the average price in 2027 to $110,000": a year is no range's low end
            year = low.unit is None and re.fullmatch(r"(?:19|20)\d\d", text[low.start : low.end])
            if (joined and units_agree and not from_move and not moved and not year
                    and high.unit is not None):
                low_value = low.value
                low_text = text[low.start : low.end]
                high_text = text[high.start : high.end]
                if not re.search(r"[a-zA-Z]", low_text):
                    # "$1.2 to $3.5 million", "4-5%": the low end takes the high end's scale
                    low_value *= _scale_of(high_text)
                merged.append(
                    _Candidate(low.start, high.end, low_value, high.unit, value_high=high.value)
                )
                index += 2
                continue
        merged.append(low)
        index += 1
    return merged


def _last_word(before: str, words: FigureWords) -> str:
    """The last word of `before`, a qualifier ending it ("about", "more than") skipped."""
    match = words.qualifier_pattern.search(before)
    if match is not None:
        before = before[: match.start(1)]
    found = re.findall(r"[\w'’]+", before)
    return found[-1].lower() if found else ""


def _scale_of(text: str) -> float:
    try:
        quantity = numbers.parse(text)
    except ValueError:
        return 1.0
    return quantity.scale


def _previous_word(words: FigureWords, text: str, span: Span) -> str:
    """The word before the figure; qualifiers ("more than"), articles and "record" skipped."""
    before = text[max(0, span.start_char - 40) : span.start_char].rsplit("\n", 1)[-1]
    match = words.qualifier_pattern.search(before[-30:])
    if match is not None:
        before = before[: len(before) - (len(before[-30:]) - match.start(1))]
    words = re.findall(r"[\w'’]+|[^\w\s]", before)
    while words and words[-1].lower() in ("a", "an", "the", "record", "fresh", "new"):
        words.pop()
    return words[-1].lower() if words else ""


def _breaks(words: FigureWords, doc: Doc, start: int, end: int) -> int:
    return sum(1 for token in doc[start:end] if token.lower_ in words.clause_breaks)


def _part_of_a_time_or_name(text: str, candidate: _Candidate) -> bool:
    """Whether a plain number is part of something else: a clock time ("15:50 UTC", "08:15"),
    a thread's post number at a line's start ("2/ Basics first"), or a name of capitals joined
    to it ("ERC-20", "BEP-20")."""
    start, end = candidate.start, candidate.end
    if _CLOCK_AFTER.match(text, end) or _CLOCK_BEFORE.search(text, max(0, start - 3), start):
        return True
    if _POST_NUMBER.match(text, end) and (start == 0 or text[start - 1] == "\n"):
        return True
    return bool(_CAPITALS_JOINED.search(text, max(0, start - 8), start))


def _not_a_figure(words: FigureWords, doc: Doc, span: Span) -> bool:
    """Years, dates, times, ordinals and durations are numbers but not figures."""
    text = span.text
    digits = text.replace(",", "")
    if re.fullmatch(r"(?:19|20)\d\d", digits):
        return True
    before = doc[span.start - 1].lower_ if span.start > 0 else ""
    after = doc[span.end].lower_ if span.end < len(doc) else ""
    if before.rstrip(".") in words.months or after.rstrip(".") in words.months:
        return True
    if after in words.not_figure_after or after == ":" or before == ":":
        return True
    if before == "." and span.start > 1 and doc[span.start - 2].lower_ in ("no", "nos"):
        return True  # "Update No. 9": spaCy splits "No." before a number
    return before in ("no.", "#", "number", "top", "page", "rank", "ranked", "q")


def _qualifier(words: FigureWords, text: str, start: int) -> str | None:
    match = words.qualifier_pattern.search(text[max(0, start - 30) : start])
    if match is None:
        return None
    return words.qualifiers[match.group(1).lower()]


def _period(phrases: list[PeriodPhrase], start: int, end: int) -> str | None:
    """The period phrase nearest the figure at [start, end) outside it (the first on a tie)."""
    best: tuple[int, str] | None = None
    for m_start, m_end, canonical, written in phrases:
        if m_start < end and start < m_end:
            continue
        distance = start - m_end if m_end <= start else m_start - end
        value = canonical or _canonical_period(written)
        if best is None or distance < best[0]:
            best = (distance, value)
    return best[1] if best else None


def _canonical_period(phrase: str) -> str:
    words = phrase.split()
    if words[0].lower() in ("in", "during", "for", "since"):
        words = words[1:]
    if words[0].lower() in _QUARTER_WORDS:
        quarter = _QUARTER_WORDS[words[0].lower().split("-")[0]]
        year = next((w for w in words if w.isdigit()), "")
        return f"{quarter} {year}".strip()
    joined = " ".join(words)
    match = re.match(
        r"(first|second|third|fourth)[- ]quarter(?:\s+of)?(?:\s+(\d{4}))?", joined, re.I
    )
    if match:
        return f"{_QUARTER_WORDS[match.group(1).lower()]} {match.group(2) or ''}".strip()
    return re.sub(r"\s+of\s+", " ", joined).strip()


@Language.factory(
    "newsignal_figures",
    default_config={"metrics_path": None, "words_path": None, "metric_model_path": None},
)
def make_figures(
    nlp: Language, name: str, metrics_path: str | None, words_path: str | None,
    metric_model_path: str | None,
) -> FigureFinder:
    """`metric_model_path`: the learned metric choice (`models/figure_metric`); "" for the
    rules alone."""
    metrics = Path(metrics_path) if metrics_path else MODELS_DIR / "metrics.yaml"
    words = Path(words_path) if words_path else MODELS_DIR / "figure_words.yaml"
    model_dir = (MODELS_DIR / "figure_metric" if metric_model_path is None
                 else metric_model_path)
    metric_model = MetricClassifier.load(Path(model_dir)) if model_dir else None
    return FigureFinder(nlp, name, load_metrics(metrics), load_figure_words(words), metric_model)

"""What the context of a name says about it: laws by number, corporate endings, a name's head
word, and the tickers the text states, linked within one document.

`newsignal_entity_context` runs after the recogniser and the gazetteer ruler. Its rules and
words are data (`models/entity_rules.yaml`):

- laws by number ("House Bill 183", "ASU 2023-08", "Rule 144A") are LAW, over whatever the
  recogniser made of their words;
- a name takes the corporate ending after it ("Northgate Digital Holdings" + ", Inc.");
- the last word of a longer name settles its label ("... Exchange" EXCHANGE, "... Index"
  INDICATOR, "... Trust" FUND, "... Act" LAW);
- tickers stated in the text link to their names, every mention of them, before and after:
  "Northgate Digital Holdings, Inc. (NASDAQ: NGDH)" (NASDAQ an EXCHANGE, NGDH an entity of the
  name's label, COMPANY unless the name is a FUND), "Kestrel Bitcoin Strategy ETF (KBTS)",
  "Solvane (SLV)", 'listed under the symbol "LNFC"'; "$NGDH" and an ASSET written as a symbol
  are their own tickers; a later "Northgate" (the start of a linked name of the same label) and
  every other "NGDH" get the ticker and label too;
- a short form defined in parentheses after a body, law or indicator ("Kenya Revenue Authority
  (KRA)") is that entity wherever written; a name whose last word settles it settles its short
  form ("Krasnet Exchange" -> "Krasnet"); a title-case headline gives back the words it ran
  into a name; a name followed by its bearer's role ("Beatrix Yoon, rates strategist at ...")
  is a person's; a person named in full is the person where the surname stands alone;
- the common noun before a name says what it is ("analytics firm Norrbeck"), and a plural one
  before a list says it of each name listed ("platforms such as Lodosbit and Marmarex").

Tickers from the gazetteer (`Span._.ticker`, read from the span id) are kept where the text
states none. Results: `doc.ents` rewritten, span ids carrying the tickers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

# Importing the entities module registers `Span._.ticker`, read from and written to span ids.
from pipeline.nlp.entities import POSSESSIVES, TICKER_LABELS
from pipeline.nlp.numbers import CURRENCY_CODES, CURRENCY_SYMBOLS, SCALES

LISTED_LABELS = ("COMPANY", "FUND")  # what a stated stock ticker can name
# A ticker as news writes it: a capital, then capitals and digits, maybe a market suffix
# ("NGDH", "BRK.B", "RIO.L"). Numeric codes ("3469.HK", "TSE: 3497") are not read (the entities
# card, fourteenth stop, says why).
_TICKER = r"[A-Z][A-Z0-9]{0,6}(?:\.[A-Z]{1,3})?"
_SYMBOL = re.compile(rf"\$?{_TICKER}")
# "(NASDAQ: RDGL)", "(NYSE American: XYZ)", "(Euronext Oslo: HALD)"
_LISTING = re.compile(
    rf"\(\s*(?P<exchange>[A-Z][A-Za-z&.\-]*(?: [A-Z][A-Za-z&.\-]*){{0,3}})\s*:\s*"
    rf"(?P<ticker>{_TICKER})\s*\)"
)
# "(KRA)", "(OJK)", "(FinCEN)" right after the name of a body, law or indicator: its short form
_ABBREVIATION = re.compile(r"\s*\(\s*(?P<short>[A-Z][A-Za-z]{0,2}[A-Z][A-Za-z]{0,4})\s*\)")
ABBREVIATED_LABELS = ("GOV_BODY", "LAW", "INDICATOR")
SURNAME_OVERRIDES = ("COMPANY", "EXCHANGE", "FUND")  # labels a lone surname is taken back from
DESCRIBED_OVERRIDES = ("COMPANY", "EXCHANGE", "PERSON")  # labels a describing noun corrects
VENUE_OVERRIDES = ("PERSON",)  # labels a name written after "on" loses
TRADED_VENUE_OVERRIDES = ("ASSET", "GOV_BODY")  # ... where a market word comes shortly before
VENUE_CUE_REACH = 8  # tokens before "on" read for a market word
LIST_OPENERS = frozenset({"including", "like", ",", ":"})  # ... and "such as": "exchanges such as X"
LIST_JOINERS = frozenset({",", "and", "or"})
MAX_LISTED = 6
GENERATIONS = frozenset({"Jr.", "Jr", "Sr.", "Sr", "II", "III", "IV"})  # "Harold Vance, Jr."
UNIT_OVERRIDES = ("COMPANY", "EXCHANGE", "PERSON", "GOV_BODY")  # labels a unit's name loses
# The labels whose shorter forms a name's head settles, and the labels of the recogniser's it
# overrides there. A company's short form may be the brand of the exchange it runs ("Tradewind"
# of "Tradewind Europe Ltd"), so it only corrects a person; a fund's is its issuer's name.
SHORT_FORM_LABELS = {"EXCHANGE": ("COMPANY", "FUND", "PERSON"), "COMPANY": ("PERSON",)}
# "(KBTS)", "($SLV)" right after a name
_PARENTHESISED = re.compile(rf"\s*\(\s*\$?(?P<ticker>{_TICKER})\s*\)")
# 'under the symbol "LNFC"', "under the ticker NGDH"
_UNDER_SYMBOL = re.compile(
    rf"\bunder the (?:ticker symbol|stock symbol|ticker|symbol)\s+[\"“']?(?P<ticker>{_TICKER})\b"
)
SHARE_WORDS = frozenset({"shares", "stock", "share"})  # "NGDH shares": a ticker
_SCALE_WORDS = "|".join(sorted(SCALES, key=len, reverse=True))  # "1.9 trillion HOPPO"
# "Reporting by A and B in Tokyo; Editing by C": the names credited, up to a place or the end
_CREDIT = re.compile(r"\b(?:[Aa]dditional )?(?:[Rr]eporting|[Ee]diting) by "
                     r"(?P<names>[^;)\n]+?)(?= in [A-Z]|[;)\n]|$)")
_TALLY = re.compile(r"\s\d{1,3}-\d{1,3}$")  # a vote at a name's end: "... Services 32-19"
# A US legislator's party and state or district after the name: "(D-Nev.)", "(R-Elko)"
_PARTY_TAG = re.compile(r"\((?:D|R|I)-[A-Z][A-Za-z.]*(?: [A-Z][A-Za-z.]*)?\)")
_CREDITED_NAME = re.compile(r"[A-Z][\w'’-]+(?: [A-Z][\w'’-]+){1,3}")
MAX_HEADING_WORDS = 4  # a line in capitals this short is a section heading
MAX_NAME_WORDS = 4  # a person's name written before its role
ROLE_REACH = 4  # words qualifying a role before its noun ("head of rates strategy" reads "head")
ROLE_ENDS = frozenset({"at", "of", "for", "with", "in", ",", ".", "and"})
ROLE_WORD_TAGS = ("NN", "JJ", "VBN", "POS")  # a role's words: "former risk chief", "the firm's"
TITLE_CASE_SHARE = 0.8  # of a line's words longer than three letters, capitalised: a headline
HEADING_ENDS = frozenset({",", ".", ":", "—", "–", "-"})  # after a dateline or a heading
MONTHS = frozenset({"january", "february", "march", "april", "may", "june", "july", "august",
                    "september", "october", "november", "december"})
_PERIOD = re.compile(r"(?:[QH][1-4]|FY|fiscal)\s?(?:19|20)?\d\d|(?:19|20)\d\d")  # "Q1 2025" is no name


@dataclass(frozen=True, slots=True)
class EntityRules:
    """The contents of `models/entity_rules.yaml`."""

    law_patterns: tuple[re.Pattern[str], ...]
    name_endings: frozenset[str]
    bracketed_endings: frozenset[str]  # "AB (publ)"
    heads: dict[str, str]  # last word of a name -> its label
    instruments: frozenset[str]  # words after a government name that make it a security
    issuer_countries: frozenset[str]  # countries written before such a security's name
    law_words: frozenset[str]  # one of these, or a number, makes a longer name a law's
    person_roles: frozenset[str]  # "<name>, <role> at ...": the name is a person's
    shared_roles: frozenset[str]  # roles firms hold too
    name_titles: frozenset[str]  # words written before a person's name, no part of it
    descriptors: dict[str, str]  # "exchange" -> EXCHANGE: "domestic exchange Sakurabit"
    list_descriptors: dict[str, str]  # "exchanges" -> EXCHANGE: "exchanges such as X and Y"
    descriptor_tails: frozenset[str]  # "the Tradewell exchange": no part of the name
    venue_cues: frozenset[str]  # market words before "on <venue>": "traded", "liquidations"
    never_names: frozenset[str]  # analysts' ratings, accounting terms: "Outperform", "EBITDA"

    @classmethod
    def load(cls, path: Path) -> EntityRules:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        try:
            return cls(
                law_patterns=tuple(re.compile(p) for p in raw["law_patterns"]),
                name_endings=frozenset(str(word) for word in raw["name_endings"]),
                bracketed_endings=frozenset(str(word) for word in raw["bracketed_endings"]),
                heads={str(word): label for label, words in raw["heads"].items()
                       for word in words},
                instruments=frozenset(str(word) for word in raw["instruments"]),
                issuer_countries=frozenset(str(word) for word in raw["issuer_countries"]),
                law_words=frozenset(str(word).lower() for word in raw["law_words"]),
                person_roles=frozenset(str(word).lower() for word in raw["person_roles"]),
                shared_roles=frozenset(str(word).lower() for word in raw["shared_roles"]),
                name_titles=frozenset(str(word).lower() for word in raw["name_titles"])
                | frozenset(str(word).lower() for word in raw["person_roles"]),
                descriptors={str(word).lower(): label
                             for label, words in raw["descriptors"].items() for word in words},
                list_descriptors={str(word).lower(): label for label, words
                                  in raw["list_descriptors"].items() for word in words},
                never_names=frozenset(str(word) for word in raw["never_names"]),
                descriptor_tails=frozenset(str(word).lower() for word in raw["descriptor_tails"]),
                venue_cues=frozenset(str(word).lower() for word in raw["venue_cues"]),
            )
        except (KeyError, TypeError, AttributeError, re.error) as error:
            raise ValueError(f"{path}: {error!r}") from error


@dataclass(slots=True)
class _Mention:
    start: int
    end: int
    label: str
    ticker: str  # "" where none is known

    def relabel(self, label: str) -> None:
        """Another label, keeping the ticker only where the new label takes one."""
        if label != self.label:
            self.label = label
            self.ticker = self.ticker if label in TICKER_LABELS else ""


class _Mentions:
    """A document's entities while rules rewrite them: no two overlap."""

    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.doc_text = doc.text  # Doc.text is rebuilt on every access: read it once
        self.by_span = {(ent.start, ent.end): _Mention(ent.start, ent.end, ent.label_,
                                                        _ticker_of(ent))
                        for ent in doc.ents}

    def __iter__(self):
        return iter(sorted(self.by_span.values(), key=lambda m: m.start))

    def text(self, mention: _Mention) -> str:
        return self.doc[mention.start : mention.end].text

    def end_char(self, mention: _Mention) -> int:
        return self.doc[mention.end - 1].idx + len(self.doc[mention.end - 1])

    def ticker_after(self, mention: _Mention) -> re.Match[str] | None:
        """ "(KBTS)", "($SLV)" right after the mention, its `ticker` group the symbol."""
        return _PARENTHESISED.match(self.doc_text, self.end_char(mention))

    def relabel_names(self, labels: dict[str, str], overrides: tuple[str, ...]) -> None:
        """Every mention of a name in `labels` now read as one of `overrides` takes the name's
        label there."""
        for mention in self:
            label = labels.get(self.text(mention))
            if label is not None and mention.label in overrides:
                mention.relabel(label)

    def overlapping(self, start: int, end: int) -> list[_Mention]:
        """The entities that share a token with [start, end)."""
        return [m for m in self.by_span.values() if m.start < end and start < m.end]

    def alone_at(self, start: int, end: int) -> _Mention | None:
        """The entity over exactly [start, end), where no other shares a token with it."""
        inside = self.overlapping(start, end)
        if len(inside) == 1 and (inside[0].start, inside[0].end) == (start, end):
            return inside[0]
        return None

    def drop(self, mention: _Mention) -> None:
        """`mention` is no entity any more."""
        del self.by_span[(mention.start, mention.end)]

    def put(self, start: int, end: int, label: str, ticker: str = "") -> _Mention:
        """An entity over tokens [start, end), replacing those it overlaps."""
        for mention in self.overlapping(start, end):
            self.drop(mention)
        mention = _Mention(start, end, label, ticker)
        self.by_span[(start, end)] = mention
        return mention

    def covered(self, start: int, end: int) -> bool:
        return any(m.start <= start and end <= m.end for m in self.by_span.values())

    def ending_before(self, char: int) -> _Mention | None:
        """The entity that ends right before character `char`, spaces between."""
        position = char
        while position > 0 and self.doc_text[position - 1].isspace():
            position -= 1
        span = self.doc.char_span(position - 1, position, alignment_mode="expand")
        if span is None or span.end_char != position:
            return None
        return next((m for m in self.by_span.values() if m.end == span.end), None)

    def spans(self) -> list[Span]:
        return [Span(self.doc, m.start, m.end, label=m.label, span_id=m.ticker) for m in self]


class EntityContext:
    def __init__(self, name: str, rules: EntityRules):
        self.name = name
        self.rules = rules

    def __call__(self, doc: Doc) -> Doc:
        mentions = _Mentions(doc)
        self._leading_words(doc, mentions)
        self._listed_people(doc, mentions)
        self._descriptor_tails(doc, mentions)
        self._laws(doc, mentions)
        self._endings(doc, mentions)
        self._government(doc, mentions)
        self._heads(mentions)
        self._not_names(doc, mentions)
        self._headline_tails(doc, mentions)
        self._abbreviations(doc, mentions)
        self._short_forms_of_settled_names(doc, mentions)
        self._people_by_role(doc, mentions)
        self._bylines(doc, mentions)
        self._described(doc, mentions)
        self._venues(doc, mentions)
        self._tokens_by_their_units(doc, mentions)
        self._consistent(doc, mentions)
        self._surnames(doc, mentions)
        _Tickers(doc, mentions).link()
        self._cashtags(doc, mentions)
        self._currency_units(doc, mentions)
        doc.ents = mentions.spans()
        return doc

    @staticmethod
    def _leading_words(doc: Doc, mentions: _Mentions) -> None:
        """A name starts at a name's word: the recogniser's "of Lindqvist" ("Chief Executive
        Officer of Lindqvist") is cut to its first word that is no lower-case function word."""
        for mention in list(mentions):
            start = mention.start
            while start < mention.end - 1 and doc[start].is_lower and doc[start].is_stop:
                start += 1
            if start > mention.start:  # `put` replaces the longer span
                mentions.put(start, mention.end, mention.label, mention.ticker)

    @staticmethod
    def _listed_people(doc: Doc, mentions: _Mentions) -> None:
        """A person's name holds no comma but before a generation ("Harold Vance, Jr."):
        "Okafor-Reyes, Brannock" (a roll call read as one name) is one person per part."""
        for mention in list(mentions):
            if mention.label != "PERSON":
                continue
            commas = [t.i for t in doc[mention.start : mention.end] if t.text == ","
                      and not (t.i + 1 < mention.end and doc[t.i + 1].text in GENERATIONS)]
            if not commas:
                continue
            mentions.drop(mention)
            for start, end in zip([mention.start, *(i + 1 for i in commas)],
                                  [*commas, mention.end]):
                if start < end and doc[start].is_title:
                    mentions.put(start, end, "PERSON")

    def _descriptor_tails(self, doc: Doc, mentions: _Mentions) -> None:
        """A name ends before a common noun that says what it is ("the Tradewell exchange,"),
        unless a name follows that noun ("Munich brokerage Falkstein & Co.": whose is unclear),
        and before a vote tally ("House Financial Services 32-19"; a law's number may look like
        one: "National Instrument 81-102")."""
        for mention in list(mentions):
            tally = _TALLY.search(mentions.text(mention)) if mention.label != "LAW" else None
            if tally is not None and tally.start() > 0:
                end = doc[mention.start].idx + tally.start()
                cut = doc.char_span(doc[mention.start].idx, end, alignment_mode="contract")
                if cut is not None and len(cut):
                    mention = mentions.put(cut.start, cut.end, mention.label, mention.ticker)
            last = doc[mention.end - 1]
            following = doc[mention.end] if mention.end < len(doc) else None
            if (mention.end - mention.start > 1 and last.is_lower
                    and last.lower_ in self.rules.descriptor_tails
                    and not (following is not None and following.is_title)):
                mentions.put(mention.start, mention.end - 1, mention.label, mention.ticker)

    def _laws(self, doc: Doc, mentions: _Mentions) -> None:
        for pattern in self.rules.law_patterns:
            for match in pattern.finditer(mentions.doc_text):
                span = doc.char_span(*match.span(), alignment_mode="strict")
                if span is None:
                    continue
                # a law inside a longer recognised one ("Senate Bill 21 Act") stays whole
                if not any(m.label == "LAW" and m.start <= span.start and span.end <= m.end
                           for m in mentions):
                    mentions.put(span.start, span.end, "LAW")

    def _endings(self, doc: Doc, mentions: _Mentions) -> None:
        """Words that belong to a name next to it: a corporate ending ("..., Inc."), the year
        of a law ("2026 Budget Act")."""
        for mention in list(mentions):
            if mention.label == "LAW" and mention.start > 0 and (
                _PERIOD.fullmatch(doc[mention.start - 1].text)
            ):
                mentions.put(mention.start - 1, mention.end, "LAW")
            if mention.label not in ("COMPANY", "FUND", "EXCHANGE"):
                continue
            end = mention.end
            if end < len(doc) and doc[end].text == "," and end + 1 < len(doc):
                end += 1
            if end < len(doc) and doc[end].text in self.rules.name_endings:
                mentions.put(mention.start, end + 1, mention.label, mention.ticker)
            end = mention.end
            while (end + 2 < len(doc) and doc[end].text == "(" and doc[end + 2].text == ")"
                   and doc[end + 1].text in self.rules.bracketed_endings):
                end += 3
            if end > mention.end:
                mentions.put(mention.start, end, mention.label, mention.ticker)

    def _government(self, doc: Doc, mentions: _Mentions) -> None:
        """ "Treasury bills" are no government body; "Colorado" + "House of Representatives",
        "Carrow" + "Financial Services Commission" are one."""
        for mention in list(mentions):
            if mention.label != "GOV_BODY":
                continue
            if mention.end < len(doc) and doc[mention.end].lower_ in self.rules.instruments:
                mentions.drop(mention)
                if doc[mention.start].text in self.rules.issuer_countries:  # "US Treasury bills"
                    mentions.put(mention.start, mention.start + 1, "COUNTRY")
                continue
            start = mention.start
            while start > 0 and mention.start - start < 2 and _names_place(doc, start - 1, mentions):
                start -= 1
            if start < mention.start:
                mentions.put(start, mention.end, "GOV_BODY")

    def _described(self, doc: Doc, mentions: _Mentions) -> None:
        """A name written right after the common noun that says what it is ("domestic exchange
        Sakurabit", "derivatives venue Tidewater", "blockchain analytics firm Norrbeck") is
        that, wherever the document writes it; unless two such nouns disagree."""
        described: dict[str, set[str]] = {}
        for mention in mentions:
            noun = doc[mention.start - 1] if mention.start > 0 else None
            # the tagger reads some of these nouns as verbs ("derivatives venue Tidewater");
            # of them only "exchange" is one ("traders exchange ...")
            if noun is not None and not (noun.lower_ == "exchange" and noun.tag_.startswith("VB")):
                label = self.rules.descriptors.get(noun.lower_)
                if label is not None:
                    described.setdefault(mentions.text(mention), set()).add(label)
        starting_at = {mention.start: mention for mention in mentions}
        for noun in doc:
            label = self.rules.list_descriptors.get(noun.lower_)
            if label is not None and noun.tag_ == "NNS":
                for mention in _listed_after(doc, starting_at, noun.i + 1):
                    described.setdefault(mentions.text(mention), set()).add(label)
        mentions.relabel_names({name: next(iter(labels)) for name, labels in described.items()
                                if len(labels) == 1}, DESCRIBED_OVERRIDES)

    def _venues(self, doc: Doc, mentions: _Mentions) -> None:
        """Things trade "on" a venue, never on a person: a name written after "on" ("the
        funding rate on Zentrex") that was read as a person is an exchange, wherever the
        document writes it. A name read as a token or a body is one where a market word comes
        shortly before ("traded as low as $0.912 on Quillon", "options expire on Optiva") and
        it is written as a name: capitalised, no cashtag, no ticker of its own. (Bodies keep
        their label otherwise: "pressure on the Commission".)"""
        venues: dict[str, str] = {}
        for mention in mentions:
            if mention.start == 0 or doc[mention.start - 1].lower_ != "on":
                continue
            if mention.label in VENUE_OVERRIDES or (
                mention.label in TRADED_VENUE_OVERRIDES and not mention.ticker
                and doc[mention.start].is_title and self._market_word_before(doc, mention.start - 1)
            ):
                venues[mentions.text(mention)] = "EXCHANGE"
        mentions.relabel_names(venues, VENUE_OVERRIDES + TRADED_VENUE_OVERRIDES)

    def _market_word_before(self, doc: Doc, end: int) -> bool:
        """Whether one of `venue_cues` comes in the VENUE_CUE_REACH tokens before `end`, in the
        same sentence."""
        for token in reversed(doc[max(0, end - VENUE_CUE_REACH):end]):
            if token.text in (".", "!", "?"):
                return False
            if token.lower_ in self.rules.venue_cues:
                return True
        return False

    def _tokens_by_their_units(self, doc: Doc, mentions: _Mentions) -> None:
        """ "Hoppo (HOPPO) jumped 38%" and, elsewhere, "sent 1.9 trillion HOPPO": a symbol
        that counts an amount is a token's, so the name it was given for is a token too,
        wherever the document writes either, whatever the recogniser made of them ("on Hoppo
        perpetuals" read as an exchange)."""
        tokens: dict[str, str] = {}
        for mention in mentions:
            match = mentions.ticker_after(mention)
            if match is not None and re.search(
                rf"\d(?:\s(?:{_SCALE_WORDS}))?\s\$?{re.escape(match['ticker'])}\b",
                mentions.doc_text,
            ):
                for name in (mentions.text(mention), match["ticker"]):
                    tokens[name] = tokens[f"${name}"] = "ASSET"  # cashtags too
        mentions.relabel_names(tokens, UNIT_OVERRIDES)

    def _consistent(self, doc: Doc, mentions: _Mentions) -> None:
        """One name, one label in a document: every mention of a name takes the label most of
        its mentions have (the first on a tie), and where the same words stand unrecognised
        elsewhere, or with only a part of them recognised, they are that name too."""
        labels: dict[str, list[str]] = {}
        for mention in mentions:
            labels.setdefault(mentions.text(mention), []).append(mention.label)
        for mention in mentions:
            votes = labels[mentions.text(mention)]
            mention.relabel(max(votes, key=lambda label: (votes.count(label), -votes.index(label))))
        for name, votes in labels.items():
            if len(name) < 3 or not name[:1].isupper() or doc.vocab[name.lower()].is_stop:
                continue
            label = max(votes, key=lambda label: (votes.count(label), -votes.index(label)))
            for start, end in _occurrences(doc, mentions.doc_text, name):
                # unrecognised there, or read as a part of it only ("Vault Exchange")
                if (start, end) not in mentions.by_span and all(
                    start <= m.start and m.end <= end for m in mentions.overlapping(start, end)
                ):
                    mentions.put(start, end, label)

    def _abbreviations(self, doc: Doc, mentions: _Mentions) -> None:
        """ "Kenya Revenue Authority (KRA)": the short form the text defines for a body, law or
        indicator is that entity wherever it is written."""
        defined: dict[str, str] = {}
        for mention in list(mentions):
            if mention.label not in ABBREVIATED_LABELS:
                continue
            match = _ABBREVIATION.match(mentions.doc_text, mentions.end_char(mention))
            if match is not None:
                defined.setdefault(match["short"], mention.label)
        for short, label in defined.items():
            for start, end in _occurrences(doc, mentions.doc_text, short):
                mentions.put(start, end, label)

    def _short_forms_of_settled_names(self, doc: Doc, mentions: _Mentions) -> None:
        """A name whose last word settles what it is ("Krasnet Exchange", "Oakhurst Ventures")
        settles its shorter forms too: a later "Krasnet" is the exchange, whatever the
        recogniser made of it; unless another longer name of another label shares the short
        form ("Ashbourne Digital", an exchange, and "Ashbourne Payments"), or a person named
        in the document has it as surname ("Ingrid Halvorsen", "Halvorsen & Pike Capital")."""
        surnames = _surnames_of_people(mentions)
        labels: dict[str, set[str]] = {}
        settled: set[str] = set()
        for mention in mentions:
            words = mentions.text(mention).split()
            if len(words) < 2 or mention.label not in ("COMPANY", "EXCHANGE", "FUND"):
                continue
            for form in _short_forms(doc, mentions.doc_text, mentions.text(mention))[1:]:
                labels.setdefault(form, set()).add(mention.label)
                if self.rules.heads.get(words[-1]) == mention.label:
                    settled.add(form)
        for mention in mentions:
            form = mentions.text(mention)
            agreed = labels.get(form, set())
            if form in settled and form not in surnames and len(agreed) == 1:
                label = next(iter(agreed))
                if mention.label in SHORT_FORM_LABELS.get(label, ()):
                    mention.label = label

    def _surnames(self, doc: Doc, mentions: _Mentions) -> None:
        """A person named in full is the person wherever the surname stands alone ("Babajide
        Coker ... Coker said") and was read as nothing or as an organisation; not where a longer
        name of another kind starts with it ("Halvorsen & Pike Capital": a lone "Halvorsen" may
        be the firm), nor over a place ("Jordan", "Córdoba" stay what the recogniser made them)."""
        firms = {words[0] for m in mentions
                 if m.label != "PERSON" and len(words := mentions.text(m).split()) > 1}
        # read before the loop below, which adds only one-word people
        full_names = {mentions.text(m) for m in mentions
                      if m.label == "PERSON" and len(mentions.text(m).split()) > 1}
        surnames = _surnames_of_people(mentions) - firms
        for surname in surnames:
            if len(surname) < 3 or not surname[:1].isupper():
                continue
            for start, end in _occurrences(doc, mentions.doc_text, surname):
                read_as = mentions.alone_at(start, end)
                if not mentions.overlapping(start, end) or (
                    read_as is not None and read_as.label in SURNAME_OVERRIDES
                ):
                    mentions.put(start, end, "PERSON")
        # a transcript's speaker labels and a byline in capitals ("HOLLOWAY:", "CLAIRE HOLLOWAY");
        # longer names first: "CLAIRE HOLLOWAY" whole, not its "HOLLOWAY"
        for name in sorted(full_names | surnames, key=len, reverse=True):
            if len(name) < 3 or name.upper() == name:
                continue
            for start, end in _occurrences(doc, mentions.doc_text, name.upper()):
                if not mentions.overlapping(start, end):
                    mentions.put(start, end, "PERSON")

    def _people_by_role(self, doc: Doc, mentions: _Mentions) -> None:
        """A name followed by the role its bearer holds is a person's: "Beatrix Yoon, rates
        strategist at ...", "Babajide Coker, chief investment officer of ...". Two to four
        capitalised words, where the recogniser read nothing or only a part of them as a
        person, or read the whole as a firm with no ticker and the role is one firms never
        hold ("chief investment officer", not "partner")."""
        for comma in (t for t in doc if t.text == ","):
            role = self._role_after(doc, comma.i + 1)
            if role is None:
                continue
            start = comma.i
            while start > 0 and comma.i - start < MAX_NAME_WORDS and _name_word(doc[start - 1]):
                start -= 1
            while start < comma.i and doc[start].lower_.rstrip(".") in self.rules.name_titles:
                start += 1  # "Lawmaker Fujita Daisuke": the title is no part of the name
            if comma.i - start < 2 or doc[start].is_stop:
                continue
            partly_read = all(m.label == "PERSON" and start <= m.start and m.end <= comma.i
                              for m in mentions.overlapping(start, comma.i))
            read_as = mentions.alone_at(start, comma.i)
            if partly_read or (
                role in self.rules.person_roles and read_as is not None
                and read_as.label in SURNAME_OVERRIDES and not read_as.ticker
            ):
                mentions.put(start, comma.i, "PERSON")

    @staticmethod
    def _bylines(doc: Doc, mentions: _Mentions) -> None:
        """A wire story's credits name people: "(Reporting by Dana Whitfield and Omar Reyes in
        New York; Editing by Martin Lowe)", whatever the recogniser made of the names."""
        for credit in _CREDIT.finditer(mentions.doc_text):
            for name in _CREDITED_NAME.finditer(credit["names"]):
                start = credit.start("names") + name.start()
                span = doc.char_span(start, start + len(name[0]), alignment_mode="strict")
                read_as = None if span is None else mentions.alone_at(span.start, span.end)
                if span is not None and (read_as is None or read_as.label != "PERSON") and all(
                    m.label in SURNAME_OVERRIDES or m is read_as
                    for m in mentions.overlapping(span.start, span.end)
                ):
                    mentions.put(span.start, span.end, "PERSON")

    def _role_after(self, doc: Doc, index: int) -> str | None:
        """The role in "[a|the] <up to ROLE_REACH words> <role> at|of|for|with|,|.", if any."""
        if index < len(doc) and doc[index].lower_ in ("a", "an", "the", "its", "their"):
            index += 1
        for position in range(index, min(index + ROLE_REACH + 1, len(doc) - 1)):
            token = doc[position]
            if not token.tag_.startswith(ROLE_WORD_TAGS):
                return None  # "Kallang Digital, as board chair": a role, but not this name's
            word = token.lower_
            if (word in self.rules.person_roles or word in self.rules.shared_roles) and (
                doc[position + 1].lower_ in ROLE_ENDS
            ):
                return word
        return None

    def _headline_tails(self, doc: Doc, mentions: _Mentions) -> None:
        """A title-case headline runs a name into the capitalised words after it ("Wexford
        Brokerage Swings to Profit", "Sunpad Memecoin Launches Slump"): where the document
        names a shorter start of it elsewhere, that is the name, with that mention's label."""
        named: dict[str, _Mention] = {}
        for mention in mentions:
            named.setdefault(mentions.text(mention), mention)
        for mention in list(mentions):
            if (mention.end - mention.start < 2 or mention.label == "LAW"
                    or not _in_title_case_line(doc, mentions.doc_text, mention.start)):
                continue
            if any(not _in_title_case_line(doc, mentions.doc_text, start)
                   for start, _ in _occurrences(doc, mentions.doc_text, mentions.text(mention))):
                continue  # the whole name is written in running text too
            for end in range(mention.end - 1, mention.start, -1):
                shorter = named.get(doc[mention.start : end].text)
                if shorter is not None and shorter.start != mention.start:
                    mentions.put(mention.start, end, shorter.label, shorter.ticker)
                    break

    def _not_names(self, doc: Doc, mentions: _Mentions) -> None:
        """What looks like a name and is not: a single capitalised word opening a sentence
        that the tagger reads as no noun ("Together, the funds ..."), a capitalised heading or
        dateline opening a line ("TULSA, Okla. —", "GOVERNANCE."), a period ("Q1 2025"), and a
        headline's verb taken into a name ("Wexford Brokerage Swings" -> "Wexford Brokerage"),
        and the words of analysts and accountants ("cut to Underperform", "Adjusted EBITDA"),
        and a legislator's party tag ("Sen. Lena Arquette (D-Nev.)")."""
        for match in _PARTY_TAG.finditer(mentions.doc_text):
            tag = doc.char_span(*match.span(), alignment_mode="expand")
            for mention in mentions.overlapping(tag.start, tag.end):
                mentions.drop(mention)
        for mention in list(mentions):
            token = doc[mention.start]
            single = mention.end - mention.start == 1
            if mentions.text(mention) in self.rules.never_names:
                mentions.drop(mention)
            elif single and token.is_sent_start and not mention.ticker and token.tag_ and (
                not token.tag_.startswith("NN")
            ):
                mentions.drop(mention)
            elif (not mention.ticker and _opens_line(doc, mention.start)
                  and all(t.is_upper and t.is_alpha and len(t) > 3
                          for t in doc[mention.start : mention.end])
                  and (mention.end == len(doc) or doc[mention.end].text in HEADING_ENDS
                       or doc[mention.end].is_space)):
                mentions.drop(mention)
            elif not mention.ticker and _in_capitals_heading(mentions.doc_text,
                                                             doc[mention.start].idx):
                mentions.drop(mention)  # "BY THE NUMBERS"
            elif _PERIOD.fullmatch(mentions.text(mention)):
                mentions.drop(mention)
            elif mention.label == "LAW" and not single and (
                not any(t.lower_ in self.rules.law_words or t.like_num
                        for t in doc[mention.start : mention.end])
                or any(t.lower_ in MONTHS for t in doc[mention.start : mention.end])
            ):
                mentions.drop(mention)  # "the Middle East", a date
            elif not single and doc[mention.end - 1].tag_.startswith("VB"):
                mentions.put(mention.start, mention.end - 1, mention.label, mention.ticker)

    def _cashtags(self, doc: Doc, mentions: _Mentions) -> None:
        """A cashtag ("$WOOF") is a token or a stock, not a fund, unless the text states it
        for one."""
        for mention in mentions:
            written = mentions.text(mention)
            if (mention.label == "FUND" and written.startswith("$")
                    and mention.ticker not in self._fund_tickers(mentions)):
                mention.label = "ASSET"

    @staticmethod
    def _currency_units(doc: Doc, mentions: _Mentions) -> None:
        """A currency code or symbol written before an amount ("EUR 45 million", "TL 39.71") is
        the amount's unit, not a traded asset the story is about, nor with the amount a name."""
        for mention in list(mentions):
            first = doc[mention.start]
            after = mention.start + 1
            if (first.text in CURRENCY_CODES or first.text in CURRENCY_SYMBOLS) and (
                after < len(doc) and doc[after].like_num
            ):
                mentions.drop(mention)

    @staticmethod
    def _fund_tickers(mentions: _Mentions) -> set[str]:
        return {m.ticker for m in mentions if m.label == "FUND" and m.ticker
                and not mentions.text(m).startswith("$")}

    def _heads(self, mentions: _Mentions) -> None:
        for mention in mentions:
            words = mentions.text(mention).split()
            # "Ministry of Energy": the name's head comes before "of", not at its end
            label = (self.rules.heads.get(words[-1])
                     if len(words) > 1 and "of" not in words else None)
            if label is not None:
                mention.relabel(label)


class _Tickers:
    """The tickers one document states, and the names it states them for."""

    def __init__(self, doc: Doc, mentions: _Mentions) -> None:
        self.doc = doc
        self.mentions = mentions
        self.named: dict[tuple[str, str], str] = {}  # (name as written, label) -> ticker
        self.stated: set[str] = set()  # tickers the text writes as such

    def link(self) -> None:
        self._listings()
        self._under_symbol()
        self._parenthesised()
        self._repeats()
        self._symbols()
        self._possessed_symbols()
        self._names()

    def _state(self, name: _Mention | None, ticker: str) -> None:
        self.stated.add(ticker)
        if name is not None:
            name.ticker = ticker
            self.named[(self.mentions.text(name), name.label)] = ticker

    def _listings(self) -> None:
        """"Name (NASDAQ: NGDH)": an exchange, a ticker, and the name they belong to."""
        doc, mentions = self.doc, self.mentions
        for match in _LISTING.finditer(mentions.doc_text):
            exchange = doc.char_span(*match.span("exchange"), alignment_mode="strict")
            ticker = doc.char_span(*match.span("ticker"), alignment_mode="strict")
            if exchange is None or ticker is None:
                continue
            name = mentions.ending_before(match.start())
            if name is not None and name.label not in TICKER_LABELS:
                name = None
            label = "FUND" if name is not None and name.label == "FUND" else "COMPANY"
            mentions.put(exchange.start, exchange.end, "EXCHANGE")
            mentions.put(ticker.start, ticker.end, label, match["ticker"])
            self._state(name, match["ticker"])

    def _under_symbol(self) -> None:
        doc, mentions = self.doc, self.mentions
        for match in _UNDER_SYMBOL.finditer(mentions.doc_text):
            ticker = doc.char_span(*match.span("ticker"), alignment_mode="strict")
            if ticker is None:
                continue
            names = [m for m in mentions if m.end <= ticker.start and m.label in LISTED_LABELS]
            if names:
                mentions.put(ticker.start, ticker.end, names[-1].label, match["ticker"])
                self._state(names[-1], match["ticker"])

    def _parenthesised(self) -> None:
        """"Kestrel Bitcoin Strategy ETF (KBTS)", "Solvane (SLV)"."""
        doc, mentions = self.doc, self.mentions
        for mention in list(mentions):
            if mention.label not in TICKER_LABELS:
                continue
            match = mentions.ticker_after(mention)
            if match is None:
                continue
            ticker = doc.char_span(*match.span("ticker"), alignment_mode="strict")
            if ticker is not None:
                mentions.put(ticker.start, ticker.end, mention.label, match["ticker"])
                self._state(mention, match["ticker"])

    def _possessed_symbols(self) -> None:
        """ "Strata's STRA slides 9%": a name followed by the token symbol that spells its
        first letters is that token (ASSET), wherever written. A venue keeps its label, and a
        symbol that only abbreviates a name says nothing ("Kestrel Swap's KSW token": the
        exchange's token)."""
        doc, mentions = self.doc, self.mentions
        tokens: dict[str, str] = {}
        for mention in mentions:
            end = mention.end
            if mention.label in ("ASSET", "EXCHANGE") or end + 1 >= len(doc) or (
                doc[end].text not in POSSESSIVES
            ):
                continue
            symbol = mentions.alone_at(end + 1, end + 2)
            name = mentions.text(mention)
            if (symbol is not None and symbol.label == "ASSET" and symbol.ticker
                    and len(symbol.ticker) >= 2
                    and name.replace(" ", "").upper().startswith(symbol.ticker)):
                tokens[name] = symbol.ticker
        for mention in mentions:
            ticker = tokens.get(mentions.text(mention))
            if ticker is not None:
                mention.relabel("ASSET")
                self._state(mention, ticker)

    def _repeats(self) -> None:
        """Every other mention of a stated ticker ("MKVT traded", "$MKVT") or of a name stated
        with one is that entity, whatever the recogniser made of it there."""
        doc, mentions = self.doc, self.mentions
        label_of = {ticker: label for (_, label), ticker in self.named.items()}
        for token in doc:
            if token.text not in label_of:
                continue
            start = token.i - 1 if token.i > 0 and doc[token.i - 1].text == "$" else token.i
            mentions.put(start, token.i + 1, label_of[token.text], token.text)
        for (name, label), ticker in self.named.items():
            for form in _short_forms(doc, mentions.doc_text, name):
                for start, end in _occurrences(doc, mentions.doc_text, form):
                    if not mentions.covered(start, end):
                        mentions.put(start, end, label, ticker)

    def _symbols(self) -> None:
        """"$NGDH", "NGDH shares": tickers; a COMPANY or FUND written as one is its own."""
        doc = self.doc
        for mention in self.mentions:
            written = self.mentions.text(mention)
            if written.startswith("$") and _SYMBOL.fullmatch(written):
                self.stated.add(written[1:])
        for token in doc:
            if token.text in SHARE_WORDS and token.i > 0 and _SYMBOL.fullmatch(doc[token.i - 1].text):
                self.stated.add(doc[token.i - 1].text.lstrip("$"))
        for mention in self.mentions:
            written = self.mentions.text(mention)
            if mention.ticker or mention.label not in TICKER_LABELS or mention.label == "EXCHANGE":
                continue
            if _SYMBOL.fullmatch(written) and (mention.label == "ASSET" or written.startswith("$")
                                               or written.lstrip("$") in self.stated):
                mention.ticker = written.lstrip("$")

    def _names(self) -> None:
        """A name stated with a ticker, or the start of one of the same label ("Northgate" for
        "Northgate Digital Holdings, Inc."), has that ticker everywhere."""
        for mention in self.mentions:
            if mention.ticker or mention.label not in TICKER_LABELS:
                continue
            written = self.mentions.text(mention)
            if (written, mention.label) in self.named:
                mention.ticker = self.named[(written, mention.label)]
                continue
            words = _core_words(written)
            for (name, label), ticker in self.named.items():
                named = _core_words(name)
                if words and label == mention.label and (
                    named[: len(words)] == words or words[: len(named)] == named
                ):
                    mention.ticker = ticker
                    break


def _listed_after(doc: Doc, starting_at: dict[int, _Mention], index: int) -> list[_Mention]:
    """The mentions listed from token `index` on, after an optional "such as", "including",
    "like", comma or colon, joined by commas, "and" and "or": "exchanges such as X, Y and Z"."""
    if doc[index : index + 2].text.lower() == "such as":
        index += 2
    elif index < len(doc) and doc[index].lower_ in LIST_OPENERS:
        index += 1
    listed: list[_Mention] = []
    while index in starting_at and len(listed) < MAX_LISTED:
        listed.append(starting_at[index])
        index = listed[-1].end
        while index < len(doc) and doc[index].lower_ in LIST_JOINERS:
            index += 1
    return listed


def _short_forms(doc: Doc, text: str, name: str) -> list[str]:
    """`name` and the shorter forms a later mention may take: its leading words without the
    corporate ending ("Northgate Digital", "Northgate" of "Northgate Digital Holdings, Inc."),
    longest first; a single word only if capitalised, not a stop word and never written in
    lower case in the document ("First" of "First Tidewater Trust" is no name)."""
    forms = [name]
    words = _core_words(name)
    for size in range(len(words) - 1, 0, -1):
        form = " ".join(words[:size])
        if size == 1 and (not form[:1].isupper() or doc.vocab[form.lower()].is_stop
                          or re.search(rf"(?<!\w){re.escape(form.lower())}(?!\w)", text)):
            continue
        forms.append(form)
    return forms


def _name_word(token: Token) -> bool:
    """A capitalised word of a person's name ("Okafor-Blythe", "O'Neill"), not all capitals."""
    text = token.text
    return (text[:1].isupper() and any(c.islower() for c in text)
            and text.replace("-", "").replace("'", "").replace("’", "").isalpha())


def _in_capitals_heading(text: str, char: int) -> bool:
    """Whether the line holding `char` is a short heading in capitals ("BY THE NUMBERS", "ON
    OUR RADAR"): no gold article or training document has a name in one."""
    start = text.rfind("\n", 0, char) + 1
    end = text.find("\n", char)
    line = text[start : end if end >= 0 else len(text)]
    return not any(c.islower() for c in line) and len(line.split()) <= MAX_HEADING_WORDS


def _opens_line(doc: Doc, index: int) -> bool:
    """Whether token `index` is the first of the text or of a line."""
    if index == 0:
        return True
    previous = doc[index - 1]
    return "\n" in previous.whitespace_ or (previous.is_space and "\n" in previous.text)


def _surnames_of_people(mentions: _Mentions) -> set[str]:
    """The last words of the people a document names in full."""
    return {words[-1] for m in mentions
            if m.label == "PERSON" and len(words := mentions.text(m).split()) > 1}


def _in_title_case_line(doc: Doc, text: str, index: int) -> bool:
    """Whether token `index` stands in a line written as a title-case headline: no full stop
    at its end, and its longer words nearly all capitalised."""
    char = doc[index].idx
    start = text.rfind("\n", 0, char) + 1
    end = text.find("\n", char)
    line = text[start : end if end >= 0 else None].strip()
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z'-]*", line) if len(w) > 3]
    return (not line.endswith(".") and len(words) >= 3
            and sum(w[0].isupper() for w in words) >= TITLE_CASE_SHARE * len(words))


def _names_place(doc: Doc, index: int, mentions: _Mentions) -> bool:
    """Whether token `index` is a place or people's name that belongs to the government name
    after it: capitalised, read as a proper noun or adjective, not opening a sentence, and no
    part of another entity unless a one-word place or body."""
    token = doc[index]
    if not token.is_title or token.is_sent_start or token.tag_ not in ("NNP", "NNPS", "JJ"):
        return False
    read_as = mentions.alone_at(index, index + 1)
    return not mentions.overlapping(index, index + 1) or (
        read_as is not None and read_as.label in ("COUNTRY", "GOV_BODY"))


def _occurrences(doc: Doc, text: str, name: str) -> list[tuple[int, int]]:
    """Token spans where `name` is written as whole words."""
    found = []
    for match in re.finditer(rf"(?<![\w$]){re.escape(name)}(?!\w)", text):
        span = doc.char_span(*match.span(), alignment_mode="strict")
        if span is not None:
            found.append((span.start, span.end))
    return found


def _ticker_of(ent: Span) -> str:
    return ent._.ticker or ""


_ENDING_WORDS = frozenset({"inc", "corp", "co", "ltd", "llc", "llp", "lp", "plc", "ag", "sa",
                           "nv", "bv", "asa", "ab", "gmbh", "se", "oyj", "pty", "limited", "spa",
                           "kk", "bhd", "holdings", "group"})


def _core_words(name: str) -> list[str]:
    """The words of a name without its corporate ending ("Northgate Digital" of "Northgate
    Digital Holdings, Inc.")."""
    words = name.replace(",", " ").split()
    while words and words[-1].replace(".", "").lower() in _ENDING_WORDS:
        words.pop()
    return words


@Language.factory("newsignal_entity_context", default_config={"rules_path": None})
def make_entity_context(nlp: Language, name: str, rules_path: str | None) -> EntityContext:
    path = (Path(rules_path) if rules_path
            else Path(__file__).resolve().parents[2] / "models" / "entity_rules.yaml")
    return EntityContext(name, EntityRules.load(path))

"""Turn a fetched page into the article: main text, title, date, authors, language, canonical URL.

`extract_article(html, url)` never touches the network and never raises for a bad page: an
unusable page comes back as an `Article` with empty text and a short `reject_reason`.

Main text, on one parse of the page: nodes whose class or id name boilerplate (related teasers,
newsletter and cookie boxes, share bars) are removed; trafilatura's precise mode reads the page
(its full mode when that reading is too short to be a story), and where it left lists or
subheadings out of the story, paragraphs of its recall mode that lie inside that reading's span
are taken in; paragraphs that are boilerplate by their wording (disclaimers, chart captions,
reprint notices, share buttons) are dropped. When that text covers little of the page, the recall
and a jusText pass are run and a small learned chooser (`pipeline/extract_choice.py`) decides
whether one of them replaces it, unless it mostly adds other stories' `<article>` elements.
Every step was measured on the dev halves of both benchmarks (`benchmarks/extraction_ablation.py`,
models/EXTRACTION_CARD.md).
"""

from __future__ import annotations

import codecs
import copy
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from pipeline.decode import decode_html
from pipeline.extract_choice import (
    Chooser,
    reads_other_stories,
    shipped_chooser,
    visible_words,
    within_span,
)
from pipeline.records import Article

# Pages beyond this are truncated before parsing: real articles are far smaller (the largest page of
# the benchmark is 1.5 MB) and parsing time grows with size.
MAX_HTML_CHARS = 3_000_000
# trafilatura's time grows faster than linearly with the number of elements, so markup is also cut
# after this many tags (the busiest benchmark page has about 3,200).
MAX_HTML_TAGS = 20_000
# Below this the precise mode probably missed the story: run trafilatura's full mode instead.
PRECISE_MIN_CHARS = 500
# Less text than this is not an article (a stub, an error page, a paywall teaser).
MIN_ARTICLE_CHARS = 150
LANGUAGE_SAMPLE_CHARS = 2000
# The recall pass widens the precise reading where it left out at least this many words of
# lists, subheadings, tables or quotes inside the story's container (chosen on the dev halves).
RECALL_MIN_DROPPED_WORDS = 80
# A declared listing is an index page when its text shows this many linked headlines, making up
# this share of its words (a listicle links a few of its items; a listing is mostly headlines).
INDEX_MIN_HEADLINES = 3
INDEX_MIN_HEADLINE_SHARE = 0.1
TEASER_MIN_WORDS = 4

_BLOCK_CHILDREN = {"p", "head", "list", "table", "quote", "code", "div", "lb"}

# -- decoding -------------------------------------------------------------------------------------

_TAG_START = re.compile(r"<[A-Za-z/!]")
_CONTROL_CHAR = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
_HTML_MARKER = re.compile(
    r"<\s*(?:!doctype\s+html|html|head|body|title|meta|p|div|article|main|h1|section)\b",
    re.IGNORECASE,
)
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _decode(html: str | bytes) -> tuple[str | None, str | None]:
    """The markup as text, or None and the reason it is unusable."""
    if isinstance(html, bytes):
        raw = html[: MAX_HTML_CHARS * 2]
        if not raw.strip():
            return None, "empty_page"
        if b"\x00" in raw[:8192] and not raw.startswith(_UTF16_BOMS):
            return None, "not_html"
        markup, _ = decode_html(raw)
    else:
        markup = html
    markup = _cap_tags(markup[:MAX_HTML_CHARS])
    if not markup.strip():
        return None, "empty_page"
    head = markup[:65536]
    controls = len(_CONTROL_CHAR.findall(head))
    if "\x00" in head or controls > len(head) * 0.01 or head.count("\ufffd") > len(head) * 0.05:
        return None, "not_html"
    if not _HTML_MARKER.search(head):
        return None, "not_html"
    return markup, None


def _cap_tags(markup: str) -> str:
    if markup.count("<") <= MAX_HTML_TAGS:  # cheap bound: every tag starts with "<"
        return markup
    for count, match in enumerate(_TAG_START.finditer(markup), start=1):
        if count > MAX_HTML_TAGS:
            return markup[: match.start()]
    return markup


def _parse(markup: str) -> lxml.html.HtmlElement | None:
    # lxml refuses str input that still declares an encoding.
    markup = _XML_DECLARATION.sub("", markup, count=1)
    try:
        tree = lxml.html.document_fromstring(
            markup, parser=lxml.html.HTMLParser(remove_comments=True, remove_pis=True)
        )
    except (etree.ParserError, ValueError):
        return None
    return tree if tree.find("body") is not None or len(tree) else None


# -- boilerplate nodes ----------------------------------------------------------------------------

# A class or id token naming one of these marks a box that is never the story.
_BOILERPLATE_NAME = re.compile(
    r"(?:^|[-_ ])(?:related|recommend(?:ed|ations)?|more-?stories|also-?read|"
    r"newsletter|subscribe|subscription|signup|sign-up|cookie|cookies|consent|gdpr|"
    r"share|sharing|social|sharebar|share-?buttons|disclaimer|promo|teaser|"
    r"trending|popular|most-?read|breadcrumbs?|tags?|author-?bio|comments?)(?:$|[-_ ])",
    re.IGNORECASE,
)


def _remove_boilerplate_nodes(tree: lxml.html.HtmlElement) -> None:
    doomed = []
    for element in tree.iter("div", "section", "aside", "ul", "ol", "nav", "footer", "form"):
        names = f"{element.get('class', '')} {element.get('id', '')}"
        if names.strip() and _BOILERPLATE_NAME.search(names):
            doomed.append(element)
    for element in doomed:
        parent = element.getparent()
        if parent is not None and not _holds_main_story(element):
            element.drop_tree()


def _holds_main_story(element: lxml.html.HtmlElement) -> bool:
    """A wrapper that merely carries a matching name: it holds long paragraphs or an article."""
    if element.find(".//article") is not None or element.find(".//h1") is not None:
        return True
    long_paragraphs = 0
    for paragraph in element.iter("p"):
        if len(paragraph.text_content()) > 400:
            long_paragraphs += 1
            if long_paragraphs >= 3:
                return True
    return False


# -- candidate texts ------------------------------------------------------------------------------
# Each candidate is one extractor's reading of the same parsed page, as paragraphs split by a blank
# line. trafilatura's precise mode is the cheap default, widened by its recall mode; the recall
# reading and a jusText pass are the alternatives the chooser weighs on a doubtful page
# (pipeline/extract_choice.py).


def trafilatura_text(tree: lxml.html.HtmlElement, url: str, **mode: bool) -> str:
    """trafilatura's main text (comments excluded) in one of its modes; it works on a copy."""
    from trafilatura import bare_extraction

    document = bare_extraction(tree, url=url or None, include_comments=False,
                               with_metadata=False, fast=True, **mode)
    return _render(document.body) if document is not None else ""


def justext_text(tree: lxml.html.HtmlElement, language: str | None) -> str:
    """jusText's non-boilerplate paragraphs, with the stop words of `language` when it has them
    (else those of every language)."""
    from trafilatura.baseline import basic_cleaning
    from trafilatura.external import try_justext

    body = try_justext(basic_cleaning(copy.deepcopy(tree)), None, language)
    return "\n\n".join(text for paragraph in body if (text := _squeeze(paragraph.text)))


@dataclass(slots=True)
class Readings:
    """The texts one page gives: the base (precise mode, or full mode when that is short, widened
    by the recall mode within its span where the page shows dropped structure) and, on a
    doubtful page, the alternatives the chooser weighs."""

    base: str
    alternatives: dict[str, str]
    page_words: int
    doubtful: bool
    language: str | None = None


def _precise_text(tree: lxml.html.HtmlElement, url: str, title: str) -> str:
    """trafilatura's precise reading, its full mode when that is too short (cleaned)."""
    precise = trafilatura_text(tree, url, favor_precision=True)
    if len(precise) < PRECISE_MIN_CHARS:
        fuller = _full_mode_text(tree, url)
        if len(fuller) > len(precise):
            precise = fuller
    return _clean_text(precise, title)


def _full_mode_text(tree: lxml.html.HtmlElement, url: str) -> str:
    """trafilatura's full mode: its own extraction weighed against readability and jusText."""
    from trafilatura import bare_extraction

    document = bare_extraction(tree, url=url or None, include_comments=False, with_metadata=False)
    return _render(document.body) if document is not None else ""


_STRUCTURE = ("li", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "dt", "dd",
              "figcaption")


def dropped_structure_words(tree: lxml.html.HtmlElement, text: str) -> int | None:
    """Words of lists, subheadings, tables and quotes inside the story's container that `text`
    lacks: what the precise mode drops and the recall mode brings back. The container is the
    nearest element holding the first and the last paragraph of `text` found in the page; None
    when they cannot be found."""
    paragraphs = {_squeeze(block) for block in text.split("\n\n") if block.strip()}
    found = [p for p in tree.iter("p") if _squeeze(p.text_content()) in paragraphs]
    if len(found) < 2:
        return None
    above_first = set(found[0].iterancestors())
    container = next((a for a in found[-1].iterancestors() if a in above_first), None)
    if container is None:
        return None
    flat = _squeeze(text)
    words = 0
    for element in container.iter(*_STRUCTURE):
        piece = _squeeze(element.text_content())
        if piece.count(" ") >= 1 and piece not in flat:
            words += piece.count(" ") + 1
    return words


def page_readings(tree: lxml.html.HtmlElement, url: str, title: str,
                  chooser: Chooser) -> Readings:
    """The base text of a page (boilerplate nodes already removed) and, where `chooser` finds
    it doubtful, the alternative readings. The recall pass runs only where it can matter: where
    the precise reading left structure out of its container (then its paragraphs within the
    base's span are taken in), or on a doubtful page (as an alternative)."""
    precise = _precise_text(tree, url, title)
    page_words = visible_words(tree)
    readings = Readings(precise, {}, page_words, chooser.doubtful(precise, page_words))
    dropped = dropped_structure_words(tree, precise)
    widen = dropped is None or dropped >= RECALL_MIN_DROPPED_WORDS
    if widen or readings.doubtful:
        recall = _clean_text(trafilatura_text(tree, url, favor_recall=True), title)
        # Doubt alone does not widen the base: on the dev halves that took in linked teasers
        # and captions around stories whose structure the precise mode had kept.
        if widen:
            readings.base = within_span(precise, recall)
        readings.alternatives["recall"] = recall
    readings.language = detect_language(readings.base or readings.alternatives.get("recall", ""))
    if readings.doubtful:
        # A readability pass and trafilatura's full mode were measured as alternatives too and
        # left out: they led the chooser to wrong switches on the dev halves.
        readings.alternatives["justext"] = _clean_text(
            justext_text(tree, readings.language), title
        )
        readings.alternatives = {
            name: text for name, text in readings.alternatives.items()
            if not (chooser.weighed(readings.base, text)
                    and reads_other_stories(tree, readings.base, text))
        }
    return readings


def readings_of_page(html: str | bytes, url: str, chooser: Chooser) -> Readings | None:
    """A page's readings as `extract_article` sees them (None for unusable input); for training
    and measuring the chooser."""
    markup, _reason = _decode(html)
    tree = _parse(markup) if markup is not None else None
    if tree is None:
        return None
    ld_objects = _json_ld_objects(tree)
    ld = _article_ld(ld_objects)
    meta = _meta(tree)
    title = _title(tree, ld, meta, _site_name(ld_objects, ld, meta, url))
    _remove_boilerplate_nodes(tree)
    return page_readings(tree, url, title, chooser)


def _main_text(tree: lxml.html.HtmlElement, url: str, title: str) -> tuple[str, str | None]:
    """The base text and its language; on a doubtful page, the reading the chooser prefers."""
    chooser = shipped_chooser()
    readings = page_readings(tree, url, title, chooser)
    if not readings.doubtful:
        return readings.base, readings.language
    choice = chooser.choose(readings.base, readings.alternatives, readings.language)
    if choice == "base":
        return readings.base, readings.language
    text = readings.alternatives[choice]
    return text, detect_language(text)


def _render(body: etree._Element | None) -> str:
    """trafilatura's XML body as text: blank line between paragraphs, one line per heading,
    list item and table row."""
    if body is None:
        return ""
    blocks: list[str] = []
    _render_children(body, blocks)
    return "\n\n".join(block for block in blocks if block)


def _squeeze(text: str | None) -> str:
    return " ".join(text.split()) if text else ""


def _inline_text(element: etree._Element) -> str:
    return _squeeze("".join(element.itertext()))


def _render_children(element: etree._Element, blocks: list[str]) -> None:
    """Each child as its blocks; loose text between children (`.text`, tails) is a paragraph."""
    blocks.append(_squeeze(element.text))
    for child in element:
        _render_block(child, blocks)
        blocks.append(_squeeze(child.tail))


def _render_block(element: etree._Element, blocks: list[str]) -> None:
    tag = element.tag
    if tag == "list":
        items = [_inline_text(item) for item in element.iter("item")]
        blocks.append("\n".join(f"- {item}" for item in items if item))
    elif tag == "table":
        rows = []
        for row in element.iter("row"):
            cells = [_inline_text(cell) for cell in row.iter("cell")]
            rows.append(" | ".join(cell for cell in cells if cell))
        blocks.append("\n".join(row for row in rows if row))
    elif tag in {"div", "quote"} and any(child.tag in _BLOCK_CHILDREN for child in element):
        _render_children(element, blocks)
    else:
        blocks.append(_inline_text(element))


# -- boilerplate paragraphs -----------------------------------------------------------------------

_BOILERPLATE_PARAGRAPH = re.compile(
    r"""^(?:
        (?:disclaimer|risk\ warning|haftungsausschluss|면책\s*조항|免責|免责声明)\s*[:：]
      | this\ copy\ is\ for\ your\ personal,\ non-commercial\ use
      | (?:share|tweet|print|email|e-mail|order\ reprints|print\ article|copy\ link|comments?|
           advertisement|read\ more|related(?:\ articles?|\ stories)?|follow\ us.*|tags?|
           share\ this(?:\ article|\ story)?.*|subscribe|sign\ up)\s*[:.!]?$
      | https?://\S+$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# Short paragraphs that point elsewhere or credit a picture: "Also on ...", "Read more: ...",
# "Tags: ...", "Photo © ...", "Like this story? Share it".
_SHORT_BOILERPLATE = re.compile(
    r"^(?:also\ (?:on|read|see)|read\ (?:more|also|next)|see\ also|related|tags?|tagged|topics)\b"
    r"|©|\bcopyright\b|\bshare\ (?:it|this)\b",
    re.IGNORECASE | re.VERBOSE,
)
# "Crypto market liquidations data. Source: CoinGlass": a chart caption, not prose.
_CAPTION = re.compile(r"^[^\n]{0,160}?(?:source|chart|image|photo|credit)s?\s*:\s*[^.\n]{1,60}$",
                      re.IGNORECASE)


def _is_button_or_notice(paragraph: str) -> bool:
    return bool(_BOILERPLATE_PARAGRAPH.match(paragraph))


def _is_short_pointer(paragraph: str) -> bool:
    return len(paragraph.split()) <= 16 and bool(_SHORT_BOILERPLATE.search(paragraph))


def _is_caption(paragraph: str) -> bool:
    return len(paragraph.split()) <= 16 and bool(_CAPTION.match(paragraph))


# Each rule was measured on both dev halves (models/EXTRACTION_CARD.md); the ablation script
# `benchmarks/extraction_ablation.py` switches them off one by one.
PARAGRAPH_RULES = {
    "buttons_and_notices": _is_button_or_notice,
    "short_pointers": _is_short_pointer,
    "captions": _is_caption,
}


DROP_REPEATED_HEADLINE = True


def _is_boilerplate(paragraph: str) -> bool:
    return any(rule(paragraph) for rule in PARAGRAPH_RULES.values())


def _comparable(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def headed_text(title: str, text: str) -> str:
    """The text the NLP stages read and every tag's offsets point into: the headline, then the
    body. The extractor leaves a headline out of the body, as the extraction benchmarks score
    it, but the headline is often an article's main catalyst."""
    title = title.strip()
    first = text.split("\n\n", 1)[0]
    if not title or not text or f" {_comparable(title)} " in f" {_comparable(first)} ":
        return text
    return f"{title}\n\n{text}"


def _clean_text(text: str, title: str = "") -> str:
    """Drop boilerplate paragraphs, and a first paragraph that only repeats the headline."""
    kept = [block for block in text.split("\n\n") if block and not _is_boilerplate(block)]
    if DROP_REPEATED_HEADLINE and kept and title and _comparable(kept[0]) == _comparable(title):
        kept.pop(0)
    return "\n\n".join(kept)


# -- metadata -------------------------------------------------------------------------------------


def _json_ld_objects(tree: lxml.html.HtmlElement) -> list[dict]:
    objects: list[dict] = []
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except (json.JSONDecodeError, RecursionError):
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                objects.append(item)
                if "@graph" in item:
                    stack.append(item["@graph"])
    return objects


_ARTICLE_TYPES = re.compile(r"Article|BlogPosting|Report|LiveBlogPosting|PressRelease", re.I)


def _types(obj: dict) -> list[str]:
    kind = obj.get("@type", [])
    return [kind] if isinstance(kind, str) else [k for k in kind if isinstance(k, str)]


def _article_ld(objects: list[dict]) -> dict:
    for obj in objects:
        if any(_ARTICLE_TYPES.search(kind) for kind in _types(obj)):
            return obj
    return {}


def _meta(tree: lxml.html.HtmlElement) -> dict[str, str]:
    """meta tags by lower-cased property/name/itemprop; the first occurrence wins."""
    found: dict[str, str] = {}
    for element in tree.iter("meta"):
        key = element.get("property") or element.get("name") or element.get("itemprop")
        content = element.get("content")
        if key and content and content.strip():
            found.setdefault(key.strip().lower(), content.strip())
    return found


def _first_text(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, list) and value:
        return _first_text(value[0])
    if isinstance(value, dict):
        return _first_text(value.get("name") or value.get("@id"))
    return None


# -- dates ----------------------------------------------------------------------------------------

_MONTHS = {name: number for number, names in enumerate(
    [("jan", "january", "januar", "janvier"), ("feb", "february", "februar", "février"),
     ("mar", "march", "märz", "mars"), ("apr", "april", "avril"), ("may", "mai"),
     ("jun", "june", "juni", "juin"), ("jul", "july", "juli", "juillet"),
     ("aug", "august", "août"), ("sep", "sept", "september", "septembre"),
     ("oct", "october", "oktober", "octobre"), ("nov", "november", "novembre"),
     ("dec", "december", "dezember", "décembre")], start=1) for name in names}
_ZONES = {"utc": 0, "gmt": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "pst": -8,
          "pdt": -7, "cet": 1, "cest": 2, "bst": 1, "kst": 9, "jst": 9, "sgt": 8, "hkt": 8}
_MONTH_NAME = r"(?P<month>[A-Za-zäéû]{3,9})\.?"
_CLOCK = (r"(?:,?\s*(?:at\s+)?(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::\d{2})?\s*"
          r"(?P<ampm>[ap]\.?m\.?)?\s*(?P<zone>UTC|GMT|[ECPB]S?[DS]?T|CES?T|KST|JST|SGT|HKT)?"
          r"(?P<offset>\s*[+-]\d{1,2}(?::?\d{2})?)?)?")
_VISIBLE_DATES = [
    re.compile(_MONTH_NAME + r"\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>20\d\d)" + _CLOCK,
               re.IGNORECASE),
    re.compile(r"(?P<day>\d{1,2})\.?\s+" + _MONTH_NAME + r",?\s+(?P<year>20\d\d)" + _CLOCK,
               re.IGNORECASE),
    re.compile(r"(?P<year>20\d\d)[-/.](?P<mnum>\d{1,2})[-/.](?P<day>\d{1,2})\b" + _CLOCK),
    re.compile(r"(?P<year>20\d\d)\s*년\s*(?P<mnum>\d{1,2})\s*월\s*(?P<day>\d{1,2})\s*일" + _CLOCK),
]
_BYLINE_HINT = re.compile(
    r"\b(?:published|posted|updated|last updated|veröffentlicht|date)\b|입력|게시|发布",
    re.IGNORECASE,
)
_URL_DATE = re.compile(r"/(?P<year>20\d\d)[/-](?P<mnum>\d{1,2})[/-](?P<day>\d{1,2})(?:/|-|$)")
_DATE_META_KEYS = (
    "article:published_time", "og:article:published_time", "datepublished", "pubdate",
    "publishdate", "publish-date", "publish_date", "parsely-pub-date", "sailthru.date",
    "dc.date.issued", "dcterms.created", "dc.date", "date", "article.published", "og:pubdate",
)


def parse_date(value: str) -> datetime | None:
    """A machine-readable date string (ISO 8601, RFC 2822, epoch seconds) as UTC, else None.

    A value without a time zone is taken as UTC.
    """
    value = value.strip()
    if not value:
        return None
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "T", 1) if " " in value[:11] else value)
    except ValueError:
        if value.isdigit() and len(value) in (10, 13):
            parsed = datetime.fromtimestamp(int(value[:10]), tz=UTC)
        # The written forms first: the RFC 2822 parser accepts almost anything and misreads it.
        elif (parsed := _parse_visible_date(value)) is None:
            try:
                parsed = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
    if parsed is None:
        return None
    return _as_utc(parsed)


def _as_utc(moment: datetime) -> datetime | None:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment if 1990 <= moment.year <= datetime.now(UTC).year + 1 else None


def _parse_visible_date(text: str) -> datetime | None:
    for pattern in _VISIBLE_DATES:
        for match in pattern.finditer(text):
            moment = _date_from_match(match)
            if moment is not None:
                return moment
    return None


def _date_from_match(match: re.Match[str]) -> datetime | None:
    fields = match.groupdict()
    if fields.get("month"):
        month = _MONTHS.get(fields["month"].lower().rstrip("."))
    else:
        month = int(fields["mnum"])
    if not month:
        return None
    hour = minute = 0
    offset = timedelta(0)
    if fields.get("hour"):
        hour, minute = int(fields["hour"]), int(fields["minute"])
        ampm = (fields.get("ampm") or "").replace(".", "").lower()
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        if fields.get("zone"):
            offset = timedelta(hours=_ZONES.get(fields["zone"].lower(), 0))
        if fields.get("offset"):
            sign = -1 if "-" in fields["offset"] else 1
            digits = fields["offset"].strip().lstrip("+-").replace(":", "")
            hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "0")
            offset = sign * timedelta(hours=int(hours), minutes=int(minutes))
    try:
        moment = datetime(int(fields["year"]), month, int(fields["day"]), hour, minute,
                          tzinfo=timezone(offset))
    except ValueError:
        return None
    return _as_utc(moment)


def find_published_at(
    tree: lxml.html.HtmlElement, url: str, ld: dict | None = None, meta: dict | None = None
) -> tuple[datetime | None, str | None]:
    """The publication time and where it came from, in order of trust: JSON-LD, meta tags,
    `<time>`, a visible byline, the URL. None when no source gives a plausible date."""
    ld = _article_ld(_json_ld_objects(tree)) if ld is None else ld
    meta = _meta(tree) if meta is None else meta
    for key in ("datePublished", "dateCreated"):
        value = _first_text(ld.get(key))
        if value and (moment := parse_date(value)):
            return moment, "json_ld"
    for key in _DATE_META_KEYS:
        if key in meta and (moment := parse_date(meta[key])):
            return moment, "meta"
    times = tree.xpath("//time[@datetime]")
    times.sort(key=lambda t: not (t.get("itemprop") == "datePublished" or t.get("pubdate")))
    for element in times:
        if moment := parse_date(element.get("datetime", "")):
            return moment, "time"
    if moment := _byline_date(tree):
        return moment, "byline"
    match = _URL_DATE.search(urlsplit(url).path)
    if match and (moment := _date_from_match(match)):
        return moment, "url"
    return None, None


def _byline_date(tree: lxml.html.HtmlElement) -> datetime | None:
    """A date written near the top of the page in an element that says it is one."""
    candidates = tree.xpath(
        '//*[self::time or contains(@class, "date") or contains(@class, "byline") or '
        'contains(@class, "time") or contains(@class, "meta") or contains(@class, "published")]'
    )
    for element in candidates[:50]:
        text = " ".join(element.text_content().split())
        if len(text) <= 200 and (moment := _parse_visible_date(text)):
            return moment
    body = tree.find("body")
    if body is None:
        return None
    for element in body.iter("p", "span", "div"):
        text = (element.text or "").strip()
        if text and len(text) <= 120 and _BYLINE_HINT.search(text):
            if moment := _parse_visible_date(text):
                return moment
    return None


# -- title, authors, site -------------------------------------------------------------------------

_TITLE_SEPARATOR = re.compile(r"(\s+[|\-–—·»]\s+|\s*\|\s*)")


def _clean_title(title: str, site_name: str | None) -> str:
    """The headline without the " | Site" or "Site - " the page puts around it."""
    title = " ".join(title.split())
    pieces = _TITLE_SEPARATOR.split(title)  # text, separator, text, ...
    parts = pieces[::2]
    site = (site_name or "").lower()

    def names_site(part: str) -> bool:
        part = part.lower()
        return bool(site) and (part in site or site in part)

    while len(parts) > 1 and (
        names_site(parts[-1]) or len(parts[-1].split()) <= 3 < len(parts[0].split())
    ):
        parts.pop()
    while len(parts) > 1 and names_site(parts[0]):
        parts.pop(0)
    start = title.find(parts[0])
    end = title.find(parts[-1], start) + len(parts[-1])
    return title[start:end].strip() or title


def _title(tree: lxml.html.HtmlElement, ld: dict, meta: dict, site_name: str | None) -> str:
    h1 = tree.find(".//h1")
    h1_text = " ".join(h1.text_content().split()) if h1 is not None else ""
    for candidate in (meta.get("og:title"), _first_text(ld.get("headline")),
                      meta.get("twitter:title"), h1_text, tree.findtext(".//title")):
        if candidate and candidate.strip():
            return _clean_title(candidate, site_name)
    return ""


_BY = re.compile(r"^\s*(?:by|von|par|por|written by|저자|기자)\s*[:：]?\s*", re.IGNORECASE)
_AUTHOR_SPLIT = re.compile(r"\s*(?:,|\band\b|\bund\b|&|;|\|)\s*")


def _authors(tree: lxml.html.HtmlElement, ld: dict, meta: dict) -> list[str]:
    names: list[str] = []
    author = ld.get("author")
    for entry in author if isinstance(author, list) else [author]:
        name = _first_text(entry)
        if name:
            names.append(name)
    if not names:
        for key in ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator"):
            value = meta.get(key)
            if value and not value.startswith("http"):
                names.extend(_AUTHOR_SPLIT.split(_BY.sub("", value)))
                break
    if not names:
        for element in tree.xpath('//*[@rel="author" or @itemprop="author" or '
                                  'contains(@class, "byline") or contains(@class, "author-name")]'
                                  )[:3]:
            text = " ".join(element.text_content().split())
            if 0 < len(text) <= 80:
                names.extend(_AUTHOR_SPLIT.split(_BY.sub("", text)))
                break
    cleaned: list[str] = []
    for name in names:
        name = _BY.sub("", " ".join(name.split())).strip(" ,.")
        if name and not name.startswith("http") and len(name) <= 80 and name not in cleaned:
            cleaned.append(name)
    return cleaned


def _site_name(ld_objects: list[dict], ld: dict, meta: dict, url: str) -> str | None:
    for candidate in (meta.get("og:site_name"), _first_text(ld.get("publisher")),
                      meta.get("application-name")):
        if candidate:
            return candidate
    for obj in ld_objects:
        if "WebSite" in _types(obj) and (name := _first_text(obj.get("name"))):
            return name
    host = urlsplit(url).hostname
    return host.removeprefix("www.") if host else None


def _canonical_url(tree: lxml.html.HtmlElement, meta: dict, url: str) -> str | None:
    links = tree.xpath('//link[@rel="canonical"]/@href')
    for candidate in [*links, meta.get("og:url")]:
        if candidate and candidate.strip():
            absolute = urljoin(url, candidate.strip())
            if urlsplit(absolute).scheme in ("http", "https"):
                return absolute
    return url or None


# -- page kinds -----------------------------------------------------------------------------------

_NOT_FOUND = re.compile(
    r"\b404\b|page not found|not be found|doesn'?t exist|does not exist|no longer available|"
    r"seite nicht gefunden|페이지를 찾을 수 없|page introuvable",
    re.IGNORECASE,
)
_LISTING_TYPES = {"CollectionPage", "ItemList", "SearchResultsPage", "WebSite", "ProfilePage"}


def _looks_not_found(title: str, page_title: str, text: str) -> bool:
    return len(text) < 1500 and bool(_NOT_FOUND.search(f"{page_title} {title}"))


def _teaser_links(tree: lxml.html.HtmlElement) -> set[str]:
    """Texts of links of four words or more: the headlines a listing links to."""
    texts = (" ".join(anchor.text_content().split()) for anchor in tree.iter("a"))
    return {text for text in texts if len(text.split()) >= TEASER_MIN_WORDS}


def _looks_like_index(text: str, tree: lxml.html.HtmlElement, ld_objects: list[dict], ld: dict,
                      meta: dict) -> bool:
    """A listing of teasers: declared as one, without prose paragraphs, and with linked
    headlines making up a good share of its text. Many articles call themselves `og:type`
    website; the linked headlines are what a listing has and they lack."""
    declared = meta.get("og:type", "").lower() == "website" or any(
        set(_types(obj)) & _LISTING_TYPES for obj in ld_objects
    )
    if not declared or ld or meta.get("og:type", "").lower() == "article":
        return False
    paragraphs = [block for block in text.split("\n\n") if block]
    prose = [p for p in paragraphs if len(p.split()) >= 40 and "\n" not in p]
    lines = (line.removeprefix("- ") for block in paragraphs for line in block.split("\n"))
    teaser_links = _teaser_links(tree)
    headlines = [line for line in lines if line in teaser_links]
    headline_words = sum(len(line.split()) for line in headlines)
    return (len(prose) < 2 and len(headlines) >= INDEX_MIN_HEADLINES
            and headline_words >= INDEX_MIN_HEADLINE_SHARE * len(text.split()))


# -- language -------------------------------------------------------------------------------------


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language (py3langid), None when there is too little text."""
    sample = text[:LANGUAGE_SAMPLE_CHARS]
    if len(sample.split()) < 5 and len(sample) < 20:
        return None
    from py3langid.langid import classify

    language, _score = classify(sample)
    return language


# -- the stage ------------------------------------------------------------------------------------


def extract_article(html: str | bytes, url: str) -> Article:
    """The article in a fetched page; an unusable page gives empty text and a `reject_reason`."""
    markup, reason = _decode(html)
    if markup is None:
        return Article(url=url, reject_reason=reason)
    tree = _parse(markup)
    if tree is None:
        return Article(url=url, reject_reason="not_html")

    ld_objects = _json_ld_objects(tree)
    ld = _article_ld(ld_objects)
    meta = _meta(tree)
    site_name = _site_name(ld_objects, ld, meta, url)
    article = Article(
        url=url,
        title=_title(tree, ld, meta, site_name),
        published_at=find_published_at(tree, url, ld, meta)[0],
        authors=_authors(tree, ld, meta),
        canonical_url=_canonical_url(tree, meta, url),
        site_name=site_name,
    )

    page_title = tree.findtext(".//title") or ""
    _remove_boilerplate_nodes(tree)
    text, language = _main_text(tree, url, article.title)
    if _looks_not_found(article.title, page_title, text):
        article.reject_reason = "not_found_page"
    elif len(text) < MIN_ARTICLE_CHARS:
        article.reject_reason = "no_article_text"
    elif _looks_like_index(text, tree, ld_objects, ld, meta):
        article.reject_reason = "index_page"
    else:
        article.text = text
        article.language = language
    return article

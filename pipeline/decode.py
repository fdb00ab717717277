"""Decoding a page's bytes to text, the way browsers do.

One decoder for every way a page arrives (`newsignal run` fetching it, `newsignal process` reading a
file, the evaluations and the backfill reading archives), so the same bytes always give the same
text: BOM, then the HTTP charset, then the meta or XML declaration, then detection; labels are
widened to the superset browsers use (WHATWG Encoding Standard).
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

# Labels browsers read as a superset (WHATWG Encoding Standard): a page "in ISO-8859-1" with
# curly quotes is really windows-1252, an "EUC-KR" page may use CP949 extensions, and so on.
_SUPERSETS = {
    "ascii": "cp1252",
    "iso8859_1": "cp1252",
    "iso8859_9": "cp1254",
    "tis_620": "cp874",
    "iso8859_11": "cp874",
    "euc_kr": "cp949",
    "shift_jis": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "big5": "big5hkscs",
}
_SINGLE_BYTE_LATIN = frozenset({"cp1252", "cp1254"})
_CHARSET_PARAM = re.compile(rb"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:\-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def normalize_encoding(label: str | bytes | None) -> str | None:
    """The Python codec for a charset label, widened to the superset browsers use, or None."""
    if not label:
        return None
    if isinstance(label, bytes):
        label = label.decode("ascii", "ignore")
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    name = name.replace("-", "_")
    if name in ("utf_16", "utf_16_le", "utf_16_be"):
        return None  # a charset *inside* the bytes cannot be UTF-16 (browsers read it as UTF-8)
    return _SUPERSETS.get(name, name)


def _declared_encodings(body: bytes, content_type: str | None) -> list[str]:
    declared: list[str] = []
    if content_type:
        match = _CHARSET_PARAM.search(content_type.encode("latin-1", "ignore"))
        if match:
            declared.append(match.group(1))
    head = body[:16_384]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        match = pattern.search(head)
        if match:
            declared.append(match.group(1))
    names = [normalize_encoding(label) for label in declared]
    return list(dict.fromkeys(name for name in names if name))


def _is_utf8_with_non_ascii(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a page: BOM, then HTTP charset, then meta/XML charset, then detection.

    A declaration that the bytes contradict (invalid in that encoding, or a Latin-1 label on
    valid UTF-8) is passed over for the next clue. Returns (text, codec name).
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, "replace"), encoding
    for encoding in _declared_encodings(body, content_type):
        if encoding in _SINGLE_BYTE_LATIN and _is_utf8_with_non_ascii(body):
            return body.decode("utf-8"), "utf_8"  # the usual server default on a UTF-8 page
        try:
            return body.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    try:
        return body.decode("utf-8"), "utf_8"
    except UnicodeDecodeError:
        pass
    encoding = _detect_encoding(body) or "utf_8"
    return body.decode(encoding, "replace"), encoding


# How much more "chaos" (charset-normalizer's mess score, in percent) windows-1252 may show than
# the best single-byte guess and still be chosen: short Western texts fit several Latin code pages
# about equally, and browsers settle such ties on windows-1252.
WESTERN_DEFAULT_MARGIN = 5.0


def _detect_encoding(body: bytes) -> str | None:
    matches = from_bytes(body)
    best = matches.best()
    if best is None:
        return None
    single_byte = len(str(best)) == len(body)
    if single_byte and best.encoding != "cp1252":
        for match in matches:
            if "cp1252" in match.could_be_from_charset and (
                match.percent_chaos <= best.percent_chaos + WESTERN_DEFAULT_MARGIN
            ):
                return "cp1252"
    return normalize_encoding(best.encoding)

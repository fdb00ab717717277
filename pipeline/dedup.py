"""Deduplication: never fetch a known story twice, and recognise a story already stored elsewhere.

Three layers, cheapest first:
1. Before fetching: `select_new_entries` drops entries whose canonical URL (`canonicalize_url`:
   tracking parameters and fragment dropped) or GUID the store knows (`Store.known_entry`), and
   entries repeated across this run's feeds.
2. After extraction, exact: `text_hash` of the text with case and whitespace normalised
   (`Store.article_by_text_hash`).
3. After extraction, near: MinHash over 3-word shingles with an LSH index (`NearDuplicateIndex`),
   which finds a syndicated copy of a story (other site chrome, a few edited sentences) while
   leaving distinct stories on the same topic alone. The score (`similarity`) is the Jaccard
   estimate, or the containment of the shorter text in the longer when their lengths are within
   1.5x; `Settings.near_duplicate_threshold` (0.8) applies to it. On the texts of
   tests/test_dedup.py a syndicated copy scores about 0.9 and same-topic stories below 0.05.

The run wires them as:
    index = NearDuplicateIndex.from_pairs(store.minhashes(), settings.near_duplicate_threshold)
    signature = index.signature(article.text)
    original = store.article_by_text_hash(text_hash(article.text)) or index.find(signature)
    article_id = store.save_article(..., duplicate_of=original, text_hash=...,
                                    minhash=index.serialize(signature))
    if original is None:
        index.add(article_id, signature)
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import numpy as np
from datasketch import MinHash, MinHashLSH

from pipeline.records import FeedEntry

log = logging.getLogger(__name__)

SHINGLE_WORDS = 3
NUM_PERM = 128
SEED = 20240601  # part of the stored format: changing it makes old signatures incomparable
SCHEME = "affine32"
_MAGIC = b"NSMH"
_FORMAT_VERSION = 1
# magic, format version, seed, number of permutations, number of shingles
_HEADER = struct.Struct("<4sBIII")
MIN_CONTAINMENT_SHINGLES = 30  # below this, a text is too short for containment to mean much
MAX_LENGTH_RATIO = 1.5  # containment counts only between texts of comparable length
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


# Query parameters that identify a campaign or a click, never the document.
TRACKING_PARAMETERS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_enc_id", "oly_anon_id", "vero_id",
    "ref_src", "ref_url", "cmpid", "ncid", "ocid", "sr_share", "__twitter_impression",
    "guccounter", "guce_referrer", "guce_referrer_sig", "_ga", "_gl", "spm", "at_medium",
    "at_campaign", "xtor", "wt_mc", "s_cid", "rss", "feed",
})
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
DEFAULT_PORTS = {"http": 80, "https": 443}


def canonicalize_url(url: str) -> str:
    """The identity of a link: tracking parameters, fragment, userinfo and default port dropped,
    scheme and host lower-cased, remaining query parameters sorted. Unparseable input comes back
    stripped but otherwise as given.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return urlunsplit((scheme, parts.netloc, parts.path, parts.query, ""))
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMETERS and not key.lower().startswith(TRACKING_PREFIXES)
    ]
    query_text = urlencode(sorted(query), quote_via=quote, safe="")
    return urlunsplit((scheme, host, parts.path or "/", query_text, ""))


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: what two copies of one text share exactly."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def text_hash(text: str) -> str:
    """SHA-256 of the normalised text (hex)."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """Overlapping `size`-word sequences of the normalised text (the whole text if shorter)."""
    words = _WORD.findall(normalize_text(text))
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[index:index + size]) for index in range(len(words) - size + 1)}


@dataclass(slots=True)
class NewEntries:
    """`select_new_entries`' verdict on a run's entries."""

    new: list[FeedEntry] = field(default_factory=list)
    known: list[tuple[FeedEntry, int]] = field(default_factory=list)  # (entry, stored article id)
    repeated: list[FeedEntry] = field(default_factory=list)  # same story listed earlier this run


def select_new_entries(
    entries: Iterable[FeedEntry], known_entry: Callable[[FeedEntry], int | None]
) -> NewEntries:
    """Keep the entries worth fetching: unknown to the store and first of their kind in this run.

    `known_entry` is `Store.known_entry`. Two feeds listing one story (same canonical URL, or the
    same GUID in one feed) yield one fetch.
    """
    verdict = NewEntries()
    seen_urls: set[str] = set()
    seen_guids: set[tuple[str, str]] = set()
    for entry in entries:
        guid_key = (entry.feed_name, entry.guid) if entry.guid else None
        if entry.canonical_url in seen_urls or (guid_key and guid_key in seen_guids):
            verdict.repeated.append(entry)
            continue
        seen_urls.add(entry.canonical_url)
        if guid_key:
            seen_guids.add(guid_key)
        article_id = known_entry(entry)
        if article_id is None:
            verdict.new.append(entry)
        else:
            verdict.known.append((entry, article_id))
    return verdict


class TextSignature(MinHash):
    """A MinHash that also remembers how many shingles it summarises (needed for containment)."""

    shingle_count: int = 0


def similarity(first: TextSignature, second: TextSignature) -> float:
    """How much of a story two signatures share, estimated.

    The Jaccard estimate, or, when the two texts are of comparable length (within
    MAX_LENGTH_RATIO), the share of the shorter text found in the longer one. Containment is what
    survives a syndicating site's chrome (source line, disclaimer, related headlines) appended to
    the copy; the length bound keeps a long commentary that quotes a whole press release apart
    from the press release.
    """
    jaccard = first.jaccard(second)
    smaller, larger = sorted((first.shingle_count, second.shingle_count))
    if smaller < MIN_CONTAINMENT_SHINGLES or larger > MAX_LENGTH_RATIO * smaller:
        return jaccard
    shared = jaccard * (smaller + larger) / (1 + jaccard)  # |A & B| from J, |A| and |B|
    return max(jaccard, min(1.0, shared / smaller))


class NearDuplicateIndex:
    """MinHash LSH over word shingles; `find` answers with the id of a near-identical article."""

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold
        # The lowest Jaccard a pair can have and still reach `threshold` by containment; LSH
        # looks for candidates from there (favouring recall), and `similarity` decides.
        candidate_jaccard = threshold / (1 + MAX_LENGTH_RATIO - threshold)
        self._lsh = MinHashLSH(threshold=candidate_jaccard, num_perm=NUM_PERM, weights=(0.2, 0.8))
        self._signatures: dict[int, TextSignature] = {}

    @classmethod
    def from_pairs(
        cls, pairs: Iterable[tuple[int, bytes]], threshold: float = 0.8
    ) -> NearDuplicateIndex:
        """Build from (article id, serialised signature) pairs, e.g. `Store.minhashes()`.

        A signature that cannot be read (corrupt, other format) is skipped with a warning.
        """
        index = cls(threshold)
        for article_id, data in pairs:
            try:
                index.add(article_id, cls.deserialize(data))
            except ValueError as error:
                log.warning("article %s: unreadable minhash skipped (%s)", article_id, error)
        return index

    def __len__(self) -> int:
        return len(self._signatures)

    @staticmethod
    def signature(text: str) -> TextSignature:
        items = shingles(text)
        signature = TextSignature(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
        signature.update_batch([shingle.encode("utf-8") for shingle in items])
        signature.shingle_count = len(items)
        return signature

    @staticmethod
    def serialize(signature: MinHash) -> bytes:
        count = getattr(signature, "shingle_count", 0)
        header = _HEADER.pack(_MAGIC, _FORMAT_VERSION, signature.seed, len(signature), count)
        return header + np.asarray(signature.hashvalues, dtype="<u8").tobytes()

    @staticmethod
    def deserialize(data: bytes) -> TextSignature:
        if len(data) < _HEADER.size:
            raise ValueError("too short for a signature")
        magic, version, seed, permutations, count = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _FORMAT_VERSION:
            raise ValueError(f"not a newsignal minhash (format {magic!r} v{version})")
        if seed != SEED or permutations != NUM_PERM:
            raise ValueError(f"seed {seed} / {permutations} permutations: another configuration")
        if len(data) != _HEADER.size + 8 * permutations:
            raise ValueError("truncated signature")
        values = np.frombuffer(data, dtype="<u8", offset=_HEADER.size).astype(np.uint64)
        signature = TextSignature(seed=seed, hashvalues=values, scheme=SCHEME)
        signature.shingle_count = count
        return signature

    def add(self, article_id: int, signature: MinHash) -> None:
        if signature.is_empty() or article_id in self._signatures:
            return  # an empty text resembles every other empty text; it identifies nothing
        self._lsh.insert(article_id, signature, check_duplication=False)
        self._signatures[article_id] = signature

    def find(self, signature: MinHash) -> int | None:
        """The most similar indexed article at or above the threshold (lowest id on ties)."""
        if signature.is_empty():
            return None
        best: tuple[float, int] | None = None
        for article_id in self._lsh.query(signature):
            score = similarity(signature, self._signatures[article_id])
            if score < self.threshold:
                continue
            if best is None or (score, -article_id) > (best[0], -best[1]):
                best = (score, article_id)
        return best[1] if best else None

"""Deduplication: never fetch a known story twice, and recognise a story already stored elsewhere.

Three layers, cheapest first:
1. Before fetching: `select_new_entries` drops entries whose canonical URL or GUID the store knows
   (`Store.known_entry`) and entries repeated across this run's feeds.
2. After extraction, exact: `text_hash` of the text with case and whitespace normalised
   (`Store.article_by_text_hash`).
3. After extraction, near: MinHash over word shingles with an LSH index (`NearDuplicateIndex`),
   which finds a syndicated copy of a story (other site chrome, a few edited sentences) while
   leaving distinct stories on the same topic alone.

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
_HEADER = struct.Struct("<4sBII")  # magic, format version, seed, number of permutations
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


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


class NearDuplicateIndex:
    """MinHash LSH over word shingles; `find` answers with the id of a near-identical article."""

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold
        # Candidates are verified against the threshold below, so the banding favours recall.
        self._lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM, weights=(0.2, 0.8))
        self._signatures: dict[int, MinHash] = {}

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
    def signature(text: str) -> MinHash:
        signature = MinHash(num_perm=NUM_PERM, seed=SEED, scheme=SCHEME)
        signature.update_batch([shingle.encode("utf-8") for shingle in shingles(text)])
        return signature

    @staticmethod
    def serialize(signature: MinHash) -> bytes:
        header = _HEADER.pack(_MAGIC, _FORMAT_VERSION, signature.seed, len(signature))
        return header + np.asarray(signature.hashvalues, dtype="<u8").tobytes()

    @staticmethod
    def deserialize(data: bytes) -> MinHash:
        if len(data) < _HEADER.size:
            raise ValueError("too short for a signature")
        magic, version, seed, count = _HEADER.unpack_from(data)
        if magic != _MAGIC or version != _FORMAT_VERSION:
            raise ValueError("not a newsignal minhash (format %r v%s)" % (magic, version))
        if seed != SEED or count != NUM_PERM or len(data) != _HEADER.size + 8 * count:
            raise ValueError(f"seed {seed} / {count} permutations do not match this version")
        values = np.frombuffer(data, dtype="<u8", offset=_HEADER.size).astype(np.uint64)
        return MinHash(seed=seed, hashvalues=values, scheme=SCHEME)

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
            similarity = signature.jaccard(self._signatures[article_id])
            if similarity >= self.threshold and (
                best is None or (similarity, -article_id) > (best[0], -best[1])
            ):
                best = (similarity, article_id)
        return best[1] if best else None

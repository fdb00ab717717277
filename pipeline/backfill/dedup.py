"""Which copy of a story is the original, over the whole input, by a first-seen rule.

Pages are decided one by one in input order (input file, then record in the file), whatever engine
extracted them and however many CPUs did, so the result never depends on how the input is split.
The rule is the nightly `ArticleWriter.plan` with the store replaced by what this backfill kept so
far (MinHash near-duplicates aside: see docs/scaling.md):

1. a page whose canonical URL is already kept is a repeat: dropped and counted, as a nightly run
   never fetches an entry it knows;
2. a page declaring another canonical URL (`rel=canonical`) is kept under it, or, when that URL is
   already kept, under its own URL as a duplicate of the one kept there;
3. a page whose text hash matches an original's is a duplicate of it.

Only duplicates of pages that passed extraction change status (to `duplicate`); a rejected page
keeps its status and still records what it duplicates, as the store does.

Memory: one 8-byte key and an id per kept URL and per original text, about 150 bytes a page in
CPython dictionaries (a month of CC-NEWS fits in 1-2 GB on the driver).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pipeline.backfill.pages import PageOutcome
from pipeline.dedup import text_hash
from pipeline.records import ArticleStatus, StoredArticle


def _key(text: str) -> int:
    """An 8-byte digest: collisions among 10 million keys have odds of about 1 in 300,000."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big")


@dataclass(slots=True)
class Decision:
    """A kept page's id, the URL it is kept under, its status and the original it repeats."""

    article_id: int
    canonical_url: str
    status: ArticleStatus
    duplicate_of: int | None


class FirstSeen:
    """The dedup state of one backfill; `decide` must be called in input order."""

    def __init__(self) -> None:
        self._urls: dict[int, int] = {}  # kept canonical URL -> article id
        self._texts: dict[int, int] = {}  # text hash of an original -> article id
        self.next_id = 1

    def decide(self, outcome: PageOutcome) -> Decision | None:
        """The page's fate, or None for a repeat of a kept URL (dropped)."""
        own = outcome.entry.canonical_url
        if _key(own) in self._urls:
            return None
        kept_under, duplicate_of = own, None
        declared = outcome.declared_url
        if declared and declared != own:
            duplicate_of = self._urls.get(_key(declared))
            if duplicate_of is None:
                kept_under = declared
        if duplicate_of is None and outcome.text_hash:
            duplicate_of = self._texts.get(_key(outcome.text_hash))
        status = outcome.page.status
        if status is ArticleStatus.PROCESSED and duplicate_of is not None:
            status = ArticleStatus.DUPLICATE
        decision = Decision(self.next_id, kept_under, status, duplicate_of)
        self._keep(decision.article_id, kept_under, outcome.text_hash, duplicate_of)
        return decision

    def remember(self, article: StoredArticle) -> None:
        """Take in an article a finished part of this backfill kept (resuming a run)."""
        digest = text_hash(article.text) if article.text else None
        self._keep(article.id, article.canonical_url, digest, article.duplicate_of)

    def _keep(self, article_id: int, url: str, digest: str | None, duplicate_of: int | None) -> None:
        self._urls[_key(url)] = article_id
        if digest and duplicate_of is None:
            self._texts.setdefault(_key(digest), article_id)
        self.next_id = max(self.next_id, article_id + 1)

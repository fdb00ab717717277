"""A backfill's output directory: Parquet datasets partitioned by day, and the manifest.

    DIR/_manifest.json                       inputs, per-file counts and problems, model version
    DIR/{articles,catalysts,figures,entities}/date=YYYY-MM-DD/part-NNNNNN.parquet
                                             (date=unknown for pages without a date)

Every Parquet file holds exactly the export columns (`pipeline.export.COLUMNS`, articles with their
text); `date` comes from the directory name when the datasets are read as Hive partitions. Part
`NNNNNN` holds what input file NNNNNN contributed to that day. An input file's parts are written
to temporary names, renamed into place, and only then marked finished in the manifest (itself
replaced atomically), so an interrupted run leaves finished files whole; the next run deletes the
parts of unfinished files and does those files again.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.export import COLUMNS, export_row, parquet_batch, parquet_schema
from pipeline.records import Analysis, ArticleStatus, StoredArticle

KINDS = ("articles", "catalysts", "figures", "entities")
MANIFEST = "_manifest.json"
MANIFEST_FORMAT = 1
UNKNOWN_DAY = "unknown"
_BATCH_ROWS = 2_000
_PART = re.compile(r"^\.?part-(\d{6})\.parquet(\.tmp)?$")


class OutputError(Exception):
    """The output directory cannot take this backfill (another backfill's, not a backfill, ...)."""


def day_of(article: StoredArticle) -> str:
    """The partition of an article: its UTC publication day, or `unknown`."""
    if article.published_at is None:
        return UNKNOWN_DAY
    return article.published_at.astimezone(UTC).date().isoformat()


def _part_name(ordinal: int) -> str:
    return f"part-{ordinal:06d}.parquet"


class FileOutput:
    """What one input file contributes to the datasets, held as Arrow batches until `commit`."""

    def __init__(self, root: Path, ordinal: int):
        self.root = root
        self.ordinal = ordinal
        self._pending: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        self._batches: dict[tuple[str, str], list] = defaultdict(list)
        self.rows: Counter[str] = Counter()

    def add(self, article: StoredArticle, analysis: Analysis | None) -> None:
        day = day_of(article)
        self._add("articles", day, [export_row("articles", article)])
        if analysis is not None:
            self._add("catalysts", day, [export_row("catalysts", article, c) for c in analysis.catalysts])
            self._add("figures", day, [export_row("figures", article, f) for f in analysis.figures])
            self._add("entities", day, [export_row("entities", article, e) for e in analysis.entities])

    def _add(self, kind: str, day: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        pending = self._pending[(kind, day)]
        pending.extend(rows)
        self.rows[kind] += len(rows)
        if len(pending) >= _BATCH_ROWS:
            self._flush(kind, day)

    def _flush(self, kind: str, day: str) -> None:
        rows = self._pending.pop((kind, day), [])
        if rows:
            self._batches[(kind, day)].append(parquet_batch(rows, COLUMNS[kind]))

    def commit(self) -> None:
        """Write every part under a temporary name, then rename them all into place."""
        import pyarrow.parquet as pq

        for kind, day in list(self._pending):
            self._flush(kind, day)
        written: list[tuple[Path, Path]] = []
        try:
            for (kind, day), batches in sorted(self._batches.items()):
                folder = self.root / kind / f"date={day}"
                folder.mkdir(parents=True, exist_ok=True)
                final = folder / _part_name(self.ordinal)
                temporary = folder / f".{final.name}.tmp"
                with pq.ParquetWriter(temporary, parquet_schema(COLUMNS[kind])) as writer:
                    for batch in batches:
                        writer.write_batch(batch)
                written.append((temporary, final))
            for temporary, final in written:
                os.replace(temporary, final)
        finally:
            for temporary, _ in written:
                temporary.unlink(missing_ok=True)
        self._batches.clear()


@dataclass
class FileRecord:
    """The manifest's entry for one finished input file."""

    path: str
    pages: int = 0  # archived pages read (responses, or url+html rows)
    counts: dict[str, int] = field(default_factory=dict)  # article status, repeated, out_of_range
    rows: dict[str, int] = field(default_factory=dict)  # rows written per dataset
    problems: list[dict[str, Any]] = field(default_factory=list)  # {"offset", "reason"}
    cut_by_limit: bool = False


@dataclass
class Manifest:
    """`DIR/_manifest.json`: what this backfill reads, and which input files are finished."""

    inputs: list[str]
    since: str | None = None
    until: str | None = None
    limit: int | None = None
    model: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    files: dict[int, FileRecord] = field(default_factory=dict)
    started_at: str = ""
    updated_at: str = ""

    @property
    def pages_read(self) -> int:
        return sum(record.pages for record in self.files.values())

    def totals(self) -> dict[str, Any]:
        counts: Counter[str] = Counter()
        rows: Counter[str] = Counter()
        for record in self.files.values():
            counts.update(record.counts)
            rows.update(record.rows)
        return {
            "files_finished": len(self.files),
            "files": len(self.inputs),
            "pages": self.pages_read,
            "problems": sum(len(record.problems) for record in self.files.values()),
            "counts": dict(sorted(counts.items())),
            "rows": dict(sorted(rows.items())),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "inputs": self.inputs,
            "since": self.since,
            "until": self.until,
            "limit": self.limit,
            "model": self.model,
            "versions": self.versions,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "complete": self.complete,
            "totals": self.totals(),
            "files": {
                str(ordinal): {
                    "path": record.path, "pages": record.pages, "counts": record.counts,
                    "rows": record.rows, "problems": record.problems,
                    "cut_by_limit": record.cut_by_limit,
                }
                for ordinal, record in sorted(self.files.items())
            },
        }

    @property
    def complete(self) -> bool:
        """Every input file finished, or the --limit reached."""
        limited = self.limit is not None and self.pages_read >= self.limit
        return limited or len(self.files) == len(self.inputs)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        files = {
            int(ordinal): FileRecord(
                entry["path"], entry["pages"], entry["counts"], entry["rows"], entry["problems"],
                entry.get("cut_by_limit", False),
            )
            for ordinal, entry in data.get("files", {}).items()
        }
        return cls(
            inputs=data["inputs"], since=data.get("since"), until=data.get("until"),
            limit=data.get("limit"), model=data.get("model"), versions=data.get("versions", {}),
            files=files, started_at=data.get("started_at", ""),
            updated_at=data.get("updated_at", ""),
        )

    def save(self, root: Path) -> None:
        self.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        temporary = root / f".{MANIFEST}.tmp"
        temporary.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, root / MANIFEST)


def load_manifest(root: Path) -> Manifest | None:
    path = root / MANIFEST
    if not path.is_file():
        return None
    try:
        return Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as error:
        raise OutputError(f"{path}: not a backfill manifest ({error})") from None


def open_output(root: Path, wanted: Manifest) -> Manifest:
    """The manifest to continue: the one in `root` when it describes the same backfill (inputs,
    window, limit), else a new one for an empty or missing `root`. Parts of unfinished input
    files and temporary files are deleted, so those files start afresh."""
    if root.exists() and not root.is_dir():
        raise OutputError(f"{root}: not a directory")
    existing = load_manifest(root) if root.is_dir() else None
    if existing is None:
        if root.is_dir() and any(root.iterdir()):
            raise OutputError(f"{root}: not empty and holds no {MANIFEST}; give a new --output")
        root.mkdir(parents=True, exist_ok=True)
        wanted.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        wanted.save(root)
        return wanted
    for name in ("inputs", "since", "until", "limit"):
        if getattr(existing, name) != getattr(wanted, name):
            raise OutputError(
                f"{root} holds a backfill with other {name} ({getattr(existing, name)!r}); "
                "give the same arguments to resume it, or a new --output"
            )
    _remove_unfinished_parts(root, set(existing.files))
    return existing


def _remove_unfinished_parts(root: Path, finished: set[int]) -> None:
    for kind in KINDS:
        for path in (root / kind).glob("date=*/*part-*"):
            match = _PART.match(path.name)
            if match and (match.group(2) or int(match.group(1)) not in finished):
                path.unlink()
    (root / f".{MANIFEST}.tmp").unlink(missing_ok=True)


# -- reading a backfill back -----------------------------------------------------------------------


def dataset(root: Path, kind: str):
    """One of the datasets as a pyarrow Dataset (the export columns plus the `date` partition)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    folder = root / kind
    partitioning = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
    schema = parquet_schema(COLUMNS[kind]).append(pa.field("date", pa.string()))
    if not folder.is_dir():
        return ds.dataset([], schema=schema, format="parquet")
    return ds.dataset(folder, schema=schema, format="parquet", partitioning=partitioning)


def read_stored_articles(root: Path, columns: tuple[str, ...] | None = None) -> Iterator[StoredArticle]:
    """The `articles` dataset as records, in batches (order: by part, not by id)."""
    names = [column.name for column in COLUMNS["articles"]]
    for batch in dataset(root, "articles").to_batches(columns=list(columns or names)):
        for row in batch.to_pylist():
            yield StoredArticle(
                id=row["article_id"], url=row.get("url", ""),
                canonical_url=row.get("canonical_url", ""), source=row.get("source", ""),
                title=row.get("title") or "", published_at=row.get("published_at"),
                language=row.get("language"),
                status=ArticleStatus(row.get("status") or ArticleStatus.PROCESSED),
                reject_reason=row.get("reject_reason"), duplicate_of=row.get("duplicate_of"),
                text=row.get("text") or "",
            )

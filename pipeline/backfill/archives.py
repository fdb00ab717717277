"""A backfill's input: files named by paths, globs or fsspec URIs, read as `ArchivePage` records.

Formats, told apart by the file name:
- WARC as Common Crawl publishes CC-NEWS (`.warc.gz`, one gzip member per record, or plain
  `.warc`), read with warcio's `ArchiveIterator`. `response` records become pages; `warcinfo`,
  `request`, `metadata` and the like are skipped. A record that cannot be read (a truncated gzip
  member, a body shorter than its digest says, bytes that are no record) becomes an
  `ArchiveProblem` with its byte offset, and reading goes on at the next record that parses.
- Parquet, or JSON Lines (`.jsonl`, `.jsonl.gz`, `.ndjson`), with a `url` and an `html` column; a
  row without them is a problem, the rest is read.

Any filesystem fsspec knows works (`s3://...` with s3fs installed and credentials set, `gs://...`
with gcsfs); the tests use local files. Reading is the disk edge of a backfill: everything after
it is a record in, a record out.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from pipeline.records import ArchivePage, ArchiveProblem

log = logging.getLogger(__name__)

WARC_SUFFIXES = (".warc", ".warc.gz")
PARQUET_SUFFIXES = (".parquet",)
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
_GLOB_CHARACTERS = frozenset("*?[")
# Where a WARC record can start: a gzip member (CC-NEWS) or a plain record's version line.
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."
_RECORD_SEPARATOR = b"\r\n\r\n"  # after a plain record, outside the length warcio reports
_SCAN_CHUNK = 1 << 20


class ArchiveError(Exception):
    """An input cannot be used at all (matches no file, unknown format)."""


@dataclass(slots=True)
class FileEnd:
    """Marks the end of one input file in the stream of pages."""

    ordinal: int
    path: str


def archive_format(path: str) -> str:
    """`warc`, `parquet` or `jsonl`, from the file name."""
    name = path.lower()
    if name.endswith(WARC_SUFFIXES):
        return "warc"
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(JSONL_SUFFIXES):
        return "jsonl"
    known = ", ".join((*WARC_SUFFIXES, *PARQUET_SUFFIXES, *JSONL_SUFFIXES))
    raise ArchiveError(f"{path}: unknown input format (expected a file ending in {known})")


def resolve_inputs(patterns: list[str]) -> list[str]:
    """The input files, in order: each `--input` in the order given, a glob's matches sorted by
    name, every file once. A pattern that matches nothing is an error naming it."""
    import fsspec

    files: list[str] = []
    for pattern in patterns:
        filesystem, path = fsspec.core.url_to_fs(pattern)
        if _GLOB_CHARACTERS & set(path):
            matches = sorted(filesystem.glob(path))
        elif filesystem.isdir(path):
            matches = sorted(
                found for found in filesystem.find(path) if _supported(found)
            )
        elif filesystem.exists(path):
            matches = [path]
        else:
            raise ArchiveError(f"{pattern}: no such file")
        matches = [match for match in matches if not filesystem.isdir(match)]
        if not matches:
            raise ArchiveError(f"{pattern}: matches no file")
        local = "file" in _protocols(filesystem)
        for match in matches:
            archive_format(match)
            files.append(match if local else filesystem.unstrip_protocol(match))
    return list(dict.fromkeys(files))


def _protocols(filesystem) -> tuple[str, ...]:
    protocol = filesystem.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def _supported(path: str) -> bool:
    try:
        archive_format(path)
    except ArchiveError:
        return False
    return True


def read_archive(
    path: str, ordinal: int, max_body_bytes: int
) -> Iterator[ArchivePage | ArchiveProblem | FileEnd]:
    """Every page of one input file, in file order, with its problems where they occur, then a
    `FileEnd`. Never raises for a bad file: an unopenable one is one problem."""
    import fsspec

    try:
        with fsspec.open(path, "rb") as stream:
            readers = {"warc": _warc_items, "parquet": _parquet_items, "jsonl": _jsonl_items}
            yield from readers[archive_format(path)](stream, path, ordinal, max_body_bytes)
    except Exception as error:  # a file gone, unreadable or not what its name says: noted, skipped
        yield ArchiveProblem(path, None, f"cannot read: {type(error).__name__}: {_short(error)}")
    yield FileEnd(ordinal, path)


# -- WARC ------------------------------------------------------------------------------------------


def _warc_items(
    stream: IO[bytes], path: str, ordinal: int, max_body_bytes: int
) -> Iterator[ArchivePage | ArchiveProblem]:
    """Pages of a WARC file. After an unreadable record, reading starts again at the next place
    a record can begin (a gzip member, or a `WARC/1.` line in a plain file) that parses: a bad
    record's own length is not trusted."""
    from warcio.archiveiterator import ArchiveIterator

    size = stream.seek(0, io.SEEK_END)
    magic = _WARC_MAGIC if not path.lower().endswith(".gz") else _GZIP_MAGIC
    position = 0  # records of any type seen so far: a page's place in the file
    start: int | None = 0
    resyncing = False  # at a candidate start after a problem: failing there is no new problem
    while start is not None:
        stream.seek(start)
        iterator = ArchiveIterator(stream, check_digests=True)
        end = start  # where the last whole record ends
        bad_at: int | None = None  # where a record that cannot be used starts
        try:
            for record in iterator:
                item = _warc_page(record, ordinal, position, max_body_bytes)
                # warcio knows where a record starts and ends once its content has been read.
                offset = iterator.get_record_offset()  # from the file's start (warcio uses tell())
                # warcio stepped over bytes it could not read (beyond a plain record's CRLF CRLF)
                if offset > end + len(_RECORD_SEPARATOR) and not resyncing:
                    yield ArchiveProblem(path, end, f"unreadable bytes: {offset - end}")
                resyncing = False
                position += 1
                if isinstance(item, str):
                    yield ArchiveProblem(path, offset, item)
                    bad_at = offset
                    break
                end = offset + iterator.get_record_length()
                if item is not None:
                    item.offset = offset
                    yield item
        except Exception as error:  # warcio raises many types for bytes that are no record
            if not resyncing:
                yield ArchiveProblem(
                    path, end, f"unreadable record: {type(error).__name__}: {_short(error)}"
                )
            bad_at = end
        unread = size - end - len(_RECORD_SEPARATOR)  # a plain file ends with one separator
        if bad_at is None and unread > 0 and not resyncing:
            yield ArchiveProblem(path, end, f"truncated record: {size - end} bytes unread at the end")
            bad_at = end
        if bad_at is None and unread <= 0:
            return
        start = _next_start(stream, (bad_at if bad_at is not None else start) + 1, magic)
        resyncing = True


def _warc_page(record, ordinal: int, position: int, max_body_bytes: int):
    """An ArchivePage of a `response` record, None for other record types, or the reason the
    record is unusable (a string). Reads the record's content to its end."""
    if record.rec_type != "response":
        record.raw_stream.read()
        return None
    url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip()
    content = record.content_stream()
    chunks, size = [], 0
    while size <= max_body_bytes and (chunk := content.read(max_body_bytes + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    if len(body) <= max_body_bytes:
        missing = getattr(record.raw_stream, "limit", 0)  # what Content-Length promised, unread
        if missing:
            return f"truncated record: {missing} bytes missing"
        if record.digest_checker.passed is False:
            return "digest mismatch: the record is truncated or corrupt"
    if not url:
        return "response record without WARC-Target-URI"
    http = record.http_headers
    headers = {}
    status = None
    if http is not None:
        status = int(http.get_statuscode()) if (http.get_statuscode() or "").isdigit() else None
        # warcio has already undone chunking and gzip/deflate: the body is what the page is.
        headers = {
            name.lower(): value for name, value in http.headers
            if name.lower() not in ("content-encoding", "transfer-encoding", "content-length")
        }
    return ArchivePage(ordinal, position, url, body, status, headers)


def _next_start(stream: IO[bytes], position: int, magic: bytes) -> int | None:
    """The offset of the next `magic` at or after `position`, or None."""
    stream.seek(position)
    carry = b""
    base = position
    while chunk := stream.read(_SCAN_CHUNK):
        data = carry + chunk
        found = data.find(magic)
        if found >= 0:
            return base - len(carry) + found
        carry = data[-(len(magic) - 1):]
        base += len(chunk)
    return None


def _short(error: Exception, limit: int = 120) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + "..."


# -- Parquet and JSON Lines ------------------------------------------------------------------------


def _row_page(row: object, ordinal: int, position: int, path: str) -> ArchivePage | ArchiveProblem:
    if not isinstance(row, dict):
        return ArchiveProblem(path, position, "row is not an object with url and html")
    url, html = row.get("url"), row.get("html")
    if not isinstance(url, str) or not url.strip() or not isinstance(html, (str, bytes)):
        return ArchiveProblem(path, position, "row without a url and an html value")
    if isinstance(html, str):  # text already decoded: say so, so it is not guessed again
        return ArchivePage(ordinal, position, url.strip(), html.encode("utf-8"), None,
                           {"content-type": "text/html; charset=utf-8"})
    return ArchivePage(ordinal, position, url.strip(), html)


def _parquet_items(
    stream: IO[bytes], path: str, ordinal: int, max_body_bytes: int
) -> Iterator[ArchivePage | ArchiveProblem]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(stream)
    names = set(parquet.schema_arrow.names)
    if not {"url", "html"} <= names:
        yield ArchiveProblem(path, None, f"no url and html columns (has {sorted(names)})")
        return
    position = 0
    for batch in parquet.iter_batches(batch_size=256, columns=["url", "html"]):
        for row in batch.to_pylist():
            yield _row_page(row, ordinal, position, path)
            position += 1


def _jsonl_items(
    stream: IO[bytes], path: str, ordinal: int, max_body_bytes: int
) -> Iterator[ArchivePage | ArchiveProblem]:
    lines = gzip.open(stream) if path.lower().endswith(".gz") else stream
    for position, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as error:
            yield ArchiveProblem(path, position, f"not JSON: {_short(error)}")
            continue
        yield _row_page(row, ordinal, position, path)

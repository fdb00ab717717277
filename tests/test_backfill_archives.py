"""Reading backfill inputs: WARC (gzipped and plain) with damaged records, Parquet, JSON Lines.

Archives are written here with warcio's own writer; damage is made by cutting bytes out of them.
No models load in this module.
"""

from __future__ import annotations

import gzip
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from builders import warc_record

from pipeline.backfill.archives import ArchiveError, FileEnd, read_archive, resolve_inputs
from pipeline.records import ArchivePage, ArchiveProblem

MAX_BODY = 10_000_000


def page_html(number: int) -> bytes:
    return (
        f"<html><head><title>Story {number}</title></head><body><article><p>Story number "
        f"{number} says Bitcoin rose. " + "More words follow here. " * 40 + "</p></article>"
        "</body></html>"
    ).encode()


def items(path, ordinal: int = 0):
    found = list(read_archive(str(path), ordinal, MAX_BODY))
    assert isinstance(found[-1], FileEnd) and found[-1].ordinal == ordinal
    return found[:-1]


def urls(found) -> list[str]:
    return [item.url for item in found if isinstance(item, ArchivePage)]


def test_gzipped_warc_gives_responses_in_order_and_skips_other_records(tmp_path):
    members = [
        warc_record("", b"software: test\r\n", record_type="warcinfo"),
        warc_record("https://news.example/1", page_html(1)),
        warc_record("https://news.example/1", b"GET /1 HTTP/1.1\r\n\r\n", record_type="request"),
        warc_record("https://news.example/2", page_html(2)),
    ]
    path = tmp_path / "plain-order.warc.gz"
    path.write_bytes(b"".join(members))
    found = items(path, ordinal=3)
    assert urls(found) == ["https://news.example/1", "https://news.example/2"]
    first, second = [item for item in found if isinstance(item, ArchivePage)]
    assert first.body == page_html(1) and first.status == 200
    assert first.headers["content-type"] == "text/html; charset=utf-8"
    assert (first.ordinal, first.position, second.position) == (3, 1, 3)
    assert first.offset == len(members[0])
    assert second.offset == sum(map(len, members[:3]))


def test_truncated_member_in_the_middle_is_recorded_and_the_rest_is_read(tmp_path):
    members = [warc_record(f"https://news.example/{n}", page_html(n)) for n in range(4)]
    cut = members[1][: len(members[1]) // 2]
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(members[0] + cut + members[2] + members[3])
    found = items(path)
    assert urls(found) == ["https://news.example/0", "https://news.example/2", "https://news.example/3"]
    problems = [item for item in found if isinstance(item, ArchiveProblem)]
    assert len(problems) == 1
    assert problems[0].path == str(path) and problems[0].offset == len(members[0])
    assert "record" in problems[0].reason


@pytest.mark.parametrize("keep", [0.3, 0.7])
def test_truncated_last_member_is_recorded(tmp_path, keep):
    members = [warc_record(f"https://news.example/{n}", page_html(n)) for n in range(3)]
    path = tmp_path / "tail.warc.gz"
    path.write_bytes(members[0] + members[1] + members[2][: int(len(members[2]) * keep)])
    found = items(path)
    assert urls(found) == ["https://news.example/0", "https://news.example/1"]
    [problem] = [item for item in found if isinstance(item, ArchiveProblem)]
    assert problem.offset == len(members[0]) + len(members[1])


def test_plain_warc_with_a_truncated_record_goes_on_at_the_next_record(tmp_path):
    members = [warc_record(f"https://news.example/{n}", page_html(n), gzip_member=False)
               for n in range(3)]
    path = tmp_path / "plain.warc"
    path.write_bytes(members[0] + members[1][:400] + members[2])
    found = items(path)
    assert urls(found) == ["https://news.example/0", "https://news.example/2"]
    assert [item.offset for item in found if isinstance(item, ArchiveProblem)] == [len(members[0])]


def test_not_a_warc_at_all_is_one_problem(tmp_path):
    path = tmp_path / "noise.warc.gz"
    path.write_bytes(gzip.compress(b"this is no WARC file\n" * 50))
    found = items(path)
    assert urls(found) == []
    assert len([item for item in found if isinstance(item, ArchiveProblem)]) == 1


def test_parquet_and_jsonl_rows_with_url_and_html(tmp_path):
    parquet = tmp_path / "pages.parquet"
    pq.write_table(pa.table({
        "url": ["https://news.example/a", None, "https://news.example/c"],
        "html": [page_html(1).decode(), "<p>orphan</p>", page_html(3).decode()],
    }), parquet)
    found = items(parquet)
    assert urls(found) == ["https://news.example/a", "https://news.example/c"]
    assert [item.offset for item in found if isinstance(item, ArchiveProblem)] == [1]
    assert found[0].body == page_html(1)
    assert found[0].headers == {"content-type": "text/html; charset=utf-8"}

    jsonl = tmp_path / "pages.jsonl.gz"
    lines = [json.dumps({"url": "https://news.example/x", "html": page_html(5).decode()}),
             "{not json", "", json.dumps({"url": "https://news.example/y"})]
    jsonl.write_bytes(gzip.compress("\n".join(lines).encode()))
    found = items(jsonl)
    assert urls(found) == ["https://news.example/x"]
    assert [item.offset for item in found if isinstance(item, ArchiveProblem)] == [1, 3]


def test_parquet_without_the_columns_is_one_problem(tmp_path):
    path = tmp_path / "other.parquet"
    pq.write_table(pa.table({"link": ["https://news.example/a"]}), path)
    [problem] = items(path)
    assert isinstance(problem, ArchiveProblem) and "url and html" in problem.reason


def test_inputs_resolve_in_order_globs_sorted_each_once(tmp_path):
    for name in ("b.warc.gz", "a.warc.gz", "c.jsonl"):
        (tmp_path / name).write_bytes(b"")
    resolved = resolve_inputs([str(tmp_path / "c.jsonl"), str(tmp_path / "*.warc.gz"),
                               str(tmp_path / "a.warc.gz")])
    assert resolved == [str(tmp_path / name) for name in ("c.jsonl", "a.warc.gz", "b.warc.gz")]
    with pytest.raises(ArchiveError, match="absent.warc.gz: no such file"):
        resolve_inputs([str(tmp_path / "absent.warc.gz")])
    with pytest.raises(ArchiveError, match="matches no file"):
        resolve_inputs([str(tmp_path / "*.parquet")])
    (tmp_path / "notes.txt").write_bytes(b"")
    with pytest.raises(ArchiveError, match="unknown input format"):
        resolve_inputs([str(tmp_path / "notes.txt")])

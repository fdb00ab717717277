"""`newsignal run` (a fetched page) and `newsignal process` (a saved file) decode alike."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from http_fixtures import html_page

from pipeline.config import Settings
from pipeline.fetch import Fetcher
from pipeline.processing import extract_page
from pipeline.records import ArticleStatus, FeedEntry, FetchResult

FIXTURES = Path(__file__).parent / "fixtures" / "extraction"
LOCAL = Settings(allow_private_hosts=True, per_host_delay=0, retries=0)

STORY = (
    "Der Bitcoin-Kurs fiel am Montag um 4 % auf 61.200 €, nachdem die Zuflüsse in die "
    "börsengehandelten Fonds zum dritten Mal in Folge ausblieben. Händler sprachen von einer "
    "„Atempause“ nach dem Rekordlauf, während die Finanzierungsraten an den Terminbörsen sanken."
)
KOREAN = (
    "비트코인은 월요일 오전 6만 달러 아래로 떨어졌고, 미국 현물 ETF에서는 사흘 연속으로 자금이 "
    "빠져나갔다. 시장 참가자들은 이번 주 발표될 물가 지표와 중앙은행 회의 결과를 기다리며 위험 "
    "자산 비중을 줄이는 모습이다. 선물 시장의 미결제약정도 전주보다 줄어든 것으로 집계됐다."
)


def _page(text: str, head: str = "") -> str:
    return (
        f"<!doctype html><html><head>{head}<title>Markets</title></head><body><article>"
        f"<h1>Markets</h1><p>{text}</p><p>{text}</p></article></body></html>"
    )


ENCODINGS = {
    "meta_euc_kr_fixture": (FIXTURES / "euc_kr_bytes.html").read_bytes(),
    # windows-1252 quotes and euro sign under an ISO-8859-1 label
    "cp1252_labelled_latin1": _page(
        STORY, "<meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'>"
    ).encode("cp1252"),
    # the usual server default on a page that is really UTF-8
    "utf8_labelled_latin1": _page(STORY, "<meta charset='iso-8859-1'>").encode("utf-8"),
    "xml_declaration_latin": ("<?xml version='1.0' encoding='windows-1252'?>" + _page(STORY)).encode(
        "cp1252"
    ),
    "utf16_with_bom": "\ufeff".encode("utf-16-le") + _page(STORY).encode("utf-16-le"),
    "undeclared_euc_kr": _page(KOREAN).encode("euc-kr"),
    "undeclared_cp1252": _page(STORY).encode("cp1252"),
}


def _as_run_reads_it(body: bytes, http_server) -> FetchResult:
    http_server.route("/page", html_page(body, charset=None))

    async def fetch() -> FetchResult:
        async with Fetcher(LOCAL) as fetcher:
            return await fetcher.fetch(http_server.url("/page"))

    return asyncio.run(fetch())


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_run_and_process_give_the_same_text(name, http_server):
    body = ENCODINGS[name]
    fetched = _as_run_reads_it(body, http_server)
    assert fetched.ok, fetched.error
    url = fetched.final_url or fetched.url
    entry = FeedEntry(feed_name="local", url=url, canonical_url=url)
    by_run = extract_page(entry, fetched)
    by_process = extract_page(entry, FetchResult(url=url, final_url=url, body=body))  # as cli.process
    # German and Korean stories are stored as skipped_language; either way the text is kept.
    assert by_run.status in (ArticleStatus.PROCESSED, ArticleStatus.SKIPPED_LANGUAGE), by_run.reason
    assert by_process.status is by_run.status
    assert by_process.article.text == by_run.article.text
    assert by_process.article.title == by_run.article.title
    assert "\ufffd" not in by_run.article.text
    if "euc_kr" not in name:
        assert "Atempause" in by_run.article.text and "€" in by_run.article.text

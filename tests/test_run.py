"""The nightly run against a local server full of faults: it finishes, records every reason, and
keeps every good article of the same run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from http_fixtures import (
    LocalServer,
    RecordedRequest,
    Response,
    endless_stream,
    gzip_bomb,
    hang,
    html_page,
    redirect,
    sequence,
)

from pipeline.config import Settings, load_config, parse_config
from pipeline.demo import SAMPLES_DIR, SamplesServer
from pipeline.processing import Processor
from pipeline.records import FeedEntry, FetchResult, RunReport
from pipeline.run import process_entries, run_pipeline
from pipeline.store import Store
from pipeline.times import now_utc

PAGES = SAMPLES_DIR / "pages"
GOOD = {
    "/good/derivatives": PAGES / "research/derivatives/weekly-2026-07-funding-flips-negative.html",
    "/good/etf": PAGES / "etf/daily-flows/2026-02-10-bitcoin-ether-etf-flows.html",
    "/flaky": PAGES / "wire/markets/2026-02-11/hot-inflation-data-fed-bitcoin.html",
    "/limited": PAGES / "business/earnings/2026/02/13/coinbase-q4-2025-results.html",
}
RETRIED_LATER = PAGES / "security/2026/02/18/zentra-exchange-hot-wallet-breach.html"
KOREAN = (
    "<html><head><meta charset='euc-kr'><title>비트코인 시장 동향</title></head><body>"
    "<article><h1>비트코인, 주간 하락폭 확대</h1>"
    "<p>비트코인 가격이 이번 주 들어 큰 폭으로 하락하면서 투자 심리가 위축되고 있다. "
    "시장 참여자들은 금리 결정과 현물 상장지수펀드 자금 흐름을 주시하고 있다.</p>"
    "<p>미국 현물 비트코인 상장지수펀드에서는 사흘 연속 자금이 빠져나갔다. "
    "운용사별로는 대형 운용사 두 곳의 유출 규모가 가장 컸던 것으로 집계됐다.</p>"
    "<p>파생상품 시장에서는 미결제약정이 줄어들고 롱 포지션 청산이 이어졌다. "
    "공포탐욕지수는 극단적 공포 구간에 머물러 있다.</p>"
    "<p>전문가들은 다음 주 발표될 물가 지표가 단기 방향을 결정할 것으로 보고 있다. "
    "일부는 지지선이 무너질 경우 추가 하락 가능성을 경고했다.</p>"
    "</article></body></html>"
)
FAULTS = {
    "/hang": ("failed", "timeout"),
    "/loop": ("failed", "redirect_loop"),
    "/missing": ("failed", "http_404"),
    "/huge": ("rejected", "too_large"),
    "/bomb": ("rejected", "decompression_bomb"),
    "/report.pdf": ("rejected", "not_html"),
    "/korean": ("skipped_language", "language: ko"),
}

TEST_SETTINGS = {
    "allow_private_hosts": True,  # the test server is on loopback
    "connect_timeout": 1.0,
    "read_timeout": 1.0,
    "total_timeout": 3.0,
    "retries": 1,
    "backoff_base": 0.01,
    "max_retry_after": 2.0,
    "per_host_delay": 0.0,
    "per_host_concurrency": 4,
}


def rss(server: LocalServer, paths) -> bytes:
    items = "".join(
        f"<item><title>Story {path}</title><link>{server.url(path)}</link>"
        f"<guid>{path}</guid><pubDate>Tue, 10 Feb 2026 09:00:00 GMT</pubDate></item>"
        for path in paths
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Fault desk</title><link>{server.url('/')}</link>{items}</channel></rss>"
    ).encode()


def with_etag(body: bytes, etag: str):
    def handler(request: RecordedRequest) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(304, {"ETag": etag})
        return Response(200, {"Content-Type": "application/rss+xml", "ETag": etag}, body)

    return handler


@pytest.fixture()
def fault_server():
    server = LocalServer()
    for path, page in GOOD.items():
        server.route(path, html_page(page.read_bytes()))
    server.route("/flaky", sequence(Response(500), html_page(GOOD["/flaky"].read_bytes())))
    server.route("/limited", sequence(Response(429, {"Retry-After": "1"}),
                                      html_page(GOOD["/limited"].read_bytes())))
    # Times out on the first night (two tries), answers on the second.
    server.route("/hang", sequence(hang(10), hang(10), html_page(RETRIED_LATER.read_bytes())))
    server.route("/loop", redirect("/loop"))
    server.route("/huge", endless_stream(60_000_000))
    server.route("/bomb", gzip_bomb(200_000_000))
    server.route("/report.pdf", Response(200, {"Content-Type": "application/pdf"},
                                         b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n" * 50))
    server.route("/korean", Response(200, {"Content-Type": "text/html"}, KOREAN.encode("euc-kr")))
    server.route("/feed.xml", with_etag(rss(server, [*GOOD, *FAULTS]), '"v1"'))
    server.route("/broken.xml", Response(200, {"Content-Type": "application/rss+xml"},
                                         b"<rss><channel><title>Half a feed<item><title>x"))
    with server:
        yield server


def fault_config(server: LocalServer):
    return parse_config({
        "settings": TEST_SETTINGS,
        "feeds": [{"name": "faults", "url": server.url("/feed.xml")},
                  {"name": "broken", "url": server.url("/broken.xml")}],
    })


def stored(store: Store) -> dict[str, sqlite3.Row]:
    rows = store.connection.execute("SELECT * FROM articles").fetchall()
    return {"/" + row["url"].split("/", 3)[3]: row for row in rows}


def test_run_survives_every_fault_and_keeps_every_good_article(fault_server, tmp_path, nlp):
    config = fault_config(fault_server)
    processor = Processor(nlp)
    with Store.open(tmp_path / "run.db") as store:
        report = run_pipeline(config, store, processor=processor)
        articles = stored(store)
        assert report.counts["new"] == len(GOOD) + len(FAULTS)
        for path in GOOD:
            assert articles[path]["status"] == "processed", articles[path]["reject_reason"]
            catalysts = store.connection.execute(
                "SELECT count(*) FROM catalysts WHERE article_id = ?", (articles[path]["id"],)
            ).fetchone()[0]
            assert catalysts > 0
        for path, (status, reason) in FAULTS.items():
            assert articles[path]["status"] == status, path
            assert articles[path]["reject_reason"].startswith(reason), path
        assert "비트코인 가격이 이번 주" in articles["/korean"]["text"]  # EUC-KR decoded right
        assert articles["/korean"]["language"] == "ko"
        assert fault_server.hits["/flaky"] == 2 and fault_server.hits["/limited"] == 2
        assert fault_server.hits["/missing"] == 1  # no retry on a 404
        assert "broken" in report.feed_errors or store.feed_state("broken", "").last_error
        failed_urls = {url.split("/", 3)[3] for url, _ in report.failures}
        assert {"hang", "missing", "report.pdf"} <= failed_urls

        # The feed's ETag waits until its timed-out page is stored for good.
        feed_url = config.feeds[0].url.unicode_string()
        assert store.feed_state("faults", feed_url).etag is None

        # The second night: the feed is read again and only the timed-out page is fetched again.
        hits_before = dict(fault_server.hits)
        second = run_pipeline(config, store, processor=processor)
        assert second.counts == {"new": 1, "processed": 1}
        assert stored(store)["/hang"]["status"] == "processed"
        fetched_again = {path for path, hits in fault_server.hits.items()
                         if hits > hits_before.get(path, 0)}
        assert fetched_again == {"/feed.xml", "/broken.xml", "/robots.txt", "/hang"}
        assert store.feed_state("faults", feed_url).etag == '"v1"'

        # The third night: the feed answers 304 and nothing is fetched or parsed again.
        hits_before = sum(fault_server.hits.values())
        third = run_pipeline(config, store, processor=processor)
        assert third.counts.get("new", 0) == 0
        fetched_again = sum(fault_server.hits.values()) - hits_before
        assert fetched_again == 3  # the two feeds and robots.txt, which each run reads afresh


def test_entries_left_by_max_articles_are_taken_by_the_next_run(tmp_path, nlp):
    # The feed answers 304 on the second night; the entries cut off by --max-articles must not be
    # hidden by it.
    with SamplesServer() as server:
        config = load_config(write_config(tmp_path / "feeds.yaml", server.base_url))
        processor = Processor(nlp)
        with Store.open(tmp_path / "capped.db") as store:
            first = run_pipeline(config, store, processor=processor, max_articles=4)
            second = run_pipeline(config, store, processor=processor)
            third = run_pipeline(config, store, processor=processor)
            stored_count = store.connection.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert first.counts["new"] == 4
    assert second.counts["new"] == 11
    assert third.counts.get("new", 0) == 0
    assert stored_count == 15


def test_private_address_is_refused_not_fetched(tmp_path, nlp):
    settings = Settings(allow_private_hosts=False, retries=0)
    entry = FeedEntry(feed_name="desk", url="http://169.254.169.254/latest/meta-data/",
                      canonical_url="http://169.254.169.254/latest/meta-data/")
    with Store.open(tmp_path / "ssrf.db") as store:
        report = RunReport(run_id=None, started_at=now_utc())
        process_entries(settings, store, [entry], Processor(nlp), report)
        row = store.connection.execute("SELECT status, reject_reason FROM articles").fetchone()
    assert tuple(row) == ("rejected", "refused_private_address")
    assert report.counts == {"new": 1, "rejected": 1}


def test_transient_failures_are_retried_by_a_later_run(store):
    from pipeline.records import Article, ArticleStatus

    entries = {reason: FeedEntry("desk", f"https://x.example/{n}", f"https://x.example/{n}")
               for n, reason in enumerate(["timeout", "http_503", "http_404", "not_html: x"])}
    for reason, entry in entries.items():
        store.save_article(entry, Article(url=entry.url), ArticleStatus.FAILED, reject_reason=reason)
    known = {reason: store.known_entry(entry) is not None for reason, entry in entries.items()}
    assert known == {"timeout": False, "http_503": False, "http_404": True, "not_html: x": True}
    # The retry replaces the failed row rather than colliding with it.
    store.save_article(entries["timeout"], Article(url=entries["timeout"].url, text="ok"),
                       ArticleStatus.PROCESSED)
    assert store.connection.execute("SELECT count(*) FROM articles").fetchone()[0] == 4


def test_a_page_that_keeps_failing_is_given_up_after_the_attempt_cap(store):
    from pipeline.records import Article, ArticleStatus
    from pipeline.store import MAX_FETCH_ATTEMPTS

    entry = FeedEntry("desk", "https://x.example/flaky", "https://x.example/flaky")
    for night in range(1, MAX_FETCH_ATTEMPTS + 1):
        assert store.known_entry(entry) is None, f"not retried on night {night}"
        store.save_article(entry, Article(url=entry.url), ArticleStatus.FAILED,
                           reject_reason="http_503")
    assert store.known_entry(entry) is not None  # left alone from now on
    rows = store.connection.execute("SELECT status, fetch_attempts FROM articles").fetchall()
    assert [tuple(r) for r in rows] == [("failed", MAX_FETCH_ATTEMPTS)]
    # A success on a later attempt records how many it took.
    other = FeedEntry("desk", "https://x.example/late", "https://x.example/late")
    store.save_article(other, Article(url=other.url), ArticleStatus.FAILED, reject_reason="timeout")
    store.save_article(other, Article(url=other.url, text="ok"), ArticleStatus.PROCESSED)
    row = store.connection.execute(
        "SELECT status, fetch_attempts FROM articles WHERE canonical_url = ?", (other.canonical_url,)
    ).fetchone()
    assert tuple(row) == ("processed", 2)


# -- crash safety: real processes, real signals ----------------------------------------------------

def write_config(path: Path, base_url: str) -> Path:
    feeds = "".join(
        f"  - name: {name}\n    url: {base_url}/feeds/{name}.xml\n" for name in ("markets", "regulators")
    )
    path.write_text(
        "settings:\n  allow_private_hosts: true\n  per_host_delay: 0.4\n  per_host_concurrency: 1\n"
        f"feeds:\n{feeds}",
        encoding="utf-8",
    )
    return path


def start_run(config: Path, db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", "--config", str(config), "--db", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for_articles(db: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"run ended early: {process.stderr.read()}")
        if db.exists():
            try:
                with sqlite3.connect(db) as connection:
                    if connection.execute("SELECT count(*) FROM articles").fetchone()[0] >= count:
                        return
            except sqlite3.OperationalError:
                pass  # the schema is being created
        time.sleep(0.05)
    pytest.fail("the run stored too few articles in time")


def assert_consistent(db: Path, expected_articles: int) -> sqlite3.Connection:
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("SELECT count(*) FROM articles").fetchone()[0] == expected_articles
    for table, key in (("catalysts", "start_char, end_char"), ("figures", "start_char, end_char"),
                       ("entities", "start_char, end_char, label")):
        repeated = connection.execute(
            f"SELECT count(*) FROM (SELECT article_id, {key} FROM {table} "
            f"GROUP BY article_id, {key} HAVING count(*) > 1)"
        ).fetchone()[0]
        assert repeated == 0, table
    orphans = connection.execute(
        "SELECT count(*) FROM articles WHERE status = 'processed' AND id NOT IN "
        "(SELECT article_id FROM figures)"
    ).fetchone()[0]
    assert orphans == 0  # no article was committed without its analysis
    return connection


@pytest.mark.slow
def test_sigkill_then_rerun_processes_every_article_exactly_once(tmp_path):
    entries = 15
    with SamplesServer() as server:
        config = write_config(tmp_path / "feeds.yaml", server.base_url)
        db = tmp_path / "crash.db"
        first = start_run(config, db)
        wait_for_articles(db, 3, first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        with sqlite3.connect(db) as connection:
            survived = dict(connection.execute("SELECT canonical_url, run_id FROM articles"))
        assert 3 <= len(survived) < entries
        second = start_run(config, db)
        _, errors = second.communicate(timeout=300)
        assert second.returncode == 0, errors
    connection = assert_consistent(db, entries)
    for url, run_id in survived.items():  # what the killed run committed was not redone
        assert connection.execute("SELECT run_id FROM articles WHERE canonical_url = ?",
                                  (url,)).fetchone()[0] == run_id


@pytest.mark.slow
def test_sigterm_stops_after_the_article_in_hand(tmp_path):
    with SamplesServer() as server:
        config = write_config(tmp_path / "feeds.yaml", server.base_url)
        db = tmp_path / "term.db"
        run = start_run(config, db)
        wait_for_articles(db, 2, run)
        run.send_signal(signal.SIGTERM)
        _, errors = run.communicate(timeout=120)
    assert run.returncode == 0, errors
    assert "interrupted" in errors
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    status, finished = connection.execute("SELECT status, finished_at FROM runs").fetchone()
    assert status == "interrupted" and finished
    stored_count = connection.execute("SELECT count(*) FROM articles").fetchone()[0]
    assert 2 <= stored_count < 15


@pytest.mark.slow
def test_worker_processes_give_the_same_analysis_as_one_process(nlp):
    pages = [GOOD["/good/etf"], GOOD["/good/derivatives"], GOOD["/limited"]]
    jobs = [
        (FeedEntry(feed_name="desk", url=f"https://desk.example/{n}",
                   canonical_url=f"https://desk.example/{n}"),
         FetchResult(url=f"https://desk.example/{n}", final_url=f"https://desk.example/{n}",
                     status=200, body=page.read_bytes()))
        for n, page in enumerate(pages)
    ]
    in_process = Processor(nlp)
    with Processor(workers=2) as pool:
        assert pool.model == in_process.model
        pooled_pages = pool.extract(jobs)
        texts = [page.article.text for page in pooled_pages]
        assert texts == [page.article.text for page in in_process.extract(jobs)]
        pooled, local = pool.analyze(texts), in_process.analyze(texts)
    for theirs, ours in zip(pooled, local, strict=True):
        assert (theirs.entities, theirs.figures, theirs.conflicts) == \
            (ours.entities, ours.figures, ours.conflicts)
        # A worker runs one thread and groups sentences differently; int8 judges each sentence
        # on its own call, so not even the last digit of a confidence may differ.
        assert theirs.catalysts == ours.catalysts


def test_reprocess_puts_the_headline_an_older_release_left_out_and_moves_corrections(
    tmp_path, nlp
):
    from pipeline.nlp import analyze
    from pipeline.records import Article, ArticleStatus
    from pipeline.run import reprocess
    from pipeline.store import review_queries

    title = "Spot bitcoin ETFs bleed $903 million as investors cut risk"
    body = ("U.S.-listed spot bitcoin funds recorded net outflows of $903 million on Thursday, "
            "Farside Investors data show.\n\n"
            "The Fear and Greed Index fell to 21, in extreme fear.")
    url = "https://desk.example/etf-outflows"
    with Store.open(tmp_path / "old.db") as store:
        # As a release before headed text stored it: the body alone, tagged.
        article_id = store.save_article(
            FeedEntry("desk", url, url, title=title),
            Article(url, title=title, text=body, language="en"),
            ArticleStatus.PROCESSED, analysis=analyze(nlp(body)), model="older",
        )
        figure = store.connection.execute(
            "SELECT id, start_char FROM figures WHERE text = '$903 million'").fetchone()
        seen = {"was": {"text": "$903 million", "start_char": figure["start_char"]}}
        review_queries.add_correction(
            store, article_id=article_id, target_kind="figure", target_id=figure["id"],
            action="accept", fields=seen, reviewer="ana")
        added = body.index("The Fear")
        review_queries.add_correction(
            store, article_id=article_id, target_kind="catalyst", target_id=None, action="add",
            fields={"start_char": added, "end_char": len(body), "direction": "bearish"},
            reviewer="ana")

        assert reprocess(store, Processor(nlp)) == 1
        text = store.connection.execute("SELECT text FROM articles").fetchone()[0]
        assert text == f"{title}\n\n{body}"
        shift = len(title) + 2
        moved = store.connection.execute(
            "SELECT id, start_char FROM figures WHERE text = '$903 million' AND start_char > ?",
            (shift,)).fetchone()
        assert moved["start_char"] == figure["start_char"] + shift
        corrections = store.connection.execute(
            "SELECT target_id, fields FROM corrections ORDER BY id").fetchall()
        assert corrections[0]["target_id"] == moved["id"]
        assert json.loads(corrections[0]["fields"])["was"]["start_char"] == moved["start_char"]
        fields = json.loads(corrections[1]["fields"])
        assert text[fields["start_char"]:fields["end_char"]] == body[added:]
        headline = store.connection.execute(
            "SELECT count(*) FROM catalysts WHERE start_char = 0").fetchone()[0]
        assert headline == 1

        assert reprocess(store, Processor(nlp)) == 1  # a second time changes no offset
        assert store.connection.execute("SELECT text FROM articles").fetchone()[0] == text
        again = store.connection.execute("SELECT fields FROM corrections ORDER BY id").fetchone()
        assert json.loads(again[0])["was"]["start_char"] == moved["start_char"]

"""No page, entry or request can stop a night: every article that cannot be analysed is stored
with its reason and the run goes on; a stop request is obeyed within the article in hand; a crash
says so in its own exit code. Pages are served over loopback HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from http_fixtures import LocalServer, Response, html_page
from spacy.language import Language
from typer.testing import CliRunner

from pipeline.cli import app, main
from pipeline.config import parse_config
from pipeline.demo import SAMPLES_DIR
from pipeline.nlp import build_nlp
from pipeline.processing import Processor
from pipeline.records import RunReport
from pipeline.exit_codes import EXIT_CRASH, EXIT_FAILURES
from pipeline.run import (
    StopFlag,
    process_entries,
    run_exit_code,
    run_pipeline,
    stop_on_signals,
)
from pipeline.store import Store
from pipeline.times import now_utc

GOOD_PAGES = {
    "/good/etf": SAMPLES_DIR / "pages/etf/daily-flows/2026-02-10-bitcoin-ether-etf-flows.html",
    "/good/earnings": SAMPLES_DIR / "pages/business/earnings/2026/02/13/coinbase-q4-2025-results.html",
}
BOOM, SLOW = "Analysts at Boomfield Research", "Traders at Slowmoor Capital"
SLOW_SECONDS = 30.0
slow_finished = threading.Event()  # set only by a slow article analysed to the end


@Language.component("test_fault_injector")
def fault_injector(doc):
    """A bug that shows on one article only, and an article that takes far too long."""
    if BOOM in doc.text:
        raise RuntimeError("a bug met on one article")
    if SLOW in doc.text:
        time.sleep(SLOW_SECONDS)
        slow_finished.set()
    return doc


def article(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    return (f"<html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}"
            "</article></body></html>").encode()


def prose(marker: str, count: int = 6) -> list[str]:
    return [f"{marker} said on Tuesday that bitcoin fell 4% to $88,000 as spot ETF outflows "
            f"reached ${100 + n} million in session number {n + 1} of withdrawals by investors."
            for n in range(count)]


def rss(server: LocalServer, paths) -> bytes:
    items = "".join(f"<item><title>{path}</title><link>{server.url(path)}</link><guid>{path}</guid>"
                    "<pubDate>Tue, 10 Feb 2026 09:00:00 GMT</pubDate></item>" for path in paths)
    return ("<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Desk</title>"
            f"<link>{server.url('/')}</link>{items}</channel></rss>").encode()


SETTINGS = {"allow_private_hosts": True, "per_host_delay": 0.0, "per_host_concurrency": 4,
            "retries": 0, "read_timeout": 5.0}


@pytest.fixture(scope="module")
def faulty_nlp():
    nlp = build_nlp()
    nlp.add_pipe("test_fault_injector", first=True)
    return nlp


@pytest.fixture()
def server():
    served = LocalServer()
    for path, page in GOOD_PAGES.items():
        served.route(path, html_page(page.read_bytes()))
    # A 3 MB word beside a real paragraph: far beyond what one article may cost (and beyond
    # spaCy's own max_length, which once made the whole run die every night).
    served.route("/long", html_page(article("Markets wrap", [*prose("A desk"), "x" * 3_000_000])))
    served.route("/boom", html_page(article("Boom", prose(BOOM))))
    with served:
        yield served


def config_for(server: LocalServer, paths, **settings):
    server.route("/feed.xml", Response(200, {"Content-Type": "application/rss+xml"},
                                       rss(server, paths)))
    return parse_config({"settings": {**SETTINGS, **settings},
                         "feeds": [{"name": "desk", "url": server.url("/feed.xml")}]})


def articles(store: Store) -> dict[str, sqlite3.Row]:
    rows = store.connection.execute("SELECT * FROM articles").fetchall()
    return {"/" + row["url"].split("/", 3)[3]: row for row in rows}


def test_a_bug_or_a_huge_text_in_one_article_fails_that_article_only(server, tmp_path, faulty_nlp):
    config = config_for(server, [*GOOD_PAGES, "/long", "/boom"])
    processor = Processor(faulty_nlp, settings=config.settings)
    with Store.open(tmp_path / "run.db") as store:
        report = run_pipeline(config, store, processor=processor)
        stored = articles(store)
        assert {path: stored[path]["status"] for path in stored} == {
            "/good/etf": "processed", "/good/earnings": "processed", "/long": "rejected",
            "/boom": "failed"}
        assert stored["/long"]["reject_reason"].startswith("text_too_long")
        assert len(stored["/long"]["text"]) > 2_000_000  # kept: reprocess may analyse it later
        assert stored["/boom"]["reject_reason"] == "internal_error: RuntimeError"
        assert run_exit_code(report, config.settings) == 0
        assert store.recent_runs(1)[0].status == "running"  # the CLI finishes it

        # Neither is fetched again the next night: they are stored for good, with their reason.
        hits = dict(server.hits)
        again = run_pipeline(config, store, processor=processor)
        assert again.counts.get("new", 0) == 0
        assert (server.hits["/long"], server.hits["/boom"]) == (hits["/long"], hits["/boom"])


def test_an_article_past_its_time_budget_is_stored_failed(server, tmp_path, faulty_nlp):
    server.route("/slow", html_page(article("Slow", prose(SLOW))))
    config = config_for(server, ["/good/etf", "/slow"], article_time_budget=1.0)
    slow_finished.clear()
    with Store.open(tmp_path / "budget.db") as store:
        run_pipeline(config, store, processor=Processor(faulty_nlp, settings=config.settings))
        stored = articles(store)
    assert stored["/slow"]["status"] == "failed"
    assert stored["/slow"]["reject_reason"] == "time_budget_exceeded"
    assert stored["/good/etf"]["status"] == "processed"
    assert not slow_finished.is_set()  # cut short, not waited for


def test_sigterm_stops_the_run_inside_a_slow_article_keeping_what_was_stored(
    server, tmp_path, faulty_nlp
):
    # The slow page answers last, so the good ones are stored before it is analysed.
    server.route("/slow", Response(200, {"Content-Type": "text/html"},
                                   article("Slow", prose(SLOW)), delay=0.5))
    config = config_for(server, ["/good/etf", "/good/earnings", "/slow"])
    entries_report = RunReport(run_id=None, started_at=now_utc())
    stop = StopFlag()
    slow_finished.clear()
    from pipeline.run import collect_entries

    with Store.open(tmp_path / "stop.db") as store, stop_on_signals(stop):
        entries = collect_entries(config, store, entries_report).entries
        processor = Processor(faulty_nlp, batch_size=1, settings=config.settings)
        timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGTERM))
        timer.start()
        try:
            process_entries(config.settings, store, entries, processor, entries_report, stop=stop)
        finally:
            timer.cancel()
        stored = articles(store)
    assert entries_report.interrupted
    assert not slow_finished.is_set()  # the slow article was interrupted, not finished
    assert set(stored) == {"/good/etf", "/good/earnings"}  # /slow is fetched next run


def test_process_on_a_page_too_long_to_analyse_says_so(tmp_path):
    page = tmp_path / "long.html"
    page.write_bytes(article("Markets wrap", [*prose("A desk"), "x" * 1_500_000]))
    result = CliRunner().invoke(app, ["process", str(page)])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["status"] == "rejected" and answer["reason"].startswith("text_too_long")


def test_every_feed_failing_makes_the_run_exit_1(tmp_path, nlp):
    with LocalServer() as missing:  # every path is a 404
        config = parse_config({"settings": SETTINGS, "feeds": [
            {"name": "one", "url": missing.url("/one.xml")},
            {"name": "two", "url": missing.url("/two.xml")}]})
        with Store.open(tmp_path / "feeds.db") as store:
            report = run_pipeline(config, store, processor=Processor(nlp))
    assert set(report.feed_errors) == {"one", "two"}
    assert run_exit_code(report, config.settings) == EXIT_FAILURES


def test_a_killed_run_is_marked_interrupted_when_the_next_takes_the_lock(tmp_path, nlp):
    with Store.open(tmp_path / "killed.db") as store:
        killed = store.start_run(now_utc())  # a run whose process died before finishing
        run_pipeline(parse_config({"feeds": []}), store, processor=Processor(nlp))
        runs = {run.id: run for run in store.recent_runs(5)}
    assert runs[killed].status == "interrupted" and runs[killed].finished_at


def test_a_crash_is_exit_4_with_one_line_naming_the_traceback(tmp_path, monkeypatch, capsys):
    import pipeline.run

    def broken(*_args, **_kwargs):
        raise KeyError("a bug in the run itself")

    monkeypatch.setattr(pipeline.run, "collect_entries", broken)
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds: []\n", encoding="utf-8")
    log_file, db = tmp_path / "newsignal.log", tmp_path / "crash.db"
    with pytest.raises(SystemExit) as exit_info:
        main(["--log-file", str(log_file), "run", "--config", str(config), "--db", str(db)])
    assert exit_info.value.code == EXIT_CRASH
    stderr = capsys.readouterr().err.strip().splitlines()
    assert stderr[-1].startswith("newsignal: crashed: KeyError")
    assert str(log_file) in stderr[-1] and "Traceback" not in "\n".join(stderr)
    assert "Traceback" in log_file.read_text(encoding="utf-8")
    with Store.open(db) as store:
        run = store.recent_runs(1)[0]
    assert (run.status, run.exit_code) == ("crashed", EXIT_CRASH)


@pytest.mark.parametrize(
    ("setting", "named"),
    [("direction_model: /nonexistent/model", "direction_model"),
     ("per_host_delay: .inf", "per_host_delay"),
     ("read_timeout: 1e9", "read_timeout")],
)
def test_a_setting_that_cannot_work_is_exit_2_naming_it(tmp_path, setting, named):
    config = tmp_path / "feeds.yaml"
    config.write_text(f"settings:\n  {setting}\nfeeds: []\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--db",
                                      str(tmp_path / "x.db")])
    assert result.exit_code == 2, result.output
    assert named in result.output and "Traceback" not in result.output



def test_an_entry_feedparser_cannot_read_costs_only_itself(tmp_path, nlp):
    """Two entries with characters no text can hold (a lone surrogate, a code point past
    U+10FFFF) once made the whole feed read as empty, and its hash then hid it for good."""
    feed = (Path(__file__).parent / "fixtures/feeds/bad_character_entries.xml").read_bytes()
    with LocalServer() as served:
        links = [m.decode() for m in re.findall(rb"<link>(https://northline[^<]+)</link>", feed)]
        for link in links:
            served.route("/" + link.split("/", 3)[3],
                         html_page(article(link.rsplit("/", 1)[1], prose("A desk", 3))))
        served.route("/feed.xml", Response(200, {"Content-Type": "application/rss+xml"},
                                           feed.replace(b"https://northline.example.com",
                                                        served.url("").encode())))
        config = parse_config({"settings": SETTINGS,
                               "feeds": [{"name": "northline", "url": served.url("/feed.xml")}]})
        with Store.open(tmp_path / "entries.db") as store:
            report = run_pipeline(config, store, processor=Processor(nlp))
            stored = articles(store)
    assert report.counts["new"] == 5 and len(stored) == 5
    assert "/markets/mining-stocks-slip" not in stored
    skipped = [reason for where, reason in report.failures if where.startswith("feed northline")]
    assert skipped == ["unparseable_entry: UnicodeEncodeError", "unparseable_entry: ValueError"]

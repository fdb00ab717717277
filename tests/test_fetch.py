"""The fetcher against a local server serving faults: each fetch ends with the right reason."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from http_fixtures import (
    LocalServer,
    Response,
    endless_stream,
    gzip_bomb,
    gzipped,
    hang,
    html_page,
    redirect,
    sequence,
    wait_for,
)

from pipeline.config import Settings
from pipeline.decode import decode_html
from pipeline.fetch import Fetcher, fetch_all, is_public_address, parse_retry_after

# Loopback is where the test server lives, so the address guard is off except where tested.
FAST = Settings(
    allow_private_hosts=True,
    backoff_base=0.01,
    per_host_delay=0,
    connect_timeout=2,
    read_timeout=0.5,
    total_timeout=5,
    retries=2,
)

ARTICLE = (
    "<!doctype html><html><head><title>Bitcoin slides</title></head><body><article>"
    "<p>Bitcoin dropped to $60,000 on Friday.</p></article></body></html>"
)


def fetch(url: str, settings: Settings = FAST, **kwargs):
    async def run():
        async with Fetcher(settings) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return asyncio.run(run())


def arrival_span(server: LocalServer, path: str) -> float:
    """Seconds from the first to the last arrival of `path` at the server.

    Politeness tests assert a floor on it, with a quarter of slack for scheduling jitter under
    load: a broken gate sends everything at once (a span near zero), so the floor cannot pass by
    accident, and no timing is measured against a ceiling.
    """
    arrivals = [request.received_at for request in server.requests if request.path == path]
    return max(arrivals) - min(arrivals)


def test_plain_page_is_fetched_and_decoded(http_server):
    http_server.route("/story", html_page(ARTICLE))
    result = fetch(http_server.url("/story"))
    assert result.ok, result.error
    assert result.status == 200
    assert "Bitcoin dropped to $60,000" in result.text
    assert result.headers["content-type"].startswith("text/html")
    sent = http_server.requests[-1].headers
    assert sent["user-agent"] == FAST.user_agent


def test_gzip_page_is_decoded(http_server):
    http_server.route("/story", gzipped(html_page(ARTICLE)))
    result = fetch(http_server.url("/story"))
    assert result.ok, result.error
    assert result.body == ARTICLE.encode()


@pytest.mark.parametrize(
    ("coding", "compress"),
    [
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw, as some servers send it
        ("x-gzip", gzip.compress),
    ],
)
def test_other_content_codings_are_decoded(http_server, coding, compress):
    headers = {"Content-Type": "text/html; charset=utf-8", "Content-Encoding": coding}
    http_server.route("/story", Response(200, headers, compress(ARTICLE.encode())))
    result = fetch(http_server.url("/story"))
    assert result.ok, result.error
    assert result.body == ARTICLE.encode()


def test_corrupt_gzip_and_unknown_coding_are_reasons(http_server):
    headers = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    http_server.route("/corrupt", Response(200, headers, b"\x1f\x8b\x08\x00garbage-not-deflate"))
    http_server.route("/brotli", Response(200, {**headers, "Content-Encoding": "br"}, b"\x0b\x02"))
    assert fetch(http_server.url("/corrupt")).error == "corrupt_body: gzip"
    assert fetch(http_server.url("/brotli")).error == "unsupported_encoding: br"


def test_page_that_never_answers_times_out(http_server):
    http_server.route("/slow", hang(30))
    settings = FAST.model_copy(update={"read_timeout": 0.2, "retries": 1})
    result = fetch(http_server.url("/slow"), settings)
    assert result.error == "timeout"
    assert http_server.hits["/slow"] == 2  # timeouts are retried


def test_slow_drip_is_cut_by_the_total_timeout(http_server):
    def drip():
        while True:  # one byte well within the read timeout, forever (until the client leaves)
            yield b"<"
            time.sleep(0.05)

    http_server.route("/drip", lambda request: Response(200, {"Content-Type": "text/html"}, drip()))
    settings = FAST.model_copy(update={"total_timeout": 0.5, "retries": 0})
    assert fetch(http_server.url("/drip"), settings).error == "timeout"


def test_server_error_then_success_is_retried(http_server):
    http_server.route("/flaky", sequence(Response(500), Response(503), html_page(ARTICLE)))
    result = fetch(http_server.url("/flaky"))
    assert result.ok, result.error
    assert http_server.hits["/flaky"] == 3


def test_persistent_server_error_gives_up_with_status(http_server):
    http_server.route("/down", Response(502))
    result = fetch(http_server.url("/down"))
    assert result.error == "http_502"
    assert http_server.hits["/down"] == FAST.retries + 1


def test_429_retry_after_is_honoured(http_server):
    http_server.route(
        "/limited", sequence(Response(429, {"Retry-After": "1"}), html_page(ARTICLE))
    )
    result = fetch(http_server.url("/limited"), FAST.model_copy(update={"backoff_base": 0}))
    assert result.ok, result.error
    assert arrival_span(http_server, "/limited") >= 0.75  # the retry waited as it was told


def test_retry_after_beyond_the_cap_is_not_waited_for(http_server):
    http_server.route("/limited", Response(429, {"Retry-After": "3600"}))
    result = fetch(http_server.url("/limited"))
    assert result.error == "http_429"
    assert http_server.hits["/limited"] == 1


def test_404_is_not_retried(http_server):
    result = fetch(http_server.url("/missing"))
    assert result.error == "http_404"
    assert result.status == 404
    assert http_server.hits["/missing"] == 1


def test_redirects_are_followed_and_final_url_kept(http_server):
    http_server.route("/old", redirect("/new", 301))
    http_server.route("/new", redirect(http_server.url("/story"), 302))
    http_server.route("/story", html_page(ARTICLE))
    result = fetch(http_server.url("/old"))
    assert result.ok, result.error
    assert result.final_url == http_server.url("/story")
    assert result.url == http_server.url("/old")


def test_redirect_loop_is_detected(http_server):
    http_server.route("/a", redirect("/b"))
    http_server.route("/b", redirect("/a"))
    result = fetch(http_server.url("/a"))
    assert result.error == "redirect_loop"
    assert http_server.hits["/a"] == 2  # A -> B -> A -> B, then A would be a third visit


def test_too_many_redirects(http_server):
    for hop in range(10):
        http_server.route(f"/hop{hop}", redirect(f"/hop{hop + 1}"))
    result = fetch(http_server.url("/hop0"), FAST.model_copy(update={"max_redirects": 3}))
    assert result.error == "too_many_redirects"
    assert http_server.hits["/hop3"] == 1 and http_server.hits["/hop4"] == 0


def test_redirect_to_another_scheme_is_refused(http_server):
    http_server.route("/away", redirect("file:///etc/passwd"))
    assert fetch(http_server.url("/away")).error == "refused_scheme"


def test_60_mb_page_is_cut_at_the_cap_without_reading_it_all(http_server):
    size = 60_000_000
    http_server.route("/huge", endless_stream(size))
    settings = FAST.model_copy(update={"max_body_bytes": 2_000_000})
    result = fetch(http_server.url("/huge"), settings)
    assert result.error == "too_large"
    assert result.body == b""
    # The server stops when the client hangs up: what it wrote is the cap plus socket buffers.
    assert wait_for(lambda: http_server.bytes_sent["/huge"] < size)
    assert http_server.bytes_sent["/huge"] < size // 4


def test_declared_length_over_the_cap_is_refused_before_the_body(http_server):
    body = b"<p>" + b"x" * 3_000_000 + b"</p>"
    http_server.route("/big", html_page(body))
    result = fetch(http_server.url("/big"), FAST.model_copy(update={"max_body_bytes": 1_000_000}))
    assert result.error == "too_large"


def test_gzip_bomb_is_stopped_by_decoded_size(http_server):
    bomb = gzip_bomb(64_000_000)
    assert len(bomb.body) < 200_000  # tiny on the wire
    http_server.route("/bomb", bomb)
    result = fetch(http_server.url("/bomb"), FAST.model_copy(update={"max_body_bytes": 5_000_000}))
    assert result.error == "decompression_bomb"


def test_pdf_is_rejected_by_content_type(http_server):
    http_server.route(
        "/report.pdf", Response(200, {"Content-Type": "application/pdf"}, b"%PDF-1.7\n...")
    )
    result = fetch(http_server.url("/report.pdf"))
    assert result.error == "not_html: application/pdf"


def test_pdf_served_as_html_is_rejected_by_sniffing(http_server):
    http_server.route("/report", Response(200, {"Content-Type": "text/html"}, b"%PDF-1.4\n\x00"))
    assert fetch(http_server.url("/report")).error == "not_html: application/pdf"


def test_image_is_rejected(http_server):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    http_server.route("/chart.png", Response(200, {"Content-Type": "image/png"}, png))
    assert fetch(http_server.url("/chart.png")).error == "not_html: image/png"


KOREAN = "비트코인이 금요일 6만 달러까지 하락하며 암호화폐 시장에서 26억 5천만 달러가 청산됐다."
JAPANESE = "ビットコインは金曜日に6万ドルまで下落し、暗号資産市場で大規模な清算が発生した。"
FRENCH = "Le bitcoin a chuté à 60 000 $ vendredi — « une purge » selon les analystes, déjà très "
FRENCH += "inquiets de l’effondrement des flux d’ETF. Coût : 2,65 milliards €."


def test_euc_kr_page_declared_in_meta(http_server):
    page = f'<html><head><meta charset="euc-kr"><title>t</title></head><body><p>{KOREAN}</p>'
    http_server.route("/ko", html_page(page.encode("euc-kr"), charset=None))
    result = fetch(http_server.url("/ko"))
    assert KOREAN in result.text
    assert result.encoding == "cp949"  # the superset browsers use for EUC-KR


def test_shift_jis_page_declared_in_http_header(http_server):
    page = f"<html><body><p>{JAPANESE}</p></body></html>"
    http_server.route("/ja", html_page(page.encode("shift_jis"), charset="Shift_JIS"))
    result = fetch(http_server.url("/ja"))
    assert JAPANESE in result.text


def test_cp1252_page_labelled_latin1(http_server):
    # Typographic quotes and the euro sign exist in windows-1252 only, not in ISO-8859-1.
    page = f"<html><head><meta http-equiv='Content-Type' content='text/html; charset=iso-8859-1'>"
    page += f"</head><body><p>{FRENCH}</p></body></html>"
    http_server.route("/fr", html_page(page.encode("cp1252"), charset=None))
    result = fetch(http_server.url("/fr"))
    assert FRENCH in result.text


@pytest.mark.parametrize(
    ("text", "codec"),
    [(KOREAN * 4, "euc-kr"), (JAPANESE * 4, "shift_jis"), (FRENCH * 3, "cp1252")],
)
def test_undeclared_encodings_are_detected(text, codec):
    body = f"<html><body><p>{text}</p></body></html>".encode(codec)
    decoded, _ = decode_html(body, "text/html")
    assert text in decoded


def test_utf8_page_mislabelled_latin1_is_read_as_utf8():
    body = f"<p>{KOREAN} {FRENCH}</p>".encode()
    decoded, encoding = decode_html(body, "text/html; charset=ISO-8859-1")
    assert KOREAN in decoded and encoding == "utf_8"


def test_bom_wins_over_declarations():
    body = "\ufeff<meta charset='euc-kr'><p>Ünïcödé</p>".encode("utf-8")
    decoded, encoding = decode_html(body, "text/html; charset=euc-kr")
    assert "Ünïcödé" in decoded and encoding == "utf-8"


def test_private_address_is_refused_when_not_allowed(http_server):
    http_server.route("/story", html_page(ARTICLE))
    url = http_server.url("/story", host="localhost")  # a name resolving to loopback
    strict = FAST.model_copy(update={"allow_private_hosts": False})
    assert fetch(url, strict).error == "refused_private_address"
    assert http_server.hits["/story"] == 0
    assert fetch(url, FAST).ok  # the same URL with private hosts allowed


def test_redirect_to_a_private_address_is_refused_at_that_hop(http_server):
    # The first hop is allowed only because the test server itself lives on loopback; the guard
    # is exercised on the metadata address the redirect points at.
    http_server.route("/go", redirect("http://169.254.169.254/latest/meta-data/"))
    result = fetch(http_server.url("/go"), FAST.model_copy(update={"allow_private_hosts": False}))
    assert result.error == "refused_private_address"


def test_metadata_address_is_refused_without_any_connection():
    result = fetch("http://169.254.169.254/latest/meta-data/", Settings(retries=0))
    assert result.error == "refused_private_address"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True), ("2606:4700::1111", True), ("127.0.0.1", False), ("10.1.2.3", False),
        ("172.16.0.1", False), ("192.168.1.1", False), ("169.254.169.254", False),
        ("100.64.0.1", False), ("224.0.0.1", False), ("0.0.0.0", False), ("::1", False),
        ("fe80::1", False), ("fc00::1", False), ("::ffff:127.0.0.1", False), ("240.0.0.1", False),
    ],
)
def test_address_classification(address, public):
    assert is_public_address(address) is public


@pytest.mark.parametrize("url", ["ftp://example.com/file", "file:///etc/passwd", "javascript:x"])
def test_non_http_schemes_are_refused(url):
    assert fetch(url).error == "refused_scheme"


def test_robots_disallow_is_honoured_and_fetched_once(http_server):
    http_server.route(
        "/robots.txt",
        Response(200, {"Content-Type": "text/plain"},
                 b"User-agent: *\nAllow: /\n\nUser-agent: newsignal\nDisallow: /premium/\n"),
    )
    http_server.route("/premium/story", html_page(ARTICLE))
    http_server.route("/free/story", html_page(ARTICLE))
    results = fetch_all(
        [http_server.url("/premium/story"), http_server.url("/free/story")] * 2, FAST
    )
    assert [r.error for r in results] == ["robots_disallowed", None, "robots_disallowed", None]
    assert http_server.hits["/premium/story"] == 0
    assert http_server.hits["/robots.txt"] == 1


def test_robots_crawl_delay_stretches_the_host_delay(http_server):
    # urllib.robotparser reads whole seconds only.
    http_server.route(
        "/robots.txt",
        Response(200, {"Content-Type": "text/plain"}, b"User-agent: *\nCrawl-delay: 1\n"),
    )
    http_server.route("/story", html_page(ARTICLE))
    results = fetch_all([http_server.url("/story")] * 2, FAST)
    assert all(r.ok for r in results)
    assert arrival_span(http_server, "/story") >= 0.75


def test_missing_robots_allows_everything_and_robots_5xx_disallows(http_server):
    http_server.route("/story", html_page(ARTICLE))
    assert fetch(http_server.url("/story")).ok  # /robots.txt is a 404 here
    http_server.route("/robots.txt", Response(503))
    result = fetch(http_server.url("/story"), FAST.model_copy(update={"retries": 0}))
    assert result.error == "robots_unavailable: http_503"


def test_conditional_get_gives_not_modified(http_server):
    def feed(request):
        if request.headers.get("if-none-match") == '"v1"':
            return Response(304, {"ETag": '"v1"'})
        return Response(200, {"Content-Type": "application/rss+xml", "ETag": '"v1"'}, b"<rss/>")

    http_server.route("/feed", feed)
    first = fetch(http_server.url("/feed"), accept="feed")
    assert first.ok and first.headers["etag"] == '"v1"'
    second = fetch(http_server.url("/feed"), accept="feed", etag='"v1"',
                   last_modified="Fri, 06 Feb 2026 10:00:00 GMT")
    assert second.not_modified and not second.ok and second.error is None
    assert http_server.requests[-1].headers["if-modified-since"] == "Fri, 06 Feb 2026 10:00:00 GMT"


def test_feed_accepts_xml_types_but_not_images(http_server):
    http_server.route("/feed.xml", Response(200, {"Content-Type": "text/xml"}, b"<rss/>"))
    http_server.route("/logo", Response(200, {"Content-Type": "image/gif"}, b"GIF89a..."))
    assert fetch(http_server.url("/feed.xml"), accept="feed").body == b"<rss/>"
    assert fetch(http_server.url("/logo"), accept="feed").error == "not_a_feed: image/gif"


def test_connection_refused_is_a_reason_not_a_crash():
    with LocalServer() as server:
        url = server.url("/gone")
    result = fetch(url, FAST.model_copy(update={"retries": 0}))
    assert result.error.startswith("connection_error")


def test_per_host_delay_spaces_requests(http_server):
    http_server.route("/story", html_page(ARTICLE))
    settings = FAST.model_copy(update={"per_host_delay": 0.2})
    results = fetch_all([http_server.url("/story")] * 4, settings)
    assert all(r.ok for r in results)
    assert arrival_span(http_server, "/story") >= 3 * 0.2 * 0.75


def test_retry_after_parsing():
    now = datetime(2026, 2, 6, 10, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    later = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(later, now) == 90.0
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None

"""The network edge: fetch feeds and pages politely and safely, and never raise on bad input.

`Fetcher` wraps one httpx client for a whole run. Every fetch comes back as a `FetchResult`; when it
fails, `error` holds a short machine-readable reason ("timeout", "http_404", "too_large",
"refused_private_address", ...) and the run goes on.

What it guarantees, and where:
- Safety: only http/https; every TCP connection (first hop, each redirect hop, robots.txt) goes
  through `_GuardedBackend`, which resolves the host itself and connects only to the addresses it
  checked, so DNS rebinding cannot slip a private address past the check.
- Bounded work: connect/read timeouts, a total timeout per attempt, a cap on the *decoded* body
  (gzip/deflate are decoded here with a bounded output, so a bomb never inflates in memory),
  at most `max_redirects` hops, each checked like the first.
- Politeness: a per-host gate (concurrency and a minimum delay between request starts, stretched by
  robots.txt Crawl-delay and by 429 Retry-After), a global concurrency bound, robots.txt per origin.
- Retries: timeouts, dropped connections, 429 and 5xx, with exponential backoff and jitter,
  honouring Retry-After up to `max_retry_after`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpcore
import httpx

from pipeline.config import Settings
from pipeline.decode import decode_html
from pipeline.records import FetchResult

log = logging.getLogger(__name__)

Accept = Literal["html", "feed", "robots"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_MAX_BYTES = 512_000  # RFC 9309 asks crawlers to parse at least 500 KiB
# A compressed body that inflates more than this many times over is a bomb, not a big page:
# real HTML compresses by 5-20x.
BOMB_RATIO = 100
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Feeds come with all sorts of content types (text/html included); refuse only sure non-feeds.
NOT_FEED_PREFIXES = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
ACCEPT_HEADERS = {
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,"
    "*/*;q=0.1",
    "robots": "text/plain,*/*;q=0.1",
}
# Magic numbers of the binary bodies servers most often send under a wrong Content-Type.
SNIFFED_TYPES: Sequence[tuple[bytes, str]] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
)


class RefusedAddress(Exception):
    """A host resolved to an address the fetcher must not reach (loopback, private, ...)."""


def is_public_address(address: str) -> bool:
    """True for a globally routable unicast address (IPv4-mapped IPv6 judged by its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves each host itself and connects only to addresses that passed the check."""

    def __init__(self, allow_private: bool):
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
            )
        except TimeoutError as error:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from error
        except (socket.gaierror, UnicodeError) as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from error
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        if not self._allow_private:
            refused = [address for address in addresses if not is_public_address(address)]
            if refused:  # one bad address taints the name: we cannot choose which one is used
                raise RefusedAddress(f"{host} resolves to {refused[0]}")
        last_error: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        raise last_error

    async def connect_unix_socket(self, *args, **kwargs) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _guarded_transport(settings: Settings, limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    # httpx takes no network backend, so the pool it built is swapped for one using our guard,
    # keeping its TLS context (certificate checks still name the requested host).
    pool = transport._pool
    if not isinstance(pool, httpcore.AsyncConnectionPool):  # pragma: no cover - httpx changed
        raise RuntimeError("unexpected httpx transport internals; cannot install address guard")
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=pool._ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=_GuardedBackend(settings.allow_private_hosts),
    )
    return transport


class _HostGate:
    """Politeness for one host: at most `concurrency` requests, starts `delay` seconds apart."""

    def __init__(self, concurrency: int, delay: float):
        self.slots = asyncio.Semaphore(concurrency)
        self.start_lock = asyncio.Lock()
        self.delay = delay
        self.next_start = 0.0

    def defer(self, seconds: float) -> None:
        """Push the next start back (the host asked us to wait, with 429 + Retry-After)."""
        self.next_start = max(self.next_start, time.monotonic() + seconds)


class _BodyTooLarge(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class _CappedDecoder:
    """Content-decodes a body chunk by chunk, never producing more than `cap` bytes."""

    def __init__(self, content_encoding: str, cap: int):
        self.encoding = content_encoding
        self.cap = cap
        self.consumed_bytes = 0  # compressed input actually inflated (not merely received)
        self.decoded_bytes = 0
        self._zlib = self._new_zlib() if content_encoding != "identity" else None
        self._first = True

    def _new_zlib(self):
        # gzip: header required; deflate: zlib-wrapped per the RFC, raw from some servers
        # (retried as raw on the first chunk's error).
        wbits = zlib.MAX_WBITS | 16 if self.encoding == "gzip" else zlib.MAX_WBITS
        return zlib.decompressobj(wbits)

    def feed(self, chunk: bytes) -> bytes:
        if self._zlib is None:
            output = chunk
            self.consumed_bytes += len(chunk)
        else:
            output = self._inflate(chunk)
        self.decoded_bytes += len(output)
        if self.decoded_bytes > self.cap:
            ratio = self.decoded_bytes / max(self.consumed_bytes, 1)
            compressed = self._zlib is not None
            raise _BodyTooLarge("decompression_bomb" if compressed and ratio > BOMB_RATIO
                                else "too_large")
        return output

    def _inflate(self, chunk: bytes) -> bytes:
        parts: list[bytes] = []
        data = chunk
        while data:
            room = self.cap - self.decoded_bytes - sum(map(len, parts)) + 1
            try:
                out = self._zlib.decompress(data, room)
            except zlib.error:
                if self._first and self.encoding == "deflate":
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise
            self._first = False
            self.consumed_bytes += len(data) - len(self._zlib.unconsumed_tail)
            parts.append(out)
            if len(out) >= room:  # the output alone passes the cap; stop inflating
                break
            if self._zlib.eof and self._zlib.unused_data:  # concatenated gzip members
                data = self._zlib.unused_data
                self._zlib = self._new_zlib()
            else:
                data = b""
        return b"".join(parts)


@dataclass(slots=True)
class _Attempt:
    """One attempt (a redirect chain) and what the retry loop needs to know about it."""

    result: FetchResult
    retryable: bool = False
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _sniff_binary(body: bytes) -> str | None:
    for magic, media_type in SNIFFED_TYPES:
        if body.startswith(magic):
            return media_type
    return None


# -- the fetcher ----------------------------------------------------------------------------------


class Fetcher:
    """Fetches URLs for one run; use as `async with Fetcher(settings) as fetcher`."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        limits = httpx.Limits(
            max_connections=self.settings.global_concurrency * 2,
            max_keepalive_connections=self.settings.global_concurrency,
        )
        self._client = httpx.AsyncClient(
            transport=_guarded_transport(self.settings, limits),
            timeout=httpx.Timeout(
                connect=self.settings.connect_timeout,
                read=self.settings.read_timeout,
                write=self.settings.read_timeout,
                pool=None,  # waiting for a free connection is bounded by our own semaphores
            ),
            headers={
                "User-Agent": self.settings.user_agent,
                "Accept-Encoding": "gzip, deflate",  # the two we decode with a bounded output
            },
            follow_redirects=False,  # each hop is checked by _attempt
            trust_env=False,  # a proxy would hide the address the guard must check
        )
        self._global = asyncio.Semaphore(self.settings.global_concurrency)
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, asyncio.Task[RobotFileParser | str]] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for task in self._robots.values():
            task.cancel()
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: Accept = "html",
    ) -> FetchResult:
        """Fetch one URL; never raises for anything the network or the server does."""
        started = time.monotonic()
        try:
            result = await self._fetch_with_retries(url, etag, last_modified, accept, robots=True)
        except Exception as error:  # a bug here must cost one URL, not the run
            log.exception("unexpected error fetching %s", url)
            result = FetchResult(url=url, final_url=url,
                                 error=f"fetch_error: {type(error).__name__}: {error}"[:200])
        result.elapsed_ms = (time.monotonic() - started) * 1000
        log.debug("fetched %s -> %s %s", url, result.status, result.error or "ok")
        return result

    async def _fetch_with_retries(
        self, url: str, etag: str | None, last_modified: str | None, accept: Accept, robots: bool
    ) -> FetchResult:
        conditional = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        retries = self.settings.retries
        for attempt_number in range(retries + 1):
            attempt = await self._attempt(url, conditional, accept, robots)
            if not attempt.retryable or attempt_number == retries:
                break
            delay = self.settings.backoff_base * 2**attempt_number * random.uniform(0.5, 1.5)
            if attempt.retry_after is not None:
                if attempt.retry_after > self.settings.max_retry_after:
                    break  # waiting less than asked would be rude; report the 429/503
                delay = max(delay, attempt.retry_after)
            log.info("retrying %s in %.2fs after %s", url, delay, attempt.result.error)
            await asyncio.sleep(delay)
        return attempt.result

    async def _attempt(
        self, url: str, conditional: dict[str, str], accept: Accept, robots: bool
    ) -> _Attempt:
        """One request, following redirects hop by hop (each hop checked like the first)."""
        current = url
        visits: dict[str, int] = {}
        for hop in range(self.settings.max_redirects + 1):
            failure = FetchResult(url=url, final_url=current)
            try:
                parts = urlsplit(current)
                if parts.scheme.lower() not in ("http", "https"):
                    failure.error = "refused_scheme"
                    return _Attempt(failure)
                if not parts.hostname:
                    failure.error = "invalid_url"
                    return _Attempt(failure)
            except ValueError:
                failure.error = "invalid_url"
                return _Attempt(failure)
            visits[current] = visits.get(current, 0) + 1
            if visits[current] > 2:  # once more is allowed: A -> consent page -> A is common
                failure.error = "redirect_loop"
                return _Attempt(failure)
            if robots and self.settings.respect_robots:
                refusal = await self._robots_refusal(current)
                if refusal:
                    failure.error = refusal
                    return _Attempt(failure)
            attempt = await self._exchange(url, current, conditional, accept)
            location = attempt.result.headers.get("location")
            if attempt.result.status not in REDIRECT_STATUSES or attempt.result.error:
                return attempt
            if not location:
                failure.status = attempt.result.status
                failure.error = f"http_{attempt.result.status}_without_location"
                return _Attempt(failure)
            if hop == self.settings.max_redirects:
                failure.status = attempt.result.status
                failure.error = "too_many_redirects"
                return _Attempt(failure)
            current = urljoin(current, location.strip())
        raise AssertionError("unreachable")  # pragma: no cover

    @asynccontextmanager
    async def _turn(self, url: str) -> AsyncIterator[_HostGate]:
        """Wait for this host's next polite start and a global slot."""
        gate = self._gate(url)
        async with gate.slots:
            async with gate.start_lock:
                wait = gate.next_start - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._global.acquire()
                gate.next_start = time.monotonic() + gate.delay
            try:
                yield gate
            finally:
                self._global.release()

    def _gate(self, url: str) -> _HostGate:
        host = urlsplit(url).netloc.lower()
        gate = self._gates.get(host)
        if gate is None:
            gate = self._gates[host] = _HostGate(
                self.settings.per_host_concurrency, self.settings.per_host_delay
            )
        return gate

    async def _exchange(
        self, url: str, current: str, conditional: dict[str, str], accept: Accept
    ) -> _Attempt:
        """One HTTP request and its (capped) body."""
        result = FetchResult(url=url, final_url=current)
        headers = {"Accept": ACCEPT_HEADERS[accept], **conditional}
        async with self._turn(current) as gate:
            try:
                async with asyncio.timeout(self.settings.total_timeout):
                    return await self._send(result, headers, accept, gate)
            except RefusedAddress:
                result.error = "refused_private_address"
            except (TimeoutError, httpx.TimeoutException):
                result.error = "timeout"
                return _Attempt(result, retryable=True)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
                result.error = f"connection_error: {_describe(error)}"
                return _Attempt(result, retryable=True)
            except httpx.InvalidURL:
                result.error = "invalid_url"
            except httpx.HTTPError as error:
                result.error = f"connection_error: {_describe(error)}"
        return _Attempt(result)

    async def _send(
        self, result: FetchResult, headers: dict[str, str], accept: Accept, gate: _HostGate
    ) -> _Attempt:
        async with self._client.stream("GET", result.final_url, headers=headers) as response:
            status = result.status = response.status_code
            result.headers = {key.lower(): value for key, value in response.headers.items()}
            if status == 304:
                result.not_modified = True
                return _Attempt(result)
            if status in REDIRECT_STATUSES:
                return _Attempt(result)  # _attempt follows it
            if status >= 400:
                result.error = f"http_{status}"
                retry_after = parse_retry_after(result.headers.get("retry-after"))
                if status == 429 and retry_after is not None:  # the whole host must slow down
                    gate.defer(min(retry_after, self.settings.max_retry_after))
                retryable = status == 429 or status >= 500
                return _Attempt(result, retryable=retryable, retry_after=retry_after)
            if not 200 <= status < 300:
                result.error = f"http_{status}"
                return _Attempt(result)
            result.error = _refuse_type(result.headers.get("content-type"), accept)
            if result.error is None:
                cap = ROBOTS_MAX_BYTES if accept == "robots" else self.settings.max_body_bytes
                result.body, result.error = await _read_body(response, result.headers, cap)
        if result.error is None:
            _check_body(result, accept)
        return _Attempt(result)

    # -- robots.txt -----------------------------------------------------------------------------

    async def _robots_refusal(self, url: str) -> str | None:
        """None if robots.txt lets us fetch `url`, else the reason we may not."""
        parts = urlsplit(url)
        origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        task = self._robots.get(origin)
        if task is None:
            task = self._robots[origin] = asyncio.ensure_future(self._load_robots(origin))
        rules = await asyncio.shield(task)
        if isinstance(rules, str):
            return rules
        return None if rules.can_fetch(self.settings.user_agent, url) else "robots_disallowed"

    async def _load_robots(self, origin: str) -> RobotFileParser | str:
        result = await self._fetch_with_retries(
            f"{origin}/robots.txt", None, None, "robots", robots=False
        )
        rules = RobotFileParser()
        if result.error == "refused_private_address":
            return result.error
        if result.ok:
            rules.parse(result.body.decode("utf-8", "replace").splitlines())
            delay = rules.crawl_delay(self.settings.user_agent)
            if delay:
                gate = self._gate(origin)
                gate.delay = max(gate.delay, min(float(delay), self.settings.max_retry_after))
            return rules
        # RFC 9309: an unreachable robots.txt means "assume complete disallow". When the host
        # cannot be reached at all, that reason is the one worth reporting.
        if result.error == "timeout" or result.error.startswith("connection_error"):
            return result.error
        if result.error.startswith("http_5"):
            return f"robots_unavailable: {result.error}"
        rules.parse([])  # 4xx and unusable answers: no rules, everything allowed
        return rules


async def _read_body(
    response: httpx.Response, headers: dict[str, str], cap: int
) -> tuple[bytes, str | None]:
    """The content-decoded body, or why it was not read (too large, a bomb, an unknown coding)."""
    encoding = headers.get("content-encoding", "identity").strip().lower()
    encoding = {"x-gzip": "gzip", "": "identity"}.get(encoding, encoding)
    if encoding not in ("identity", "gzip", "deflate"):
        return b"", f"unsupported_encoding: {encoding}"
    length = headers.get("content-length", "")
    if encoding == "identity" and length.isdigit() and int(length) > cap:
        return b"", "too_large"
    decoder = _CappedDecoder(encoding, cap)
    chunks: list[bytes] = []
    try:
        async for chunk in response.aiter_raw():
            chunks.append(decoder.feed(chunk))
    except _BodyTooLarge as error:
        return b"", error.reason
    except zlib.error:
        return b"", f"corrupt_body: {encoding}"
    return b"".join(chunks), None


def _check_body(result: FetchResult, accept: Accept) -> None:
    """Refuse binary bodies sent under a text type; decode pages."""
    sniffed = _sniff_binary(result.body)
    if sniffed and accept != "robots":
        result.error = f"not_html: {sniffed}" if accept == "html" else f"not_a_feed: {sniffed}"
        result.body = b""
    elif accept == "html":
        result.text, result.encoding = decode_html(result.body, result.headers.get("content-type"))


def judge_archived_page(result: FetchResult, max_body_bytes: int) -> FetchResult:
    """The checks `Fetcher` makes on an HTML answer, for one that arrives whole from an archive
    (a backfill's WARC record): status, content type, size cap, binary sniffing, decoding.
    Sets `error`, or `text` and `encoding`, on `result` and returns it."""
    if result.status is not None and not 200 <= result.status < 300:
        result.error = f"http_{result.status}"
    else:
        result.error = _refuse_type(result.headers.get("content-type"), "html")
    if result.error is None and len(result.body) > max_body_bytes:
        result.error, result.body = "too_large", b""
    if result.error is None:
        _check_body(result, "html")
    return result


def _refuse_type(content_type: str | None, accept: Accept) -> str | None:
    media_type = _media_type(content_type)
    if not media_type or accept == "robots":
        return None
    if accept == "html":
        return None if media_type in HTML_TYPES else f"not_html: {media_type}"
    if media_type.startswith(NOT_FEED_PREFIXES):
        return f"not_a_feed: {media_type}"
    return None


def _describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text[:160]


def fetch_all(
    urls: Iterable[str], settings: Settings | None = None, *, accept: Accept = "html"
) -> list[FetchResult]:
    """Fetch many URLs concurrently (within the politeness limits); results in input order."""

    async def run() -> list[FetchResult]:
        async with Fetcher(settings) as fetcher:
            return list(await asyncio.gather(*(fetcher.fetch(url, accept=accept) for url in urls)))

    return asyncio.run(run())

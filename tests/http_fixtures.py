"""A local threaded HTTP server for tests: a route table `path -> handler`, plus fault routes.

    server = LocalServer()             # 127.0.0.1, a free port
    server.route("/ok", html_page("<p>hi</p>"))
    server.route("/flaky", sequence(Response(500), Response(200, body=b"...")))
    with server:
        fetch(server.url("/ok"))
    assert server.hits["/flaky"] == 2

A handler is a callable taking the `RecordedRequest` and returning a `Response`; a `Response` given
directly is served as is on every call. A body may be bytes or an iterable of byte chunks (sent with
chunked transfer encoding, so the client cannot know the length in advance). The `http_server`
fixture (conftest.py) gives a started server and stops it after the test. Only ever bound to
loopback addresses.
"""

from __future__ import annotations

import gzip
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit



@dataclass(slots=True)
class RecordedRequest:
    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]  # lower-case names
    received_at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class Response:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""
    delay: float = 0.0  # seconds to wait before sending anything (latency, or a hang)


Handler = Callable[[RecordedRequest], Response]


class LocalServer:
    """An HTTP/1.1 server on a loopback address, serving a mutable route table."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        if not host.startswith("127."):
            raise ValueError("test servers bind to loopback addresses only")
        self.routes: dict[str, Handler | Response] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self.bytes_sent: Counter[str] = Counter()  # body bytes written per path
        self.stopping = threading.Event()  # wakes handlers that hang, so stop() is quick
        self._lock = threading.Lock()
        self._httpd = _QuietServer((host, port), _make_handler(self))
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self._httpd.server_address[0]

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, path: str = "/", host: str | None = None) -> str:
        """The URL of `path`; `host` swaps the address for a name, e.g. "localhost"."""
        return f"http://{host or self.host}:{self.port}{path}"

    def route(self, path: str, handler: Handler | Response) -> None:
        self.routes[path] = handler

    def start(self) -> LocalServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _record(self, request: RecordedRequest) -> Handler | Response | None:
        with self._lock:
            self.hits[request.path] += 1
            self.requests.append(request)
        return self.routes.get(request.path)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # Clients hanging up mid-request is what fault tests do on purpose; anything else is a bug.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _make_handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class RouteHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle on, the body would wait for the
        # client's delayed ACK (~40 ms), a latency no real server adds.
        disable_nagle_algorithm = True

        def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
            parts = urlsplit(self.path)
            request = RecordedRequest(
                method=self.command,
                path=parts.path,
                query=parts.query,
                headers={key.lower(): value for key, value in self.headers.items()},
            )
            route = server._record(request)
            if route is None:
                response = Response(404, {"Content-Type": "text/plain"}, b"no such route")
            elif isinstance(route, Response):
                response = route
            else:
                response = route(request)
            if response.delay and server.stopping.wait(response.delay):
                return
            try:
                self._send(response, parts.path)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a cap or a timeout did its job)

        def _send(self, response: Response, path: str) -> None:
            self.send_response(response.status)
            names = {name.lower() for name in response.headers}
            for name, value in response.headers.items():
                self.send_header(name, value)
            if isinstance(response.body, bytes | bytearray):
                if "content-length" not in names:
                    self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)
                server.bytes_sent[path] += len(response.body)
                return
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in response.body:
                if server.stopping.is_set():
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                server.bytes_sent[path] += len(chunk)
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base
            pass  # keep test output clean

    return RouteHandler


# -- ready-made responses and fault routes ------------------------------------------------------


def html_page(html: str | bytes, charset: str | None = "utf-8", **headers: str) -> Response:
    """An HTML page; `charset=None` leaves it out of Content-Type (the page must declare it)."""
    body = html.encode(charset or "utf-8") if isinstance(html, str) else html
    content_type = "text/html" + (f"; charset={charset}" if charset else "")
    return Response(200, {"Content-Type": content_type, **headers}, body)


def sequence(*responses: Response) -> Handler:
    """Serves the responses in turn, then repeats the last (e.g. 500 then 200)."""
    served = iter(responses)
    last = [responses[-1]]
    lock = threading.Lock()

    def handler(request: RecordedRequest) -> Response:
        with lock:
            last[0] = next(served, last[0])
            return last[0]

    return handler


def redirect(location: str, status: int = 302) -> Response:
    return Response(status, {"Location": location, "Content-Length": "0"})


def hang(seconds: float = 30.0) -> Response:
    """Accepts the request and answers nothing for `seconds` (or until the server stops)."""
    return Response(200, {"Content-Type": "text/html"}, b"<p>too late</p>", delay=seconds)


def endless_stream(total_bytes: int, chunk_size: int = 65_536) -> Handler:
    """An HTML body of `total_bytes`, generated chunk by chunk, with no Content-Length."""

    def chunks() -> Iterator[bytes]:
        block = b"<p>" + b"x" * (chunk_size - 7) + b"</p>\n"
        sent = 0
        while sent < total_bytes:
            piece = block[: total_bytes - sent]
            sent += len(piece)
            yield piece

    def handler(request: RecordedRequest) -> Response:
        return Response(200, {"Content-Type": "text/html; charset=utf-8"}, chunks())

    return handler


def gzip_bomb(decoded_bytes: int) -> Response:
    """A tiny gzip body that inflates to `decoded_bytes` of zeros (built once, streamed)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * 1_048_576
    parts = [compressor.compress(block) for _ in range(decoded_bytes // len(block))]
    parts.append(compressor.flush())
    body = b"".join(parts)
    return Response(200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, body)


def gzipped(response: Response) -> Response:
    assert isinstance(response.body, bytes)
    return Response(
        response.status,
        {**response.headers, "Content-Encoding": "gzip"},
        gzip.compress(response.body),
        response.delay,
    )


def with_latency(handler: Handler | Response, seconds: float) -> Handler:
    """Wraps a route so every answer waits `seconds` first."""

    def delayed(request: RecordedRequest) -> Response:
        response = handler if isinstance(handler, Response) else handler(request)
        return Response(response.status, response.headers, response.body, seconds)

    return delayed


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Polls `predicate` until it holds (for checks on what the server saw after a client left)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()

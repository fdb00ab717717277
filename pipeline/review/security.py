"""What every request to the review app passes before a route sees it, and what every answer
carries.

- Host names: a request must name one of the app's own hosts (the bound address, the loopback
  names, or one given with --allowed-host), and a write from a browser must come from one of them
  (Origin), so a web page the researcher visits cannot reach the app through a name of its own
  that resolves to 127.0.0.1 (DNS rebinding).
- Access token: with one configured, every request presents it (`?token=...` once, which sets a
  cookie, or the `X-Newsignal-Token` header).
- CSRF: every POST carries the per-process token (form field or `X-CSRF-Token` header).
- Headers: a Content-Security-Policy allowing only our own script and style files, no sniffing,
  no referrer, no framing.

The app's `ReviewConfig` is read from `request.app.state.config`.
"""

from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode, urlsplit

from fastapi import HTTPException, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from starlette.datastructures import FormData

TOKEN_COOKIE = "newsignal_token"
TOKEN_HEADER = "x-newsignal-token"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(value: str) -> str:
    """The host of a Host header or an Origin's netloc, lower-case, without port or brackets."""
    try:
        host = urlsplit(f"//{value}").hostname
    except ValueError:
        return ""
    return (host or "").lower()


async def guard(request: Request, call_next):
    """The app's HTTP middleware: host names, Origin of writes, access token; secure headers on
    every answer."""
    config = request.app.state.config
    if host_name(request.headers.get("host", "")) not in config.allowed_hosts:
        return secure(PlainTextResponse("unknown host name", status_code=400))
    origin = request.headers.get("origin")
    if request.method in UNSAFE_METHODS and origin is not None and (
        host_name(urlsplit(origin).netloc) not in config.allowed_hosts
    ):
        return secure(PlainTextResponse("cross-origin write refused", status_code=403))
    if config.access_token is not None:
        offered = request.query_params.get("token")
        if offered is not None and _same(offered, config.access_token):
            # Log in: remember the token in a cookie and drop it from the address bar.
            query = urlencode([(k, v) for k, v in request.query_params.multi_items()
                               if k != "token"])
            target = request.url.path + (f"?{query}" if query else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(TOKEN_COOKIE, config.access_token, httponly=True,
                                samesite="strict")
            return secure(response)
        presented = request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE)
        if presented is None or not _same(presented, config.access_token):
            return secure(PlainTextResponse(
                "access token required: open this address with ?token=...", status_code=401
            ))
    return secure(await call_next(request))


def secure(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token is checked (403 otherwise)."""
    form = await request.form()
    offered = request.headers.get(CSRF_HEADER) or form.get("csrf_token")
    if not isinstance(offered, str) or not _same(offered, request.app.state.config.csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")
    return form


def _same(offered: str, expected: str) -> bool:
    return hmac.compare_digest(offered.encode(), expected.encode())

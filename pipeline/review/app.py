"""The review web app: researchers read what the pipeline extracted, judge it and correct it.

Judgements go to the `corrections` table (see `pipeline.store.review_queries`); the model's rows
are never modified. Safety: article text and titles are untrusted and always escaped (Jinja2
autoescape, highlight markup built with `markupsafe.escape`), a Content-Security-Policy allows
only our own script and style files, every POST carries a per-process CSRF token, and a server
bound beyond loopback requires an access token on every request. Requests must name one of the
app's own host names (the bound address, localhost, or one given with --allowed-host), and a
write from a browser must come from one of them (Origin): a web page the researcher visits
cannot reach the app through a name of its own that resolves to 127.0.0.1 (DNS rebinding).
"""

from __future__ import annotations

import getpass
import hmac
import ipaddress
import json
import math
import re
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.datastructures import FormData

from pipeline.records import Direction
from pipeline.review.highlight import Highlight, render_text
from pipeline.store import Store
from pipeline.store import review_queries as queries

PACKAGE_DIR = Path(__file__).resolve().parent
PER_PAGE = 50
TOKEN_COOKIE = "newsignal_token"
TOKEN_HEADER = "x-newsignal-token"
CSRF_HEADER = "x-csrf-token"
REVIEWER_COOKIE = "newsignal_reviewer"
MAX_ADDED_CHARS = 2000
MAX_ROW_ID = 2**63 - 1  # SQLite's largest integer: a larger id in a URL is no row, not an error
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
STATE_LABELS = {"unreviewed": "unreviewed", "accept": "accepted", "reject": "rejected",
                "correct": "corrected", "add": "added"}
HELP_LINE = "j/k or ↓/↑: next/previous tag · a: accept · r: reject · n: next article"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

# Free-text values a reviewer may type (categories, metrics, units, tickers, labels).
_VOCABULARY_VALUE = re.compile(r"^[\w.$%/&:+\- ]{1,80}$")

# The fields a "correct" action may change, per tag kind.
CORRECTABLE = {
    "catalyst": ("direction", "category", "assets"),
    "figure": ("metric", "value", "unit", "asset"),
    "entity": ("label", "ticker"),
}

# The columns of a tag kept with each judgement as "what the reviewer saw".
SNAPSHOT_COLUMNS = {
    "catalyst": ("sentence", "start_char", "end_char", "category", "event_type", "direction",
                 "confidence", "assets", "model"),
    "figure": ("text", "start_char", "end_char", "value", "value_high", "unit", "metric", "asset",
               "period", "qualifier", "model"),
    "entity": ("text", "label", "start_char", "end_char", "ticker", "model"),
}


class ReviewSetupError(ValueError):
    """The review app cannot start as configured (missing database, unsafe binding, ...)."""


class BadReview(ValueError):
    """A judgement the app refuses; the message says why."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    db_path: str
    csrf_token: str
    access_token: str | None
    default_reviewer: str
    allowed_hosts: frozenset[str]  # host names (no port) requests may address


def _host_name(value: str) -> str:
    """The host of a Host header or an Origin's netloc, lower-case, without port or brackets."""
    try:
        host = urlsplit(f"//{value}").hostname
    except ValueError:
        return ""
    return (host or "").lower()


def _default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"


def _templates() -> Jinja2Templates:
    environment = Environment(
        loader=FileSystemLoader(PACKAGE_DIR / "templates"),
        autoescape=True,  # every template, whatever its file name
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return Jinja2Templates(env=environment)


def create_app(
    db_path: str | Path,
    *,
    token: str | None = None,
    reviewer: str | None = None,
    allowed_hosts: tuple[str, ...] = LOOPBACK_NAMES,
) -> FastAPI:
    """The review app over the newsignal database at `db_path`.

    `token`, when given, must accompany every request: once as `?token=...` (which sets a
    cookie), or in the `X-Newsignal-Token` header. `reviewer` names whoever judges by default.
    `allowed_hosts` are the names the app answers to (`serve` adds the bound address).
    """
    path = Path(db_path)
    if not path.is_file():
        raise ReviewSetupError(f"{path}: no such database (run `newsignal run` first)")
    Store.open(path).close()  # fail now, not on the first request, if it is not ours
    config = ReviewConfig(
        db_path=str(path),
        csrf_token=secrets.token_urlsafe(32),
        access_token=token or None,
        default_reviewer=(reviewer or _default_reviewer()).strip()[:80] or "reviewer",
        allowed_hosts=frozenset(_host_name(host) or host.lower() for host in allowed_hosts),
    )
    templates = _templates()
    app = FastAPI(title="newsignal review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = config
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if _host_name(request.headers.get("host", "")) not in config.allowed_hosts:
            return _secure(PlainTextResponse("unknown host name", status_code=400))
        origin = request.headers.get("origin")
        if request.method in UNSAFE_METHODS and origin is not None and (
            _host_name(urlsplit(origin).netloc) not in config.allowed_hosts
        ):
            return _secure(PlainTextResponse("cross-origin write refused", status_code=403))
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
                return _secure(response)
            presented = request.headers.get(TOKEN_HEADER) or request.cookies.get(TOKEN_COOKIE)
            if presented is None or not _same(presented, config.access_token):
                return _secure(PlainTextResponse(
                    "access token required: open this address with ?token=...", status_code=401
                ))
        return _secure(await call_next(request))

    @contextmanager
    def open_store() -> Iterator[Store]:
        store = Store.open(config.db_path)
        try:
            yield store
        finally:
            store.close()

    def reviewer_of(request: Request) -> str:
        name = (request.cookies.get(REVIEWER_COOKIE) or "").strip()[:80]
        return name or config.default_reviewer

    def page(request: Request, name: str, context: dict[str, Any], status: int = 200):
        context |= {
            "csrf_token": config.csrf_token,
            "reviewer": reviewer_of(request),
            "help_line": HELP_LINE,
            "state_labels": STATE_LABELS,
        }
        return templates.TemplateResponse(request, name, context, status_code=status)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/articles", status_code=303)

    @app.get("/articles", response_class=HTMLResponse)
    def article_list(request: Request):
        params = request.query_params
        errors: list[str] = []
        filters = queries.ArticleFilter(
            date_from=_parse_date(params.get("date_from"), "from", errors),
            date_to=_parse_date(params.get("date_to"), "to", errors),
            source=params.get("source") or None,
            asset=params.get("asset") or None,
            category=params.get("category") or None,
            direction=_choice(params.get("direction"), [str(d) for d in Direction], errors),
            status=_choice(params.get("status"), list(queries.REVIEW_STATUSES), errors),
            search=(params.get("q") or "").strip() or None,
        )
        page_number = _positive_int(params.get("page"), 1)
        with open_store() as store:
            rows, total = queries.list_articles(
                store, filters, page=page_number, per_page=PER_PAGE
            )
            choices = queries.filter_choices(store)
        kept = [(k, v) for k, v in params.multi_items() if k != "page" and v]
        last_page = max(1, -(-total // PER_PAGE))
        return page(request, "list.html", {
            "rows": rows,
            "total": total,
            "page": page_number,
            "last_page": last_page,
            "page_link": lambda number: "?" + urlencode([*kept, ("page", str(number))]),
            "params": params,
            "choices": choices,
            "directions": [str(d) for d in Direction],
            "statuses": queries.REVIEW_STATUSES,
            "errors": errors,
        }, status=400 if errors else 200)

    @app.get("/articles/{article_id}", response_class=HTMLResponse)
    def article_view(request: Request, article_id: int):
        _existing_id(article_id)
        with open_store() as store:
            row = queries.article(store, article_id)
            if row is None:
                raise HTTPException(404, "no such article")
            tags = queries.article_tags(store, article_id)
            states = queries.latest_corrections(store, article_id)
            added = queries.added_catalysts(store, article_id)
            choices = queries.filter_choices(store)
        cards = _cards(tags, states, added)
        paragraphs = render_text(row["text"], [card.highlight for card in cards])
        figures = {figure["id"]: figure for figure in tags["figure"]}
        conflicts = [
            {
                "metric": conflict["metric"],
                "period": conflict["period"],
                "reason": conflict["reason"],
                "first": figures.get(conflict["first_figure_id"]),
                "second": figures.get(conflict["second_figure_id"]),
            }
            for conflict in tags["conflict"]
        ]
        return page(request, "article.html", {
            "article": row,
            "paragraphs": paragraphs,
            "cards": cards,
            "conflicts": conflicts,
            "choices": choices,
            "directions": [str(d) for d in Direction],
            "authors": ", ".join(json.loads(row["authors"] or "[]")),
        })

    @app.get("/articles/{article_id}/next", include_in_schema=False)
    def next_article(article_id: int) -> RedirectResponse:
        _existing_id(article_id)
        with open_store() as store:
            following = queries.next_article_id(store, article_id)
        target = f"/articles/{following}" if following is not None else "/articles"
        return RedirectResponse(target, status_code=303)

    @app.post("/articles/{article_id}/review")
    async def review(request: Request, article_id: int):
        _existing_id(article_id)
        form = await _checked_form(request, config)
        try:
            kind = _choice_strict(form.get("target_kind"), queries.TAG_KINDS, "target_kind")
            action = _choice_strict(form.get("action"), ("accept", "reject", "correct"), "action")
            target_id = _int(form.get("target_id"), "target_id")
            with open_store() as store:
                tag = queries.tag_row(store, kind, target_id)
                if tag is None or tag["article_id"] != article_id:
                    raise HTTPException(404, f"no {kind} {target_id} in article {article_id}")
                fields: dict[str, Any] = {"was": _snapshot(kind, tag)}
                if action == "correct":
                    # The form starts from the current values: keep only what differs from the
                    # model, so each correction is the whole difference, not a partial edit.
                    changes = {
                        name: value
                        for name, value in _corrected_fields(kind, form).items()
                        if value != fields["was"].get(name)
                    }
                    if not changes:
                        raise BadReview("a correction must change at least one field")
                    fields |= changes
                correction_id = queries.add_correction(
                    store, article_id=article_id, target_kind=kind, target_id=target_id,
                    action=action, fields=fields, reviewer=reviewer_of(request),
                )
        except BadReview as error:
            return _refusal(request, str(error))
        key = f"{kind}-{target_id}"
        if _wants_json(request):
            return JSONResponse({"correction_id": correction_id, "key": key, "state": action,
                                 "reviewer": reviewer_of(request)})
        return RedirectResponse(f"/articles/{article_id}#card-{key}", status_code=303)

    @app.post("/articles/{article_id}/add")
    async def add_catalyst(request: Request, article_id: int):
        _existing_id(article_id)
        form = await _checked_form(request, config)
        try:
            with open_store() as store:
                row = queries.article(store, article_id)
                if row is None:
                    raise HTTPException(404, "no such article")
                fields = _added_catalyst(row["text"], form)
                correction_id = queries.add_correction(
                    store, article_id=article_id, target_kind="catalyst", target_id=None,
                    action="add", fields=fields, reviewer=reviewer_of(request),
                )
        except BadReview as error:
            return _refusal(request, str(error))
        if _wants_json(request):
            return JSONResponse({"correction_id": correction_id, **fields})
        return RedirectResponse(f"/articles/{article_id}#card-added-{correction_id}",
                                status_code=303)

    @app.post("/reviewer")
    async def set_reviewer(request: Request):
        form = await _checked_form(request, config)
        name = str(form.get("reviewer") or "").strip()[:80]
        back = str(form.get("back") or "/articles")
        if not back.startswith("/") or back.startswith("//"):
            back = "/articles"  # only ever return within this app
        response = RedirectResponse(back, status_code=303)
        if name:
            response.set_cookie(REVIEWER_COOKIE, name, httponly=True, samesite="strict")
        else:
            response.delete_cookie(REVIEWER_COOKIE)
        return response

    return app


def serve(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    reviewer: str | None = None,
    allowed_hosts: tuple[str, ...] = (),
) -> None:
    """Run the review app with uvicorn until interrupted.

    Loopback only unless a `token` is given: anyone who can reach a non-loopback address would
    otherwise read and write the review data. The app answers to the bound address, the loopback
    names and `allowed_hosts` (the names users type to reach it, e.g. behind a proxy).
    """
    if not is_loopback(host) and not token:
        raise ReviewSetupError(
            f"refusing to serve on {host}, which is reachable from other machines, without an "
            "access token: pass --token (or bind 127.0.0.1)"
        )
    import uvicorn

    names = (*LOOPBACK_NAMES, host, *allowed_hosts)
    app = create_app(db_path, token=token, reviewer=reviewer, allowed_hosts=names)
    uvicorn.run(app, host=host, port=port, log_level="info")


# -- request helpers ---------------------------------------------------------------------------


def _same(offered: str, expected: str) -> bool:
    return hmac.compare_digest(offered.encode(), expected.encode())


def _secure(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


async def _checked_form(request: Request, config: ReviewConfig) -> FormData:
    form = await request.form()
    offered = request.headers.get(CSRF_HEADER) or form.get("csrf_token")
    if not isinstance(offered, str) or not _same(offered, config.csrf_token):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")
    return form


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _refusal(request: Request, reason: str):
    if _wants_json(request):
        return JSONResponse({"error": reason}, status_code=400)
    return PlainTextResponse(reason, status_code=400)


def _parse_date(value: str | None, name: str, errors: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"date {name} must look like 2026-02-06, not {value!r}")
        return None


def _choice(value: str | None, allowed: list[str], errors: list[str]) -> str | None:
    if not value:
        return None
    if value not in allowed:
        errors.append(f"{value!r} is not one of {', '.join(allowed)}")
        return None
    return value


def _choice_strict(value: object, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise BadReview(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def _int(value: object, name: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise BadReview(f"{name} must be a whole number") from None
    if abs(number) > MAX_ROW_ID:
        raise BadReview(f"{name} is out of range")
    return number


def _existing_id(article_id: int) -> None:
    if not 0 < article_id <= MAX_ROW_ID:
        raise HTTPException(404, "no such article")


def _positive_int(value: str | None, default: int) -> int:
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        return default


def _vocabulary(value: str, name: str) -> str:
    if not _VOCABULARY_VALUE.match(value):
        raise BadReview(f"{name} {value!r}: use letters, digits and . $ % / & : + - _ only")
    return value


def _tickers(value: str) -> list[str]:
    return [_vocabulary(part.strip().upper(), "asset") for part in value.split(",") if part.strip()]


def _corrected_fields(kind: str, form: FormData) -> dict[str, Any]:
    """The fields a reviewer changed, validated; empty inputs mean "unchanged"."""
    changes: dict[str, Any] = {}
    for name in CORRECTABLE[kind]:
        raw = str(form.get(name) or "").strip()
        if not raw:
            continue
        if name == "direction":
            changes[name] = _choice_strict(raw, tuple(str(d) for d in Direction), "direction")
        elif name == "value":
            try:
                number = float(raw.replace(",", ""))
            except ValueError:
                raise BadReview(f"value {raw!r} is not a number") from None
            if not math.isfinite(number):  # nan, inf, 1e309: no JSON number can hold them
                raise BadReview(f"value {raw!r} is not a finite number")
            changes[name] = number
        elif name == "assets":
            changes[name] = _tickers(raw)
        elif name in ("asset", "ticker"):
            changes[name] = _vocabulary(raw.upper(), name)
        else:
            changes[name] = _vocabulary(raw, name)
    return changes


def _added_catalyst(text: str, form: FormData) -> dict[str, Any]:
    start = _int(form.get("start_char"), "start_char")
    end = _int(form.get("end_char"), "end_char")
    if not 0 <= start < end <= len(text):
        raise BadReview(f"offsets {start}..{end} are outside the article (0..{len(text)})")
    # Selections often catch surrounding spaces; the evidence is the text without them.
    selected = text[start:end]
    start += len(selected) - len(selected.lstrip())
    end -= len(selected) - len(selected.rstrip())
    if start >= end:
        raise BadReview("the selection holds no text")
    if end - start > MAX_ADDED_CHARS:
        raise BadReview(f"select one sentence (at most {MAX_ADDED_CHARS} characters)")
    direction = _choice_strict(
        str(form.get("direction") or ""), tuple(str(d) for d in Direction), "direction"
    )
    category = _vocabulary(str(form.get("category") or "").strip(), "category")
    return {
        "sentence": text[start:end],
        "start_char": start,
        "end_char": end,
        "direction": direction,
        "category": category,
        "assets": _tickers(str(form.get("assets") or "")),
    }


def _snapshot(kind: str, tag: sqlite3.Row) -> dict[str, Any]:
    snapshot = {column: tag[column] for column in SNAPSHOT_COLUMNS[kind]}
    if kind == "catalyst":
        snapshot["assets"] = json.loads(snapshot["assets"] or "[]")
    return snapshot


# -- view model --------------------------------------------------------------------------------


@dataclass(slots=True)
class Card:
    """One tag as the page shows it: highlight, facts, review state."""

    key: str
    kind: str
    tag_id: int | None
    text: str
    facts: list[tuple[str, str]]
    highlight: Highlight
    state: str  # unreviewed, accept, reject, correct, add
    state_note: str
    current: dict[str, Any]  # the values a correction form starts from


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"


def _state(correction: sqlite3.Row | None) -> tuple[str, str, dict[str, Any]]:
    if correction is None:
        return "unreviewed", "not reviewed yet", {}
    fields = json.loads(correction["fields"])
    changed = {k: v for k, v in fields.items() if k != "was"}
    action = STATE_LABELS[correction["action"]]
    note = f"{action} by {correction['reviewer']} at {correction['created_at']}"
    if changed:
        note += " · " + ", ".join(f"{k} → {v}" for k, v in sorted(changed.items()))
    return correction["action"], note, changed


def _cards(
    tags: dict[str, list[sqlite3.Row]],
    states: dict[tuple[str, int], sqlite3.Row],
    added: list[sqlite3.Row],
) -> list[Card]:
    conflicted = {
        figure_id
        for conflict in tags["conflict"]
        for figure_id in (conflict["first_figure_id"], conflict["second_figure_id"])
    }
    cards: list[Card] = []
    for row in tags["catalyst"]:
        state, note, changed = _state(states.get(("catalyst", row["id"])))
        assets = json.loads(row["assets"] or "[]")
        direction = changed.get("direction", row["direction"])
        facts = [
            ("direction", row["direction"]),
            ("category", row["category"]),
            ("event type", row["event_type"] or "—"),
            ("confidence", f"{row['confidence']:.2f}"),
            ("assets", ", ".join(assets) or "—"),
            ("model", row["model"]),
            ("offsets", f"{row['start_char']}–{row['end_char']}"),
        ]
        cards.append(_card("catalyst", row["id"], row["sentence"], row, facts, state, note,
                           classes=(f"dir-{direction}",),
                           current={"direction": row["direction"], "category": row["category"],
                                    "assets": ", ".join(assets)} | _as_text(changed)))
    for row in tags["figure"]:
        state, note, changed = _state(states.get(("figure", row["id"])))
        value = _number(row["value"])
        if row["value_high"] is not None:
            value += f" to {_number(row['value_high'])}"
        facts = [
            ("value", value),
            ("unit", row["unit"]),
            ("metric", row["metric"]),
            ("asset", row["asset"] or "—"),
            ("period", row["period"] or "—"),
            ("qualifier", row["qualifier"] or "—"),
            ("model", row["model"]),
            ("offsets", f"{row['start_char']}–{row['end_char']}"),
        ]
        if row["flag"]:
            facts.append(("flag", row["flag"]))
        classes = ("conflict",) if row["id"] in conflicted else ()
        classes += ("flagged",) if row["flag"] else ()
        cards.append(_card("figure", row["id"], row["text"], row, facts, state, note,
                           classes=classes,
                           current={"metric": row["metric"], "value": repr(row["value"]),
                                    "unit": row["unit"], "asset": row["asset"] or ""}
                           | _as_text(changed)))
    for row in tags["entity"]:
        state, note, changed = _state(states.get(("entity", row["id"])))
        facts = [
            ("label", row["label"]),
            ("ticker", row["ticker"] or "—"),
            ("model", row["model"]),
            ("offsets", f"{row['start_char']}–{row['end_char']}"),
        ]
        cards.append(_card("entity", row["id"], row["text"], row, facts, state, note,
                           classes=(f"label-{row['label'].lower()}",),
                           current={"label": row["label"], "ticker": row["ticker"] or ""}
                           | _as_text(changed)))
    for correction in added:
        fields = json.loads(correction["fields"])
        facts = [
            ("direction", fields["direction"]),
            ("category", fields["category"]),
            ("assets", ", ".join(fields.get("assets", [])) or "—"),
            ("added by", f"{correction['reviewer']} at {correction['created_at']}"),
            ("offsets", f"{fields['start_char']}–{fields['end_char']}"),
        ]
        key = f"added-{correction['id']}"
        highlight = Highlight(key, "added", fields["start_char"], fields["end_char"],
                              ("state-add", f"dir-{fields['direction']}"),
                              _tooltip("added catalyst", facts))
        cards.append(Card(key, "added", None, fields["sentence"], facts, highlight, "add",
                          f"added by {correction['reviewer']}", {}))
    cards.sort(key=lambda card: card.highlight.order())
    return cards


def _as_text(changed: dict[str, Any]) -> dict[str, str]:
    return {k: ", ".join(v) if isinstance(v, list) else str(v) for k, v in changed.items()}


def _tooltip(title: str, facts: list[tuple[str, str]]) -> str:
    return "\n".join([title, *(f"{name}: {value}" for name, value in facts)])


def _card(
    kind: str,
    tag_id: int,
    text: str,
    row: sqlite3.Row,
    facts: list[tuple[str, str]],
    state: str,
    note: str,
    *,
    classes: tuple[str, ...],
    current: dict[str, str],
) -> Card:
    key = f"{kind}-{tag_id}"
    highlight = Highlight(key, kind, row["start_char"], row["end_char"],
                          (*classes, f"state-{state}"), _tooltip(kind, facts))
    return Card(key, kind, tag_id, text, facts, highlight, state, note, current)

"""The review app's pages and actions: the article list, an article with its tag cards, the next
article to review, a judgement, an added catalyst, the reviewer's name.

Each request opens the store, reads or writes through `pipeline.store.review_queries`, and closes
it. Judgements are new rows in `corrections`; the model's rows are never modified. A refused
judgement answers 400 with the reason (as JSON when the page asked for JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse

from pipeline.review.cards import STATE_LABELS, build_cards
from pipeline.review.forms import (
    DIRECTIONS,
    MAX_ROW_ID,
    BadReview,
    added_catalyst,
    article_filter,
    choice,
    corrected_fields,
    positive_int,
    snapshot,
    whole_number,
)
from pipeline.review.highlight import render_text
from pipeline.review.security import checked_form
from pipeline.store import Store
from pipeline.store import review_queries as queries

PER_PAGE = 50
REVIEWER_COOKIE = "newsignal_reviewer"
HELP_LINE = "j/k or ↓/↑: next/previous tag · a: accept · r: reject · n: next article"

router = APIRouter()


@contextmanager
def open_store(request: Request) -> Iterator[Store]:
    store = Store.open(request.app.state.config.db_path)
    try:
        yield store
    finally:
        store.close()


def reviewer_of(request: Request) -> str:
    name = (request.cookies.get(REVIEWER_COOKIE) or "").strip()[:80]
    return name or request.app.state.config.default_reviewer


def page(request: Request, name: str, context: dict[str, Any], status: int = 200):
    context |= {
        "csrf_token": request.app.state.config.csrf_token,
        "reviewer": reviewer_of(request),
        "help_line": HELP_LINE,
        "state_labels": STATE_LABELS,
    }
    return request.app.state.templates.TemplateResponse(request, name, context,
                                                        status_code=status)


@router.get("/", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse("/articles", status_code=303)


@router.get("/articles", response_class=HTMLResponse)
def article_list(request: Request):
    params = request.query_params
    errors: list[str] = []
    filters = article_filter(params, errors)
    page_number = positive_int(params.get("page"), 1)
    with open_store(request) as store:
        rows, total = queries.list_articles(store, filters, page=page_number, per_page=PER_PAGE)
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
        "directions": DIRECTIONS,
        "statuses": queries.REVIEW_STATUSES,
        "errors": errors,
    }, status=400 if errors else 200)


@router.get("/articles/{article_id}", response_class=HTMLResponse)
def article_view(request: Request, article_id: int):
    _existing_id(article_id)
    with open_store(request) as store:
        article = queries.article(store, article_id)
        if article is None:
            raise HTTPException(404, "no such article")
        tags = queries.article_tags(store, article_id)
        states = queries.latest_corrections(store, article_id)
        added = queries.added_catalysts(store, article_id)
        choices = queries.filter_choices(store)
    cards = build_cards(tags, states, added)
    paragraphs = render_text(article.text, [card.highlight for card in cards])
    # A run stores the headline as the text's first paragraph (extract.headed_text): shown
    # once, as the page's heading, with its tags.
    title = (article.title or "").strip()
    headline_in_text = bool(
        title and paragraphs and article.text[paragraphs[0].start:paragraphs[0].end] == title
    )
    figures = {figure.id: figure for figure in tags.figures}
    conflicts = [
        {
            "metric": conflict.metric,
            "period": conflict.period,
            "reason": conflict.reason,
            "first": figures.get(conflict.first_figure_id),
            "second": figures.get(conflict.second_figure_id),
        }
        for conflict in tags.conflicts
    ]
    return page(request, "article.html", {
        "article": article,
        "published": article.published_at or article.fetched_at,
        "paragraphs": paragraphs,
        "headline_in_text": headline_in_text,
        "cards": cards,
        "conflicts": conflicts,
        "choices": choices,
        "directions": DIRECTIONS,
        "authors": ", ".join(article.authors),
    })


@router.get("/articles/{article_id}/next", include_in_schema=False)
def next_article(request: Request, article_id: int) -> RedirectResponse:
    _existing_id(article_id)
    with open_store(request) as store:
        following = queries.next_article_id(store, article_id)
    target = f"/articles/{following}" if following is not None else "/articles"
    return RedirectResponse(target, status_code=303)


@router.post("/articles/{article_id}/review")
async def review(request: Request, article_id: int):
    _existing_id(article_id)
    form = await checked_form(request)
    try:
        kind = choice(form.get("target_kind"), queries.TAG_KINDS, "target_kind")
        action = choice(form.get("action"), ("accept", "reject", "correct"), "action")
        target_id = whole_number(form.get("target_id"), "target_id")
        with open_store(request) as store:
            tag = queries.stored_tag(store, kind, target_id)
            if tag is None or tag.article_id != article_id:
                raise HTTPException(404, f"no {kind} {target_id} in article {article_id}")
            fields: dict[str, Any] = {"was": snapshot(tag)}
            if action == "correct":
                # The form starts from the current values: keep only what differs from the
                # model, so each correction is the whole difference, not a partial edit.
                changes = {
                    name: value
                    for name, value in corrected_fields(kind, form).items()
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


@router.post("/articles/{article_id}/add")
async def add_catalyst(request: Request, article_id: int):
    _existing_id(article_id)
    form = await checked_form(request)
    try:
        with open_store(request) as store:
            article = queries.article(store, article_id)
            if article is None:
                raise HTTPException(404, "no such article")
            fields = added_catalyst(article.text, form)
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


@router.post("/reviewer")
async def set_reviewer(request: Request):
    form = await checked_form(request)
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


def _existing_id(article_id: int) -> None:
    if not 0 < article_id <= MAX_ROW_ID:
        raise HTTPException(404, "no such article")


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _refusal(request: Request, reason: str):
    if _wants_json(request):
        return JSONResponse({"error": reason}, status_code=400)
    return PlainTextResponse(reason, status_code=400)

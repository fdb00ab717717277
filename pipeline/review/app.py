"""The review web app: researchers read what the pipeline extracted, judge it and correct it.

`create_app` assembles it: the request guard (`security`: host names, access token, CSRF,
Content-Security-Policy), the pages and actions (`routes`, which check what reviewers send with
`forms` and show tags as `cards`), the templates and the static files. Judgements go to the
`corrections` table (see `pipeline.store.review_queries`); the model's rows are never modified.
Article text and titles are untrusted and always escaped (Jinja2 autoescape, highlight markup
built with `markupsafe.escape`).
"""

from __future__ import annotations

import getpass
import secrets
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from pipeline.review.routes import router
from pipeline.review.security import LOOPBACK_NAMES, guard, host_name, is_loopback
from pipeline.store import Store

PACKAGE_DIR = Path(__file__).resolve().parent


class ReviewSetupError(ValueError):
    """The review app cannot start as configured (missing database, unsafe binding, ...)."""


@dataclass(frozen=True, slots=True)
class ReviewConfig:
    db_path: str
    csrf_token: str
    access_token: str | None
    default_reviewer: str
    allowed_hosts: frozenset[str]  # host names (no port) requests may address


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
    app = FastAPI(title="newsignal review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.config = ReviewConfig(
        db_path=str(path),
        csrf_token=secrets.token_urlsafe(32),
        access_token=token or None,
        default_reviewer=(reviewer or _default_reviewer()).strip()[:80] or "reviewer",
        allowed_hosts=frozenset(host_name(host) or host.lower() for host in allowed_hosts),
    )
    app.state.templates = _templates()
    app.mount("/static", StaticFiles(directory=PACKAGE_DIR / "static"), name="static")
    app.middleware("http")(guard)
    app.include_router(router)
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

"""Shared fixtures. Expensive models load once per test session."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import contextlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from http_fixtures import LocalServer

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"
DATASETS_DIR = SHARED_DIR / "datasets"


def pytest_configure(config):
    """int8 models are exported into a cache of this session's own (CLI subprocesses and worker
    processes inherit it), so a run never depends on what an earlier one left in ~/.cache."""
    config.newsignal_cache = tempfile.mkdtemp(prefix="newsignal-test-cache-")
    os.environ["NEWSIGNAL_CACHE_DIR"] = config.newsignal_cache


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "newsignal_cache", ""), ignore_errors=True)


@pytest.fixture(autouse=True)
def restore_logging():
    """CLI tests configure the root logger onto the runner's stream, which closes after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """`../shared/datasets`; tests that need it skip cleanly where it is absent."""
    if not DATASETS_DIR.is_dir():
        pytest.skip("../shared/datasets is not present")
    return DATASETS_DIR


@pytest.fixture(scope="session")
def base_nlp():
    """The bare en_core_web_sm pipeline."""
    from pipeline.nlp import load_base_model

    return load_base_model()


@pytest.fixture(scope="session")
def nlp_no_catalysts():
    """Our pipeline without the catalysts component (entities, figures, conflicts)."""
    from pipeline.nlp import build_nlp

    return build_nlp(catalysts=False)


@pytest.fixture(scope="session")
def nlp():
    """The whole pipeline, direction model included, as `newsignal run` uses it."""
    from pipeline.nlp import build_nlp

    return build_nlp()


@pytest.fixture(scope="session")
def demo_result(tmp_path_factory, nlp):
    """The demo corpus run once per session, into DIR/demo-out as `make notebooks` lays it out.
    Read it, never write to it: several test modules share it."""
    from pipeline.demo import run_demo
    from pipeline.processing import Processor

    return run_demo(tmp_path_factory.mktemp("demo") / "demo-out", processor=Processor(nlp))


@pytest.fixture()
def store(tmp_path):
    from pipeline.store import Store

    with Store.open(tmp_path / "test.db") as opened:
        yield opened


@pytest.fixture()
def review_db(tmp_path) -> tuple[Path, dict[str, int]]:
    """The review tests' database (`builders.build_review_db`) and its article ids by name."""
    from builders import build_review_db

    path = tmp_path / "review.db"
    return path, build_review_db(path)


@pytest.fixture()
def http_server() -> Iterator[LocalServer]:
    """A started LocalServer (`http_fixtures`) on 127.0.0.1 with an empty route table; stopped
    after the test."""
    server = LocalServer().start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def serving(app):
    """`app` (ASGI) served by uvicorn on a free 127.0.0.1 port, in a thread; yields its port."""
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20  # a bound on waiting, not a measurement
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()


@pytest.fixture()
def serve_app():
    """`serve_app(app)`: the port of `app` served over real HTTP for the rest of the test."""
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serving(app))

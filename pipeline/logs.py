"""Logging set-up for the CLI: readable lines by default, one JSON object per line for shippers;
optionally a log file as well. A crash's traceback goes to that file, or to a crash file of its
own, and the CLI prints one line naming it."""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path

_log_file: Path | None = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(
    verbosity: int = 0, log_format: str = "text", log_file: Path | None = None
) -> None:
    """0: warnings and errors only (quiet under cron); 1 (-v): info; 2 (-vv): debug. With
    `log_file`, the same lines are appended to that file too."""
    global _log_file
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    formatter = (
        JsonFormatter() if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    _log_file = log_file
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = handlers
    root.setLevel(level)
    # Third-party chatter stays at warnings unless -vv.
    for noisy in ("httpx", "httpcore", "trafilatura", "htmldate", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity >= 3 else logging.WARNING)


def crash_dir() -> Path:
    """`$NEWSIGNAL_LOG_DIR`, else `$XDG_STATE_HOME/newsignal`, else `~/.local/state/newsignal`."""
    explicit = os.environ.get("NEWSIGNAL_LOG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "newsignal"


def record_crash(error: BaseException) -> Path | None:
    """Write `error`'s traceback to the log file, or else to a new crash file; its path, or None
    when nothing could be written."""
    text = "".join(traceback.format_exception(error))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S")
    target = _log_file or crash_dir() / f"crash-{stamp}-{os.getpid()}.log"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as stream:
            stream.write(f"{stamp} CRASH {' '.join(sys.argv)}\n{text}")
    except OSError:
        return None
    return target

"""Moments and days: how the project writes, reads and takes them from users.

Stored and exported moments are ISO 8601 text in UTC with a trailing Z (`utc_iso`), so comparing
two of them as strings compares the moments. A moment a user types on the command line is a bound
(`parse_date_bound`); a day typed into the review app's filters is a calendar day (`parse_iso_day`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


class DateError(ValueError):
    """A date or date-time a user gave cannot be read; the message says what was expected."""


def utc_iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a trailing Z; naive datetimes are taken to be UTC already."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def parse_utc(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_date_bound(text: str, *, end: bool = False) -> datetime:
    """A command-line date or date-time as a UTC moment.

    A bare date (`2026-02-06`) means the start of that UTC day, or with `end=True` (for `--until`)
    the start of the next one, so `--until 2026-02-06` includes the whole 6th. A date-time without a
    zone is taken as UTC.
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise DateError(f"not an ISO 8601 date: {text!r} (expected e.g. 2026-02-06)") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end and "T" not in text and " " not in text.strip():
        moment += timedelta(days=1)
    return moment.astimezone(UTC)


def parse_iso_day(text: str) -> date:
    """A calendar day written as ISO 8601 (`2026-02-06`)."""
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise DateError(f"not an ISO 8601 day: {text!r} (expected e.g. 2026-02-06)") from error

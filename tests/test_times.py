"""Moments and days as the project writes them and reads them from users."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.times import DateError, parse_date_bound, parse_iso_day, parse_utc, utc_iso


def test_parse_date_bound():
    assert parse_date_bound("2026-02-06") == datetime(2026, 2, 6, tzinfo=UTC)
    assert parse_date_bound("2026-02-06", end=True) == datetime(2026, 2, 7, tzinfo=UTC)
    assert parse_date_bound("2026-02-06T09:30:00Z", end=True) == datetime(
        2026, 2, 6, 9, 30, tzinfo=UTC)
    assert parse_date_bound("2026-02-06T11:30:00+02:00") == datetime(2026, 2, 6, 9, 30, tzinfo=UTC)
    with pytest.raises(DateError, match="ISO 8601"):
        parse_date_bound("yesterday")


def test_parse_iso_day():
    assert parse_iso_day("2026-02-06") == date(2026, 2, 6)
    with pytest.raises(DateError, match="expected e.g. 2026-02-06"):
        parse_iso_day("06/02/2026")


def test_utc_iso_writes_utc_with_a_z_and_takes_naive_moments_as_utc():
    paris = timezone(timedelta(hours=1))
    assert utc_iso(datetime(2026, 2, 6, 10, 30, 15, 999, tzinfo=paris)) == "2026-02-06T09:30:15Z"
    assert utc_iso(datetime(2026, 2, 6, 9, 30)) == "2026-02-06T09:30:00Z"
    assert utc_iso(None) is None and parse_utc(None) is None and parse_utc("") is None


@given(st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.replace(microsecond=0)))
def test_stored_moments_round_trip(moment):
    assert parse_utc(utc_iso(moment)) == moment
    assert utc_iso(parse_utc(utc_iso(moment))) == utc_iso(moment)

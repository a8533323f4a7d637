"""Session calendar helpers: IST minutes and the day's key times (strategy.md §1)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from messages.base import IST

ONE_MINUTE = timedelta(minutes=1)


def minute_start(moment: datetime) -> datetime:
    """The start of the IST minute holding ``moment`` (a bar's timestamp)."""
    return moment.astimezone(IST).replace(second=0, microsecond=0)


def at(day: date, clock_time: time) -> datetime:
    """``day`` at ``clock_time`` IST as an aware datetime."""
    return datetime.combine(day, clock_time, tzinfo=IST)


def session_day(moment: datetime) -> date:
    """The IST calendar date of ``moment``."""
    return moment.astimezone(IST).date()

"""China's official working days: weekdays, minus public holidays, plus adjusted working days.

From the `chinesecalendar` package (import name `chinese_calendar`), which carries the State
Council's schedule year by year and refuses a year it does not know instead of guessing. The
schedule for a year is announced in November or December of the year before: keep the package
current (`pip install -U chinesecalendar`) each December. For a year it does not cover yet,
`working_days` counts Monday to Friday and says so (`official` is False), so a finding built on
it can say so too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

from feecheck.domain.periods import Period


@dataclass(frozen=True)
class WorkingDays:
    count: int
    official: bool  # False: a year the calendar does not cover; Monday to Friday were counted


@lru_cache(maxsize=4096)
def _covered(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def working_days(start: date, end: date) -> WorkingDays:
    """Legal working days in [start, end] (both included)."""
    count, official, day = 0, True, start
    while day <= end:
        if _covered(day.year):
            count += chinese_calendar.is_workday(day)
        else:
            official = False
            count += day.weekday() < 5
        day += timedelta(days=1)
    return WorkingDays(count, official)


@lru_cache(maxsize=1024)
def month_working_days(period: Period) -> WorkingDays:
    return working_days(period.first_day, period.last_day)


def calendar_years() -> tuple[int, int]:
    """The first and last year the installed calendar covers."""
    years = [y for y in range(2000, date.today().year + 3) if _covered(y)]
    return (min(years), max(years)) if years else (0, 0)

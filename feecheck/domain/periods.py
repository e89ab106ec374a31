"""Calendar months, semesters and day arithmetic used by the rules."""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple

# The dates a record may carry: plausible for kindergarten fees and far enough from the calendar's
# ends that every check's arithmetic (a due date 30 days on, a year back) stays valid.
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2099, 12, 31)

_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


class Period(NamedTuple):
    """One calendar month, written YYYY-MM. A tuple (year, month): ordered, hashed and compared
    in C, which a check does millions of times (which months a charge covers, where it falls)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text.strip())
        if not match or not 1 <= int(match[2]) <= 12:
            raise ValueError(f"not a period YYYY-MM: {text!r}")
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: date) -> Period:
        return _period_of(day)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return _first_day(self.year, self.month)

    @property
    def last_day(self) -> date:
        return _last_day(self.year, self.month)

    @property
    def days(self) -> int:
        return _month_days(self.year, self.month)

    def shift(self, months: int) -> Period:
        index = self.year * 12 + self.month - 1 + months
        return Period(index // 12, index % 12 + 1)

    def until(self, last: Period) -> list[Period]:
        """Every month from self to last, inclusive."""
        if last < self:
            raise ValueError(f"period range ends before it starts: {self} .. {last}")
        return list(_months(self, last))

    def contains(self, day: date) -> bool:
        return day.year == self.year and day.month == self.month


@lru_cache(maxsize=16384)
def _period_of(day: date) -> Period:
    return Period(day.year, day.month)


# Months repeat endlessly in a check (every charge asks which months it covers): computed once.
@lru_cache(maxsize=4096)
def _month_days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


@lru_cache(maxsize=4096)
def _first_day(year: int, month: int) -> date:
    return date(year, month, 1)


@lru_cache(maxsize=4096)
def _last_day(year: int, month: int) -> date:
    return date(year, month, _month_days(year, month))


@lru_cache(maxsize=16384)
def _months(first: Period, last: Period) -> tuple[Period, ...]:
    count = (last.year - first.year) * 12 + last.month - first.month
    return tuple(first.shift(i) for i in range(count + 1))


def parse_date(text: str) -> date:
    """Accept YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD and YYYY年MM月DD日 (full-width digits too)."""
    cleaned = unicodedata.normalize("NFKC", text).strip()
    match = _DATE.match(cleaned)
    if not match:
        raise ValueError(f"not a date: {text!r}")
    return date(int(match[1]), int(match[2]), int(match[3]))


def days_between(start: date, end: date) -> int:
    """Days in the closed range [start, end]."""
    return (end - start).days + 1


def overlap_days(start: date, end: date, other_start: date, other_end: date) -> int:
    return max(0, (min(end, other_end) - max(start, other_start)).days + 1)


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def attribute(amount: Decimal, start: date, end: date, period: Period) -> Decimal:
    """The share of an amount covering [start, end] that falls in a month, by days (unrounded)."""
    shared = overlap_days(start, end, period.first_day, period.last_day)
    if shared == 0:
        return Decimal(0)
    return amount * shared / days_between(start, end)


def annualise(amount: Decimal, period: Period) -> Decimal:
    return amount * days_in_year(period.year) / period.days


@dataclass(frozen=True)
class SemesterCalendar:
    """Semester starts as (month, day): autumn 09-01 and spring 02-01 by default."""

    autumn_start: tuple[int, int] = (9, 1)
    spring_start: tuple[int, int] = (2, 1)

    def semester_of(self, day: date) -> tuple[date, date]:
        autumn = date(day.year, *self.autumn_start)
        spring = date(day.year, *self.spring_start)
        if day >= autumn:
            return autumn, date(day.year + 1, *self.spring_start) - timedelta(days=1)
        if day >= spring:
            return spring, autumn - timedelta(days=1)
        return date(day.year - 1, *self.autumn_start), spring - timedelta(days=1)

    def school_year_start(self, day: date) -> date:
        autumn = date(day.year, *self.autumn_start)
        return autumn if day >= autumn else date(day.year - 1, *self.autumn_start)


def month_block(day: date) -> tuple[date, date]:
    period = Period.of(day)
    return period.first_day, period.last_day


def months_covered(start: date, end: date) -> Decimal:
    """Calendar months in [start, end]; a partial month counts by days / days-in-month."""
    total = Decimal(0)
    for period in Period.of(start).until(Period.of(end)):
        total += Decimal(overlap_days(start, end, period.first_day, period.last_day)) / period.days
    return total

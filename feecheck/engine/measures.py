"""The arithmetic the rules share (fee-rules.md §3): units a charge covers, the amount a standard
allows, per-child funding, refund formulas, the final-year test.

Each measure returns its figures *and* the arithmetic as text (`calculation`), so that every
finding's evidence can be redone by hand with a calculator, in the order feecheck did it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache

from feecheck.domain.money import money
from feecheck.domain.periods import (
    Period,
    SemesterCalendar,
    days_between,
    days_in_year,
    overlap_days,
)
from feecheck.domain.workdays import month_working_days, working_days
from feecheck.engine.facts import ChargeFact, ChildFact, KindergartenFacts, StandardFact
from feecheck.engine.params import Params

FOUR = Decimal("0.0001")


def plain(value: Decimal) -> str:
    """A Decimal as written by hand: no exponent, no trailing zeros beyond two decimals."""
    if value == money(value):
        return f"{money(value):.2f}"
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class Units:
    """How many standard units a period covers, and how: '10/30 + 1 + 15/31' (months)."""

    count: Decimal
    breakdown: str
    official_calendar: bool = True  # False: a year chinesecalendar does not cover yet
    days_basis: str = ""  # day units: working_days | days_open | both

    def evidence(self) -> dict[str, object]:
        if not self.days_basis:
            return {}
        figures: dict[str, object] = {"days_basis": self.days_basis}
        if not self.official_calendar:
            figures["calendar_official"] = False
        return figures


Attendance = Callable[[Period], "tuple[int, int] | None"]  # month -> (days attended, days open)


def units_covered(
    start: date,
    end: date,
    unit: str,
    params: Params,
    attendance: Attendance | None = None,
    bill_by_attendance: bool = False,
) -> Units:
    """How many standard units a period covers (fee-rules.md §4, FEE-ABOVE-STANDARD):

    - day: the days the kindergarten was open, month by month: the child's absence record's
      `days_open` for a whole month covered, else the legal working days (China's official
      calendar, adjusted working days included) in the covered part; never calendar days;
    - month: whole months count 1, a partial month by days ÷ days in the month; where the region
      bills some months by the days attended (`attendance_billed_months`, Shanghai's holidays) and
      `bill_by_attendance`, a whole month counts attended ÷ open days when its record is known;
    - semester: by days ÷ days in the semester.
    """
    months = Period.of(start).until(Period.of(end))
    if unit == "day":
        parts: list[str] = []
        total, official, bases = 0, True, set()
        for period in months:
            first, last = max(start, period.first_day), min(end, period.last_day)
            record = attendance(period) if attendance else None
            if record is not None and (first, last) == (period.first_day, period.last_day):
                total += record[1]
                parts.append(str(record[1]))
                bases.add("days_open")
                continue
            worked = working_days(first, last)
            total += worked.count
            official = official and worked.official
            parts.append(str(worked.count))
            bases.add("working_days")
        basis = bases.pop() if len(bases) == 1 else "both"
        return Units(Decimal(total), " + ".join(parts), official, basis)
    if unit == "month":
        billed = (
            set(params.peek("attendance_billed_months") or ())
            if attendance and bill_by_attendance
            else set()
        )
        if not billed:  # by the calendar alone: the same for every charge of these dates
            return _months_covered(start, end)
        parts = []
        total_months = Decimal(0)
        for period in months:
            shared = overlap_days(start, end, period.first_day, period.last_day)
            record = attendance(period) if attendance and str(period.month) in billed else None
            if shared == period.days and record is not None:
                params.get("attendance_billed_months")  # it decided this month: trace it
                attended, open_days = record
                total_months += Decimal(attended) / open_days
                parts.append(f"{attended}/{open_days}")
                continue
            total_months += Decimal(shared) / period.days
            parts.append("1" if shared == period.days else f"{shared}/{period.days}")
        return Units(total_months, " + ".join(parts))
    return _semesters_covered(start, end, params.calendar())


# A region's charges share a few dozen (start, end) pairs: each is counted once per process.
@lru_cache(maxsize=8192)
def _months_covered(start: date, end: date) -> Units:
    parts = []
    total = Decimal(0)
    for period in Period.of(start).until(Period.of(end)):
        shared = overlap_days(start, end, period.first_day, period.last_day)
        total += Decimal(shared) / period.days
        parts.append("1" if shared == period.days else f"{shared}/{period.days}")
    return Units(total, " + ".join(parts))


@lru_cache(maxsize=8192)
def _semesters_covered(start: date, end: date, calendar: SemesterCalendar) -> Units:
    parts, total, day = [], Decimal(0), start
    while day <= end:
        first, last = calendar.semester_of(day)
        shared, length = overlap_days(start, end, first, last), days_between(first, last)
        total += Decimal(shared) / length
        parts.append("1" if shared == length else f"{shared}/{length}")
        day = last + timedelta(days=1)
    return Units(total, " + ".join(parts))


@dataclass(frozen=True)
class Allowed:
    units: Units
    amount: Decimal  # unrounded

    def calculation(self, standard: StandardFact) -> str:
        return f"{plain(standard.amount)} × ({self.units.breakdown}) = {plain(money(self.amount))}"


def allowed_amount(
    charge: ChargeFact,
    standard: StandardFact,
    params: Params,
    attendance: Attendance | None = None,
    bill_by_attendance: bool = False,
) -> Allowed:
    units = units_covered(
        charge.period_start,
        charge.period_end,
        standard.unit,
        params,
        attendance,
        bill_by_attendance,
    )
    return Allowed(units, standard.amount * units.count)


def monthly_equivalent(standard: StandardFact, day: date, params: Params) -> Decimal:
    """A standard as a monthly amount: semester ÷ its months, day × working days per month."""
    if standard.unit == "month":
        return standard.amount
    if standard.unit == "day":
        return standard.amount * params.get("working_days_per_month")
    first, last = params.calendar().semester_of(day)
    return standard.amount / len(Period.of(first).until(Period.of(last)))


def months_between(earlier: date, later: date) -> int:
    """Whole calendar months from one date to a later one."""
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


# --- funding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PerChild:
    """Per-child annual funding in a month, with every figure an inspector needs to redo it."""

    period: Period
    attributed: Decimal  # unrounded Σ of the records' shares of the month
    child_days: int
    references: list[str]
    detail: list[str]  # one line per record: covered period, overlap days, share

    @property
    def enrolment(self) -> Decimal:
        return Decimal(self.child_days) / self.period.days

    @property
    def annualised(self) -> Decimal:
        return self.attributed * days_in_year(self.period.year) / self.period.days

    @property
    def per_child_year(self) -> Decimal:
        return money(self.annualised / self.enrolment)

    @property
    def factor(self) -> str:
        return f"{days_in_year(self.period.year)}/{self.period.days}"

    def evidence(self) -> dict[str, object]:
        return {
            "funding": self.references,
            "funding_detail": self.detail,
            "funding_attributed": self.attributed.quantize(FOUR),
            "annualising_factor": self.factor,
            "funding_annualised": money(self.annualised),
            "child_days": self.child_days,
            "average_enrolment": self.enrolment.quantize(FOUR),
            "per_child_year": self.per_child_year,
            "calculation": (
                f"{plain(self.attributed.quantize(FOUR))} × {self.factor} ÷ "
                f"({self.child_days}/{self.period.days}) = {plain(self.per_child_year)}"
            ),
        }


def per_child_funding(kg: KindergartenFacts, period: Period, sources: set[str]) -> PerChild | None:
    """Annualised funding attributed to the month ÷ average daily enrolment (None: nobody)."""
    child_days = kg.child_days(period)
    if child_days <= 0:
        return None
    attributed = Decimal(0)
    references: list[str] = []
    detail: list[str] = []
    for f in sorted(kg.funding, key=lambda f: (f.reference, f.period_start)):
        if f.source not in sources:
            continue
        shared = overlap_days(f.period_start, f.period_end, period.first_day, period.last_day)
        if not shared:
            continue
        total = days_between(f.period_start, f.period_end)
        share = f.amount * shared / total
        attributed += share
        references.append(f.reference)
        detail.append(
            f"{f.reference} {f.period_start}..{f.period_end}: {plain(f.amount)} × "
            f"{shared}/{total} = {plain(share.quantize(FOUR))}"
        )
    return PerChild(period, attributed, child_days, references, detail)


# --- refunds -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefundDue:
    amount: Decimal  # unrounded
    calculation: str
    figures: dict[str, object] = field(default_factory=dict)


def withdrawal_refund_due(
    charge: ChargeFact,
    left_on: date,
    formula: str,
    params: Params,
    attendance: Attendance,
) -> RefundDue:
    """What a withdrawal entitles the family to, by the region's formula (refund_formula):

    - whole_months (feecheck's default): the month of leaving charged in full, the later whole
      calendar months of the period refunded pro rata;
    - by_days: the days from leaving to the end of the period, pro rata;
    - per_30_days (Hefei): one month per full `refund_block_days` days away, weekends counted;
      a charge for one semester counts as `refund_months_per_semester` months;
    - attendance_tiers (Dongguan, Guangzhou): the month of leaving by the days attended in it —
      none: all; at most `refund_tier_few_days`: `refund_tier_few_share`; at most half the
      month's legal working days: `refund_tier_half_share`; more: nothing — later months in full;
    - half_working_days (Shaanxi draft): the month of leaving: `refund_tier_half_share` when the
      days attended are at most half its working days, else nothing; later months in full.
    Days attended come from the absence record of the month of leaving (days open − absent),
    else from the working days before the day of leaving.
    """
    amount = charge.amount
    covered = Period.of(charge.period_start).until(Period.of(charge.period_end))
    leaving = Period.of(left_on)
    after = [p for p in covered if p > leaving]
    if formula == "by_days":
        remaining = overlap_days(left_on, charge.period_end, charge.period_start, charge.period_end)
        total = days_between(charge.period_start, charge.period_end)
        due = amount * remaining / total
        return RefundDue(due, f"{plain(amount)} × {remaining}/{total} = {plain(money(due))}")
    if formula == "per_30_days":
        block = int(_required(params, "refund_block_days"))
        months_charged = len(covered)
        first, last = params.calendar().semester_of(charge.period_start)
        if (charge.period_start, charge.period_end) == (first, last):
            months_charged = int(_required(params, "refund_months_per_semester"))
        away = days_between(left_on, charge.period_end)
        months = min(away // block, months_charged)
        due = amount * months / months_charged
        return RefundDue(
            due,
            f"{plain(amount)} × {months}/{months_charged} = {plain(money(due))}",
            {"days_away": away, "months_refunded": months, "months_charged": months_charged},
        )
    if formula in ("attendance_tiers", "half_working_days"):
        attended, basis = _attended(left_on, leaving, attendance)
        working = month_working_days(leaving)
        half = Decimal(working.count) / 2
        if attended == 0:
            share = Decimal(1)
        elif formula == "attendance_tiers" and attended <= int(
            _required(params, "refund_tier_few_days")
        ):
            share = Decimal(_required(params, "refund_tier_few_share"))
        elif attended <= half:
            share = Decimal(_required(params, "refund_tier_half_share"))
        else:
            share = Decimal(0)
        if leaving < covered[0]:
            share = Decimal(0)
        months = share + len(after)
        due = amount * months / len(covered)
        return RefundDue(
            due,
            f"{plain(amount)} ÷ {len(covered)} × ({plain(share)} + {len(after)}) = "
            f"{plain(money(due))}",
            {
                "days_attended": attended,
                "attendance_basis": basis,
                "working_days": working.count,
                "calendar_official": working.official,
                "leaving_month_share": share,
                "months_after": len(after),
            },
        )
    due = amount * len(after) / len(covered)
    return RefundDue(due, f"{plain(amount)} × {len(after)}/{len(covered)} = {plain(money(due))}")


def _attended(left_on: date, leaving: Period, attendance: Attendance) -> tuple[int, str]:
    record = attendance(leaving)
    if record is not None:
        attended, _open = record
        return attended, "absence_record"
    if left_on == leaving.first_day:
        return 0, "left_on_first_day"
    return working_days(leaving.first_day, left_on - timedelta(days=1)).count, "working_days"


def _required(params: Params, name: str) -> object:
    value = params.get(name)
    if value is None:
        raise ValueError(f"the refund formula needs {name}, which this region does not set")
    return value


# --- final year ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FinalYear:
    """Whether a child is in the year before primary school, and how that was decided."""

    final: bool | None
    basis: dict[str, object]


def final_year(child: ChildFact, day: date, params: Params) -> FinalYear:
    """The `final_year` cell when given; else the birth date against the school year's window."""
    if child.final_year is not None:
        return FinalYear(child.final_year, {"final_year_basis": "final_year"})
    if child.birth_date is None:
        return FinalYear(None, {"final_year_basis": "unknown"})
    school_year = params.calendar().school_year_start(day)
    month, day_of_month = (int(x) for x in str(params.get("school_entry_cutoff")).split("-"))
    last = date(school_year.year - 5, month, day_of_month)
    first = date(school_year.year - 6, month, day_of_month) + timedelta(days=1)
    return FinalYear(
        first <= child.birth_date <= last,
        {
            "final_year_basis": "birth_date",
            "birth_date": child.birth_date,
            "birth_window": f"{first}..{last}",
            "school_year_start": school_year,
        },
    )

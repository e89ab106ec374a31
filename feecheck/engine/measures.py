"""The arithmetic the rules share (fee-rules.md §3): units a charge covers, the amount a standard
allows, per-child funding, refund formulas, the final-year test.

Each measure returns its figures *and* the arithmetic as text (`calculation`), so that every
finding's evidence can be redone by hand with a calculator, in the order feecheck did it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from feecheck.domain.money import money
from feecheck.domain.periods import (
    Period,
    days_between,
    days_in_year,
    overlap_days,
)
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


def units_covered(start: date, end: date, unit: str, params: Params) -> Units:
    """Days, months (partial by days/days-in-month) or semesters (partial by days)."""
    if unit == "day":
        days = days_between(start, end)
        return Units(Decimal(days), str(days))
    if unit == "month":
        parts: list[str] = []
        total = Decimal(0)
        for period in Period.of(start).until(Period.of(end)):
            shared = overlap_days(start, end, period.first_day, period.last_day)
            total += Decimal(shared) / period.days
            parts.append("1" if shared == period.days else f"{shared}/{period.days}")
        return Units(total, " + ".join(parts))
    calendar = params.calendar()
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


def allowed_amount(charge: ChargeFact, standard: StandardFact, params: Params) -> Allowed:
    units = units_covered(charge.period_start, charge.period_end, standard.unit, params)
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


def withdrawal_refund_due(charge: ChargeFact, left_on: date, formula: str) -> RefundDue:
    """What a withdrawal entitles the family to, by the region's formula."""
    if formula == "by_days":
        remaining = overlap_days(left_on, charge.period_end, charge.period_start, charge.period_end)
        total = days_between(charge.period_start, charge.period_end)
        due = charge.amount * remaining / total
        return RefundDue(due, f"{plain(charge.amount)} × {remaining}/{total} = {plain(money(due))}")
    covered = Period.of(charge.period_start).until(Period.of(charge.period_end))
    after = [p for p in covered if p > Period.of(left_on)]
    due = charge.amount * len(after) / len(covered)
    return RefundDue(
        due,
        f"{plain(charge.amount)} × {len(after)}/{len(covered)} = {plain(money(due))}",
    )


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

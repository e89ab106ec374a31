"""The evaluators: the semantics of each rule kind (fee-rules.md §4), on plain facts.

A registry maps a rule file's `kind` to its evaluator. An evaluator looks at one kindergarten in
one month and yields Outcomes; parameters come from the Params it reads (which records them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from feecheck.domain.money import TOLERANCE, ZERO, money
from feecheck.domain.periods import (
    Period,
    SemesterCalendar,
    annualise,
    attribute,
    days_between,
    month_block,
    months_covered,
    overlap_days,
)
from feecheck.engine.facts import ChargeFact, ChildFact, KindergartenFacts, StandardFact
from feecheck.engine.findings import Outcome
from feecheck.engine.params import ParameterResolver, Params
from feecheck.engine.specs import RuleSpec


@dataclass
class Context:
    rule: RuleSpec
    kg: KindergartenFacts
    period: Period
    resolver: ParameterResolver
    as_of: date

    def params(self, day: date | None = None) -> Params:
        return self.resolver.on(day or self.period.first_day)

    def child(self, charge: ChargeFact) -> ChildFact:
        return self.kg.children[charge.child_id]

    def charges_paid(self) -> Iterator[tuple[ChargeFact, Params]]:
        """Charges paid in the month, with parameters as in force on their payment date."""
        for charge in self.kg.charges_paid_in(self.period):
            if self.rule.in_force(charge.paid_on):
                yield charge, self.params(charge.paid_on)


Evaluator = Callable[[Context], Iterator[Outcome]]
EVALUATORS: dict[str, Evaluator] = {}


def evaluator(kind: str) -> Callable[[Evaluator], Evaluator]:
    def register(function: Evaluator) -> Evaluator:
        EVALUATORS[kind] = function
        return function

    return register


def _charge_evidence(charge: ChargeFact, **figures: object) -> dict[str, object]:
    return {
        "charges": [charge.receipt_no],
        "receipt": charge.receipt_no,
        "fee_item": charge.fee_item,
        "amount": charge.amount,
        **figures,
    }


def units_covered(start: date, end: date, unit: str, calendar: SemesterCalendar) -> Decimal:
    """How many standard units a period covers: days, months (partial by days), semesters."""
    if unit == "day":
        return Decimal(days_between(start, end))
    if unit == "month":
        return months_covered(start, end)
    total, day = Decimal(0), start
    while day <= end:
        first, last = calendar.semester_of(day)
        total += Decimal(overlap_days(start, end, first, last)) / days_between(first, last)
        day = last + timedelta(days=1)
    return total


def allowed_amount(
    charge: ChargeFact, standard: StandardFact, calendar: SemesterCalendar
) -> tuple[Decimal, Decimal]:
    units = units_covered(charge.period_start, charge.period_end, standard.unit, calendar)
    return units, standard.amount * units


# --- funding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PerChild:
    attributed: Decimal
    annualised: Decimal
    enrolment: Decimal
    per_child_year: Decimal
    references: list[str]


def per_child_funding(kg: KindergartenFacts, period: Period, sources: set[str]) -> PerChild | None:
    """Annualised funding attributed to the month ÷ average daily enrolment (None: nobody)."""
    enrolment = kg.enrolment(period)
    if enrolment <= 0:
        return None
    relevant = [
        f
        for f in kg.funding
        if f.source in sources
        and overlap_days(f.period_start, f.period_end, period.first_day, period.last_day)
    ]
    attributed = sum(
        (attribute(f.amount, f.period_start, f.period_end, period) for f in relevant), Decimal(0)
    )
    annualised = annualise(attributed, period)
    return PerChild(
        attributed,
        annualised,
        enrolment,
        money(annualised / enrolment),
        sorted(f.reference for f in relevant),
    )


def _funding_evidence(figures: PerChild, threshold: Decimal) -> dict[str, object]:
    return {
        "funding": figures.references,
        "funding_attributed": money(figures.attributed),
        "funding_annualised": money(figures.annualised),
        "average_enrolment": figures.enrolment.quantize(Decimal("0.01")),
        "per_child_year": figures.per_child_year,
        "threshold": money(threshold),
    }


@evaluator("funding_floor")
def funding_floor(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    floor = params.decimal("funding_floor_per_child_year")
    figures = per_child_funding(ctx.kg, ctx.period, set(params.get("per_child_funding_sources")))
    if floor is None or figures is None or figures.per_child_year >= money(floor):
        return
    severity = None
    if params.region_listed("funding_floor_grace_regions"):
        grace_until = params.get("funding_floor_grace_until")
        if grace_until and ctx.period.first_day <= date.fromisoformat(grace_until):
            severity = "warning"
    evidence = _funding_evidence(figures, floor)
    evidence["basis"] = "computed from receipts (a proxy for the locality's standard)"
    yield Outcome(evidence, params.used, severity=severity)


@evaluator("funding_lowered")
def funding_lowered(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    floor = params.decimal("funding_floor_per_child_year")
    sources = set(params.get("per_child_funding_sources"))
    before_period = ctx.period.shift(-12)
    now = per_child_funding(ctx.kg, ctx.period, sources)
    before = per_child_funding(ctx.kg, before_period, sources)
    if floor is None or now is None or before is None:
        return
    if before.per_child_year > money(floor) and now.per_child_year < before.per_child_year:
        yield Outcome(
            {
                "funding": now.references + before.references,
                "per_child_year": now.per_child_year,
                "period_before": str(before_period),
                "per_child_year_before": before.per_child_year,
                "threshold": money(floor),
            },
            params.used,
        )


@evaluator("inclusive_subsidy")
def inclusive_subsidy(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    standard = params.decimal("inclusive_subsidy_per_child_year")
    figures = per_child_funding(ctx.kg, ctx.period, set(params.get("inclusive_subsidy_sources")))
    if standard is None or figures is None or figures.per_child_year >= money(standard):
        return
    yield Outcome(_funding_evidence(figures, standard), params.used)


@evaluator("forprofit_public_money")
def forprofit_public_money(ctx: Context) -> Iterator[Outcome]:
    for funding in ctx.kg.funding:
        if not ctx.period.contains(funding.received_on) or not ctx.rule.in_force(
            funding.received_on
        ):
            continue
        params = ctx.params(funding.received_on)
        if funding.source in set(params.get("forprofit_forbidden_sources")):
            yield Outcome(
                {
                    "funding": [funding.reference],
                    "reference": funding.reference,
                    "source": funding.source,
                    "amount": funding.amount,
                },
                params.used,
                key=funding.reference,
                amount_due=funding.amount,
            )


# --- fee items ---------------------------------------------------------------------------


@evaluator("prohibited_item")
def prohibited_item(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        if charge.item_category in set(params.get("prohibited_categories") or ()):
            yield Outcome(
                _charge_evidence(
                    charge, item_category=charge.item_category, refund_due=charge.amount
                ),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
                charge.amount,
            )


@evaluator("unclassified_item")
def unclassified_item(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        if charge.item_category == "unclassified":
            yield Outcome(
                _charge_evidence(charge), params.used, ctx.child(charge).ref, charge.receipt_no
            )


@evaluator("third_party_collector")
def third_party_collector(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        if charge.collector in set(params.get("forbidden_collectors")):
            severity = params.get("third_party_collector_severity")
            yield Outcome(
                _charge_evidence(charge, collector=charge.collector),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
                severity=severity,
            )


@evaluator("accommodation_non_boarder")
def accommodation_non_boarder(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        child = ctx.child(charge)
        if charge.item_category == "accommodation" and not (child.boarding and ctx.kg.boarding):
            yield Outcome(
                _charge_evidence(
                    charge,
                    child_boarding=child.boarding,
                    kindergarten_boarding=ctx.kg.boarding,
                    refund_due=charge.amount,
                ),
                params.used,
                child.ref,
                charge.receipt_no,
                charge.amount,
            )


# --- standards and price levels ------------------------------------------------------------


@evaluator("no_standard")
def no_standard(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        if charge.item_category not in set(params.get("items_needing_standard") or ()):
            continue
        if ctx.kg.standard_for(charge.item_category, charge.period_start) is None:
            yield Outcome(
                _charge_evidence(
                    charge, item_category=charge.item_category, period_start=charge.period_start
                ),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
            )


@evaluator("above_standard")
def above_standard(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        standard = ctx.kg.standard_for(charge.item_category, charge.period_start)
        if standard is None:
            continue
        units, allowed = allowed_amount(charge, standard, params.calendar())
        excess = money(charge.amount) - money(allowed)
        if excess > TOLERANCE:
            yield Outcome(
                _charge_evidence(
                    charge,
                    standards=[standard.key],
                    standard_amount=standard.amount,
                    unit=standard.unit,
                    units_covered=units.quantize(Decimal("0.0001")),
                    allowed=money(allowed),
                    excess=excess,
                    refund_due=excess,
                ),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
                excess,
            )


def monthly_equivalent(standard: StandardFact, day: date, params: Params) -> Decimal:
    if standard.unit == "month":
        return standard.amount
    if standard.unit == "day":
        return standard.amount * params.get("working_days_per_month")
    first, last = params.calendar().semester_of(day)
    return standard.amount / len(Period.of(first).until(Period.of(last)))


@evaluator("inclusive_fee_cap")
def inclusive_fee_cap(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    standard = ctx.kg.standard_for("care_education", ctx.period.first_day)
    if standard is None:
        return
    caps: list[tuple[Decimal, str]] = []
    absolute = params.decimal("inclusive_care_fee_cap_per_month")
    if absolute is not None:
        caps.append((absolute, "inclusive_care_fee_cap_per_month"))
    ratio, reference = (
        params.decimal("inclusive_cap_ratio"),
        params.decimal("public_reference_fee_per_month"),
    )
    if ratio is not None and reference is not None:
        caps.append((ratio * reference, "inclusive_cap_ratio × public_reference_fee_per_month"))
    if not caps:
        return
    cap, basis = min(caps, key=lambda c: c[0])
    monthly = money(monthly_equivalent(standard, ctx.period.first_day, params))
    if monthly > money(cap):
        yield Outcome(
            {
                "standards": [standard.key],
                "fee_item": standard.fee_item,
                "standard_amount": standard.amount,
                "unit": standard.unit,
                "monthly_amount": monthly,
                "cap": money(cap),
                "cap_basis": basis,
            },
            params.used,
            key=standard.key,
        )


def _adjustments(
    ctx: Context, same_unit: bool = False
) -> Iterator[tuple[StandardFact, StandardFact | None, Params]]:
    """Standards taking effect in the month, each with the previous one of the same item
    (and, for the amplitude of a raise, of the same unit)."""
    for standard in ctx.kg.standards:
        if not ctx.period.contains(standard.effective_from):
            continue
        earlier = [
            s
            for s in ctx.kg.standards
            if s.item_category == standard.item_category
            and s.effective_from < standard.effective_from
            and (not same_unit or s.unit == standard.unit)
        ]
        previous = max(earlier, key=lambda s: s.effective_from, default=None)
        yield standard, previous, ctx.params(standard.effective_from)


def months_between(earlier: date, later: date) -> int:
    months = (later.year - earlier.year) * 12 + later.month - earlier.month
    return months - (1 if later.day < earlier.day else 0)


@evaluator("adjust_frequency")
def adjust_frequency(ctx: Context) -> Iterator[Outcome]:
    for standard, previous, params in _adjustments(ctx):
        minimum = params.get("min_months_between_adjustments")
        if previous is None or minimum is None:
            continue
        gap = months_between(previous.effective_from, standard.effective_from)
        if gap < minimum:
            yield Outcome(
                {
                    "standards": [previous.key, standard.key],
                    "fee_item": standard.fee_item,
                    "effective_from": standard.effective_from,
                    "previous_effective_from": previous.effective_from,
                    "months_between": gap,
                    "threshold": minimum,
                },
                params.used,
                key=standard.key,
            )


@evaluator("adjust_amplitude")
def adjust_amplitude(ctx: Context) -> Iterator[Outcome]:
    for standard, previous, params in _adjustments(ctx, same_unit=True):
        limit = params.decimal("max_adjustment_ratio")
        if previous is None or limit is None or previous.amount <= 0:
            continue
        increase = standard.amount / previous.amount - 1
        if increase > limit:
            yield Outcome(
                {
                    "standards": [previous.key, standard.key],
                    "fee_item": standard.fee_item,
                    "amount": standard.amount,
                    "previous_amount": previous.amount,
                    "increase_ratio": increase.quantize(Decimal("0.0001")),
                    "threshold": limit,
                },
                params.used,
                key=standard.key,
            )


@evaluator("adjust_midyear")
def adjust_midyear(ctx: Context) -> Iterator[Outcome]:
    for standard, _previous, params in _adjustments(ctx):
        if not params.get("adjust_only_at_school_year_start"):
            continue
        start = params.calendar().school_year_start(standard.effective_from)
        if standard.effective_from != start:
            yield Outcome(
                {
                    "standards": [standard.key],
                    "fee_item": standard.fee_item,
                    "effective_from": standard.effective_from,
                    "school_year_start": start,
                },
                params.used,
                key=standard.key,
            )


# --- billing period ------------------------------------------------------------------------


@evaluator("prepay")
def prepay(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        if charge.item_category not in set(params.get("prepay_categories")):
            continue
        block = params.get("billing_block")
        calendar = params.calendar()
        block_of = calendar.semester_of if block == "semester" else month_block
        block_start, block_end = block_of(charge.period_start)
        blocks, day = 1, block_end
        while day < charge.period_end:
            blocks += 1
            day = block_of(day + timedelta(days=1))[1]
        days_before = (block_start - charge.paid_on).days
        advance = params.get("prepay_advance_days")
        if blocks > 1 or days_before > advance:
            yield Outcome(
                _charge_evidence(
                    charge,
                    period_start=charge.period_start,
                    period_end=charge.period_end,
                    paid_on=charge.paid_on,
                    billing_block=block,
                    blocks_covered=blocks,
                    block_start=block_start,
                    days_before_block=days_before,
                    threshold=advance,
                ),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
            )


# --- refunds -------------------------------------------------------------------------------


def withdrawal_refund_due(charge: ChargeFact, left_on: date, formula: str) -> Decimal:
    if formula == "by_days":
        remaining = overlap_days(left_on, charge.period_end, charge.period_start, charge.period_end)
        return charge.amount * remaining / days_between(charge.period_start, charge.period_end)
    covered = Period.of(charge.period_start).until(Period.of(charge.period_end))
    after = [p for p in covered if p > Period.of(left_on)]
    return charge.amount * len(after) / len(covered)


@evaluator("refund_on_withdrawal")
def refund_on_withdrawal(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    due_days = params.get("refund_due_days")
    formula = params.get("refund_formula")
    categories = set(params.get("refund_categories"))
    for charge in ctx.kg.charges_covering_withdrawal:
        child = ctx.child(charge)
        if charge.item_category not in categories or child.left_on is None:
            continue
        due_by = child.left_on + timedelta(days=due_days)
        if not ctx.period.contains(due_by) or due_by > ctx.as_of:
            continue
        due = money(withdrawal_refund_due(charge, child.left_on, formula))
        refunded, refund_nos = ctx.kg.refunded(charge.id, due_by)
        shortfall = due - money(refunded)
        if due > ZERO and shortfall > TOLERANCE:
            yield Outcome(
                {
                    "charges": [charge.receipt_no],
                    "refunds": refund_nos,
                    "receipt": charge.receipt_no,
                    "left_on": child.left_on,
                    "amount": charge.amount,
                    "refund_due": due,
                    "refunded": refunded,
                    "shortfall": shortfall,
                    "due_by": due_by,
                },
                params.used,
                child.ref,
                charge.receipt_no,
                shortfall,
            )


@evaluator("meal_settlement")
def meal_settlement(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    previous = ctx.period.shift(-1)
    if ctx.period.last_day > ctx.as_of:
        return
    min_days = params.get("meal_refund_min_consecutive_days")
    first_day_excluded = params.get("meal_refund_first_day_excluded")
    for charge in ctx.kg.charges_covering(previous):
        if charge.item_category != "meals":
            continue
        absence = ctx.kg.absences.get((charge.child_id, str(previous)))
        if absence is None or absence.days_absent <= 0:
            continue
        days = absence.days_absent
        if min_days is not None and days < min_days:
            continue
        if first_day_excluded:
            days -= 1
        attributed = attribute(charge.amount, charge.period_start, charge.period_end, previous)
        due = money(attributed * days / absence.days_open)
        refunded, refund_nos = ctx.kg.refunded(charge.id, ctx.period.last_day)
        shortfall = due - money(refunded)
        if due > ZERO and shortfall > TOLERANCE:
            yield Outcome(
                {
                    "charges": [charge.receipt_no],
                    "refunds": refund_nos,
                    "absences": [f"{ctx.child(charge).ref}@{absence.month}"],
                    "receipt": charge.receipt_no,
                    "month": absence.month,
                    "days_absent": absence.days_absent,
                    "days_open": absence.days_open,
                    "meal_attributed": money(attributed),
                    "refund_due": due,
                    "refunded": refunded,
                    "shortfall": shortfall,
                },
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
                shortfall,
            )


# --- reductions ----------------------------------------------------------------------------


@evaluator("hardship_no_reduction")
def hardship_no_reduction(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        child = ctx.child(charge)
        if charge.item_category != "care_education" or child.hardship == "none":
            continue
        standard = ctx.kg.standard_for("care_education", charge.period_start)
        if standard is None:
            continue
        _units, allowed = allowed_amount(charge, standard, params.calendar())
        reductions = params.get("hardship_reduction") or {}
        if child.hardship in reductions:
            threshold = money(allowed * (1 - Decimal(reductions[child.hardship])))
            breached, severity = money(charge.amount) - threshold > TOLERANCE, "violation"
        else:
            threshold = money(allowed)
            breached, severity = money(charge.amount) >= threshold, None
        if breached:
            yield Outcome(
                _charge_evidence(
                    charge, hardship=child.hardship, allowed=money(allowed), threshold=threshold
                ),
                params.used,
                child.ref,
                charge.receipt_no,
                severity=severity,
            )


def in_final_year(child: ChildFact, day: date, params: Params) -> bool | None:
    """Whether the child is in the year before primary school in the school year of `day`."""
    if child.final_year is not None:
        return child.final_year
    if child.birth_date is None:
        return None
    year = params.calendar().school_year_start(day).year
    month, day_of_month = (int(x) for x in str(params.get("school_entry_cutoff")).split("-"))
    last = date(year - 5, month, day_of_month)
    first = date(year - 6, month, day_of_month) + timedelta(days=1)
    return first <= child.birth_date <= last


@evaluator("free_final_year")
def free_final_year(ctx: Context) -> Iterator[Outcome]:
    # The free year covers fees *for* periods from autumn 2025, so the rule's in-force date is
    # judged on the period charged (a fee collected in August for September is covered).
    for charge in ctx.kg.charges_paid_in(ctx.period):
        if charge.item_category != "care_education" or not ctx.rule.in_force(charge.period_start):
            continue
        params = ctx.params(charge.period_start)
        child = ctx.child(charge)
        if params.region_listed("free_final_year_exempt_regions"):
            continue
        if not in_final_year(child, charge.period_start, params):
            continue
        if ctx.kg.category == "public":
            allowed_max = ZERO
        else:
            exemption = params.decimal("final_year_exemption_per_month")
            standard = ctx.kg.standard_for("care_education", charge.period_start)
            if exemption is None or standard is None:
                continue
            _units, allowed = allowed_amount(charge, standard, params.calendar())
            months = months_covered(charge.period_start, charge.period_end)
            allowed_max = max(ZERO, money(allowed - exemption * months))
        excess = money(charge.amount) - allowed_max
        if excess > TOLERANCE:
            yield Outcome(
                _charge_evidence(charge, allowed_max=allowed_max, excess=excess, refund_due=excess),
                params.used,
                child.ref,
                charge.receipt_no,
                excess,
            )


# --- disclosure and accounts ---------------------------------------------------------------


@evaluator("disclosure")
def disclosure(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    for inspection in ctx.kg.inspections:
        if ctx.period.contains(inspection.inspected_on) and not inspection.fees_disclosed:
            yield Outcome(
                {
                    "inspections": [inspection.inspected_on.isoformat()],
                    "inspected_on": inspection.inspected_on,
                    "inspector": inspection.inspector,
                },
                params.used,
                key=inspection.inspected_on.isoformat(),
            )


@evaluator("unfiled_account")
def unfiled_account(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        if charge.account not in ctx.kg.accounts:
            yield Outcome(
                _charge_evidence(
                    charge, account=charge.account, filed_accounts=sorted(ctx.kg.accounts)
                ),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
            )

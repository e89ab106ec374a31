"""Standards and price levels: FEE-NO-STANDARD, FEE-ABOVE-STANDARD, INCLUSIVE-FEE-CAP,
FEE-ADJUST-FREQUENCY, FEE-ADJUST-AMPLITUDE, FEE-ADJUST-MIDYEAR."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from feecheck.domain.money import TOLERANCE, money
from feecheck.engine.evaluators.base import Context, charge_evidence, evaluator
from feecheck.engine.facts import ChargeFact, StandardFact
from feecheck.engine.findings import Outcome, percent, ratio_beside
from feecheck.engine.measures import FOUR, allowed_amount, monthly_equivalent, months_between
from feecheck.engine.params import Params


@evaluator("no_standard")
def no_standard(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        match = ctx.kg.match_standard(
            charge.item_key, charge.item_category, charge.period_start, charge.fee_item
        )
        if match.how == "ambiguous":  # several of the category, none its own: never the highest
            yield Outcome(
                charge_evidence(
                    charge,
                    item_category=charge.item_category,
                    period_start=charge.period_start,
                    standard_match="ambiguous",
                    candidates=[s.key for s in match.candidates],
                ),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
                severity="warning",
                message=_ambiguous_message(charge, match.candidates),
            )
            continue
        if charge.item_category not in set(params.get("items_needing_standard") or ()):
            continue
        if match.how == "none":
            yield Outcome(
                charge_evidence(
                    charge, item_category=charge.item_category, period_start=charge.period_start
                ),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
            )


def _ambiguous_message(charge: ChargeFact, candidates: tuple[StandardFact, ...]) -> tuple[str, str]:
    unit_zh = {"month": "月", "semester": "学期", "day": "天"}
    listed_zh = "、".join(
        f"「{s.fee_item}」{s.amount:.2f} 元/{unit_zh.get(s.unit, s.unit)}" for s in candidates
    )
    listed_en = ", ".join(f"‘{s.fee_item}’ {s.amount:.2f} yuan per {s.unit}" for s in candidates)
    return (
        f"票据 {charge.receipt_no} 收取「{charge.fee_item}」{charge.amount:.2f} 元，"
        f"本园同类收费有多个标准（{listed_zh}），但没有一个是该项目本身的标准，"
        "无法判断按哪个标准收费；请在票据上写明收费项目，或核实该项目的收费标准。",
        f"Receipt {charge.receipt_no} charges ‘{charge.fee_item}’ ({charge.amount:.2f} yuan); the "
        f"kindergarten has several standards of this kind ({listed_en}) and none is this item's "
        "own, so it is compared with none of them. Name the item on the receipt as the standard "
        "does, or check the item's standard.",
    )


@evaluator("above_standard")
def above_standard(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        standard, chosen = ctx.standard_for_charge(charge, params)
        if standard is None:
            continue
        allowed = allowed_amount(
            charge, standard, params, ctx.attendance(charge.child_id), _billed_by_attendance(charge)
        )
        excess = money(charge.amount) - money(allowed.amount)
        if excess > TOLERANCE:
            yield Outcome(
                charge_evidence(
                    charge,
                    standards=[standard.key],
                    standard_amount=standard.amount,
                    unit=standard.unit,
                    units_covered=allowed.units.count.quantize(FOUR),
                    allowed=money(allowed.amount),
                    calculation=allowed.calculation(standard),
                    **allowed.units.evidence(),
                    excess=excess,
                    refund_due=excess,
                    **chosen,
                ),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
                excess,
            )


def _billed_by_attendance(charge: ChargeFact) -> bool:
    """Days attended bill the care fees only (保育教育费, 托班保育费), where a region says so."""
    return charge.item_category in ("care_education", "nursery_care")


@evaluator("inclusive_fee_cap")
def inclusive_fee_cap(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    standards = ctx.kg.standards_in_effect(ctx.period.first_day, "care_education")
    if not standards:
        return
    caps: list[tuple[Decimal, str]] = []
    absolute = params.decimal("inclusive_care_fee_cap_per_month")
    if absolute is not None:
        caps.append((absolute, "absolute_cap"))
    ratio, reference = (
        params.decimal("inclusive_cap_ratio"),
        params.decimal("public_reference_fee_per_month"),
    )
    if ratio is not None and reference is not None:
        caps.append((ratio * reference, "ratio_of_public_fee"))
    if not caps:
        return
    cap, basis = min(caps, key=lambda c: c[0])
    for standard in standards:  # each class stream's standard is capped
        monthly = money(monthly_equivalent(standard, ctx.period.first_day, params))
        if monthly <= money(cap):
            continue
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
        # the same item's previous standard; under another name only when the category has
        # one item (a class stream's raise is not compared with another stream's standard)
        own = [s for s in earlier if s.item_key == standard.item_key]
        if not own and len({s.item_key for s in earlier}) == 1:
            own = earlier
        previous = max(own, key=lambda s: s.effective_from, default=None)
        yield standard, previous, ctx.params(standard.effective_from)


@evaluator("adjust_frequency")
def adjust_frequency(ctx: Context) -> Iterator[Outcome]:
    for standard, previous, params in _adjustments(ctx):
        minimum = params.get("min_months_between_adjustments")
        if previous is None or minimum is None:
            continue
        items = params.peek("adjust_frequency_item_categories")
        kinds = params.peek("adjust_frequency_kindergarten_categories")
        if (items is not None and standard.item_category not in items) or (
            kinds is not None and ctx.kg.category not in kinds
        ):
            continue  # the local rule speaks of other items or kindergartens
        if items is not None:
            params.get("adjust_frequency_item_categories")  # it decided: trace it
        if kinds is not None:
            params.get("adjust_frequency_kindergarten_categories")
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
                    "increase_ratio": ratio_beside(increase, limit),
                    "increase_percent": percent(increase, limit),
                    "threshold": limit,
                    "threshold_percent": percent(limit),
                    "calculation": (
                        f"{standard.amount:.2f} ÷ {previous.amount:.2f} − 1 = "
                        f"{ratio_beside(increase, limit)}"
                    ),
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

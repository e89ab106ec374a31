"""Refunds: REFUND-ON-WITHDRAWAL, MEAL-SETTLEMENT."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from feecheck.domain.money import TOLERANCE, ZERO, money
from feecheck.domain.periods import attribute, days_between, overlap_days
from feecheck.engine.evaluators.base import Context, evaluator
from feecheck.engine.findings import Outcome
from feecheck.engine.measures import FOUR, plain, withdrawal_refund_due
from feecheck.engine.windows import SETTLED_CATEGORY


@evaluator("refund_on_withdrawal")
def refund_on_withdrawal(ctx: Context) -> Iterator[Outcome]:
    for charge in ctx.kg.charges_covering_withdrawal:
        child = ctx.child(charge)
        if child.left_on is None:
            continue
        # a per-charge rule: the formula in force when the fee was paid (fee-rules §3), even when
        # the refund falls due after that formula expired
        params = ctx.params(charge.paid_on)
        if charge.item_category not in set(params.get("refund_categories")):
            continue
        due_days = params.get("refund_due_days")
        formula = params.get("refund_formula")
        due_by = child.left_on + timedelta(days=due_days)
        if not ctx.period.contains(due_by) or due_by > ctx.as_of:
            continue
        refund = withdrawal_refund_due(
            charge, child.left_on, formula, params, ctx.attendance(charge.child_id)
        )
        due = money(refund.amount)
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
                    "period_start": charge.period_start,
                    "period_end": charge.period_end,
                    "refund_formula": formula,
                    **refund.figures,
                    "calculation": refund.calculation,
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


@evaluator("meal_settlement", after_month_end=True)
def meal_settlement(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    previous = ctx.period.shift(-1)
    min_days = params.get("meal_refund_min_consecutive_days")
    first_day_excluded = params.get("meal_refund_first_day_excluded")
    for charge in ctx.kg.charges_covering(previous):
        if charge.item_category != SETTLED_CATEGORY:
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
            shared = overlap_days(
                charge.period_start, charge.period_end, previous.first_day, previous.last_day
            )
            total = days_between(charge.period_start, charge.period_end)
            share = "" if shared == total else f" × {shared}/{total}"
            yield Outcome(
                {
                    "charges": [charge.receipt_no],
                    "refunds": refund_nos,
                    "absences": [f"{ctx.child(charge).ref}@{absence.month}"],
                    "receipt": charge.receipt_no,
                    "month": absence.month,
                    "days_absent": absence.days_absent,
                    "days_refundable": days,
                    "days_open": absence.days_open,
                    "meal_attributed": money(attributed),
                    "calculation": (
                        f"{plain(charge.amount)}{share} × {days}/{absence.days_open} = "
                        f"{plain((attributed * days / absence.days_open).quantize(FOUR))}"
                    ),
                    "refund_due": due,
                    "refunded": refunded,
                    "shortfall": shortfall,
                },
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
                shortfall,
            )

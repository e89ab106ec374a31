"""Billing period: FEE-PREPAY."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from feecheck.domain.periods import month_block
from feecheck.engine.evaluators.base import Context, charge_evidence, evaluator
from feecheck.engine.findings import Outcome


@evaluator("prepay")
def prepay(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        if charge.item_category not in set(params.get("prepay_categories")):
            continue
        block = params.get("billing_block")
        block_of = params.calendar().semester_of if block == "semester" else month_block
        block_start, block_end = block_of(charge.period_start)
        blocks, day = 1, block_end
        while day < charge.period_end:
            blocks += 1
            day = block_of(day + timedelta(days=1))[1]
        days_before = (block_start - charge.paid_on).days
        advance = params.get("prepay_advance_days")
        if blocks > 1 or days_before > advance:
            yield Outcome(
                charge_evidence(
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

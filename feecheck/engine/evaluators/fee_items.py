"""Fee items: FEE-PROHIBITED-ITEM, FEE-UNCLASSIFIED-ITEM, FEE-THIRD-PARTY-COLLECTOR,
ACCOMMODATION-NON-BOARDER."""

from __future__ import annotations

from collections.abc import Iterator

from feecheck.engine.evaluators.base import Context, charge_evidence, evaluator
from feecheck.engine.findings import Outcome


@evaluator("prohibited_item")
def prohibited_item(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        if charge.item_category in set(params.get("prohibited_categories") or ()):
            yield Outcome(
                charge_evidence(
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
                charge_evidence(charge), params.used, ctx.child(charge).ref, charge.receipt_no
            )


@evaluator("third_party_collector")
def third_party_collector(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        if charge.collector in set(params.get("forbidden_collectors")):
            severity = params.get("third_party_collector_severity")
            yield Outcome(
                charge_evidence(charge, collector=charge.collector),
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
                charge_evidence(
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

"""Disclosure and accounts: FEE-DISCLOSURE, FEE-UNFILED-ACCOUNT."""

from __future__ import annotations

from collections.abc import Iterator

from feecheck.engine.evaluators.base import Context, charge_evidence, evaluator
from feecheck.engine.findings import Outcome


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
                charge_evidence(
                    charge, account=charge.account, filed_accounts=sorted(ctx.kg.accounts)
                ),
                params.used,
                ctx.child(charge).ref,
                charge.receipt_no,
            )

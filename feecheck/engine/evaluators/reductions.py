"""Reductions: HARDSHIP-NO-REDUCTION, FEE-FREE-FINAL-YEAR."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from feecheck.domain.money import TOLERANCE, ZERO, money
from feecheck.domain.periods import months_covered
from feecheck.engine.evaluators.base import Context, charge_evidence, evaluator
from feecheck.engine.findings import Outcome
from feecheck.engine.measures import allowed_amount, final_year, plain


@evaluator("hardship_no_reduction")
def hardship_no_reduction(ctx: Context) -> Iterator[Outcome]:
    for charge, params in ctx.charges_paid():
        child = ctx.child(charge)
        if charge.item_category != "care_education" or child.hardship == "none":
            continue
        standard, _chosen = ctx.standard_for_charge(charge, params)
        if standard is None:
            continue
        allowed = allowed_amount(charge, standard, params, ctx.attendance(charge.child_id), True)
        reductions = params.get("hardship_reduction") or {}
        if child.hardship in reductions:
            share = 1 - Decimal(reductions[child.hardship])
            threshold = money(allowed.amount * share)
            breached, severity = money(charge.amount) - threshold > TOLERANCE, "violation"
            calculation = f"{allowed.calculation(standard)}; × {plain(share)} = {threshold}"
            basis = "local_reduction"
        else:
            threshold = money(allowed.amount)
            breached, severity = money(charge.amount) >= threshold, None
            calculation = allowed.calculation(standard)
            basis = "no_local_rate"
        if breached:
            yield Outcome(
                charge_evidence(
                    charge,
                    hardship=child.hardship,
                    allowed=money(allowed.amount),
                    threshold=threshold,
                    limit_basis=basis,
                    calculation=calculation,
                ),
                params.used,
                child.ref,
                charge.receipt_no,
                severity=severity,
            )


@evaluator("free_final_year")
def free_final_year(ctx: Context) -> Iterator[Outcome]:
    # The free year covers fees *for* periods from autumn 2025: the in-force date is judged on
    # the period charged (`in_force.judged_on: period_charged`), so a fee collected in August for
    # September is a finding in August (the runner evaluates this rule before its in-force date).
    for charge in ctx.kg.charges_paid_in(ctx.period):
        if charge.item_category != "care_education" or not ctx.rule.in_force(charge.period_start):
            continue
        params = ctx.params(charge.period_start)
        child = ctx.child(charge)
        if params.region_listed("free_final_year_exempt_regions"):
            continue
        judged = final_year(child, charge.period_start, params)
        if not judged.final:
            continue
        if ctx.kg.category == "public" or (
            ctx.kg.category == "inclusive_private"
            and params.get("final_year_inclusive_exempt_in_full")
        ):
            allowed_max = ZERO
            calculation = "0.00"
        else:
            exemption = params.decimal("final_year_exemption_per_month")
            standard, _chosen = ctx.standard_for_charge(charge, params)
            if exemption is None or standard is None:
                continue
            allowed = allowed_amount(
                charge, standard, params, ctx.attendance(charge.child_id), True
            )
            months = months_covered(charge.period_start, charge.period_end)
            allowed_max = max(ZERO, money(allowed.amount - exemption * months))
            calculation = (
                f"{allowed.calculation(standard)}; − {plain(exemption)} × "
                f"{plain(months.quantize(Decimal('0.0001')))} = {allowed_max}"
            )
        excess = money(charge.amount) - allowed_max
        if excess > TOLERANCE:
            yield Outcome(
                charge_evidence(
                    charge,
                    **judged.basis,
                    period_start=charge.period_start,
                    period_end=charge.period_end,
                    allowed_max=allowed_max,
                    calculation=calculation,
                    excess=excess,
                    refund_due=excess,
                ),
                params.used,
                child.ref,
                charge.receipt_no,
                excess,
            )

"""Funding: FUNDING-FLOOR, FUNDING-LOWERED, INCLUSIVE-SUBSIDY, FUNDING-FORPROFIT-PUBLIC-MONEY."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from feecheck.domain.money import money
from feecheck.engine.evaluators.base import Context, evaluator
from feecheck.engine.findings import Outcome
from feecheck.engine.measures import per_child_funding

RECEIPTS_BASIS = "receipts_proxy"  # labelled in findings.VALUE_LABELS


@evaluator("funding_floor", after_month_end=True)
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
    evidence = figures.evidence()
    evidence["threshold"] = money(floor)
    evidence["basis"] = RECEIPTS_BASIS
    yield Outcome(evidence, params.used, severity=severity)


@evaluator("funding_lowered", after_month_end=True)
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
        evidence = now.evidence()
        evidence["funding"] = sorted(set(now.references) | set(before.references))
        evidence["period_before"] = str(before_period)
        evidence["funding_detail_before"] = before.detail
        evidence["calculation_before"] = before.evidence()["calculation"]
        evidence["per_child_year_before"] = before.per_child_year
        evidence["threshold"] = money(floor)
        yield Outcome(evidence, params.used)


@evaluator("inclusive_subsidy", after_month_end=True)
def inclusive_subsidy(ctx: Context) -> Iterator[Outcome]:
    params = ctx.params()
    standard = params.decimal("inclusive_subsidy_per_child_year")
    figures = per_child_funding(ctx.kg, ctx.period, set(params.get("inclusive_subsidy_sources")))
    if standard is None or figures is None or figures.per_child_year >= money(standard):
        return
    evidence = figures.evidence()
    evidence["threshold"] = money(standard)
    yield Outcome(evidence, params.used)


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
                    "received_on": funding.received_on,
                    "period_start": funding.period_start,
                    "period_end": funding.period_end,
                },
                params.used,
                key=funding.reference,  # public money to recover, not a refund owed to families
            )

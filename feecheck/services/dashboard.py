"""What the dashboard and a kindergarten's page show: counts from the stored findings, and the
funding-floor figures computed by the engine's own measure (engine.measures.per_child_funding with
the parameters in force for each district), so a page and a finding never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feecheck.domain.categories import Category
from feecheck.domain.money import money
from feecheck.domain.periods import Period
from feecheck.domain.regions import scope_prefix, validate_region_code
from feecheck.engine.measures import per_child_funding
from feecheck.engine.params import ParameterResolver
from feecheck.engine.specs import Ruleset
from feecheck.engine.windows import FactWindows
from feecheck.models import (
    Absence,
    Charge,
    Child,
    FeeStandard,
    Finding,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
    User,
)
from feecheck.services.checking import BATCH, load_facts
from feecheck.services.scope import get_kindergarten, require_region, visible

LIVE = ("open", "acknowledged")
MONTHS_SHOWN = 12
FUNDING_CATEGORIES = (Category.PUBLIC.value,)  # the 600-yuan floor applies to public ones


@dataclass(frozen=True)
class FundingFigure:
    """A kindergarten's per-child annual public funding in a month, against the floor."""

    kindergarten_id: int
    code: str
    name: str
    period: Period
    per_child_year: Decimal | None  # None: no child enrolled that month
    floor: Decimal | None  # None: no floor in force there

    @property
    def below(self) -> bool:
        return (
            self.per_child_year is not None
            and self.floor is not None
            and self.per_child_year < self.floor
        )


@dataclass
class RegionDashboard:
    region_code: str | None
    month: Period  # the month of the funding figures (the last complete month)
    by_category: dict[str, int]
    violations_by_rule: list[tuple[str, int]]
    violations_by_month: list[tuple[str, int]]
    funding: list[FundingFigure]
    refunds_due: Decimal
    refunds_by_kindergarten: list[tuple[int, str, str, Decimal]]  # id, code, name, amount
    open_findings: int
    kindergartens: int


def last_complete_month(as_of: date) -> Period:
    return Period.of(as_of).shift(-1)


def latest_month(session: Session, condition: Any, as_of: date) -> Period:
    """The month the pages open on: the latest month with a record paid or a finding in the
    region (or kindergarten), never after the as-of date's month. A region whose data stop in
    August is shown up to August, not as twelve empty months."""
    cap = str(Period.of(as_of))
    latest_finding = session.scalar(
        select(func.max(Finding.period))
        .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
        .where(condition, Finding.period <= cap)
    )
    latest_paid = session.scalar(
        select(func.max(Charge.paid_on))
        .join(Kindergarten, Kindergarten.id == Charge.kindergarten_id)
        .where(condition, Charge.paid_on <= as_of)
    )
    candidates = [Period.parse(latest_finding)] if latest_finding else []
    if latest_paid:
        candidates.append(Period.of(latest_paid))
    return max(candidates) if candidates else Period.of(as_of)


def region_dashboard(
    session: Session, user: User, ruleset: Ruleset, as_of: date, region_code: str | None = None
) -> RegionDashboard:
    """The region's page: the user's own region, or a region inside it."""
    if region_code:
        region_code = validate_region_code(region_code)
        require_region(user, region_code)
    region = region_code or user.region_code
    in_region = visible(user)
    if region_code:
        in_region = in_region & Kindergarten.region_code.startswith(scope_prefix(region_code))
    by_category = dict(
        session.execute(
            select(Kindergarten.category, func.count())
            .where(in_region)
            .group_by(Kindergarten.category)
        ).all()
    )
    live = (
        select(Finding)
        .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
        .where(in_region, Finding.status.in_(LIVE))
    )
    violations = live.where(Finding.severity == "violation").subquery()
    by_rule = [
        (rule, n)
        for rule, n in session.execute(
            select(violations.c.rule_id, func.count())
            .group_by(violations.c.rule_id)
            .order_by(func.count().desc(), violations.c.rule_id)
        )
    ]
    month = latest_month(session, in_region, as_of)
    months = [str(p) for p in month.shift(-(MONTHS_SHOWN - 1)).until(month)]
    counted = dict(
        session.execute(
            select(violations.c.period, func.count())
            .where(violations.c.period.in_(months))
            .group_by(violations.c.period)
        ).all()
    )
    due_rows = session.execute(
        select(Kindergarten.id, Kindergarten.code, Kindergarten.name, func.sum(Finding.amount_due))
        .join(Finding, Finding.kindergarten_id == Kindergarten.id)
        .where(in_region, Finding.status.in_(LIVE), Finding.amount_due.is_not(None))
        .group_by(Kindergarten.id, Kindergarten.code, Kindergarten.name)
    ).all()
    refunds = sorted(
        ((i, c, n, money(a)) for i, c, n, a in due_rows if a), key=lambda r: (-r[3], r[1])
    )
    open_findings = session.scalar(select(func.count()).select_from(live.subquery())) or 0
    shown = min(month, last_complete_month(as_of))
    public_ids = list(
        session.scalars(
            select(Kindergarten.id)
            .where(in_region, Kindergarten.category.in_(FUNDING_CATEGORIES))
            .order_by(Kindergarten.code)
        )
    )
    funding = funding_figures(session, ruleset, public_ids, [shown], as_of)
    return RegionDashboard(
        region,
        shown,
        by_category,
        by_rule,
        [(m, counted.get(m, 0)) for m in months],
        funding,
        sum((r[3] for r in refunds), Decimal("0.00")),
        refunds[:10],
        int(open_findings),
        sum(by_category.values()),
    )


def funding_figures(
    session: Session, ruleset: Ruleset, kg_ids: list[int], months: list[Period], as_of: date
) -> list[FundingFigure]:
    """Per-child annual funding for each kindergarten and month, by the engine's measure, with
    the sources and floor in force in each kindergarten's district on the month's first day."""
    if not kg_ids or not months:
        return []
    windows = FactWindows.for_months(min(months), max(months), ruleset, as_of)
    figures: list[FundingFigure] = []
    resolvers: dict[str, ParameterResolver] = {}
    for start in range(0, len(kg_ids), BATCH):
        facts = load_facts(
            session, kg_ids[start : start + BATCH], windows, families=frozenset({"funding"})
        )
        for kg_id in kg_ids[start : start + BATCH]:
            kg = facts[kg_id]
            resolver = resolvers.setdefault(
                kg.region_code, ParameterResolver(ruleset, kg.region_code)
            )
            for period in months:
                params = resolver.on(period.first_day, kg.grade)
                sources = set(params.get("per_child_funding_sources") or ())
                floor = params.decimal("funding_floor_per_child_year")
                measured = per_child_funding(kg, period, sources)
                figures.append(
                    FundingFigure(
                        kg.id,
                        kg.code,
                        kg.name,
                        period,
                        measured.per_child_year if measured else None,
                        money(floor) if floor is not None else None,
                    )
                )
    return figures


@dataclass
class KindergartenOverview:
    kindergarten: Kindergarten
    accounts: list[str]
    counts: dict[str, int]  # record type -> how many
    children_enrolled: int
    standards_in_force: list[FeeStandard]
    funding: list[FundingFigure]  # by month, the last MONTHS_SHOWN months (public only)
    findings_by_month: list[tuple[str, dict[str, int]]]  # month -> severity -> live findings
    month: Period  # the latest month with data (the charts end there)
    live_findings: list[Finding] = field(default_factory=list)
    refunds_due: Decimal = Decimal("0.00")


def kindergarten_overview(
    session: Session, user: User, kindergarten_id: int, ruleset: Ruleset, as_of: date
) -> KindergartenOverview:
    kg = get_kindergarten(session, user, kindergarten_id)
    counts: dict[str, int] = {}
    for name, model in (
        ("children", Child),
        ("fee-standards", FeeStandard),
        ("charges", Charge),
        ("funding", Funding),
        ("refunds", Refund),
        ("absences", Absence),
        ("inspections", Inspection),
    ):
        column: Any = model.kindergarten_id  # type: ignore[attr-defined]
        counts[name] = int(session.scalar(select(func.count()).where(column == kg.id)) or 0)
    enrolled = int(
        session.scalar(
            select(func.count()).where(
                Child.kindergarten_id == kg.id,
                Child.enrolled_on <= as_of,
                (Child.left_on.is_(None)) | (Child.left_on > as_of),
            )
        )
        or 0
    )
    standards = list(
        session.scalars(
            select(FeeStandard)
            .where(
                FeeStandard.kindergarten_id == kg.id,
                FeeStandard.effective_from <= as_of,
                (FeeStandard.effective_to.is_(None)) | (FeeStandard.effective_to >= as_of),
            )
            .order_by(FeeStandard.fee_item)
        )
    )
    month = latest_month(session, Kindergarten.id == kg.id, as_of)
    months = month.shift(-(MONTHS_SHOWN - 1)).until(month)
    funding = (
        funding_figures(session, ruleset, [kg.id], [m for m in months if m.last_day < as_of], as_of)
        if kg.category in FUNDING_CATEGORIES
        else []
    )
    grouped: dict[str, dict[str, int]] = defaultdict(dict)
    for period, severity, n in session.execute(
        select(Finding.period, Finding.severity, func.count())
        .where(
            Finding.kindergarten_id == kg.id,
            Finding.status.in_(LIVE),
            Finding.period.in_([str(m) for m in months]),
        )
        .group_by(Finding.period, Finding.severity)
    ):
        grouped[period][severity] = n
    live = list(
        session.scalars(
            select(Finding)
            .where(Finding.kindergarten_id == kg.id, Finding.status.in_(LIVE))
            .order_by(Finding.period.desc(), Finding.rule_id)
            .limit(20)
        )
    )
    due = session.scalar(
        select(func.sum(Finding.amount_due)).where(
            Finding.kindergarten_id == kg.id, Finding.status.in_(LIVE)
        )
    )
    return KindergartenOverview(
        kg,
        kg.account_numbers,
        counts,
        enrolled,
        standards,
        funding,
        [(str(m), grouped.get(str(m), {})) for m in months],
        month,
        live,
        money(due) if due else Decimal("0.00"),
    )

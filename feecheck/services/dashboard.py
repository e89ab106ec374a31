"""What the dashboard and a kindergarten's page show: counts from the stored findings, and the
funding-floor figures computed by the engine's own measure (engine.measures.per_child_funding with
the parameters in force for each district), so a page and a finding never disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feecheck.domain.categories import Category
from feecheck.domain.money import money
from feecheck.domain.periods import Period
from feecheck.domain.regions import scope_prefix, validate_region_code
from feecheck.engine.measures import per_child_funding
from feecheck.engine.params import NeedsGrade, ParameterResolver
from feecheck.engine.specs import Ruleset
from feecheck.engine.windows import FactWindows
from feecheck.models import (
    Absence,
    Charge,
    CheckRun,
    Child,
    FeeStandard,
    Finding,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
    User,
)
from feecheck.services import ledger
from feecheck.services.checking import BATCH, load_facts
from feecheck.services.pagination import PER_PAGE, Page
from feecheck.services.scope import get_kindergarten, require_region, visible

LIVE = ("open", "acknowledged")
MONTHS_SHOWN = 12
# the 600-yuan floor applies to public kindergartens, the subsidy standard to inclusive ones
FUNDING_CATEGORIES = (Category.PUBLIC.value, Category.INCLUSIVE_PRIVATE.value)


@dataclass(frozen=True)
class FundingFigure:
    """A kindergarten's per-child annual funding in a month, against the standard that applies:
    the floor (public, FUNDING-FLOOR) or the inclusive subsidy (INCLUSIVE-SUBSIDY)."""

    kindergarten_id: int
    code: str
    name: str
    period: Period
    per_child_year: Decimal | None  # None: no child enrolled that month
    floor: Decimal | None  # None: no standard in force there (or by grade, grade unknown)
    rule_id: str = "FUNDING-FLOOR"
    checked: bool = False  # a check has judged this kindergarten's month
    finding_id: int | None = None  # its live finding of the rule that month

    @property
    def below(self) -> bool:
        return (
            self.per_child_year is not None
            and self.floor is not None
            and self.per_child_year < self.floor
        )


FUNDING_RULES = {
    Category.PUBLIC.value: (
        "FUNDING-FLOOR",
        "per_child_funding_sources",
        "funding_floor_per_child_year",
    ),
    Category.INCLUSIVE_PRIVATE.value: (
        "INCLUSIVE-SUBSIDY",
        "inclusive_subsidy_sources",
        "inclusive_subsidy_per_child_year",
    ),
}


@dataclass
class RegionDashboard:
    region_code: str | None
    month: Period  # the month of the funding figures (the last complete month)
    by_category: dict[str, int]
    violations_by_rule: list[tuple[str, int]]
    violations_by_month: list[tuple[str, int]]
    funding: Page[FundingFigure]  # public kindergartens, those with a funding finding first
    funding_below: int  # kindergartens with a live funding finding in `month`
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
    latest_finding = _latest_period(session, condition, cap)
    paid = (
        select(Charge.paid_on)
        .join(Kindergarten, Kindergarten.id == Charge.kindergarten_id)
        .where(condition, Charge.paid_on <= as_of)
    )
    # the newest payment by walking the paid_on index back from as_of (a region's charges are
    # a fraction of the table: max() over them read every one, 100 ms on PostgreSQL for a
    # district of 1,000,000 charges); within the last 13 months, else the whole history
    latest_paid = session.scalar(
        paid.where(Charge.paid_on > as_of - timedelta(days=400))
        .order_by(Charge.paid_on.desc())
        .limit(1)
    ) or session.scalar(paid.with_only_columns(func.max(Charge.paid_on)))
    candidates = [Period.parse(latest_finding)] if latest_finding else []
    if latest_paid:
        candidates.append(Period.of(latest_paid))
    return max(candidates) if candidates else Period.of(as_of)


def judged_month(session: Session, condition: Any, as_of: date) -> Period:
    """The latest month that has ended by the as-of date and holds findings in the region (a
    check judged it), else the last month that has ended."""
    last = last_complete_month(as_of)
    latest = _latest_period(session, condition, str(last))
    return Period.parse(latest) if latest else last


def _latest_period(session: Session, condition: Any, cap: str) -> str | None:
    """The newest month with a finding in the region, up to `cap`: the (period, kindergarten)
    index walked back from `cap` until a kindergarten of the region, not every finding of it."""
    return session.scalar(
        select(Finding.period)
        .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
        .where(condition, Finding.period <= cap)
        .order_by(Finding.period.desc())
        .limit(1)
    )


def region_dashboard(
    session: Session,
    user: User,
    ruleset: Ruleset,
    as_of: date,
    region_code: str | None = None,
    funding_month: Period | None = None,
    funding_page: int = 1,
) -> RegionDashboard:
    """The region's page: the user's own region, or a region inside it. The funding figures are
    for `funding_month` (default: the latest complete month a check judged in the region), a
    page of PER_PAGE public kindergartens at a time: those with a live funding finding that
    month first, then by code (a province has thousands; the engine's measure costs ~0.5 ms a
    kindergarten)."""
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
    # the live findings counted once, by status, severity, rule and month: the grouping of the
    # covering index ix_findings_status_counts, read in order without touching the findings' rows
    live: dict[tuple[str, str], int] = {}  # (rule, month) -> open violations
    open_findings = 0
    for _status, severity, rule_id, period, n in session.execute(
        select(Finding.status, Finding.severity, Finding.rule_id, Finding.period, func.count())
        .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
        .where(in_region, Finding.status.in_(LIVE))
        .group_by(Finding.status, Finding.severity, Finding.rule_id, Finding.period)
    ):
        open_findings += n
        if severity == "violation":
            live[(rule_id, period)] = live.get((rule_id, period), 0) + n
    by_rule_counts: dict[str, int] = {}
    by_month: dict[str, int] = {}
    for (rule_id, period), n in live.items():
        by_rule_counts[rule_id] = by_rule_counts.get(rule_id, 0) + n
        by_month[period] = by_month.get(period, 0) + n
    by_rule = sorted(by_rule_counts.items(), key=lambda item: (-item[1], item[0]))
    month = latest_month(session, in_region, as_of)
    months = [str(p) for p in month.shift(-(MONTHS_SHOWN - 1)).until(month)]
    counted = {m: by_month[m] for m in months if m in by_month}
    owed = ledger.owed(session, [in_region], as_of)  # per receipt: never counted twice
    names = (
        dict(
            (kg_id, (code, name))
            for kg_id, code, name in session.execute(
                select(Kindergarten.id, Kindergarten.code, Kindergarten.name).where(
                    Kindergarten.id.in_(list(owed))
                )
            )
        )
        if owed
        else {}
    )
    refunds = sorted(
        (
            (kg_id, *names[kg_id], money(totals.outstanding))
            for kg_id, totals in owed.items()
            if totals.outstanding > 0
        ),
        key=lambda r: (-r[3], r[1]),
    )
    shown = funding_month or judged_month(session, in_region, as_of)
    flagged = set(
        session.scalars(
            select(Finding.kindergarten_id)
            .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
            .where(
                in_region,
                Finding.period == str(shown),
                Finding.rule_id.in_([rule for rule, _s, _t in FUNDING_RULES.values()]),
                Finding.status.in_(LIVE),
            )
            .distinct()
        )
    )
    public_ids = list(
        session.scalars(
            select(Kindergarten.id)
            .where(in_region, Kindergarten.category.in_(FUNDING_CATEGORIES))
            .order_by(Kindergarten.code)
        )
    )
    ordered = [i for i in public_ids if i in flagged] + [i for i in public_ids if i not in flagged]
    pages = max(1, -(-len(ordered) // PER_PAGE))
    number = min(max(1, funding_page), pages)
    chosen = ordered[(number - 1) * PER_PAGE : number * PER_PAGE]
    funding = Page(
        funding_figures(session, ruleset, chosen, [shown], as_of), number, PER_PAGE, len(ordered)
    )
    return RegionDashboard(
        region,
        shown,
        by_category,
        by_rule,
        [(m, counted.get(m, 0)) for m in months],
        funding,
        len(flagged & set(public_ids)),
        sum((r[3] for r in refunds), Decimal("0.00")),
        refunds[:10],
        int(open_findings),
        sum(by_category.values()),
    )


def funding_figures(
    session: Session, ruleset: Ruleset, kg_ids: list[int], months: list[Period], as_of: date
) -> list[FundingFigure]:
    """Per-child annual funding for each kindergarten and month, by the engine's measure with the
    sources and standard in force in its district on the month's first day (the floor for public
    kindergartens, the subsidy standard for inclusive ones), and whether a check judged that month
    and found the rule broken, so a page shows the measure and the finding side by side."""
    if not kg_ids or not months:
        return []
    windows = FactWindows.for_months(min(months), max(months), ruleset, as_of)
    figures: list[FundingFigure] = []
    resolvers: dict[str, ParameterResolver] = {}
    runs = _runs_covering(session, months)
    found = {
        (kg_id, rule_id, period): finding_id
        for kg_id, rule_id, period, finding_id in session.execute(
            select(Finding.kindergarten_id, Finding.rule_id, Finding.period, Finding.id).where(
                Finding.kindergarten_id.in_(kg_ids),
                Finding.period.in_([str(m) for m in months]),
                Finding.rule_id.in_([rule for rule, _s, _t in FUNDING_RULES.values()]),
                Finding.status.in_(LIVE),
            )
        )
    }
    for start in range(0, len(kg_ids), BATCH):
        facts = load_facts(
            session, kg_ids[start : start + BATCH], windows, families=frozenset({"funding"})
        )
        for kg_id in kg_ids[start : start + BATCH]:
            kg = facts[kg_id]
            if kg.category not in FUNDING_RULES:
                continue
            rule_id, sources_name, standard_name = FUNDING_RULES[kg.category]
            resolver = resolvers.setdefault(
                kg.region_code, ParameterResolver(ruleset, kg.region_code)
            )
            for period in months:
                params = resolver.on(period.first_day, kg.grade)
                sources = set(params.get(sources_name) or ())
                try:
                    standard = params.decimal(standard_name)
                except NeedsGrade:
                    standard = None  # a table by grade, and the grade is not recorded
                measured = per_child_funding(kg, period, sources)
                figures.append(
                    FundingFigure(
                        kg.id,
                        kg.code,
                        kg.name,
                        period,
                        measured.per_child_year if measured else None,
                        money(standard) if standard is not None else None,
                        rule_id,
                        _covered(runs, kg.code, kg.region_code, period),
                        found.get((kg.id, rule_id, str(period))),
                    )
                )
    return figures


Runs = list[tuple[str, str, str | None, str | None]]


def _runs_covering(session: Session, months: list[Period]) -> Runs:
    """(from, to, region, kindergarten) of the stored check runs that judged any of the months."""
    first, last = str(min(months)), str(max(months))
    return [
        (a, b, c, d)
        for a, b, c, d in session.execute(
            select(
                CheckRun.period_from,
                CheckRun.period_to,
                CheckRun.region_code,
                CheckRun.kindergarten_code,
            ).where(CheckRun.period_from <= last, CheckRun.period_to >= first)
        )
    ]


def _covered(runs: Runs, code: str, region: str, period: Period) -> bool:
    month = str(period)
    return any(
        first <= month <= last
        and (kg_code is None or kg_code == code)
        and (run_region is None or region.startswith(scope_prefix(run_region)))
        for first, last, run_region, kg_code in runs
    )


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
    due = ledger.owed(session, [Finding.kindergarten_id == kg.id], as_of).get(kg.id)
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
        money(due.outstanding) if due else Decimal("0.00"),
    )

"""Checking: load the facts each month needs (engine/windows.py), run the rules, store findings.

Facts are loaded per batch of kindergartens, one query per fact family, by the windows that say
which records can affect a month, so a month's findings never depend on the range asked. Storing
never deletes a finding (services/findings.py says how stored findings move between states).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Select, and_, or_, select, type_coerce
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from feecheck.domain.money import from_fen, money
from feecheck.domain.periods import Period
from feecheck.domain.regions import scope_prefix, validate_region_code
from feecheck.engine.facts import (
    AbsenceFact,
    ChargeFact,
    ChildFact,
    FundingFact,
    InspectionFact,
    KindergartenFacts,
    RefundFact,
    StandardFact,
)
from feecheck.engine.findings import FindingResult
from feecheck.engine.loader import load_ruleset
from feecheck.engine.runner import NotEvaluated, evaluated_periods, not_evaluated, run_rules
from feecheck.engine.screens import ChargeScreen, screens
from feecheck.engine.specs import Ruleset
from feecheck.engine.windows import SETTLED_CATEGORY, FactWindows
from feecheck.models import (
    Absence,
    Charge,
    CheckRun,
    Child,
    FeeStandard,
    FiledAccount,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
    User,
)
from feecheck.models.base import utcnow
from feecheck.services.findings import Evaluated, StoreCounts, store_findings
from feecheck.services.locks import FINDINGS, begin_write
from feecheck.services.screening import screen_charges

BATCH = 100  # kindergartens whose facts are loaded, evaluated and stored together


def raw(column: Any) -> Any:
    """A column read as the driver returns it, without SQLAlchemy's per-value processing (the
    hot loads convert with RawValues, which remembers the values that repeat)."""
    return type_coerce(column, NullType()).label(column.key)


class RawValues:
    """Dates and amounts as the column types would make them: SQLite returns ISO text and
    integer fen, PostgreSQL date and Decimal objects already. Repeats are converted once."""

    def __init__(self) -> None:
        self._days: dict[str, date] = {}

    def day(self, value: Any) -> date:
        if isinstance(value, str):
            found = self._days.get(value)
            if found is None:
                found = self._days[value] = date.fromisoformat(value)
            return found
        return value  # type: ignore[no-any-return]

    def amount(self, value: Any) -> Decimal:
        if isinstance(value, int):
            return from_fen(value)
        if isinstance(value, Decimal) and value.as_tuple().exponent == -2:
            return value
        return money(value)


class CheckError(ValueError):
    """The check cannot run as asked (unknown kindergarten, region outside the user's scope)."""


@dataclass(frozen=True)
class Scope:
    period_from: Period
    period_to: Period
    region_code: str | None = None
    kindergarten_code: str | None = None

    @property
    def periods(self) -> list[Period]:
        return self.period_from.until(self.period_to)


@dataclass
class CheckOutcome:
    run: CheckRun
    findings: list[FindingResult]  # every finding, unless a sink took them batch by batch
    kindergartens: dict[str, CheckedKindergarten]  # likewise: code -> kindergarten
    counts: StoreCounts = field(default_factory=StoreCounts)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)
    checked: int = 0  # kindergartens judged

    @property
    def created(self) -> int:
        return self.counts.created

    @property
    def updated(self) -> int:
        return self.counts.updated

    @property
    def resolved(self) -> int:
        return self.counts.resolved

    @property
    def reopened(self) -> int:
        return self.counts.reopened


def _scoped_kindergartens(scope: Scope, user: User | None) -> Select:  # type: ignore[type-arg]
    statement = select(Kindergarten.id).order_by(Kindergarten.code)
    if scope.region_code:
        validate_region_code(scope.region_code)
        statement = statement.where(
            Kindergarten.region_code.startswith(scope_prefix(scope.region_code))
        )
    if scope.kindergarten_code:
        statement = statement.where(Kindergarten.code == scope.kindergarten_code)
    if user is not None and user.region_code:
        statement = statement.where(
            Kindergarten.region_code.startswith(scope_prefix(user.region_code))
        )
    return statement


def load_facts(
    session: Session,
    kg_ids: Sequence[int],
    windows: FactWindows,
    item_key: Callable[[str], str] = str,
    families: frozenset[str] | None = None,
) -> dict[int, KindergartenFacts]:
    """The facts of some kindergartens that can affect the windows' months, one query a family.

    `item_key` tells which fee items are one item (FeeItemTaxonomy.item_key). `families` limits
    what is loaded besides the kindergartens, their accounts and children (e.g. {"funding"} for
    per-child funding figures); None loads every family a check needs."""

    def wanted(family: str) -> bool:
        return families is None or family in families

    ids = list(kg_ids)
    facts: dict[int, KindergartenFacts] = {}
    for kg in (
        session.connection()
        .execute(
            select(
                Kindergarten.id,
                Kindergarten.code,
                Kindergarten.name,
                Kindergarten.region_code,
                Kindergarten.category,
                Kindergarten.boarding,
                Kindergarten.grade,
            ).where(Kindergarten.id.in_(ids))
        )
        .all()
    ):
        facts[kg.id] = KindergartenFacts(
            kg.id, kg.code, kg.name, kg.region_code, kg.category, kg.boarding, frozenset(), kg.grade
        )
    accounts: dict[int, set[str]] = defaultdict(set)
    for kg_id, account in (
        session.connection()
        .execute(
            select(FiledAccount.kindergarten_id, FiledAccount.account_no).where(
                FiledAccount.kindergarten_id.in_(ids)
            )
        )
        .all()
    ):
        accounts[kg_id].add(account)
    for kg_id, kg_accounts in accounts.items():
        facts[kg_id].accounts = frozenset(kg_accounts)
    for c in (
        session.connection()
        .execute(
            select(
                Child.kindergarten_id,
                Child.id,
                Child.child_ref,
                Child.birth_date,
                Child.final_year,
                Child.enrolled_on,
                Child.left_on,
                Child.boarding,
                Child.hardship,
            ).where(Child.kindergarten_id.in_(ids))
        )
        .all()
    ):
        facts[c.kindergarten_id].children[c.id] = ChildFact(*c[1:])

    if wanted("charges"):
        _load_charges(session, ids, windows, item_key, facts)
    if wanted("standards"):
        _load_standards(session, ids, item_key, facts)
    if wanted("funding"):
        _load_funding(session, ids, windows, facts)
    if wanted("absences"):
        _load_absences(session, ids, windows, facts)
    if wanted("inspections"):
        _load_inspections(session, ids, windows, facts)
    return facts


def _load_charges(
    session: Session,
    ids: list[int],
    windows: FactWindows,
    item_key: Callable[[str], str],
    facts: dict[int, KindergartenFacts],
) -> None:
    as_of = windows.as_of
    paid_first, paid_last = windows.paid
    cover_first, cover_last = windows.covering
    leavers = select(Child.id).where(
        Child.kindergarten_id.in_(ids), Child.left_on.between(cover_first, cover_last)
    )
    charge_filter = and_(
        Charge.kindergarten_id.in_(ids),
        Charge.paid_on <= as_of,
        or_(
            Charge.paid_on.between(paid_first, paid_last),
            and_(
                Charge.period_end >= cover_first,
                Charge.period_start <= cover_last,
                or_(Charge.item_category == SETTLED_CATEGORY, Charge.child_id.in_(leavers)),
            ),
        ),
    )
    charge_kg: dict[int, int] = {}
    values = RawValues()
    for row in (
        session.connection()
        .execute(
            select(
                Charge.kindergarten_id,
                Charge.id,
                Charge.receipt_no,
                Charge.child_id,
                Charge.fee_item,
                Charge.item_category,
                raw(Charge.amount),
                raw(Charge.period_start),
                raw(Charge.period_end),
                raw(Charge.paid_on),
                Charge.account,
                Charge.collector,
            ).where(charge_filter)
        )
        .all()
    ):
        kg_id, charge_id, receipt, child, item, category, amount, start, end, paid = row[:10]
        charge_kg[charge_id] = kg_id
        facts[kg_id].charges.append(
            ChargeFact(
                charge_id,
                receipt,
                child,
                item,
                category,
                values.amount(amount),
                values.day(start),
                values.day(end),
                values.day(paid),
                row[10],
                row[11],
                item_key(item),
            )
        )
    charge_ids = select(Charge.id).where(charge_filter).scalar_subquery()
    for r in (
        session.connection()
        .execute(
            select(
                Refund.charge_id, Refund.refund_no, raw(Refund.amount), raw(Refund.refunded_on)
            ).where(Refund.charge_id.in_(charge_ids), Refund.refunded_on <= as_of)
        )
        .all()
    ):
        charge_id, refund_no, amount, refunded_on = r
        facts[charge_kg[charge_id]].refunds.setdefault(charge_id, []).append(
            RefundFact(charge_id, refund_no, values.amount(amount), values.day(refunded_on))
        )


def _load_standards(
    session: Session,
    ids: list[int],
    item_key: Callable[[str], str],
    facts: dict[int, KindergartenFacts],
) -> None:
    for s in (
        session.connection()
        .execute(
            select(
                FeeStandard.kindergarten_id,
                FeeStandard.id,
                FeeStandard.fee_item,
                FeeStandard.item_category,
                FeeStandard.amount,
                FeeStandard.unit,
                FeeStandard.effective_from,
                FeeStandard.effective_to,
            ).where(FeeStandard.kindergarten_id.in_(ids))
        )
        .all()
    ):
        facts[s.kindergarten_id].standards.append(StandardFact(*s[1:], item_key(s.fee_item)))


def _load_funding(
    session: Session, ids: list[int], windows: FactWindows, facts: dict[int, KindergartenFacts]
) -> None:
    as_of = windows.as_of
    covered_first, covered_last = windows.funding_covering
    received_first, received_last = windows.funding_received
    for f in (
        session.connection()
        .execute(
            select(
                Funding.kindergarten_id,
                Funding.reference,
                Funding.source,
                Funding.amount,
                Funding.period_start,
                Funding.period_end,
                Funding.received_on,
            ).where(
                Funding.kindergarten_id.in_(ids),
                Funding.received_on <= as_of,
                or_(
                    and_(Funding.period_end >= covered_first, Funding.period_start <= covered_last),
                    Funding.received_on.between(received_first, received_last),
                ),
            )
        )
        .all()
    ):
        facts[f.kindergarten_id].funding.append(FundingFact(*f[1:]))


def _load_absences(
    session: Session, ids: list[int], windows: FactWindows, facts: dict[int, KindergartenFacts]
) -> None:
    for a in (
        session.connection()
        .execute(
            select(
                Absence.kindergarten_id,
                Absence.child_id,
                Absence.month,
                Absence.days_absent,
                Absence.days_open,
            ).where(Absence.kindergarten_id.in_(ids), Absence.month.in_(windows.absence_months))
        )
        .all()
    ):
        facts[a.kindergarten_id].absences[(a.child_id, a.month)] = AbsenceFact(*a[1:])


def _load_inspections(
    session: Session, ids: list[int], windows: FactWindows, facts: dict[int, KindergartenFacts]
) -> None:
    as_of = windows.as_of
    inspected_first, inspected_last = windows.inspected
    for i in (
        session.connection()
        .execute(
            select(
                Inspection.kindergarten_id,
                Inspection.inspected_on,
                Inspection.inspector,
                Inspection.fees_disclosed,
            ).where(
                Inspection.kindergarten_id.in_(ids),
                Inspection.inspected_on.between(inspected_first, min(inspected_last, as_of)),
            )
        )
        .all()
    ):
        facts[i.kindergarten_id].inspections.append(InspectionFact(*i[1:]))


def ruleset_for(rules_dir: Path) -> Ruleset:
    return load_ruleset(rules_dir)


def _batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


@dataclass(frozen=True)
class CheckedKindergarten:
    """A kindergarten a run judged, as its output names it."""

    id: int
    code: str
    name: str
    region_code: str
    category: str


@dataclass
class CheckedBatch:
    """One batch of kindergartens judged: in code order, their findings sorted as the output
    lists them (kindergarten code, month, rule, child, key), what storing them did."""

    kindergartens: list[CheckedKindergarten]
    findings: list[FindingResult]
    counts: StoreCounts = field(default_factory=StoreCounts)


class CheckSink(Protocol):
    """Where a check's results go as they come: a batch at a time, never the whole scope."""

    def start(self, kindergartens: int, skipped: list[NotEvaluated]) -> None: ...

    def batch(self, batch: CheckedBatch) -> None: ...


@dataclass
class CheckPlan:
    """What a run judges: the kindergartens (ids in code order), months, windows and rules."""

    scope: Scope
    as_of: date
    kg_ids: list[int]
    windows: FactWindows
    rule_ids: set[str] | None
    skipped: list[NotEvaluated]
    screens: dict[str, ChargeScreen] = field(default_factory=dict)  # rule id -> its screen

    def evaluated(
        self, kindergartens: dict[str, int], children: dict[tuple[str, str], int]
    ) -> Evaluated:
        return Evaluated(
            kindergartens,
            children,
            [str(p) for p in evaluated_periods(self.scope.periods, self.as_of)],
            self.rule_ids,
            {(s.period, s.rule_id) for s in self.skipped if s.rule_id},
        )


def plan_check(
    session: Session,
    ruleset: Ruleset,
    scope: Scope,
    as_of: date,
    user: User | None = None,
    rule_ids: set[str] | None = None,
) -> CheckPlan:
    """The kindergartens in the scope the user may see, and what the run will not judge."""
    if scope.kindergarten_code and not session.scalar(
        select(Kindergarten.id).where(Kindergarten.code == scope.kindergarten_code)
    ):
        raise CheckError(f"unknown kindergarten {scope.kindergarten_code}")
    kg_ids = list(session.scalars(_scoped_kindergartens(scope, user)))
    return make_plan(ruleset, scope, as_of, rule_ids, kg_ids)


def make_plan(
    ruleset: Ruleset,
    scope: Scope,
    as_of: date,
    rule_ids: set[str] | None,
    kg_ids: list[int],
) -> CheckPlan:
    """The plan for kindergartens already chosen (a worker rebuilds its batch's plan so)."""
    chosen = [r for r in ruleset.rules.values() if rule_ids is None or r.id in rule_ids]
    return CheckPlan(
        scope,
        as_of,
        kg_ids,
        FactWindows.for_months(scope.period_from, scope.period_to, ruleset, as_of),
        rule_ids,
        not_evaluated(ruleset, scope.periods, as_of, rule_ids),
        screens(ruleset, chosen),
    )


def evaluate_batch(
    session: Session,
    ruleset: Ruleset,
    plan: CheckPlan,
    kg_ids: Sequence[int],
    item_key: Callable[[str], str] | None = None,
) -> tuple[CheckedBatch, Evaluated]:
    """Load one batch's facts (columns, one query a family) and run the rules over them."""
    facts = load_facts(session, kg_ids, plan.windows, item_key or ruleset.taxonomy.item_key)
    ordered = sorted(facts.values(), key=lambda kg: kg.code)
    passed = screen_charges(session, plan.screens, kg_ids, plan.windows)
    findings = run_rules(ruleset, ordered, plan.scope.periods, plan.as_of, plan.rule_ids, passed)
    findings.sort(
        key=lambda f: (f.kindergarten_code, f.period, f.rule.id, f.child_ref or "", f.key)
    )
    checked = [
        CheckedKindergarten(kg.id, kg.code, kg.name, kg.region_code, kg.category) for kg in ordered
    ]
    evaluated = plan.evaluated(
        {kg.code: kg.id for kg in ordered},
        {(kg.code, c.ref): c.id for kg in ordered for c in kg.children.values()},
    )
    return CheckedBatch(checked, findings), evaluated


class FindingsCollector:
    """The sink run_check keeps by default: every finding and kindergarten, for small scopes."""

    def __init__(self) -> None:
        self.findings: list[FindingResult] = []
        self.kindergartens: dict[str, CheckedKindergarten] = {}

    def start(self, kindergartens: int, skipped: list[NotEvaluated]) -> None:
        pass  # nothing to say before the first batch

    def batch(self, batch: CheckedBatch) -> None:
        self.findings.extend(batch.findings)
        self.kindergartens.update((kg.code, kg) for kg in batch.kindergartens)


def new_run(plan: CheckPlan, ruleset: Ruleset, user: User | None) -> CheckRun:
    scope = plan.scope
    return CheckRun(
        period_from=str(scope.period_from),
        period_to=str(scope.period_to),
        region_code=scope.region_code,
        kindergarten_code=scope.kindergarten_code,
        as_of=plan.as_of.isoformat(),
        ruleset_hash=ruleset.hash,
        user_id=user.id if user else None,
        findings_count=0,
        not_evaluated=[s.to_json() for s in plan.skipped],
    )


def finish_run(run: CheckRun, counts: StoreCounts, findings: int) -> None:
    run.findings_count = findings
    run.created, run.updated = counts.created, counts.updated
    run.resolved, run.reopened = counts.resolved, counts.reopened
    run.finished_at = utcnow()


def outcome_of(
    run: CheckRun, collector: FindingsCollector | None, counts: StoreCounts, plan: CheckPlan
) -> CheckOutcome:
    """A finished run's outcome; the findings themselves only where no sink took them."""
    return CheckOutcome(
        run,
        collector.findings if collector else [],
        collector.kindergartens if collector else {},
        counts,
        plan.skipped,
        len(plan.kg_ids),
    )


def add_counts(total: StoreCounts, more: StoreCounts) -> None:
    total.created += more.created
    total.updated += more.updated
    total.resolved += more.resolved
    total.reopened += more.reopened


def run_check(
    session: Session,
    ruleset: Ruleset,
    scope: Scope,
    as_of: date,
    user: User | None = None,
    store: bool = True,
    rule_ids: set[str] | None = None,
    sink: CheckSink | None = None,
    batch_size: int = BATCH,
) -> CheckOutcome:
    """Check every rule (or `rule_ids`) for each month in the scope and store the findings.

    The scope is judged a batch of kindergartens at a time: facts loaded, rules run, findings
    stored and handed to `sink`, then dropped, so memory does not grow with the scope. Without a
    sink every finding is kept in the outcome (small scopes: a kindergarten, a district). The
    whole run is one transaction under the findings lock, taken when the first batch is stored;
    the caller commits. (services/check_workers.py spreads a scope over processes instead.)

    Months after `as_of` are not evaluated and leave stored findings alone; the outcome says
    which months (and rules) were not evaluated and why.
    """
    plan = plan_check(session, ruleset, scope, as_of, user, rule_ids)
    collector = FindingsCollector() if sink is None else None
    out: CheckSink = sink if sink is not None else collector  # type: ignore[assignment]
    out.start(len(plan.kg_ids), plan.skipped)
    run = new_run(plan, ruleset, user)
    counts = StoreCounts()
    found = 0
    writing = False
    item_key = lru_cache(maxsize=65536)(ruleset.taxonomy.item_key)
    for kg_ids in _batches(plan.kg_ids, batch_size):
        batch, evaluated = evaluate_batch(session, ruleset, plan, kg_ids, item_key)
        if store:
            if not writing:  # the lock is taken once, before the first write
                begin_write(session, FINDINGS)
                session.add(run)
                session.flush()
                writing = True
            batch.counts = store_findings(session, run, evaluated, as_of, batch.findings)
            add_counts(counts, batch.counts)
        found += len(batch.findings)
        out.batch(batch)
    if store and not writing:
        begin_write(session, FINDINGS)
        session.add(run)
        session.flush()
    finish_run(run, counts, found)
    return outcome_of(run, collector, counts, plan)

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
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

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
from feecheck.engine.specs import Ruleset
from feecheck.engine.windows import FactWindows
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

BATCH = 500  # kindergartens whose facts are loaded and evaluated together


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
    findings: list[FindingResult]
    kindergartens: dict[str, Kindergarten]
    counts: StoreCounts = field(default_factory=StoreCounts)
    not_evaluated: list[NotEvaluated] = field(default_factory=list)

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
    statement = select(Kindergarten.id).order_by(Kindergarten.id)
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
    for kg in session.execute(
        select(
            Kindergarten.id,
            Kindergarten.code,
            Kindergarten.name,
            Kindergarten.region_code,
            Kindergarten.category,
            Kindergarten.boarding,
            Kindergarten.grade,
        ).where(Kindergarten.id.in_(ids))
    ):
        facts[kg.id] = KindergartenFacts(
            kg.id, kg.code, kg.name, kg.region_code, kg.category, kg.boarding, frozenset(), kg.grade
        )
    accounts: dict[int, set[str]] = defaultdict(set)
    for kg_id, account in session.execute(
        select(FiledAccount.kindergarten_id, FiledAccount.account_no).where(
            FiledAccount.kindergarten_id.in_(ids)
        )
    ):
        accounts[kg_id].add(account)
    for kg_id, kg_accounts in accounts.items():
        facts[kg_id].accounts = frozenset(kg_accounts)
    for c in session.execute(
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
    charge_filter = and_(
        Charge.kindergarten_id.in_(ids),
        Charge.paid_on <= as_of,
        or_(
            Charge.paid_on.between(paid_first, paid_last),
            and_(Charge.period_end >= cover_first, Charge.period_start <= cover_last),
        ),
    )
    charge_kg: dict[int, int] = {}
    for row in session.execute(
        select(
            Charge.kindergarten_id,
            Charge.id,
            Charge.receipt_no,
            Charge.child_id,
            Charge.fee_item,
            Charge.item_category,
            Charge.amount,
            Charge.period_start,
            Charge.period_end,
            Charge.paid_on,
            Charge.account,
            Charge.collector,
        ).where(charge_filter)
    ):
        charge_kg[row.id] = row.kindergarten_id
        facts[row.kindergarten_id].charges.append(ChargeFact(*row[1:], item_key(row.fee_item)))
    charge_ids = select(Charge.id).where(charge_filter).scalar_subquery()
    for r in session.execute(
        select(Refund.charge_id, Refund.refund_no, Refund.amount, Refund.refunded_on).where(
            Refund.charge_id.in_(charge_ids), Refund.refunded_on <= as_of
        )
    ):
        facts[charge_kg[r.charge_id]].refunds.setdefault(r.charge_id, []).append(RefundFact(*r))


def _load_standards(
    session: Session,
    ids: list[int],
    item_key: Callable[[str], str],
    facts: dict[int, KindergartenFacts],
) -> None:
    for s in session.execute(
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
    ):
        facts[s.kindergarten_id].standards.append(StandardFact(*s[1:], item_key(s.fee_item)))


def _load_funding(
    session: Session, ids: list[int], windows: FactWindows, facts: dict[int, KindergartenFacts]
) -> None:
    as_of = windows.as_of
    covered_first, covered_last = windows.funding_covering
    received_first, received_last = windows.funding_received
    for f in session.execute(
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
    ):
        facts[f.kindergarten_id].funding.append(FundingFact(*f[1:]))


def _load_absences(
    session: Session, ids: list[int], windows: FactWindows, facts: dict[int, KindergartenFacts]
) -> None:
    for a in session.execute(
        select(
            Absence.kindergarten_id,
            Absence.child_id,
            Absence.month,
            Absence.days_absent,
            Absence.days_open,
        ).where(Absence.kindergarten_id.in_(ids), Absence.month.in_(windows.absence_months))
    ):
        facts[a.kindergarten_id].absences[(a.child_id, a.month)] = AbsenceFact(*a[1:])


def _load_inspections(
    session: Session, ids: list[int], windows: FactWindows, facts: dict[int, KindergartenFacts]
) -> None:
    as_of = windows.as_of
    inspected_first, inspected_last = windows.inspected
    for i in session.execute(
        select(
            Inspection.kindergarten_id,
            Inspection.inspected_on,
            Inspection.inspector,
            Inspection.fees_disclosed,
        ).where(
            Inspection.kindergarten_id.in_(ids),
            Inspection.inspected_on.between(inspected_first, min(inspected_last, as_of)),
        )
    ):
        facts[i.kindergarten_id].inspections.append(InspectionFact(*i[1:]))


def ruleset_for(rules_dir: Path) -> Ruleset:
    return load_ruleset(rules_dir)


def _batches(ids: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def run_check(
    session: Session,
    ruleset: Ruleset,
    scope: Scope,
    as_of: date,
    user: User | None = None,
    store: bool = True,
    rule_ids: set[str] | None = None,
) -> CheckOutcome:
    """Check every rule (or `rule_ids`) for each month in the scope and store the findings.

    Months after `as_of` are not evaluated and leave stored findings alone; the outcome says
    which months (and rules) were not evaluated and why.
    """
    if scope.kindergarten_code and not session.scalar(
        select(Kindergarten.id).where(Kindergarten.code == scope.kindergarten_code)
    ):
        raise CheckError(f"unknown kindergarten {scope.kindergarten_code}")
    kg_ids = list(session.scalars(_scoped_kindergartens(scope, user)))
    windows = FactWindows.for_months(scope.period_from, scope.period_to, ruleset, as_of)
    findings: list[FindingResult] = []
    kindergartens: dict[str, int] = {}
    children: dict[tuple[str, str], int] = {}
    item_key = lru_cache(maxsize=65536)(ruleset.taxonomy.item_key)
    for batch in _batches(kg_ids, BATCH):
        facts = load_facts(session, batch, windows, item_key)
        findings.extend(run_rules(ruleset, facts.values(), scope.periods, as_of, rule_ids))
        for kg in facts.values():
            kindergartens[kg.code] = kg.id
            children.update({(kg.code, c.ref): c.id for c in kg.children.values()})
    skipped = not_evaluated(ruleset, scope.periods, as_of, rule_ids)
    if store:  # computed first; written in one short transaction under the findings lock
        begin_write(session, FINDINGS)
    run = CheckRun(
        period_from=str(scope.period_from),
        period_to=str(scope.period_to),
        region_code=scope.region_code,
        kindergarten_code=scope.kindergarten_code,
        as_of=as_of.isoformat(),
        ruleset_hash=ruleset.hash,
        user_id=user.id if user else None,
        findings_count=len(findings),
        not_evaluated=[s.to_json() for s in skipped],
    )
    counts = StoreCounts()
    if store:
        session.add(run)
        session.flush()
        evaluated = Evaluated(
            kindergartens,
            children,
            [str(p) for p in evaluated_periods(scope.periods, as_of)],
            rule_ids,
            {(s.period, s.rule_id) for s in skipped if s.rule_id},
        )
        counts = store_findings(session, run, evaluated, as_of, findings)
        run.created, run.updated = counts.created, counts.updated
        run.resolved, run.reopened = counts.resolved, counts.reopened
    run.finished_at = utcnow()
    by_code = {
        kg.code: kg
        for batch in _batches(kg_ids, BATCH)
        for kg in session.scalars(select(Kindergarten).where(Kindergarten.id.in_(batch)))
    }
    return CheckOutcome(run, findings, by_code, counts, skipped)

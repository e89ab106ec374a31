"""Checking: load facts set-wise (one query per fact family), run the rules, store findings.

Findings replace the earlier findings of the same months and kindergartens; a finding that
persists keeps its row (and its workflow status), matched by fingerprint.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import Select, delete, insert, or_, select, update
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
from feecheck.engine.runner import run_rules
from feecheck.engine.specs import Ruleset
from feecheck.models import (
    Absence,
    Charge,
    CheckRun,
    Child,
    FeeStandard,
    FiledAccount,
    Finding,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
    User,
)
from feecheck.models.base import utcnow

# Records that reach back before the checked months: withdrawals are judged up to
# refund_due_days after leaving, meals one month later, funding against the year before.
LOOKBACK_DAYS = 200


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
    created: int
    updated: int
    removed: int


def _scoped_kindergartens(scope: Scope, user: User | None) -> Select:  # type: ignore[type-arg]
    statement = select(Kindergarten.id)
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
    session: Session, scope: Scope, as_of: date, user: User | None = None
) -> dict[int, KindergartenFacts]:
    """One query per fact family for the whole scope and range."""
    ids = _scoped_kindergartens(scope, user).scalar_subquery()
    first = scope.period_from.first_day - timedelta(days=LOOKBACK_DAYS)
    funding_first = scope.period_from.shift(-12).first_day
    last = scope.period_to.last_day
    facts: dict[int, KindergartenFacts] = {}
    for kg in session.scalars(select(Kindergarten).where(Kindergarten.id.in_(ids))):
        facts[kg.id] = KindergartenFacts(
            kg.id, kg.code, kg.name, kg.region_code, kg.category, kg.boarding, frozenset()
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
    for c in session.execute(select(Child).where(Child.kindergarten_id.in_(ids))).scalars():
        facts[c.kindergarten_id].children[c.id] = ChildFact(
            c.id,
            c.child_ref,
            c.birth_date,
            c.final_year,
            c.enrolled_on,
            c.left_on,
            c.boarding,
            c.hardship,
        )
    charge_window = (
        Charge.kindergarten_id.in_(ids),
        Charge.paid_on <= min(last, as_of),
        or_(Charge.paid_on >= first, Charge.period_end >= first),
    )
    charge_kg: dict[int, int] = {}
    for row in session.execute(select(Charge).where(*charge_window)).scalars():
        charge_kg[row.id] = row.kindergarten_id
        facts[row.kindergarten_id].charges.append(
            ChargeFact(
                row.id,
                row.receipt_no,
                row.child_id,
                row.fee_item,
                row.item_category,
                row.amount,
                row.period_start,
                row.period_end,
                row.paid_on,
                row.account,
                row.collector,
            )
        )
    charge_ids = select(Charge.id).where(*charge_window).scalar_subquery()
    for r in session.execute(
        select(Refund).where(Refund.charge_id.in_(charge_ids), Refund.refunded_on <= as_of)
    ).scalars():
        kg_facts = facts[charge_kg[r.charge_id]]
        kg_facts.refunds.setdefault(r.charge_id, []).append(
            RefundFact(r.charge_id, r.refund_no, r.amount, r.refunded_on)
        )
    for s in session.execute(
        select(FeeStandard).where(FeeStandard.kindergarten_id.in_(ids))
    ).scalars():
        facts[s.kindergarten_id].standards.append(
            StandardFact(
                s.id,
                s.fee_item,
                s.item_category,
                s.amount,
                s.unit,
                s.effective_from,
                s.effective_to,
            )
        )
    for f in session.execute(
        select(Funding).where(
            Funding.kindergarten_id.in_(ids),
            Funding.period_end >= funding_first,
            Funding.period_start <= last,
            Funding.received_on <= as_of,
        )
    ).scalars():
        facts[f.kindergarten_id].funding.append(
            FundingFact(
                f.reference, f.source, f.amount, f.period_start, f.period_end, f.received_on
            )
        )
    months = [str(p) for p in scope.period_from.shift(-1).until(scope.period_to)]
    for a in session.execute(
        select(Absence).where(Absence.kindergarten_id.in_(ids), Absence.month.in_(months))
    ).scalars():
        facts[a.kindergarten_id].absences[(a.child_id, a.month)] = AbsenceFact(
            a.child_id, a.month, a.days_absent, a.days_open
        )
    for i in session.execute(
        select(Inspection).where(
            Inspection.kindergarten_id.in_(ids),
            Inspection.inspected_on >= first,
            Inspection.inspected_on <= min(last, as_of),
        )
    ).scalars():
        facts[i.kindergarten_id].inspections.append(
            InspectionFact(i.inspected_on, i.inspector, i.fees_disclosed)
        )
    return facts


def ruleset_for(rules_dir: Path) -> Ruleset:
    return load_ruleset(rules_dir)


def run_check(
    session: Session,
    ruleset: Ruleset,
    scope: Scope,
    as_of: date,
    user: User | None = None,
    store: bool = True,
) -> CheckOutcome:
    """Check every rule for each month in the scope; store the findings (unless store=False)."""
    if scope.kindergarten_code and not session.scalar(
        select(Kindergarten.id).where(Kindergarten.code == scope.kindergarten_code)
    ):
        raise CheckError(f"unknown kindergarten {scope.kindergarten_code}")
    facts = load_facts(session, scope, as_of, user)
    findings = run_rules(ruleset, facts.values(), scope.periods, as_of)
    run = CheckRun(
        period_from=str(scope.period_from),
        period_to=str(scope.period_to),
        region_code=scope.region_code,
        kindergarten_code=scope.kindergarten_code,
        as_of=as_of.isoformat(),
        ruleset_hash=ruleset.hash,
        user_id=user.id if user else None,
        findings_count=len(findings),
    )
    session.add(run)
    session.flush()
    created = updated = removed = 0
    if store:
        created, updated, removed = _store(session, run, facts, scope, findings)
    run.finished_at = utcnow()
    kindergartens = {
        kg.code: kg
        for kg in session.scalars(select(Kindergarten).where(Kindergarten.id.in_(list(facts))))
    }
    return CheckOutcome(run, findings, kindergartens, created, updated, removed)


def _store(
    session: Session,
    run: CheckRun,
    facts: dict[int, KindergartenFacts],
    scope: Scope,
    findings: list[FindingResult],
) -> tuple[int, int, int]:
    kg_ids = {kg.code: kg.id for kg in facts.values()}
    child_ids = {(kg.code, c.ref): c.id for kg in facts.values() for c in kg.children.values()}
    periods = [str(p) for p in scope.periods]
    existing: dict[str, int] = {
        fingerprint: id_
        for fingerprint, id_ in session.execute(
            select(Finding.fingerprint, Finding.id).where(
                Finding.kindergarten_id.in_(list(kg_ids.values())), Finding.period.in_(periods)
            )
        )
    }
    now = utcnow()
    rows = {}
    for f in findings:
        rows[f.fingerprint] = {
            "fingerprint": f.fingerprint,
            "rule_id": f.rule.id,
            "severity": f.severity,
            "period": f.period,
            "kindergarten_id": kg_ids[f.kindergarten_code],
            "child_id": child_ids.get((f.kindergarten_code, f.child_ref)) if f.child_ref else None,
            "citation": f.citation,
            "message_zh": f.message_zh,
            "message_en": f.message_en,
            "evidence": f.evidence,
            "parameters": f.parameters_detail(),
            "explanation": f.explanation,
            "amount_due": f.amount_due,
            "ruleset_hash": f.ruleset_hash,
            "last_seen_at": now,
            "check_run_id": run.id,
        }
    new = [row for key, row in rows.items() if key not in existing]
    if new:
        session.execute(
            insert(Finding), [{**row, "first_seen_at": now, "status": "open"} for row in new]
        )
    kept = [row for key, row in rows.items() if key in existing]
    if kept:  # ORM bulk UPDATE by primary key: one executemany, status and first_seen kept
        session.execute(
            update(Finding), [{**row, "id": existing[row["fingerprint"]]} for row in kept]
        )
    gone = [id_ for key, id_ in existing.items() if key not in rows]
    if gone:
        session.execute(delete(Finding).where(Finding.id.in_(gone)))
    return len(new), len(kept), len(gone)

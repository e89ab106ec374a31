"""Findings as inspectors work them: lists with filters and counts, a finding's page (explanation,
history, records involved), and the workflow open → acknowledged → rectified | dismissed.

Who may move a finding, and from where (TRANSITIONS):
- acknowledge: open → acknowledged (anyone who works the region);
- rectify: open or acknowledged → rectified (the kindergarten corrected it);
- dismiss: open or acknowledged → dismissed, by a supervisor or an admin (a supervisor's decision:
  a check never reopens a dismissed finding);
- reopen: acknowledged, rectified or dismissed → open, by a supervisor or an admin.
`resolved` is a check's word: a check that no longer finds it resolves it (services/findings.py).
Every move has a note, a user and a time (a FindingEvent, append-only). A move against a finding
that someone else moved meanwhile is refused (Conflict), nothing is overwritten.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session, joinedload

from feecheck.domain.categories import FindingStatus, Role
from feecheck.domain.periods import Period
from feecheck.domain.reasons import Refused
from feecheck.domain.regions import scope_prefix, validate_region_code
from feecheck.models import (
    Absence,
    Charge,
    CheckRun,
    Child,
    FeeStandard,
    Finding,
    FindingEvent,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
    User,
)
from feecheck.models.base import utcnow
from feecheck.services import ledger
from feecheck.services.locks import FINDINGS, begin_write
from feecheck.services.pagination import Page, paginate_ids
from feecheck.services.scope import SUPERVISING, Forbidden, NotFound, require_region, visible

OPEN = FindingStatus.OPEN.value
ACKNOWLEDGED = FindingStatus.ACKNOWLEDGED.value
RECTIFIED = FindingStatus.RECTIFIED.value
DISMISSED = FindingStatus.DISMISSED.value
RESOLVED = FindingStatus.RESOLVED.value
LIVE = (OPEN, ACKNOWLEDGED)
EVERYONE = frozenset(r.value for r in Role)
NOTE_LIMIT = 2000


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str
    roles: frozenset[str]


TRANSITIONS = {
    t.action: t
    for t in (
        Transition("acknowledge", (OPEN,), ACKNOWLEDGED, EVERYONE),
        Transition("rectify", (OPEN, ACKNOWLEDGED), RECTIFIED, EVERYONE),
        Transition("dismiss", (OPEN, ACKNOWLEDGED), DISMISSED, SUPERVISING),
        Transition("reopen", (ACKNOWLEDGED, RECTIFIED, DISMISSED), OPEN, SUPERVISING),
    )
}


class Conflict(Refused):
    """The finding moved since the page was shown."""


class MoveRefused(Refused):
    """The move is not allowed from the finding's state, or its note is missing."""


@dataclass(frozen=True)
class FindingFilters:
    region_code: str | None = None
    kindergarten_id: int | None = None
    rule_id: str | None = None
    severity: str | None = None
    period_from: str | None = None
    period_to: str | None = None
    status: str | None = "live"  # a status, "live" (open or acknowledged), or None for all
    resolved_by: int | None = None  # the check run that resolved them


@dataclass(frozen=True)
class Counts:
    by_status: dict[str, int]
    by_severity: dict[str, int]
    by_rule: list[tuple[str, int]]
    amount_due: Any  # Decimal: refunds still owed to families for the filtered findings (ledger)


@dataclass
class FindingsPage:
    page: Page[Finding]
    counts: Counts


def actions_for(user: User, finding: Finding) -> list[str]:
    """The moves this user may make on this finding now."""
    return [
        t.action
        for t in TRANSITIONS.values()
        if finding.status in t.sources and user.role in t.roles
    ]


def get_finding(session: Session, user: User, finding_id: int) -> Finding:
    finding = session.scalar(
        select(Finding)
        .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
        .where(Finding.id == finding_id, visible(user))
        .options(joinedload(Finding.kindergarten), joinedload(Finding.child))
    )
    if finding is None:
        raise NotFound(finding_id)
    return finding


def _filtered(user: User, filters: FindingFilters, *, status: bool = True) -> Select[Any]:
    statement = (
        select(Finding)
        .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
        .where(visible(user))
    )
    if filters.region_code:
        region = validate_region_code(filters.region_code)
        require_region(user, region)
        statement = statement.where(Kindergarten.region_code.startswith(scope_prefix(region)))
    if filters.kindergarten_id is not None:
        statement = statement.where(Finding.kindergarten_id == filters.kindergarten_id)
    if filters.rule_id:
        statement = statement.where(Finding.rule_id == filters.rule_id)
    if filters.resolved_by is not None:
        statement = statement.where(Finding.resolved_by_run_id == filters.resolved_by)
    if filters.severity:
        statement = statement.where(Finding.severity == filters.severity)
    if filters.period_from:
        statement = statement.where(Finding.period >= str(Period.parse(filters.period_from)))
    if filters.period_to:
        statement = statement.where(Finding.period <= str(Period.parse(filters.period_to)))
    if status and filters.status == "live":
        statement = statement.where(Finding.status.in_(LIVE))
    elif status and filters.status:
        statement = statement.where(Finding.status == filters.status)
    return statement


def list_findings(
    session: Session,
    user: User,
    filters: FindingFilters,
    page: int = 1,
    per_page: int = 50,
    as_of: date | None = None,
) -> FindingsPage:
    """A page of findings in the user's region, and the counts under the same filters.

    A fixed number of queries however many findings match: one GROUP BY gives the counts by
    status, severity and rule (and so the page's total); the page is ordered and cut on the ids
    alone, and only its rows are loaded with their kindergarten and child.
    """
    found_counts = counts(session, user, filters, as_of)
    ordered = (
        _filtered(user, filters)
        .with_only_columns(Finding.id)
        .order_by(Finding.period.desc(), Kindergarten.code, Finding.rule_id, Finding.id)
    )

    def load(ids: list[int]) -> dict[int, Finding]:
        statement = (
            select(Finding)
            .where(Finding.id.in_(ids))
            .options(joinedload(Finding.kindergarten), joinedload(Finding.child))
        )
        return {f.id: f for f in session.scalars(statement)}

    total = sum(found_counts.by_severity.values())
    return FindingsPage(paginate_ids(session, ordered, load, total, page, per_page), found_counts)


def counts(
    session: Session, user: User, filters: FindingFilters, as_of: date | None = None
) -> Counts:
    by_status: dict[str, int] = {}
    by_severity: dict[str, int] = {}
    by_rule: dict[str, int] = {}
    every_status = _filtered(user, filters, status=False).with_only_columns(
        Finding.status, Finding.severity, Finding.rule_id, func.count()
    )
    for status, severity, rule_id, n in session.execute(
        every_status.group_by(Finding.status, Finding.severity, Finding.rule_id)
    ):
        by_status[status] = by_status.get(status, 0) + n
        if (
            filters.status is None
            or status == filters.status
            or (filters.status == "live" and status in LIVE)
        ):
            by_severity[severity] = by_severity.get(severity, 0) + n
            by_rule[rule_id] = by_rule.get(rule_id, 0) + n
    owed = ledger.owed(session, _filtered(user, filters), as_of or date.today())
    due = sum((t.outstanding for t in owed.values()), Decimal("0.00"))
    rules = sorted(by_rule.items(), key=lambda item: (-item[1], item[0]))
    return Counts(by_status, by_severity, rules, due)


def move(
    session: Session,
    user: User,
    finding_id: int,
    action: str,
    note: str,
    expected_status: str | None = None,
) -> Finding:
    """Move one finding (TRANSITIONS); the caller commits."""
    finding = get_finding(session, user, finding_id)
    begin_write(session, FINDINGS)
    _move(session, user, [finding], action, note, expected_status)
    session.refresh(finding)
    return finding


def bulk(
    session: Session, user: User, finding_ids: Iterable[int], action: str, note: str
) -> tuple[int, int]:
    """Move many findings at once (bulk acknowledge from the list); returns (moved, skipped):
    findings not in a state the action moves from, or outside the region, are skipped."""
    ids = sorted({int(i) for i in finding_ids})[:1000]
    begin_write(session, FINDINGS)
    findings = list(
        session.scalars(
            select(Finding)
            .join(Kindergarten, Kindergarten.id == Finding.kindergarten_id)
            .where(Finding.id.in_(ids), visible(user))
        )
    )
    transition = _transition(user, action, note)
    movable = [f for f in findings if f.status in transition.sources]
    _move(session, user, movable, action, note, None)
    return len(movable), len(ids) - len(movable)


def _transition(user: User, action: str, note: str) -> Transition:
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise MoveRefused(f"unknown action {action!r}", f"未知操作：{action}")
    if user.role not in transition.roles:
        raise Forbidden(action)
    if not note.strip():
        raise MoveRefused(
            "write a note: every move of a finding says why"
            + (" (dismissing needs the reason)" if action == "dismiss" else ""),
            "请填写说明：检查发现的每次状态变更都需要说明理由"
            + ("（驳回须写明理由）" if action == "dismiss" else ""),
        )
    if len(note) > NOTE_LIMIT:
        raise MoveRefused(
            f"the note is longer than {NOTE_LIMIT} characters", f"说明超过 {NOTE_LIMIT} 个字符"
        )
    return transition


def _move(
    session: Session,
    user: User,
    findings: Sequence[Finding],
    action: str,
    note: str,
    expected_status: str | None,
) -> None:
    transition = _transition(user, action, note)
    note = note.strip()
    now = utcnow()
    for finding in findings:
        current = finding.status
        if expected_status is not None and current != expected_status:
            raise Conflict(
                f"the finding was moved to {current} by someone else after you opened it: "
                "nothing was changed",
                f"您打开后，该检查发现已被他人改为“{FindingStatus(current).label_zh}”：未作更改",
            )
        if current not in transition.sources:
            raise MoveRefused(
                f"a finding that is {current} cannot be moved by {action}",
                f"状态为“{FindingStatus(current).label_zh}”的检查发现不能执行此操作",
            )
        moved = session.execute(
            update(Finding)
            .where(Finding.id == finding.id, Finding.status == current)
            .values(status=transition.target, status_note=note)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(
                "the finding was moved by someone else meanwhile: nothing was changed",
                "该检查发现刚被他人更改：未作更改",
            )
        session.add(
            FindingEvent(
                finding_id=finding.id,
                at=now,
                from_status=current,
                to_status=transition.target,
                user_id=user.id,
                actor=user.username,
                note=note,
            )
        )
    session.flush()


# --- a finding's page ---------------------------------------------------------------------


@dataclass(frozen=True)
class Involved:
    """A record a finding rests on, with its id when it still exists (for a link)."""

    type_name: str
    label: str
    record_id: int | None


@dataclass
class FindingDetail:
    finding: Finding
    events: list[FindingEvent]
    resolved_by: CheckRun | None
    last_run: CheckRun | None
    records: list[Involved] = field(default_factory=list)


def detail(session: Session, user: User, finding_id: int) -> FindingDetail:
    finding = get_finding(session, user, finding_id)
    events = list(
        session.scalars(
            select(FindingEvent)
            .where(FindingEvent.finding_id == finding.id)
            .order_by(FindingEvent.id)
        )
    )
    resolved_by = (
        session.get(CheckRun, finding.resolved_by_run_id) if finding.resolved_by_run_id else None
    )
    last_run = session.get(CheckRun, finding.check_run_id) if finding.check_run_id else None
    return FindingDetail(finding, events, resolved_by, last_run, involved(session, finding))


def involved(session: Session, finding: Finding) -> list[Involved]:
    """The records named in a finding's evidence (and its child), found again by their keys."""
    evidence: dict[str, Any] = finding.evidence or {}
    kg = finding.kindergarten_id
    records: list[Involved] = []
    if finding.child is not None:
        records.append(Involved("children", finding.child.child_ref, finding.child.id))

    def lookup(type_name: str, column: Any, model: Any, keys: list[str]) -> None:
        if not keys:
            return
        found = dict(
            session.execute(
                select(column, model.id).where(model.kindergarten_id == kg, column.in_(keys))
            ).all()
        )
        records.extend(Involved(type_name, key, found.get(key)) for key in keys)

    lookup("charges", Charge.receipt_no, Charge, list(evidence.get("charges") or []))
    lookup("refunds", Refund.refund_no, Refund, list(evidence.get("refunds") or []))
    lookup("funding", Funding.reference, Funding, list(evidence.get("funding") or []))
    for key in evidence.get("standards") or []:
        item, _, start = str(key).rpartition("@")
        found_id = None
        with suppress(ValueError):  # evidence written by hand or by an older version
            found_id = session.scalar(
                select(FeeStandard.id).where(
                    FeeStandard.kindergarten_id == kg,
                    FeeStandard.fee_item == item,
                    FeeStandard.effective_from == date.fromisoformat(start),
                )
            )
        records.append(Involved("fee-standards", str(key), found_id))
    for key in evidence.get("absences") or []:
        ref, _, month = str(key).rpartition("@")
        found_id = session.scalar(
            select(Absence.id)
            .join(Child, Child.id == Absence.child_id)
            .where(Absence.kindergarten_id == kg, Child.child_ref == ref, Absence.month == month)
        )
        records.append(Involved("absences", str(key), found_id))
    for key in evidence.get("inspections") or []:
        found_id = None
        with suppress(ValueError):
            found_id = session.scalar(
                select(Inspection.id).where(
                    Inspection.kindergarten_id == kg,
                    Inspection.inspected_on == date.fromisoformat(str(key)),
                )
            )
        records.append(Involved("inspections", str(key), found_id))
    return records

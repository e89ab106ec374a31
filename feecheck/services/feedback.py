"""Instant rule feedback: after a record is saved or deleted, check the months it can affect for
its kindergarten (through services.checking, the same check as `feecheck check`) and say which
findings concern it.

Which months a record can affect follows engine/windows.py's rules, seen from the record:
- a charge: the month it was paid, the months it covers and the two after (meal settlement is
  judged the month after; a refund on leaving falls due up to a month later);
- a refund: its charge's months and the month it was made;
- a fee standard: the months it is in force;
- funding: the months it covers, the month it was received, and the same months a year later
  (FUNDING-LOWERED compares with them);
- an absence: its month and the two after; an inspection: its month;
- a child: from enrolment to two months after leaving.
The span is cut to the RECHECK_MONTHS months up to the as-of date (older months are re-checked
by a full `feecheck check` of the range).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.domain.periods import Period
from feecheck.domain.reasons import Refused
from feecheck.engine.specs import Ruleset
from feecheck.models import Charge, CheckRun, Finding, Kindergarten, User
from feecheck.services.checking import Scope, run_check
from feecheck.services.editing import RecordRow

RECHECK_MONTHS = 24
LIVE = ("open", "acknowledged")


@dataclass
class Feedback:
    """What the check after a save found about the record."""

    period_from: Period | None = None
    period_to: Period | None = None
    run_id: int | None = None
    concerning: list[Finding] = field(default_factory=list)  # open findings about the record
    resolved: list[Finding] = field(default_factory=list)  # findings this check resolved
    other_open: int = 0  # other open findings of the kindergarten in those months
    failed: str | None = None  # why the check could not run (busy), bilingual
    not_rechecked: tuple[str, str] | None = None  # (first, last) months too old to re-check

    @property
    def checked(self) -> bool:
        return self.run_id is not None


def months_of(session: Session, row: RecordRow) -> set[Period]:
    """The months a record can affect (see the module docstring)."""
    v = row.values
    name = row.record_type.name
    months: set[Period] = set()
    if name == "charges":
        months |= _span(v["period_start"], v["period_end"], after=2)
        months.add(Period.of(v["paid_on"]))
    elif name == "refunds":
        charge = session.execute(
            select(Charge.period_start, Charge.period_end, Charge.paid_on).where(
                Charge.kindergarten_id == row.kindergarten_id,
                Charge.receipt_no == v["receipt_no"],
            )
        ).first()
        if charge is not None:
            months |= _span(charge.period_start, charge.period_end, after=2)
            months.add(Period.of(charge.paid_on))
        months.add(Period.of(v["refunded_on"]))
    elif name == "fee-standards":
        months |= _span(v["effective_from"], v["effective_to"] or date.max, after=0)
    elif name == "funding":
        covered = _span(v["period_start"], v["period_end"], after=0) | {Period.of(v["received_on"])}
        months |= covered | {p.shift(12) for p in covered}
    elif name == "absences":
        month = Period.parse(v["month"])
        months |= {month, month.shift(1), month.shift(2)}
    elif name == "inspections":
        months.add(Period.of(v["inspected_on"]))
    elif name == "children":
        months |= _span(v["enrolled_on"], v["left_on"] or date.max, after=2)
    return months


def recheck(
    session: Session,
    user: User,
    ruleset: Ruleset,
    rows: Iterable[RecordRow | None],
    as_of: date,
) -> Feedback:
    """Check the months the records (before and after a save) can affect, for their kindergarten,
    and store the findings; returns those that concern the record saved (the last of `rows`)."""
    present = [r for r in rows if r is not None]
    if not present:
        return Feedback()
    row = present[-1]
    months: set[Period] = set()
    for r in present:
        months |= months_of(session, r)
    last = Period.of(as_of)
    cutoff = last.shift(-RECHECK_MONTHS)
    older = sorted(m for m in months if m <= cutoff)
    too_old = (str(older[0]), str(older[-1])) if older else None
    months = {m for m in months if cutoff < m <= last}
    if not months:
        return Feedback(not_rechecked=too_old)
    code = session.scalar(select(Kindergarten.code).where(Kindergarten.id == row.kindergarten_id))
    first, final = min(months), max(months)
    try:
        outcome = run_check(
            session, ruleset, Scope(first, final, kindergarten_code=code), as_of, user=user
        )
    except Refused as exc:  # another check holds the findings: the record is saved anyway
        session.rollback()
        return Feedback(first, final, failed=f"{exc.zh} / {exc.en}")
    session.commit()
    feedback = _feedback(session, row, first, final, outcome.run.id)
    feedback.not_rechecked = too_old
    return feedback


def for_run(session: Session, user: User, row: RecordRow, run_id: int) -> Feedback | None:
    """What a check run (the one after a save) found about the record; None when the run is not
    a check of the record's kindergarten."""
    run = session.get(CheckRun, run_id)
    code = session.scalar(select(Kindergarten.code).where(Kindergarten.id == row.kindergarten_id))
    if run is None or run.kindergarten_code != code:
        return None
    del user  # the record was read in the user's region already
    return _feedback(
        session, row, Period.parse(run.period_from), Period.parse(run.period_to), run.id
    )


def _feedback(
    session: Session, row: RecordRow, first: Period, final: Period, run_id: int
) -> Feedback:
    periods = [str(p) for p in first.until(final)]
    findings = list(
        session.scalars(
            select(Finding)
            .where(Finding.kindergarten_id == row.kindergarten_id, Finding.period.in_(periods))
            .order_by(Finding.period, Finding.rule_id, Finding.id)
        )
    )
    about = [f for f in findings if concerns(f, row)]
    return Feedback(
        first,
        final,
        run_id,
        concerning=[f for f in about if f.status in LIVE],
        resolved=[f for f in about if f.resolved_by_run_id == run_id],
        other_open=sum(1 for f in findings if f.status in LIVE and f not in about),
    )


def concerns(finding: Finding, row: RecordRow) -> bool:
    """Whether a finding rests on a record (its evidence names it, or it is about the child)."""
    evidence: dict[str, Any] = finding.evidence or {}
    v = row.values
    name = row.record_type.name

    def listed(key: str, value: str) -> bool:
        return value in (evidence.get(key) or [])

    if name == "charges":
        return listed("charges", v["receipt_no"])
    if name == "refunds":
        return listed("refunds", v["refund_no"]) or listed("charges", v["receipt_no"])
    if name == "funding":
        return listed("funding", v["reference"])
    if name == "fee-standards":
        return listed("standards", f"{v['fee_item']}@{v['effective_from'].isoformat()}")
    if name == "absences":
        return listed("absences", f"{v['child_ref']}@{v['month']}")
    if name == "inspections":
        return listed("inspections", v["inspected_on"].isoformat())
    if name == "children":
        return finding.child_id == row.id
    return name == "kindergartens"


def _span(start: date, end: date, after: int) -> set[Period]:
    """The months from start's to end's, and `after` more; an open end stops at 2099 (dates are
    kept within 2000..2099, so a span is at most 1,200 months before the as-of cut)."""
    first = Period.of(start)
    last = Period.of(min(end, date(2099, 12, 31))).shift(after)
    return set(first.until(last)) if first <= last else {first}

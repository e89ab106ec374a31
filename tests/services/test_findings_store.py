"""How a check moves stored findings: never deleted, resolved only inside what the run judged,
reopened when found again, with the history of every move (issue 11)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.engine.loader import load_ruleset
from feecheck.models import Charge, Finding, FindingEvent
from feecheck.services.checking import Scope, run_check
from feecheck.services.findings import history
from tests.factories import make_charge, make_child, make_kindergarten, make_user

RULESET = load_ruleset(ROOT / "rules")
AS_OF = date(2026, 6, 30)
SEPT, OCT = Period(2025, 9), Period(2025, 10)


def _prohibited(session: Session, paid_on: date, **kg_values) -> tuple[Charge, str]:  # type: ignore[no-untyped-def]
    """A kindergarten whose only finding is a prohibited item (no funding rule applies to a
    non-profit private kindergarten)."""
    kg = make_kindergarten(session, **{"category": "nonprofit_private", **kg_values})
    child = make_child(session, kg)
    charge = make_charge(
        session,
        child,
        fee_item="舞蹈兴趣班费",
        item_category="special_class",
        amount=Decimal("600.00"),
        period_start=paid_on,
        period_end=paid_on,
        paid_on=paid_on,
    )
    return charge, kg.code


def _finding(session: Session, code: str, rule: str = "FEE-PROHIBITED-ITEM") -> Finding:
    return session.scalars(
        select(Finding)
        .join(Finding.kindergarten)
        .where(Finding.rule_id == rule, Finding.kindergarten.has(code=code))
    ).one()


def _check(session: Session, first: Period, last: Period, code: str | None = None, **kw):  # type: ignore[no-untyped-def]
    return run_check(
        session, RULESET, Scope(first, last, kindergarten_code=code), kw.pop("as_of", AS_OF), **kw
    )


def test_a_corrected_record_resolves_its_finding_and_keeps_its_history(session: Session) -> None:
    charge, code = _prohibited(session, date(2025, 9, 10))
    first = _check(session, SEPT, SEPT, code)
    assert first.created == 1
    finding = _finding(session, code)
    finding.status = "acknowledged"  # the workflow moved it (issue 13 adds the pages)
    session.flush()

    charge.fee_item, charge.item_category = "园服费", "agency_uniform"  # the receipt was wrong
    session.flush()
    again = _check(session, SEPT, SEPT, code)
    session.expire_all()
    finding = _finding(session, code)
    assert (again.resolved, finding.status) == (1, "resolved")
    assert finding.resolved_by_run_id == again.run.id and finding.resolved_at is not None
    moves = [(e.from_status, e.to_status, e.check_run_id) for e in history(session, finding.id)]
    assert moves == [(None, "open", first.run.id), ("acknowledged", "resolved", again.run.id)]

    charge.fee_item, charge.item_category = "舞蹈兴趣班费", "special_class"  # and back again
    session.flush()
    third = _check(session, SEPT, SEPT, code)
    session.expire_all()
    finding = _finding(session, code)
    assert (third.reopened, finding.status, finding.resolved_by_run_id) == (1, "open", None)
    assert [e.to_status for e in history(session, finding.id)] == ["open", "resolved", "open"]
    assert session.scalar(select(func.count()).select_from(Finding)) == 1


def test_a_narrower_run_leaves_other_months_and_kindergartens_alone(session: Session) -> None:
    september, code = _prohibited(session, date(2025, 9, 10))
    _other, other_code = _prohibited(session, date(2025, 10, 3))
    make_charge(
        session,
        september.child,
        fee_item="英语班",
        item_category="special_class",
        paid_on=date(2025, 10, 20),
        period_start=date(2025, 10, 20),
        period_end=date(2025, 10, 20),
    )
    _check(session, SEPT, OCT)
    assert session.scalar(select(func.count()).select_from(Finding)) == 3
    # only October of the first kindergarten: its September and the other kindergarten stay
    outcome = _check(session, OCT, OCT, code)
    assert (outcome.created, outcome.updated, outcome.resolved) == (0, 1, 0)
    assert set(session.scalars(select(Finding.status))) == {"open"}
    # and a run that judges the other kindergarten in September (nothing there) resolves nothing
    assert _check(session, SEPT, SEPT, other_code).resolved == 0
    assert _finding(session, other_code).period == "2025-10"


def test_months_after_as_of_are_not_evaluated_and_not_touched(session: Session) -> None:
    charge, code = _prohibited(session, date(2025, 10, 3))
    _check(session, OCT, OCT, code)
    charge.fee_item, charge.item_category = "园服费", "agency_uniform"
    session.flush()
    outcome = _check(session, SEPT, OCT, code, as_of=date(2025, 9, 30))
    assert [(n.period, n.rule_id) for n in outcome.not_evaluated] == [("2025-10", None)]
    assert _finding(session, code).status == "open"


def test_a_run_that_knows_less_does_not_resolve_what_a_later_as_of_found(
    session: Session,
) -> None:
    """A refund due by 2025-10-30 and never paid: found as on 2025-12-31; a run as on
    2025-10-31 (same month, fewer facts known) must not clear it, nor overwrite its figures."""
    kg = make_kindergarten(session, category="nonprofit_private")
    child = make_child(session, kg, left_on=date(2025, 9, 30))
    make_charge(
        session,
        child,
        amount=Decimal("4000.00"),
        period_start=date(2025, 9, 1),
        period_end=date(2026, 1, 31),
        paid_on=date(2025, 9, 1),
    )
    _check(session, OCT, OCT, kg.code, as_of=date(2025, 12, 31))
    found = _finding(session, kg.code, "REFUND-ON-WITHDRAWAL")
    figures = dict(found.evidence)
    outcome = _check(session, OCT, OCT, kg.code, as_of=date(2025, 10, 10))  # before due_by
    session.expire_all()
    found = _finding(session, kg.code, "REFUND-ON-WITHDRAWAL")
    assert outcome.resolved == 0 and found.status == "open" and found.evidence == figures
    assert found.as_of == date(2025, 12, 31)


def test_dismissed_findings_stay_dismissed(session: Session) -> None:
    charge, code = _prohibited(session, date(2025, 9, 10))
    _check(session, SEPT, SEPT, code)
    session.execute(update(Finding).values(status="dismissed"))
    charge.fee_item, charge.item_category = "园服费", "agency_uniform"
    session.flush()
    assert _check(session, SEPT, SEPT, code).resolved == 0
    session.expire_all()
    assert _finding(session, code).status == "dismissed"


def test_a_check_by_an_inspector_covers_only_their_region(session: Session) -> None:
    _, haidian = _prohibited(session, date(2025, 9, 10), region_code="110108")
    _, xuhui = _prohibited(session, date(2025, 9, 11), region_code="310104")
    _check(session, SEPT, SEPT)  # the whole country: both found
    inspector = make_user(session, "haidian-inspector", region_code="110108")
    session.execute(update(Charge).values(fee_item="园服费", item_category="agency_uniform"))
    outcome = _check(session, SEPT, SEPT, user=inspector)
    assert set(outcome.kindergartens) == {haidian}
    session.expire_all()
    assert _finding(session, haidian).status == "resolved"
    assert _finding(session, xuhui).status == "open"  # outside the inspector's region
    events = session.scalars(select(FindingEvent.to_status).order_by(FindingEvent.id)).all()
    assert events == ["open", "open", "resolved"]

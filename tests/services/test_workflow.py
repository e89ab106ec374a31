"""Findings as inspectors work them (services.workflow): moves, roles, notes, conflicts, bulk,
filters and counts, the records a finding rests on, and a check that resolves one."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.models import Charge, Finding, FindingEvent
from feecheck.services import workflow
from feecheck.services.checking import Scope, run_check
from feecheck.services.rules import cached
from feecheck.services.scope import Forbidden, NotFound
from tests.factories import make_charge, make_child, make_kindergarten, make_user

AS_OF = date(2026, 1, 31)


@pytest.fixture
def ruleset():  # type: ignore[no-untyped-def]
    return cached(ROOT / "rules")


@pytest.fixture
def found(session: Session, ruleset):  # type: ignore[no-untyped-def]
    """Two prohibited-item charges in Haidian, one in Xuhui, checked."""
    hd = make_kindergarten(session, code="K-HD", region_code="110108")
    xh = make_kindergarten(session, code="K-XH", region_code="310104")
    child = make_child(session, hd, child_ref="C1")
    for receipt in ("R1", "R2"):
        make_charge(
            session, child, receipt_no=receipt, fee_item="赞助费", item_category="sponsorship"
        )
    make_charge(
        session,
        make_child(session, xh, child_ref="C9"),
        receipt_no="R9",
        fee_item="赞助费",
        item_category="sponsorship",
    )
    run_check(session, ruleset, Scope(Period(2025, 9), Period(2025, 9)), AS_OF)
    users = {
        "inspector": make_user(session, "insp", role="inspector", region_code="110108"),
        "supervisor": make_user(session, "sup", role="supervisor", region_code="110108"),
        "other": make_user(session, "xuhui", role="inspector", region_code="310104"),
    }
    return hd, xh, users


def _prohibited(session: Session, receipt: str) -> Finding:
    return next(
        f
        for f in session.scalars(select(Finding).where(Finding.rule_id == "FEE-PROHIBITED-ITEM"))
        if receipt in f.evidence["charges"]
    )


def test_acknowledge_then_rectify_each_with_note_user_and_time(session, found) -> None:  # type: ignore[no-untyped-def]
    _hd, _xh, users = found
    finding = _prohibited(session, "R1")
    workflow.move(
        session, users["inspector"], finding.id, "acknowledge", "seen at the visit", "open"
    )
    workflow.move(session, users["inspector"], finding.id, "rectify", "refund receipt shown")
    events = session.scalars(
        select(FindingEvent).where(FindingEvent.finding_id == finding.id).order_by(FindingEvent.id)
    ).all()
    assert [(e.from_status, e.to_status, e.actor, e.note) for e in events[1:]] == [
        ("open", "acknowledged", "insp", "seen at the visit"),
        ("acknowledged", "rectified", "insp", "refund receipt shown"),
    ]
    assert all(e.at is not None for e in events)
    assert session.get(Finding, finding.id).status == "rectified"


def test_every_move_needs_a_note(session, found) -> None:  # type: ignore[no-untyped-def]
    _hd, _xh, users = found
    finding = _prohibited(session, "R1")
    with pytest.raises(workflow.MoveRefused) as refused:
        workflow.move(session, users["inspector"], finding.id, "acknowledge", "   ")
    assert "write a note" in refused.value.en and "请填写说明" in refused.value.zh


def test_dismissing_needs_a_supervisor_and_a_reason(session, found) -> None:  # type: ignore[no-untyped-def]
    _hd, _xh, users = found
    finding = _prohibited(session, "R1")
    with pytest.raises(Forbidden):
        workflow.move(session, users["inspector"], finding.id, "dismiss", "not a fee")
    with pytest.raises(workflow.MoveRefused) as refused:
        workflow.move(session, users["supervisor"], finding.id, "dismiss", "")
    assert "dismissing needs the reason" in refused.value.en
    workflow.move(session, users["supervisor"], finding.id, "dismiss", "a donation, not a fee")
    assert session.get(Finding, finding.id).status == "dismissed"
    assert workflow.actions_for(users["inspector"], session.get(Finding, finding.id)) == []
    assert workflow.actions_for(users["supervisor"], session.get(Finding, finding.id)) == ["reopen"]


def test_a_move_against_a_finding_moved_meanwhile_is_refused(session, found) -> None:  # type: ignore[no-untyped-def]
    _hd, _xh, users = found
    finding = _prohibited(session, "R1")
    workflow.move(session, users["supervisor"], finding.id, "acknowledge", "first")
    with pytest.raises(workflow.Conflict):
        workflow.move(session, users["inspector"], finding.id, "rectify", "second", "open")
    with pytest.raises(workflow.MoveRefused):
        workflow.move(session, users["inspector"], finding.id, "acknowledge", "again")


def test_another_regions_finding_is_not_found(session, found) -> None:  # type: ignore[no-untyped-def]
    _hd, _xh, users = found
    theirs = _prohibited(session, "R9")
    with pytest.raises(NotFound):
        workflow.get_finding(session, users["inspector"], theirs.id)
    with pytest.raises(NotFound):
        workflow.move(session, users["inspector"], theirs.id, "acknowledge", "mine?")
    moved, skipped = workflow.bulk(session, users["inspector"], [theirs.id], "acknowledge", "x")
    assert (moved, skipped) == (0, 1)
    assert session.get(Finding, theirs.id).status == "open"


def test_bulk_acknowledge_moves_the_open_ones_and_skips_the_rest(session, found) -> None:  # type: ignore[no-untyped-def]
    _hd, _xh, users = found
    first, second = _prohibited(session, "R1"), _prohibited(session, "R2")
    workflow.move(session, users["inspector"], second.id, "rectify", "refunded")
    moved, skipped = workflow.bulk(
        session, users["inspector"], [first.id, second.id], "acknowledge", "visit of 2025-10-02"
    )
    assert (moved, skipped) == (1, 1)
    assert session.get(Finding, first.id).status == "acknowledged"
    assert session.get(Finding, second.id).status == "rectified"


def test_filters_and_counts_stay_in_the_region(session, found) -> None:  # type: ignore[no-untyped-def]
    hd, _xh, users = found
    everything = workflow.FindingFilters(status=None)
    listed = workflow.list_findings(session, users["inspector"], everything)
    assert {f.kindergarten_id for f in listed.page.items} == {hd.id}
    prohibited = workflow.FindingFilters(rule_id="FEE-PROHIBITED-ITEM", status=None)
    counts = workflow.list_findings(session, users["inspector"], prohibited).counts
    assert counts.by_status == {"open": 2}
    assert counts.by_rule == [("FEE-PROHIBITED-ITEM", 2)]
    assert str(counts.amount_due) == "1600.00"
    workflow.move(session, users["inspector"], _prohibited(session, "R1").id, "acknowledge", "x")
    live = workflow.FindingFilters(rule_id="FEE-PROHIBITED-ITEM", status="open")
    assert workflow.list_findings(session, users["inspector"], live).page.total == 1
    with pytest.raises(NotFound):
        workflow.list_findings(session, users["inspector"], workflow.FindingFilters("310104"))


def test_a_finding_names_its_records_and_the_run_that_resolved_it(session, found, ruleset) -> None:  # type: ignore[no-untyped-def]
    _hd, _xh, users = found
    finding = _prohibited(session, "R1")
    detail = workflow.detail(session, users["inspector"], finding.id)
    kinds = {(r.type_name, r.label) for r in detail.records if r.record_id}
    assert {("children", "C1"), ("charges", "R1")} <= kinds
    charge = session.scalar(select(Charge).where(Charge.receipt_no == "R1"))
    charge.fee_item, charge.item_category = "保教费", "care_education"
    session.flush()
    outcome = run_check(
        session, ruleset, Scope(Period(2025, 9), Period(2025, 9), kindergarten_code="K-HD"), AS_OF
    )
    again = workflow.detail(session, users["inspector"], finding.id)
    assert again.finding.status == "resolved"
    assert again.resolved_by is not None and again.resolved_by.id == outcome.run.id
    assert again.events[-1].check_run_id == outcome.run.id

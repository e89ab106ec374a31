"""Instant rule feedback (services.feedback): a saved record's months are checked at once and the
findings that concern it are named; correcting it resolves them. And the dashboard's funding
figures are the engine's own."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.models import Finding
from feecheck.services import dashboard, editing, feedback
from feecheck.services.checking import Scope, run_check
from feecheck.services.rules import cached
from feecheck.services.scope import NotFound
from tests.factories import make_child, make_funding, make_kindergarten, make_user

AS_OF = date(2026, 1, 31)
CHARGE = {
    "receipt_no": "R-1",
    "kindergarten_code": "K-HD",
    "child_ref": "C1",
    "fee_item": "赞助费",
    "amount": "500",
    "period_start": "2025-10-01",
    "period_end": "2025-10-31",
    "paid_on": "2025-10-08",
    "account": "6222000000000001",
}


@pytest.fixture
def ruleset():  # type: ignore[no-untyped-def]
    return cached(ROOT / "rules")


@pytest.fixture
def user(session: Session):  # type: ignore[no-untyped-def]
    kg = make_kindergarten(session, code="K-HD", region_code="110108")
    make_child(session, kg, child_ref="C1")
    return make_user(session, "hd", role="inspector", region_code="110108")


def test_a_prohibited_charge_is_found_at_once_and_resolved_when_corrected(
    session, ruleset, user
) -> None:  # type: ignore[no-untyped-def]
    saved = editing.save_record(session, user, "charges", CHARGE, ruleset.taxonomy).row
    checked = feedback.recheck(session, user, ruleset, [None, saved], AS_OF)
    assert checked.checked
    assert (str(checked.period_from), str(checked.period_to)) == ("2025-10", "2025-12")
    rules = [(f.rule_id, f.period, f.status) for f in checked.concerning]
    assert ("FEE-PROHIBITED-ITEM", "2025-10", "open") in rules
    prohibited = next(f for f in checked.concerning if f.rule_id == "FEE-PROHIBITED-ITEM")
    assert prohibited.citation and prohibited.amount_due == Decimal("500.00")
    assert feedback.for_run(session, user, saved, checked.run_id).concerning == checked.concerning

    corrected = editing.save_record(
        session,
        user,
        "charges",
        {**CHARGE, "fee_item": "保教费"},
        ruleset.taxonomy,
        record_id=saved.id,
        expected_version=saved.version,
    ).row
    again = feedback.recheck(session, user, ruleset, [saved, corrected], AS_OF)
    assert prohibited.id in [f.id for f in again.resolved]
    assert "FEE-PROHIBITED-ITEM" not in [f.rule_id for f in again.concerning]


def test_the_months_a_record_can_affect(session, ruleset, user) -> None:  # type: ignore[no-untyped-def]
    saved = editing.save_record(session, user, "charges", CHARGE, ruleset.taxonomy).row
    assert sorted(map(str, feedback.months_of(session, saved))) == ["2025-10", "2025-11", "2025-12"]
    funding = editing.save_record(
        session,
        user,
        "funding",
        {
            "reference": "F-1",
            "kindergarten_code": "K-HD",
            "source": "per_child_public_expense",
            "amount": "1000",
            "period_start": "2025-09-01",
            "period_end": "2025-09-30",
            "received_on": "2025-11-03",
        },
        ruleset.taxonomy,
    ).row
    months = sorted(map(str, feedback.months_of(session, funding)))
    assert months == ["2025-09", "2025-11", "2026-09", "2026-11"]  # and a year on (LOWERED)


def test_a_check_after_save_does_not_reach_after_the_as_of_date(session, ruleset, user) -> None:  # type: ignore[no-untyped-def]
    late = {
        **CHARGE,
        "period_start": "2026-03-01",
        "period_end": "2026-03-31",
        "paid_on": "2026-03-01",
    }
    saved = editing.save_record(session, user, "charges", late, ruleset.taxonomy).row
    assert not feedback.recheck(session, user, ruleset, [saved], AS_OF).checked


def test_dashboard_funding_figures_are_the_engines(session, ruleset, user) -> None:  # type: ignore[no-untyped-def]
    kg = session.scalar(select(editing.Kindergarten).where(editing.Kindergarten.code == "K-HD"))
    make_funding(session, kg, amount=Decimal("30.00"), received_on=date(2025, 9, 2))
    run_check(session, ruleset, Scope(Period(2025, 9), Period(2025, 9)), AS_OF)
    floor = session.scalar(select(Finding).where(Finding.rule_id == "FUNDING-FLOOR"))
    figures = dashboard.funding_figures(session, ruleset, [kg.id], [Period(2025, 9)], AS_OF)
    assert len(figures) == 1 and figures[0].below
    assert str(figures[0].per_child_year) == floor.evidence["per_child_year"]
    assert figures[0].floor == Decimal("600.00")


def test_the_dashboard_keeps_to_the_users_region(session, ruleset, user) -> None:  # type: ignore[no-untyped-def]
    make_kindergarten(session, code="K-XH", region_code="310104", category="forprofit_private")
    view = dashboard.region_dashboard(session, user, ruleset, AS_OF)
    assert view.by_category == {"public": 1} and view.kindergartens == 1
    with pytest.raises(NotFound):
        dashboard.region_dashboard(session, user, ruleset, AS_OF, "310104")
    admin = make_user(session, "root", role="admin", region_code=None)
    everything = dashboard.region_dashboard(session, admin, ruleset, AS_OF)
    assert everything.by_category == {"public": 1, "forprofit_private": 1}


def test_the_funding_panel_says_which_months_were_checked(session, ruleset, user) -> None:  # type: ignore[no-untyped-def]
    checked = session.scalar(
        select(editing.Kindergarten).where(editing.Kindergarten.code == "K-HD")
    )
    other = make_kindergarten(session, code="K-HD2", region_code="110108", category="public")
    make_child(session, other, child_ref="C1")
    make_funding(session, checked, amount=Decimal("30.00"), received_on=date(2025, 9, 2))
    scope = Scope(Period(2025, 9), Period(2025, 9), kindergarten_code="K-HD")
    run_check(session, ruleset, scope, AS_OF)
    view = dashboard.region_dashboard(session, user, ruleset, AS_OF)
    assert view.month == Period(2025, 9)  # the latest month a check judged, not an empty one
    by_code = {f.code: f for f in view.funding.items}
    assert by_code["K-HD"].checked and by_code["K-HD"].finding_id is not None
    assert by_code["K-HD2"].below and not by_code["K-HD2"].checked
    assert by_code["K-HD2"].finding_id is None
    later = dashboard.region_dashboard(session, user, ruleset, AS_OF, funding_month=Period(2025, 8))
    assert later.month == Period(2025, 8) and not any(f.checked for f in later.funding.items)


def test_a_big_regions_funding_comes_a_page_at_a_time_findings_first(
    session, ruleset, user
) -> None:  # type: ignore[no-untyped-def]
    for n in range(60):
        kg = make_kindergarten(session, code=f"K-P{n:02d}", region_code="110108")
        make_child(session, kg, child_ref="C1")
        make_funding(session, kg, amount=Decimal("30.00" if n == 59 else "1000.00"))
    run_check(session, ruleset, Scope(Period(2025, 9), Period(2025, 9)), AS_OF)
    first = dashboard.region_dashboard(session, user, ruleset, AS_OF)
    assert (first.funding.total, first.funding.pages, len(first.funding.items)) == (61, 2, 50)
    # below the floor with a finding: K-HD (no funding at all) and K-P59, before K-P00...
    assert [f.code for f in first.funding.items[:3]] == ["K-HD", "K-P59", "K-P00"]
    assert all(f.finding_id for f in first.funding.items[:2]) and first.funding_below == 2
    assert not first.funding.items[2].below
    second = dashboard.region_dashboard(session, user, ruleset, AS_OF, funding_page=9)
    assert second.funding.number == 2 and len(second.funding.items) == 11
    shown = {f.code for f in first.funding.items} | {f.code for f in second.funding.items}
    assert len(shown) == 61

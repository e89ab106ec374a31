"""Money owed to families (services.ledger): per receipt, claims on the same money never add up
to more than the receipt, refunds count against what is due, and every page shows the same."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.models import FeeStandard, Finding, Refund
from feecheck.services import dashboard, ledger, workflow
from feecheck.services.checking import Scope, run_check
from feecheck.services.rules import cached
from tests.factories import make_charge, make_child, make_kindergarten, make_user

AS_OF = date(2026, 12, 31)


@pytest.fixture
def charged(session: Session):  # type: ignore[no-untyped-def]
    """A final-year child charged 750 for November against a 700 standard: FEE-FREE-FINAL-YEAR
    orders the whole 750 back, FEE-ABOVE-STANDARD the 50 excess, on one receipt."""
    kg = make_kindergarten(session, code="K-FY", region_code="110108", category="public")
    child = make_child(session, kg, child_ref="C1", birth_date=date(2020, 10, 1), final_year=True)
    session.add(
        FeeStandard(
            kindergarten_id=kg.id,
            fee_item="保教费",
            item_category="care_education",
            amount=Decimal("700.00"),
            unit="month",
            effective_from=date(2024, 9, 1),
        )
    )
    charge = make_charge(
        session,
        child,
        receipt_no="TFY1",
        amount=Decimal("750.00"),
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        paid_on=date(2026, 11, 3),
    )
    run_check(session, cached(ROOT / "rules"), Scope(Period(2026, 11), Period(2026, 11)), AS_OF)
    return kg, charge


def test_two_claims_on_one_receipt_never_exceed_it(session, charged) -> None:  # type: ignore[no-untyped-def]
    kg, _charge = charged
    findings = list(session.scalars(select(Finding).where(Finding.kindergarten_id == kg.id)))
    rules = {f.rule_id for f in findings if f.amount_due}
    assert {"FEE-FREE-FINAL-YEAR", "FEE-ABOVE-STANDARD"} <= rules
    assert sum(f.amount_due for f in findings if f.amount_due) > Decimal("750.00")
    (item,) = ledger.receipts_due(session, findings, AS_OF)
    assert (item.receipt_no, item.due, item.outstanding, item.state) == (
        "TFY1",
        Decimal("750.00"),
        Decimal("750.00"),
        "due",
    )
    assert item.rule_ids >= {"FEE-FREE-FINAL-YEAR", "FEE-ABOVE-STANDARD"}


def test_refunds_count_against_what_is_due_and_every_page_agrees(session, charged) -> None:  # type: ignore[no-untyped-def]
    kg, charge = charged
    session.add(
        Refund(
            kindergarten_id=kg.id,
            charge_id=charge.id,
            refund_no="RF1",
            amount=Decimal("300.00"),
            refunded_on=date(2026, 11, 20),
        )
    )
    session.flush()
    owed = ledger.owed(session, [Finding.kindergarten_id == kg.id], AS_OF)[kg.id]
    assert (owed.due, owed.refunded, owed.outstanding) == (
        Decimal("750.00"),
        Decimal("300.00"),
        Decimal("450.00"),
    )
    before_refund = ledger.owed(session, [Finding.kindergarten_id == kg.id], date(2026, 11, 19))
    assert before_refund[kg.id].outstanding == Decimal("750.00")
    user = make_user(session, "hd", role="inspector", region_code="110108")
    listed = workflow.list_findings(session, user, workflow.FindingFilters(status=None))
    view = dashboard.region_dashboard(session, user, cached(ROOT / "rules"), AS_OF)
    overview = dashboard.kindergarten_overview(session, user, kg.id, cached(ROOT / "rules"), AS_OF)
    assert listed.counts.amount_due == view.refunds_due == overview.refunds_due
    assert view.refunds_due == Decimal("450.00")

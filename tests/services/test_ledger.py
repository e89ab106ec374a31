"""Money owed to families (services.ledger): per receipt, claims on the same money never add up
to more than the receipt, refunds count against what is due, and every page shows the same."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.models import Charge, FeeStandard, Finding, Refund
from feecheck.services import dashboard, ledger, rectification, workflow
from feecheck.services.checking import Scope, run_check
from feecheck.services.importing import ImportOptions, run_import
from feecheck.services.notices import issue_notice
from feecheck.services.rules import cached
from feecheck.services.scope import Forbidden, NotFound
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
        "owed",
    )
    assert set(item.rule_ids) >= {"FEE-FREE-FINAL-YEAR", "FEE-ABOVE-STANDARD"}


def test_refunds_count_against_what_is_due_and_every_page_agrees(session, charged) -> None:  # type: ignore[no-untyped-def]
    kg, charge = charged
    _refund(session, kg, charge, "RF1", "300.00", date(2026, 11, 20))
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


# --- the netting rule (services.ledger.net_due), claim by claim ---------------------------------


def _claim(rule_id: str, amount: str, status: str = "open") -> ledger.Claim:
    return ledger.Claim(0, rule_id, status, Decimal(amount))


@pytest.mark.parametrize(
    ("claims", "due"),
    [
        # a prohibited item and the excess over a standard claim the same money: the receipt
        ([("FEE-PROHIBITED-ITEM", "1200.00"), ("FEE-ABOVE-STANDARD", "200.00")], "1200.00"),
        # meal refunds of two months concern different days: they add
        ([("MEAL-SETTLEMENT", "104.76"), ("MEAL-SETTLEMENT", "52.38")], "157.14"),
        # the excess applies to what the withdrawal refund has not returned: 600 + 200 × 1/2
        ([("REFUND-ON-WITHDRAWAL", "600.00"), ("FEE-ABOVE-STANDARD", "200.00")], "700.00"),
        # slices that add up past the receipt stop at it
        ([("MEAL-SETTLEMENT", "900.00"), ("REFUND-ON-WITHDRAWAL", "700.00")], "1200.00"),
        ([], "0.00"),
    ],
)
def test_claims_on_one_receipt_net_by_the_written_rule(
    claims: list[tuple[str, str]], due: str
) -> None:
    assert ledger.net_due(Decimal("1200.00"), [_claim(*c) for c in claims]) == Decimal(due)


def test_a_resolved_claim_counts_only_as_far_as_refunds_paid_it() -> None:
    item = ledger.ReceiptDue(
        1,
        "R1",
        "C1",
        Decimal("1000.00"),
        [_claim("MEAL-SETTLEMENT", "50.00", "resolved"), _claim("MEAL-SETTLEMENT", "40.00")],
        refunded=Decimal("50.00"),
    )
    assert (item.due, item.outstanding, item.state) == (
        Decimal("90.00"),
        Decimal("40.00"),
        "partly_refunded",
    )
    corrected = ledger.ReceiptDue(
        1, "R1", "C1", Decimal("1000.00"), [_claim("MEAL-SETTLEMENT", "50.00", "resolved")]
    )
    assert corrected.due == Decimal("0.00")  # resolved with no refund: the records were fixed


# --- the ledger of a kindergarten over time, with a notice and its follow-up ---------------------


def _notice(session: Session, kg):  # type: ignore[no-untyped-def]
    """A notice for the kindergarten's November 2026, issued on 2026-12-01 (no check first)."""
    rules = cached(ROOT / "rules")
    november = Period(2026, 11)
    return issue_notice(
        session, None, rules, kg.code, november, november, date(2026, 12, 1), [], check=False
    )[0]


def _refund(session: Session, kg, charge, no: str, amount: str, on: date) -> None:  # type: ignore[no-untyped-def]
    session.add(
        Refund(
            kindergarten_id=kg.id,
            charge_id=charge.id,
            refund_no=no,
            amount=Decimal(amount),
            refunded_on=on,
        )
    )
    session.flush()


def test_partial_refund_then_the_deadline_then_settled(session, charged) -> None:  # type: ignore[no-untyped-def]
    kg, charge = charged
    notice = _notice(session, kg)
    deadline = notice.deadline
    _refund(session, kg, charge, "RF1", "300.00", deadline)

    def only(as_of: date) -> ledger.ReceiptDue:
        book, _ = rectification.ledger_for(session, None, as_of, kindergarten_code=kg.code)
        (item,) = book.items
        assert book.totals.due == item.due and book.totals.outstanding == item.outstanding
        return item

    before = only(deadline - timedelta(days=1))
    assert (before.state, before.refunded_towards, before.notice_no) == (
        "owed",
        Decimal("0.00"),
        notice.number,
    )
    on_time = only(deadline)
    assert (on_time.state, on_time.outstanding) == ("partly_refunded", Decimal("450.00"))
    late = only(deadline + timedelta(days=1))
    assert (late.state, late.outstanding, late.deadline) == ("overdue", Decimal("450.00"), deadline)
    _refund(session, kg, charge, "RF2", "450.00", deadline + timedelta(days=5))
    assert only(deadline + timedelta(days=5)).state == "settled"
    assert only(deadline + timedelta(days=4)).state == "overdue"  # as of the day before
    book, _ = rectification.ledger_for(
        session, None, deadline + timedelta(days=5), kindergarten_code=kg.code, state="overdue"
    )
    assert book.items == [] and book.totals.due == Decimal("0.00")


def test_a_notice_closes_only_when_corrected_and_refunded(session, charged) -> None:  # type: ignore[no-untyped-def]
    kg, charge = charged
    inspector = make_user(session, "hd-i", role="inspector", region_code="110108")
    supervisor = make_user(session, "hd-s", role="supervisor", region_code="110108")
    notice = _notice(session, kg)
    today = date(2026, 12, 10)
    follow = dict(followed_up_on=today, inspector="王", outcome="rectified", today=today)
    with pytest.raises(Forbidden):
        rectification.record_follow_up(session, inspector, notice.id, close=True, **follow)
    with pytest.raises(rectification.FollowUpRefused) as refused:
        rectification.record_follow_up(session, supervisor, notice.id, close=True, **follow)
    assert "750.00" in refused.value.text and "TFY1" in refused.value.text
    _refund(session, kg, charge, "RF1", "750.00", date(2026, 12, 5))
    with pytest.raises(rectification.FollowUpRefused) as refused:
        rectification.record_follow_up(session, supervisor, notice.id, close=True, **follow)
    assert "not yet rectified" in refused.value.text  # the violations are still open
    state = rectification.notice_state(session, supervisor, notice.id, today)
    assert state.status == "issued" and not state.unsettled
    for finding in state.to_correct:
        workflow.move(session, inspector, finding.id, "rectify", "退费并更正收费")
    state = rectification.record_follow_up(
        session, supervisor, notice.id, close=True, notes="已退清", **follow
    )
    assert (state.status, state.notice.closed_on, state.notice.closed_by) == (
        "closed",
        today,
        "hd-s",
    )
    assert [f.outcome for f in state.follow_ups] == ["rectified"]
    with pytest.raises(rectification.FollowUpRefused):  # closed: nothing more to record
        rectification.record_follow_up(session, inspector, notice.id, **follow)
    assert rectification.overdue_notices(session, inspector, date(2027, 1, 1)) == []


def test_an_unclosed_notice_past_its_deadline_is_overdue_in_its_region_only(
    session, charged
) -> None:  # type: ignore[no-untyped-def]
    kg, _ = charged
    notice = _notice(session, kg)
    late = notice.deadline + timedelta(days=1)
    haidian = make_user(session, "hd", role="inspector", region_code="110108")
    xuhui = make_user(session, "xh", role="inspector", region_code="310104")
    assert [n.id for n, _ in rectification.overdue_notices(session, haidian, late)] == [notice.id]
    assert rectification.overdue_notices(session, haidian, notice.deadline) == []
    assert rectification.overdue_notices(session, xuhui, late) == []
    assert rectification.ledger_for(session, xuhui, late)[0].items == []
    with pytest.raises(NotFound):
        rectification.ledger_for(session, xuhui, late, region_code="110108")
    with pytest.raises(NotFound):
        rectification.ledger_for(session, xuhui, late, kindergarten_code=kg.code)
    assert len(rectification.ledger_for(session, haidian, late)[0].items) == 1


def test_refund_proof_is_not_a_parents_word(session, charged, taxonomy, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _kg, charge = charged
    path = tmp_path / "refunds.csv"
    path.write_text(
        "kindergarten_code,receipt_no,refund_no,amount,refunded_on,child_ref\n"
        "K-FY,TFY1,,100.00,2026-11-20,C1\n"  # no refund number
        "K-FY,TFY1,RF-A,100.00,2026-11-20,C2\n"  # against another child's receipt
        "K-FY,TFY1,RF-B,750.01,2026-11-20,C1\n"  # more than the receipt
        "K-FY,TFY1,RF-C,100.00,2026-11-20,C1\n",  # good
        encoding="utf-8",
    )
    report = run_import(session, "refunds", path, taxonomy=taxonomy, options=ImportOptions())
    problems = {(p.line, p.column) for p in report.errors}
    assert problems == {(2, "refund_no"), (3, "child_ref"), (4, "amount")}
    texts = " ".join(p.text for p in report.errors)
    assert "paid for child C1, not C2" in texts and "750.01" in texts
    refunds = session.scalars(select(Refund).where(Refund.charge_id == charge.id)).all()
    assert [r.refund_no for r in refunds] == ["RF-C"]


def test_the_region_totals_query_counts_every_claim_as_the_per_receipt_items_do(
    session: Session,
) -> None:
    """ledger.owed sums a region's claims in one query (for tens of thousands of findings);
    receipts_due builds the items one by one. On the checked demo, every claim shape the rules
    write, with statuses moved and a refund made, both give the same totals."""
    from sqlalchemy import update

    from feecheck.services.demo import build_demo

    ruleset = cached(ROOT / "rules")
    build_demo(session, ruleset.taxonomy)
    run_check(session, ruleset, Scope(Period(2025, 9), Period(2026, 8)), date(2026, 11, 23))
    claiming = session.scalars(
        select(Finding).where(Finding.claim_receipt.is_not(None)).order_by(Finding.id)
    ).all()
    assert len({f.rule_id for f in claiming}) >= 5
    for n, finding in enumerate(claiming[::7]):
        status = ("resolved", "dismissed", "acknowledged")[n % 3]
        session.execute(update(Finding).where(Finding.id == finding.id).values(status=status))
    charge = session.scalar(
        select(Charge).where(
            Charge.kindergarten_id == claiming[2].kindergarten_id,
            Charge.receipt_no == claiming[2].claim_receipt,
        )
    )
    _refund(session, charge.kindergarten, charge, "RF-REGION", "1.00", date(2026, 2, 1))
    session.expire_all()
    for as_of in (date(2026, 1, 31), AS_OF):
        expected: dict[int, tuple[Decimal, Decimal]] = {}
        for item in ledger.receipts_due(session, session.scalars(select(Finding)).all(), as_of):
            due, refunded = expected.get(item.kindergarten_id, (Decimal(0), Decimal(0)))
            expected[item.kindergarten_id] = (due + item.due, refunded + item.refunded_towards)
        got = {kg: (t.due, t.refunded) for kg, t in ledger.owed(session, [], as_of).items()}
        assert got == expected and sum(d for d, _r in got.values()) > 0
    assert any(r for _d, r in got.values())  # refunds made by the last date count too


@pytest.mark.parametrize(
    ("evidence", "claim"),
    [
        ({"receipt": "R1", "refund_due": "12.50"}, ("R1", Decimal("12.50"))),
        ({"receipt": "", "charges": ["R2", "R3"]}, ("R2", Decimal("30.00"))),
        ({"charges": ["R4"], "refund_due": 7.125}, ("R4", Decimal("7.13"))),
        ({"receipt": "R5", "refund_due": "not a number"}, ("R5", Decimal("30.00"))),
        ({"receipt": "R6", "refund_due": None}, ("R6", Decimal("30.00"))),
        ({"charges": []}, None),
        (None, None),
    ],
)
def test_a_findings_claim_is_read_from_its_evidence_when_stored(evidence, claim) -> None:  # type: ignore[no-untyped-def]
    assert ledger.claim(Decimal("30.00"), evidence) == claim
    assert ledger.claim(None, evidence) is None  # orders no money

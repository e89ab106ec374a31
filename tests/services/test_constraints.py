"""The database itself refuses what must never be stored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from feecheck.models import (
    AuditEntry,
    Charge,
    Child,
    Finding,
    FindingEvent,
    Funding,
    Kindergarten,
)
from tests.factories import make_charge, make_child, make_kindergarten


def _refused(session: Session, statement) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL refuses an over-long code by its column length (DataError) before the CHECK.
    with pytest.raises((IntegrityError, DataError)), session.begin_nested():
        session.execute(statement)


def test_negative_amount_is_refused(session: Session) -> None:
    child = make_child(session, make_kindergarten(session))
    charge = make_charge(session, child)
    _refused(session, update(Charge).where(Charge.id == charge.id).values(amount=Decimal("-1")))


def test_duplicate_receipt_is_refused(session: Session) -> None:
    child = make_child(session, make_kindergarten(session))
    make_charge(session, child, receipt_no="R-DUP")
    with pytest.raises(IntegrityError), session.begin_nested():
        make_charge(session, child, receipt_no="R-DUP")


def test_same_receipt_number_in_two_kindergartens_is_allowed(session: Session) -> None:
    first = make_child(session, make_kindergarten(session))
    second = make_child(session, make_kindergarten(session))
    make_charge(session, first, receipt_no="R-SAME")
    make_charge(session, second, receipt_no="R-SAME")
    assert session.scalar(select(func.count()).where(Charge.receipt_no == "R-SAME")) == 2


def test_dangling_child_is_refused(session: Session) -> None:
    kg = make_kindergarten(session)
    _refused(
        session,
        insert(Charge).values(
            kindergarten_id=kg.id,
            child_id=999_999,
            receipt_no="R1",
            fee_item="保教费",
            item_category="care_education",
            amount=Decimal(1),
            period_start=date(2025, 9, 1),
            period_end=date(2025, 9, 30),
            paid_on=date(2025, 9, 1),
            account="A",
            collector="kindergarten",
        ),
    )


def test_period_start_after_end_is_refused(session: Session) -> None:
    kg = make_kindergarten(session)
    _refused(
        session,
        insert(Funding).values(
            kindergarten_id=kg.id,
            reference="F1",
            source="other",
            amount=Decimal(1),
            period_start=date(2025, 9, 30),
            period_end=date(2025, 9, 1),
            received_on=date(2025, 9, 1),
        ),
    )


@pytest.mark.parametrize("region_code", ["11010", "1101080", "11010x"])
def test_region_code_must_be_six_digits(session: Session, region_code: str) -> None:
    _refused(
        session,
        insert(Kindergarten).values(
            code="KX", name="x", region_code=region_code, category="public", boarding=False
        ),
    )


def test_category_must_be_known(session: Session) -> None:
    _refused(
        session,
        insert(Kindergarten).values(
            code="KX", name="x", region_code="110108", category="charity", boarding=False
        ),
    )


def test_child_cannot_leave_before_enrolling(session: Session) -> None:
    kg = make_kindergarten(session)
    with pytest.raises(IntegrityError), session.begin_nested():
        make_child(session, kg, enrolled_on=date(2025, 9, 1), left_on=date(2025, 8, 1))


def test_money_sums_are_exact(session: Session) -> None:
    child = make_child(session, make_kindergarten(session))
    make_charge(session, child, amount=Decimal("0.10"))
    make_charge(session, child, amount=Decimal("1200.30"))
    total = session.scalar(select(func.sum(Charge.amount)).where(Charge.child_id == child.id))
    assert total == Decimal("1200.40")
    assert str(total) == "1200.40"


def test_audit_log_is_append_only(session: Session) -> None:
    session.execute(
        insert(AuditEntry).values(actor="t", action="create", table_name="x", record_key="1")
    )
    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(update(AuditEntry).values(actor="someone else"))
    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(text("DELETE FROM audit_log"))


def test_audit_log_cannot_be_replaced_or_truncated(session: Session) -> None:
    session.execute(
        insert(AuditEntry).values(actor="t", action="create", table_name="x", record_key="1")
    )
    entry = session.scalars(select(AuditEntry)).one()
    if session.get_bind().dialect.name == "sqlite":
        for verb in ("REPLACE", "INSERT OR REPLACE"):
            with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
                session.execute(
                    text(
                        f"{verb} INTO audit_log (id, at, actor, action, table_name, record_key) "
                        "VALUES (:id, '2026-01-01', 'forger', 'create', 'x', '1')"
                    ),
                    {"id": entry.id},
                )
    else:
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text("TRUNCATE audit_log"))
    session.expire_all()
    assert session.get(AuditEntry, entry.id).actor == "t"


def test_finding_history_is_append_only(session: Session) -> None:
    kg = make_kindergarten(session)
    session.execute(
        insert(Finding).values(
            fingerprint="f" * 64, rule_id="R", severity="violation", period="2025-09",
            kindergarten_id=kg.id, citation="c", message_zh="m", message_en="m", evidence={},
            parameters={}, explanation=[], ruleset_hash="h", status="open",
        )
    )  # fmt: skip
    finding_id = session.scalar(select(Finding.id))
    session.execute(
        insert(FindingEvent).values(finding_id=finding_id, to_status="open", actor="check")
    )
    for statement in ("UPDATE finding_events SET actor = 'x'", "DELETE FROM finding_events"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(statement))
    assert session.scalar(select(func.count()).select_from(FindingEvent)) == 1


def test_child_ref_unique_within_kindergarten(session: Session) -> None:
    kg = make_kindergarten(session)
    make_child(session, kg, child_ref="C1")
    with pytest.raises(IntegrityError), session.begin_nested():
        make_child(session, kg, child_ref="C1")
    assert (
        session.scalar(
            select(func.count()).select_from(Child).where(Child.kindergarten_id == kg.id)
        )
        == 1
    )

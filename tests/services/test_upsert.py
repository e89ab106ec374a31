"""upsert_records: the one write path for forms, imports and the demo."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feecheck.models import AuditEntry, Charge, FiledAccount
from feecheck.services.record_types import RECORD_TYPES, parse_cells
from feecheck.services.upsert import Actor, upsert_records

ACTOR = Actor("test")


def _kindergarten(session: Session, taxonomy, **cells) -> object:  # type: ignore[no-untyped-def]
    record, errors = parse_cells(
        RECORD_TYPES["kindergartens"],
        {
            "code": "K1",
            "name": "一园",
            "region_code": "110108",
            "category": "公办",
            "filed_accounts": "6222001;6222002",
            **cells,
        },
    )
    assert errors == []
    return upsert_records(session, RECORD_TYPES["kindergartens"], [(2, record)], ACTOR, taxonomy)


def test_create_then_unchanged_then_updated(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    assert _kindergarten(session, taxonomy).created == 1
    assert _kindergarten(session, taxonomy).unchanged == 1
    assert _kindergarten(session, taxonomy, name="第一园").updated == 1
    assert _kindergarten(session, taxonomy, name="第一园", filed_accounts="6222003").updated == 1
    accounts = session.scalars(select(FiledAccount.account_no)).all()
    assert accounts == ["6222003"]
    update = session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).first()
    assert (
        update is not None
        and update.before == {"name": "一园"}
        and update.after == {"name": "第一园"}
    )


def test_references_and_duplicates_are_row_errors(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    _kindergarten(session, taxonomy)
    children = [
        (n, {"kindergarten_code": kg, "child_ref": ref, "enrolled_on": date(2025, 9, 1)})
        for n, kg, ref in ((2, "K1", "C1"), (3, "K9", "C2"), (4, "K1", "C1"))
    ]
    result = upsert_records(session, RECORD_TYPES["children"], children, ACTOR, taxonomy)
    assert result.created == 1
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "kindergarten_code"),
        (4, "child_ref"),
    ]
    charge = {
        "receipt_no": "R1",
        "kindergarten_code": "K1",
        "child_ref": "C404",
        "fee_item": "保教费",
        "amount": Decimal("10"),
        "period_start": date(2025, 9, 1),
        "period_end": date(2025, 9, 30),
        "paid_on": date(2025, 9, 1),
        "account": "x",
    }
    result = upsert_records(session, RECORD_TYPES["charges"], [(2, charge)], ACTOR, taxonomy)
    assert result.errors[0].reason == "unknown child C404 in kindergarten K1"
    charge["child_ref"] = "C1"
    assert (
        upsert_records(session, RECORD_TYPES["charges"], [(2, charge)], ACTOR, taxonomy).created
        == 1
    )
    assert session.scalars(select(Charge.item_category)).one() == "care_education"


def test_cells_are_validated_with_column_and_reason() -> None:
    _, errors = parse_cells(
        RECORD_TYPES["charges"],
        {
            "receipt_no": "R1",
            "kindergarten_code": "K1",
            "child_ref": "C1",
            "fee_item": "保教费",
            "amount": "-5",
            "period_start": "2025-09-30",
            "period_end": "2025-09-01",
            "paid_on": "yesterday",
            "account": "",
        },
    )
    assert {e.column for e in errors} == {"amount", "paid_on", "account"}
    _, errors = parse_cells(
        RECORD_TYPES["charges"],
        {
            "receipt_no": "R1",
            "kindergarten_code": "K1",
            "child_ref": "C1",
            "fee_item": "保教费",
            "amount": "5",
            "period_start": "2025-09-30",
            "period_end": "2025-09-01",
            "paid_on": "2025-09-01",
            "account": "a",
        },
    )
    assert [e.column for e in errors] == ["period_end"]


def test_audit_records_who_created(session: Session, taxonomy) -> None:  # type: ignore[no-untyped-def]
    _kindergarten(session, taxonomy)
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.table_name == "kindergartens")
    ).one()
    assert entry.actor == "test" and entry.action == "create" and entry.after["code"] == "K1"
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 1

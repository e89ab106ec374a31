"""Records one at a time (services.editing): the importer's validation, versions, the audit log,
region scope, dependants."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from feecheck.models import AuditEntry, Charge, Kindergarten
from feecheck.services import editing
from feecheck.services.editing import Conflict
from feecheck.services.importing import run_import
from feecheck.services.scope import NotFound
from tests.factories import make_charge, make_child, make_kindergarten, make_user

CHARGE = {
    "receipt_no": "R-FORM-1",
    "child_ref": "C1",
    "fee_item": "保教费",
    "amount": "800",
    "period_start": "2025-09-01",
    "period_end": "2025-09-30",
    "paid_on": "2025-09-01",
    "account": "6222000000000001",
}


@pytest.fixture
def world(session: Session):  # type: ignore[no-untyped-def]
    kg = make_kindergarten(session, code="K-HD", region_code="110108")
    make_child(session, kg, child_ref="C1")
    other = make_kindergarten(session, code="K-XH", region_code="310104")
    make_child(session, other, child_ref="C9")
    inspector = make_user(session, "hd", role="inspector", region_code="110108")
    return kg, other, inspector


def _save(session, user, taxonomy, cells, **kw):  # type: ignore[no-untyped-def]
    return editing.save_record(session, user, "charges", cells, taxonomy, **kw)


def test_a_form_creates_a_record_through_the_importers_path(session, taxonomy, world) -> None:  # type: ignore[no-untyped-def]
    _kg, _other, user = world
    outcome = _save(session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-HD"})
    assert outcome.ok and outcome.created
    row = outcome.row
    assert row.version == 1
    assert row.values["amount"] == Decimal("800.00")
    assert row.values["child_ref"] == "C1"
    stored = session.scalar(select(Charge).where(Charge.receipt_no == "R-FORM-1"))
    assert stored.item_category == "care_education"  # classified as the importer does
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.table_name == "charges", AuditEntry.action == "create")
    )
    assert entry.actor == "hd" and entry.after["amount"] == "800.00"
    assert editing.history(session, row)[0].id == entry.id


def test_validation_errors_come_back_by_field_in_both_languages(session, taxonomy, world) -> None:  # type: ignore[no-untyped-def]
    _kg, _other, user = world
    bad = {**CHARGE, "kindergarten_code": "K-HD", "amount": "八百", "paid_on": "2025-13-01"}
    outcome = _save(session, user, taxonomy, bad)
    assert not outcome.ok and outcome.row is None
    assert set(outcome.errors) == {"amount", "paid_on"}
    assert "not an amount" in outcome.errors["amount"][0].reason
    assert "不是有效金额" in outcome.errors["amount"][0].reason_zh
    assert session.scalar(select(Charge).where(Charge.receipt_no == "R-FORM-1")) is None


def test_an_edit_bumps_the_version_and_audits_real_values(session, taxonomy, world) -> None:  # type: ignore[no-untyped-def]
    _kg, _other, user = world
    created = _save(session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-HD"}).row
    changed = {**CHARGE, "kindergarten_code": "K-HD", "amount": "850.50"}
    outcome = _save(session, user, taxonomy, changed, record_id=created.id, expected_version=1)
    assert outcome.ok and not outcome.created
    assert outcome.row.version == 2
    assert outcome.changed == {"amount": (Decimal("800.00"), Decimal("850.50"))}
    update = editing.history(session, outcome.row)[0]
    assert (update.action, update.before, update.after) == (
        "update",
        {"amount": "800.00"},
        {"amount": "850.50"},
    )


def test_a_stale_version_is_refused_with_the_current_values(session, taxonomy, world) -> None:  # type: ignore[no-untyped-def]
    _kg, _other, user = world
    created = _save(session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-HD"}).row
    first = {**CHARGE, "kindergarten_code": "K-HD", "amount": "900"}
    _save(session, user, taxonomy, first, record_id=created.id, expected_version=1)
    second = {**CHARGE, "kindergarten_code": "K-HD", "amount": "700"}
    with pytest.raises(Conflict) as refused:
        _save(session, user, taxonomy, second, record_id=created.id, expected_version=1)
    assert refused.value.current.version == 2
    assert refused.value.current.values["amount"] == Decimal("900.00")
    assert "changed by someone else" in refused.value.en
    session.expire_all()  # nothing was written by the refused save
    assert session.get(Charge, created.id).amount == Decimal("900.00")


def test_an_import_bumps_the_version_a_form_was_read_at(
    session, taxonomy, world, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    _kg, _other, user = world
    created = _save(session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-HD"}).row
    csv_file = tmp_path / "charges.csv"
    header = (
        "receipt_no,kindergarten_code,child_ref,fee_item,amount,period_start,period_end,paid_on,"
        "account"
    )
    csv_file.write_text(
        f"{header}\nR-FORM-1,K-HD,C1,保教费,810,2025-09-01,2025-09-30,2025-09-01,6222000000000001\n"
    )
    report = run_import(session, "charges", csv_file, taxonomy=taxonomy)
    assert report.updated == 1
    with pytest.raises(Conflict):
        _save(
            session,
            user,
            taxonomy,
            {**CHARGE, "kindergarten_code": "K-HD", "amount": "1"},
            record_id=created.id,
            expected_version=1,
        )


def test_the_key_of_a_record_cannot_be_changed_by_a_form(session, taxonomy, world) -> None:  # type: ignore[no-untyped-def]
    _kg, _other, user = world
    created = _save(session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-HD"}).row
    moved = {**CHARGE, "kindergarten_code": "K-XH", "receipt_no": "R-OTHER", "amount": "801"}
    outcome = _save(session, user, taxonomy, moved, record_id=created.id, expected_version=1)
    assert outcome.ok
    assert outcome.row.values["receipt_no"] == "R-FORM-1"
    assert outcome.row.values["kindergarten_code"] == "K-HD"
    assert outcome.row.values["amount"] == Decimal("801.00")


def test_a_new_record_never_overwrites_an_existing_one(session, taxonomy, world) -> None:  # type: ignore[no-untyped-def]
    _kg, _other, user = world
    _save(session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-HD"})
    again = _save(session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-HD", "amount": "1"})
    assert list(again.errors) == ["receipt_no"]
    assert "exists already" in again.errors["receipt_no"][0].reason


def test_another_regions_records_are_not_found_and_its_codes_unknown(
    session, taxonomy, world
) -> None:  # type: ignore[no-untyped-def]
    _kg, other, user = world
    theirs = make_charge(session, make_child(session, other, child_ref="C10"))
    with pytest.raises(NotFound):
        editing.get_record(session, user, "charges", theirs.id)
    with pytest.raises(NotFound):
        _save(session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-HD"}, record_id=theirs.id)
    with pytest.raises(NotFound):
        editing.delete_record(session, user, "charges", theirs.id)
    outcome = _save(
        session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-XH", "child_ref": "C9"}
    )
    assert outcome.errors["kindergarten_code"][0].reason == "unknown kindergarten K-XH"
    listed = editing.list_records(session, user, "charges")
    assert theirs.id not in [r.id for r in listed.items]


def test_a_kindergarten_outside_the_region_cannot_be_created(session, taxonomy, world) -> None:  # type: ignore[no-untyped-def]
    _kg, _other, user = world
    cells = {"code": "K-NEW", "name": "新园", "region_code": "310104", "category": "public"}
    outcome = editing.save_record(session, user, "kindergartens", cells, taxonomy)
    assert "outside your region" in outcome.errors["region_code"][0].reason
    assert session.scalar(select(Kindergarten).where(Kindergarten.code == "K-NEW")) is None


def test_filed_accounts_by_form_are_audited_and_bump_the_version(session, taxonomy, world) -> None:  # type: ignore[no-untyped-def]
    kg, _other, user = world
    row = editing.get_record(session, user, "kindergartens", kg.id)
    cells = {**row.cells(), "filed_accounts": "6222000000000001;6222000000000002"}
    outcome = editing.save_record(
        session, user, "kindergartens", cells, taxonomy, record_id=kg.id, expected_version=1
    )
    assert outcome.ok and outcome.row.version == 2
    assert outcome.row.values["filed_accounts"] == ["6222000000000001", "6222000000000002"]
    entry = editing.history(session, outcome.row)[0]
    assert entry.before == {"filed_accounts": ["6222000000000001"]}
    assert entry.after == {"filed_accounts": ["6222000000000001", "6222000000000002"]}


def test_delete_is_refused_while_records_depend_on_it_then_audited(
    session, taxonomy, world
) -> None:  # type: ignore[no-untyped-def]
    kg, _other, user = world
    charge = _save(session, user, taxonomy, {**CHARGE, "kindergarten_code": "K-HD"}).row
    child = editing.list_records(session, user, "children", kindergarten_id=kg.id).items[0]
    with pytest.raises(editing.Refused) as refused:
        editing.delete_record(session, user, "children", child.id, expected_version=child.version)
    assert "1 charges" in refused.value.en and "收费记录 1 条" in refused.value.zh
    for stale in (7, None):  # a version not given is as good as a stale one
        with pytest.raises(Conflict):
            editing.delete_record(session, user, "charges", charge.id, expected_version=stale)
    editing.delete_record(session, user, "charges", charge.id, expected_version=1)
    assert session.get(Charge, charge.id) is None
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.action == "delete", AuditEntry.table_name == "charges")
    )
    assert entry.before["receipt_no"] == "R-FORM-1" and entry.after is None


def test_lists_are_paged_searched_and_scoped(session, taxonomy, world) -> None:  # type: ignore[no-untyped-def]
    kg, _other, user = world
    child = make_child(session, kg, child_ref="C2")
    for n in range(7):
        make_charge(session, child, receipt_no=f"P{n:02d}", paid_on=date(2025, 9, 1 + n))
    first = editing.list_records(session, user, "charges", page=1, per_page=5)
    assert (first.total, first.pages, len(first.items)) == (7, 2, 5)
    assert first.items[0].values["receipt_no"] == "P06"  # newest payment first
    last = editing.list_records(session, user, "charges", page=9, per_page=5)
    assert last.number == 2 and len(last.items) == 2
    found = editing.list_records(session, user, "charges", search="P03")
    assert [r.values["receipt_no"] for r in found.items] == ["P03"]

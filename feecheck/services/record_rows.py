"""Stored records as the columns of spec §2: one select per record type, shared by the CSV export
and the web pages, so a record reads the same in a file, a list and a form."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, select

from feecheck.models import Charge, Child, Kindergarten
from feecheck.services.record_types import RecordType


def column_of(record_type: RecordType, name: str) -> ColumnElement[Any]:
    """The SQL column behind a field (references read through their joins)."""
    model = record_type.model
    if name == "kindergarten_code":
        return Kindergarten.code
    if name == "child_ref" and model is not Child:
        return Child.child_ref
    if name == "receipt_no" and model is not Charge:
        return Charge.receipt_no
    return getattr(model, name)  # type: ignore[no-any-return]


def stored_fields(record_type: RecordType) -> list[str]:
    """The fields a select reads (filed accounts are rows of their own table)."""
    return [f.name for f in record_type.fields if f.name != "filed_accounts" and f.stored]


def cells_select(record_type: RecordType, *extra: ColumnElement[Any]) -> Select[Any]:
    """SELECT the stored fields of a record type (then `extra` columns), joined to its
    kindergarten, child and charge as needed; the caller adds scope, filters and order."""
    model: Any = record_type.model
    names = stored_fields(record_type)
    statement = select(*(column_of(record_type, n) for n in names), *extra)
    if model is not Kindergarten:
        statement = statement.join(Kindergarten, Kindergarten.id == model.kindergarten_id)
        if "child_ref" in names and model is not Child:
            statement = statement.join(Child, Child.id == model.child_id)
        if "receipt_no" in names and model is not Charge:
            statement = statement.join(Charge, Charge.id == model.charge_id)
    return statement

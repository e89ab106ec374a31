"""Record forms built from RECORD_TYPES: one form class per record type, generated, never written
by hand. Fields carry the English column names of spec §2; validation is parse_cells (the
importer's), so the form only carries text and the CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field as FormField
from wtforms import HiddenField, StringField, TextAreaField

from feecheck.services.record_types import ENUM_FIELDS, RECORD_TYPES, Field, kind_of

# English labels of the columns (the Chinese ones are the contract's, in RECORD_TYPES).
ENGLISH_LABELS = {
    "code": "Kindergarten code",
    "name": "Name",
    "region_code": "Region code",
    "category": "Category",
    "filed_accounts": "Filed accounts (separate with ;)",
    "boarding": "Boarding",
    "capacity": "Approved places",
    "grade": "Grade",
    "kindergarten_code": "Kindergarten code",
    "child_ref": "Child reference",
    "birth_date": "Date of birth",
    "final_year": "Final preschool year",
    "enrolled_on": "Enrolled on",
    "left_on": "Left on",
    "hardship": "Hardship",
    "fee_item": "Fee item",
    "amount": "Amount (yuan)",
    "unit": "Unit",
    "effective_from": "Effective from",
    "effective_to": "Effective to",
    "approval_ref": "Approval reference",
    "receipt_no": "Receipt number",
    "period_start": "Period start",
    "period_end": "Period end",
    "paid_on": "Paid on",
    "account": "Receiving account",
    "collector": "Collector",
    "reference": "Voucher reference",
    "source": "Source",
    "received_on": "Received on",
    "refund_no": "Refund number",
    "refunded_on": "Refunded on",
    "reason": "Reason",
    "month": "Month",
    "days_absent": "Days absent",
    "days_open": "Days open",
    "inspected_on": "Inspected on",
    "inspector": "Inspector",
    "fees_disclosed": "Fees disclosed",
    "notes": "Notes",
}

RECORD_TYPE_LABELS = {
    "kindergartens": _l("Kindergartens"),
    "children": _l("Children"),
    "fee-standards": _l("Fee standards"),
    "charges": _l("Charges"),
    "funding": _l("Funding"),
    "refunds": _l("Refunds"),
    "absences": _l("Absences"),
    "inspections": _l("Inspections"),
}
RECORD_TYPE_SINGULAR = {
    "kindergartens": _l("kindergarten"),
    "children": _l("child"),
    "fee-standards": _l("fee standard"),
    "charges": _l("charge"),
    "funding": _l("funding record"),
    "refunds": _l("refund"),
    "absences": _l("absence record"),
    "inspections": _l("inspection"),
}


def chinese() -> bool:
    return str(get_locale()).startswith("zh")


def label(type_name: str, name: str) -> str:
    """A column's label: its Chinese name from spec §2, or its English label."""
    if chinese():
        return RECORD_TYPES[type_name].field(name).zh
    return ENGLISH_LABELS.get(name, name)


def enum_label(name: str, code: str) -> str:
    """An enumerated value as a person reads it: 普惠性民办, or inclusive private."""
    enum = ENUM_FIELDS.get(name)
    if enum is None or code in ("", None):
        return code or ""
    member = enum(code)
    return member.label_zh if chinese() else member.value.replace("_", " ")


@dataclass(frozen=True)
class Widget:
    """What the form template needs to draw one field."""

    name: str
    kind: str  # enum | bool | date | month | amount | count | accounts | text
    required: bool
    options: tuple[str, ...] = ()  # enum codes


@cache
def widgets(type_name: str) -> tuple[Widget, ...]:
    rt = RECORD_TYPES[type_name]
    return tuple(
        Widget(
            f.name,
            kind_of(f),
            f.required,
            tuple(m.value for m in ENUM_FIELDS[f.name]) if f.name in ENUM_FIELDS else (),
        )
        for f in rt.fields
        if f.stored
    )


def _form_field(f: Field) -> FormField:
    if f.name in ("notes",):
        return TextAreaField(f.name)
    return StringField(f.name)


@cache
def form_class(type_name: str) -> type[FlaskForm]:
    """The form of a record type: a text field per stored column, and the version it was read
    at (hidden), generated from RECORD_TYPES."""
    rt = RECORD_TYPES[type_name]
    attributes: dict[str, object] = {"version": HiddenField("version")}
    for f in rt.fields:
        if f.stored:
            attributes[f.name] = _form_field(f)
    name = "".join(part.title() for part in type_name.split("-")) + "Form"
    return type(name, (FlaskForm,), attributes)


class DeleteForm(FlaskForm):
    version = HiddenField("version")


class RecheckForm(FlaskForm):
    """The "run check" button on a kindergarten's page."""

    period_from = StringField(_l("From month"))
    period_to = StringField(_l("To month"))


class NoticeForm(FlaskForm):
    """Issue a notice to correct for a kindergarten's open violations of some months."""

    period_from = StringField(_l("From month"))
    period_to = StringField(_l("To month"))
    inspector1 = StringField(_l("Inspector"))
    certificate1 = StringField(_l("Enforcement certificate no."))
    inspector2 = StringField(_l("Second inspector"))
    certificate2 = StringField(_l("Enforcement certificate no."))

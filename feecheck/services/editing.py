"""Records one at a time, as a person edits them in the web app: list, read, save, delete.

Everything goes through the paths the importer uses: cells are validated by
record_types.parse_cells and written by upsert.RecordWriter (references, refund limits, filed
accounts, the audit log, the version bump), so a form and a CSV file accept and refuse the same
things. Every function takes the acting user and keeps to the user's region: a record outside it
is NotFound, exactly like one that does not exist.

Concurrent editing is optimistic: a form carries the version it was read at; a save or a delete
against a newer version is refused with the current values, and nothing is overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from feecheck.domain.fee_items import FeeItemTaxonomy
from feecheck.domain.reasons import Problem, Refused
from feecheck.models import (
    Absence,
    AuditEntry,
    Charge,
    Child,
    FeeStandard,
    FiledAccount,
    Finding,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
    User,
)
from feecheck.services import audit
from feecheck.services.audit import Actor
from feecheck.services.exporting import format_cell
from feecheck.services.locks import begin_write, import_lock
from feecheck.services.pagination import Page, paginate
from feecheck.services.record_rows import cells_select, column_of, stored_fields
from feecheck.services.record_types import RECORD_TYPES, RecordType, parse_cells
from feecheck.services.scope import NotFound, visible
from feecheck.services.upsert import RecordWriter, _key_columns, _key_text

# What a list shows of each type (the detail page shows every field).
LIST_FIELDS: dict[str, tuple[str, ...]] = {
    "kindergartens": ("code", "name", "region_code", "category", "grade"),
    "children": ("kindergarten_code", "child_ref", "name", "enrolled_on", "left_on", "hardship"),
    "fee-standards": (
        "kindergarten_code",
        "fee_item",
        "amount",
        "unit",
        "effective_from",
        "effective_to",
    ),
    "charges": (
        "kindergarten_code",
        "receipt_no",
        "child_ref",
        "fee_item",
        "amount",
        "period_start",
        "period_end",
        "paid_on",
    ),
    "funding": (
        "kindergarten_code",
        "reference",
        "source",
        "amount",
        "period_start",
        "period_end",
        "received_on",
    ),
    "refunds": ("kindergarten_code", "receipt_no", "refund_no", "amount", "refunded_on"),
    "absences": ("kindergarten_code", "child_ref", "month", "days_absent", "days_open"),
    "inspections": ("kindergarten_code", "inspected_on", "inspector", "fees_disclosed"),
}

# The text columns a list's search box looks in.
SEARCH_FIELDS: dict[str, tuple[str, ...]] = {
    "kindergartens": ("code", "name"),
    "children": ("kindergarten_code", "child_ref", "name"),
    "fee-standards": ("kindergarten_code", "fee_item", "approval_ref"),
    "charges": ("kindergarten_code", "receipt_no", "child_ref", "fee_item", "account"),
    "funding": ("kindergarten_code", "reference"),
    "refunds": ("kindergarten_code", "receipt_no", "refund_no", "reason"),
    "absences": ("kindergarten_code", "child_ref", "month"),
    "inspections": ("kindergarten_code", "inspector", "notes"),
}

# Newest first where a record has a date people look for.
ORDER_FIELDS: dict[str, tuple[str, ...]] = {
    "kindergartens": ("region_code", "code"),
    "children": ("kindergarten_code", "child_ref"),
    "fee-standards": ("kindergarten_code", "fee_item", "-effective_from"),
    "charges": ("-paid_on", "receipt_no"),
    "funding": ("-received_on", "reference"),
    "refunds": ("-refunded_on", "refund_no"),
    "absences": ("-month", "child_ref"),
    "inspections": ("-inspected_on",),
}


class Conflict(Refused):
    """The record changed (or went) since the form was opened; `current` holds what is stored."""

    def __init__(self, current: RecordRow | None) -> None:
        if current is None:
            super().__init__(
                "the record was deleted by someone else after you opened it",
                "您打开后，该记录已被他人删除",
            )
        else:
            super().__init__(
                f"the record was changed by someone else after you opened it (now version "
                f"{current.version}): nothing was saved; its current values are shown",
                f"您打开后，该记录已被他人修改（当前为第 {current.version} 版）：未保存任何内容；"
                "下面显示的是当前的值",
            )
        self.current = current


@dataclass(frozen=True)
class RecordRow:
    """One stored record: its id, version, kindergarten and its fields as typed values."""

    record_type: RecordType
    id: int
    version: int
    kindergarten_id: int
    values: dict[str, Any]

    def cells(self, language: str = "en") -> dict[str, str]:
        """The fields as text: what a form shows (English codes) or a page (zh labels)."""
        lang = "zh" if language.startswith("zh") else "en"
        return {name: format_cell(name, value, lang) for name, value in self.values.items()}

    @property
    def key(self) -> tuple[Any, ...]:
        return tuple(self.values.get(name) for name in self.record_type.key)

    @property
    def title(self) -> str:
        """How a person names the record: its natural key, without the kindergarten."""
        parts = [str(v) for n, v in zip(self.record_type.key, self.key, strict=True)]
        if self.record_type.name != "kindergartens":
            parts = parts[1:]
        return " / ".join(parts)


@dataclass
class SaveOutcome:
    """What a save did: the record as stored, or the errors by field, or a conflict."""

    row: RecordRow | None = None
    created: bool = False
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> before, after
    errors: dict[str, list[Problem]] = field(default_factory=dict)  # field ("" = row) -> why
    before: RecordRow | None = None

    @property
    def ok(self) -> bool:
        return self.row is not None and not self.errors


def record_type(name: str) -> RecordType:
    if name not in RECORD_TYPES:
        raise NotFound(name)
    return RECORD_TYPES[name]


def _select(rt: RecordType) -> Select[Any]:
    model: Any = rt.model
    return cells_select(rt, model.id, model.version, Kindergarten.id)


def _row(rt: RecordType, result: Any, accounts: Mapping[int, list[str]] | None = None) -> RecordRow:
    names = stored_fields(rt)
    values = dict(zip(names, result, strict=False))
    record_id, version, kg_id = result[len(names) :]
    if rt.name == "kindergartens":
        values["filed_accounts"] = list((accounts or {}).get(kg_id, []))
    return RecordRow(rt, record_id, version, kg_id, values)


def _accounts(session: Session, kg_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for kg_id, account in session.execute(
        select(FiledAccount.kindergarten_id, FiledAccount.account_no)
        .where(FiledAccount.kindergarten_id.in_(kg_ids))
        .order_by(FiledAccount.id)
    ):
        found.setdefault(kg_id, []).append(account)
    return found


def list_records(
    session: Session,
    user: User,
    type_name: str,
    *,
    search: str = "",
    kindergarten_id: int | None = None,
    child_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[RecordRow]:
    """A page of records of one type in the user's region, searched and filtered."""
    rt = record_type(type_name)
    model: Any = rt.model
    statement = _select(rt).where(visible(user))
    if kindergarten_id is not None:
        statement = statement.where(Kindergarten.id == kindergarten_id)
    if child_id is not None and hasattr(model, "child_id"):
        statement = statement.where(model.child_id == child_id)
    search = search.replace("\x00", "").strip()[:100]
    if search:  # % and _ are characters people type, not wildcards
        statement = statement.where(
            or_(
                *(
                    column_of(rt, name).contains(search, autoescape=True)
                    for name in SEARCH_FIELDS[rt.name]
                )
            )
        )
    order: list[ColumnElement[Any]] = []
    for name in ORDER_FIELDS[rt.name]:
        column = column_of(rt, name.lstrip("-"))
        order.append(column.desc() if name.startswith("-") else column)
    statement = statement.order_by(*order, model.id)
    raw = paginate(session, statement, page, per_page, scalars=False)
    accounts = _accounts(session, [r[-1] for r in raw.items]) if rt.name == "kindergartens" else {}
    rows = [_row(rt, r, accounts) for r in raw.items]
    return Page(rows, raw.number, raw.per_page, raw.total)


def get_record(session: Session, user: User, type_name: str, record_id: int) -> RecordRow:
    """One record in the user's region; NotFound otherwise."""
    rt = record_type(type_name)
    model: Any = rt.model
    result = session.execute(_select(rt).where(model.id == record_id, visible(user))).first()
    if result is None:
        raise NotFound(f"{type_name} {record_id}")
    accounts = _accounts(session, [result[-1]]) if rt.name == "kindergartens" else {}
    return _row(rt, result, accounts)


def record_by_key(
    session: Session, user: User, type_name: str, kindergarten_id: int, key: str
) -> RecordRow | None:
    """A record of a kindergarten by the last part of its natural key (a receipt number, a
    child's reference, a funding reference, a refund number): for links from findings."""
    rt = record_type(type_name)
    last = rt.key[-1]
    result = session.execute(
        _select(rt).where(
            visible(user), Kindergarten.id == kindergarten_id, column_of(rt, last) == key
        )
    ).first()
    return None if result is None else _row(rt, result, {})


def form_fields(type_name: str) -> list[str]:
    """The fields a form has: every stored field of spec §2 (and filed accounts)."""
    rt = record_type(type_name)
    return [f.name for f in rt.fields if f.stored]


def key_fields(type_name: str) -> tuple[str, ...]:
    """Fields that identify the record: set when it is created, read-only afterwards."""
    return record_type(type_name).key


def save_record(
    session: Session,
    user: User,
    type_name: str,
    cells: Mapping[str, str],
    taxonomy: FeeItemTaxonomy,
    record_id: int | None = None,
    expected_version: int | None = None,
) -> SaveOutcome:
    """Create (record_id None) or update one record from form cells; the caller commits.

    Raises Conflict when the record changed since `expected_version` (or an update does not say
    which version it was read at), NotFound outside the user's region. Validation and database
    refusals come back as errors by field.
    """
    rt = record_type(type_name)
    model: Any = rt.model
    begin_write(session, import_lock(rt.name))  # forms and imports of a type take turns
    before: RecordRow | None = None
    cells = {name: (cells.get(name) or "") for name in form_fields(type_name)}
    if record_id is not None:
        before = _locked(session, user, rt, record_id)
        if before is None:
            raise Conflict(None) if session.get(model, record_id) is None else NotFound(record_id)
        if before.version != expected_version:  # unknown (None) is as good as stale
            raise Conflict(before)
        for name, cell in before.cells().items():  # the key cannot change: it is the record
            if name in rt.key:
                cells[name] = cell
    outcome = SaveOutcome(before=before)
    record, problems = parse_cells(rt, cells)
    if not problems:
        problems = _reference_problems(session, user, rt, record)
    if not problems and before is None and _exists(session, rt, record):
        visible_one = _find(session, user, rt, {name: record[name] for name in rt.key})
        problems = [
            Problem(
                0,
                rt.key[-1],
                "a record with this key exists already: open it from the list to change it",
                "已有相同唯一键的记录：请从列表中打开它进行修改",
            )
            if visible_one is not None
            else Problem(  # taken outside the user's region: say no more than that
                0,
                rt.key[-1],
                "this key cannot be used: choose another",
                "该唯一键不可使用，请换一个",
            )
        ]
    if problems:
        outcome.errors = _by_field(problems)
        return outcome
    writer = RecordWriter(
        session, rt, Actor.of(user), taxonomy, None, True, user.region_code, fields_given=None
    )
    result = writer.write([(1, record)])
    if result.errors:
        outcome.errors = _by_field(result.errors)
        return outcome
    session.flush()
    key = {name: record.get(name) for name in rt.key}
    stored = _find(session, user, rt, key)
    if stored is None:  # written, then not visible: cannot happen inside the user's region
        raise NotFound(key)
    outcome.row = stored
    outcome.created = before is None
    if before is not None:
        outcome.changed = {
            name: (before.values.get(name), stored.values.get(name))
            for name in stored.values
            if before.values.get(name) != stored.values.get(name)
        }
    return outcome


def delete_record(
    session: Session,
    user: User,
    type_name: str,
    record_id: int,
    taxonomy: FeeItemTaxonomy | None = None,
    expected_version: int | None = None,
) -> RecordRow:
    """Delete one record, refused while other records (or findings) depend on it; audited.

    Returns the record as it was. The caller commits.
    """
    del taxonomy
    rt = record_type(type_name)
    model: Any = rt.model
    begin_write(session, import_lock(rt.name))
    row = _locked(session, user, rt, record_id)
    if row is None:
        raise Conflict(None) if session.get(model, record_id) is None else NotFound(record_id)
    if row.version != expected_version:  # unknown (None) is as good as stale
        raise Conflict(row)
    blocking = dependants(session, rt.name, row)
    if blocking:
        listed_en = ", ".join(f"{n} {what}" for what, n, _zh in blocking)
        listed_zh = "、".join(f"{zh} {n} 条" for _what, n, zh in blocking)
        raise Refused(
            f"it cannot be deleted while other records refer to it ({listed_en}): delete or "
            "change those first; findings are kept as the inspection's history",
            f"仍有其他记录引用它（{listed_zh}），不能删除：请先删除或修改这些记录；"
            "检查发现作为检查历史保留",
        )
    key = history_key(session, row)  # read before the row goes
    if rt.name == "kindergartens":
        session.execute(
            FiledAccount.__table__.delete().where(FiledAccount.kindergarten_id == row.id)
        )
    session.execute(model.__table__.delete().where(model.id == row.id))
    audit.record(
        session,
        Actor.of(user),
        [audit.Change("delete", model.__tablename__, key, row.values, None)],
    )
    return row


def dependants(session: Session, type_name: str, row: RecordRow) -> list[tuple[str, int, str]]:
    """(what, how many, Chinese name) of the records and findings that refer to a record."""
    checks: list[tuple[str, str, Select[Any]]] = []
    if type_name == "kindergartens":
        for model, what, zh in (
            (Child, "children", "幼儿"),
            (FeeStandard, "fee standards", "收费标准"),
            (Charge, "charges", "收费记录"),
            (Funding, "funding records", "财政经费"),
            (Refund, "refunds", "退费"),
            (Absence, "absences", "缺勤"),
            (Inspection, "inspections", "检查"),
            (Finding, "findings", "检查发现"),
        ):
            statement = select(func.count()).where(model.kindergarten_id == row.id)  # type: ignore[attr-defined]
            checks.append((what, zh, statement))
    elif type_name == "children":
        for model, what, zh in (
            (Charge, "charges", "收费记录"),
            (Absence, "absences", "缺勤"),
            (Finding, "findings", "检查发现"),
        ):
            statement = select(func.count()).where(model.child_id == row.id)  # type: ignore[attr-defined]
            checks.append((what, zh, statement))
    elif type_name == "charges":
        checks.append(("refunds", "退费", select(func.count()).where(Refund.charge_id == row.id)))
    found = []
    for what, zh, statement in checks:
        count = int(session.scalar(statement) or 0)
        if count:
            found.append((what, count, zh))
    return found


def history_key(session: Session, row: RecordRow) -> str:
    """The key the audit log files a record under (its natural key in table columns)."""
    rt = row.record_type
    model: Any = rt.model
    columns = _key_columns(rt)
    values = session.execute(
        select(*(getattr(model, c) for c in columns)).where(model.id == row.id)
    ).one()
    return _key_text(dict(zip(columns, values, strict=True)), columns)


def history(session: Session, row: RecordRow, limit: int = 200) -> list[AuditEntry]:
    """The record's audit entries, newest first: who changed what, from what, to what."""
    table = row.record_type.model.__tablename__
    return list(
        session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.table_name == table, AuditEntry.record_key == history_key(session, row)
            )
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class Choices:
    """What a form offers for a kindergarten: its children, filed accounts, fee items, receipts."""

    children: list[tuple[str, str]]  # (child_ref, name)
    accounts: list[str]
    fee_items: list[str]
    receipts: list[str]


def choices(session: Session, user: User, kindergarten_id: int) -> Choices:
    kg = session.get(Kindergarten, kindergarten_id)
    if (
        kg is None
        or session.scalar(
            select(Kindergarten.id).where(Kindergarten.id == kindergarten_id, visible(user))
        )
        is None
    ):
        raise NotFound(kindergarten_id)
    children = [
        (ref, name or "")
        for ref, name in session.execute(
            select(Child.child_ref, Child.name)
            .where(Child.kindergarten_id == kindergarten_id)
            .order_by(Child.left_on.is_not(None), Child.child_ref)
            .limit(2000)
        )
    ]
    accounts = list(
        session.scalars(
            select(FiledAccount.account_no)
            .where(FiledAccount.kindergarten_id == kindergarten_id)
            .order_by(FiledAccount.id)
        )
    )
    items = list(
        session.scalars(
            select(FeeStandard.fee_item)
            .where(FeeStandard.kindergarten_id == kindergarten_id)
            .distinct()
            .order_by(FeeStandard.fee_item)
        )
    )
    receipts = list(
        session.scalars(
            select(Charge.receipt_no)
            .where(Charge.kindergarten_id == kindergarten_id)
            .order_by(Charge.paid_on.desc())
            .limit(500)
        )
    )
    return Choices(children, accounts, items, receipts)


# --- internals --------------------------------------------------------------------------------


def _locked(session: Session, user: User, rt: RecordType, record_id: int) -> RecordRow | None:
    """The record, read under a row lock (PostgreSQL; SQLite writers hold the database lock)."""
    model: Any = rt.model
    statement = _select(rt).where(model.id == record_id, visible(user))
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(of=model)
    result = session.execute(statement).first()
    if result is None:
        return None
    accounts = _accounts(session, [result[-1]]) if rt.name == "kindergartens" else {}
    return _row(rt, result, accounts)


def _find(session: Session, user: User, rt: RecordType, key: Mapping[str, Any]) -> RecordRow | None:
    statement = _select(rt).where(visible(user))
    for name, value in key.items():
        statement = statement.where(column_of(rt, name) == value)
    result = session.execute(statement).first()
    if result is None:
        return None
    accounts = _accounts(session, [result[-1]]) if rt.name == "kindergartens" else {}
    return _row(rt, result, accounts)


def _exists(session: Session, rt: RecordType, record: Mapping[str, Any]) -> bool:
    statement = _select(rt)
    for name in rt.key:
        statement = statement.where(column_of(rt, name) == record[name])
    return session.execute(statement.limit(1)).first() is not None


def _reference_problems(
    session: Session, user: User, rt: RecordType, record: Mapping[str, Any]
) -> list[Problem]:
    """A kindergarten outside the user's region reads as unknown: a form never tells whether a
    code exists elsewhere."""
    code = record.get("kindergarten_code")
    if code is None:
        return []
    found = session.scalar(select(Kindergarten.id).where(Kindergarten.code == code, visible(user)))
    if found is None:
        return [
            Problem(
                0, "kindergarten_code", f"unknown kindergarten {code}", f"园所代码 {code} 不存在"
            )
        ]
    return []


def _by_field(problems: list[Problem]) -> dict[str, list[Problem]]:
    errors: dict[str, list[Problem]] = {}
    for problem in problems:
        errors.setdefault(problem.column or "", []).append(problem)
    return errors

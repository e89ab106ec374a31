"""Writing records: resolve references, upsert by natural key in bulk, audit what changed.

Every writer of records (CSV import, web forms, the demo) goes through upsert_records().
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any

from sqlalchemy import Table, insert, select, tuple_, update
from sqlalchemy.orm import Session

from feecheck.domain.categories import Collector, Hardship
from feecheck.domain.fee_items import FeeItemTaxonomy
from feecheck.models import AuditEntry, Charge, Child, FiledAccount, Kindergarten, User
from feecheck.services.record_types import RecordType

CHUNK = 2000


@dataclass(frozen=True)
class RowError:
    index: int  # the caller's row number (CSV line, form, demo sequence)
    column: str
    reason: str


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.index for e in self.errors})

    def add(self, other: UpsertResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)


@dataclass
class Actor:
    """Who writes: a user, or a named system actor (demo, import job)."""

    name: str
    user_id: int | None = None

    @classmethod
    def of(cls, user: User | None, fallback: str = "system") -> Actor:
        return cls(user.username, user.id) if user else cls(fallback)


class _References:
    """Resolves natural references to ids, a chunk at a time, with caches across chunks."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.kindergartens: dict[str, int] = {}
        self.children: dict[tuple[int, str], int] = {}
        self.charges: dict[tuple[int, str], int] = {}

    def preload(self, records: list[tuple[int, dict[str, Any]]]) -> None:
        codes = {r["kindergarten_code"] for _, r in records if "kindergarten_code" in r}
        missing = codes - self.kindergartens.keys()
        if missing:
            rows = self.session.execute(
                select(Kindergarten.code, Kindergarten.id).where(Kindergarten.code.in_(missing))
            )
            self.kindergartens.update({code: id_ for code, id_ in rows})
        self._preload_pairs(records, "child_ref", self.children, Child.child_ref, Child)
        self._preload_pairs(records, "receipt_no", self.charges, Charge.receipt_no, Charge)

    def _preload_pairs(self, records, ref_field, cache, ref_column, model) -> None:  # type: ignore[no-untyped-def]
        pairs = {
            (kg_id, r[ref_field])
            for _, r in records
            if ref_field in r and (kg_id := self.kindergartens.get(r["kindergarten_code"]))
        } - cache.keys()
        if pairs:
            rows = self.session.execute(
                select(model.kindergarten_id, ref_column, model.id).where(
                    tuple_(model.kindergarten_id, ref_column).in_(pairs)
                )
            )
            cache.update({(kg, ref): id_ for kg, ref, id_ in rows})


def _columns(
    record_type: RecordType,
    record: dict[str, Any],
    refs: _References,
    taxonomy: FeeItemTaxonomy | None,
) -> tuple[dict[str, Any], RowError | None]:
    """Turn a typed record into table columns, resolving references; index filled by caller."""
    values = dict(record)
    values.pop("filed_accounts", None)
    if "kindergarten_code" in values:
        code = values.pop("kindergarten_code")
        kg_id = refs.kindergartens.get(code)
        if kg_id is None:
            return {}, RowError(0, "kindergarten_code", f"unknown kindergarten {code}")
        values["kindergarten_id"] = kg_id
        if record_type.name in ("charges", "absences"):
            ref = values.pop("child_ref")
            child_id = refs.children.get((kg_id, ref))
            if child_id is None:
                return {}, RowError(0, "child_ref", f"unknown child {ref} in kindergarten {code}")
            values["child_id"] = child_id
        if record_type.name == "refunds":
            receipt = values.pop("receipt_no")
            charge_id = refs.charges.get((kg_id, receipt))
            if charge_id is None:
                return {}, RowError(
                    0, "receipt_no", f"unknown receipt {receipt} in kindergarten {code}"
                )
            values["charge_id"] = charge_id
    if "fee_item" in values and taxonomy is not None:
        values["item_category"] = taxonomy.classify(values["fee_item"])
    _apply_defaults(record_type, values)
    return values, None


def _apply_defaults(record_type: RecordType, values: dict[str, Any]) -> None:
    """Empty optional cells take the model's defaults, so that re-imports compare equal."""
    defaults: dict[str, dict[str, Any]] = {
        "kindergartens": {"boarding": False, "capacity": None},
        "children": {
            "name": None,
            "birth_date": None,
            "final_year": None,
            "left_on": None,
            "boarding": False,
            "hardship": Hardship.NONE.value,
        },
        "fee-standards": {"effective_to": None, "approval_ref": None},
        "charges": {"collector": Collector.KINDERGARTEN.value},
        "refunds": {"reason": None},
        "inspections": {"notes": None},
    }
    for name, default in defaults.get(record_type.name, {}).items():
        values.setdefault(name, default)


def _key_columns(record_type: RecordType) -> list[str]:
    """The natural key in table columns (absences are keyed by child, the rest by kindergarten)."""
    child_column = "child_id" if record_type.name == "absences" else "child_ref"
    renames = {"kindergarten_code": "kindergarten_id", "child_ref": child_column}
    return [renames.get(k, k) for k in record_type.key]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def upsert_records(
    session: Session,
    record_type: RecordType,
    records: Iterable[tuple[int, dict[str, Any]]],
    actor: Actor,
    taxonomy: FeeItemTaxonomy | None = None,
    import_batch_id: int | None = None,
    audit_creations: bool = True,
) -> UpsertResult:
    """Insert new records, update changed ones, count unchanged ones, by natural key.

    `records` are (row index, typed record) pairs. Rows are written in chunks with Core
    statements inside the caller's transaction; the caller commits or rolls back.
    """
    table: Table = record_type.model.__table__  # type: ignore[assignment]
    key_cols = _key_columns(record_type)
    refs = _References(session)
    result = UpsertResult()
    seen: dict[tuple[Any, ...], int] = {}
    for chunk in _chunks(records, CHUNK):
        refs.preload(chunk)
        result.add(
            _upsert_chunk(
                session,
                record_type,
                table,
                key_cols,
                chunk,
                refs,
                taxonomy,
                seen,
                actor,
                import_batch_id,
                audit_creations,
            )
        )
    return result


def _upsert_chunk(
    session,
    record_type,
    table,
    key_cols,
    chunk,
    refs,
    taxonomy,
    seen,
    actor,  # type: ignore[no-untyped-def]
    import_batch_id,
    audit_creations,
) -> UpsertResult:
    result = UpsertResult()
    prepared: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for index, record in chunk:
        values, error = _columns(record_type, record, refs, taxonomy)
        if error:
            result.errors.append(RowError(index, error.column, error.reason))
            continue
        key = tuple(values[c] for c in key_cols)
        if key in seen:
            result.errors.append(
                RowError(
                    index, record_type.key[-1], f"duplicate of row {seen[key]} (same natural key)"
                )
            )
            continue
        seen[key] = index
        prepared.append((index, record, values))
    if not prepared:
        return result

    key_expr = tuple_(*(table.c[c] for c in key_cols))
    existing = {
        tuple(row[c] for c in key_cols): row
        for row in session.execute(
            select(table).where(
                key_expr.in_([tuple(v[c] for c in key_cols) for _, _, v in prepared])
            )
        ).mappings()
    }
    inserts: list[dict[str, Any]] = []
    unchanged: list[dict[str, Any]] = []
    updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for _index, _record, values in prepared:
        row = existing.get(tuple(values[c] for c in key_cols))
        if row is None:
            inserts.append(values)
            continue
        changed = {c: v for c, v in values.items() if row[c] != v}
        if changed:
            updates.append((dict(row), changed))
        else:
            unchanged.append(values)
    if inserts:
        session.execute(insert(table), inserts)
        result.created += len(inserts)
    for row, changed in updates:
        session.execute(update(table).where(table.c.id == row["id"]).values(**changed))
    if record_type.name == "kindergartens":
        accounts_changed = _sync_filed_accounts(session, [(r, v) for _, r, v in prepared])
        moved = [v for v in unchanged if v["code"] in accounts_changed]
        unchanged = [v for v in unchanged if v["code"] not in accounts_changed]
        updates.extend(({"code": v["code"]}, {"filed_accounts": "changed"}) for v in moved)
    result.updated += len(updates)
    result.unchanged += len(unchanged)
    _audit(
        session,
        record_type,
        key_cols,
        inserts if audit_creations else [],
        updates,
        actor,
        import_batch_id,
    )
    return result


def _sync_filed_accounts(
    session: Session, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> set[str]:
    """Make each kindergarten's filed accounts equal the given list (when the cell is given).

    Returns the codes whose accounts changed.
    """
    given = {v["code"]: r["filed_accounts"] for r, v in pairs if "filed_accounts" in r}
    if not given:
        return set()
    ids = {
        code: id_
        for code, id_ in session.execute(
            select(Kindergarten.code, Kindergarten.id).where(Kindergarten.code.in_(list(given)))
        )
    }
    current: dict[int, set[str]] = {}
    for kg_id, account in session.execute(
        select(FiledAccount.kindergarten_id, FiledAccount.account_no).where(
            FiledAccount.kindergarten_id.in_(list(ids.values()))
        )
    ):
        current.setdefault(kg_id, set()).add(account)
    changed: set[str] = set()
    for code, accounts in given.items():
        kg_id = ids[code]
        have, want = current.get(kg_id, set()), set(accounts)
        if have == want:
            continue
        changed.add(code)
        for account in have - want:
            session.execute(
                FiledAccount.__table__.delete().where(
                    FiledAccount.kindergarten_id == kg_id, FiledAccount.account_no == account
                )
            )
        if want - have:
            session.execute(
                insert(FiledAccount),
                [{"kindergarten_id": kg_id, "account_no": a} for a in sorted(want - have)],
            )
    return changed


def _audit(session, record_type, key_cols, inserts, updates, actor, import_batch_id) -> None:  # type: ignore[no-untyped-def]
    entries = [
        {
            "actor": actor.name,
            "user_id": actor.user_id,
            "action": "create",
            "table_name": record_type.model.__tablename__,
            "record_key": "/".join(str(v[c]) for c in key_cols),
            "before": None,
            "after": {k: _jsonable(x) for k, x in v.items()},
            "import_batch_id": import_batch_id,
        }
        for v in inserts
    ] + [
        {
            "actor": actor.name,
            "user_id": actor.user_id,
            "action": "update",
            "table_name": record_type.model.__tablename__,
            "record_key": "/".join(str(row[c]) for c in key_cols),
            "before": {k: _jsonable(row.get(k)) for k in changed},
            "after": {k: _jsonable(x) for k, x in changed.items()},
            "import_batch_id": import_batch_id,
        }
        for row, changed in updates
    ]
    if entries:
        session.execute(insert(AuditEntry), entries)

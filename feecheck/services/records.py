"""Writing records: resolve references, upsert by natural key in bulk, audit what changed.

Every writer of records (CSV import, web forms, the demo) goes through upsert_records().
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    MetaData,
    Table,
    and_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from feecheck.domain.categories import Collector, Hardship
from feecheck.domain.fee_items import FeeItemTaxonomy
from feecheck.domain.money import money
from feecheck.domain.regions import within
from feecheck.models import AuditEntry, Charge, Child, FiledAccount, Kindergarten, User
from feecheck.models.types import Money
from feecheck.services.record_types import RecordType

CHUNK = 2000


@dataclass(frozen=True)
class RowError:
    index: int  # the caller's row number (CSV line, form, demo sequence)
    column: str
    reason: str  # English
    reason_zh: str = ""

    @property
    def text(self) -> str:
        """Both languages, Chinese first (as CellError.text)."""
        return f"{self.reason_zh} / {self.reason}" if self.reason_zh else self.reason


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

    def __init__(
        self, session: Session, record_type_name: str = "", region_code: str | None = None
    ) -> None:
        self.session = session
        self.region_code = region_code
        self.needs_children = record_type_name in ("charges", "absences")
        self.needs_charges = record_type_name == "refunds"
        self.kindergartens: dict[str, int] = {}
        self.outside: dict[str, str] = {}  # code -> region, for kindergartens out of scope
        self.children: dict[tuple[int, str], int] = {}
        self.children_of: set[int] = set()  # kindergartens whose children are all loaded
        self.charges: dict[tuple[int, str], int] = {}

    def preload(self, records: list[tuple[int, dict[str, Any]]]) -> None:
        codes = {r["kindergarten_code"] for _, r in records if "kindergarten_code" in r}
        missing = codes - self.kindergartens.keys()
        if missing:
            rows = self.session.execute(
                select(Kindergarten.code, Kindergarten.id, Kindergarten.region_code).where(
                    Kindergarten.code.in_(missing)
                )
            )
            for code, id_, region in rows:
                self.kindergartens[code] = id_
                if not within(region, self.region_code):
                    self.outside[code] = region
        kg_ids = {self.kindergartens[c] for c in codes if c in self.kindergartens}
        if self.needs_children and kg_ids - self.children_of:
            # All children of each new kindergarten at once: a few hundred rows per kindergarten,
            # one indexed query, instead of a (kindergarten, child) IN list per chunk.
            new = kg_ids - self.children_of
            rows = self.session.execute(
                select(Child.kindergarten_id, Child.child_ref, Child.id).where(
                    Child.kindergarten_id.in_(new)
                )
            )
            self.children.update({(kg, ref): id_ for kg, ref, id_ in rows})
            self.children_of |= new
        if self.needs_charges:
            pairs = {
                (kg_id, r["receipt_no"])
                for _, r in records
                if (kg_id := self.kindergartens.get(r["kindergarten_code"]))
            } - self.charges.keys()
            if pairs:
                rows = self.session.execute(
                    select(Charge.kindergarten_id, Charge.receipt_no, Charge.id).where(
                        Charge.kindergarten_id.in_({kg for kg, _ in pairs}),
                        Charge.receipt_no.in_({ref for _, ref in pairs}),
                    )
                )
                self.charges.update({(kg, ref): id_ for kg, ref, id_ in rows if (kg, ref) in pairs})


def _columns(
    record_type: RecordType,
    record: dict[str, Any],
    refs: _References,
    classify: Callable[[str], str] | None,
) -> tuple[dict[str, Any], RowError | None]:
    """Turn a typed record into table columns, resolving references; index filled by caller."""
    values = dict(record)
    values.pop("filed_accounts", None)
    if "kindergarten_code" in values:
        code = values.pop("kindergarten_code")
        kg_id = refs.kindergartens.get(code)
        if kg_id is None:
            return {}, RowError(
                0,
                "kindergarten_code",
                f"unknown kindergarten {code}",
                f"园所代码 {code} 不存在（数据库和本文件前面的行中都没有）",
            )
        if code in refs.outside:
            return {}, _outside_error("kindergarten_code", code, refs)
        values["kindergarten_id"] = kg_id
        if record_type.name in ("charges", "absences"):
            ref = values.pop("child_ref")
            child_id = refs.children.get((kg_id, ref))
            if child_id is None:
                return {}, RowError(
                    0,
                    "child_ref",
                    f"unknown child {ref} in kindergarten {code}",
                    f"园所 {code} 没有幼儿编号为 {ref} 的幼儿",
                )
            values["child_id"] = child_id
        if record_type.name == "refunds":
            receipt = values.pop("receipt_no")
            charge_id = refs.charges.get((kg_id, receipt))
            if charge_id is None:
                return {}, RowError(
                    0,
                    "receipt_no",
                    f"unknown receipt {receipt} in kindergarten {code}",
                    f"园所 {code} 没有票据号为 {receipt} 的收费记录",
                )
            values["charge_id"] = charge_id
    elif record_type.name == "kindergartens" and not within(
        values["region_code"], refs.region_code
    ):
        return {}, _outside_error("region_code", values["code"], refs)
    if "fee_item" in values and classify is not None:
        values["item_category"] = classify(values["fee_item"])
    for name, default in _DEFAULTS.get(record_type.name, ()):
        values.setdefault(name, default)
    return values, None


def _outside_error(column: str, code: str, refs: _References) -> RowError:
    return RowError(
        0,
        column,
        f"kindergarten {code} is outside your region {refs.region_code}",
        f"园所 {code} 不在您的辖区 {refs.region_code} 内",
    )


# Empty optional cells take the model's defaults, so that re-imports compare equal.
_DEFAULTS: dict[str, tuple[tuple[str, Any], ...]] = {
    "kindergartens": (("boarding", False), ("capacity", None)),
    "children": (
        ("name", None),
        ("birth_date", None),
        ("final_year", None),
        ("left_on", None),
        ("boarding", False),
        ("hardship", Hardship.NONE.value),
    ),
    "fee-standards": (("effective_to", None), ("approval_ref", None)),
    "charges": (("collector", Collector.KINDERGARTEN.value),),
    "refunds": (("reason", None),),
    "inspections": (("notes", None),),
}


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
    region_code: str | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK,
) -> UpsertResult:
    """Insert new records, update changed ones, count unchanged ones, by natural key.

    `records` are (row index, typed record) pairs. Rows are written in chunks with Core
    statements (COPY for new rows on PostgreSQL) inside the caller's transaction; the caller
    commits or rolls back. `region_code` limits the rows to kindergartens inside that region
    (None: everywhere); rows outside are errors. `progress` is called with the number of
    records handled so far after every chunk.
    """
    writer = RecordWriter(
        session, record_type, actor, taxonomy, import_batch_id, audit_creations, region_code
    )
    result = UpsertResult()
    done = 0
    for chunk in _chunks(records, chunk_size):
        result.add(writer.write(chunk))
        done += len(chunk)
        if progress is not None:
            progress(done)
    return result


class RecordWriter:
    """Upserts chunks of records of one type, remembering references and keys across chunks.

    upsert_records() drives it; the CSV importer drives it chunk by chunk, so that it can stream
    row errors and progress instead of collecting them.
    """

    def __init__(
        self,
        session: Session,
        record_type: RecordType,
        actor: Actor,
        taxonomy: FeeItemTaxonomy | None,
        import_batch_id: int | None,
        audit_creations: bool,
        region_code: str | None,
        fields_given: Collection[str] | None = None,
    ) -> None:
        self.session = session
        self.record_type = record_type
        self.table: Table = record_type.model.__table__  # type: ignore[assignment]
        self.key_cols = _key_columns(record_type)
        self.refs = _References(session, record_type.name, region_code)
        self.classify = lru_cache(maxsize=4096)(taxonomy.classify) if taxonomy else None
        self.rows = _WrittenRows()
        self.actor = actor
        self.import_batch_id = import_batch_id
        self.audit_creations = audit_creations
        self.region_code = region_code
        # Optional fields a CSV file has no column for: new rows take the defaults, existing
        # rows keep what they have (an empty cell, by contrast, does reset the field).
        self.keep = {
            name
            for name, _ in _DEFAULTS.get(record_type.name, ())
            if fields_given is not None and name not in fields_given
        }
        self.bulk = _Bulk(session, self.table, self.key_cols)

    def write(self, chunk: list[tuple[int, dict[str, Any]]]) -> UpsertResult:
        """Upsert one chunk of (row index, typed record); returns its counts and row errors."""
        self.refs.preload(chunk)
        record_type, key_cols = self.record_type, self.key_cols
        if self.rows.floor is None:
            self.rows.start(self._max_id())
        seen: dict[tuple[Any, ...], int] = {}  # keys of this chunk; earlier chunks: self.rows
        result = UpsertResult()
        prepared: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        for index, record in chunk:
            values, error = _columns(record_type, record, self.refs, self.classify)
            if error:
                result.errors.append(RowError(index, error.column, error.reason, error.reason_zh))
                continue
            key = tuple([values[c] for c in key_cols])
            first = seen.get(key)
            if first is not None:
                result.errors.append(self._duplicate(index, first))
                continue
            seen[key] = index
            prepared.append((index, record, values))
        if not prepared:
            return result

        existing = self.bulk.existing([tuple([v[c] for c in key_cols]) for _, _, v in prepared])
        inserts: list[dict[str, Any]] = []
        unchanged: list[dict[str, Any]] = []
        updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
        kept: list[tuple[dict[str, Any], dict[str, Any]]] = []
        new_lines: list[int] = []
        for index, record, values in prepared:
            row = existing.get(tuple([values[c] for c in key_cols])) if existing else None
            if row is None:
                inserts.append(values)
                new_lines.append(index)
            elif (first := self.rows.first_line(row["id"])) is not None:
                result.errors.append(self._duplicate(index, first))
                continue
            elif record_type.name == "kindergartens" and not within(
                row["region_code"], self.region_code
            ):
                error = _outside_error("code", values["code"], self.refs)
                result.errors.append(RowError(index, error.column, error.reason, error.reason_zh))
                continue
            else:
                self.rows.touch(row["id"], index)
                changed = {c: v for c, v in values.items() if row[c] != v and c not in self.keep}
                if changed:
                    updates.append((dict(row), changed))
                else:
                    unchanged.append(values)
            kept.append((record, values))
        if inserts:
            self._insert(inserts, new_lines)
            result.created += len(inserts)
        self._update(updates)
        if record_type.name == "kindergartens":
            accounts_changed = _sync_filed_accounts(self.session, kept)
            moved = [v for v in unchanged if v["code"] in accounts_changed]
            unchanged = [v for v in unchanged if v["code"] not in accounts_changed]
            updates.extend(({"code": v["code"]}, {"filed_accounts": "changed"}) for v in moved)
        result.updated += len(updates)
        result.unchanged += len(unchanged)
        _audit(
            self.session,
            record_type,
            key_cols,
            inserts if self.audit_creations else [],
            updates,
            self.actor,
            self.import_batch_id,
        )
        return result

    def _duplicate(self, index: int, first: int | None) -> RowError:
        where_en = f"row {first}" if first else "an earlier row"
        where_zh = f"第 {first} 行" if first else "前面的行"
        return RowError(
            index,
            self.record_type.key[-1],
            f"duplicate of {where_en} (same natural key)",
            f"与{where_zh}重复（唯一键相同）",
        )

    def _max_id(self) -> int:
        return self.session.scalar(select(func.max(self.table.c.id))) or 0

    def _insert(self, rows: list[dict[str, Any]], lines: list[int]) -> None:
        before = self.rows.max_id
        self.bulk.insert(rows)
        after = self._max_id()
        if after - before == len(rows):  # ids were handed out in order, as they are when alone
            self.rows.created(before + 1, after, lines)
        else:  # another writer took ids in between: ask for ours
            found = self.bulk.existing([tuple([r[c] for c in self.key_cols]) for r in rows])
            for row, line in zip(rows, lines, strict=True):
                key = tuple([row[c] for c in self.key_cols])
                self.rows.touch(found[key]["id"], line, created=True)
        self.rows.max_id = after

    def _update(self, updates: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        """One executemany per set of changed columns, not one statement per row."""
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row, changed in updates:
            params = {f"new_{c}": v for c, v in changed.items()}
            params["row_id"] = row["id"]
            groups.setdefault(tuple(sorted(changed)), []).append(params)
        for columns, params in groups.items():
            statement = (
                update(self.table)
                .where(self.table.c.id == bindparam("row_id"))
                .values({c: bindparam(f"new_{c}") for c in columns})
            )
            self.session.connection().execute(statement, params)


class _WrittenRows:
    """Which rows this writer has written, and from which line: for duplicates across chunks.

    A dict of every natural key seen would hold ~200 bytes a row (200 MB for a million rows).
    Rows written earlier in the import are in the database already, so the existing-row lookup
    finds them; this only has to tell "written by this import" from "was there before":
    - ids up to `floor` (the largest id before the import) existed: a bitmap marks the touched;
    - new rows get consecutive ids when the database hands them out in order: one range per
      chunk, with the lines in an array (4 bytes a row);
    - anything else (ids taken by a concurrent writer) goes into plain arrays.
    """

    def __init__(self) -> None:
        self.floor: int | None = None
        self.max_id = 0
        self.touched = bytearray()
        self.ranges: list[tuple[int, int, int]] = []  # (first id, last id, offset in lines)
        self.range_lines = array("l")
        self.ids = array("q")
        self.lines = array("l")

    def start(self, max_id: int) -> None:
        self.floor = self.max_id = max_id
        self.touched = bytearray(max_id // 8 + 1)

    def created(self, first: int, last: int, lines: list[int]) -> None:
        self.ranges.append((first, last, len(self.range_lines)))
        self.range_lines.extend(lines)

    def touch(self, row_id: int, line: int, created: bool = False) -> None:
        if not created and row_id <= (self.floor or 0):
            self.touched[row_id >> 3] |= 1 << (row_id & 7)
        self.ids.append(row_id)
        self.lines.append(line)

    def first_line(self, row_id: int) -> int | None:
        """The line that wrote this row earlier in the import, or None if it did not."""
        floor = self.floor or 0
        if row_id <= floor:
            if not self.touched[row_id >> 3] & (1 << (row_id & 7)):
                return None
        else:
            for first, last, offset in self.ranges:
                if first <= row_id <= last:
                    return self.range_lines[offset + row_id - first]
        try:
            return self.lines[self.ids.index(row_id)]
        except ValueError:
            return None


class _Bulk:
    """The hot path of big imports, below the ORM and Core's per-row parameter handling.

    - existing(): the chunk's natural keys go into a temporary table (COPY on PostgreSQL,
      executemany on SQLite) and one join on the unique index finds the rows that exist. A
      `(a, b) IN (...)` list of thousands of tuples costs more to compile than to run, and
      PostgreSQL plans it as a scan.
    - insert(): new rows as positional tuples through the column types' own bind processors
      (Money becomes fen on SQLite), then one executemany; COPY on PostgreSQL.
    """

    def __init__(self, session: Session, table: Table, key_cols: list[str]) -> None:
        self.session = session
        self.table = table
        self.key_cols = key_cols
        self.dialect = session.get_bind().dialect
        self.postgres = self.dialect.name == "postgresql"
        self.keys = Table(
            f"tmp_import_keys_{table.name}",
            MetaData(),
            *(Column(f"k{i}", table.c[c].type) for i, c in enumerate(key_cols)),
            prefixes=["TEMPORARY"],
        )
        self.keys_ready = False
        self.columns = [c for c in table.columns if not c.primary_key]
        self.processors = [_bind_processor(c, self.dialect) for c in self.columns]
        self.key_processors = [_bind_processor(table.c[c], self.dialect) for c in key_cols]

    def existing(self, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
        if not keys:
            return {}
        connection = self.session.connection()
        if not self.keys_ready:
            connection.execute(CreateTable(self.keys, if_not_exists=True))
            self.keys_ready = True
        if self.postgres:
            # TRUNCATE, not DELETE: autovacuum never visits temporary tables, so deleted rows
            # would pile up chunk after chunk and every join would scan them all.
            connection.exec_driver_sql(f'TRUNCATE "{self.keys.name}"')
        else:
            connection.execute(self.keys.delete())
        self._load(self.keys.name, list(self.keys.columns), keys, self.key_processors)
        table = self.table
        joined = select(table).join(
            self.keys,
            and_(*(table.c[c] == self.keys.c[f"k{i}"] for i, c in enumerate(self.key_cols))),
        )
        if self.postgres:
            # Inside the import the planner's statistics lag behind the rows just written and
            # it picks a hash join over a sequential scan of the whole table, chunk after chunk
            # (quadratic: 1M new charges took 2 minutes). Probe the unique index instead.
            connection.exec_driver_sql(f'ANALYZE "{self.keys.name}"')
            connection.exec_driver_sql("SET LOCAL enable_hashjoin = off")
            connection.exec_driver_sql("SET LOCAL enable_mergejoin = off")
        try:
            return {
                tuple([row[c] for c in self.key_cols]): row
                for row in connection.execute(joined).mappings()
            }
        finally:
            if self.postgres:
                connection.exec_driver_sql("SET LOCAL enable_hashjoin = on")
                connection.exec_driver_sql("SET LOCAL enable_mergejoin = on")

    def insert(self, rows: list[dict[str, Any]]) -> None:
        names = [c.name for c in self.columns]
        defaults = _python_defaults(self.columns)
        pick = itemgetter(*names)
        convert = [] if self.postgres else [(i, p) for i, p in enumerate(self.processors) if p]
        tuples: list[tuple[Any, ...]] = []
        for row in rows:
            values = pick({**defaults, **row} if defaults else row)
            if convert:
                cells = list(values)
                for i, process in convert:
                    cells[i] = process(cells[i])
                values = tuple(cells)
            tuples.append(values)
        self._load(self.table.name, self.columns, tuples)

    def _load(
        self,
        table_name: str,
        columns: list[Column[Any]],
        rows: list[tuple[Any, ...]],
        processors: list[Any] | None = None,
    ) -> None:
        """Rows (tuples in column order, bind-processed unless `processors` are given) in bulk."""
        connection = self.session.connection()
        quoted = ", ".join(f'"{c.name}"' for c in columns)
        if self.postgres:
            driver: Any = connection.connection.driver_connection
            with (
                driver.cursor() as cursor,
                cursor.copy(f'COPY "{table_name}" ({quoted}) FROM STDIN') as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        if processors and any(processors):
            functions = [p or _same for p in processors]
            rows = [tuple([f(v) for f, v in zip(functions, row, strict=True)]) for row in rows]
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(f'INSERT INTO "{table_name}" ({quoted}) VALUES ({marks})', rows)


def _same(value: Any) -> Any:
    return value


def _iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _fen(value: Decimal | None) -> int | None:
    return None if value is None else int(money(value) * 100)


def _bind_processor(column: Column[Any], dialect: Any) -> Any:
    """The dialect's own conversion for a column (dates to ISO text and Money to fen on SQLite).

    On SQLite, dates and money take the same conversion through shorter functions: these run
    for every cell of a million-row import.
    """
    if dialect.name == "sqlite":
        if isinstance(column.type, Money):
            return _fen
        if type(column.type) is Date:
            return _iso_date
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _python_defaults(columns: list[Column[Any]]) -> dict[str, Any]:
    """Values for columns whose defaults SQLAlchemy fills in Python (timestamps, flags)."""
    defaults: dict[str, Any] = {}
    for column in columns:
        default: Any = column.default
        if default is None:
            continue
        if default.is_callable:
            defaults[column.name] = default.arg(None)
        elif default.is_scalar:
            defaults[column.name] = default.arg
    return defaults


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

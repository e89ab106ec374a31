"""Writing records: resolve references, upsert by natural key in bulk, audit what changed.

Every writer of records (CSV import, web forms, the demo) goes through upsert_records() or a
RecordWriter; rows are validated first by record_types.parse_cells (one validation path), the
hot path is services/bulk.py, and every change goes through services/audit.record().
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache
from itertools import islice
from operator import itemgetter
from typing import Any

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from feecheck.domain.categories import Collector, Hardship
from feecheck.domain.fee_items import FeeItemTaxonomy
from feecheck.domain.reasons import Problem
from feecheck.domain.regions import within
from feecheck.models import Charge, Child, FiledAccount, Kindergarten, Refund
from feecheck.services import audit
from feecheck.services.audit import Actor
from feecheck.services.bulk import BulkWriter, WrittenRows
from feecheck.services.locks import is_busy
from feecheck.services.record_types import RecordType

CHUNK = 2000

__all__ = ["CHUNK", "Actor", "RecordWriter", "UpsertResult", "upsert_records"]


@dataclass
class UpsertResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[Problem] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len({e.line for e in self.errors})

    def add(self, other: UpsertResult) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.errors.extend(other.errors)


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
        self.charge_terms: dict[int, tuple[Decimal, date]] = {}  # charge id -> amount, paid on
        self.charge_child: dict[int, str] = {}  # charge id -> the child it was paid for
        self.refunded: dict[int, dict[str, Decimal]] = {}  # charge id -> refund no -> amount

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
                    select(
                        Charge.kindergarten_id,
                        Charge.receipt_no,
                        Charge.id,
                        Charge.amount,
                        Charge.paid_on,
                        Child.child_ref,
                    )
                    .join(Child, Child.id == Charge.child_id)
                    .where(
                        Charge.kindergarten_id.in_({kg for kg, _ in pairs}),
                        Charge.receipt_no.in_({ref for _, ref in pairs}),
                    )
                )
                found = {}
                for kg, ref, id_, amount, paid_on, child_ref in rows:
                    if (kg, ref) in pairs:
                        self.charges[(kg, ref)] = id_
                        self.charge_terms[id_] = (amount, paid_on)
                        self.charge_child[id_] = child_ref
                        found[id_] = {}
                for charge_id, refund_no, amount in self.session.execute(
                    select(Refund.charge_id, Refund.refund_no, Refund.amount).where(
                        Refund.charge_id.in_(list(found))
                    )
                ):
                    found[charge_id][refund_no] = amount
                self.refunded.update(found)


def _columns(
    record_type: RecordType,
    record: dict[str, Any],
    refs: _References,
    classify: Callable[[str], str] | None,
) -> tuple[dict[str, Any], Problem | None]:
    """Turn a typed record into table columns, resolving references; index filled by caller."""
    values = dict(record)
    values.pop("filed_accounts", None)
    for name in record_type.not_stored:
        values.pop(name, None)
    if "kindergarten_code" in values:
        code = values.pop("kindergarten_code")
        kg_id = refs.kindergartens.get(code)
        if kg_id is None:
            return {}, Problem(
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
                return {}, Problem(
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
                return {}, Problem(
                    0,
                    "receipt_no",
                    f"unknown receipt {receipt} in kindergarten {code}",
                    f"园所 {code} 没有票据号为 {receipt} 的收费记录",
                )
            values["charge_id"] = charge_id
            problem = _refund_problem(values, receipt, refs, record.get("child_ref"))
            if problem is not None:
                return {}, problem
    elif record_type.name == "kindergartens" and not within(
        values["region_code"], refs.region_code
    ):
        return {}, _outside_error("region_code", values["code"], refs)
    if "fee_item" in values and classify is not None:
        values["item_category"] = classify(values["fee_item"])
    for name, default in _DEFAULTS.get(record_type.name, ()):
        values.setdefault(name, default)
    return values, None


def _refunded_problem(
    row: dict[str, Any], values: dict[str, Any], refunded: tuple[Decimal, date] | None
) -> Problem | None:
    """A charge's update may not leave its refunds larger than it, or earlier than its payment."""
    if refunded is None:
        return None
    total, first = refunded
    receipt = values["receipt_no"]
    if values["amount"] < total:
        return Problem(
            0,
            "amount",
            f"receipt {receipt} has {total:.2f} refunded already: its amount cannot become "
            f"{values['amount']:.2f}",
            f"票据 {receipt} 已退 {total:.2f} 元，金额不能改为 {values['amount']:.2f} 元",
        )
    if values["paid_on"] > first:
        return Problem(
            0,
            "paid_on",
            f"receipt {receipt} has a refund dated {first}: it cannot have been paid on "
            f"{values['paid_on']}",
            f"票据 {receipt} 已有 {first} 的退费，缴费日期不能改为 {values['paid_on']}",
        )
    return None


def _refund_problem(
    values: dict[str, Any], receipt: str, refs: _References, child_ref: str | None
) -> Problem | None:
    """A refund is proof of money returned: to the child who paid, never before the payment,
    never more than it."""
    charge_id = values["charge_id"]
    amount, paid_on = refs.charge_terms[charge_id]
    paid_by = refs.charge_child.get(charge_id)
    if child_ref and paid_by is not None and child_ref != paid_by:
        return Problem(
            0,
            "child_ref",
            f"receipt {receipt} was paid for child {paid_by}, not {child_ref}: a refund is "
            "recorded against the receipt of the child it is returned to",
            f"票据 {receipt} 是幼儿 {paid_by} 的缴费，不是 {child_ref} 的："
            "退费只能记在退还对象本人的票据上",
        )
    if values["refunded_on"] < paid_on:
        return Problem(
            0,
            "refunded_on",
            f"refunded on {values['refunded_on']}, before receipt {receipt} was paid on {paid_on}",
            f"退费日期 {values['refunded_on']} 早于票据 {receipt} 的缴费日期 {paid_on}",
        )
    others = refs.refunded.setdefault(charge_id, {})
    before = sum((a for no, a in others.items() if no != values["refund_no"]), Decimal(0))
    if before + values["amount"] > amount:
        return Problem(
            0,
            "amount",
            f"refunds against receipt {receipt} would total {before + values['amount']:.2f}, "
            f"more than its {amount:.2f} (already refunded {before:.2f})",
            f"票据 {receipt} 的退费合计将达 {before + values['amount']:.2f} 元，超过票据金额 "
            f"{amount:.2f} 元（此前已退 {before:.2f} 元）",
        )
    others[values["refund_no"]] = values["amount"]
    return None


def _outside_error(column: str, code: str, refs: _References) -> Problem:
    return Problem(
        0,
        column,
        f"kindergarten {code} is outside your region {refs.region_code}",
        f"园所 {code} 不在您的辖区 {refs.region_code} 内",
    )


# Empty optional cells take the model's defaults, so that re-imports compare equal.
_DEFAULTS: dict[str, tuple[tuple[str, Any], ...]] = {
    "kindergartens": (("boarding", False), ("capacity", None), ("grade", None)),
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
        self.rows = WrittenRows()
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
        self.bulk = BulkWriter(session, self.table, self.key_cols)
        self.key_of = _key_getter(self.key_cols)
        self.expect_new = True  # the last chunk's rows were all new: try inserting the next
        self.taxonomy = taxonomy
        self.not_allowed: list[tuple[int, str, str]] = []  # standards for items not allowed
        self.moved: list[tuple[int, str, str, str]] = []  # kindergartens given another region

    def write(self, chunk: list[tuple[int, dict[str, Any]]]) -> UpsertResult:
        """Upsert one chunk of (row index, typed record); returns its counts and row errors.

        The chunk is written inside a savepoint. If the database refuses it anyway (a value the
        validation let through), the chunk is written again row by row, so that the rows it
        refuses become those rows' errors and the others are kept.
        """
        mark = self.rows.mark()
        try:
            with self.session.begin_nested():
                return self._write(chunk)
        except DBAPIError as exc:
            if is_busy(exc) or len(chunk) == 1:
                raise
            self._forget(mark)
        result = UpsertResult()
        for item in chunk:
            mark = self.rows.mark()
            try:
                with self.session.begin_nested():
                    result.add(self._write([item]))
            except DBAPIError as exc:
                if is_busy(exc):
                    raise
                self._forget(mark)
                reason = str(exc.orig or exc).strip().splitlines()[0][:200]
                result.errors.append(
                    Problem(
                        item[0],
                        "",
                        f"the database refused the row: {reason}",
                        f"数据库拒绝了该行：{reason}",
                    )
                )
        return result

    def _refunds_of(self, charge_ids: list[int]) -> dict[int, tuple[Decimal, date]]:
        """Refunds recorded against charges: (total, earliest day), for charges being updated."""
        found: dict[int, tuple[Decimal, date]] = {}
        for start in range(0, len(charge_ids), 1000):
            rows = self.session.execute(
                select(Refund.charge_id, Refund.amount, Refund.refunded_on).where(
                    Refund.charge_id.in_(charge_ids[start : start + 1000])
                )
            )
            for charge_id, amount, day in rows:
                total, first = found.get(charge_id, (Decimal(0), day))
                found[charge_id] = (total + amount, min(first, day))
        return found

    def notes(self) -> list[str]:
        """What was written but deserves a word: kindergartens moved to another region, standards
        for items that may not be charged."""
        notes = []
        if self.moved:
            moved = "; ".join(
                f"{line} {code} {before} → {after}" for line, code, before, after in self.moved[:10]
            ) + (" …" if len(self.moved) > 10 else "")
            notes.append(
                f"{len(self.moved)} 所幼儿园的行政区划代码被更改（第 {moved} 行）：如非有意（例如 "
                f"--region 选错），请用正确的区划重新导入 / {len(self.moved)} kindergartens were "
                f"moved to another region (lines {moved}); if that was not meant (a wrong "
                "--region), import the file again with the right one"
            )
        if not self.not_allowed or self.taxonomy is None:
            return notes
        shown = "; ".join(
            f"{line} {item} ({self.taxonomy.name_zh(category)})"
            for line, item, category in self.not_allowed[:10]
        ) + (" …" if len(self.not_allowed) > 10 else "")
        notes.append(
            f"{len(self.not_allowed)} 个收费标准的项目属于禁止收费或无法归类的项目"
            f"（第 {shown} 行）：已导入，但批准的标准并不使其合法 / "
            f"{len(self.not_allowed)} fee standards are for items that may not be charged or "
            f"cannot be classified (lines {shown}): imported, but a standard does not make them "
            "legal"
        )
        return notes

    def after_commit(self) -> None:
        """The transaction was committed: temporary tables may be gone with its connection."""
        self.bulk.keys_ready = False

    def _forget(self, mark: tuple[int, int, int, int]) -> None:
        self.rows.restore(mark)
        self.bulk.keys_ready = False  # created inside the rolled-back savepoint, perhaps

    def _write(self, chunk: list[tuple[int, dict[str, Any]]]) -> UpsertResult:
        self.refs.preload(chunk)
        record_type, key_cols = self.record_type, self.key_cols
        if self.rows.floor is None:
            self.rows.start(self._max_id())
        seen: dict[tuple[Any, ...], int] = {}  # keys of this chunk; earlier chunks: self.rows
        names: dict[tuple[Any, ...], str] = {}  # kindergartens: the name written with each code
        result = UpsertResult()
        prepared: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
        keys: list[tuple[Any, ...]] = []  # the natural key of each prepared row
        key_of, refs, classify = self.key_of, self.refs, self.classify
        for index, record in chunk:
            values, error = _columns(record_type, record, refs, classify)
            if error:
                result.errors.append(error.at(line=index))
                continue
            key = key_of(values)
            first = seen.get(key)
            if first is not None:
                result.errors.append(self._duplicate(index, first, values, names.get(key)))
                continue
            seen[key] = index
            if "name" in values:
                names[key] = values["name"]
            prepared.append((index, record, values))
            keys.append(key)
        if not prepared:
            return result

        inserted = self._insert_all_new(prepared)
        existing = {} if inserted else self.bulk.existing(keys)
        self.expect_new = inserted or not existing
        refunded = (
            self._refunds_of([row["id"] for row in existing.values()])
            if record_type.name == "charges" and existing
            else {}
        )
        inserts: list[dict[str, Any]] = []
        unchanged: list[dict[str, Any]] = []
        updates: list[tuple[dict[str, Any], dict[str, Any]]] = []
        kept: list[tuple[dict[str, Any], dict[str, Any]]] = []
        new_lines: list[int] = []
        for (index, record, values), key in zip(prepared, keys, strict=True):
            row = existing.get(key) if existing else None
            if row is None:
                inserts.append(values)
                new_lines.append(index)
            elif (first := self.rows.first_line(row["id"])) is not None:
                result.errors.append(self._duplicate(index, first, values, row.get("name")))
                continue
            elif record_type.name == "kindergartens" and not within(
                row["region_code"], self.region_code
            ):
                error = _outside_error("code", values["code"], self.refs)
                result.errors.append(error.at(line=index))
                continue
            elif (problem := _refunded_problem(row, values, refunded.get(row["id"]))) is not None:
                result.errors.append(problem.at(line=index))
                continue
            else:
                self.rows.touch(row["id"], index)
                changed = {c: v for c, v in values.items() if row[c] != v and c not in self.keep}
                if "region_code" in changed and record_type.name == "kindergartens":
                    self.moved.append(
                        (index, values["code"], row["region_code"], changed["region_code"])
                    )
                if changed:
                    updates.append((dict(row), changed))
                else:
                    unchanged.append(values)
            kept.append((record, values))
        if record_type.name == "fee-standards" and self.taxonomy is not None:
            for index, _record, values in prepared:
                category = values.get("item_category", "")
                if not self.taxonomy.is_allowed(category):
                    self.not_allowed.append((index, values["fee_item"], category))
        if inserts:
            if not inserted:
                self._insert(inserts, new_lines)
            result.created += len(inserts)
        self._update(updates)
        audited = [(row, dict(changed)) for row, changed in updates]
        if record_type.name == "kindergartens":
            accounts = _sync_filed_accounts(self.session, kept)
            by_code = {row["code"]: (row, changed) for row, changed in audited}
            for code, (before, after) in accounts.items():
                if code in by_code:
                    by_code[code][0]["filed_accounts"] = before
                    by_code[code][1]["filed_accounts"] = after
                elif before:  # a kindergarten created in this chunk has no "before"
                    audited.append(
                        ({"code": code, "filed_accounts": before}, {"filed_accounts": after})
                    )
            moved = {code for code, _ in accounts.items()} - set(by_code)
            moved_unchanged = [v for v in unchanged if v["code"] in moved]
            unchanged = [v for v in unchanged if v["code"] not in moved]
            result.updated += len(moved_unchanged)
            self._bump([v["code"] for v in moved_unchanged])
        result.updated += len(updates)
        result.unchanged += len(unchanged)
        table = record_type.model.__tablename__
        created = {id(v) for v in inserts} if self.audit_creations else set()
        audit.record(
            self.session,
            self.actor,
            [
                audit.Change("create", table, _key_text(v, key_cols), None, _created(record, v))
                for record, v in (kept if created else ())
                if id(v) in created
            ]
            + [
                audit.Change(
                    "update",
                    table,
                    _key_text(row, key_cols),
                    {k: row.get(k) for k in changed},
                    changed,
                )
                for row, changed in audited
            ],
            self.import_batch_id,
        )
        return result

    def _duplicate(
        self,
        index: int,
        first: int | None,
        values: dict[str, Any] | None = None,
        first_name: str | None = None,
    ) -> Problem:
        where_en = f"row {first}" if first else "an earlier row"
        where_zh = f"第 {first} 行" if first else "前面的行"
        name = (values or {}).get("name")
        if self.record_type.name == "kindergartens" and name and first_name and name != first_name:
            code = values["code"] if values else ""
            return Problem(
                index,
                "code",
                f"code {code} is also {where_en}'s ({first_name}); a branch campus (分园) often "
                f"shares its parent's licence number: give {name} a code of its own, e.g. "
                f"{code}-1 (the licence number and a suffix)",
                f"代码 {code} 已被{where_zh}（{first_name}）使用；分园常与总园共用办学许可证号，"
                f"请给“{name}”一个自己的代码，例如 {code}-1（许可证号加后缀）",
            )
        return Problem(
            index,
            self.record_type.key[-1],
            f"duplicate of {where_en} (same natural key)",
            f"与{where_zh}重复（唯一键相同）",
        )

    def _insert_all_new(self, prepared: list[tuple[int, dict[str, Any], dict[str, Any]]]) -> bool:
        """Insert the chunk's rows as new ones, without looking their keys up first, when the
        last chunk had only new rows (a new file, or the new part of a file): True if the
        database took them all. A key that exists makes the database refuse them (the unique
        index): nothing is kept, and the chunk is looked up and upserted as usual."""
        if not self.expect_new:
            return False
        mark = self.rows.mark()
        try:
            with self.session.begin_nested():
                self._insert([v for _, _, v in prepared], [index for index, _, _ in prepared])
        except DBAPIError as exc:
            if is_busy(exc):
                raise
            self._forget(mark)
            return False
        return True

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
                .values(
                    {c: bindparam(f"new_{c}") for c in columns}
                    # every save bumps the version: a form open on the old values is stale
                    | {"version": self.table.c.version + 1}
                )
            )
            self.session.connection().execute(statement, params)

    def _bump(self, codes: Collection[str]) -> None:
        """Kindergartens whose filed accounts changed (and nothing else) are changed too."""
        if codes:
            self.session.execute(
                update(Kindergarten)
                .where(Kindergarten.code.in_(list(codes)))
                .values(version=Kindergarten.version + 1)
            )


def _key_getter(key_cols: list[str]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """values -> the natural key as a tuple (itemgetter gives a bare value for one column)."""
    if len(key_cols) == 1:
        (column,) = key_cols
        return lambda values: (values[column],)
    return itemgetter(*key_cols)


def _key_text(values: dict[str, Any], key_cols: list[str]) -> str:
    return "/".join(str(values[c]) for c in key_cols)


def _created(record: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    if "filed_accounts" in record:
        return {**values, "filed_accounts": record["filed_accounts"]}
    return values


def _sync_filed_accounts(
    session: Session, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> dict[str, tuple[list[str], list[str]]]:
    """Make each kindergarten's filed accounts equal the given list (when the cell is given).

    Returns, for each code whose accounts changed, the accounts before and after.
    """
    given = {v["code"]: r["filed_accounts"] for r, v in pairs if "filed_accounts" in r}
    if not given:
        return {}
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
    changed: dict[str, tuple[list[str], list[str]]] = {}
    for code, accounts in given.items():
        kg_id = ids[code]
        have, want = current.get(kg_id, set()), set(accounts)
        if have == want:
            continue
        changed[code] = (sorted(have), sorted(want))
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

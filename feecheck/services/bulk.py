"""The hot path of big writes, below the ORM: positional tuples, executemany, COPY on PostgreSQL.

Used by services/upsert.py (RecordWriter) for every record type.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import Column, Connection, Date, MetaData, Table, TextClause, and_, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateTable

from feecheck.domain.money import money
from feecheck.models.types import Money


class WrittenRows:
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

    def mark(self) -> tuple[int, int, int, int]:
        """Where things stand, to go back to if the database refuses what comes next."""
        return len(self.ranges), len(self.range_lines), len(self.ids), self.max_id

    def restore(self, mark: tuple[int, int, int, int]) -> None:
        """Forget what was recorded since `mark` (its writes were rolled back)."""
        ranges, range_lines, ids, max_id = mark
        floor = self.floor or 0
        for row_id in self.ids[ids:]:
            if row_id <= floor:
                self.touched[row_id >> 3] &= ~(1 << (row_id & 7)) & 0xFF
        del self.ranges[ranges:]
        del self.range_lines[range_lines:]
        del self.ids[ids:]
        del self.lines[ids:]
        self.max_id = max_id

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


class BulkWriter:
    """The hot path of big imports, below the ORM and Core's per-row parameter handling.

    - existing(): which of the chunk's natural keys exist, by probing the unique index once per
      key. On PostgreSQL the keys go in as one array per key column (unnest) joined to a
      LATERAL subquery that the planner cannot turn into a hash join over the whole table
      (inside the import its statistics lag behind the rows just written: 1M new charges took
      2 minutes that way): one statement. On SQLite they go into a temporary table
      (executemany) and one join on the unique index finds them. A `(a, b) IN (...)` list of
      thousands of tuples costs more to compile than to run, and PostgreSQL plans it as a scan.
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
        self.names = [c.name for c in self.columns]
        self.pick = itemgetter(*self.names)
        self.lookup = self._lookup_statement()

    def _lookup_statement(self) -> TextClause | None:
        """PostgreSQL's lookup: the keys as arrays, one index probe per key."""
        if not self.postgres:
            return None
        table, quote = self.table, self.dialect.identifier_preparer.quote
        listed = ", ".join(f"t.{quote(c.name)}" for c in table.columns)
        arrays = ", ".join(
            f"CAST(:k{i} AS {table.c[c].type.compile(dialect=self.dialect)}[])"
            for i, c in enumerate(self.key_cols)
        )
        names = ", ".join(f"k{i}" for i in range(len(self.key_cols)))
        match = " AND ".join(f"{quote(c)} = k.k{i}" for i, c in enumerate(self.key_cols))
        inner = ", ".join(quote(c.name) for c in table.columns)
        sql = (
            f"SELECT {listed} FROM unnest({arrays}) AS k({names}) CROSS JOIN LATERAL "
            f"(SELECT {inner} FROM {quote(table.name)} WHERE {match} OFFSET 0) AS t"
        )
        return text(sql).columns(*table.columns)

    def existing(self, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
        """The rows of the table with these natural keys, by key (as tuples)."""
        if not keys:
            return {}
        if self.lookup is None:
            return self._existing_by_table(keys)
        params = {f"k{i}": list(column) for i, column in enumerate(zip(*keys, strict=True))}
        return {
            tuple([row[c] for c in self.key_cols]): row
            for row in self.session.connection().execute(self.lookup, params).mappings()
        }

    def _existing_by_table(self, keys: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
        connection = self.session.connection()
        if not self.keys_ready:
            connection.execute(CreateTable(self.keys, if_not_exists=True))
            self.keys_ready = True
        connection.execute(self.keys.delete())
        self._load(self.keys.name, list(self.keys.columns), keys, self.key_processors)
        table = self.table
        joined = select(table).join(
            self.keys,
            and_(*(table.c[c] == self.keys.c[f"k{i}"] for i, c in enumerate(self.key_cols))),
        )
        return {
            tuple([row[c] for c in self.key_cols]): row
            for row in connection.execute(joined).mappings()
        }

    def insert(self, rows: list[dict[str, Any]]) -> None:
        pick, defaults = self.pick, _python_defaults(self.columns)
        tuples: list[tuple[Any, ...]] = []
        for row in rows:
            try:
                tuples.append(pick(row))
            except KeyError:  # a column the row leaves to its default
                tuples.append(pick({**defaults, **row}))
        if not self.postgres:
            # column by column: one map() per converted column instead of a list per row
            convert = [(i, p) for i, p in enumerate(self.processors) if p]
            if convert and tuples:
                columns = list(zip(*tuples, strict=True))
                for i, process in convert:
                    columns[i] = tuple(map(process, columns[i]))
                tuples = list(zip(*columns, strict=True))
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
        if self.postgres:
            copy_rows(connection, table_name, [c.name for c in columns], rows)
            return
        quoted = ", ".join(f'"{c.name}"' for c in columns)
        if processors and any(processors):
            functions = [p or _same for p in processors]
            rows = [tuple([f(v) for f, v in zip(functions, row, strict=True)]) for row in rows]
        marks = ", ".join("?" for _ in columns)
        connection.exec_driver_sql(f'INSERT INTO "{table_name}" ({quoted}) VALUES ({marks})', rows)


def copy_rows(
    connection: Connection, table_name: str, names: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """PostgreSQL's COPY FROM STDIN of rows in column order (values as the driver adapts them);
    a driver error is raised as SQLAlchemy raises its own (DBAPIError)."""
    driver: Any = connection.connection.driver_connection
    quoted = ", ".join(f'"{name}"' for name in names)
    statement = f'COPY "{table_name}" ({quoted}) FROM STDIN'
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except driver.Error as exc:  # below SQLAlchemy: wrap as it wraps its own
        raise DBAPIError(statement, None, exc) from exc


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

"""Writers take turns: what two imports, two checks or an import and a check at once do.

`begin_write(session, name)` starts the session's write transaction holding a named lock:
- PostgreSQL: a transaction-level advisory lock on the name (released at commit or rollback), so
  two checks storing findings, or two imports of one record type, wait for each other instead of
  racing on the same natural keys; `lock_timeout` bounds the wait.
- SQLite: one writer at a time for the whole file; the transaction begins IMMEDIATE, so it waits
  for the write lock (the busy timeout) instead of failing when a read transaction would have to
  be upgraded after another writer committed.
A wait that runs out raises Busy, a one-line reason the faces show; nothing is half-written.
"""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from feecheck.domain.reasons import Refused
from feecheck.models.session import SQLITE_BUSY_TIMEOUT_MS

LOCK_WAIT_SECONDS = SQLITE_BUSY_TIMEOUT_MS // 1000
FINDINGS = "findings"
BATCHES = "batches"
JOBS = "jobs"  # a job row changing state (services/jobs.py)


class Busy(Refused):
    """Another writer held the lock longer than we wait; nothing was written, try again."""


def import_lock(record_type: str) -> str:
    return f"import:{record_type}"


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock."""
    return zlib.crc32(f"feecheck:{name}".encode()) - (1 << 31)


def begin_write(session: Session, name: str) -> None:
    """Start the write transaction under the lock `name`.

    On SQLite a transaction already open in the session is committed first (it has only read:
    call this before the first write), because a read transaction cannot become IMMEDIATE.
    """
    dialect = session.get_bind().dialect.name
    try:
        if dialect == "sqlite":
            if session.in_transaction():
                session.commit()
            session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
        elif dialect == "postgresql":
            _advisory_lock(session, name)
    except OperationalError as exc:
        session.rollback()
        raise busy(name) from exc


def _advisory_lock(session: Session, name: str) -> None:
    """PostgreSQL: the transaction-level advisory lock on `name`, waiting LOCK_WAIT_SECONDS."""
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_SECONDS}s'"))
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(name)})
    session.execute(text("SET LOCAL lock_timeout = 0"))


def also_lock(session: Session, name: str) -> None:
    """Take the lock `name` as well, inside a write transaction begun by begin_write (a
    workbook imported atomically writes several record types in one transaction). SQLite's
    write lock covers the whole file already; PostgreSQL takes the advisory lock."""
    if session.get_bind().dialect.name != "postgresql":
        return
    try:
        _advisory_lock(session, name)
    except OperationalError as exc:
        session.rollback()
        raise busy(name) from exc


def busy(name: str) -> Busy:
    what_en, what_zh = _describe(name)
    return Busy(
        f"the database is busy: {what_en} has been writing for more than {LOCK_WAIT_SECONDS} s; "
        "nothing was written, try again when it has finished",
        f"数据库正忙：{what_zh}已写入超过 {LOCK_WAIT_SECONDS} 秒；本次未写入任何数据，请稍后重试",
    )


def is_busy(exc: BaseException) -> bool:
    """A database error that means another writer held a lock (SQLite 'database is locked',
    PostgreSQL lock_not_available)."""
    message = str(exc).lower()
    return "database is locked" in message or "lock timeout" in message or "55p03" in message


def _describe(name: str) -> tuple[str, str]:
    if name.startswith("import:"):
        kind = name.split(":", 1)[1]
        return f"another import of {kind}", f"另一个 {kind} 导入"
    if name == FINDINGS:
        return "another check", "另一次检查"
    return "another writer", "另一个写入操作"

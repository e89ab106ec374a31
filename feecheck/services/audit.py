"""The audit log: one function every writer goes through, storing the real before/after values.

The table is append-only (database triggers refuse changes); entries are written in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from feecheck.models import AuditEntry, User


@dataclass
class Actor:
    """Who writes: a user, or a named system actor (demo, import job)."""

    name: str
    user_id: int | None = None

    @classmethod
    def of(cls, user: User | None, fallback: str = "system") -> Actor:
        return cls(user.username, user.id) if user else cls(fallback)


@dataclass(frozen=True)
class Change:
    """One audited change: the action, the table, the record's natural key, before and after."""

    action: str  # create | update | delete | import | login | …
    table: str
    key: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    note: str | None = None


def jsonable(value: Any) -> Any:
    """A value as the audit log stores it (money with two decimals, ISO dates, lists as lists)."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def record(
    session: Session,
    actor: Actor,
    changes: Iterable[Change],
    import_batch_id: int | None = None,
) -> int:
    """Append the changes to the audit log in one statement; returns how many."""
    entries = [
        {
            "actor": actor.name[:64],
            "user_id": actor.user_id,
            "action": change.action,
            "table_name": change.table[:64],
            "record_key": change.key[:200],
            "before": _values(change.before),
            "after": _values(change.after),
            "import_batch_id": import_batch_id,
            "note": change.note,
        }
        for change in changes
    ]
    if entries:
        session.execute(insert(AuditEntry), entries)
    return len(entries)


def _values(values: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if values is None else {k: jsonable(v) for k, v in values.items()}

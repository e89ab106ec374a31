"""Stored findings: what a check run does to them, and their history.

A check never deletes a finding. Within the months and kindergartens a run evaluated (and the
rules it ran):
- a finding it produces for the first time is stored `open`;
- a stored finding it produces again keeps its row, status and history; its figures are
  refreshed, unless an earlier run judged it as on a later as-of date (that run knew more);
- a `resolved` finding it produces again is opened again;
- a stored finding it no longer produces becomes `resolved`, with the run that resolved it, unless
  it was dismissed (a supervisor's decision stands) or it was last produced as on a later as-of
  date (a run that knows less cannot clear it).
Every change of status is a FindingEvent: who or which run, when, from what, to what, why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import JSON, insert, select, update
from sqlalchemy.orm import Session

from feecheck.domain.categories import FindingStatus
from feecheck.engine.findings import FindingResult
from feecheck.models import CheckRun, Finding, FindingEvent
from feecheck.models.base import Base, utcnow
from feecheck.services import ledger
from feecheck.services.bulk import copy_rows

OPEN = FindingStatus.OPEN.value
RESOLVED = FindingStatus.RESOLVED.value
DISMISSED = FindingStatus.DISMISSED.value
CHECK_ACTOR = "check"


@dataclass
class StoreCounts:
    created: int = 0
    updated: int = 0
    resolved: int = 0
    reopened: int = 0


@dataclass(frozen=True)
class Evaluated:
    """What a run judged: these kindergartens (code -> id), months, and rules (None: all)."""

    kindergartens: dict[str, int]
    children: dict[tuple[str, str], int]  # (kindergarten code, child ref) -> id
    periods: list[str]
    rule_ids: set[str] | None
    skipped: set[tuple[str, str]]  # (period, rule id) pairs the run did not judge


def store_findings(
    session: Session,
    run: CheckRun,
    evaluated: Evaluated,
    as_of: date,
    findings: Iterable[FindingResult],
) -> StoreCounts:
    counts = StoreCounts()
    if not evaluated.kindergartens or not evaluated.periods:
        return counts
    existing: dict[str, Any] = {
        row.fingerprint: row
        for row in session.execute(
            select(
                Finding.id,
                Finding.fingerprint,
                Finding.status,
                Finding.as_of,
                Finding.rule_id,
                Finding.period,
            ).where(
                Finding.kindergarten_id.in_(list(evaluated.kindergartens.values())),
                Finding.period.in_(evaluated.periods),
            )
        )
    }
    now = utcnow()
    produced: dict[str, dict[str, Any]] = {}
    for f in findings:
        receipt, gross = ledger.claim(f.amount_due, f.evidence) or (None, None)
        produced[f.fingerprint] = {
            "fingerprint": f.fingerprint,
            "rule_id": f.rule.id,
            "severity": f.severity,
            "period": f.period,
            "kindergarten_id": evaluated.kindergartens[f.kindergarten_code],
            "child_id": (
                evaluated.children.get((f.kindergarten_code, f.child_ref)) if f.child_ref else None
            ),
            "citation": f.citation,
            "message_zh": f.message_zh,
            "message_en": f.message_en,
            "evidence": f.evidence,
            "parameters": f.parameters_detail(),
            "explanation": f.explanation,
            "amount_due": f.amount_due,
            "claim_receipt": receipt,
            "claim_amount": gross,
            "ruleset_hash": f.ruleset_hash,
            "last_seen_at": now,
            "check_run_id": run.id,
            "as_of": as_of,
        }
    new = [row for key, row in produced.items() if key not in existing]
    if new:
        bulk_insert(
            session, Finding, [{**row, "first_seen_at": now, "status": OPEN} for row in new]
        )
        ids: dict[str, int] = {}
        fingerprints = [row["fingerprint"] for row in new]
        for start in range(0, len(fingerprints), 1000):
            ids.update(
                session.execute(
                    select(Finding.fingerprint, Finding.id).where(
                        Finding.fingerprint.in_(fingerprints[start : start + 1000])
                    )
                ).all()
            )
        _events(session, [(ids[r["fingerprint"]], None, OPEN) for r in new], run.id, "found")
        counts.created = len(new)

    refresh: list[dict[str, Any]] = []
    reopen: list[tuple[int, str | None, str]] = []
    for key, row in produced.items():
        stored = existing.get(key)
        if stored is None:
            continue
        values = {**row, "id": stored.id}
        if stored.as_of is not None and stored.as_of > as_of:
            values = {"id": stored.id, "last_seen_at": now}  # keep the better-informed figures
        if stored.status == RESOLVED:
            values.update(status=OPEN, resolved_at=None, resolved_by_run_id=None)
            reopen.append((stored.id, RESOLVED, OPEN))
        refresh.append(values)
    for group in _by_columns(refresh):  # ORM bulk UPDATE by primary key: one executemany each
        session.execute(update(Finding), group)
    _events(session, reopen, run.id, "found again")
    counts.updated, counts.reopened = len(refresh) - len(reopen), len(reopen)

    gone = [
        stored
        for key, stored in existing.items()
        if key not in produced
        and stored.status not in (RESOLVED, DISMISSED)
        and (evaluated.rule_ids is None or stored.rule_id in evaluated.rule_ids)
        and (stored.period, stored.rule_id) not in evaluated.skipped
        and (stored.as_of is None or stored.as_of <= as_of)
    ]
    if gone:
        session.execute(
            update(Finding),
            [
                {"id": s.id, "status": RESOLVED, "resolved_at": now, "resolved_by_run_id": run.id}
                for s in gone
            ],
        )
        _events(session, [(s.id, s.status, RESOLVED) for s in gone], run.id, "no longer found")
        counts.resolved = len(gone)
    return counts


def _by_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _events(
    session: Session, moves: list[tuple[int, str | None, str]], run_id: int, note: str
) -> None:
    if moves:
        now = utcnow()
        bulk_insert(
            session,
            FindingEvent,
            [
                {
                    "finding_id": finding_id,
                    "at": now,
                    "from_status": before,
                    "to_status": after,
                    "actor": CHECK_ACTOR,
                    "check_run_id": run_id,
                    "note": note,
                }
                for finding_id, before, after in moves
            ],
        )


def bulk_insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Insert rows that all name the same columns (their defaults filled in): COPY on PostgreSQL
    (a province's first check writes tens of thousands of findings), one executemany elsewhere."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(model), rows)
        return
    table = model.__table__
    columns = list(rows[0])
    as_json = {name for name in columns if isinstance(table.c[name].type, JSON)}
    copy_rows(
        connection,
        table.name,
        columns,
        ([Json(row[c]) if c in as_json else row[c] for c in columns] for row in rows),
    )


def history(session: Session, finding_id: int) -> list[FindingEvent]:
    """A finding's events, oldest first."""
    return list(
        session.scalars(
            select(FindingEvent)
            .where(FindingEvent.finding_id == finding_id)
            .order_by(FindingEvent.id)
        )
    )

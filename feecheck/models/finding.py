"""Check runs and the findings they produce."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feecheck.domain.categories import FindingStatus, Severity
from feecheck.models.base import Base, enum_check, utcnow
from feecheck.models.kindergarten import Child, Kindergarten


class CheckRun(Base):
    __tablename__ = "check_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    period_from: Mapped[str] = mapped_column(String(7))
    period_to: Mapped[str] = mapped_column(String(7))
    region_code: Mapped[str | None] = mapped_column(String(6))
    kindergarten_code: Mapped[str | None] = mapped_column(String(32))
    as_of: Mapped[str | None] = mapped_column(String(10))
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    findings_count: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0, server_default="0")
    updated: Mapped[int] = mapped_column(default=0, server_default="0")
    resolved: Mapped[int] = mapped_column(default=0, server_default="0")
    reopened: Mapped[int] = mapped_column(default=0, server_default="0")
    not_evaluated: Mapped[list[Any] | None]  # [{"period", "reason", ...}] (spec §3)


class Finding(Base):
    """One rule outcome about a kindergarten (and child) in a period.

    `fingerprint` is the finding's identity across re-runs (rule, period, kindergarten, child and
    the evidence keys), so the workflow status survives a re-check.
    """

    __tablename__ = "findings"
    __table_args__ = (
        enum_check("severity", Severity),
        enum_check("status", FindingStatus),
        Index("ix_findings_scope", "period", "kindergarten_id"),
        # the list's and the dashboard's counts read this index alone (migration 0011)
        Index(
            "ix_findings_status_counts",
            "status",
            "severity",
            "rule_id",
            "period",
            "kindergarten_id",
        ),
        # the money claims, for the ledger's totals over a region (services/ledger.owed): read
        # from this index, not from the findings' wide rows (migration 0011)
        Index(
            "ix_findings_claims",
            "kindergarten_id",
            "status",
            "severity",
            "period",
            "rule_id",
            "claim_receipt",
            "claim_amount",
            sqlite_where=text("claim_receipt IS NOT NULL"),
            postgresql_where=text("claim_receipt IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(7))
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    child_id: Mapped[int | None] = mapped_column(ForeignKey("children.id"))
    citation: Mapped[str] = mapped_column(Text)
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]]
    parameters: Mapped[dict[str, Any]]
    explanation: Mapped[list[Any]]
    amount_due: Mapped[Decimal | None]
    # the receipt this finding orders money back from, and the gross refund ordered (ledger.claim,
    # read from the evidence when the finding is stored); None when it orders none
    claim_receipt: Mapped[str | None] = mapped_column(String(64))
    claim_amount: Mapped[Decimal | None]
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=FindingStatus.OPEN.value)
    status_note: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    check_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_runs.id"))  # last seen
    as_of: Mapped[date | None]  # the as-of date of the run that last produced it
    resolved_at: Mapped[datetime | None]
    resolved_by_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_runs.id"))

    kindergarten: Mapped[Kindergarten] = relationship()
    child: Mapped[Child | None] = relationship()
    events: Mapped[list[FindingEvent]] = relationship(
        back_populates="finding", order_by="FindingEvent.id", passive_deletes=True
    )


class FindingEvent(Base):
    """One move of a finding between states, by a person (with a note) or by a check run.

    Never updated or deleted: a finding's history is the list of its events.
    """

    __tablename__ = "finding_events"
    __table_args__ = (
        enum_check("to_status", FindingStatus),
        enum_check("from_status", FindingStatus, nullable=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))
    check_run_id: Mapped[int | None] = mapped_column(ForeignKey("check_runs.id"))
    note: Mapped[str | None] = mapped_column(Text)

    finding: Mapped[Finding] = relationship(back_populates="events")

"""Notices to correct (整改通知书): numbered per issuing office and year, never renumbered, and the
findings each one covers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from feecheck.domain.categories import FollowUpOutcome
from feecheck.models.base import Base, utcnow


class Notice(Base):
    """One issued notice. Rows are never deleted or renumbered (database triggers refuse it): a
    number once issued stays that notice's."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("prefix", "year", "seq"), UniqueConstraint("number"))

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(80))  # 海教收整〔2026〕12号
    prefix: Mapped[str] = mapped_column(String(40))  # 海教收整
    year: Mapped[int]
    seq: Mapped[int]
    office: Mapped[str] = mapped_column(String(200))  # the issuing office's name
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"), index=True)
    period_from: Mapped[str] = mapped_column(String(7))
    period_to: Mapped[str] = mapped_column(String(7))
    issued_on: Mapped[date]
    deadline: Mapped[date]
    inspectors: Mapped[list[Any]]  # [{"name", "certificate"}]
    refunds_due: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    # the notice as issued (violations, refund items, dates), so it prints the same ever after
    document: Mapped[dict[str, Any]]
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    # closed (销号) once every violation it covers is rectified, resolved or dismissed and every
    # refund it demanded is settled (services.notices.close_notice)
    closed_on: Mapped[date | None]
    closed_by: Mapped[str | None] = mapped_column(String(64))  # who closed it (audit log: id)


class NoticeFinding(Base):
    """A finding a notice covers, with the money it orders returned for it (None: none)."""

    __tablename__ = "notice_findings"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id"), primary_key=True, index=True)
    amount_due: Mapped[Decimal | None]


class NoticeFollowUp(Base):
    """A follow-up inspection (复查) of a notice: when, by whom, what was found."""

    __tablename__ = "notice_follow_ups"
    __table_args__ = (
        CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o}'" for o in FollowUpOutcome.values()) + ")",
            name="outcome_enum",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"), index=True)
    followed_up_on: Mapped[date]
    inspector: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(16))  # FollowUpOutcome
    notes: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

"""What kindergartens charge and receive: fee standards, charges, refunds, funding, absences,
inspections. Money columns are exact (see models.types.Money)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feecheck.domain.categories import Collector, FeeUnit, FundingSource
from feecheck.models.base import Base, enum_check, non_negative, ordered
from feecheck.models.kindergarten import Child, Kindergarten


class FeeStandard(Base):
    """An approved or filed price for a fee item of one kindergarten, with its dates."""

    __tablename__ = "fee_standards"
    __table_args__ = (
        UniqueConstraint("kindergarten_id", "fee_item", "effective_from"),
        enum_check("unit", FeeUnit),
        non_negative("amount"),
        ordered("effective_from", "effective_to"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"), index=True)
    fee_item: Mapped[str] = mapped_column(String(100))
    item_category: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]
    unit: Mapped[str] = mapped_column(String(16))
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    approval_ref: Mapped[str | None] = mapped_column(String(200))

    kindergarten: Mapped[Kindergarten] = relationship()


class Charge(Base):
    """Money collected from a family for a fee item, covering a billing period."""

    __tablename__ = "charges"
    __table_args__ = (
        UniqueConstraint("kindergarten_id", "receipt_no"),
        enum_check("collector", Collector),
        non_negative("amount"),
        ordered("period_start", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"), index=True)
    receipt_no: Mapped[str] = mapped_column(String(64))
    fee_item: Mapped[str] = mapped_column(String(100))
    item_category: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal]
    period_start: Mapped[date]
    period_end: Mapped[date]
    paid_on: Mapped[date] = mapped_column(index=True)
    account: Mapped[str] = mapped_column(String(64))
    collector: Mapped[str] = mapped_column(String(32), default=Collector.KINDERGARTEN.value)

    kindergarten: Mapped[Kindergarten] = relationship()
    child: Mapped[Child] = relationship()


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("kindergarten_id", "refund_no"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    charge_id: Mapped[int] = mapped_column(ForeignKey("charges.id"), index=True)
    refund_no: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal]
    refunded_on: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(200))

    charge: Mapped[Charge] = relationship()


class Funding(Base):
    """Public money received by a kindergarten, covering a period."""

    __tablename__ = "funding"
    __table_args__ = (
        UniqueConstraint("kindergarten_id", "reference"),
        enum_check("source", FundingSource),
        non_negative("amount"),
        ordered("period_start", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    reference: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal]
    period_start: Mapped[date]
    period_end: Mapped[date]
    received_on: Mapped[date]

    kindergarten: Mapped[Kindergarten] = relationship()


class Absence(Base):
    """Days a child was absent in a month, against the days the kindergarten was open."""

    __tablename__ = "absences"
    __table_args__ = (
        UniqueConstraint("child_id", "month"),
        CheckConstraint(
            "days_absent >= 0 AND days_open >= 1 AND days_open <= 31 AND days_absent <= days_open",
            name="days_in_range",
        ),
        CheckConstraint("length(month) = 7 AND substr(month, 5, 1) = '-'", name="month_format"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id"))
    month: Mapped[str] = mapped_column(String(7))
    days_absent: Mapped[int]
    days_open: Mapped[int]

    child: Mapped[Child] = relationship()


class Inspection(Base):
    __tablename__ = "inspections"
    __table_args__ = (UniqueConstraint("kindergarten_id", "inspected_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    inspected_on: Mapped[date]
    inspector: Mapped[str] = mapped_column(String(100))
    fees_disclosed: Mapped[bool] = mapped_column(Boolean)
    notes: Mapped[str | None] = mapped_column(Text)

    kindergarten: Mapped[Kindergarten] = relationship()

"""What families pay: fee standards (approved or filed prices), charges, refunds. Money is exact
(models.types.Money)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feecheck.domain.categories import Collector, FeeUnit
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
    # optimistic locking: every save (form or import) bumps it; a stale form is refused
    version: Mapped[int] = mapped_column(default=1, server_default="1")
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
        UniqueConstraint("id", "kindergarten_id"),  # the target of refunds' foreign key
        ForeignKeyConstraint(
            ["child_id", "kindergarten_id"],
            ["children.id", "children.kindergarten_id"],
            name="fk_charges_child_in_kindergarten",
        ),
        enum_check("collector", Collector),
        non_negative("amount"),
        ordered("period_start", "period_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # optimistic locking: every save (form or import) bumps it; a stale form is refused
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    child_id: Mapped[int] = mapped_column(index=True)
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
    child: Mapped[Child] = relationship(
        primaryjoin="Charge.child_id == Child.id", foreign_keys="Charge.child_id"
    )


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (
        UniqueConstraint("kindergarten_id", "refund_no"),
        ForeignKeyConstraint(
            ["charge_id", "kindergarten_id"],
            ["charges.id", "charges.kindergarten_id"],
            name="fk_refunds_charge_in_kindergarten",
        ),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # optimistic locking: every save (form or import) bumps it; a stale form is refused
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    charge_id: Mapped[int] = mapped_column(index=True)
    refund_no: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal]
    refunded_on: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(200))

    charge: Mapped[Charge] = relationship(
        primaryjoin="Refund.charge_id == Charge.id", foreign_keys="Refund.charge_id"
    )

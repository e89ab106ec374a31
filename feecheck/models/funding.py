"""Public money a kindergarten receives."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feecheck.domain.categories import FundingSource
from feecheck.models.base import Base, enum_check, non_negative, ordered
from feecheck.models.kindergarten import Kindergarten


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
    # optimistic locking: every save (form or import) bumps it; a stale form is refused
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    reference: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(40))
    amount: Mapped[Decimal]
    period_start: Mapped[date]
    period_end: Mapped[date]
    received_on: Mapped[date]

    kindergarten: Mapped[Kindergarten] = relationship()

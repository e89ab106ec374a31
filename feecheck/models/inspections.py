"""Inspectors' visits."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feecheck.models.base import Base
from feecheck.models.kindergarten import Kindergarten


class Inspection(Base):
    __tablename__ = "inspections"
    __table_args__ = (UniqueConstraint("kindergarten_id", "inspected_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # optimistic locking: every save (form or import) bumps it; a stale form is refused
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    inspected_on: Mapped[date]
    inspector: Mapped[str] = mapped_column(String(100))
    fees_disclosed: Mapped[bool] = mapped_column(Boolean)
    notes: Mapped[str | None] = mapped_column(Text)

    kindergarten: Mapped[Kindergarten] = relationship()

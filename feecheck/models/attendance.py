"""Attendance: the days a child was absent in a month."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feecheck.models.base import Base
from feecheck.models.kindergarten import Child


class Absence(Base):
    """Days a child was absent in a month, against the days the kindergarten was open."""

    __tablename__ = "absences"
    __table_args__ = (
        UniqueConstraint("child_id", "month"),
        ForeignKeyConstraint(
            ["child_id", "kindergarten_id"],
            ["children.id", "children.kindergarten_id"],
            name="fk_absences_child_in_kindergarten",
        ),
        CheckConstraint(
            "days_absent >= 0 AND days_open >= 1 AND days_open <= 31 AND days_absent <= days_open",
            name="days_in_range",
        ),
        CheckConstraint("length(month) = 7 AND substr(month, 5, 1) = '-'", name="month_format"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # optimistic locking: every save (form or import) bumps it; a stale form is refused
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    child_id: Mapped[int] = mapped_column()
    month: Mapped[str] = mapped_column(String(7))
    days_absent: Mapped[int]
    days_open: Mapped[int]

    child: Mapped[Child] = relationship(
        primaryjoin="Absence.child_id == Child.id", foreign_keys="Absence.child_id"
    )

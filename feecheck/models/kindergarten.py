"""Kindergartens, their filed bank accounts, and their children."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from feecheck.domain.categories import Category, Grade, Hardship
from feecheck.models.base import Base, enum_check, ordered, region_code_check, utcnow


class Kindergarten(Base):
    __tablename__ = "kindergartens"
    __table_args__ = (
        enum_check("category", Category),
        enum_check("grade", Grade, nullable=True),
        region_code_check(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # optimistic locking: every save (form or import) bumps it; a stale form is refused
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    category: Mapped[str] = mapped_column(String(32))
    boarding: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int | None]
    grade: Mapped[str | None] = mapped_column(String(16))  # 园所等级; None: not recorded
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    filed_accounts: Mapped[list[FiledAccount]] = relationship(
        back_populates="kindergarten", cascade="all, delete-orphan", order_by="FiledAccount.id"
    )

    @property
    def account_numbers(self) -> list[str]:
        return [a.account_no for a in self.filed_accounts]


class FiledAccount(Base):
    """A bank account the kindergarten filed with the authority for receiving fees."""

    __tablename__ = "filed_accounts"
    __table_args__ = (UniqueConstraint("kindergarten_id", "account_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kindergarten_id: Mapped[int] = mapped_column(
        ForeignKey("kindergartens.id", ondelete="CASCADE"), index=True
    )
    account_no: Mapped[str] = mapped_column(String(64))
    filed_on: Mapped[date | None]

    kindergarten: Mapped[Kindergarten] = relationship(back_populates="filed_accounts")


class Child(Base):
    __tablename__ = "children"
    __table_args__ = (
        UniqueConstraint("kindergarten_id", "child_ref"),
        # the target of the (child, kindergarten) foreign keys: a charge or an absence of a child
        # is always in the child's own kindergarten
        UniqueConstraint("id", "kindergarten_id"),
        enum_check("hardship", Hardship),
        ordered("enrolled_on", "left_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # optimistic locking: every save (form or import) bumps it; a stale form is refused
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"), index=True)
    child_ref: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(100))
    birth_date: Mapped[date | None]
    final_year: Mapped[bool | None] = mapped_column(Boolean)
    enrolled_on: Mapped[date]
    left_on: Mapped[date | None]
    boarding: Mapped[bool] = mapped_column(Boolean, default=False)
    hardship: Mapped[str] = mapped_column(String(32), default=Hardship.NONE.value)

    kindergarten: Mapped[Kindergarten] = relationship()

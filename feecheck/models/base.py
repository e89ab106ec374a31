"""Declarative base with stable constraint names (needed by Alembic batch mode on SQLite)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import JSON, CheckConstraint, Date, DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase

from feecheck.domain.categories import LabelledEnum
from feecheck.models.types import Money

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        Decimal: Money(),
        date: Date(),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


def utcnow() -> datetime:
    return datetime.now(UTC)


def enum_check(column: str, enum: type[LabelledEnum], nullable: bool = False) -> CheckConstraint:
    values = ", ".join(f"'{v}'" for v in enum.values())
    condition = f"{column} IN ({values})"
    if nullable:
        condition = f"{column} IS NULL OR {condition}"
    return CheckConstraint(condition, name=f"{column}_enum")


def region_code_check(column: str = "region_code", nullable: bool = False) -> CheckConstraint:
    # ltrim(x, digits) = '' works on SQLite and PostgreSQL alike.
    condition = f"length({column}) = 6 AND ltrim({column}, '0123456789') = ''"
    if nullable:
        condition = f"{column} IS NULL OR ({condition})"
    return CheckConstraint(condition, name=f"{column}_6_digits")


def non_negative(column: str) -> CheckConstraint:
    return CheckConstraint(f"{column} >= 0", name=f"{column}_not_negative")


def ordered(start: str, end: str) -> CheckConstraint:
    return CheckConstraint(f"{end} IS NULL OR {start} <= {end}", name=f"{start}_before_{end}")


def code_column(length: int = 64) -> String:
    return String(length)

"""Column types: Money is exact everywhere (integer fen on SQLite, NUMERIC(12,2) elsewhere)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from feecheck.domain.money import from_fen, money, to_fen


class Money(TypeDecorator[Decimal]):
    """Yuan as Decimal. SQLite stores NUMERIC as REAL, so there it is stored as integer fen."""

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(12, 2, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        return to_fen(value) if dialect.name == "sqlite" else money(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_fen(int(value))
        if isinstance(value, Decimal) and value.as_tuple().exponent == -2:
            return value  # NUMERIC(12, 2) comes back with its two places
        return money(value)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self

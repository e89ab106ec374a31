"""Money is yuan as Decimal with two places; stored as integer fen where the database is inexact."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

CENT = Decimal("0.01")
# The largest amount the database stores: NUMERIC(12, 2) on PostgreSQL (10 digits before the
# point), and the same bound on SQLite's integer fen, so both refuse alike.
MAX_AMOUNT = Decimal("9999999999.99")
ZERO = Decimal("0.00")
TOLERANCE = Decimal("0.01")

_AMOUNT_NOISE = re.compile(r"[\s,，¥￥元]|^RMB|^CNY", re.IGNORECASE)


def money(value: Decimal | int | str) -> Decimal:
    """Round half-up to 0.01 yuan."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_fen(value: Decimal) -> int:
    return int(money(value) * 100)


@lru_cache(maxsize=65536)  # amounts repeat: a check reads the same few thousand again and again
def from_fen(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)  # exact: 123456 -> 1234.56, 100 -> 1.00


def format_money(value: Decimal | None) -> str:
    return "" if value is None else f"{money(value):.2f}"


def parse_amount(text: str) -> Decimal:
    """Parse '1,234.50', '¥1234.5', '1234.50元' or full-width digits; ValueError otherwise."""
    cleaned = _AMOUNT_NOISE.sub("", unicodedata.normalize("NFKC", text).strip())
    if not cleaned or not re.fullmatch(r"-?\d+(\.\d+)?", cleaned):
        raise ValueError(f"not an amount: {text!r}")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the regex guards this
        raise ValueError(f"not an amount: {text!r}") from exc
    if value != value.quantize(CENT):
        raise ValueError(f"more than two decimals: {text!r}")
    return money(value)

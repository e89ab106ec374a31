"""The demo's records in memory, typed as the record types expect, before they are written."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from feecheck.services.record_types import RECORD_TYPES


@dataclass
class DemoChild:
    ref: str
    name: str
    birth_date: date
    final_year: bool
    enrolled_on: date
    left_on: date | None = None
    boarding: bool = False
    hardship: str = "none"
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoData:
    """Typed records per record type, in the order they must be written."""

    records: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in RECORD_TYPES}
    )

    def add(self, record_type: str, **values: Any) -> dict[str, Any]:
        record = {k: v for k, v in values.items() if v is not None}
        self.records[record_type].append(record)
        return record

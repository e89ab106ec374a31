"""What the loader makes of rules/: rule specs, parameter definitions, dated values, overlays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from feecheck.domain.fee_items import FeeItemTaxonomy


@dataclass(frozen=True)
class Citation:
    document: str
    article: str
    quote: str
    verified: bool = True
    also: tuple[Citation, ...] = ()

    def short(self) -> str:
        return f"{self.document} {self.article}".strip()


@dataclass(frozen=True)
class GradeTable:
    """A parameter value that depends on the kindergarten's grade (园所等级): grade -> value."""

    values: tuple[tuple[str, Any], ...]

    def get(self, grade: str | None) -> Any:
        return dict(self.values).get(grade) if grade else None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.values)


@dataclass(frozen=True)
class DatedValue:
    """One value of a parameter, in force from `start` to `end` (inclusive; None: open)."""

    value: Any
    start: date
    end: date | None
    reference: str
    verified: bool = True
    default_not_law: bool = False
    layer: str = "national"  # national | province | city | district
    source: str = ""  # the file, relative to the rules folder's parent (rules/...)
    line: int = 0
    # "warning": the source states it "in principle" (原则上), or the value is unverified: a
    # finding that rests on it is a warning, never a violation
    severity: str | None = None

    def in_force(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class ParamDef:
    name: str
    type: str
    bound: str
    source: str
    local: bool = False
    unit: str = ""
    choices: tuple[str, ...] = ()
    description: dict[str, str] = field(default_factory=dict)
    values: tuple[DatedValue, ...] = ()


@dataclass(frozen=True)
class RuleSpec:
    id: str
    kind: str
    severity: str
    categories: frozenset[str]
    title: dict[str, str]
    citation: Citation
    in_force_from: date
    in_force_to: date | None
    message: dict[str, str]
    params: tuple[str, ...]  # every parameter the rule may read (own and `uses`)
    requires_any: tuple[tuple[str, ...], ...]
    source: str
    # "month": the rule is evaluated for months it is in force during; "period_charged": the
    # in-force date is compared with the period each charge is for (FEE-FREE-FINAL-YEAR), so
    # months before it are evaluated too.
    judged_on: str = "month"

    def in_force(self, day: date) -> bool:
        return self.in_force_from <= day and (self.in_force_to is None or day <= self.in_force_to)

    def in_force_during(self, first: date, last: date) -> bool:
        return self.in_force_from <= last and (
            self.in_force_to is None or first <= self.in_force_to
        )


@dataclass(frozen=True)
class Overlay:
    region: str
    name: dict[str, str]
    source: str
    values: dict[str, tuple[DatedValue, ...]]


@dataclass
class Ruleset:
    rules: dict[str, RuleSpec]
    params: dict[str, ParamDef]
    overlays: dict[str, Overlay]
    taxonomy: FeeItemTaxonomy
    hash: str

    @property
    def short_hash(self) -> str:
        return self.hash[:12]

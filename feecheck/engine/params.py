"""Parameter values for one district on one date: national, then province, city, district."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from feecheck.domain.periods import SemesterCalendar
from feecheck.domain.regions import overlay_chain
from feecheck.engine.specs import DatedValue, GradeTable, Ruleset


class ParameterResolver:
    """Resolves parameters for a district code; the deepest layer with a value in force wins.

    `verified_only`: unverified values are passed over, as if their layer said nothing, so that
    the next layer down (at last the national value) decides. The runner judges with both: what
    the verified values find stands as it is; an unverified value may only add a warning.
    """

    def __init__(self, ruleset: Ruleset, region_code: str, verified_only: bool = False) -> None:
        self.ruleset = ruleset
        self.region_code = region_code
        self.verified_only = verified_only
        self._chain = [
            ruleset.overlays[c] for c in overlay_chain(region_code) if c in ruleset.overlays
        ]
        self._cache: dict[tuple[str, date], DatedValue | None] = {}
        self.read_unverified = False  # set when a resolved value was unverified (runner resets)

    def resolve(self, name: str, on: date) -> DatedValue | None:
        key = (name, on)
        if key not in self._cache:
            self._cache[key] = self._resolve(name, on)
        value = self._cache[key]
        if value is not None and not value.verified:
            self.read_unverified = True
        return value

    def _resolve(self, name: str, on: date) -> DatedValue | None:
        for overlay in reversed(self._chain):
            for value in overlay.values.get(name, ()):
                if value.in_force(on) and (value.verified or not self.verified_only):
                    return value
        for value in self.ruleset.params[name].values:
            if value.in_force(on) and (value.verified or not self.verified_only):
                return value
        return None

    def on(self, day: date, grade: str | None = None) -> Params:
        return Params(self, day, grade)


class NeedsGrade(Exception):
    """A parameter is a table by grade and the kindergarten's grade has no value in it."""

    def __init__(self, name: str, grade: str | None, value: DatedValue) -> None:
        super().__init__(name)
        self.name = name
        self.grade = grade
        self.value = value


@dataclass(slots=True)
class Params:
    """Parameter access on one date (for one kindergarten's grade) that records what it read,
    for the finding's trace."""

    resolver: ParameterResolver
    day: date
    grade: str | None = None
    used: dict[str, DatedValue] = field(default_factory=dict)

    def get(self, name: str) -> Any:
        value = self.resolver.resolve(name, self.day)
        if value is None:
            return None
        self.used[name] = value
        if isinstance(value.value, GradeTable):
            chosen = value.value.get(self.grade)
            if chosen is None:
                raise NeedsGrade(name, self.grade, value)
            return chosen
        return value.value

    def peek(self, name: str) -> Any:
        """A value without recording it as used: for a parameter that matters only sometimes
        (call get() once it does, so the finding's trace names it)."""
        value = self.resolver.resolve(name, self.day)
        return None if value is None else value.value

    def has(self, name: str) -> bool:
        return self.resolver.resolve(name, self.day) is not None

    def decimal(self, name: str) -> Decimal | None:
        value = self.get(name)
        return None if value is None else Decimal(value)

    def calendar(self) -> SemesterCalendar:
        spec = self.get("semester_calendar") or {}
        return SemesterCalendar(
            _month_day(spec.get("autumn_start", "09-01")),
            _month_day(spec.get("spring_start", "02-01")),
        )

    def region_listed(self, name: str) -> bool:
        """True when the district, its city or its province is in a list parameter."""
        listed = set(self.get(name) or ())
        return bool(listed & set(overlay_chain(self.resolver.region_code)))


def _month_day(text: str) -> tuple[int, int]:
    month, day = str(text).split("-")
    return int(month), int(day)

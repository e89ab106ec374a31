"""The rules as the faces show them: load, lint summary, what is in force in a region, cases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from feecheck.domain.categories import Grade
from feecheck.domain.regions import validate_region_code
from feecheck.engine.cases import CaseResult, case_files, run_cases
from feecheck.engine.findings import text_of as value_text
from feecheck.engine.loader import RulesError, all_values, load_ruleset
from feecheck.engine.params import ParameterResolver
from feecheck.engine.specs import DatedValue, GradeTable, Ruleset, RuleSpec

__all__ = [
    "ParameterLine",
    "RuleLine",
    "RulesError",
    "cached",
    "case_results",
    "lint_summary",
    "load",
    "missing_cases",
    "rules_in_force",
    "table_text",
    "unverified_values",
    "value_text",
]


def load(rules_dir: Path) -> Ruleset:
    """The ruleset of a rules folder; RulesError lists every problem (FILE:LINE: message)."""
    return load_ruleset(Path(rules_dir))


def cached(rules_dir: Path) -> Ruleset:
    """The ruleset, loaded again only when a file in the folder changed (a long-running web
    process picks up edited rules at the next request; loading takes ~0.25 s)."""
    folder = Path(rules_dir)
    stamp = tuple(
        sorted((str(p), p.stat().st_mtime_ns) for p in folder.rglob("*.yaml") if p.is_file())
    )
    return _load_stamped(folder, stamp)


@lru_cache(maxsize=4)
def _load_stamped(folder: Path, stamp: tuple[tuple[str, int], ...]) -> Ruleset:
    del stamp  # part of the cache key only
    return load_ruleset(folder)


@dataclass(frozen=True)
class ParameterLine:
    name: str
    value: DatedValue | None

    @property
    def text(self) -> str:
        if self.value is None:
            return "(not set)"
        return table_text(self.value.value)

    @property
    def flags(self) -> list[str]:
        if self.value is None:
            return []
        return (
            (["unverified: warnings only"] if not self.value.verified else [])
            + (["feecheck default, not law"] if self.value.default_not_law else [])
            + (
                [f"severity {self.value.severity} (in principle)"]
                if self.value.severity and self.value.verified
                else []
            )
        )


GRADE_NAMES = {g.value: f"{g.label_zh} {g.value}" for g in Grade}


def table_text(value: Any) -> str:
    """A parameter value; a table by grade as 'by grade: 示范 model 650.00, 一级 grade1 …'."""
    if isinstance(value, GradeTable):
        return "by grade: " + ", ".join(
            f"{GRADE_NAMES.get(g, g)} {value_text(v)}" for g, v in value.values
        )
    return value_text(value)


@dataclass(frozen=True)
class RuleLine:
    rule: RuleSpec
    status: str  # in force | from DATE | active | skipped here (…)
    parameters: list[ParameterLine] = field(default_factory=list)


def rules_in_force(ruleset: Ruleset, day: date, region_code: str | None = None) -> list[RuleLine]:
    """Every rule with its status on a day; with a region, each parameter's value and layer."""
    if region_code is not None:
        validate_region_code(region_code)
    resolver = ParameterResolver(ruleset, region_code) if region_code else None
    lines = []
    for rule in sorted(ruleset.rules.values(), key=lambda r: r.id):
        status = "in force" if rule.in_force(day) else f"from {rule.in_force_from}"
        parameters: list[ParameterLine] = []
        if resolver is not None:
            if rule.requires_any and not any(
                all(resolver.resolve(n, day) for n in group) for group in rule.requires_any
            ):
                status = "skipped here (local parameter not set)"
            elif rule.in_force(day):
                status = "active"
            parameters = [ParameterLine(n, resolver.resolve(n, day)) for n in rule.params]
        lines.append(RuleLine(rule, status, parameters))
    return lines


def lint_summary(ruleset: Ruleset) -> str:
    locals_ = sum(len(o.values) for o in ruleset.overlays.values())
    return (
        f"rules/ is fine: {len(ruleset.rules)} rules, {len(ruleset.params)} parameters, "
        f"{len(ruleset.overlays)} overlays ({locals_} local values), "
        f"{len(ruleset.taxonomy.categories)} fee-item categories; "
        f"ruleset {ruleset.short_hash}"
    )


def unverified_values(ruleset: Ruleset) -> list[str]:
    """Every value nobody could source: `FILE:LINE: name from DATE = value` (warnings only)."""
    return [
        f"{value.source}:{value.line}: {name} from {value.start} = {table_text(value.value)}"
        for name, value in sorted(
            all_values(ruleset.params, ruleset.overlays), key=lambda nv: (nv[1].source, nv[1].line)
        )
        if not value.verified
    ]


def case_results(rules_dir: Path, ruleset: Ruleset) -> Iterator[CaseResult]:
    return run_cases(Path(rules_dir), ruleset)


def has_cases(rules_dir: Path) -> bool:
    return bool(case_files(Path(rules_dir)))


def missing_cases(rules_dir: Path, ruleset: Ruleset) -> list[str]:
    """Rule ids without a case file."""
    return sorted(set(ruleset.rules) - {p.stem.upper() for p in case_files(Path(rules_dir))})

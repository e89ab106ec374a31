"""What the faces show of a check: grouping, subtotals, refund totals, JSON and CSV rows.

The command line, the web pages and the PDF reports build on these, so they show the same
numbers. Reports render data; they do not query.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from feecheck.domain.money import format_money
from feecheck.engine.findings import FindingResult
from feecheck.engine.specs import Ruleset
from feecheck.services.checking import CheckOutcome, Scope

SEVERITIES = ("violation", "warning", "info")
CSV_COLUMNS = [
    "rule_id",
    "severity",
    "period",
    "kindergarten_code",
    "child_ref",
    "citation",
    "message",
    "message_en",
    "amount_due",
    "evidence",
]


def sort_key(f: FindingResult) -> tuple[str, str, str, str, str]:
    return (f.kindergarten_code, f.period, f.rule.id, f.child_ref or "", f.key)


@dataclass
class Counts:
    by_severity: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SEVERITIES, 0))
    refunds_due: Decimal = Decimal(0)

    def add(self, finding: FindingResult) -> None:
        self.by_severity[finding.severity] = self.by_severity.get(finding.severity, 0) + 1
        self.refunds_due += finding.amount_due or 0

    def text(self) -> str:
        return ", ".join(f"{self.by_severity.get(s, 0)} {s}" for s in SEVERITIES)


@dataclass
class KindergartenGroup:
    code: str
    name: str
    region_code: str
    category: str
    findings: list[FindingResult]
    counts: Counts


@dataclass
class CheckSummary:
    """A check's findings grouped by kindergarten with subtotals and totals."""

    periods: list[str]
    ruleset_hash: str
    groups: list[KindergartenGroup]
    totals: Counts
    kindergartens_checked: int
    not_evaluated: list[dict[str, str]]

    @property
    def evaluated_periods(self) -> list[str]:
        skipped = {n["period"] for n in self.not_evaluated if not n.get("rule_id")}
        return [p for p in self.periods if p not in skipped]

    @property
    def clean(self) -> int:
        return self.kindergartens_checked - len(self.groups)

    @property
    def has_violations(self) -> bool:
        return self.totals.by_severity.get("violation", 0) > 0


def summarise(outcome: CheckOutcome, scope: Scope, ruleset: Ruleset) -> CheckSummary:
    by_kg: dict[str, list[FindingResult]] = defaultdict(list)
    for finding in sorted(outcome.findings, key=sort_key):
        by_kg[finding.kindergarten_code].append(finding)
    totals = Counts()
    groups = []
    for code, findings in by_kg.items():
        kg = outcome.kindergartens[code]
        counts = Counts()
        for f in findings:
            counts.add(f)
            totals.add(f)
        groups.append(
            KindergartenGroup(code, kg.name, kg.region_code, kg.category, findings, counts)
        )
    return CheckSummary(
        [str(p) for p in scope.periods],
        ruleset.hash,
        groups,
        totals,
        len(outcome.kindergartens),
        [n.to_json() for n in outcome.not_evaluated],
    )


def check_document(summary: CheckSummary, explain: bool = False) -> dict[str, Any]:
    """The JSON object of `feecheck check --format json` (spec §3)."""
    return {
        "periods": summary.periods,
        "ruleset": summary.ruleset_hash,
        "not_evaluated": summary.not_evaluated,
        "findings": [f.to_json(explain) for g in summary.groups for f in g.findings],
    }


def csv_rows(summary: CheckSummary) -> list[list[str]]:
    """One row per finding under CSV_COLUMNS (escape the cells when writing them)."""
    return [
        [
            f.rule.id,
            f.severity,
            f.period,
            f.kindergarten_code,
            f.child_ref or "",
            f.citation,
            f.message_zh,
            f.message_en,
            format_money(f.amount_due),
            json.dumps(f.evidence, ensure_ascii=False),
        ]
        for g in summary.groups
        for f in g.findings
    ]

"""What the faces show of a check: grouping, subtotals, refund totals, JSON and CSV rows.

The command line, the web pages and the PDF reports build on these, so they show the same
numbers. Reports render data; they do not query.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TextIO

from feecheck.domain.money import format_money, money
from feecheck.engine.findings import FindingResult
from feecheck.engine.runner import NotEvaluated
from feecheck.engine.specs import Ruleset
from feecheck.services.checking import CheckedBatch, CheckedKindergarten, Scope
from feecheck.services.exporting import BinaryTarget, XlsxWriter, escape_formula

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
TOTALS_COLUMNS = ["rule_id", "severity", "findings", "amount_due"]
TOTAL = "合计 / total"


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


class CheckOutput:
    """`feecheck check`'s output written as the batches come (a CheckSink): text grouped by
    kindergarten with subtotals, the JSON document of spec §3, CSV rows, or a workbook (xlsx:
    the CSV's rows on a first sheet, streamed, the totals by rule and severity on a second;
    `stream` is not used, save() writes it); totals kept as it goes, so a province is printed
    without holding its findings."""

    def __init__(
        self,
        stream: TextIO | None,
        output: str,
        scope: Scope,
        ruleset: Ruleset,
        explain: bool = False,
    ) -> None:
        self.stream = stream if stream is not None else io.StringIO()
        self.output, self.explain = output, explain
        self.periods = [str(p) for p in scope.periods]
        self.ruleset_hash = ruleset.hash
        self.totals = Counts()
        self.checked = 0
        self.groups = 0  # kindergartens with findings
        self.not_evaluated: list[dict[str, str]] = []
        self._first = True
        self._csv = csv.writer(self.stream, lineterminator="\r\n")
        self._book = XlsxWriter() if output == "xlsx" else None
        self._findings = self._book.sheet("findings", CSV_COLUMNS) if self._book else None
        self._by_rule: dict[tuple[str, str], Counts] = {}

    @property
    def has_violations(self) -> bool:
        return self.totals.by_severity.get("violation", 0) > 0

    @property
    def clean(self) -> int:
        return self.checked - self.groups

    @property
    def evaluated_periods(self) -> list[str]:
        skipped = {n["period"] for n in self.not_evaluated if not n.get("rule_id")}
        return [p for p in self.periods if p not in skipped]

    def start(self, kindergartens: int, skipped: list[NotEvaluated]) -> None:
        self.checked = kindergartens
        self.not_evaluated = [n.to_json() for n in skipped]
        if self.output == "json":
            head = json.dumps(
                {
                    "periods": self.periods,
                    "ruleset": self.ruleset_hash,
                    "not_evaluated": self.not_evaluated,
                },
                ensure_ascii=False,
                indent=1,
            )
            self.stream.write(head[: head.rindex("}")].rstrip() + ',\n "findings": [')
        elif self.output == "csv":
            self._csv.writerow(CSV_COLUMNS)
        elif self.output == "xlsx":
            pass  # the header was written with the sheet; what was skipped goes to stderr
        else:
            months = self.periods[0] + (f" .. {self.periods[-1]}" if len(self.periods) > 1 else "")
            self._line(
                f"检查期间 / periods {months} · 规则集 / ruleset {self.ruleset_hash[:12]} · "
                f"{kindergartens} 所幼儿园 / kindergartens"
            )
            for n in self.not_evaluated:
                rule = f" {n['rule_id']}" if n.get("rule_id") else ""
                self._line(
                    f"未检查 / not evaluated: {n['period']}{rule}: {n['reason_zh']} / {n['reason']}"
                )

    def batch(self, batch: CheckedBatch) -> None:
        by_code: dict[str, list[FindingResult]] = defaultdict(list)
        for finding in batch.findings:
            self.totals.add(finding)
            by_code[finding.kindergarten_code].append(finding)
        self.groups += len(by_code)
        if self.output == "json":
            for finding in batch.findings:
                item = json.dumps(finding.to_json(self.explain), ensure_ascii=False, indent=1)
                self.stream.write(("\n  " if self._first else ",\n  ") + item.replace("\n", "\n  "))
                self._first = False
        elif self.output == "csv":
            for finding in batch.findings:
                self._csv.writerow([escape_formula(c) for c in csv_row(finding)])
        elif self._findings is not None:
            for finding in batch.findings:
                self._findings.append(xlsx_row(finding))
                key = (finding.rule.id, finding.severity)
                self._by_rule.setdefault(key, Counts()).add(finding)
        else:
            for kg in batch.kindergartens:
                if kg.code in by_code:
                    self._group(kg, by_code[kg.code])

    def _group(self, kg: CheckedKindergarten, findings: list[FindingResult]) -> None:
        self._line(f"\n{kg.code} {kg.name} ({kg.region_code}, {kg.category})")
        counts = Counts()
        for f in findings:
            counts.add(f)
            child = f" {f.child_ref}" if f.child_ref else ""
            self._line(f"  {f.period} {f.severity:9} {f.rule.id}{child}: {f.message_zh}")
            if self.explain:
                for step in f.explanation:
                    self._line(f"      · {step['zh']}\n        {step['en']}")
        self._line(
            f"  小计 / subtotal: {counts.text()}; 应退 / refunds due {counts.refunds_due:.2f}"
        )

    def finish(self) -> None:
        """Close the document (JSON), print the totals (text) or add the totals' sheet (xlsx)."""
        if self._book is not None:
            self._book.write_sheet("totals", TOTALS_COLUMNS, self.totals_rows())
        elif self.output == "json":
            self.stream.write("\n ]\n}\n" if not self._first else "]\n}\n")
        elif self.output == "text":
            if not self.evaluated_periods:
                self._line("\n没有检查任何月份 / no month was evaluated (see above)")
                return
            evaluated = "" if not self.not_evaluated else " in the months evaluated"
            self._line(
                f"\n合计 / total: {self.totals.text()} in {self.groups} kindergartens "
                f"({self.clean} without findings{evaluated}); "
                f"应退 / refunds due {self.totals.refunds_due:.2f}"
            )

    def totals_rows(self) -> list[list[object]]:
        """The totals' sheet: a row per rule and severity, then per severity, then the total."""
        rows: list[list[object]] = [
            [rule_id, severity, sum(c.by_severity.values()), money(c.refunds_due)]
            for (rule_id, severity), c in sorted(self._by_rule.items())
        ]
        for severity in SEVERITIES:
            n = self.totals.by_severity.get(severity, 0)
            due = sum(
                (c.refunds_due for (_, s), c in self._by_rule.items() if s == severity), Decimal(0)
            )
            rows.append([TOTAL, severity, n, money(due)])
        rows.append(
            [TOTAL, "", sum(self.totals.by_severity.values()), money(self.totals.refunds_due)]
        )
        return rows

    def save(self, target: BinaryTarget) -> None:
        """Write the workbook (xlsx, after finish()) to a path or a binary stream."""
        if self._book is None:
            raise ValueError(f"{self.output} output is text: it was written to its stream")
        self._book.save(target)

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")


def xlsx_row(f: FindingResult) -> list[object]:
    """A finding under CSV_COLUMNS for a workbook: csv_row with the amount due a number."""
    row: list[object] = list(csv_row(f))
    row[CSV_COLUMNS.index("amount_due")] = None if f.amount_due is None else money(f.amount_due)
    return row


def csv_row(f: FindingResult) -> list[str]:
    """A finding under CSV_COLUMNS (escape the cells when writing them)."""
    return [
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

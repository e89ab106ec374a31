"""Rule tests as data: rules/cases/*.yaml, records in -> expected findings out, no database."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from feecheck.domain.periods import Period
from feecheck.engine.facts import (
    AbsenceFact,
    ChargeFact,
    ChildFact,
    FundingFact,
    InspectionFact,
    KindergartenFacts,
    RefundFact,
    StandardFact,
)
from feecheck.engine.findings import FindingResult
from feecheck.engine.runner import run_rules
from feecheck.engine.specs import Ruleset

FAR_FUTURE = date(9999, 12, 31)


@dataclass
class CaseResult:
    file: str
    rule: str
    name: str
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def build_facts(case: dict[str, Any], ruleset: Ruleset) -> KindergartenFacts:
    spec = {
        "code": "K1",
        "region_code": "110108",
        "category": "public",
        "boarding": False,
        "accounts": ["A1"],
        **(case.get("kindergarten") or {}),
    }
    kg = KindergartenFacts(
        1,
        spec["code"],
        spec.get("name", "测试园"),
        str(spec["region_code"]),
        spec["category"],
        bool(spec["boarding"]),
        frozenset(spec["accounts"]),
        spec.get("grade"),
    )
    refs: dict[str, int] = {}
    for n, child in enumerate(case.get("children") or [], start=1):
        refs[child["ref"]] = n
        kg.children[n] = ChildFact(
            n,
            child["ref"],
            child.get("birth_date"),
            child.get("final_year"),
            child.get("enrolled_on", date(2024, 9, 1)),
            child.get("left_on"),
            bool(child.get("boarding", False)),
            child.get("hardship", "none"),
        )
    for n, s in enumerate(case.get("standards") or [], start=1):
        kg.standards.append(
            StandardFact(
                n,
                s["fee_item"],
                ruleset.taxonomy.classify(s["fee_item"]),
                _money(s["amount"]),
                s["unit"],
                s["effective_from"],
                s.get("effective_to"),
                ruleset.taxonomy.item_key(s["fee_item"]),
            )
        )
    receipts: dict[str, int] = {}
    for n, c in enumerate(case.get("charges") or [], start=1):
        receipts[c["receipt"]] = n
        kg.charges.append(
            ChargeFact(
                n,
                c["receipt"],
                refs[c["child"]],
                c["fee_item"],
                ruleset.taxonomy.classify(c["fee_item"]),
                _money(c["amount"]),
                c["period_start"],
                c["period_end"],
                c["paid_on"],
                str(c.get("account", "A1")),
                c.get("collector", "kindergarten"),
                ruleset.taxonomy.item_key(c["fee_item"]),
            )
        )
    for f in case.get("funding") or []:
        kg.funding.append(
            FundingFact(
                f["reference"],
                f["source"],
                _money(f["amount"]),
                f["period_start"],
                f["period_end"],
                f["received_on"],
            )
        )
    for r in case.get("refunds") or []:
        charge_id = receipts[r["receipt"]]
        kg.refunds.setdefault(charge_id, []).append(
            RefundFact(charge_id, r["refund_no"], _money(r["amount"]), r["refunded_on"])
        )
    for a in case.get("absences") or []:
        kg.absences[(refs[a["child"]], str(a["month"]))] = AbsenceFact(
            refs[a["child"]], str(a["month"]), int(a["days_absent"]), int(a["days_open"])
        )
    for i in case.get("inspections") or []:
        kg.inspections.append(
            InspectionFact(
                i["inspected_on"], str(i.get("inspector", "")), bool(i["fees_disclosed"])
            )
        )
    return kg


def _matches(expected: dict[str, Any], finding: FindingResult) -> bool:
    if "period" in expected and str(expected["period"]) != finding.period:
        return False
    if "child_ref" in expected and expected["child_ref"] != finding.child_ref:
        return False
    if "severity" in expected and expected["severity"] != finding.severity:
        return False
    for key, value in (expected.get("evidence") or {}).items():
        actual = finding.evidence.get(key)
        wanted = [str(v) for v in value] if isinstance(value, list) else str(value)
        if actual != wanted:
            return False
    return True


def case_months(case: dict[str, Any]) -> tuple[Period, Period, date]:
    """The months a case checks and the as-of date it judges on."""
    first = Period.parse(str(case["period"]))
    last = Period.parse(str(case.get("to", case["period"])))
    return first, last, case.get("as_of", FAR_FUTURE)


def run_case(
    case: dict[str, Any],
    rule_id: str,
    ruleset: Ruleset,
    screened: Mapping[str, AbstractSet[tuple[int, str]]] | None = None,
) -> tuple[list[FindingResult], list[str]]:
    """The case's findings and what differs from its `expect`; `screened` runs it through the
    screens' path (runner.run_rules), as the database check does."""
    kg = build_facts(case, ruleset)
    first, last, as_of = case_months(case)
    findings = run_rules(ruleset, [kg], first.until(last), as_of, {rule_id}, screened)
    unmatched = list(findings)
    problems = []
    for expected in case.get("expect") or []:
        match = next((f for f in unmatched if _matches(expected, f)), None)
        if match is None:
            problems.append(f"expected {expected} but got {_describe(findings)}")
        else:
            unmatched.remove(match)
    for extra in unmatched:
        problems.append(f"unexpected finding {_describe([extra])}")
    return findings, problems


def _describe(findings: list[FindingResult]) -> str:
    if not findings:
        return "no finding"
    return "; ".join(f"{f.period} {f.child_ref} {f.severity} {f.evidence}" for f in findings)


def case_files(rules_dir: Path) -> list[Path]:
    return sorted((Path(rules_dir) / "cases").glob("*.yaml"))


def run_cases(rules_dir: Path, ruleset: Ruleset) -> Iterator[CaseResult]:
    for path in case_files(rules_dir):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            rule_id = data["rule"]
        except (yaml.YAMLError, TypeError, KeyError) as exc:
            yield CaseResult(path.name, "?", "(the file)", [f"not a valid case file: {exc}"])
            continue
        for case in data.get("cases") or []:
            result = CaseResult(path.name, rule_id, str(case.get("name", "")))
            if rule_id not in ruleset.rules:
                result.problems.append(f"unknown rule {rule_id}")
            else:
                try:
                    _findings, result.problems = run_case(case, rule_id, ruleset)
                except (KeyError, TypeError, ValueError) as exc:
                    result.problems.append(f"the case is malformed: {exc!r}")
            yield result

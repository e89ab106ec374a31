"""What a finding says: Chinese without English codes, ratios that show the comparison,
explanations an inspector can redo with a calculator (issue 11)."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
import yaml

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.engine.cases import build_facts, case_files
from feecheck.engine.findings import percent, ratio_beside
from feecheck.engine.loader import load_ruleset
from feecheck.engine.runner import run_rules

RULES = ROOT / "rules"
RULESET = load_ruleset(RULES)
FAR = date(9999, 12, 31)


def _case_findings():  # type: ignore[no-untyped-def]
    """Every finding the YAML cases produce: a corpus of real outputs of every rule."""
    for path in case_files(RULES):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            kg = build_facts(case, RULESET)
            first = Period.parse(str(case["period"]))
            last = Period.parse(str(case.get("to", case["period"])))
            yield from run_rules(
                RULESET, [kg], first.until(last), case.get("as_of", FAR), {data["rule"]}
            )


FINDINGS = list(_case_findings())
# lower-case ASCII words: codes such as day, orphan, parent_committee, receipts_proxy
CODE = re.compile(r"(?<![A-Za-z0-9_])[a-z][a-z_]{2,}(?![A-Za-z0-9_])")


def test_the_cases_produce_findings_of_every_rule() -> None:
    assert {f.rule.id for f in FINDINGS} == set(RULESET.rules)


@pytest.mark.parametrize("finding", FINDINGS, ids=lambda f: f"{f.rule.id}-{f.period}")
def test_chinese_messages_carry_no_english_codes(finding) -> None:  # type: ignore[no-untyped-def]
    assert CODE.findall(finding.message_zh) == []
    assert "（）" not in finding.message_zh and "{" not in finding.message_zh
    figures = next(s for s in finding.explanation if s["step"] == "figures")["zh"]
    words = [  # parameter names (in the defaults) and arithmetic are not words to translate
        part
        for part in figures.removeprefix("计算结果：").split("；")
        if not part.startswith(
            ("计算过程", "feecheck 默认值", "对比月份计算过程", "未经核实的参数")
        )
    ]
    assert CODE.findall("；".join(words)) == []


def test_codes_become_words_in_chinese() -> None:
    by_rule = {f.rule.id: f for f in FINDINGS}
    collector = by_rule["FEE-THIRD-PARTY-COLLECTOR"]
    assert collector.evidence["collector"] in ("parent_committee", "third_party")
    assert "家委会" in collector.message_zh or "第三方" in collector.message_zh
    hardship = by_rule["HARDSHIP-NO-REDUCTION"]
    assert any(word in hardship.message_zh for word in ("家庭经济困难", "孤儿", "残疾"))


@pytest.mark.parametrize(
    ("value", "threshold", "shown", "as_percent"),
    [
        ("0.1034", "0.10", "0.1034", "10.34%"),
        ("0.1000125", "0.10", "0.10001", "10.001%"),
        ("0.3", "0.10", "0.3000", "30%"),
        ("0.1000000001", "0.10", "0.1000000001", "10.00000001%"),
    ],
)
def test_a_ratio_is_shown_precisely_enough_to_differ_from_its_threshold(
    value: str, threshold: str, shown: str, as_percent: str
) -> None:
    ratio = ratio_beside(Decimal(value), Decimal(threshold))
    assert str(ratio) == shown and ratio > Decimal(threshold)
    assert percent(Decimal(value), Decimal(threshold)) == as_percent


def test_per_child_funding_can_be_recomputed_from_the_evidence_alone() -> None:
    funding = [
        f
        for f in FINDINGS
        if f.rule.id in ("FUNDING-FLOOR", "INCLUSIVE-SUBSIDY") and "needs_grade" not in f.evidence
    ]
    assert funding
    for f in funding:
        evidence = f.evidence
        shares = [Decimal(line.rsplit("= ", 1)[1]) for line in evidence["funding_detail"]]
        assert sum(shares, Decimal(0)) == Decimal(evidence["funding_attributed"])
        year, month = (int(x) for x in evidence["annualising_factor"].split("/"))
        period = Period.parse(f.period)
        assert month == period.days and year in (365, 366)
        per_child = Decimal(evidence["funding_attributed"]) * year / int(evidence["child_days"])
        assert abs(per_child - Decimal(evidence["per_child_year"])) <= Decimal("0.01")
        assert evidence["calculation"].endswith(f"= {evidence['per_child_year']}")


def test_defaults_that_are_not_law_are_named_in_the_evidence() -> None:
    prepay = next(f for f in FINDINGS if f.rule.id == "FEE-PREPAY")
    assert any(d.startswith("prepay_advance_days = ") for d in prepay.evidence["defaults_not_law"])
    disclosure = next(f for f in FINDINGS if f.rule.id == "FEE-DISCLOSURE")
    assert "defaults_not_law" not in disclosure.evidence


def test_a_record_that_cannot_be_evaluated_does_not_stop_the_check() -> None:
    """A charge ending on the calendar's last day (stored before dates were bounded) makes one
    warning about that rule and month; every other rule, month and kindergarten is checked."""
    case = {
        "period": "2025-09",
        "kindergarten": {"category": "nonprofit_private", "accounts": ["A1"]},
        "children": [{"ref": "C1", "birth_date": date(2021, 3, 1)}],
        "charges": [
            {"receipt": "R1", "child": "C1", "fee_item": "保教费", "amount": "800.00",
             "period_start": date(2025, 9, 1), "period_end": date(9999, 12, 31),
             "paid_on": date(2025, 9, 1)},
            {"receipt": "R2", "child": "C1", "fee_item": "舞蹈兴趣班费", "amount": "300.00",
             "period_start": date(2025, 9, 1), "period_end": date(2025, 9, 30),
             "paid_on": date(2025, 9, 2), "account": "B9"},
        ],
    }  # fmt: skip
    broken = build_facts(case, RULESET)
    healthy = build_facts({**case, "charges": case["charges"][1:]}, RULESET)
    healthy.code = "K2"
    findings = run_rules(RULESET, [broken, healthy], [Period(2025, 9)], FAR)
    errors = [f for f in findings if "evaluation_error" in f.evidence]
    assert errors and {f.severity for f in errors} == {"warning"}
    assert {f.rule.id for f in errors} <= {
        "FEE-PREPAY",
        "FEE-ABOVE-STANDARD",
        "REFUND-ON-WITHDRAWAL",
    }
    assert (
        "could not be evaluated" in errors[0].message_en
        and "无法按本规则评估" in errors[0].message_zh
    )
    for code in ("K1", "K2"):  # the prohibited item and the unfiled account found in both
        rules = {f.rule.id for f in findings if f.kindergarten_code == code}
        assert {"FEE-PROHIBITED-ITEM", "FEE-UNFILED-ACCOUNT"} <= rules


def test_an_unverified_or_in_principle_value_never_makes_a_violation() -> None:
    capped = [
        f for f in FINDINGS if any(not v.verified or v.severity for v in f.parameters.values())
    ]
    assert capped  # the cases exercise such values (Shanghai, Yunnan, Guangzhou, Weifang, Hefei)
    assert {f.severity for f in capped} <= {"warning", "info"}
    for f in capped:
        if any(not v.verified for v in f.parameters.values()):
            assert f.evidence["unverified_values"] and "未经核实" in f.message_zh

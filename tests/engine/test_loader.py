"""rules/ loads clean; broken rules are refused with the file, the line and the reason."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from feecheck.config import ROOT
from feecheck.engine.loader import RulesError, load_ruleset
from feecheck.engine.params import ParameterResolver

# The contract's rule ids (fee-rules.md §4, spec §4).
RULE_IDS = {
    "FUNDING-FLOOR",
    "FUNDING-LOWERED",
    "INCLUSIVE-SUBSIDY",
    "FUNDING-FORPROFIT-PUBLIC-MONEY",
    "FEE-PROHIBITED-ITEM",
    "FEE-UNCLASSIFIED-ITEM",
    "FEE-THIRD-PARTY-COLLECTOR",
    "ACCOMMODATION-NON-BOARDER",
    "FEE-NO-STANDARD",
    "FEE-ABOVE-STANDARD",
    "INCLUSIVE-FEE-CAP",
    "FEE-ADJUST-FREQUENCY",
    "FEE-ADJUST-AMPLITUDE",
    "FEE-ADJUST-MIDYEAR",
    "FEE-PREPAY",
    "REFUND-ON-WITHDRAWAL",
    "MEAL-SETTLEMENT",
    "HARDSHIP-NO-REDUCTION",
    "FEE-FREE-FINAL-YEAR",
    "FEE-DISCLOSURE",
    "FEE-UNFILED-ACCOUNT",
}

RULES = ROOT / "rules"


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


def _problems(rules_dir: Path) -> str:
    with pytest.raises(RulesError) as error:
        load_ruleset(rules_dir)
    return str(error.value)


def test_shipped_rules_load_with_every_contract_id() -> None:
    ruleset = load_ruleset(RULES)
    assert set(ruleset.rules) == RULE_IDS
    assert all(rule.citation.document and rule.citation.article for rule in ruleset.rules.values())
    assert len(ruleset.hash) == 64


def test_an_overlay_that_lowers_the_funding_floor_is_refused(rules_copy: Path) -> None:
    (rules_copy / "regions" / "620000.yaml").write_text(
        'region: "620000"\nname: {zh: 甘肃省, en: Gansu}\nparameters:\n'
        "  funding_floor_per_child_year:\n"
        '    - {from: 2024-01-01, value: "500.00", reference: a wrong overlay}\n',
        encoding="utf-8",
    )
    message = _problems(rules_copy)
    assert "rules/regions/620000.yaml:5: funding_floor_per_child_year = 500.00 weakens" in message


def test_a_district_may_not_weaken_its_city(rules_copy: Path) -> None:
    (rules_copy / "regions" / "370705.yaml").write_text(
        'region: "370705"\nparameters:\n  min_months_between_adjustments:\n'
        "    - {from: 2024-01-01, value: 12, severity: warning, reference: weaker than Weifang}\n",
        encoding="utf-8",
    )
    assert (
        "370705.yaml:4: min_months_between_adjustments = 12 weakens rules/regions/370700.yaml"
        in _problems(rules_copy)
    )


def test_a_rule_without_a_citation_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "national" / "fee-disclosure.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("citation:")
    end = text.index("\nin_force:")
    path.write_text(text[:start] + text[end + 1 :], encoding="utf-8")
    assert "fee-disclosure.yaml:1: the rule has no citation" in _problems(rules_copy)


def test_an_unknown_kind_and_an_unknown_overlay_key_are_refused(rules_copy: Path) -> None:
    path = rules_copy / "national" / "fee-disclosure.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("kind: disclosure", "kind: vibes"),
        encoding="utf-8",
    )
    (rules_copy / "regions" / "650000.yaml").write_text(
        'region: "650000"\nparameters:\n  no_such_parameter:\n'
        "    - {from: 2020-01-01, value: 1, reference: x}\n",
        encoding="utf-8",
    )
    problems = _problems(rules_copy)
    assert "unknown kind 'vibes'" in problems
    assert "650000.yaml:3: no_such_parameter is not a parameter declared" in problems


def test_overlapping_windows_and_missing_references_are_refused(rules_copy: Path) -> None:
    (rules_copy / "regions" / "650000.yaml").write_text(
        'region: "650000"\nparameters:\n  min_months_between_adjustments:\n'
        "    - {from: 2020-01-01, value: 36, reference: x}\n"
        "    - {from: 2021-01-01, value: 48}\n",
        encoding="utf-8",
    )
    problems = _problems(rules_copy)
    assert (
        "650000.yaml:5: min_months_between_adjustments: the window from 2021-01-01 overlaps"
        in problems
    )
    assert "has no `reference`" in problems


def test_an_alias_in_two_categories_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "fee_items.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("aliases: [伙食费,", "aliases: [保教费, 伙食费,"),
        encoding="utf-8",
    )
    assert "alias '保教费' maps to care_education and meals" in _problems(rules_copy)


def test_broken_yaml_names_the_line(rules_copy: Path) -> None:
    (rules_copy / "regions" / "650000.yaml").write_text("region: [\n", encoding="utf-8")
    assert "rules/regions/650000.yaml:2: not valid YAML" in _problems(rules_copy)


def test_parameters_resolve_from_the_deepest_layer() -> None:
    ruleset = load_ruleset(RULES)
    from datetime import date

    lixia = ParameterResolver(ruleset, "370102")
    ratio = lixia.resolve("inclusive_cap_ratio", date(2026, 1, 1))
    assert (
        ratio is not None and ratio.layer == "city" and ratio.source == "rules/regions/370100.yaml"
    )
    assert lixia.resolve("min_months_between_adjustments", date(2026, 1, 1)) is None
    months = ParameterResolver(ruleset, "530102").resolve(
        "min_months_between_adjustments", date(2026, 1, 1)
    )
    assert months is not None and months.layer == "province" and not months.verified
    block = ParameterResolver(ruleset, "310104").resolve("billing_block", date(2026, 1, 1))
    assert block is not None and block.value == "month"
    national = ParameterResolver(ruleset, "420102").resolve("billing_block", date(2026, 1, 1))
    assert national is not None and national.value == "semester" and national.layer == "national"


def _overlay(rules_copy: Path, region: str, name: str, value: str) -> None:
    (rules_copy / "regions" / f"{region}.yaml").write_text(
        f'region: "{region}"\nparameters:\n  {name}:\n'
        f"    - {{from: 2026-01-01, value: {value}, reference: a test overlay}}\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("name", "weaker", "stricter", "bound"),
    [
        ("prepay_advance_days", "45", "20", "cap"),
        ("prohibited_categories", "[special_class]", None, "superset"),
        ("meal_refund_first_day_excluded", "true", "false", "false_stricter"),
        ("billing_block", "semester", "month", "order"),
    ],
)
def test_overlays_may_tighten_and_never_weaken(
    rules_copy: Path, name: str, weaker: str, stricter: str | None, bound: str
) -> None:
    if name == "meal_refund_first_day_excluded":  # local: a national value to weaken first
        _overlay(rules_copy, "450000", name, "false")
        region = "450100"
    elif name == "billing_block":
        _overlay(rules_copy, "450000", name, "month")
        region = "450100"
    else:
        region = "450000"
    if stricter is not None:
        _overlay(rules_copy, region, name, stricter)
        load_ruleset(rules_copy)  # tightening is fine
    _overlay(rules_copy, region, name, weaker)
    message = _problems(rules_copy)
    assert f"rules/regions/{region}.yaml:4: {name} = " in message
    assert f"(bound: {bound})" in message


def test_a_superset_overlay_may_add_to_the_national_list(rules_copy: Path) -> None:
    national = load_ruleset(RULES).params["prohibited_categories"].values[-1].value
    wider = "[" + ", ".join([*national, "unclassified"]) + "]"
    _overlay(rules_copy, "450000", "prohibited_categories", wider)
    resolver = ParameterResolver(load_ruleset(rules_copy), "450102")
    assert "unclassified" in resolver.resolve("prohibited_categories", date(2026, 3, 1)).value


def test_true_stricter_refuses_switching_a_province_rule_off(rules_copy: Path) -> None:
    _overlay(rules_copy, "310100", "adjust_only_at_school_year_start", "false")
    message = _problems(rules_copy)
    assert "adjust_only_at_school_year_start = False weakens rules/regions/310000.yaml" in message


def test_the_lint_refuses_an_unverified_value_that_would_make_a_violation(rules_copy: Path) -> None:
    (rules_copy / "regions" / "450000.yaml").write_text(
        'region: "450000"\nparameters:\n  funding_floor_per_child_year:\n'
        '    - {from: 2024-01-01, value: "700.00", verified: false, reference: a rumour}\n',
        encoding="utf-8",
    )
    message = _problems(rules_copy)
    assert (
        "rules/regions/450000.yaml:4: funding_floor_per_child_year: the value from 2024-01-01"
        in message
    )
    assert "FUNDING-FLOOR" in message and "severity: warning" in message
    text = (rules_copy / "regions" / "450000.yaml").read_text(encoding="utf-8")
    (rules_copy / "regions" / "450000.yaml").write_text(
        text.replace("verified: false", "verified: false, severity: warning"), encoding="utf-8"
    )
    load_ruleset(rules_copy)  # marked: accepted, and a finding on it can only be a warning


def test_grade_tables_load_and_resolve_by_grade() -> None:
    from feecheck.engine.params import NeedsGrade
    from feecheck.engine.specs import GradeTable

    ruleset = load_ruleset(RULES)
    jinan = ParameterResolver(ruleset, "370102")
    value = jinan.resolve("public_reference_fee_per_month", date(2026, 1, 1))
    assert isinstance(value.value, GradeTable)
    assert jinan.on(date(2026, 1, 1), "grade2").get("public_reference_fee_per_month") == Decimal(
        "416.00"
    )
    with pytest.raises(NeedsGrade):
        jinan.on(date(2026, 1, 1), None).get("public_reference_fee_per_month")
    with pytest.raises(NeedsGrade):
        jinan.on(date(2026, 1, 1), "unrated").get("public_reference_fee_per_month")


def test_a_grade_table_may_not_weaken_one_grade(rules_copy: Path) -> None:
    (rules_copy / "regions" / "370102.yaml").write_text(
        'region: "370102"\nparameters:\n  inclusive_care_fee_cap_per_month:\n'
        '    - {from: 2025-06-01, value: "700.00", reference: a district cap}\n',
        encoding="utf-8",
    )
    load_ruleset(rules_copy)  # a cap under no broader cap is fine
    (rules_copy / "regions" / "370100.yaml").write_text(
        (RULES / "regions" / "370100.yaml").read_text(encoding="utf-8")
        + "  inclusive_care_fee_cap_per_month:\n"
        "    - from: 2025-06-01\n"
        '      value: {by_grade: {model: "800.00", grade1: "650.00"}}\n'
        "      reference: a city table\n",
        encoding="utf-8",
    )
    problems = _problems(rules_copy)
    assert "inclusive_care_fee_cap_per_month = 700.00 weakens rules/regions/370100.yaml" in problems
    assert "'s by grade: model 800.00, grade1 650.00 (bound: cap)" in problems  # not a repr
    assert "GradeTable(" not in problems

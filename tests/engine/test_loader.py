"""rules/ loads clean; broken rules are refused with the file, the line and the reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from feecheck.config import ROOT
from feecheck.engine.loader import RulesError, load_ruleset
from feecheck.engine.params import ParameterResolver
from tests.services.test_demo import RULE_IDS

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


def test_a_city_may_not_weaken_its_province(rules_copy: Path) -> None:
    (rules_copy / "regions" / "370200.yaml").write_text(
        'region: "370200"\nparameters:\n  min_months_between_adjustments:\n'
        "    - {from: 2020-01-01, value: 12, reference: weaker than Shandong}\n",
        encoding="utf-8",
    )
    assert (
        "370200.yaml:4: min_months_between_adjustments = 12 weakens rules/regions/370000.yaml"
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
    months = lixia.resolve("min_months_between_adjustments", date(2026, 1, 1))
    assert months is not None and months.layer == "province"
    block = ParameterResolver(ruleset, "310104").resolve("billing_block", date(2026, 1, 1))
    assert block is not None and block.value == "month"
    national = ParameterResolver(ruleset, "420102").resolve("billing_block", date(2026, 1, 1))
    assert national is not None and national.value == "semester" and national.layer == "national"

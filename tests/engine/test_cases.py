"""The YAML rule cases pass, and every rule has a finding case and a no-finding case."""

from __future__ import annotations

from collections import defaultdict

import yaml

from feecheck.config import ROOT
from feecheck.engine.cases import case_files, run_cases
from feecheck.engine.loader import load_ruleset

RULES = ROOT / "rules"


def test_every_case_passes() -> None:
    ruleset = load_ruleset(RULES)
    failures = [
        f"{r.file} {r.name}: {r.problems}" for r in run_cases(RULES, ruleset) if not r.passed
    ]
    assert failures == []


def test_every_rule_has_a_finding_case_and_a_no_finding_case() -> None:
    kinds: dict[str, set[bool]] = defaultdict(set)
    for path in case_files(RULES):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            kinds[data["rule"]].add(bool(case.get("expect")))
    ruleset = load_ruleset(RULES)
    assert {rule: sides for rule, sides in kinds.items() if sides != {True, False}} == {}
    assert set(kinds) == set(ruleset.rules)

from __future__ import annotations

import json
import shlex

import pytest
from flask.testing import FlaskCliRunner

from feecheck.cli import main
from feecheck.services.demo import SEEDED_CASES


@pytest.fixture
def demo(runner: FlaskCliRunner) -> FlaskCliRunner:
    assert runner.invoke(main, shlex.split("demo")).exit_code == 0
    return runner


def test_json_output_follows_the_contract(demo: FlaskCliRunner) -> None:
    result = demo.invoke(
        main,
        shlex.split("check --period 2025-09 --to 2026-08 --format json --as-of 2026-11-23"),
    )
    assert result.exit_code == 3, result.output
    document = json.loads(result.output)
    assert document["periods"][0] == "2025-09" and len(document["periods"]) == 12
    assert len(document["ruleset"]) == 64
    finding = document["findings"][0]
    assert set(finding) == {
        "rule_id",
        "severity",
        "period",
        "kindergarten_code",
        "child_ref",
        "citation",
        "message",
        "evidence",
        "parameters",
    }
    assert {f["rule_id"] for f in document["findings"]} == set(SEEDED_CASES)
    for f in document["findings"]:
        for parameter in f["parameters"].values():
            assert set(parameter) == {"value", "layer", "source"}
            assert parameter["source"].startswith("rules/")


def test_clean_kindergarten_exits_zero_and_text_has_totals(demo: FlaskCliRunner) -> None:
    result = demo.invoke(
        main,
        shlex.split(
            "check --period 2025-09 --to 2026-08 --kindergarten K110108001 --as-of 2026-11-23"
        ),
    )
    assert result.exit_code == 0, result.output
    assert "0 violation, 0 warning, 0 info in 0 kindergartens" in result.output


def test_explain_shows_the_chain(demo: FlaskCliRunner) -> None:
    result = demo.invoke(
        main,
        [
            "check",
            "--period",
            "2025-11",
            "--kindergarten",
            SEEDED_CASES["FEE-DISCLOSURE"],
            "--explain",
        ],
    )
    assert result.exit_code == 3
    assert "使用的记录" in result.output and "Records used" in result.output
    assert "Outcome (violation)" in result.output


def test_bad_arguments_exit_two(demo: FlaskCliRunner) -> None:
    assert demo.invoke(main, shlex.split("check --period 2025-13")).exit_code == 2
    result = demo.invoke(main, shlex.split("check --period 2025-09 --kindergarten K404"))
    assert result.exit_code == 2 and "unknown kindergarten K404" in result.output


def test_rules_commands(runner: FlaskCliRunner) -> None:
    lint = runner.invoke(main, shlex.split("rules lint"))
    assert lint.exit_code == 0 and "21 rules" in lint.output
    listing = runner.invoke(main, shlex.split("rules list --region 370102 --on 2026-03-01"))
    assert listing.exit_code == 0
    assert "inclusive_cap_ratio = 1.20  ← city rules/regions/370100.yaml" in listing.output
    shanghai = runner.invoke(main, shlex.split("rules list --region 420102 --on 2026-03-01"))
    assert "INCLUSIVE-SUBSIDY" in shanghai.output and "skipped here" in shanghai.output
    cases = runner.invoke(main, shlex.split("rules test"))
    assert cases.exit_code == 0, cases.output
    assert " passed, 0 failed" in cases.output

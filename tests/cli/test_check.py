from __future__ import annotations

import csv
import io
import json
import shlex

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select

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
    assert set(document) == {"periods", "ruleset", "not_evaluated", "findings"}
    assert document["periods"][0] == "2025-09" and len(document["periods"]) == 12
    assert document["not_evaluated"] == []
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
            SEEDED_CASES["FEE-DISCLOSURE"][0],
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


def test_as_of_names_the_months_it_did_not_evaluate(demo: FlaskCliRunner) -> None:
    args = "check --period 2026-01 --to 2026-03 --as-of 2026-02-10"
    document = json.loads(demo.invoke(main, shlex.split(args + " --format json")).output)
    assert document["periods"] == ["2026-01", "2026-02", "2026-03"]
    skipped = [(n["period"], n.get("rule_id")) for n in document["not_evaluated"]]
    assert skipped == [
        ("2026-02", "FUNDING-FLOOR"),  # the month's funding may still arrive
        ("2026-02", "FUNDING-LOWERED"),
        ("2026-02", "INCLUSIVE-SUBSIDY"),
        ("2026-02", "MEAL-SETTLEMENT"),
        ("2026-03", None),
    ]
    assert "as-of" in document["not_evaluated"][-1]["reason"]
    assert {f["period"] for f in document["findings"]} <= {"2026-01", "2026-02"}
    text = demo.invoke(main, shlex.split(args)).output
    assert "未检查 / not evaluated: 2026-03" in text and "in the months evaluated" in text


def test_csv_output_is_escaped_against_formula_injection(demo: FlaskCliRunner) -> None:
    from feecheck.extensions import db
    from feecheck.models import Kindergarten

    with demo.app.app_context():
        session = db.session
        kg = session.scalars(
            select(Kindergarten).where(Kindergarten.code == SEEDED_CASES["FEE-DISCLOSURE"][0])
        ).one()
        kg.code = "=HYPERLINK(1)"
        session.commit()
    result = demo.invoke(
        main, shlex.split("check --period 2025-11 --format csv --kindergarten =HYPERLINK(1)")
    )
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0][:3] == ["rule_id", "severity", "period"]
    assert {row[3] for row in rows[1:]} == {"'=HYPERLINK(1)"}


def test_rules_list_refuses_bad_dates_and_regions(runner: FlaskCliRunner) -> None:
    bad_day = runner.invoke(main, shlex.split("rules list --on 2026-13-01"))
    assert bad_day.exit_code == 2 and "--on must be a date" in bad_day.output
    assert "Traceback" not in bad_day.output
    bad_region = runner.invoke(main, shlex.split("rules list --region abc"))
    assert bad_region.exit_code == 2 and "6-digit" in bad_region.output


def test_rules_list_shows_grade_tables_with_their_sources(runner: FlaskCliRunner) -> None:
    jinan = runner.invoke(main, shlex.split("rules list --region 370102 --on 2026-03-01"))
    assert jinan.exit_code == 0
    assert (
        "public_reference_fee_per_month = by grade: 示范 model 650.00, 一级 grade1 520.00, "
        "二级 grade2 416.00, 三级 grade3 338.00  ← city rules/regions/370100.yaml" in jinan.output
    )
    assert "上浮20%内确定" in jinan.output  # the clause, quoted in the value's reference
    beijing = runner.invoke(main, shlex.split("rules list --region 110108 --on 2026-03-01"))
    assert "inclusive_subsidy_per_child_year = by grade: 示范 model 12000.00" in beijing.output
    assert "2018-01-03" in beijing.output
    weifang = runner.invoke(main, shlex.split("rules list --region 370705 --on 2026-03-01"))
    assert "min_months_between_adjustments = 36" in weifang.output
    assert "[severity warning (in principle)]" in weifang.output
    shanghai = runner.invoke(main, shlex.split("rules list --region 310104 --on 2026-03-01"))
    assert (
        "billing_block = month" in shanghai.output
        and "[unverified: warnings only]" in shanghai.output
    )


def test_rules_lint_lists_every_unverified_value(runner: FlaskCliRunner) -> None:
    lint = runner.invoke(main, shlex.split("rules lint"))
    assert lint.exit_code == 0
    assert "unverified values (nobody could source them" in lint.output
    assert "rules/regions/310000.yaml" in lint.output and "rules/regions/530000.yaml" in lint.output
    assert "rules/regions/370100.yaml" not in lint.output  # Jinan's values are sourced now


def test_flask_lists_the_feecheck_commands(app) -> None:  # type: ignore[no-untyped-def]
    """Registered the flaskr way (cli.init_app), so `flask --app feecheck` has them too."""
    assert {"check", "import", "init", "demo", "rules", "user", "quickstart"} <= set(
        app.cli.commands
    )


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


def test_months_outside_the_calendar_window_are_a_clear_error(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, shlex.split("check --period 0001-01"))
    assert (
        result.exit_code == 2 and "feecheck checks months from 2000-01 to 2099-12" in result.output
    )

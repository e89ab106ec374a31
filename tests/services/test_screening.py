"""Rules checked set-wise (engine/screens.py, services/screening.py): the YAML cases of every
screened rule run through the database path too, and a whole check finds the same with and
without the screens."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

import pytest
import yaml
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.engine.cases import build_facts, case_files, case_months, run_case
from feecheck.engine.loader import load_ruleset
from feecheck.engine.screens import SCREENS, screens
from feecheck.engine.windows import FactWindows
from feecheck.models import Charge, Child, FiledAccount, Kindergarten
from feecheck.services.checking import Scope, evaluate_batch, plan_check
from feecheck.services.demo import build_demo
from feecheck.services.screening import screen_charges

RULESET = load_ruleset(ROOT / "rules")


def _screened_cases() -> list[Any]:
    params = []
    for path in case_files(ROOT / "rules"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        rule = RULESET.rules[data["rule"]]
        if rule.kind not in SCREENS:
            continue
        for n, case in enumerate(data.get("cases") or []):
            params.append(pytest.param(rule.id, case, id=f"{path.stem}-{n}"))
    return params


CASES = _screened_cases()


def test_every_screen_has_cases() -> None:
    kinds = {RULESET.rules[rule_id].kind for rule_id, _case in (p.values for p in CASES)}
    assert kinds == set(SCREENS)


def _write(session: Session, case: dict[str, Any]) -> int:
    """The case's kindergarten, accounts, children and charges as rows; returns its id."""
    kg = build_facts(case, RULESET)
    kg_id = session.execute(
        insert(Kindergarten).returning(Kindergarten.id),
        {
            "code": "CASE-" + kg.code,
            "name": kg.name,
            "region_code": kg.region_code,
            "category": kg.category,
            "boarding": kg.boarding,
            "grade": kg.grade,
        },
    ).scalar_one()
    for account in kg.accounts:
        session.execute(insert(FiledAccount), {"kindergarten_id": kg_id, "account_no": account})
    child_ids = {}
    for child in kg.children.values():
        child_ids[child.id] = session.execute(
            insert(Child).returning(Child.id),
            {
                "kindergarten_id": kg_id,
                "child_ref": child.ref,
                "birth_date": child.birth_date,
                "final_year": child.final_year,
                "enrolled_on": child.enrolled_on,
                "left_on": child.left_on,
                "boarding": child.boarding,
                "hardship": child.hardship,
            },
        ).scalar_one()
    for c in kg.charges:
        session.execute(
            insert(Charge),
            {
                "kindergarten_id": kg_id,
                "child_id": child_ids[c.child_id],
                "receipt_no": c.receipt_no,
                "fee_item": c.fee_item,
                "item_category": c.item_category,
                "amount": c.amount,
                "period_start": c.period_start,
                "period_end": c.period_end,
                "paid_on": c.paid_on,
                "account": c.account,
                "collector": c.collector,
            },
        )
    return kg_id


@pytest.mark.parametrize(("rule_id", "case"), CASES)
def test_case_holds_through_the_sql_screen(session: Session, rule_id: str, case: dict) -> None:  # type: ignore[type-arg]
    kg_id = _write(session, case)
    first, last, as_of = case_months(case)
    windows = FactWindows.for_months(first, last, RULESET, as_of)
    rule = RULESET.rules[rule_id]
    passed = screen_charges(session, screens(RULESET, [rule]), [kg_id], windows)
    assert set(passed) == {rule_id}
    facts_id = build_facts(case, RULESET).id  # the same kindergarten, as the case's facts name it
    screened = {rule_id: {(facts_id, month) for _kg, month in passed[rule_id]}}
    findings, problems = run_case(case, rule_id, RULESET, screened)
    assert problems == []
    # the screen passes exactly the months where the rule finds something, or more
    assert {f.period for f in findings} <= {month for _kg, month in passed[rule_id]}


def test_a_whole_check_finds_the_same_with_and_without_screens(session: Session) -> None:
    build_demo(session, RULESET.taxonomy)
    plan = plan_check(session, RULESET, Scope(Period(2025, 9), Period(2026, 8)), date(2026, 11, 23))
    assert {RULESET.rules[r].kind for r in plan.screens} == set(SCREENS)
    screened, _ = evaluate_batch(session, RULESET, plan, plan.kg_ids)
    reference, _ = evaluate_batch(
        session, RULESET, dataclasses.replace(plan, screens={}), plan.kg_ids
    )
    assert [f.fingerprint for f in screened.findings] == [f.fingerprint for f in reference.findings]
    screened_kinds = {f.rule.kind for f in screened.findings} & set(SCREENS)
    assert screened_kinds == set(SCREENS)  # the demo breaks every screened rule somewhere


def test_screens_return_only_the_kindergartens_that_can_violate(session: Session) -> None:
    build_demo(session, RULESET.taxonomy)
    plan = plan_check(session, RULESET, Scope(Period(2025, 9), Period(2026, 8)), date(2026, 11, 23))
    passed = screen_charges(session, plan.screens, plan.kg_ids, plan.windows)
    codes = dict(session.execute(select(Kindergarten.id, Kindergarten.code)).all())
    seen = {codes[kg] for pairs in passed.values() for kg, _month in pairs}
    assert 0 < len(seen) < len(plan.kg_ids)  # the clean kindergartens come back with nothing


def test_list_screens_take_every_value_of_every_layer() -> None:
    prohibited = RULESET.rules["FEE-PROHIBITED-ITEM"]
    screen = screens(RULESET, [prohibited])["FEE-PROHIBITED-ITEM"]
    assert screen.categories is not None
    # bridge_class is prohibited only from 2026; special_class from 2012: both screened
    assert {"bridge_class", "special_class"} <= screen.categories

"""A month's findings never depend on the range asked (issue 11): for generated data, the findings
of every month equal those of a single-month run, for ranges that start before, end after, or
exactly cover it, on the same as-of date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.engine.loader import load_ruleset
from feecheck.services.checking import Scope, run_check
from tests.generators import make_region

RULESET = load_ruleset(ROOT / "rules")
MONTHS = Period(2024, 9).until(Period(2026, 6))


@pytest.fixture(scope="module")
def region(engine: Engine) -> Iterator[Session]:
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            for seed in (1, 2):
                make_region(session, RULESET, seed)
            yield session
        transaction.rollback()


def _findings(session: Session, first: Period, last: Period, as_of: date) -> list[dict[str, Any]]:
    outcome = run_check(session, RULESET, Scope(first, last), as_of, store=False)
    return sorted(
        (f.to_json(explain=True) for f in outcome.findings),
        key=lambda f: (f["kindergarten_code"], f["period"], f["rule_id"], str(f["evidence"])),
    )


def _of(findings: list[dict[str, Any]], period: Period) -> list[dict[str, Any]]:
    return [f for f in findings if f["period"] == str(period)]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    month=st.sampled_from(MONTHS),
    before=st.integers(0, 13),
    after=st.integers(0, 13),
    as_of=st.sampled_from([date(2027, 6, 30), date(2026, 3, 15), date(2025, 11, 30)]),
)
def test_a_month_is_judged_the_same_whatever_the_range(
    region: Session, month: Period, before: int, after: int, as_of: date
) -> None:
    alone = _findings(region, month, month, as_of)
    ranged = _findings(region, month.shift(-before), month.shift(after), as_of)
    assert _of(ranged, month) == alone


def test_the_generated_data_has_findings_of_the_rules_that_depend_on_the_range(
    region: Session,
) -> None:
    """The property above is only worth something if the data exercises the windows."""
    findings = _findings(region, MONTHS[0], MONTHS[-1], date(2027, 6, 30))
    rules = {f["rule_id"] for f in findings}
    assert {
        "MEAL-SETTLEMENT",
        "FUNDING-FORPROFIT-PUBLIC-MONEY",
        "FUNDING-FLOOR",
        "REFUND-ON-WITHDRAWAL",
        "FEE-PROHIBITED-ITEM",
        "FEE-DISCLOSURE",
    } <= rules

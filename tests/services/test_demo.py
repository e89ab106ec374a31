"""The demo: deterministic, and every rule found exactly where its seeder broke it, by the real
check (no second implementation of the rules here)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.engine.loader import load_ruleset
from feecheck.models import (
    Absence,
    Charge,
    Child,
    FeeStandard,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
)
from feecheck.services.checking import Scope, run_check
from feecheck.services.demo import (
    CLEAN_KINDERGARTENS,
    PLANS,
    SEEDED_CASES,
    SEEDERS,
    DemoError,
    build_demo,
    generate,
)

YEAR = Scope(Period(2025, 9), Period(2026, 8))
AS_OF = date(2026, 11, 23)
RULESET = load_ruleset(ROOT / "rules")


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Iterator[tuple[Session, dict[str, set[str]]]]:
    """Built and checked once for the module, in a transaction rolled back at its end; yields the
    session, per rule id the kindergartens where the check found it, and the findings."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            build_demo(session, RULESET.taxonomy, seed=7)
            found: dict[str, set[str]] = defaultdict(set)
            findings = run_check(session, RULESET, YEAR, AS_OF, store=False).findings
            for f in findings:
                found[f.rule.id].add(f.kindergarten_code)
            yield session, found, findings
        transaction.rollback()


def test_every_rule_has_a_seeder_a_seeded_kindergarten_and_clean_kindergartens() -> None:
    assert set(SEEDERS) == set(RULESET.rules)
    assert set(SEEDED_CASES) == set(RULESET.rules)
    assert len(CLEAN_KINDERGARTENS) >= 5
    assert {p.category for p in PLANS} == {
        "public",
        "inclusive_private",
        "nonprofit_private",
        "forprofit_private",
    }
    assert {p.region_code for p in PLANS} == {"110108", "310104", "370102", "370705", "340202"}


def test_same_seed_same_data_other_seed_other_names() -> None:
    assert generate(3).records == generate(3).records
    names = lambda seed: [c["name"] for c in generate(seed).records["children"]]  # noqa: E731
    assert names(3) != names(4)


def test_demo_size(demo) -> None:  # type: ignore[no-untyped-def]
    session, _found, _findings = demo
    assert session.scalar(select(func.count()).select_from(Kindergarten)) >= 12
    assert session.scalar(select(func.count()).select_from(Child)) >= 400
    for model in (FeeStandard, Charge, Funding, Refund, Absence, Inspection):
        assert session.scalar(select(func.count()).select_from(model)) > 0, model


def test_demo_refuses_a_non_empty_database(demo) -> None:  # type: ignore[no-untyped-def]
    session, _found, _findings = demo
    with pytest.raises(DemoError):
        build_demo(session, RULESET.taxonomy)


@pytest.mark.parametrize("rule_id", sorted(RULESET.rules))
def test_each_rule_is_found_exactly_where_it_was_seeded(demo, rule_id: str) -> None:  # type: ignore[no-untyped-def]
    _session, found, _findings = demo
    assert found[rule_id] == set(SEEDED_CASES[rule_id])


def test_clean_kindergartens_have_no_findings(demo) -> None:  # type: ignore[no-untyped-def]
    _session, found, _findings = demo
    rules = {rule: codes for rule, codes in found.items() if rule != "*"}
    assert {
        rule: {f for f in codes} & set(CLEAN_KINDERGARTENS) for rule, codes in rules.items()
    } == {rule: set() for rule in rules}


def test_no_violation_of_the_demo_rests_on_an_unverified_value(demo) -> None:  # type: ignore[no-untyped-def]
    """Placeholders give warnings at most: every violation's parameters are verified values."""
    _session, _found, findings = demo
    violations = [f for f in findings if f.severity == "violation"]
    assert violations
    assert [
        (f.rule.id, name)
        for f in violations
        for name, value in f.parameters.items()
        if not value.verified or value.severity
    ] == []

"""The checking service on the demo year: every seeded rule is found, clean kindergartens stay
clean, and re-running replaces findings without duplicating them or losing their status."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.engine.loader import load_ruleset
from feecheck.engine.specs import Ruleset
from feecheck.models import Finding
from feecheck.services.checking import CheckError, Scope, run_check
from feecheck.services.demo import CLEAN_KINDERGARTENS, SEEDED_CASES, build_demo

YEAR = Scope(Period(2025, 9), Period(2026, 8))
AS_OF = date(2026, 11, 23)


@pytest.fixture(scope="module")
def ruleset() -> Ruleset:
    return load_ruleset(ROOT / "rules")


@pytest.fixture(scope="module")
def demo_checked(engine: Engine, ruleset: Ruleset) -> Iterator[tuple[Session, list]]:
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            build_demo(session, ruleset.taxonomy)
            outcome = run_check(session, ruleset, YEAR, AS_OF)
            yield session, outcome.findings
        transaction.rollback()


def test_every_seeded_rule_is_found_where_it_was_seeded(demo_checked) -> None:  # type: ignore[no-untyped-def]
    _session, findings = demo_checked
    found = defaultdict(set)
    for f in findings:
        found[f.rule.id].add(f.kindergarten_code)
    missing = {rule: codes for rule, codes in SEEDED_CASES.items() if not set(codes) <= found[rule]}
    assert missing == {}


def test_clean_kindergartens_have_no_findings(demo_checked) -> None:  # type: ignore[no-untyped-def]
    _session, findings = demo_checked
    dirty = sorted(
        {
            (f.kindergarten_code, f.rule.id, f.period)
            for f in findings
            if f.kindergarten_code in CLEAN_KINDERGARTENS
        }
    )
    assert dirty == []


def test_findings_carry_citation_evidence_parameters_and_hash(demo_checked, ruleset) -> None:  # type: ignore[no-untyped-def]
    _session, findings = demo_checked
    floor = next(f for f in findings if f.rule.id == "FUNDING-FLOOR")
    assert floor.evidence["threshold"] == "600.00"
    assert float(floor.evidence["per_child_year"]) < 600
    assert floor.parameters_json()["funding_floor_per_child_year"]["layer"] == "national"
    assert floor.ruleset_hash == ruleset.hash and "600" in floor.message_zh
    withdrawal = next(f for f in findings if f.rule.id == "REFUND-ON-WITHDRAWAL")
    assert withdrawal.period == "2025-12" and withdrawal.amount_due is not None
    steps = [step["step"] for step in withdrawal.explanation]
    assert steps[0] == "records" and steps[-1] == "outcome" and "parameter" in steps


def test_rerun_replaces_and_keeps_identity(demo_checked, ruleset) -> None:  # type: ignore[no-untyped-def]
    session, findings = demo_checked
    stored = session.scalar(select(func.count()).select_from(Finding))
    assert stored == len(findings) == len({f.fingerprint for f in findings})
    first = session.scalars(select(Finding).order_by(Finding.id)).first()
    session.execute(update(Finding).where(Finding.id == first.id).values(status="acknowledged"))
    again = run_check(session, ruleset, YEAR, AS_OF)
    assert (again.created, again.updated, again.resolved) == (0, len(findings), 0)
    assert session.scalar(select(func.count()).select_from(Finding)) == stored
    session.expire_all()
    assert session.get(Finding, first.id).status == "acknowledged"


def test_a_narrower_rerun_touches_only_its_scope(demo_checked, ruleset) -> None:  # type: ignore[no-untyped-def]
    session, findings = demo_checked
    (code,) = SEEDED_CASES["FEE-DISCLOSURE"]
    outcome = run_check(
        session, ruleset, Scope(Period(2025, 11), Period(2025, 11), kindergarten_code=code), AS_OF
    )
    assert {f.kindergarten_code for f in outcome.findings} == {code}
    assert session.scalar(select(func.count()).select_from(Finding)) == len(findings)


def test_unknown_kindergarten_is_an_error(session: Session, ruleset: Ruleset) -> None:
    with pytest.raises(CheckError, match="unknown kindergarten K404"):
        run_check(
            session,
            ruleset,
            Scope(Period(2025, 9), Period(2025, 9), kindergarten_code="K404"),
            AS_OF,
        )

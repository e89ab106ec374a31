"""bench/generate_region.py: a generated region is what its manifest says, by the real check:
clean kindergartens have no findings, each violating one exactly the rule ids seeded there."""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.engine.loader import load_ruleset
from feecheck.models import Charge, Kindergarten
from feecheck.models.session import make_engine
from feecheck.services.checking import Scope, run_check

YEAR = Scope(Period(2025, 9), Period(2026, 8))
AS_OF = date(2026, 11, 23)  # the demo's: every month of the school year settled
RULESET = load_ruleset(ROOT / "rules")
KINDERGARTENS, CHILDREN, SHARE = 20, 12, 0.5  # 10 violating: every violating demo plan once


def _bench_module() -> ModuleType:
    name = "generate_region"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / "generate_region.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


generate_region = _bench_module()


def _counts(connection: Connection) -> dict[str, int]:
    return {
        table: connection.scalar(text(f'SELECT count(*) FROM "{table}"'))
        for table in generate_region.TABLES
    }


def test_region_is_found_as_seeded(connection: Connection) -> None:
    before = _counts(connection)
    result = generate_region.write_region(connection, KINDERGARTENS, CHILDREN, 7, SHARE)
    seeded: dict[str, list[str]] = result["seeded"]
    after = _counts(connection)
    assert {t: after[t] - before[t] for t in after} == result["rows"]
    assert all(result["rows"].values()), result["rows"]
    assert len(seeded) == KINDERGARTENS
    violating = {code for code, rules in seeded.items() if rules}
    assert len(violating) == KINDERGARTENS * SHARE
    # every rule of the ruleset is seeded somewhere (each has a demo seeder)
    assert {r for rules in seeded.values() for r in rules} == set(RULESET.rules)

    with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
        findings = run_check(session, RULESET, YEAR, AS_OF, store=False).findings
    found: dict[str, set[str]] = defaultdict(set)
    for f in findings:
        found[f.kindergarten_code].add(f.rule.id)
    assert set(found) <= set(seeded)
    assert {code: found[code] for code in seeded if not seeded[code]} == {
        code: set() for code in seeded if not seeded[code]
    }
    assert {code: found[code] for code in violating} == {
        code: set(seeded[code]) for code in violating
    }


def test_same_seed_same_region_other_seed_other_names() -> None:
    def records(seed: int) -> list[dict[str, list[dict[str, object]]]]:
        return [
            generate_region.kindergarten_year(plan, rng).records
            for plan, rng in generate_region.region_plans(4, CHILDREN, seed, SHARE)
        ]

    assert records(3) == records(3)
    names = lambda seed: [c["name"] for r in records(seed) for c in r["children"]]  # noqa: E731
    assert names(3) != names(4)


def test_violating_share_is_spread_evenly() -> None:
    plans = [p for p, _ in generate_region.region_plans(100, CHILDREN, 7, 0.2)]
    assert len({p.code for p in plans}) == 100
    assert [sum(1 for p in plans[:n] if p.violations) for n in (5, 10, 50, 100)] == [1, 2, 10, 20]
    with pytest.raises(ValueError):
        next(generate_region.region_plans(1, 11, 7, 0.2))


def test_generate_region_migrates_a_new_database_and_writes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'region.db'}"
    result = generate_region.generate_region(url, 3, CHILDREN, seed=7, violating_share=0.34)
    assert result["seconds"] > 0
    assert [bool(rules) for rules in result["seeded"].values()] == [False, False, True]
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert _counts(connection) == result["rows"]
            assert connection.scalar(select(func.count()).select_from(Kindergarten)) == 3
            assert connection.scalar(select(func.sum(Charge.amount))) > 0
        with pytest.raises(SystemExit):  # a database holding kindergartens is refused
            generate_region.generate_region(url, 1, CHILDREN)
    finally:
        engine.dispose()

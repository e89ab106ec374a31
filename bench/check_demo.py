"""Time `feecheck check` over the demo school year, on SQLite and (if reachable) PostgreSQL.

    .venv/bin/python bench/check_demo.py [--pg postgresql+psycopg://postgres@127.0.0.1:5432/DB]

Prints the time to load facts, evaluate and store findings, and the number of findings.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.engine.loader import load_ruleset
from feecheck.engine.runner import run_rules
from feecheck.engine.windows import FactWindows
from feecheck.models import Kindergarten
from feecheck.models.session import make_engine
from feecheck.services import schema
from feecheck.services.checking import Scope, load_facts, run_check
from feecheck.services.demo import build_demo

YEAR = Scope(Period(2025, 9), Period(2026, 8))
AS_OF = date(2026, 11, 23)


def bench(url: str) -> None:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    schema.upgrade(engine)
    started = time.perf_counter()
    ruleset = load_ruleset(ROOT / "rules")
    load_rules = time.perf_counter() - started
    with Session(engine) as session:
        build_demo(session, ruleset.taxonomy)
        session.commit()
        started = time.perf_counter()
        kg_ids = list(session.scalars(select(Kindergarten.id)))
        windows = FactWindows.for_months(YEAR.period_from, YEAR.period_to, ruleset, AS_OF)
        facts = load_facts(session, kg_ids, windows, ruleset.taxonomy.item_key)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        findings = run_rules(ruleset, facts.values(), YEAR.periods, AS_OF)
        evaluated = time.perf_counter() - started
        started = time.perf_counter()
        run_check(session, ruleset, YEAR, AS_OF)
        session.commit()
        first_run = time.perf_counter() - started
        started = time.perf_counter()
        outcome = run_check(session, ruleset, YEAR, AS_OF)
        session.commit()
        rerun = time.perf_counter() - started
    charges = sum(len(kg.charges) for kg in facts.values())
    print(
        f"{engine.dialect.name:10} rules {load_rules:.2f} s · facts {loaded:.2f} s "
        f"({charges} charges) · evaluate {evaluated:.2f} s ({len(findings)} findings) · "
        f"check+store {first_run:.2f} s · re-check {rerun:.2f} s "
        f"({outcome.updated} kept, {outcome.created} new)"
    )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pg", help="a PostgreSQL URL whose public schema may be wiped")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{Path(tmp) / 'bench.db'}")
    if args.pg:
        bench(args.pg)


if __name__ == "__main__":
    main()

"""Realistic demo data: five districts, seventeen kindergartens, a school year of records.

Deterministic for a seed. A compliant school year is generated for every kindergarten
(school_year.py); then the seeder of each rule id a kindergarten's plan lists breaks that rule
there (seeders.py, SEEDERS). Everything is written through the same upsert service that forms
and imports use.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feecheck.domain.fee_items import FeeItemTaxonomy
from feecheck.domain.reasons import Refused
from feecheck.engine.specs import Ruleset
from feecheck.models import Kindergarten
from feecheck.services.checking import Scope, run_check
from feecheck.services.demo.data import DemoData
from feecheck.services.demo.plans import PLANS, SCHOOL_YEAR, KindergartenPlan
from feecheck.services.demo.school_year import generate_clean
from feecheck.services.demo.seeders import SEEDERS, Seed
from feecheck.services.record_types import RECORD_TYPES
from feecheck.services.upsert import Actor, upsert_records

__all__ = [
    "CLEAN_KINDERGARTENS",
    "PLANS",
    "SEEDED_CASES",
    "SEEDERS",
    "DemoError",
    "KindergartenPlan",
    "build_demo",
    "check_demo",
    "generate",
]

# Where each rule id is seeded: rule id -> the kindergartens whose plan lists it.
SEEDED_CASES: dict[str, list[str]] = {
    rule_id: [plan.code for plan in PLANS if rule_id in plan.violations]
    for rule_id in dict.fromkeys(r for plan in PLANS for r in plan.violations)
}
CLEAN_KINDERGARTENS = [plan.code for plan in PLANS if not plan.violations]


class DemoError(Refused):
    """The demo cannot be written (a database that is not empty, a record refused)."""


def generate(seed: int) -> DemoData:
    data, children = generate_clean(seed)
    for plan in PLANS:
        unknown = set(plan.violations) - set(SEEDERS)
        if unknown:
            raise DemoError(f"{plan.code}: no seeder for {sorted(unknown)}")
        kg = Seed(data, plan, children[plan.code])
        for rule_id, seed_rule in SEEDERS.items():
            if rule_id in plan.violations:
                seed_rule(kg)
    return data


def check_demo(session: Session, ruleset: Ruleset, as_of: date) -> int:
    """Check the demo's school year and store the findings (the web app opens on them);
    returns how many findings were stored."""
    outcome = run_check(session, ruleset, Scope(*SCHOOL_YEAR), as_of)
    return len(outcome.findings)


def build_demo(session: Session, taxonomy: FeeItemTaxonomy, seed: int = 2025) -> dict[str, int]:
    """Fill an empty database with the demo; returns rows created per record type."""
    if session.scalar(select(func.count()).select_from(Kindergarten)):
        raise DemoError(
            "the database already holds kindergartens; the demo fills only an empty one",
            "数据库中已有幼儿园数据；演示数据只能写入空数据库",
        )
    data = generate(seed)
    actor = Actor("demo")
    counts: dict[str, int] = {}
    for name, records in data.records.items():
        result = upsert_records(
            session, RECORD_TYPES[name], enumerate(records, start=1), actor, taxonomy
        )
        if result.errors:
            first = result.errors[0]
            raise DemoError(f"demo {name} row {first.line}: {first.column}: {first.reason}")
        counts[name] = result.created
    return counts

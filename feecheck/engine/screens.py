"""Screens: the rules that are a filter or a join over charges, as conditions a database can test.

A screen is a necessary condition for its rule to find anything about a charge: the rule's
evaluator can only find charges that pass it. The check (services/screening.py) compiles the
screens of a batch of kindergartens into one SQL query that returns only the charges that pass,
as (kindergarten, day paid); a rule with a screen is then evaluated only in the kindergarten-months
that query returned. The evaluator still decides and writes the finding, so what is found and how
it reads stay those of fee-rules.md; a screen only spares the evaluator the months where it could
not find anything. That is the set-wise check of data-quality tools (Soda, Great Expectations:
one query returning violators and their keys), kept honest by the YAML cases, which run through
both paths (tests/services/test_screening.py).

A screen is wider than its rule, never narrower: a list parameter screens on the union of every
value it takes on any date in any layer (national, province, city, district), so a local or later
value never escapes it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from feecheck.engine.specs import Ruleset, RuleSpec


@dataclass(frozen=True)
class ChargeScreen:
    """Conditions a charge paid in the month must meet for the rule to find it (all of them)."""

    categories: frozenset[str] | None = None  # item_category is one of these
    collectors: frozenset[str] | None = None  # collector is one of these
    unfiled_account: bool = False  # the account is not among the kindergarten's filed accounts
    not_boarding: bool = False  # the child or the kindergarten is not a boarding one


def every_value(ruleset: Ruleset, name: str) -> frozenset[str]:
    """Every item a list parameter holds on any date in any layer."""
    values = list(ruleset.params[name].values)
    for overlay in ruleset.overlays.values():
        values.extend(overlay.values.get(name, ()))
    return frozenset(str(item) for value in values for item in (value.value or ()))


ScreenMaker = Callable[[Ruleset], ChargeScreen]
SCREENS: dict[str, ScreenMaker] = {  # rule kind -> its screen
    "prohibited_item": lambda rs: ChargeScreen(categories=every_value(rs, "prohibited_categories")),
    "unclassified_item": lambda rs: ChargeScreen(categories=frozenset({"unclassified"})),
    "third_party_collector": lambda rs: ChargeScreen(
        collectors=every_value(rs, "forbidden_collectors")
    ),
    "accommodation_non_boarder": lambda rs: ChargeScreen(
        categories=frozenset({"accommodation"}), not_boarding=True
    ),
    "unfiled_account": lambda rs: ChargeScreen(unfiled_account=True),
}


def screens(ruleset: Ruleset, rules: list[RuleSpec]) -> dict[str, ChargeScreen]:
    """rule id -> screen, for the rules given that have one."""
    return {rule.id: SCREENS[rule.kind](ruleset) for rule in rules if rule.kind in SCREENS}

"""Run the rules over facts for a range of months: pure, no database, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from feecheck.domain.periods import Period
from feecheck.engine.evaluators import EVALUATORS, Context
from feecheck.engine.facts import KindergartenFacts
from feecheck.engine.findings import FindingResult, explain, show
from feecheck.engine.params import ParameterResolver
from feecheck.engine.specs import Ruleset, RuleSpec


def applicable(
    rule: RuleSpec, kg: KindergartenFacts, period: Period, resolver: ParameterResolver
) -> bool:
    """Category, in-force window, and the local parameters the rule needs in this region."""
    if kg.category not in rule.categories:
        return False
    if not rule.in_force_during(period.first_day, period.last_day):
        return False
    if rule.requires_any:
        day = max(period.first_day, rule.in_force_from)
        return any(
            all(resolver.resolve(name, day) is not None for name in group)
            for group in rule.requires_any
        )
    return True


def run_rules(
    ruleset: Ruleset,
    kindergartens: Iterable[KindergartenFacts],
    periods: list[Period],
    as_of: date,
    rule_ids: set[str] | None = None,
) -> list[FindingResult]:
    rules = [r for r in ruleset.rules.values() if rule_ids is None or r.id in rule_ids]
    results: list[FindingResult] = []
    resolvers: dict[str, ParameterResolver] = {}  # one per district, so its cache is shared
    for kg in kindergartens:
        resolver = resolvers.setdefault(kg.region_code, ParameterResolver(ruleset, kg.region_code))
        for period in periods:
            if period.first_day > as_of:
                continue
            for rule in rules:
                if not applicable(rule, kg, period, resolver):
                    continue
                context = Context(rule, kg, period, resolver, as_of)
                for outcome in EVALUATORS[rule.kind](context):
                    finding = FindingResult(
                        rule=rule,
                        severity=outcome.severity or rule.severity,
                        period=str(period),
                        kindergarten_code=kg.code,
                        child_ref=outcome.child_ref,
                        key=outcome.key,
                        evidence=_shown(outcome.evidence),
                        parameters=dict(outcome.used),
                        amount_due=outcome.amount_due,
                        ruleset_hash=ruleset.hash,
                    )
                    finding.explanation = explain(finding)
                    results.append(finding)
    return results


def _shown(evidence: dict[str, object]) -> dict[str, object]:
    return {key: show(value) for key, value in evidence.items()}

"""What every evaluator works with: the context of one kindergarten in one month, the registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from feecheck.domain.periods import Period
from feecheck.engine.facts import ChargeFact, ChildFact, KindergartenFacts
from feecheck.engine.findings import Outcome
from feecheck.engine.params import ParameterResolver, Params
from feecheck.engine.specs import RuleSpec


@dataclass
class Context:
    rule: RuleSpec
    kg: KindergartenFacts
    period: Period
    resolver: ParameterResolver
    as_of: date

    def params(self, day: date | None = None) -> Params:
        return self.resolver.on(day or self.period.first_day)

    def child(self, charge: ChargeFact) -> ChildFact:
        return self.kg.children[charge.child_id]

    def charges_paid(self) -> Iterator[tuple[ChargeFact, Params]]:
        """Charges paid in the month, with parameters as in force on their payment date."""
        for charge in self.kg.charges_paid_in(self.period):
            if self.rule.in_force(charge.paid_on):
                yield charge, self.params(charge.paid_on)


Evaluator = Callable[[Context], Iterator[Outcome]]
EVALUATORS: dict[str, Evaluator] = {}
# Kinds judged only once their month has ended (as-of on or after its last day).
AFTER_MONTH_END: set[str] = set()


def evaluator(kind: str, after_month_end: bool = False) -> Callable[[Evaluator], Evaluator]:
    """Register the evaluator of a rule kind (the `kind` of a rule file)."""

    def register(function: Evaluator) -> Evaluator:
        EVALUATORS[kind] = function
        if after_month_end:
            AFTER_MONTH_END.add(kind)
        return function

    return register


def charge_evidence(charge: ChargeFact, **figures: object) -> dict[str, object]:
    return {
        "charges": [charge.receipt_no],
        "receipt": charge.receipt_no,
        "fee_item": charge.fee_item,
        "amount": charge.amount,
        **figures,
    }

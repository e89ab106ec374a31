"""What every evaluator works with: the context of one kindergarten in one month, the registry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

from feecheck.domain.periods import Period
from feecheck.engine.facts import ChargeFact, ChildFact, KindergartenFacts, StandardFact
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
        return self.resolver.on(day or self.period.first_day, self.kg.grade)

    def child(self, charge: ChargeFact) -> ChildFact:
        return self.kg.children[charge.child_id]

    def attendance(self, child_id: int) -> Callable[[Period], tuple[int, int] | None]:
        """A child's (days attended, days open) in a month, from its absence record."""

        def of(period: Period) -> tuple[int, int] | None:
            record = self.kg.absences.get((child_id, str(period)))
            if record is None:
                return None
            return record.days_open - record.days_absent, record.days_open

        return of

    def standard_for_charge(
        self, charge: ChargeFact, params: Params
    ) -> tuple[StandardFact | None, dict[str, object]]:
        """The standard a charge is judged by (facts.match_standard), and how (evidence).

        Where existing pupils keep their fee (`existing_pupils_keep_fee`, Shanghai's 「新生新办法，
        老生老办法」), a raise that took effect after the child enrolled does not apply to it:
        the same item's standard in effect on its enrolment day does, if it was lower.
        """
        match = self.kg.match_standard(
            charge.item_key, charge.item_category, charge.period_start, charge.fee_item
        )
        standard = match.standard
        if standard is None:
            return None, {}
        how: dict[str, object] = {"standard_match": match.how}
        if not params.peek("existing_pupils_keep_fee"):
            return standard, how
        enrolled = self.child(charge).enrolled_on
        if standard.effective_from <= enrolled:
            return standard, how
        earlier = self.kg.match_standard(
            standard.item_key, standard.item_category, enrolled, standard.fee_item
        )
        if earlier.standard is None or earlier.standard.amount >= standard.amount:
            return standard, how
        params.get("existing_pupils_keep_fee")  # it decided the standard: trace it
        return earlier.standard, {
            **how,
            "existing_pupil": enrolled,
            "standard_not_applied": standard.key,
        }

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

"""The evaluators: the semantics of each rule kind (fee-rules.md §4), on plain facts.

A registry maps a rule file's `kind` to its evaluator. An evaluator looks at one kindergarten in
one month and yields Outcomes; parameters come from the Params it reads (which records them).
One module per rule family; the arithmetic they share is in engine/measures.py.
"""

from feecheck.engine.evaluators import (  # noqa: F401  (importing registers the evaluators)
    accounts,
    billing,
    fee_items,
    funding,
    reductions,
    refunds,
    standards,
)
from feecheck.engine.evaluators.base import (
    AFTER_MONTH_END,
    EVALUATORS,
    Context,
    Evaluator,
    evaluator,
)

__all__ = ["AFTER_MONTH_END", "EVALUATORS", "Context", "Evaluator", "evaluator"]

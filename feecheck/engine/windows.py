"""Which records can affect the findings of a month: the one place that says so, per fact family.

A check of months first..last loads, for each kindergarten, the union of what every month in the
range needs (fee-rules.md §4), whatever the range; so a month's findings never depend on the range
asked. Records dated after the as-of date are unknown on that day and never loaded. The rule per
fact family, for a month M:

- children, filed accounts, fee standards: all of the kindergarten's (enrolment, boarding, the
  final year; the standard in effect on any day, and the one before it for adjustments);
- charges: paid in M (the per-charge rules); or meal charges whose billing period overlaps M−1
  (MEAL-SETTLEMENT of M settles M−1's meals); or charges of a child who left within
  `refund_due_days` before M or in M, whose billing period overlaps that window (contains the day
  the child left: REFUND-ON-WITHDRAWAL is judged in the month the refund falls due). Other
  charges covering those months (a semester's fee paid earlier) cannot change M's findings and
  are not loaded: at province scale they are most of the rows;
- refunds: against any loaded charge (refunds recorded up to a day);
- funding: covering any day of M or of M−12 (per-child funding of M and of the same month a year
  earlier); or received in M (FUNDING-FORPROFIT-PUBLIC-MONEY is keyed on the date received);
- absences: of M−1 (MEAL-SETTLEMENT) and of the month a child left, up to `refund_due_days` before
  M (attendance-based refund formulas); and of any month a charge paid in M covers, up to
  ABSENCE_AHEAD months on (holiday months billed by days attended);
- inspections: in M (FEE-DISCLOSURE).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from feecheck.domain.periods import Period
from feecheck.engine.specs import Ruleset

SETTLED_CATEGORY = "meals"  # the category MEAL-SETTLEMENT settles (evaluators/refunds.py)
YEAR_BACK = 12  # FUNDING-LOWERED compares with the same month a year earlier
ABSENCE_AHEAD = 12  # a charge paid in M covers at most this many months on (a school year)


def max_parameter(ruleset: Ruleset, name: str) -> int:
    """The largest value a parameter takes anywhere (national or any overlay), 0 if none."""
    values = list(ruleset.params[name].values) if name in ruleset.params else []
    for overlay in ruleset.overlays.values():
        values.extend(overlay.values.get(name, ()))
    return max((int(v.value) for v in values), default=0)


@dataclass(frozen=True)
class FactWindows:
    """Date windows (inclusive) of the records a check of first..last must load."""

    paid: tuple[date, date]  # charges paid in the months
    covering: tuple[date, date]  # charges whose billing period overlaps this window
    funding_covering: tuple[date, date]  # funding whose period overlaps this window
    funding_received: tuple[date, date]  # funding received in the months
    absence_months: tuple[str, ...]
    inspected: tuple[date, date]
    as_of: date  # nothing dated after this day is known

    @classmethod
    def for_months(cls, first: Period, last: Period, ruleset: Ruleset, as_of: date) -> FactWindows:
        due_days = max_parameter(ruleset, "refund_due_days")
        earliest_cover = min(first.shift(-1).first_day, first.first_day - timedelta(days=due_days))
        return cls(
            paid=(first.first_day, last.last_day),
            covering=(earliest_cover, last.last_day),
            funding_covering=(first.shift(-YEAR_BACK).first_day, last.last_day),
            funding_received=(first.first_day, last.last_day),
            absence_months=tuple(
                str(p) for p in Period.of(earliest_cover).until(last.shift(ABSENCE_AHEAD))
            ),
            inspected=(first.first_day, last.last_day),
            as_of=as_of,
        )

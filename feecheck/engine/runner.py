"""Run the rules over facts for a range of months: pure, no database, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date

from feecheck.domain.categories import Grade
from feecheck.domain.periods import Period
from feecheck.engine.evaluators import AFTER_MONTH_END, EVALUATORS, Context
from feecheck.engine.facts import KindergartenFacts
from feecheck.engine.findings import FindingResult, Outcome, explain, render, show, text_of
from feecheck.engine.params import NeedsGrade, ParameterResolver
from feecheck.engine.specs import GradeTable, Ruleset, RuleSpec

GRADE_ZH = {g.value: g.label_zh for g in Grade}
UNVERIFIED_ZH = "（所依据的本地参数未经核实，仅作提示，不作违规认定。）"
UNVERIFIED_EN = " (The local value it rests on is unverified: a warning, not a violation.)"
UNOFFICIAL_ZH = (
    "（该年度的法定节假日安排尚未公布，工作日暂按周一至周五计算，仅作提示，不作违规认定。）"
)
UNOFFICIAL_EN = (
    " (The year's official holiday schedule is not published yet; working days were counted "
    "Monday to Friday: a warning, not a violation.)"
)


@dataclass(frozen=True)
class NotEvaluated:
    """A month (or one rule in a month) a run did not judge, and why (spec §3 `not_evaluated`)."""

    period: str
    reason: str
    reason_zh: str
    rule_id: str | None = None

    def to_json(self) -> dict[str, str]:
        data = {"period": self.period, "reason": self.reason, "reason_zh": self.reason_zh}
        if self.rule_id:
            data["rule_id"] = self.rule_id
        return data


def evaluated_periods(periods: list[Period], as_of: date) -> list[Period]:
    """The months a run judges: those that have begun by the as-of date."""
    return [p for p in periods if p.first_day <= as_of]


def not_evaluated(
    ruleset: Ruleset, periods: list[Period], as_of: date, rule_ids: set[str] | None = None
) -> list[NotEvaluated]:
    """Months after the as-of date, and rules judged only after a month that has not ended."""
    skipped: list[NotEvaluated] = []
    for period in periods:
        if period.first_day > as_of:
            skipped.append(
                NotEvaluated(
                    str(period),
                    f"after the as-of date {as_of}: the month had not begun",
                    f"晚于判断日期 {as_of}：该月尚未开始",
                )
            )
            continue
        if period.last_day <= as_of:
            continue
        for rule in sorted(ruleset.rules.values(), key=lambda r: r.id):
            if rule.kind in AFTER_MONTH_END and (rule_ids is None or rule.id in rule_ids):
                skipped.append(
                    NotEvaluated(
                        str(period),
                        f"judged after the month ends; the as-of date {as_of} is inside it",
                        f"该规则在月末之后判断；判断日期 {as_of} 在该月之内",
                        rule.id,
                    )
                )
    return skipped


def applicable(
    rule: RuleSpec,
    kg: KindergartenFacts,
    period: Period,
    resolver: ParameterResolver,
    as_of: date,
) -> bool:
    """Category, in-force window, month end, and the local parameters the rule needs here."""
    if kg.category not in rule.categories:
        return False
    if rule.judged_on == "month" and not rule.in_force_during(period.first_day, period.last_day):
        return False
    if rule.kind in AFTER_MONTH_END and period.last_day > as_of:
        return False
    if rule.requires_any:
        day = max(period.first_day, rule.in_force_from)
        return any(
            all(resolver.resolve(name, day) is not None for name in group)
            for group in rule.requires_any
        )
    return True


def _outcomes(context: Context) -> list[Outcome]:
    """The evaluator's outcomes; a record it cannot evaluate (a date at the calendar's end, a
    value no rule expects) becomes one warning about this rule, month and kindergarten, and
    the rest of the check goes on."""
    try:
        return list(EVALUATORS[context.rule.kind](context))
    except NeedsGrade as missing:
        if _no_grade_finds_anything(context, missing):
            return []  # the same (nothing) whatever the grade: no need to know it
        return [_needs_grade(context, missing)]
    except (ArithmeticError, ValueError, TypeError, KeyError, OverflowError) as exc:
        reason = f"{type(exc).__name__}: {exc}"[:300]
        return [
            Outcome(
                {"evaluation_error": reason},
                {},
                key="evaluation-error",
                severity="warning",
                message=(
                    f"本园 {context.period} 的记录无法按本规则评估（{reason}），请核对记录中的"
                    "日期和金额；其余规则和月份照常检查。",
                    f"The records of {context.period} could not be evaluated under this rule "
                    f"({reason}); check their dates and amounts. Every other rule and month was "
                    "checked.",
                ),
            )
        ]


def _no_grade_finds_anything(context: Context, missing: NeedsGrade) -> bool:
    """True when the rule finds nothing for any grade of the table (a charge below the lowest
    cap, a subsidy above the highest standard): then the missing grade does not matter."""
    for grade, _value in missing.value.value.values:
        graded = Context(
            context.rule,
            replace(context.kg, grade=grade),
            context.period,
            context.resolver,
            context.as_of,
        )
        try:
            if any(True for _ in EVALUATORS[context.rule.kind](graded)):
                return False
        except (NeedsGrade, ArithmeticError, ValueError, TypeError, KeyError, OverflowError):
            return False
    return True


def _needs_grade(context: Context, missing: NeedsGrade) -> Outcome:
    """The local value depends on the kindergarten's grade, which is not recorded (or has no
    value in the table): a warning that says so, never a finding built on a guess."""
    table = missing.value.value.as_dict()
    listed_zh = "、".join(f"{GRADE_ZH.get(g, g)} {text_of(v)}" for g, v in table.items())
    listed_en = ", ".join(f"{g} {text_of(v)}" for g, v in table.items())
    if missing.grade is None:
        why_zh, why_en = "本园未记录园所等级", "the kindergarten's grade is not recorded"
    else:
        why_zh = f"本地未规定{GRADE_ZH.get(missing.grade, missing.grade)}园所的取值"
        why_en = f"the local rule sets no value for grade {missing.grade}"
    return Outcome(
        {"needs_grade": missing.name, "grade": missing.grade or "unknown", "by_grade": table},
        {missing.name: missing.value},
        key="needs-grade",
        severity="warning",
        message=(
            f"本规则的本地参数（{_zh_name(context, missing.name)}）按园所等级取值（{listed_zh}），"
            f"但{why_zh}，无法判断；请补充园所等级后重新检查。",
            f"The local parameter {missing.name} depends on the kindergarten's grade "
            f"({listed_en}), but {why_en}: not judged. Record the kindergarten's grade and "
            "check again.",
        ),
    )


def _judged(context: Context, strict: ParameterResolver, outcomes: list[Outcome]) -> list[Outcome]:
    """Outcomes that read an unverified value, judged again on verified values only.

    What the verified values find stands as it is (a charge above its standard stays a violation
    whatever an unverified local rule adds). An outcome that rests on an unverified value is kept
    beside it only where it says something else (another amount, or a case the verified values
    do not find); it becomes a warning (_qualified).
    """
    rule, kg, period, as_of = context.rule, context.kg, context.period, context.as_of
    verified = (
        _outcomes(Context(rule, kg, period, strict, as_of))
        if applicable(rule, kg, period, strict, as_of)
        else []
    )
    if any(o.key == "evaluation-error" for o in verified):
        return outcomes  # the verified values alone cannot judge it: keep what was found
    found = {(o.child_ref, o.key): o for o in verified}
    judged = list(verified)
    for outcome in outcomes:
        if all(value.verified for value in outcome.used.values()):
            continue  # judged again above, on the same values
        twin = found.get((outcome.child_ref, outcome.key))
        if twin is None:
            judged.append(outcome)
        elif twin.amount_due != outcome.amount_due:
            judged.append(replace(outcome, key=f"{outcome.key}|unverified"))
    return judged


def _zh_name(context: Context, name: str) -> str:
    return context.resolver.ruleset.params[name].description.get("zh", name).rstrip("。")


def _qualified(outcome: Outcome) -> tuple[str | None, list[str], bool]:
    """What the values behind an outcome allow: a value that is unverified, or that its source
    states only "in principle", makes the finding a warning at most, and says so."""
    unverified = [
        f"{name} = {text_of(value.value)} ({value.source})"
        for name, value in outcome.used.items()
        if not value.verified
    ]
    in_principle = any(value.severity == "warning" for value in outcome.used.values())
    capped = "warning" if unverified or in_principle else None
    graded = any(isinstance(value.value, GradeTable) for value in outcome.used.values())
    return capped, unverified, graded


def run_rules(
    ruleset: Ruleset,
    kindergartens: Iterable[KindergartenFacts],
    periods: list[Period],
    as_of: date,
    rule_ids: set[str] | None = None,
    screened: Mapping[str, AbstractSet[tuple[int, str]]] | None = None,
) -> list[FindingResult]:
    """Every applicable rule for each kindergarten and each month that has begun by `as_of`.

    `screened` (engine/screens.py): rule id -> the (kindergarten id, month) pairs where a charge
    passed the rule's screen; a screened rule is evaluated only there (elsewhere it could not
    find anything). None: every rule everywhere, the reference path."""
    screened = screened or {}
    rules = [r for r in ruleset.rules.values() if rule_ids is None or r.id in rule_ids]
    months = evaluated_periods(periods, as_of)
    categories = ruleset.taxonomy.categories

    def item_name(code: str) -> str:  # a fee-item category or a parameter, in Chinese
        if code in categories:
            return categories[code].name_zh
        param = ruleset.params.get(code)
        if param is not None:
            return param.description.get("zh", code).rstrip("。")
        return ruleset.taxonomy.name_zh(code)

    results: list[FindingResult] = []
    resolvers: dict[str, ParameterResolver] = {}  # one per district, so its cache is shared
    strict: dict[str, ParameterResolver] = {}  # the same, on verified values only
    for kg in kindergartens:
        resolver = resolvers.setdefault(kg.region_code, ParameterResolver(ruleset, kg.region_code))
        for period in months:
            month = str(period)
            for rule in rules:
                passed = screened.get(rule.id)
                if passed is not None and (kg.id, month) not in passed:
                    continue
                resolver.read_unverified = False
                if not applicable(rule, kg, period, resolver, as_of):
                    continue
                context = Context(rule, kg, period, resolver, as_of)
                outcomes = _outcomes(context)
                if resolver.read_unverified:
                    verified_only = strict.setdefault(
                        kg.region_code, ParameterResolver(ruleset, kg.region_code, True)
                    )
                    outcomes = _judged(context, verified_only, outcomes)
                for outcome in outcomes:
                    evidence = dict(outcome.evidence)
                    capped, unverified, graded = _qualified(outcome)
                    unofficial = outcome.evidence.get("calendar_official") is False
                    if unofficial:  # working days by a calendar nobody has enacted yet
                        capped = "warning"
                    if graded and "grade" not in evidence:
                        evidence["grade"] = kg.grade
                    if unverified:
                        evidence["unverified_values"] = unverified
                    defaults = [
                        f"{name} = {text_of(value.value)}"
                        for name, value in outcome.used.items()
                        if value.default_not_law
                    ]
                    if defaults:
                        evidence["defaults_not_law"] = defaults
                    shown = {key: show(value) for key, value in evidence.items()}
                    severity = outcome.severity or rule.severity
                    if capped and severity == "violation":
                        severity = capped
                    finding = FindingResult(
                        rule=rule,
                        severity=severity,
                        period=month,
                        kindergarten_code=kg.code,
                        child_ref=outcome.child_ref,
                        key=outcome.key,
                        evidence=shown,
                        parameters=dict(outcome.used),
                        amount_due=outcome.amount_due,
                        ruleset_hash=ruleset.hash,
                        message_zh=outcome.message[0]
                        if outcome.message
                        else render(rule.message["zh"], shown, "zh", item_name)
                        + (UNVERIFIED_ZH if unverified else "")
                        + (UNOFFICIAL_ZH if unofficial else ""),
                        message_en=outcome.message[1]
                        if outcome.message
                        else render(rule.message["en"], shown, "en")
                        + (UNVERIFIED_EN if unverified else "")
                        + (UNOFFICIAL_EN if unofficial else ""),
                    )
                    finding.explanation = explain(finding, item_name)
                    results.append(finding)
    return results

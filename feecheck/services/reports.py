"""Monthly reports as data (pdf/documents.py): a kindergarten's and a region's, built on the check
service (the month is checked first, so a report never shows stale findings), the engine's
measures (enrolment, per-child funding) and the refund ledger, then rendered by pdf/report.py.

Reports render data; they do not query. Everything dated comes from the arguments (the month,
the day the report is made), never from the clock, so the same data give the same bytes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from feecheck.domain.categories import Category, FindingStatus, Grade, Severity
from feecheck.domain.money import money
from feecheck.domain.periods import Period
from feecheck.domain.regions import overlay_chain, scope_prefix, validate_region_code
from feecheck.engine.facts import KindergartenFacts
from feecheck.engine.measures import per_child_funding
from feecheck.engine.params import NeedsGrade, ParameterResolver
from feecheck.engine.specs import Ruleset
from feecheck.engine.windows import FactWindows
from feecheck.models import Charge, Finding, Kindergarten, User
from feecheck.pdf import report as pdf_report
from feecheck.pdf.documents import (
    FindingLine,
    FundingLine,
    ItemTotal,
    KindergartenReport,
    MonthFigure,
    ParameterLine,
    RegionReport,
    RegionRow,
    RuleLine,
)
from feecheck.services import ledger
from feecheck.services import rules as rules_service
from feecheck.services.checking import BATCH, CheckError, Scope, load_facts, run_check
from feecheck.services.offices import office_for
from feecheck.services.scope import NotFound, require_region, visible

MONTHS_SHOWN = 12
LAYER_ZH = {"national": "国家", "province": "省级", "city": "市级", "district": "区县级"}
STATUS_ZH = {s.value: s.label_zh for s in FindingStatus}
SEVERITY_ZH = {s.value: s.label_zh for s in Severity}
CATEGORY_ZH = {c.value: c.label_zh for c in Category}
GRADE_ZH = {g.value: g.label_zh for g in Grade}
REPORTED = ("open", "acknowledged", "rectified", "dismissed")  # a month's findings, not resolved


@dataclass(frozen=True)
class ReportOptions:
    generated_on: date  # the day the report is made (printed; passed in, never read)
    offices_file: Path | None = None
    check: bool = True  # check the month first (a region batch checks the region once)


def kindergarten_report(
    session: Session,
    user: User | None,
    ruleset: Ruleset,
    code: str,
    period: Period,
    options: ReportOptions,
) -> KindergartenReport:
    """The month's report of one kindergarten in the user's region (NotFound outside it)."""
    kg = _kindergarten(session, user, code)
    not_evaluated: tuple[str, ...] = ()
    if options.check:
        outcome = run_check(
            session,
            ruleset,
            Scope(period, period, kindergarten_code=kg.code),
            options.generated_on,
            user=user,
        )
        session.commit()
        not_evaluated = tuple(f"{n.period} {n.reason_zh}" for n in outcome.not_evaluated)
    facts = _facts(session, ruleset, [kg.id], period, options.generated_on)[kg.id]
    return _kindergarten_report(session, ruleset, kg, facts, period, options, not_evaluated)


def region_report(
    session: Session,
    user: User | None,
    ruleset: Ruleset,
    region_code: str,
    period: Period,
    options: ReportOptions,
    with_details: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RegionReport:
    """The month's report of a region: one row per kindergarten, totals, the rules most often
    broken; with_details appends every kindergarten's report."""
    if user is not None:
        require_region(user, region_code)
    kgs = list(
        session.scalars(
            select(Kindergarten)
            .where(Kindergarten.region_code.startswith(_prefix(region_code)))
            .where(visible(user) if user is not None else Kindergarten.id.is_not(None))
            .order_by(Kindergarten.code)
        )
    )
    if options.check and kgs:
        run_check(
            session,
            ruleset,
            Scope(period, period, region_code=region_code),
            options.generated_on,
            user=user,
        )
        session.commit()
    rows: list[RegionRow] = []
    details: list[KindergartenReport] = []
    facts_of: dict[int, KindergartenFacts] = {}
    for start in range(0, len(kgs), BATCH):
        part = [kg.id for kg in kgs[start : start + BATCH]]
        facts_of.update(_facts(session, ruleset, part, period, options.generated_on))
    findings = _findings(session, [kg.id for kg in kgs], [str(period)])
    by_kg: dict[int, list[Finding]] = defaultdict(list)
    for f in findings:
        by_kg[f.kindergarten_id].append(f)
    owed = defaultdict(lambda: Decimal("0.00"))
    for item in ledger.receipts_due(session, findings, options.generated_on):
        owed[item.kindergarten_id] += item.outstanding
    live = [f for f in findings if f.status in ("open", "acknowledged")]
    for n, kg in enumerate(kgs, start=1):
        mine = [f for f in by_kg.get(kg.id, []) if f.status in ("open", "acknowledged")]
        funding = _funding_lines(ruleset, kg, facts_of[kg.id], period)
        main = funding[0] if funding else None
        rows.append(
            RegionRow(
                kg.code,
                kg.name,
                CATEGORY_ZH.get(kg.category, kg.category),
                sum(1 for f in mine if f.severity == "violation"),
                sum(1 for f in mine if f.severity == "warning"),
                _funding_text(main),
                bool(main and main.below),
                money(owed[kg.id]),
            )
        )
        if with_details:
            details.append(
                _kindergarten_report(
                    session,
                    ruleset,
                    kg,
                    facts_of[kg.id],
                    period,
                    ReportOptions(options.generated_on, options.offices_file, check=False),
                    (),
                )
            )
        if progress is not None:
            progress(n, len(kgs))
    top = Counter(f.rule_id for f in live if f.severity == "violation")
    months = [str(p) for p in period.shift(-(MONTHS_SHOWN - 1)).until(period)]
    by_month = Counter(
        p
        for (p,) in session.execute(
            select(Finding.period).where(
                Finding.kindergarten_id.in_([kg.id for kg in kgs]) if kgs else Finding.id < 0,
                Finding.period.in_(months),
                Finding.severity == "violation",
                Finding.status.in_(REPORTED),
            )
        )
    )
    office = office_for(region_code, options.offices_file)
    categories = Counter(kg.category for kg in kgs)
    return RegionReport(
        report_no=f"{region_code}-{period}",
        period=str(period),
        generated_on=options.generated_on,
        ruleset_hash=ruleset.short_hash,
        office=office.name,
        region_code=region_code,
        region_name=_region_name(ruleset, region_code),
        kindergartens=len(kgs),
        by_category=tuple((CATEGORY_ZH[c.value], categories.get(c.value, 0)) for c in Category),
        rows=tuple(rows),
        top_rules=tuple(
            (rule_id, _title(ruleset, rule_id), n)
            for rule_id, n in sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        ),
        violations=sum(r.violations for r in rows),
        warnings=sum(r.warnings for r in rows),
        outstanding=money(sum((r.outstanding for r in rows), Decimal("0.00"))),
        violations_by_month=tuple(MonthFigure(m, Decimal(by_month.get(m, 0))) for m in months),
        details=tuple(details),
    )


# --- building blocks --------------------------------------------------------------------------


def _kindergarten(session: Session, user: User | None, code: str) -> Kindergarten:
    statement = select(Kindergarten).where(Kindergarten.code == code)
    if user is not None:
        statement = statement.where(visible(user))
    kg = session.scalar(statement)
    if kg is None:
        raise NotFound(code)
    return kg


def _prefix(region_code: str) -> str:
    return scope_prefix(validate_region_code(region_code))


def _facts(
    session: Session, ruleset: Ruleset, kg_ids: list[int], period: Period, as_of: date
) -> dict[int, KindergartenFacts]:
    """Children and funding of the twelve months up to the period (enrolment, per-child funding)."""
    first = period.shift(-(MONTHS_SHOWN - 1))
    windows = FactWindows.for_months(first, period, ruleset, max(as_of, period.last_day))
    return load_facts(session, kg_ids, windows, families=frozenset({"funding"}))


def _findings(session: Session, kg_ids: list[int], periods: list[str]) -> list[Finding]:
    if not kg_ids:
        return []
    found: list[Finding] = []
    for start in range(0, len(kg_ids), BATCH):
        found.extend(
            session.scalars(
                select(Finding)
                .where(
                    Finding.kindergarten_id.in_(kg_ids[start : start + BATCH]),
                    Finding.period.in_(periods),
                    Finding.status.in_(REPORTED),
                )
                .options(joinedload(Finding.child))
                .order_by(Finding.period, Finding.rule_id, Finding.id)
            )
        )
    return found


def finding_line(ruleset: Ruleset, finding: Finding) -> FindingLine:
    rule = ruleset.rules.get(finding.rule_id)
    evidence = finding.evidence or {}
    return FindingLine(
        rule_id=finding.rule_id,
        title=rule.title.get("zh", "") if rule else "",
        severity=finding.severity,
        severity_label=SEVERITY_ZH.get(finding.severity, finding.severity),
        status_label=STATUS_ZH.get(finding.status, finding.status),
        period=finding.period,
        citation=finding.citation,
        quote=rule.citation.quote if rule else "",
        message=finding.message_zh,
        child_ref=finding.child.child_ref if finding.child else None,
        receipts=tuple(str(r) for r in (evidence.get("charges") or [])),
        amount_due=finding.amount_due,
    )


def _funding_lines(
    ruleset: Ruleset, kg: Kindergarten, facts: KindergartenFacts, period: Period
) -> list[FundingLine]:
    """Per-child funding against the floor (public) or the inclusive subsidy standard, by the
    engine's measure with the parameters in force in the kindergarten's district."""
    params = ParameterResolver(ruleset, kg.region_code).on(period.first_day, kg.grade)
    if kg.category == Category.PUBLIC.value:
        sources, threshold_name = "per_child_funding_sources", "funding_floor_per_child_year"
        label, threshold_label = "生均财政拨款和公用经费", "经费底线"
    elif kg.category == Category.INCLUSIVE_PRIVATE.value:
        sources, threshold_name = "inclusive_subsidy_sources", "inclusive_subsidy_per_child_year"
        label, threshold_label = "普惠性民办园补助", "补助标准"
    else:
        return []
    measured = per_child_funding(facts, period, set(params.get(sources) or ()))
    try:
        threshold = params.decimal(threshold_name)
    except NeedsGrade:
        threshold = None  # by grade, and the grade is not recorded
    return [
        FundingLine(
            label,
            measured.per_child_year if measured else None,
            money(threshold) if threshold is not None else None,
            threshold_label,
        )
    ]


def _funding_text(line: FundingLine | None) -> str:
    if line is None or line.per_child_year is None:
        return "—"
    if line.threshold is None:
        return f"{line.per_child_year:,.2f}"
    verdict = "低于" + line.threshold_label if line.below else "达标"
    return f"{line.per_child_year:,.2f} / {line.threshold:,.0f} {verdict}"


def _kindergarten_report(
    session: Session,
    ruleset: Ruleset,
    kg: Kindergarten,
    facts: KindergartenFacts,
    period: Period,
    options: ReportOptions,
    not_evaluated: tuple[str, ...],
) -> KindergartenReport:
    findings = _findings(session, [kg.id], [str(period)])
    lines = tuple(finding_line(ruleset, f) for f in findings)
    items = ledger.receipts_due(session, findings, options.generated_on)
    charges = session.execute(
        select(Charge.fee_item, Charge.amount, Charge.paid_on).where(
            Charge.kindergarten_id == kg.id,
            Charge.paid_on.between(period.shift(-(MONTHS_SHOWN - 1)).first_day, period.last_day),
        )
    ).all()
    in_month = [c for c in charges if period.contains(c.paid_on)]
    per_item: dict[str, list[Decimal]] = defaultdict(list)
    for c in in_month:
        per_item[c.fee_item].append(c.amount)
    months = period.shift(-(MONTHS_SHOWN - 1)).until(period)
    per_month: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    for c in charges:
        per_month[str(Period.of(c.paid_on))] += c.amount
    funding = _funding_lines(ruleset, kg, facts, period)
    funding_by_month = []
    for month in months:
        measured = _funding_lines(ruleset, kg, facts, month)
        funding_by_month.append(
            MonthFigure(str(month), measured[0].per_child_year if measured else None)
        )
    enrolled = sum(
        1
        for child in facts.children.values()
        if child.enrolled_on <= period.last_day
        and (child.left_on is None or child.left_on > period.last_day)
    )
    office = office_for(kg.region_code, options.offices_file)
    severity = Counter(line.severity for line in lines)
    status = Counter(f.status for f in findings)
    return KindergartenReport(
        report_no=f"{kg.code}-{period}",
        period=str(period),
        generated_on=options.generated_on,
        ruleset_hash=ruleset.short_hash,
        office=office.name,
        code=kg.code,
        name=kg.name,
        category_label=CATEGORY_ZH.get(kg.category, kg.category),
        grade_label=GRADE_ZH.get(kg.grade or "", "未记录"),
        region_code=kg.region_code,
        region_name=_region_name(ruleset, kg.region_code),
        children_enrolled=enrolled,
        average_enrolment=facts.enrolment(period).quantize(Decimal("0.01")),
        charges_by_item=tuple(
            ItemTotal(item, len(amounts), money(sum(amounts, Decimal(0))))
            for item, amounts in sorted(per_item.items())
        ),
        charges_total=money(sum((c.amount for c in in_month), Decimal(0))),
        funding=tuple(funding),
        findings_by_severity={s.value: severity.get(s.value, 0) for s in Severity},
        findings_by_status={STATUS_ZH[s]: status.get(s, 0) for s in REPORTED},
        refunds_due=money(sum((i.due for i in items), Decimal(0))),
        refunded=money(sum((i.refunded_towards for i in items), Decimal(0))),
        findings=lines,
        funding_by_month=tuple(funding_by_month),
        funding_threshold=funding[0].threshold if funding else None,
        charges_by_month=tuple(
            MonthFigure(str(m), money(per_month[str(m)]) if str(m) in per_month else None)
            for m in months
        ),
        rules=rule_lines(ruleset, kg.region_code, kg.category, period.first_day),
        not_evaluated=not_evaluated,
    )


def rule_lines(
    ruleset: Ruleset, region_code: str, category: str, day: date
) -> tuple[RuleLine, ...]:
    """The appendix: every rule that applies to the kindergarten's category, with each
    parameter's value in force there, its layer and its file."""
    lines = []
    for line in rules_service.rules_in_force(ruleset, day, region_code):
        rule = line.rule
        if category not in rule.categories:
            continue
        status = {
            "active": "适用",
            "in force": "现行有效",
        }.get(line.status, "本地不适用" if line.status.startswith("skipped") else "尚未施行")
        parameters = []
        for p in line.parameters:
            value = p.value
            param = ruleset.params.get(p.name)
            flags = []
            if value is not None and not value.verified:
                flags.append("未核实，仅提醒")
            if value is not None and value.default_not_law:
                flags.append("默认值，非法定")
            if value is not None and value.severity and value.verified:
                flags.append("原则性规定，仅提醒")
            parameters.append(
                ParameterLine(
                    p.name,
                    (param.description.get("zh", "") if param else "").rstrip("。"),
                    rules_service.table_text(value.value) if value is not None else "（未设置）",
                    LAYER_ZH.get(value.layer, value.layer) if value is not None else "",
                    value.source if value is not None else "",
                    "；".join(flags),
                )
            )
        lines.append(
            RuleLine(
                rule.id, rule.title.get("zh", ""), rule.citation.short(), status, tuple(parameters)
            )
        )
    return tuple(lines)


def _title(ruleset: Ruleset, rule_id: str) -> str:
    rule = ruleset.rules.get(rule_id)
    return rule.title.get("zh", "") if rule else ""


def _region_name(ruleset: Ruleset, region_code: str) -> str:
    """The deepest overlay's name for the region (e.g. 济南市), or the code."""
    for code in reversed(overlay_chain(region_code)):
        overlay = ruleset.overlays.get(code)
        if overlay is not None and overlay.name.get("zh"):
            return str(overlay.name["zh"])
    return region_code


def kindergarten_codes(session: Session, user: User | None, region_code: str) -> list[str]:
    """The codes of a region's kindergartens (in the user's region), for `--each`."""
    if user is not None:
        require_region(user, region_code)
    statement = select(Kindergarten.code).where(
        Kindergarten.region_code.startswith(_prefix(region_code))
    )
    if user is not None:
        statement = statement.where(visible(user))
    return list(session.scalars(statement.order_by(Kindergarten.code)))


__all__ = [
    "CheckError",
    "ReportOptions",
    "finding_line",
    "kindergarten_codes",
    "kindergarten_report",
    "region_report",
    "rule_lines",
]


def kindergarten_pdf(
    session: Session,
    user: User | None,
    ruleset: Ruleset,
    code: str,
    period: Period,
    options: ReportOptions,
) -> tuple[KindergartenReport, bytes]:
    """The month's report of a kindergarten, and its PDF."""
    report = kindergarten_report(session, user, ruleset, code, period, options)
    return report, pdf_report.kindergarten_report_pdf(report)


def region_pdf(
    session: Session,
    user: User | None,
    ruleset: Ruleset,
    region_code: str,
    period: Period,
    options: ReportOptions,
    with_details: bool = False,
) -> tuple[RegionReport, bytes]:
    report = region_report(session, user, ruleset, region_code, period, options, with_details)
    return report, pdf_report.region_report_pdf(report)


def each_pdf(
    session: Session,
    user: User | None,
    ruleset: Ruleset,
    region_code: str,
    period: Period,
    options: ReportOptions,
    folder: Path,
    progress: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Every kindergarten's report of a region into a folder (`<code>-<period>.pdf`): the region
    is checked once, then each report is built and written. Returns the files written."""
    codes = kindergarten_codes(session, user, region_code)
    if options.check and codes:
        scope = Scope(period, period, region_code=region_code)
        run_check(session, ruleset, scope, options.generated_on, user=user)
        session.commit()
    folder.mkdir(parents=True, exist_ok=True)
    unchecked = ReportOptions(options.generated_on, options.offices_file, check=False)
    written = []
    for n, code in enumerate(codes, start=1):
        _report, data = kindergarten_pdf(session, user, ruleset, code, period, unchecked)
        path = folder / f"{_safe(code)}-{period}.pdf"
        path.write_bytes(data)
        written.append(path)
        if progress is not None:
            progress(n, len(codes))
    return written


def _safe(code: str) -> str:
    """A kindergarten code as a file name (codes are free text: 教民…号, slashes)."""
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in code)[:80] or "kindergarten"

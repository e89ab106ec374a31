"""The monthly reports (issue 14 §1–2) rendered from their data (pdf/documents.py): bytes out,
nothing read but the data, the same bytes for the same data."""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, PageBreak, Spacer

from feecheck.pdf.documents import KindergartenReport, RegionReport
from feecheck.pdf.layout import (
    bar_chart,
    build,
    cn_date,
    cn_month,
    key_values,
    markup,
    para,
    signature_block,
    table,
    yuan,
)

WIDTH = 174 * mm  # A4 less the margins
SEVERITY_ORDER = (("violation", "违规"), ("warning", "提醒"), ("info", "信息"))


def _identity(report: KindergartenReport | RegionReport) -> list[tuple[str, str]]:
    """The rows that identify a report: period, number, office, ruleset, the day made."""
    return [
        ("报告期间", report.period),
        ("报告编号", report.report_no),
        ("检查机关", report.office),
        ("规则集", report.ruleset_hash),
        ("生成日期", cn_date(report.generated_on)),
    ]


def kindergarten_report_pdf(report: KindergartenReport) -> bytes:
    return build(
        kindergarten_story(report, signatures=True),
        title=f"{report.name} {report.period} 收费合规月度报告",
        subject=f"幼儿园收费合规月度报告 {report.report_no}",
        footer=f"{report.name}（{report.code}） {report.period} · 报告编号 {report.report_no}",
    )


def kindergarten_story(report: KindergartenReport, signatures: bool) -> list[Flowable]:
    story: list[Flowable] = [
        para("幼儿园收费合规月度报告", "title"),
        para(f"{report.name}　{cn_month(report.period)}", "subtitle"),
        key_values(
            [
                ("园所名称", report.name),
                ("园所代码", report.code),
                ("办园性质 / 园所等级", f"{report.category_label} / {report.grade_label}"),
                ("行政区划", f"{report.region_name}（{report.region_code}）"),
                *_identity(report),
            ],
            (40 * mm, WIDTH - 40 * mm),
        ),
        Spacer(1, 4 * mm),
        para("一、概况", "h1"),
    ]
    severity = "，".join(
        f"{label} {report.findings_by_severity.get(code, 0)} 条" for code, label in SEVERITY_ORDER
    )
    status = "，".join(f"{label} {n} 条" for label, n in report.findings_by_status.items())
    summary = [
        ("月末在园幼儿", f"{report.children_enrolled} 人"),
        ("日均在园人数", f"{report.average_enrolment} 人"),
        (
            "本月收费",
            f"{sum(i.charges for i in report.charges_by_item)} 笔，"
            f"合计 {yuan(report.charges_total)} 元",
        ),
    ]
    for line in report.funding:
        verdict = ""
        if line.threshold is not None and line.per_child_year is not None:
            verdict = f"（{line.threshold_label} {yuan(line.threshold)} 元，" + (
                "低于标准）" if line.below else "达标）"
            )
        summary.append((f"{line.label}（生均，年化）", f"{yuan(line.per_child_year)} 元{verdict}"))
    summary += [
        ("检查发现（按严重程度）", severity),
        ("检查发现（按处理状态）", status or "无"),
        (
            "应退家长费用",
            f"应退 {yuan(report.refunds_due)} 元，已退 {yuan(report.refunded)} 元，"
            f"未退 {yuan(report.outstanding)} 元",
        ),
    ]
    story.append(key_values(summary, (48 * mm, WIDTH - 48 * mm)))
    if report.not_evaluated:
        story.append(para("未评估：" + "；".join(report.not_evaluated), "small"))
    story.append(Spacer(1, 3 * mm))
    story.append(para("本月收费（按收费项目）", "h2"))
    if report.charges_by_item:
        story.append(
            table(
                ["收费项目", "笔数", "金额（元）"],
                [[i.fee_item, str(i.charges), yuan(i.amount)] for i in report.charges_by_item]
                + [
                    [
                        "合计",
                        str(sum(i.charges for i in report.charges_by_item)),
                        yuan(report.charges_total),
                    ]
                ],
                [WIDTH - 70 * mm, 25 * mm, 45 * mm],
                numeric={1, 2},
            )
        )
    else:
        story.append(para("本月没有收费记录。", "body"))

    story += [Spacer(1, 4 * mm), para("二、检查发现", "h1")]
    if report.findings:
        story.append(findings_table(report))
    else:
        story.append(para("本月未发现违反收费规定的情况。", "body"))

    story += [CondPageBreak(90 * mm), para("三、图表", "h1")]
    if report.funding:
        story.append(
            KeepTogether(
                [
                    para(f"{report.funding[0].label}（生均，年化，元）", "h2"),
                    bar_chart(
                        [m.period[2:] for m in report.funding_by_month],
                        [("生均年化经费", [m.value for m in report.funding_by_month])],
                        width=WIDTH,
                        height=62 * mm,
                        threshold=report.funding_threshold,
                        threshold_label=report.funding[0].threshold_label,
                    ),
                ]
            )
        )
    story.append(
        KeepTogether(
            [
                para("各月收费金额（元，按缴费日期）", "h2"),
                bar_chart(
                    [m.period[2:] for m in report.charges_by_month],
                    [("收费金额", [m.value for m in report.charges_by_month])],
                    width=WIDTH,
                    height=62 * mm,
                ),
            ]
        )
    )
    if signatures:
        story += [
            Spacer(1, 6 * mm),
            KeepTogether(
                [
                    para("签字", "h2"),
                    signature_block(["检查人员（签名）", "科室负责人（签名）"]),
                ]
            ),
        ]
    story += [PageBreak(), para("附录：本月适用的规则及参数", "h1")]
    story.append(
        para(
            "下列规则适用于本园的办园性质；参数取值按层级（国家、省级、市级、区县级）确定，标注“未核实”的"
            "取值只产生提醒，不作违规认定。",
            "small",
        )
    )
    rows = []
    for rule in report.rules:
        params = "；".join(
            f"{p.description or p.name}：{p.value}"
            + (f"（{p.layer}）" if p.layer else "")
            + (f"〔{p.flags}〕" if p.flags else "")
            for p in rule.parameters
        )
        sources = "、".join(sorted({p.source for p in rule.parameters if p.source}))
        rows.append(
            [f"{rule.rule_id}\n{rule.title}", rule.citation, params or "—", rule.status, sources]
        )
    story.append(
        table(
            ["规则", "条款", "参数及取值", "本地", "来源文件"],
            rows,
            [34 * mm, 40 * mm, 62 * mm, 14 * mm, 24 * mm],
            font_size=7.5,
        )
    )
    return story


def findings_table(report: KindergartenReport) -> Flowable:
    rows = []
    for n, f in enumerate(report.findings, start=1):
        what = f.message + (f"（幼儿 {f.child_ref}）" if f.child_ref else "")
        rows.append(
            [
                str(n),
                f"{f.rule_id}\n{f.title}\n{f.severity_label}",
                f.citation,
                what,
                yuan(f.amount_due) if f.amount_due is not None else "",
                f.status_label,
            ]
        )
    return table(
        ["序号", "规则", "条款", "检查发现", "应退金额", "状态"],
        rows,
        [10 * mm, 34 * mm, 36 * mm, 60 * mm, 20 * mm, 14 * mm],
        numeric={0, 4},
        font_size=8,
    )


def region_report_pdf(report: RegionReport) -> bytes:
    story: list[Flowable] = [
        para("幼儿园收费合规月度报告（区域汇总）", "title"),
        para(f"{report.region_name}　{cn_month(report.period)}", "subtitle"),
        key_values(
            [
                ("区域", f"{report.region_name}（{report.region_code}）"),
                *_identity(report),
            ],
            (40 * mm, WIDTH - 40 * mm),
        ),
        Spacer(1, 4 * mm),
        para("一、概况", "h1"),
        key_values(
            [
                ("幼儿园数", f"{report.kindergartens} 所"),
                (
                    "按办园性质",
                    "，".join(f"{label} {n} 所" for label, n in report.by_category if n) or "—",
                ),
                ("待处理违规", f"{report.violations} 条"),
                ("待处理提醒", f"{report.warnings} 条"),
                ("未退家长费用", f"{yuan(report.outstanding)} 元"),
                (
                    "低于经费标准的幼儿园",
                    f"{sum(1 for r in report.rows if r.funding_below)} 所",
                ),
            ],
            (48 * mm, WIDTH - 48 * mm),
        ),
        Spacer(1, 3 * mm),
        para("二、各园情况", "h1"),
    ]
    story.append(
        table(
            ["园所代码", "园所名称", "办园性质", "违规", "提醒", "生均经费（年化）/标准", "未退"],
            [
                [
                    r.code,
                    r.name,
                    r.category_label,
                    str(r.violations),
                    str(r.warnings),
                    r.funding,
                    yuan(r.outstanding),
                ]
                for r in report.rows
            ],
            [26 * mm, 42 * mm, 20 * mm, 12 * mm, 12 * mm, 38 * mm, 24 * mm],
            numeric={3, 4, 6},
            font_size=8,
        )
        if report.rows
        else para("本区域没有幼儿园。", "body")
    )
    story += [Spacer(1, 4 * mm), para("三、违规最多的规则", "h1")]
    if report.top_rules:
        story.append(
            table(
                ["规则", "名称", "违规条数"],
                [[rule, title, str(n)] for rule, title, n in report.top_rules],
                [50 * mm, WIDTH - 80 * mm, 30 * mm],
                numeric={2},
            )
        )
    else:
        story.append(para("本月没有待处理的违规。", "body"))
    story += [
        CondPageBreak(80 * mm),
        para("四、图表", "h1"),
        para("近十二个月的违规条数", "h2"),
        bar_chart(
            [m.period[2:] for m in report.violations_by_month],
            [("违规", [m.value for m in report.violations_by_month])],
            width=WIDTH,
            height=60 * mm,
        ),
        Spacer(1, 6 * mm),
        KeepTogether(
            [para("签字", "h2"), signature_block(["汇总人（签名）", "科室负责人（签名）"])]
        ),
    ]
    for detail in report.details:
        story += [PageBreak(), *kindergarten_story(detail, signatures=False)]
    return build(
        story,
        title=f"{report.region_name} {report.period} 收费合规月度报告",
        subject=f"区域收费合规月度报告 {report.report_no}",
        footer=f"{report.region_name}（{report.region_code}） {report.period} · 报告编号 "
        f"{report.report_no}",
    )


__all__ = ["kindergarten_report_pdf", "markup", "region_report_pdf"]

"""Findings as the engine produces them, with their identity, message and explanation chain."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from feecheck.domain.categories import Collector, FeeUnit, FundingSource, Grade, Hardship
from feecheck.domain.money import money
from feecheck.engine.specs import DatedValue, GradeTable, RuleSpec

RECORD_KEYS = ("charges", "funding", "refunds", "standards", "absences", "inspections")
RECORD_LABELS_ZH = {
    "charges": "收费票据",
    "funding": "经费凭证",
    "refunds": "退费单",
    "standards": "收费标准",
    "absences": "缺勤记录",
    "inspections": "检查记录",
}

FIGURE_LABELS_ZH = {
    "funding_detail": "经费归属明细",
    "funding_detail_before": "对比月份经费归属明细",
    "funding_attributed": "归属本月的经费",
    "annualising_factor": "年化系数（全年天数/当月天数）",
    "funding_annualised": "年化经费",
    "child_days": "在园人日数",
    "average_enrolment": "月平均在园人数",
    "per_child_year": "生均年经费",
    "per_child_year_before": "上年同月生均年经费",
    "calculation_before": "对比月份计算过程",
    "period_before": "对比月份",
    "threshold": "标准/阈值",
    "threshold_percent": "上限（百分比）",
    "basis": "计算依据",
    "reference": "凭证号",
    "source": "经费来源",
    "received_on": "到账日期",
    "amount": "金额",
    "receipt": "票据号",
    "fee_item": "收费项目",
    "item_category": "项目类别",
    "refund_due": "应退金额",
    "collector": "收费主体",
    "child_boarding": "幼儿是否寄宿",
    "kindergarten_boarding": "园所是否寄宿",
    "period_start": "期间起",
    "period_end": "期间止",
    "standard_amount": "收费标准",
    "unit": "计费单位",
    "units_covered": "计费单位数",
    "allowed": "允许收取",
    "calculation": "计算过程",
    "excess": "超收金额",
    "monthly_amount": "折合月标准",
    "cap": "上限",
    "cap_basis": "上限依据",
    "effective_from": "执行日期",
    "previous_effective_from": "上次调整执行日期",
    "months_between": "间隔月数",
    "previous_amount": "原标准",
    "increase_ratio": "涨幅",
    "increase_percent": "涨幅（百分比）",
    "school_year_start": "学年开始日",
    "paid_on": "缴费日期",
    "billing_block": "收费周期",
    "blocks_covered": "覆盖周期数",
    "block_start": "周期开始日",
    "days_before_block": "提前天数",
    "left_on": "离园日期",
    "refund_formula": "退费计算方法",
    "refunded": "已退金额",
    "shortfall": "少退金额",
    "due_by": "应退截止日",
    "month": "月份",
    "days_absent": "缺勤天数",
    "days_refundable": "应退天数",
    "days_open": "开园天数",
    "meal_attributed": "当月伙食费",
    "hardship": "资助类别",
    "allowed_max": "最多可收",
    "final_year_basis": "学前一年认定依据",
    "limit_basis": "上限依据",
    "birth_date": "出生日期",
    "birth_window": "学前一年出生日期区间",
    "inspected_on": "检查日期",
    "inspector": "检查人",
    "account": "收款账户",
    "filed_accounts": "备案账户",
    "defaults_not_law": "feecheck 默认值（非法律规定）",
    "evaluation_error": "无法评估的原因",
    "unverified_values": "未经核实的参数",
    "existing_pupil": "在园幼儿入园日期（按原标准收费）",
    "standard_not_applied": "不适用于在园幼儿的新标准",
    "days_away": "离园天数",
    "months_refunded": "应退月数",
    "months_charged": "所收月数",
    "days_attended": "离园当月出勤天数",
    "attendance_basis": "出勤天数依据",
    "working_days": "当月法定工作日",
    "calendar_official": "按国家法定节假日安排",
    "leaving_month_share": "离园当月退费比例",
    "months_after": "其后整月数",
    "days_basis": "计费天数依据",
    "standard_match": "所依据的收费标准",
    "candidates": "同类收费标准",
    "needs_grade": "需按园所等级取值的参数",
    "grade": "园所等级",
    "by_grade": "按等级取值",
}
LAYER_ZH = {"national": "国家", "province": "省级", "city": "市级", "district": "区县"}
SEVERITY_ZH = {"violation": "违规", "warning": "提醒", "info": "信息"}


def _enum_labels(enum: Any) -> dict[str, str]:
    return {m.value: m.label_zh for m in enum}


# Codes that appear as evidence values, in words: Chinese messages carry no English codes.
VALUE_LABELS: dict[str, dict[str, dict[str, str]]] = {
    "zh": {
        "unit": _enum_labels(FeeUnit),
        "hardship": _enum_labels(Hardship),
        "collector": _enum_labels(Collector),
        "source": _enum_labels(FundingSource),
        "billing_block": {"semester": "学期", "month": "月"},
        "basis": {"receipts_proxy": "按到账记录推算（当地生均拨款标准的近似口径）"},
        "cap_basis": {
            "absolute_cap": "普惠性民办园保教费月收费上限",
            "ratio_of_public_fee": "同级公办园收费标准 × 上浮比例",
        },
        "refund_formula": {
            "whole_months": "按整月（离园当月全额收取，其后整月按比例退还）",
            "by_days": "按天数比例",
            "per_30_days": "每满30天退一个月（含周末）",
            "attendance_tiers": "按离园当月出勤天数分档退费",
            "half_working_days": "当月出勤不超过法定工作日一半的退半月",
        },
        "limit_basis": {
            "local_reduction": "按本地规定的减免比例",
            "no_local_rate": "本地未规定减免比例，收取全额即视为未减免",
        },
        "final_year_basis": {
            "final_year": "幼儿信息中填写的“学前一年”",
            "birth_date": "按出生日期推算",
            "unknown": "无法判断",
        },
        "_bool": {"yes": "是", "no": "否"},
        "days_basis": {
            "working_days": "法定工作日（含调休上班日）",
            "days_open": "缺勤记录中的开园天数",
            "both": "开园天数与法定工作日",
        },
        "standard_match": {
            "item": "本项目自身的收费标准",
            "category": "同类收费中唯一的标准",
            "ambiguous": "同类收费有多个标准，均非本项目",
        },
        "attendance_basis": {
            "absence_record": "当月缺勤记录（开园天数 − 缺勤天数）",
            "working_days": "离园前的法定工作日",
            "left_on_first_day": "月初即离园",
        },
        "grade": {g.value: g.label_zh for g in Grade} | {"unknown": "未记录"},
    },
    "en": {
        "basis": {"receipts_proxy": "computed from receipts (a proxy for the locality's standard)"},
        "cap_basis": {
            "absolute_cap": "the absolute monthly cap for inclusive private kindergartens",
            "ratio_of_public_fee": "the same-grade public fee × the allowed ratio",
        },
        "days_basis": {
            "working_days": "legal working days (adjusted working days included)",
            "days_open": "the days open in the absence record",
            "both": "days open and legal working days",
        },
        "refund_formula": {
            "whole_months": "whole months (the month of leaving charged in full)",
            "by_days": "by days",
            "per_30_days": "a month per full 30 days away",
            "attendance_tiers": "by the days attended in the month of leaving",
            "half_working_days": "half the month when at most half its working days were attended",
        },
        "limit_basis": {
            "local_reduction": "the local reduction rate",
            "no_local_rate": "no local rate is set: the full fee counts as no reduction",
        },
        "final_year_basis": {
            "final_year": "the child's final_year cell",
            "birth_date": "the birth date against the school year",
            "unknown": "unknown",
        },
    },
}
BOOLEAN_KEYS = {"child_boarding", "kindergarten_boarding", "calendar_official"}


def show(value: Any) -> Any:
    """Evidence and parameter values as JSON-friendly strings (money with two decimals)."""
    if isinstance(value, Decimal):
        cents = money(value)
        return f"{cents:.2f}" if cents == value else format(value.normalize(), "f")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)):
        return [show(v) for v in value]
    if isinstance(value, dict):
        return {str(k): show(v) for k, v in value.items()}
    if isinstance(value, GradeTable):
        return {str(k): show(v) for k, v in value.values}
    return str(value)


def text_of(value: Any) -> str:
    """A parameter or evidence value as one line of text (lists joined by commas)."""
    shown = show(value)
    if isinstance(shown, list):
        return ", ".join(str(v) for v in shown)
    if isinstance(shown, dict):
        return ", ".join(f"{k}: {v}" for k, v in shown.items())
    return str(shown)


def ratio_beside(value: Decimal, threshold: Decimal) -> Decimal:
    """A ratio with as many decimals as it takes to differ visibly from the threshold.

    0.1034 against 0.10 shows as 0.1034 and 0.100049 as 0.100049, never as "0.10": a value above
    the threshold is rounded down only as far as it stays above it.
    """
    for places in range(4, 10):
        step = Decimal(1).scaleb(-places)
        rounding = ROUND_DOWN if value > threshold else ROUND_UP
        shown = value.quantize(step, rounding=rounding)
        if (shown > threshold) == (value > threshold) and shown != threshold:
            return shown
    return value


def percent(value: Decimal, threshold: Decimal | None = None) -> str:
    """A ratio as a percentage, precise enough to tell it from the threshold's."""
    shown = ratio_beside(value, threshold) if threshold is not None else value
    return f"{format((shown * 100).normalize(), 'f')}%"


class _Template(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


ItemNames = Callable[[str], str]
GRADE_LABELS_ZH = {g.value: g.label_zh for g in Grade}


def display(key: str, value: Any, language: str, item_name: ItemNames | None = None) -> str:
    """One evidence value in words for a message or an explanation in `language` (zh | en).

    `item_name` names a code in Chinese: a fee-item category or a parameter."""
    if isinstance(value, list):
        parts = [display(key, v, language, item_name) for v in value]
        if not parts:
            return "无" if language == "zh" else "none"
        return ("、" if language == "zh" else ", ").join(parts)
    if isinstance(value, dict):
        if language == "zh" and key == "by_grade":
            return "、".join(f"{GRADE_LABELS_ZH.get(k, k)} {v}" for k, v in value.items())
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    text = str(value)
    labels = VALUE_LABELS.get(language, {})
    if key in ("item_category", "needs_grade") and item_name is not None and language == "zh":
        return item_name(text)
    if key in BOOLEAN_KEYS and language == "zh":
        return labels["_bool"].get(text, text)
    return labels.get(key, {}).get(text, text)


def render(
    template: str,
    evidence: Mapping[str, Any],
    language: str = "en",
    item_name: ItemNames | None = None,
) -> str:
    flat = {k: display(k, v, language, item_name) for k, v in evidence.items()}
    return template.format_map(_Template(flat))


@dataclass
class Outcome:
    """What an evaluator says about one case; the runner turns it into a FindingResult."""

    evidence: dict[str, Any]
    used: dict[str, DatedValue]
    child_ref: str | None = None
    key: str = ""
    amount_due: Decimal | None = None
    severity: str | None = None
    message: tuple[str, str] | None = None  # (zh, en) instead of the rule's message template


@dataclass
class FindingResult:
    rule: RuleSpec
    severity: str
    period: str
    kindergarten_code: str
    child_ref: str | None
    key: str
    evidence: dict[str, Any]
    parameters: dict[str, DatedValue]
    amount_due: Decimal | None
    ruleset_hash: str
    message_zh: str = ""
    message_en: str = ""
    explanation: list[dict[str, str]] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return fingerprint(
            self.rule.id, self.period, self.kindergarten_code, self.child_ref, self.key
        )

    @property
    def citation(self) -> str:
        return self.rule.citation.short()

    def parameters_json(self) -> dict[str, dict[str, Any]]:
        return {
            name: {"value": show(v.value), "layer": v.layer, "source": v.source}
            for name, v in self.parameters.items()
        }

    def parameters_detail(self) -> dict[str, dict[str, Any]]:
        return {
            name: {
                "value": show(v.value),
                "layer": v.layer,
                "source": v.source,
                "from": v.start.isoformat(),
                "reference": v.reference,
                "verified": v.verified,
                "default_not_law": v.default_not_law,
            }
            for name, v in self.parameters.items()
        }

    def to_json(self, explain: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rule_id": self.rule.id,
            "severity": self.severity,
            "period": self.period,
            "kindergarten_code": self.kindergarten_code,
            "child_ref": self.child_ref,
            "citation": self.citation,
            "message": self.message_zh,
            "evidence": self.evidence,
            "parameters": self.parameters_json(),
        }
        if explain:
            data["message_en"] = self.message_en
            data["parameters"] = self.parameters_detail()
            data["explanation"] = self.explanation
        return data


def fingerprint(rule_id: str, period: str, kindergarten: str, child: str | None, key: str) -> str:
    """A finding's identity across re-runs: rule, month, kindergarten, child, evidence key."""
    identity = "|".join((rule_id, period, kindergarten, child or "", key))
    return hashlib.sha256(identity.encode()).hexdigest()


def explain(finding: FindingResult, item_name: ItemNames | None = None) -> list[dict[str, str]]:
    """The chain: records used -> figures -> parameters -> outcome, in Chinese and English."""
    evidence = finding.evidence
    used = [k for k in RECORD_KEYS if evidence.get(k)]
    records = [f"{k}: {', '.join(evidence[k])}" for k in used]
    records_zh = [f"{RECORD_LABELS_ZH[k]}：{'、'.join(evidence[k])}" for k in used]
    figures = {k: v for k, v in evidence.items() if k not in RECORD_KEYS}
    steps = [
        {
            "step": "records",
            "zh": "使用的记录：" + ("；".join(records_zh) or "无"),
            "en": "Records used: " + ("; ".join(records) or "none"),
        },
        {
            "step": "figures",
            "zh": "计算结果："
            + "；".join(
                f"{FIGURE_LABELS_ZH.get(k, k)} = {display(k, v, 'zh', item_name)}"
                for k, v in figures.items()
            ),
            "en": "Figures: "
            + "; ".join(f"{k} = {display(k, v, 'en')}" for k, v in figures.items()),
        },
    ]
    for name, value in finding.parameters.items():
        flags_zh = ("（未经核实）" if not value.verified else "") + (
            "（feecheck 默认值，非法律规定）" if value.default_not_law else ""
        )
        flags_en = (" (unverified)" if not value.verified else "") + (
            " (feecheck default, not law)" if value.default_not_law else ""
        )
        steps.append(
            {
                "step": "parameter",
                "zh": f"参数 {name} = {_flat(show(value.value))}，"
                f"{LAYER_ZH.get(value.layer, value.layer)}层（{value.source}），"
                f"自 {value.start} 起执行；依据：{value.reference}{flags_zh}",
                "en": f"Parameter {name} = {_flat(show(value.value))} from the {value.layer} layer "
                f"({value.source}), in force from {value.start}; reference: "
                f"{value.reference}{flags_en}",
            }
        )
    steps.append(
        {
            "step": "outcome",
            "zh": f"结论（{SEVERITY_ZH.get(finding.severity, finding.severity)}）："
            f"{finding.message_zh} —— 依据 {finding.citation}",
            "en": f"Outcome ({finding.severity}): {finding.message_en} — under {finding.citation}",
        }
    )
    return steps


def _flat(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)

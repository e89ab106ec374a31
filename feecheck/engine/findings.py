"""Findings as the engine produces them, with their identity, message and explanation chain."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from feecheck.domain.money import money
from feecheck.engine.specs import DatedValue, RuleSpec

RECORD_KEYS = ("charges", "funding", "refunds", "standards", "absences", "inspections")

FIGURE_LABELS_ZH = {
    "funding_attributed": "归属本月的经费",
    "funding_annualised": "年化经费",
    "average_enrolment": "月平均在园人数",
    "per_child_year": "生均年经费",
    "per_child_year_before": "上年同月生均年经费",
    "period_before": "对比月份",
    "threshold": "标准/阈值",
    "basis": "计算依据",
    "reference": "凭证号",
    "source": "经费来源",
    "amount": "金额",
    "receipt": "票据号",
    "fee_item": "收费项目",
    "item_category": "项目类别",
    "refund_due": "应退金额",
    "collector": "收费主体",
    "child_boarding": "幼儿是否寄宿",
    "kindergarten_boarding": "园所是否寄宿",
    "period_start": "收费期间起",
    "period_end": "收费期间止",
    "standard_amount": "收费标准",
    "unit": "计费单位",
    "units_covered": "计费单位数",
    "allowed": "允许收取",
    "excess": "超收金额",
    "monthly_amount": "折合月标准",
    "cap": "上限",
    "cap_basis": "上限依据",
    "effective_from": "执行日期",
    "previous_effective_from": "上次调整执行日期",
    "months_between": "间隔月数",
    "previous_amount": "原标准",
    "increase_ratio": "涨幅",
    "school_year_start": "学年开始日",
    "paid_on": "缴费日期",
    "billing_block": "收费周期",
    "blocks_covered": "覆盖周期数",
    "block_start": "周期开始日",
    "days_before_block": "提前天数",
    "left_on": "离园日期",
    "refunded": "已退金额",
    "shortfall": "少退金额",
    "due_by": "应退截止日",
    "month": "月份",
    "days_absent": "缺勤天数",
    "days_open": "开园天数",
    "meal_attributed": "当月伙食费",
    "hardship": "资助类别",
    "allowed_max": "最多可收",
    "inspected_on": "检查日期",
    "inspector": "检查人",
    "account": "收款账户",
    "filed_accounts": "备案账户",
}
LAYER_ZH = {"national": "国家", "province": "省级", "city": "市级", "district": "区县"}


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
    return str(value)


class _Template(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(template: str, evidence: dict[str, Any]) -> str:
    flat = {k: ", ".join(v) if isinstance(v, list) else v for k, v in evidence.items()}
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
    explanation: list[dict[str, str]] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        identity = "|".join(
            (self.rule.id, self.period, self.kindergarten_code, self.child_ref or "", self.key)
        )
        return hashlib.sha256(identity.encode()).hexdigest()

    @property
    def citation(self) -> str:
        return self.rule.citation.short()

    @property
    def message_zh(self) -> str:
        return render(self.rule.message["zh"], self.evidence)

    @property
    def message_en(self) -> str:
        return render(self.rule.message["en"], self.evidence)

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


def explain(finding: FindingResult) -> list[dict[str, str]]:
    """The chain: records used -> figures -> parameters -> outcome, in Chinese and English."""
    evidence = finding.evidence
    records = [f"{k}: {', '.join(evidence[k])}" for k in RECORD_KEYS if evidence.get(k)]
    figures = {k: v for k, v in evidence.items() if k not in RECORD_KEYS}
    steps = [
        {
            "step": "records",
            "zh": "使用的记录：" + ("；".join(records) or "无"),
            "en": "Records used: " + ("; ".join(records) or "none"),
        },
        {
            "step": "figures",
            "zh": "计算结果："
            + "；".join(f"{FIGURE_LABELS_ZH.get(k, k)} = {_flat(v)}" for k, v in figures.items()),
            "en": "Figures: " + "; ".join(f"{k} = {_flat(v)}" for k, v in figures.items()),
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
            "zh": f"结论（{finding.severity}）：{finding.message_zh} —— 依据 {finding.citation}",
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

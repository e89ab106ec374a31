"""Enumerations of the contract (spec §1–§2) with their Chinese names."""

from __future__ import annotations

from enum import StrEnum


class LabelledEnum(StrEnum):
    """A string enum whose members carry a Chinese label; parse() accepts code or label."""

    label_zh: str

    def __new__(cls, value: str, label_zh: str) -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label_zh = label_zh
        return member

    @classmethod
    def parse(cls, text: str) -> LabelledEnum:
        cleaned = text.strip()
        for member in cls:
            if cleaned.lower() == member.value or cleaned == member.label_zh:
                return member
        alias = ALIASES.get(cls.__name__, {}).get(cleaned)
        if alias is not None:
            return cls(alias)
        codes = ", ".join(f"{m.value} {m.label_zh}" for m in cls)
        raise ValueError(f"unknown value {text!r}; expected one of: {codes}")

    @classmethod
    def aliases(cls) -> dict[str, str]:
        """Other words for a member that files use (Chinese wordings), -> the member's code."""
        return dict(ALIASES.get(cls.__name__, {}))

    @classmethod
    def values(cls) -> list[str]:
        return [m.value for m in cls]


class Category(LabelledEnum):
    PUBLIC = "public", "公办"
    INCLUSIVE_PRIVATE = "inclusive_private", "普惠性民办"
    NONPROFIT_PRIVATE = "nonprofit_private", "非营利性民办"
    FORPROFIT_PRIVATE = "forprofit_private", "营利性民办"


class FeeUnit(LabelledEnum):
    MONTH = "month", "月"
    SEMESTER = "semester", "学期"
    DAY = "day", "天"


class FundingSource(LabelledEnum):
    PER_CHILD_APPROPRIATION = "per_child_appropriation", "生均财政拨款"
    PER_CHILD_PUBLIC_EXPENSE = "per_child_public_expense", "生均公用经费"
    INCLUSIVE_SUBSIDY = "inclusive_subsidy", "普惠性民办园补助"
    FEE_EXEMPTION_COMPENSATION = "fee_exemption_compensation", "免保教费补助"
    HARDSHIP_AID = "hardship_aid", "资助经费"
    OTHER = "other", "其他"


class Hardship(LabelledEnum):
    NONE = "none", "无"
    LOW_INCOME = "low_income", "家庭经济困难"
    ORPHAN = "orphan", "孤儿"
    DISABLED = "disabled", "残疾"


class Grade(LabelledEnum):
    """A kindergarten's grade (园所等级): local fees, caps and subsidies depend on it."""

    MODEL = "model", "示范"
    GRADE1 = "grade1", "一级"
    GRADE2 = "grade2", "二级"
    GRADE3 = "grade3", "三级"
    UNRATED = "unrated", "未评级"


class Collector(LabelledEnum):
    KINDERGARTEN = "kindergarten", "园所"
    PARENT_COMMITTEE = "parent_committee", "家委会"
    THIRD_PARTY = "third_party", "第三方"


class Role(LabelledEnum):
    INSPECTOR = "inspector", "检查员"
    SUPERVISOR = "supervisor", "科室负责人"
    ADMIN = "admin", "管理员"


class Severity(LabelledEnum):
    VIOLATION = "violation", "违规"
    WARNING = "warning", "提醒"
    INFO = "info", "信息"


class FindingStatus(LabelledEnum):
    """The workflow: open → acknowledged → rectified | dismissed; a check that no longer finds
    it makes it resolved (and a later check that finds it again opens it again)."""

    OPEN = "open", "待处理"
    ACKNOWLEDGED = "acknowledged", "已确认"
    RECTIFIED = "rectified", "已整改"
    DISMISSED = "dismissed", "已排除"
    RESOLVED = "resolved", "已消除"


class FollowUpOutcome(LabelledEnum):
    """What a follow-up inspection (复查) of a notice found."""

    RECTIFIED = "rectified", "已整改到位"
    PARTLY = "partly", "部分整改"
    NOT_RECTIFIED = "not_rectified", "未整改"


class RefundState(LabelledEnum):
    """A refund-ledger item's state (services.ledger)."""

    OVERDUE = "overdue", "逾期未退"
    OWED = "owed", "待退"
    PARTLY_REFUNDED = "partly_refunded", "部分已退"
    SETTLED = "settled", "已退清"


# Wordings of real lists and local documents, by enumeration class name.
ALIASES: dict[str, dict[str, str]] = {
    # 办园性质 as official lists write it: by who runs the kindergarten (all public ones), or as
    # 普惠/非营利/营利 private ones. 民办 or 私立 alone is ambiguous (record_types refuses it
    # unless 是否普惠 says inclusive).
    "Category": {
        "公办园": "public",
        "公办幼儿园": "public",
        "公立": "public",
        "公立园": "public",
        "教育部门办园": "public",
        "教育部门办": "public",
        "教育部门": "public",
        "其他部门办园": "public",
        "其他部门办": "public",
        "国有企业办园": "public",
        "国有企业办": "public",
        "集体办园": "public",
        "集体办": "public",
        "事业单位办园": "public",
        "事业单位办": "public",
        "机关办园": "public",
        "机关办": "public",
        "部队办园": "public",
        "部队办": "public",
        "街道办园": "public",
        "街道办": "public",
        # 举办者 in the education statistics: (地方)企业办 is counted among the public ones;
        # kindergartens of private companies are 民办
        "企业办园": "public",
        "企业办": "public",
        "地方企业办园": "public",
        "地方企业办": "public",
        "普惠性民办园": "inclusive_private",
        "普惠性民办幼儿园": "inclusive_private",
        "民办普惠": "inclusive_private",
        "民办普惠园": "inclusive_private",
        "普惠民办": "inclusive_private",
        "非营利性民办园": "nonprofit_private",
        "民办非营利": "nonprofit_private",
        "民办非营利性": "nonprofit_private",
        "营利性民办园": "forprofit_private",
        "民办营利": "forprofit_private",
        "民办营利性": "forprofit_private",
    },
    "Grade": {
        "示范园": "model",
        "示范幼儿园": "model",
        "示范性": "model",
        "实验示范类": "model",
        "实验示范": "model",
        "省级示范": "model",
        "市级示范": "model",
        "省级示范园": "model",
        "市级示范园": "model",
        "区级示范园": "model",
        "省示范园": "model",
        "市示范园": "model",
        "示范性幼儿园": "model",
        "示范性园": "model",
        "省一级": "grade1",
        "省一级园": "grade1",
        "市一级": "grade1",
        "市一级园": "grade1",
        "一级幼儿园": "grade1",
        "省二级": "grade2",
        "市二级": "grade2",
        "二级幼儿园": "grade2",
        "省三级": "grade3",
        "市三级": "grade3",
        "三级幼儿园": "grade3",
        "一类": "grade1",
        "一级园": "grade1",
        "一类园": "grade1",
        "二类": "grade2",
        "二级园": "grade2",
        "二类园": "grade2",
        "三类": "grade3",
        "三级园": "grade3",
        "三类园": "grade3",
        "未定级": "unrated",
        "未分级": "unrated",
        "无": "unrated",
    },
    # 计费方式 as lists write it
    "FeeUnit": {
        "按月": "month",
        "每月": "month",
        "元/月": "month",
        "月度": "month",
        "按学期": "semester",
        "每学期": "semester",
        "元/学期": "semester",
        "期": "semester",
        "按天": "day",
        "按日": "day",
        "每天": "day",
        "每日": "day",
        "元/天": "day",
        "日": "day",
    },
}

_TRUE = {"yes", "true", "1", "是", "y"}
_FALSE = {"no", "false", "0", "否", "n"}


def parse_bool(text: str) -> bool:
    cleaned = text.strip().lower()
    if cleaned in _TRUE:
        return True
    if cleaned in _FALSE:
        return False
    raise ValueError(f"not a yes/no value: {text!r}; expected yes/no/true/false/1/0/是/否/Y/N")

"""The demo's kindergartens: five districts, seventeen kindergartens of every category, and which
rule ids each one breaks (the seeders in seeders.py make each break happen)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from feecheck.domain.periods import Period

SCHOOL_YEAR = (Period(2025, 9), Period(2026, 8))
AUTUMN = (date(2025, 9, 1), date(2026, 1, 31))
SPRING = (date(2026, 2, 1), date(2026, 8, 31))
MEAL_MONTHS = [Period(2025, m) for m in (9, 10, 11, 12)] + [
    Period(2026, m) for m in (1, 3, 4, 5, 6, 7)
]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏"
    "魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚"
    "邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "子涵浩宇梓轩欣怡雨桐一诺思远可馨俊熙沐阳若汐嘉懿亦辰语桐奕泽佳琪宇航铭轩诗涵梦瑶晨曦皓轩明哲"
    "安琪乐萱天佑书瑶锦程昊然雅琳博文依诺紫萱煜祺芷若承泽睿渊知许"
)
RARE_NAMES = ["张喆", "刘䶮", "王堃", "李昇", "陈玥"]


@dataclass(frozen=True)
class KindergartenPlan:
    code: str
    name: str
    region_code: str
    category: str
    children: int
    care_fee: Decimal  # care-and-education standard
    care_unit: str  # "month" or "semester"
    meal_fee: Decimal  # per month
    boarding: bool = False
    accommodation_fee: Decimal = Decimal(0)  # per month
    violations: tuple[str, ...] = ()
    grade: str = "grade1"  # 园所等级: local caps and subsidies depend on it

    @property
    def final_year_free(self) -> bool:
        """Whether the final year's care-and-education fee is waived here in full: public
        kindergartens everywhere, inclusive private ones in Beijing (rules/regions/110000.yaml)."""
        return self.category == "public" or (
            self.category == "inclusive_private" and self.region_code.startswith("11")
        )

    @property
    def existing_pupils_keep_fee(self) -> bool:
        """Shanghai: a raise applies only to children enrolled after it (rules/regions/310000)."""
        return self.region_code.startswith("31")

    @property
    def attendance_billed_months(self) -> frozenset[int]:
        """Shanghai bills the care fee of holiday months by the days attended."""
        return frozenset((1, 2, 7, 8)) if self.region_code.startswith("31") else frozenset()


PLANS = [
    KindergartenPlan(
        "K110108001",
        "北京市海淀区第一幼儿园",
        "110108",
        "public",
        36,
        Decimal("3750.00"),
        "semester",
        Decimal("560.00"),
        grade="model",
    ),
    KindergartenPlan(
        "K110108002",
        "北京市海淀区育英幼儿园",
        "110108",
        "public",
        30,
        Decimal("3750.00"),
        "semester",
        Decimal("540.00"),
        violations=(
            "FUNDING-FLOOR",
            "FEE-DISCLOSURE",
            "FEE-FREE-FINAL-YEAR",
            "REFUND-ON-WITHDRAWAL",
            "FEE-PREPAY",
        ),
        grade="grade1",
    ),
    KindergartenPlan(
        "K110108003",
        "北京市海淀区阳光普惠幼儿园",
        "110108",
        "inclusive_private",
        28,
        Decimal("4500.00"),
        "semester",
        Decimal("600.00"),
        grade="grade1",
    ),
    KindergartenPlan(
        "K110108004",
        "北京市海淀区小树苗幼儿园",
        "110108",
        "inclusive_private",
        26,
        Decimal("4500.00"),
        "semester",
        Decimal("600.00"),
        violations=("INCLUSIVE-SUBSIDY", "FEE-PROHIBITED-ITEM", "FEE-UNFILED-ACCOUNT"),
        grade="grade2",
    ),
    KindergartenPlan(
        "K110108005",
        "北京市海淀区金色童年双语幼儿园",
        "110108",
        "forprofit_private",
        30,
        Decimal("15000.00"),
        "semester",
        Decimal("900.00"),
        boarding=True,
        accommodation_fee=Decimal("800.00"),
        violations=(
            "FUNDING-FORPROFIT-PUBLIC-MONEY",
            "FEE-THIRD-PARTY-COLLECTOR",
            "ACCOMMODATION-NON-BOARDER",
        ),
        grade="grade2",
    ),
    KindergartenPlan(
        "K310104001",
        "上海市徐汇区第一幼儿园",
        "310104",
        "public",
        34,
        Decimal("700.00"),
        "month",
        Decimal("550.00"),
        grade="model",
    ),
    KindergartenPlan(
        "K310104002",
        "上海市徐汇区康健幼儿园",
        "310104",
        "public",
        30,
        Decimal("700.00"),
        "month",
        Decimal("550.00"),
        violations=("FUNDING-LOWERED", "MEAL-SETTLEMENT"),
        grade="grade1",
    ),
    KindergartenPlan(
        "K310104003",
        "上海市徐汇区启明星幼儿园",
        "310104",
        "nonprofit_private",
        28,
        Decimal("2800.00"),
        "month",
        Decimal("650.00"),
        violations=("FEE-ADJUST-MIDYEAR", "FEE-UNCLASSIFIED-ITEM", "FEE-PREPAY"),
        grade="grade2",
    ),
    KindergartenPlan(
        "K310104004",
        "上海市徐汇区爱乐幼儿园",
        "310104",
        "forprofit_private",
        26,
        Decimal("9800.00"),
        "month",
        Decimal("800.00"),
        grade="grade2",
    ),
    KindergartenPlan(
        "K310104005",
        "上海市徐汇区田林普惠幼儿园",
        "310104",
        "inclusive_private",
        28,
        Decimal("1600.00"),
        "month",
        Decimal("600.00"),
        grade="grade1",
    ),
    KindergartenPlan(
        "K370102001",
        "济南市历下区第一实验幼儿园",
        "370102",
        "public",
        34,
        Decimal("2600.00"),
        "semester",
        Decimal("450.00"),
        grade="model",
    ),
    KindergartenPlan(
        "K370102002",
        "济南市历下区童心普惠幼儿园",
        "370102",
        "inclusive_private",
        30,
        Decimal("950.00"),
        "month",
        Decimal("480.00"),
        violations=("INCLUSIVE-FEE-CAP", "FEE-ABOVE-STANDARD", "HARDSHIP-NO-REDUCTION"),
        grade="grade1",
    ),
    KindergartenPlan(
        "K370102003",
        "济南市历下区泉城幼儿园",
        "370102",
        "nonprofit_private",
        28,
        Decimal("1000.00"),
        "month",
        Decimal("500.00"),
        violations=("FEE-NO-STANDARD",),
        grade="grade2",
    ),
    KindergartenPlan(
        "K370102004",
        "济南市历下区明德寄宿幼儿园",
        "370102",
        "forprofit_private",
        26,
        Decimal("3200.00"),
        "month",
        Decimal("700.00"),
        boarding=True,
        accommodation_fee=Decimal("600.00"),
        grade="grade3",
    ),
    KindergartenPlan(
        "K370102005",
        "济南市历下区舜耕普惠幼儿园",
        "370102",
        "inclusive_private",
        28,
        Decimal("700.00"),
        "month",
        Decimal("480.00"),
        grade="model",
    ),
    KindergartenPlan(
        "K370705001",
        "潍坊市奎文区育才幼儿园",
        "370705",
        "nonprofit_private",
        26,
        Decimal("1100.00"),
        "month",
        Decimal("480.00"),
        violations=("FEE-ADJUST-FREQUENCY",),
        grade="grade2",
    ),
    KindergartenPlan(
        "K340202001",
        "芜湖市镜湖区启蒙普惠幼儿园",
        "340202",
        "inclusive_private",
        26,
        Decimal("900.00"),
        "month",
        Decimal("450.00"),
        violations=("FEE-ADJUST-AMPLITUDE",),
        grade="grade1",
    ),
]


# Per-child annual funding rates used for public and inclusive kindergartens (yuan per year).
PUBLIC_EXPENSE_RATE = Decimal("1500")
INCLUSIVE_SUBSIDY_RATE = Decimal("13200")  # above the Beijing standard (rules/regions/110000.yaml)

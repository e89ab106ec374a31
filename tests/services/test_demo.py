"""The demo: deterministic, and a clear case of every rule id by the shape of its data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from feecheck.config import ROOT
from feecheck.engine.taxonomy import load_taxonomy
from feecheck.models import (
    Absence,
    Charge,
    Child,
    FeeStandard,
    Funding,
    Inspection,
    Kindergarten,
    Refund,
)
from feecheck.services.demo import (
    CLEAN_KINDERGARTENS,
    PLANS,
    SEEDED_CASES,
    DemoError,
    build_demo,
    generate,
)

RULE_IDS = {
    "FUNDING-FLOOR",
    "FUNDING-LOWERED",
    "INCLUSIVE-SUBSIDY",
    "FUNDING-FORPROFIT-PUBLIC-MONEY",
    "FEE-PROHIBITED-ITEM",
    "FEE-UNCLASSIFIED-ITEM",
    "FEE-THIRD-PARTY-COLLECTOR",
    "ACCOMMODATION-NON-BOARDER",
    "FEE-NO-STANDARD",
    "FEE-ABOVE-STANDARD",
    "INCLUSIVE-FEE-CAP",
    "FEE-ADJUST-FREQUENCY",
    "FEE-ADJUST-AMPLITUDE",
    "FEE-ADJUST-MIDYEAR",
    "FEE-PREPAY",
    "REFUND-ON-WITHDRAWAL",
    "MEAL-SETTLEMENT",
    "HARDSHIP-NO-REDUCTION",
    "FEE-FREE-FINAL-YEAR",
    "FEE-DISCLOSURE",
    "FEE-UNFILED-ACCOUNT",
}


@pytest.fixture(scope="module")
def demo(engine: Engine) -> Iterator[Session]:
    """Built once for the module, in a transaction rolled back at its end."""
    with engine.connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            build_demo(session, load_taxonomy(ROOT / "rules"), seed=7)
            yield session
        transaction.rollback()


def _kg(session: Session, code: str) -> Kindergarten:
    return session.scalars(select(Kindergarten).where(Kindergarten.code == code)).one()


def _charges(session: Session, code: str, **where) -> list[Charge]:  # type: ignore[no-untyped-def]
    statement = select(Charge).where(Charge.kindergarten_id == _kg(session, code).id)
    for column, value in where.items():
        statement = statement.where(getattr(Charge, column) == value)
    return list(session.scalars(statement))


def test_every_rule_id_is_seeded_and_clean_kindergartens_exist() -> None:
    assert set(SEEDED_CASES) == RULE_IDS
    assert len(CLEAN_KINDERGARTENS) >= 5
    assert {p.category for p in PLANS} == {
        "public",
        "inclusive_private",
        "nonprofit_private",
        "forprofit_private",
    }
    assert {p.region_code for p in PLANS} == {"110108", "310104", "370102"}


def test_same_seed_same_data_other_seed_other_names() -> None:
    assert generate(3).records == generate(3).records
    names = lambda seed: [c["name"] for c in generate(seed).records["children"]]  # noqa: E731
    assert names(3) != names(4)


def test_demo_size(demo: Session) -> None:
    assert demo.scalar(select(func.count()).select_from(Kindergarten)) >= 12
    assert demo.scalar(select(func.count()).select_from(Child)) >= 400
    for model in (FeeStandard, Charge, Funding, Refund, Absence, Inspection):
        assert demo.scalar(select(func.count()).select_from(model)) > 0, model


def test_demo_refuses_a_non_empty_database(demo: Session) -> None:
    with pytest.raises(DemoError):
        build_demo(demo, load_taxonomy(ROOT / "rules"))


def _has_prohibited_item(s: Session, code: str) -> bool:
    return {c.item_category for c in _charges(s, code)} >= {"special_class", "bridge_class"}


def _funding_rate(s: Session, code: str, source: str, period_start: date) -> Decimal:
    kg = _kg(s, code)
    amount = s.scalar(
        select(func.sum(Funding.amount)).where(
            Funding.kindergarten_id == kg.id,
            Funding.source == source,
            Funding.period_start == period_start,
        )
    )
    enrolled = s.scalar(
        select(func.count())
        .select_from(Child)
        .where(Child.kindergarten_id == kg.id, Child.enrolled_on <= period_start)
    )
    return (amount or Decimal(0)) * 12 / enrolled


SHAPES: dict[str, Callable[[Session, str], bool]] = {
    "FUNDING-FLOOR": lambda s, k: (
        _funding_rate(s, k, "per_child_public_expense", date(2025, 10, 1)) < 600
    ),
    "FUNDING-LOWERED": lambda s, k: (
        _funding_rate(s, k, "per_child_public_expense", date(2025, 10, 1))
        < _funding_rate(s, k, "per_child_public_expense", date(2024, 10, 1))
    ),
    "INCLUSIVE-SUBSIDY": lambda s, k: (
        _funding_rate(s, k, "inclusive_subsidy", date(2025, 10, 1)) < 12000
    ),
    "FUNDING-FORPROFIT-PUBLIC-MONEY": lambda s, k: (
        s.scalar(
            select(func.count())
            .select_from(Funding)
            .where(
                Funding.kindergarten_id == _kg(s, k).id,
                Funding.source == "per_child_public_expense",
            )
        )
        > 0
    ),
    "FEE-PROHIBITED-ITEM": _has_prohibited_item,
    "FEE-UNCLASSIFIED-ITEM": lambda s, k: bool(_charges(s, k, item_category="unclassified")),
    "FEE-THIRD-PARTY-COLLECTOR": lambda s, k: (
        {c.collector for c in _charges(s, k)} >= {"parent_committee", "third_party"}
    ),
    "ACCOMMODATION-NON-BOARDER": lambda s, k: any(
        not c.child.boarding for c in _charges(s, k, item_category="accommodation")
    ),
    "FEE-NO-STANDARD": lambda s, k: (
        bool(_charges(s, k, item_category="nursery_care"))
        and not s.scalars(
            select(FeeStandard).where(
                FeeStandard.kindergarten_id == _kg(s, k).id,
                FeeStandard.item_category == "nursery_care",
            )
        ).all()
    ),
    "FEE-ABOVE-STANDARD": lambda s, k: (
        max(c.amount for c in _charges(s, k, item_category="care_education")) > Decimal("950.00")
    ),
    "INCLUSIVE-FEE-CAP": lambda s, k: (
        s.scalar(
            select(func.max(FeeStandard.amount)).where(
                FeeStandard.kindergarten_id == _kg(s, k).id,
                FeeStandard.item_category == "care_education",
            )
        )
        > Decimal("744.00")
    ),
    "FEE-ADJUST-FREQUENCY": lambda s, k: (
        sorted(
            f.effective_from
            for f in s.scalars(
                select(FeeStandard).where(
                    FeeStandard.kindergarten_id == _kg(s, k).id,
                    FeeStandard.item_category == "care_education",
                )
            )
        )
        == [date(2024, 9, 1), date(2026, 2, 1)]
    ),
    "FEE-ADJUST-AMPLITUDE": lambda s, k: (
        [
            f.amount
            for f in s.scalars(
                select(FeeStandard)
                .where(
                    FeeStandard.kindergarten_id == _kg(s, k).id,
                    FeeStandard.item_category == "care_education",
                )
                .order_by(FeeStandard.effective_from)
            )
        ]
        == [Decimal("1000.00"), Decimal("1300.00")]
    ),
    "FEE-ADJUST-MIDYEAR": lambda s, k: (
        date(2026, 3, 1)
        in {
            f.effective_from
            for f in s.scalars(
                select(FeeStandard).where(FeeStandard.kindergarten_id == _kg(s, k).id)
            )
        }
    ),
    "FEE-PREPAY": lambda s, k: any(
        (c.paid_on < date(2026, 1, 2) and c.period_start == date(2026, 2, 1))
        or (c.period_end - c.period_start).days > 40
        for c in _charges(s, k, item_category="care_education")
        if k.startswith("K110") or (c.period_end - c.period_start).days > 40
    ),
    "REFUND-ON-WITHDRAWAL": lambda s, k: any(
        c.child.left_on
        and c.period_start < c.child.left_on < c.period_end
        and (c.period_end - c.period_start).days > 40  # a month of leaving is charged in full
        and not s.scalars(select(Refund).where(Refund.charge_id == c.id)).all()
        for c in _charges(s, k, item_category="care_education")
    ),
    "MEAL-SETTLEMENT": lambda s, k: (
        s.scalar(
            select(func.count()).select_from(Absence).where(Absence.kindergarten_id == _kg(s, k).id)
        )
        > 0
        and not s.scalars(
            select(Refund).where(
                Refund.kindergarten_id == _kg(s, k).id, Refund.reason == "伙食费缺勤退费"
            )
        ).all()
    ),
    "HARDSHIP-NO-REDUCTION": lambda s, k: any(
        c.child.hardship != "none" and c.amount == Decimal("950.00")
        for c in _charges(s, k, item_category="care_education")
    ),
    "FEE-FREE-FINAL-YEAR": lambda s, k: any(
        date(2019, 9, 1) <= c.child.birth_date <= date(2020, 8, 31)
        for c in _charges(s, k, item_category="care_education")
    ),
    "FEE-DISCLOSURE": lambda s, k: (
        s.scalar(
            select(func.count())
            .select_from(Inspection)
            .where(Inspection.kindergarten_id == _kg(s, k).id, Inspection.fees_disclosed.is_(False))
        )
        == 1
    ),
    "FEE-UNFILED-ACCOUNT": lambda s, k: bool(
        {c.account for c in _charges(s, k)} - set(_kg(s, k).account_numbers)
    ),
}


@pytest.mark.parametrize("rule_id", sorted(RULE_IDS))
def test_seeded_case_has_the_shape_of_the_rule(demo: Session, rule_id: str) -> None:
    code = SEEDED_CASES[rule_id]
    assert SHAPES[rule_id](demo, code), f"{rule_id} not seeded in {code}"


@pytest.mark.parametrize(
    "rule_id",
    [
        "FEE-PROHIBITED-ITEM",
        "FEE-UNCLASSIFIED-ITEM",
        "FEE-UNFILED-ACCOUNT",
        "FEE-DISCLOSURE",
        "FEE-THIRD-PARTY-COLLECTOR",
        "REFUND-ON-WITHDRAWAL",
    ],
)
def test_clean_kindergartens_do_not_have_the_shape(demo: Session, rule_id: str) -> None:
    for code in CLEAN_KINDERGARTENS:
        assert not SHAPES[rule_id](demo, code), f"{rule_id} shape found in clean {code}"

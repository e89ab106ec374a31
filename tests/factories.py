"""Test factories with defaults: make_kindergarten(session, category="public") and so on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import count
from typing import Any

from sqlalchemy.orm import Session

from feecheck.models import Charge, Child, FiledAccount, Funding, Kindergarten
from feecheck.services.audit import Actor
from feecheck.services.users import create_user

_seq = count(1)


def make_kindergarten(session: Session, **values: Any) -> Kindergarten:
    n = next(_seq)
    accounts = values.pop("accounts", ["6222000000000001"])
    kg = Kindergarten(
        **{
            "code": f"KT{n:05d}",
            "name": f"测试幼儿园{n}",
            "region_code": "110108",
            "category": "public",
            "boarding": False,
            **values,
        }
    )
    kg.filed_accounts = [FiledAccount(account_no=a) for a in accounts]
    session.add(kg)
    session.flush()
    return kg


def make_child(session: Session, kindergarten: Kindergarten, **values: Any) -> Child:
    n = next(_seq)
    child = Child(
        **{
            "kindergarten_id": kindergarten.id,
            "child_ref": f"C{n:05d}",
            "name": "张喆",
            "enrolled_on": date(2024, 9, 1),
            "hardship": "none",
            **values,
        }
    )
    session.add(child)
    session.flush()
    return child


def make_charge(session: Session, child: Child, **values: Any) -> Charge:
    n = next(_seq)
    charge = Charge(
        **{
            "kindergarten_id": child.kindergarten_id,
            "child_id": child.id,
            "receipt_no": f"R{n:06d}",
            "fee_item": "保教费",
            "item_category": "care_education",
            "amount": Decimal("800.00"),
            "period_start": date(2025, 9, 1),
            "period_end": date(2025, 9, 30),
            "paid_on": date(2025, 9, 1),
            "account": "6222000000000001",
            **values,
        }
    )
    session.add(charge)
    session.flush()
    return charge


def make_funding(session: Session, kindergarten: Kindergarten, **values: Any) -> Funding:
    n = next(_seq)
    funding = Funding(
        **{
            "kindergarten_id": kindergarten.id,
            "reference": f"F{n:06d}",
            "source": "per_child_public_expense",
            "amount": Decimal("1000.00"),
            "period_start": date(2025, 9, 1),
            "period_end": date(2025, 9, 30),
            "received_on": date(2025, 9, 15),
            **values,
        }
    )
    session.add(funding)
    session.flush()
    return funding


def make_user(
    session: Session,
    username: str = "inspector",
    password: str = "correct horse",
    role: str = "inspector",
    region_code: str | None = "110108",
):  # type: ignore[no-untyped-def]
    return create_user(session, username, password, role, region_code, Actor("test"))

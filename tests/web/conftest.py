"""Fixtures of the web tests: two districts, each with a child, a prohibited charge (so a
finding) and funding, and a user of every role."""

from __future__ import annotations

from datetime import date

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from feecheck.config import ROOT
from feecheck.domain.periods import Period
from feecheck.extensions import db
from feecheck.models import Finding
from feecheck.services.checking import Scope, run_check
from feecheck.services.rules import cached
from tests.factories import make_charge, make_child, make_funding, make_kindergarten, make_user

PASSWORD = "correct horse"


@pytest.fixture
def world(app: Flask) -> dict[str, int]:
    """Haidian and Xuhui, each with a child, a charge for a prohibited item (so a finding), and
    one user of every role in Haidian (the admin scoped to Haidian too) and one in Xuhui."""
    with app.app_context():
        s = db.session
        ids: dict[str, int] = {}
        for key, code, region in (("hd", "K-HD", "110108"), ("xh", "K-XH", "310104")):
            kg = make_kindergarten(s, code=code, region_code=region)
            child = make_child(s, kg, child_ref="C1")
            charge = make_charge(
                s, child, receipt_no="R1", fee_item="赞助费", item_category="sponsorship"
            )
            funding = make_funding(s, kg)
            ids.update({key: kg.id, f"{key}_child": child.id, f"{key}_charge": charge.id})
            ids[f"{key}_funding"] = funding.id
        run_check(
            s, cached(ROOT / "rules"), Scope(Period(2025, 9), Period(2025, 9)), date(2026, 1, 31)
        )
        for name, role, region in (
            ("insp", "inspector", "110108"),
            ("sup", "supervisor", "110108"),
            ("adm", "admin", "110108"),
            ("xuhui", "inspector", "310104"),
        ):
            make_user(s, name, PASSWORD, role, region)
        s.commit()
        for key in ("hd", "xh"):
            ids[f"{key}_finding"] = s.scalar(
                select(Finding.id).where(
                    Finding.kindergarten_id == ids[key], Finding.rule_id == "FEE-PROHIBITED-ITEM"
                )
            )
        return ids


def login(client: FlaskClient, name: str) -> FlaskClient:
    response = client.post("/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 302
    return client

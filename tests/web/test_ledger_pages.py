"""The refund ledger and a notice's page: what is owed per receipt, downloads, region scope,
follow-ups and closing (销号), overdue notices on the dashboard."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from feecheck.extensions import db
from feecheck.models import Charge, Finding, Notice, Refund
from feecheck.services.ledger import COLUMNS
from tests.web.conftest import login


def _issue(client, app, world, tmp_path: Path) -> int:  # type: ignore[no-untyped-def]
    app.config["OFFICES_FILE"] = tmp_path / "offices.yaml"
    (tmp_path / "offices.yaml").write_text(
        '"110108": {name: 北京市海淀区教育委员会, prefix: 海教收整, deadline_days: 10}\n',
        encoding="utf-8",
    )
    form = {"period_from": "2025-09", "period_to": "2025-09"}
    assert client.post(f"/kindergartens/{world['hd']}/notice", data=form).status_code == 302
    with app.app_context():
        return db.session.scalar(select(Notice.id))


def test_the_ledger_shows_the_regions_receipts_only(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    page = client.get("/ledger").get_data(as_text=True)
    assert "K-HD" in page and "K-XH" not in page and "R1" in page
    assert "FEE-PROHIBITED-ITEM" in page
    assert client.get("/ledger?region=310104").status_code == 404
    assert client.get("/ledger?kindergarten=K-XH").status_code == 404
    assert client.get("/ledger?region=abc").status_code == 404
    unknown = client.get("/ledger?state=gone&as_of=someday").get_data(as_text=True)
    assert "K-HD" in unknown  # both filters fall back, with a message
    settled = client.get("/ledger?state=settled").get_data(as_text=True)
    assert "K-HD" not in settled


def test_downloads_say_what_the_page_says(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    response = client.get("/ledger?kindergarten=K-HD&format=csv")
    assert (
        response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    )
    lines = response.data.decode("utf-8-sig").strip().splitlines()
    assert lines[0] == ",".join(COLUMNS) and lines[1].startswith("K-HD,C1,R1,")
    response = client.get("/ledger?format=xlsx")
    rows = list(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert rows[0] == COLUMNS and [r[:3] for r in rows[1:]] == [("K-HD", "C1", "R1")]


def test_a_notice_is_followed_up_and_closed_by_a_supervisor(  # type: ignore[no-untyped-def]
    client, app, world, tmp_path: Path
) -> None:
    login(client, "insp")
    notice_id = _issue(client, app, world, tmp_path)
    page = client.get(f"/notices/{notice_id}").get_data(as_text=True)
    assert "海教收整〔" in page and "R1" in page and 'id="notice-status"' in page
    today = date.today().isoformat()
    follow = {"followed_up_on": today, "inspector": "张明", "outcome": "partly", "notes": "未退清"}
    assert client.post(f"/notices/{notice_id}/follow-up", data=follow).status_code == 302
    page = client.get(f"/notices/{notice_id}").get_data(as_text=True)
    assert "未退清" in page
    refused = client.post(
        f"/notices/{notice_id}/follow-up", data=dict(follow, outcome="rectified", close="y")
    )
    assert refused.status_code == 400  # an inspector may not close a notice
    client.post("/logout")
    login(client, "sup")
    refused = client.post(
        f"/notices/{notice_id}/follow-up", data=dict(follow, outcome="rectified", close="y")
    )
    assert refused.status_code == 400 and 'id="close-error"' in refused.get_data(as_text=True)
    with app.app_context():
        charge = db.session.get(Charge, world["hd_charge"])
        db.session.add(
            Refund(
                kindergarten_id=world["hd"],
                charge_id=charge.id,
                refund_no="RF1",
                amount=charge.amount,
                refunded_on=date.today(),
            )
        )
        db.session.get(Finding, world["hd_finding"]).status = "rectified"
        db.session.commit()
    closed = client.post(
        f"/notices/{notice_id}/follow-up", data=dict(follow, outcome="rectified", close="y")
    )
    assert closed.status_code == 302
    page = client.get(f"/notices/{notice_id}").get_data(as_text=True)
    assert "ns-closed" in page and "Record the follow-up" not in page
    ledger = client.get("/ledger?kindergarten=K-HD").get_data(as_text=True)
    assert "rs-settled" in ledger
    client.post("/logout")
    login(client, "xuhui")
    assert client.get(f"/notices/{notice_id}").status_code == 404
    assert client.post(f"/notices/{notice_id}/follow-up", data=follow).status_code == 404


def test_overdue_notices_are_on_the_dashboard_and_the_kindergarten_page(  # type: ignore[no-untyped-def]
    client, app, world, tmp_path: Path
) -> None:
    login(client, "insp")
    notice_id = _issue(client, app, world, tmp_path)
    assert f"/notices/{notice_id}" not in client.get("/").get_data(as_text=True)  # not yet due
    with app.app_context():
        db.session.get(Notice, notice_id).deadline = date.today() - timedelta(days=1)
        db.session.commit()
    dashboard = client.get("/").get_data(as_text=True)
    assert f"/notices/{notice_id}" in dashboard and "K-HD" in dashboard
    kindergarten = client.get(f"/kindergartens/{world['hd']}").get_data(as_text=True)
    assert "ns-overdue" in kindergarten and 'id="owed"' in kindergarten
    ledger = client.get("/ledger").get_data(as_text=True)
    assert "rs-overdue" in ledger
    with app.app_context():
        amount = db.session.get(Finding, world["hd_finding"]).amount_due
    assert amount is not None and amount > Decimal("0")
    client.post("/logout")
    login(client, "xuhui")
    assert f"/notices/{notice_id}" not in client.get("/").get_data(as_text=True)

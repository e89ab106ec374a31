"""The import page with Excel: a sheet of one type, a whole workbook, cells named as Excel names
them, the .xlsx templates with their drop-down lists."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from feecheck.extensions import db
from feecheck.models import Charge, ImportBatch
from feecheck.services.record_types import RECORD_TYPES
from tests.web.test_imports import _batch_id, _login, _upload, app, users  # noqa: F401 (fixtures)

XLSX = Path(__file__).resolve().parent.parent / "data" / "xlsx"


def _charges_book() -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "收费记录"
    sheet.append(["2025年9月收费"])  # a title above the header
    sheet.append(["票据号", "园所代码", "幼儿编号", "收费项目", "金额", "收费期间起"])
    sheet["G2"], sheet["H2"], sheet["I2"] = "收费期间止", "缴费日期", "收款账户"
    september = [date(2025, 9, 1), date(2025, 9, 30), date(2025, 9, 1), "6222001"]
    sheet.append(["R1", "K001", "C001", "保教费", 750.5, *september])
    sheet.append(["R2", "K001", "C001", "保教费", "=1/0", *september])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.usefixtures("users")
def test_an_xlsx_upload_is_previewed_then_imported(client: FlaskClient) -> None:
    _login(client)
    batch_id = _batch_id(_upload(client, "charges", _charges_book(), name="九月.xlsx"))
    page = client.get(f"/imports/{batch_id}?lang=en").get_data(as_text=True)
    assert "收费记录!E4" in page and "never calculated" in page
    assert "Cell" in page and "xlsx" in page
    with client.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Charge)) == 0  # a preview
    response = client.post(f"/imports/{batch_id}/commit")
    committed = int(response.headers["Location"].rsplit("/", 1)[-1])
    with client.application.app_context():
        batch = db.session.get(ImportBatch, committed)
        assert batch is not None and (batch.status, batch.created) == ("committed", 1)
        amount = db.session.scalar(select(Charge.amount).where(Charge.receipt_no == "R1"))
        assert str(amount) == "750.50"
    report = client.get(f"/imports/{batch_id}/errors.csv").get_data(as_text=True)
    assert "收费记录!E4" in report


@pytest.mark.usefixtures("users")
def test_a_workbook_upload_lists_its_sheets(client: FlaskClient) -> None:
    _login(client, "haidian")
    content = (XLSX / "workbook.libreoffice.xlsx").read_bytes()
    batch_id = _batch_id(_upload(client, "workbook", content, name="all.xlsx"))
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "工作簿：所有以类型命名的工作表" in page
    assert "幼儿园（kindergartens）：3 行" in page
    # K003 is in 310104, outside the inspector's district: refused, as for CSV
    assert "幼儿园!C4" in page and "不在您的辖区 110108 内" in page


@pytest.mark.usefixtures("users")
def test_the_xlsx_templates(client: FlaskClient) -> None:
    _login(client)
    page = client.get("/imports/").get_data(as_text=True)
    assert "/imports/templates/workbook.xlsx" in page
    assert "/imports/templates/charges.xlsx" in page
    response = client.get("/imports/templates/workbook.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames[:8] == [t.sheet for t in RECORD_TYPES.values()]
    lists = [v.formula1 for v in book["幼儿园"].data_validations.dataValidation]
    assert any("公办" in formula for formula in lists)
    one = load_workbook(io.BytesIO(client.get("/imports/templates/funding.xlsx").data))
    assert one.sheetnames[0] == "财政经费"
    assert client.get("/imports/templates/nothing.xlsx").status_code == 404
    anonymous = client.application.test_client()
    assert "/login" in anonymous.get("/imports/templates/workbook.xlsx").headers["Location"]

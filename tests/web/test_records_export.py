"""The records list's downloads: Excel and CSV of one type, inside the user's region only."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient
from openpyxl import load_workbook

from feecheck.services.exporting import XLSX_MIMETYPE, header_row
from feecheck.services.record_types import RECORD_TYPES
from tests.web.conftest import login


def test_the_list_page_links_both_downloads(client: FlaskClient, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    page = client.get("/records/charges/").get_data(as_text=True)
    assert 'href="/records/charges/export.xlsx"' in page
    assert 'href="/records/charges/export.csv"' in page
    assert "下载（Excel）" in page and "下载（CSV）" in page


def test_excel_holds_the_users_region_only(client: FlaskClient, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")  # Haidian
    response = client.get("/records/charges/export.xlsx")
    assert response.status_code == 200 and response.mimetype == XLSX_MIMETYPE
    assert "attachment" in response.headers["Content-Disposition"]
    assert "charges-110108.xlsx" in response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["收费记录"]
    ws = book["收费记录"]
    assert [c.value for c in ws[1]] == header_row(RECORD_TYPES["charges"], "zh")
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    assert [(r[0], r[1]) for r in rows] == [("R1", "K-HD")]
    assert ws["E2"].number_format == "0.00" and ws["H2"].is_date
    client.post("/logout")
    login(client, "xuhui")
    book = load_workbook(io.BytesIO(client.get("/records/kindergartens/export.xlsx").data))
    assert [r[0].value for r in book["幼儿园"].iter_rows(min_row=2)] == ["K-XH"]


def test_csv_holds_the_users_region_only_in_the_pages_language(client: FlaskClient, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "xuhui")
    response = client.get("/records/children/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0] == header_row(RECORD_TYPES["children"], "zh")
    assert [(r[0], r[1]) for r in rows[1:]] == [("K-XH", "C1")]
    client.get("/records/children/?lang=en")
    english = client.get("/records/children/export.csv").data.decode("utf-8-sig")
    assert english.splitlines()[0] == ",".join(header_row(RECORD_TYPES["children"], "en"))


def test_downloads_need_a_login_and_a_known_type(client: FlaskClient, world) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/records/charges/export.xlsx")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client, "insp")
    assert client.get("/records/pets/export.xlsx").status_code == 404
    assert client.get("/records/charges/export.pdf").status_code == 404

"""The web app's pages for records, findings, kindergartens, the dashboard and the rules: every
route in each role against another region's records (404), CSRF, validation shown by the field,
stale versions, instant feedback, the findings workflow, and bounded queries."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, event, select

from feecheck import create_app
from feecheck.config import ROOT
from feecheck.extensions import db
from feecheck.models import Charge, Child, Finding, Kindergarten
from feecheck.services import editing
from feecheck.services.rules import cached
from tests.factories import make_kindergarten
from tests.web.conftest import PASSWORD, login


def other_region_urls(ids: dict[str, int]) -> list[tuple[str, str]]:
    xh, charge, child = ids["xh"], ids["xh_charge"], ids["xh_child"]
    return [
        ("GET", f"/kindergartens/{xh}"),
        ("POST", f"/kindergartens/{xh}/check"),
        ("GET", f"/records/kindergartens/{xh}"),
        ("GET", f"/records/kindergartens/{xh}/edit"),
        ("POST", f"/records/kindergartens/{xh}/edit"),
        ("GET", f"/records/charges/{charge}"),
        ("GET", f"/records/charges/{charge}/edit"),
        ("POST", f"/records/charges/{charge}/edit"),
        ("GET", f"/records/charges/{charge}/delete"),
        ("POST", f"/records/charges/{charge}/delete"),
        ("GET", f"/records/children/{child}"),
        ("GET", f"/records/funding/{ids['xh_funding']}/edit"),
        ("GET", f"/records/charges/?kindergarten={xh}"),
        ("GET", f"/records/charges/new?kindergarten={xh}"),
        ("GET", f"/findings/{ids['xh_finding']}"),
        ("POST", f"/findings/{ids['xh_finding']}"),
        ("GET", "/?region=310104"),
        ("GET", "/rules?region=310104"),
    ]


@pytest.mark.parametrize("name", ["insp", "sup", "adm"])
def test_every_route_answers_404_for_another_regions_record(client, world, name: str) -> None:  # type: ignore[no-untyped-def]
    login(client, name)
    for method, url in other_region_urls(world):
        response = client.open(url, method=method, data={"note": "x", "action": "acknowledge"})
        assert response.status_code == 404, (name, method, url)
    with client.application.app_context():
        charge = db.session.get(Charge, world["xh_charge"])
        assert charge is not None and charge.version == 1
        assert db.session.get(Finding, world["xh_finding"]).status == "open"


@pytest.mark.parametrize("name", ["insp", "sup", "adm"])
def test_every_page_of_ones_own_region_opens(client, world, name: str) -> None:  # type: ignore[no-untyped-def]
    login(client, name)
    hd = world["hd"]
    for url in (
        "/",
        "/kindergartens/",
        f"/kindergartens/{hd}",
        "/findings/",
        f"/findings/{world['hd_finding']}",
        "/rules",
        *(f"/records/{t}/?kindergarten={hd}" for t in editing.LIST_FIELDS),
        *(f"/records/{t}/new?kindergarten={hd}" for t in editing.LIST_FIELDS),
        f"/records/charges/{world['hd_charge']}",
        f"/records/charges/{world['hd_charge']}/edit",
        f"/records/charges/{world['hd_charge']}/delete",
        f"/records/kindergartens/{hd}/edit",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert "K-XH" not in page, url


def test_pages_need_login_and_unknown_types_are_404(client, world) -> None:  # type: ignore[no-untyped-def]
    for url in ("/", "/findings/", "/records/charges/", f"/kindergartens/{world['hd']}", "/rules"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    login(client, "insp")
    assert client.get("/records/receipts/").status_code == 404


@pytest.fixture
def csrf_client(connection: Connection, tmp_path: Path, world) -> FlaskClient:  # type: ignore[no-untyped-def]
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "DATABASE_BIND": connection,
            "DATABASE_SESSION_OPTIONS": {"join_transaction_mode": "create_savepoint"},
            "WTF_CSRF_ENABLED": True,
        }
    )
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    token = token or re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    response = client.post(
        "/login", data={"username": "insp", "password": PASSWORD, "csrf_token": token[1]}
    )
    assert response.status_code == 302
    return client


def test_every_form_refuses_a_post_without_the_csrf_token(csrf_client, world) -> None:  # type: ignore[no-untyped-def]
    hd, charge = world["hd"], world["hd_charge"]
    for url in (
        f"/records/charges/new?kindergarten={hd}",
        f"/records/charges/{charge}/edit",
        f"/records/charges/{charge}/delete",
        f"/kindergartens/{hd}/check",
        f"/findings/{world['hd_finding']}",
        "/findings/bulk",
    ):
        response = csrf_client.post(url, data={"amount": "1", "note": "x", "finding": "1"})
        assert response.status_code == 400, url
    with csrf_client.application.app_context():
        assert db.session.get(Charge, charge).version == 1
        assert db.session.get(Finding, world["hd_finding"]).status == "open"


CHARGE_FORM = {
    "receipt_no": "R-NEW",
    "kindergarten_code": "K-HD",
    "child_ref": "C1",
    "fee_item": "兴趣班",
    "amount": "600",
    "period_start": "2025-09-01",
    "period_end": "2025-09-30",
    "paid_on": "2025-09-05",
    "account": "6222000000000001",
}


def test_a_charge_with_a_prohibited_item_shows_its_finding_at_once(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    response = client.post(f"/records/charges/new?kindergarten={world['hd']}", data=CHARGE_FORM)
    assert response.status_code == 302
    assert re.search(r"/records/charges/\d+\?run=\d+", response.headers["Location"])
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "FEE-PROHIBITED-ITEM" in page
    assert "幼儿园收费管理暂行办法" in page  # the clause
    assert "600.00" in page
    with client.application.app_context():
        stored = db.session.scalar(select(Charge).where(Charge.receipt_no == "R-NEW"))
        assert stored.item_category == "interest_class" or stored.item_category != "care_education"


def test_validation_errors_are_shown_by_their_fields_and_nothing_is_saved(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    bad = {**CHARGE_FORM, "amount": "六百", "period_end": "2025-08-01"}
    response = client.post(f"/records/charges/new?kindergarten={world['hd']}", data=bad)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    amount = page[page.index('id="f-amount"') :]
    assert 'class="field-error"' in amount[:800] and "不是有效金额" in amount[:800]
    assert 'value="六百"' in page  # what was typed is kept
    with client.application.app_context():
        assert db.session.scalar(select(Charge).where(Charge.receipt_no == "R-NEW")) is None
    english = client.post(
        f"/records/charges/new?kindergarten={world['hd']}&lang=en", data=bad
    ).get_data(as_text=True)
    assert "not an amount in yuan" in english and "Receipt number" in english


def test_a_save_against_a_stale_version_is_refused_showing_the_other_values(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    url = f"/records/charges/{world['hd_charge']}/edit"
    form = client.get(url).get_data(as_text=True)
    assert 'name="version" type="hidden" value="1"' in form or 'value="1"' in form
    with client.application.app_context():  # someone else saves first
        s = db.session
        other = s.scalar(select(editing.User).where(editing.User.username == "sup"))
        row = editing.get_record(s, other, "charges", world["hd_charge"])
        cells = {**row.cells(), "amount": "999"}
        assert editing.save_record(
            s, other, "charges", cells, cached(ROOT / "rules").taxonomy, row.id, 1
        ).ok
        s.commit()
    mine = {**CHARGE_FORM, "receipt_no": "R1", "fee_item": "赞助费", "amount": "1", "version": "1"}
    page = client.post(url, data=mine).get_data(as_text=True)
    assert "已被他人修改" in page
    assert "999.00" in page  # the other person's value
    assert 'value="1"' in page and 'name="version"' in page  # mine kept, to send again
    with client.application.app_context():
        assert str(db.session.get(Charge, world["hd_charge"]).amount) == "999.00"


def test_delete_asks_first_and_is_refused_while_records_depend(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    child = world["hd_child"]
    page = client.get(f"/records/children/{child}/delete").get_data(as_text=True)
    assert "不能删除" in page or "cannot be deleted" in page
    response = client.post(f"/records/children/{child}/delete", data={"version": "1"})
    assert response.status_code == 302
    with client.application.app_context():
        assert db.session.get(Child, child) is not None
    charge = world["hd_charge"]
    response = client.post(f"/records/charges/{charge}/delete", data={"version": "1"})
    assert response.status_code == 302
    with client.application.app_context():
        assert db.session.get(Charge, charge) is None
        finding = db.session.get(Finding, world["hd_finding"])
        assert finding.status == "resolved"  # re-checked after the delete


def test_the_findings_workflow_from_the_pages(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    finding = world["hd_finding"]
    listed = client.get("/findings/?rule=FEE-PROHIBITED-ITEM").get_data(as_text=True)
    assert f'name="finding" value="{finding}"' in listed
    refused = client.post(f"/findings/{finding}", data={"action": "dismiss", "note": "no"})
    assert refused.status_code == 403
    no_note = client.post(f"/findings/{finding}", data={"action": "acknowledge", "note": ""})
    assert "请填写说明" in no_note.get_data(as_text=True)
    moved = client.post(
        "/findings/bulk",
        data={
            "finding": [str(finding)],
            "action": "acknowledge",
            "note": "visit",
            "back": "/findings/",
        },
    )
    assert moved.status_code == 302
    page = client.get(f"/findings/{finding}").get_data(as_text=True)
    assert "已确认" in page and "visit" in page and "insp" in page
    supervisor = login(client.application.test_client(), "sup")
    dismissed = supervisor.post(
        f"/findings/{finding}",
        data={"action": "dismiss", "note": "a donation with a receipt", "expected": "acknowledged"},
    )
    assert dismissed.status_code == 302
    with client.application.app_context():
        assert db.session.get(Finding, finding).status == "dismissed"


def test_run_check_from_a_kindergartens_page(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    hd = world["hd"]
    response = client.post(
        f"/kindergartens/{hd}/check", data={"period_from": "2025-09", "period_to": "2025-10"}
    )
    assert response.status_code == 302 and "/findings/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "FEE-PROHIBITED-ITEM" in page
    too_long = client.post(
        f"/kindergartens/{hd}/check",
        data={"period_from": "2010-01", "period_to": "2025-10"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "YYYY-MM" in too_long and "120" in too_long  # said on the kindergarten's page
    assert f"/kindergartens/{hd}/check" in too_long


def test_the_kindergarten_list_makes_the_same_few_queries_for_many(client, app, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "adm")
    counted: list[str] = []

    def count(*_args) -> None:  # type: ignore[no-untyped-def]
        counted.append("q")

    with app.app_context():
        for n in range(30):
            make_kindergarten(db.session, code=f"K-MANY-{n:02d}", region_code="110108")
        db.session.commit()
        engine = db.session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/kindergartens/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(counted) <= 8, len(counted)


def test_the_rules_page_shows_layers_and_flags_unverified_values(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    page = client.get("/rules?region=110108&lang=en").get_data(as_text=True)
    assert "FUNDING-FLOOR" in page and "inclusive_subsidy_per_child_year" in page
    assert "rules/regions/110000.yaml" in page
    assert "by grade" in page
    shanghai = login(client.application.test_client(), "xuhui").get("/rules?lang=en")
    page = shanghai.get_data(as_text=True)
    assert "rules/regions/310000.yaml" in page
    assert page.count("unverified: warnings only") >= 3  # flagged beside each value in force


def test_the_dashboard_counts_and_draws_without_scripts(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    page = client.get("/").get_data(as_text=True)
    assert "<svg" in page and "<script" not in page
    assert "FEE-PROHIBITED-ITEM" in page
    with client.application.app_context():
        assert db.session.scalar(select(Kindergarten.code).where(Kindergarten.id == world["hd"]))


def test_a_region_check_runs_as_a_job_inside_the_users_region(client, app, world) -> None:  # type: ignore[no-untyped-def]
    from feecheck.models import Job
    from feecheck.services import jobs
    from feecheck.web.jobs import runners

    app.extensions[runners.RUNNER] = jobs.InlineRunner(lambda: db.new_session(app))
    login(client, "insp")
    response = client.post(
        "/check", data={"region": "", "period_from": "2025-09", "period_to": "2025-10"}
    )
    assert response.status_code == 302 and "/jobs/" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2025-09" in page
    with app.app_context():
        job = db.session.scalars(select(Job).order_by(Job.id.desc())).first()
        assert (job.kind, job.status, job.params["region_code"]) == ("check", "done", "110108")
        assert job.result["findings"] >= 1
    other = client.post(
        "/check", data={"region": "310104", "period_from": "2025-09", "period_to": "2025-10"}
    )
    assert other.status_code == 404


@pytest.mark.parametrize("version", [None, "", "abc"])
def test_a_save_or_delete_that_does_not_say_its_version_is_refused(client, world, version) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    charge = world["hd_charge"]
    form = {**CHARGE_FORM, "receipt_no": "R1", "fee_item": "赞助费", "amount": "111"}
    if version is not None:
        form["version"] = version
    page = client.post(f"/records/charges/{charge}/edit", data=form).get_data(as_text=True)
    assert "nothing was saved" in page or "未保存" in page
    deleted = client.post(
        f"/records/charges/{charge}/delete", data={} if version is None else {"version": version}
    )
    assert deleted.status_code == 302
    with client.application.app_context():
        stored = db.session.get(Charge, charge)
        assert stored is not None and str(stored.amount) != "111.00" and stored.version == 1


def test_ids_no_database_can_hold_are_not_found(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "adm")
    for big in (2**63, 10**23):
        for method, url in (
            ("GET", f"/kindergartens/{big}"),
            ("GET", f"/findings/{big}"),
            ("GET", f"/records/charges/{big}"),
            ("POST", f"/records/charges/{big}/edit"),
            ("POST", f"/records/charges/{big}/delete"),
            ("POST", f"/kindergartens/{big}/check"),
            ("GET", f"/imports/{big}"),
            ("GET", f"/jobs/{big}"),
            ("GET", f"/findings/?kindergarten={big}"),
            ("GET", f"/records/charges/?kindergarten={big}"),
            ("GET", f"/records/charges/new?kindergarten={big}"),
        ):
            assert client.open(url, method=method).status_code == 404, (method, url)
    bulk = client.post(
        "/findings/bulk", data={"finding": [str(2**63)], "action": "acknowledge", "note": "x"}
    )
    assert bulk.status_code == 302


def test_odd_requests_get_plain_answers(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    cell = "<td>R1</td>"  # the receipt's cell (a bare "R1" may occur in a random CSRF token)
    assert cell not in client.get("/records/charges/?q=%25").get_data(as_text=True)
    assert cell not in client.get("/records/charges/?q=_").get_data(as_text=True)
    assert cell in client.get("/records/charges/?q=R1").get_data(as_text=True)
    unknown = client.get("/findings/?status=all&lang=en").get_data(as_text=True)
    assert "Unknown status all: all findings are shown." in unknown
    assert "FEE-PROHIBITED-ITEM" in unknown
    bulk = client.post(
        "/findings/bulk",
        data={"finding": [str(world["hd_finding"])], "action": "dismiss", "note": "x"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Only acknowledging is done for several findings at once" in bulk
    wrong_method = client.get("/logout")
    assert wrong_method.status_code == 405
    assert "does not take this kind of request" in wrong_method.get_data(as_text=True)


def test_a_delete_that_resolves_findings_lists_them(client, world) -> None:  # type: ignore[no-untyped-def]
    login(client, "insp")
    response = client.post(f"/records/charges/{world['hd_charge']}/delete", data={"version": "1"})
    assert response.status_code == 302
    assert "resolved_by=" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "FEE-PROHIBITED-ITEM" in page and "已消除" in page

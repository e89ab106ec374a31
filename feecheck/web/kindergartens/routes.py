"""Kindergartens: the list, a kindergarten's page (records, standards, funding by month,
findings over time) and its "run check" button."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from urllib.parse import quote

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from feecheck.domain.periods import Period
from feecheck.domain.reasons import Refused
from feecheck.extensions import db
from feecheck.pdf.documents import Inspector
from feecheck.services import dashboard, notices, reports
from feecheck.services import rules as rules_service
from feecheck.services.checking import CheckError, Scope, run_check
from feecheck.services.offices import office_for
from feecheck.services.pagination import page_number
from feecheck.services.queries import list_kindergartens
from feecheck.services.scope import get_kindergarten
from feecheck.web.charts import columns
from feecheck.web.records.forms import NoticeForm, RecheckForm
from feecheck.web.records.routes import reason

bp = Blueprint("kindergartens", __name__)
MAX_CHECK_MONTHS = 120  # one kindergarten: ten years take a few seconds; longer is a CLI job


@bp.route("/kindergartens/")
@login_required
def index() -> str:
    search = request.args.get("q", "").strip()
    page = list_kindergartens(
        db.session, current_user, search=search, page=page_number(request.args.get("page"))
    )
    return render_template("kindergartens/index.html", page=page, search=search)


@bp.route("/kindergartens/<int:kindergarten_id>")
@login_required
def show(kindergarten_id: int) -> str:
    as_of = date.today()
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    overview = dashboard.kindergarten_overview(
        db.session, current_user, kindergarten_id, ruleset, as_of
    )
    months = [m for m, _counts in overview.findings_by_month]
    findings_chart = columns(
        months,
        [
            (
                _("violations"),
                "violation",
                [c.get("violation", 0) for _m, c in overview.findings_by_month],
            ),
            (
                _("warnings"),
                "warning",
                [c.get("warning", 0) for _m, c in overview.findings_by_month],
            ),
        ],
        title=_("Open findings by month"),
    )
    funding_chart = None
    if overview.funding:
        floor = next((f.floor for f in overview.funding if f.floor is not None), None)
        funding_chart = columns(
            [str(f.period) for f in overview.funding],
            [(_("per child per year"), "bar", [f.per_child_year for f in overview.funding])],
            title=_("Public funding per child per year, by month"),
            threshold=floor,
            threshold_label=_("floor")
            if overview.funding[0].rule_id == "FUNDING-FLOOR"
            else _("subsidy standard"),
            stacked=False,
        )
    last = overview.month
    form = RecheckForm(period_from=str(last.shift(-2)), period_to=str(last))
    notice_form = NoticeForm(
        period_from=request.args.get("notice_from") or str(last.shift(-2)),
        period_to=request.args.get("notice_to") or str(last),
    )
    return render_template(
        "kindergartens/show.html",
        notice_form=notice_form,
        notices=notices.notices_of(db.session, current_user, kindergarten_id),
        today=as_of,
        office_days=office_for(overview.kindergarten.region_code, _offices()).deadline_days,
        overview=overview,
        kg=overview.kindergarten,
        findings_chart=findings_chart,
        funding_chart=funding_chart,
        form=form,
    )


def pdf_response(data: bytes, name: str) -> Response:
    return download(data, name, "application/pdf")


def download(data: bytes, name: str, mimetype: str) -> Response:
    """A file download; the file name may be Chinese (RFC 5987), with an ASCII fallback."""
    ascii_name = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name
    )
    return Response(
        data,
        mimetype=mimetype,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{quote(name, safe='')}"
        },
    )


def _offices() -> Path:
    return Path(current_app.config["OFFICES_FILE"])


@bp.route("/kindergartens/<int:kindergarten_id>/report.pdf")
@login_required
def report(kindergarten_id: int) -> Response:
    """The month's report (the month is checked first)."""
    kg = get_kindergarten(db.session, current_user, kindergarten_id)
    try:
        period = Period.parse(request.args.get("period", ""))
    except ValueError:
        flash(_("Give the month of the report, YYYY-MM."), "error")
        return redirect(url_for("kindergartens.show", kindergarten_id=kg.id))
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    try:
        _report, data = reports.kindergarten_pdf(
            db.session,
            current_user,
            ruleset,
            kg.code,
            period,
            reports.ReportOptions(date.today(), _offices()),
        )
    except Refused as exc:
        db.session.rollback()
        flash(reason(exc), "error")
        return redirect(url_for("kindergartens.show", kindergarten_id=kg.id))
    return pdf_response(data, f"{kg.code}-{period}.pdf")


@bp.route("/kindergartens/<int:kindergarten_id>/notice", methods=["POST"])
@login_required
def notice(kindergarten_id: int) -> Response:
    """Issue a numbered notice to correct for the open violations of the months."""
    kg = get_kindergarten(db.session, current_user, kindergarten_id)
    back = url_for("kindergartens.show", kindergarten_id=kg.id, _anchor="notices")
    form = NoticeForm()
    if not form.validate_on_submit():
        flash(_("The form has expired; send it again."), "error")
        return redirect(back)
    try:
        first = Period.parse(form.period_from.data or "")
        last = Period.parse(form.period_to.data or form.period_from.data or "")
    except ValueError:
        flash(_("Give two months YYYY-MM, the first one first."), "error")
        return redirect(back)
    signers = [
        Inspector((name or "").strip()[:50], (certificate or "").strip()[:50])
        for name, certificate in (
            (form.inspector1.data, form.certificate1.data),
            (form.inspector2.data, form.certificate2.data),
        )
        if (name or "").strip()
    ]
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    try:
        issued, _document = notices.issue_notice(
            db.session,
            current_user,
            ruleset,
            kg.code,
            first,
            last,
            date.today(),
            signers,
            _offices(),
        )
        db.session.commit()
    except Refused as exc:
        db.session.rollback()
        flash(reason(exc), "error")
        return redirect(back)
    flash(
        _(
            "Notice %(number)s issued; the kindergarten has until %(deadline)s.",
            number=issued.number,
            deadline=issued.deadline,
        ),
        "info",
    )
    return redirect(back)


@bp.route("/notices/<int:notice_id>.pdf")
@login_required
def notice_file(notice_id: int) -> Response:
    """A notice as it was issued, printed again."""
    issued = notices.get_notice(db.session, current_user, notice_id)
    return pdf_response(notices.notice_pdf(notices.document_of(issued)), f"{issued.number}.pdf")


@bp.route("/kindergartens/<int:kindergarten_id>/check", methods=["POST"])
@login_required
def check(kindergarten_id: int) -> Response:
    kg = get_kindergarten(db.session, current_user, kindergarten_id)
    form = RecheckForm()
    back = url_for("kindergartens.show", kindergarten_id=kg.id)
    if not form.validate_on_submit():
        flash(_("The form has expired; send it again."), "error")
        return redirect(back)
    try:
        first = Period.parse(form.period_from.data or "")
        last = Period.parse(form.period_to.data or "")
        if len(first.until(last)) > MAX_CHECK_MONTHS:
            raise ValueError("range")
    except ValueError:
        flash(_("Give two months YYYY-MM, at most 120 months apart, the first one first."), "error")
        return redirect(back)
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    try:
        outcome = run_check(
            db.session,
            ruleset,
            Scope(first, last, kindergarten_code=kg.code),
            date.today(),
            user=current_user,
        )
    except (Refused, CheckError) as exc:
        db.session.rollback()
        flash(reason(exc) if isinstance(exc, Refused) else str(exc), "error")
        return redirect(back)
    db.session.commit()
    flash(
        _(
            "Checked %(first)s–%(last)s: %(found)d findings (%(new)d new, %(resolved)d resolved).",
            first=first,
            last=last,
            found=len(outcome.findings),
            new=outcome.created,
            resolved=outcome.resolved,
        ),
        "info",
    )
    return redirect(
        url_for(
            "findings.index",
            kindergarten=kg.id,
            period_from=str(first),
            period_to=str(last),
            status="",
        )
    )

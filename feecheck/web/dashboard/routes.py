"""The region dashboard (the home page) and the rules page."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, StringField

from feecheck.domain.periods import Period
from feecheck.domain.reasons import Refused
from feecheck.domain.regions import validate_region_code
from feecheck.extensions import db
from feecheck.services import dashboard, jobs, rectification, reports
from feecheck.services import rules as rules_service
from feecheck.services.pagination import page_number
from feecheck.services.queries import regions_in_scope
from feecheck.services.scope import require_region
from feecheck.web.charts import bars, columns
from feecheck.web.jobs import runners
from feecheck.web.kindergartens.routes import pdf_response

bp = Blueprint("dashboard", __name__)


class RegionCheckForm(FlaskForm):
    """Check every kindergarten of a region for a range of months, as a job."""

    region = HiddenField()
    period_from = StringField(_l("From month"))
    period_to = StringField(_l("To month"))


@bp.route("/")
@login_required
def index() -> str | Response:
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    region = request.args.get("region") or None
    try:
        month = Period.parse(request.args["month"]) if request.args.get("month") else None
        view = dashboard.region_dashboard(
            db.session,
            current_user,
            ruleset,
            date.today(),
            region,
            month,
            page_number(request.args.get("page")),
        )
    except ValueError:
        flash(_("A region code has 6 digits, a month is YYYY-MM."), "error")
        return redirect(url_for("dashboard.index"))
    public = [f for f in view.funding.items if f.rule_id == "FUNDING-FLOOR"]
    floors = [f.floor for f in public if f.floor is not None]
    funding_chart = bars(
        [(f"{f.code} {f.name}", f.per_child_year) for f in public],
        threshold=max(set(floors), key=floors.count) if floors else None,
        threshold_label=_("floor"),
        title=_("Public funding per child per year, %(month)s", month=view.month),
        empty=_("No public kindergarten in this region."),
    )
    months_chart = columns(
        [m for m, _n in view.violations_by_month],
        [(_("violations"), "violation", [n for _m, n in view.violations_by_month])],
        title=_("Open violations by month"),
    )
    rules_chart = bars(
        view.violations_by_rule,
        title=_("Open violations by rule"),
        empty=_("No open violation."),
    )
    check_form = RegionCheckForm(
        region=view.region_code or "",
        period_from=str(view.month.shift(-2)),
        period_to=str(view.month),
    )
    return render_template(
        "dashboard/index.html",
        view=view,
        check_form=check_form,
        regions=regions_in_scope(db.session, current_user),
        funding_chart=funding_chart,
        months_chart=months_chart,
        rules_chart=rules_chart,
        overdue=rectification.overdue_notices(
            db.session, current_user, date.today(), view.region_code
        ),
    )


@bp.route("/check", methods=["POST"])
@login_required
def check() -> Response:
    """Check a region's months as a job (a region may hold thousands of kindergartens); the job's
    page follows it."""
    form = RegionCheckForm()
    if not form.validate_on_submit():
        flash(_("The form has expired; send it again."), "error")
        return redirect(url_for("dashboard.index"))
    region = form.region.data or current_user.region_code
    try:
        first = Period.parse(form.period_from.data or "")
        last = Period.parse(form.period_to.data or "")
        first.until(last)
        if region:
            region = validate_region_code(region)
    except ValueError:
        flash(
            _("Give two months YYYY-MM, the first one first, and a 6-digit region code."), "error"
        )
        return redirect(url_for("dashboard.index"))
    if region:
        require_region(current_user, region)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        job = jobs.start_check(
            db.session,
            current_user,
            runners.runner(app),
            period_from=str(first),
            period_to=str(last),
            as_of=date.today(),
            rules_dir=Path(app.config["RULES_DIR"]),
            region_code=region,
            workers=int(app.config["CHECK_WORKERS"]),
        )
    except Refused as exc:
        db.session.rollback()
        flash(exc.zh if str(get_locale()).startswith("zh") else exc.en, "error")
        return redirect(url_for("dashboard.index"))
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route("/report.pdf")
@login_required
def region_report() -> Response:
    """The region's monthly report (the region's month is checked first)."""
    region = request.args.get("region") or current_user.region_code
    try:
        period = Period.parse(request.args.get("period", ""))
        if not region:
            raise ValueError("region")
        region = validate_region_code(region)
    except ValueError:
        flash(_("Give the month of the report, YYYY-MM, and a region."), "error")
        return redirect(url_for("dashboard.index"))
    require_region(current_user, region)
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    options = reports.ReportOptions(date.today(), Path(current_app.config["OFFICES_FILE"]))
    try:
        _report, data = reports.region_pdf(
            db.session,
            current_user,
            ruleset,
            region,
            period,
            options,
            with_details=request.args.get("details") == "1",
        )
    except Refused as exc:
        db.session.rollback()
        flash(exc.zh if str(get_locale()).startswith("zh") else exc.en, "error")
        return redirect(url_for("dashboard.index"))
    return pdf_response(data, f"{region}-{period}.pdf")


@bp.route("/reports", methods=["POST"])
@login_required
def each_report() -> Response:
    """Every kindergarten's report of a region, zipped, as a job."""
    form = RegionCheckForm()
    region = request.form.get("region") or current_user.region_code
    try:
        period = Period.parse(request.form.get("period", ""))
        if not region:
            raise ValueError("region")
        region = validate_region_code(region)
    except ValueError:
        flash(_("Give the month of the report, YYYY-MM, and a region."), "error")
        return redirect(url_for("dashboard.index"))
    if not form.validate_on_submit():
        flash(_("The form has expired; send it again."), "error")
        return redirect(url_for("dashboard.index"))
    require_region(current_user, region)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    job = jobs.start_reports(
        db.session,
        current_user,
        runners.runner(app),
        region_code=region,
        period=str(period),
        generated_on=date.today(),
        rules_dir=Path(app.config["RULES_DIR"]),
        offices_file=Path(app.config["OFFICES_FILE"]),
        instance_path=Path(app.instance_path),
    )
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.route("/rules")
@login_required
def rules() -> str | Response:
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    region = request.args.get("region") or current_user.region_code
    try:
        day = date.fromisoformat(request.args["on"]) if request.args.get("on") else date.today()
        if region:
            region = validate_region_code(region)
            require_region(current_user, region)
    except ValueError:
        flash(_("Give a date YYYY-MM-DD and a 6-digit region code."), "error")
        return redirect(url_for("dashboard.rules"))
    lines = rules_service.rules_in_force(ruleset, day, region)
    return render_template(
        "dashboard/rules.html",
        lines=lines,
        region=region,
        day=day,
        regions=regions_in_scope(db.session, current_user),
        unverified=rules_service.unverified_values(ruleset),
        ruleset=ruleset,
    )

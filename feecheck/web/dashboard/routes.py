"""The region dashboard (the home page) and the rules page."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from feecheck.domain.regions import validate_region_code
from feecheck.extensions import db
from feecheck.services import dashboard
from feecheck.services import rules as rules_service
from feecheck.services.queries import regions_in_scope
from feecheck.services.scope import require_region
from feecheck.web.charts import bars, columns

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@login_required
def index() -> str | Response:
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    region = request.args.get("region") or None
    try:
        view = dashboard.region_dashboard(db.session, current_user, ruleset, date.today(), region)
    except ValueError:
        flash(_("A region code has 6 digits."), "error")
        return redirect(url_for("dashboard.index"))
    funding_chart = bars(
        [(f"{f.code} {f.name}", f.per_child_year) for f in view.funding],
        threshold=next((f.floor for f in view.funding if f.floor is not None), None),
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
    return render_template(
        "dashboard/index.html",
        view=view,
        regions=regions_in_scope(db.session, current_user),
        funding_chart=funding_chart,
        months_chart=months_chart,
        rules_chart=rules_chart,
        below=[f for f in view.funding if f.below],
    )


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

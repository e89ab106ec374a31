"""Findings: the list with filters and counts (bulk acknowledge), a finding's page with its
explanation, citation, records and history, and the workflow moves (services.workflow)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, SelectChoice, SelectField, TextAreaField

from feecheck.domain.categories import FindingStatus, Severity
from feecheck.domain.reasons import Refused
from feecheck.extensions import db
from feecheck.services import rules as rules_service
from feecheck.services import workflow
from feecheck.services.locks import Busy
from feecheck.services.pagination import page_number
from feecheck.services.queries import kindergarten_choices, regions_in_scope
from feecheck.services.scope import Forbidden
from feecheck.web.access import id_arg, id_values
from feecheck.web.records.routes import reason

bp = Blueprint("findings", __name__, url_prefix="/findings")

ACTION_LABELS = {
    "acknowledge": _l("Acknowledge"),
    "rectify": _l("Mark rectified"),
    "dismiss": _l("Dismiss"),
    "reopen": _l("Reopen"),
}


class MoveForm(FlaskForm):
    action = HiddenField()
    expected = HiddenField()
    note = TextAreaField(_l("Note (why)"))


class BulkForm(FlaskForm):
    action = SelectField(
        _l("Action"),
        choices=[SelectChoice("acknowledge", _l("Acknowledge"))],
        default="acknowledge",
    )
    note = TextAreaField(_l("Note (why)"))


STATUSES = {"live", "", *(s.value for s in FindingStatus)}


def _filters() -> workflow.FindingFilters:
    args = request.args
    status = args.get("status", "live")
    if status not in STATUSES:
        flash(_("Unknown status %(status)s: all findings are shown.", status=status), "error")
        status = ""
    return workflow.FindingFilters(
        region_code=args.get("region") or None,
        kindergarten_id=id_arg("kindergarten"),
        rule_id=args.get("rule") or None,
        severity=args.get("severity") or None,
        period_from=args.get("period_from") or None,
        period_to=args.get("period_to") or None,
        status=status or None,
        resolved_by=id_arg("resolved_by"),
    )


@bp.route("/")
@login_required
def index() -> str | Response:
    filters = _filters()
    try:
        found = workflow.list_findings(
            db.session, current_user, filters, page_number(request.args.get("page"))
        )
    except ValueError:  # a month or region code that is not one
        flash(_("A filter is not valid (months are YYYY-MM, regions 6 digits)."), "error")
        return redirect(url_for("findings.index"))
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    return render_template(
        "findings/list.html",
        found=found,
        filters=filters,
        rules=sorted(ruleset.rules),
        regions=regions_in_scope(db.session, current_user),
        kindergartens=kindergarten_choices(db.session, current_user),
        statuses=[s.value for s in FindingStatus],
        severities=[s.value for s in Severity],
        bulk=BulkForm(),
    )


@bp.route("/bulk", methods=["POST"])
@login_required
def bulk() -> Response:
    form = BulkForm()
    back = request.form.get("back") or url_for("findings.index")
    if not back.startswith("/findings"):
        back = url_for("findings.index")
    if request.form.get("action", "acknowledge") != "acknowledge":
        flash(
            _(
                "Only acknowledging is done for several findings at once; open a finding to "
                "move it otherwise."
            ),
            "error",
        )
        return redirect(back)
    if not form.validate_on_submit():
        flash(_("The form has expired; send it again."), "error")
        return redirect(back)
    ids = id_values(request.form.getlist("finding"))
    if not ids:
        flash(_("Tick the findings to acknowledge first."), "error")
        return redirect(back)
    try:
        moved, skipped = workflow.bulk(
            db.session, current_user, ids, form.action.data or "", form.note.data or ""
        )
    except (Refused, Forbidden) as exc:
        db.session.rollback()
        flash(reason(exc) if isinstance(exc, Refused) else _("You may not do this."), "error")
        return redirect(back)
    db.session.commit()
    flash(
        _(
            "%(moved)d findings acknowledged, %(skipped)d skipped (not open).",
            moved=moved,
            skipped=skipped,
        ),
        "info",
    )
    return redirect(back)


@bp.route("/<int:finding_id>", methods=["GET", "POST"])
@login_required
def show(finding_id: int) -> str | Response:
    form = MoveForm()
    if form.validate_on_submit():
        try:
            workflow.move(
                db.session,
                current_user,
                finding_id,
                form.action.data or "",
                form.note.data or "",
                expected_status=form.expected.data or None,
            )
        except (workflow.Conflict, workflow.MoveRefused, Busy) as exc:
            db.session.rollback()
            flash(reason(exc), "error")
        else:
            db.session.commit()
            flash(_("Saved."), "info")
            return redirect(url_for("findings.show", finding_id=finding_id))
    detail = workflow.detail(db.session, current_user, finding_id)
    ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    return render_template(
        "findings/detail.html",
        detail=detail,
        finding=detail.finding,
        rule=ruleset.rules.get(detail.finding.rule_id),
        actions=workflow.actions_for(current_user, detail.finding),
        action_labels=ACTION_LABELS,
        form=form,
    )

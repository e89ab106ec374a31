from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from feecheck.extensions import db
from feecheck.services.queries import list_kindergartens

bp = Blueprint("kindergartens", __name__)


@bp.route("/")
@login_required
def index() -> str:
    search = request.args.get("q", "").strip()
    rows = list_kindergartens(db.session, current_user, search=search)
    return render_template("kindergartens/index.html", rows=rows, search=search)

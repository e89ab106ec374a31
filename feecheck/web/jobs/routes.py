"""Jobs: a page and a JSON status per job, polled by the pages that start long work."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

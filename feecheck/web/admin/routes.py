"""Administration: users (create, deactivate, reset password, role and region)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

"""Words the pages show for codes (severities, statuses, layers…), through the translation layer,
and the template helpers that use them."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from feecheck.services import rules as rules_service

SEVERITY = {"violation": _l("violation"), "warning": _l("warning"), "info": _l("info")}
STATUS = {
    "open": _l("open"),
    "acknowledged": _l("acknowledged"),
    "rectified": _l("rectified"),
    "dismissed": _l("dismissed"),
    "resolved": _l("resolved"),
}
LAYER = {
    "national": _l("national"),
    "province": _l("province"),
    "city": _l("city"),
    "district": _l("district"),
}
AUDIT_ACTION = {
    "create": _l("created"),
    "update": _l("changed"),
    "delete": _l("deleted"),
    "import": _l("imported"),
}
CHECK_NOTES = {
    "found": _l("found by the check"),
    "found again": _l("found again by the check"),
    "no longer found": _l("no longer found by the check"),
}
PARAMETER_FLAGS = {
    "unverified: warnings only": _l("unverified: warnings only"),
    "feecheck default, not law": _l("feecheck default, not law"),
}


def chinese() -> bool:
    return str(get_locale()).startswith("zh")


def rule_status(text: str) -> str:
    if text == "active":
        return str(_l("active here"))
    if text == "in force":
        return str(_l("in force"))
    if text.startswith("from "):
        return str(_l("in force from %(day)s", day=text[5:]))
    if text.startswith("skipped here"):
        return str(_l("not applied here (no local value)"))
    return text


def parameter_flag(flag: str) -> str:
    if flag in PARAMETER_FLAGS:
        return str(PARAMETER_FLAGS[flag])
    if flag.startswith("severity "):
        return str(_l("in principle: warnings"))
    return flag


def parameter_value(value: Any) -> str:
    """A stored parameter value as text: lists joined, tables by grade as 'model 650.00, …'."""
    if isinstance(value, list | tuple):
        return (
            "、".join(parameter_value(v) for v in value)
            if chinese()
            else ", ".join(parameter_value(v) for v in value)
        )
    if isinstance(value, dict):
        return ", ".join(f"{k} {parameter_value(v)}" for k, v in value.items())
    return str(value)


def audit_value(value: Any) -> str:
    """A value of the audit log as a person reads it: lists joined, nothing as a dash."""
    if value is None or value == []:
        return "—"
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def rule_title(rule_id: str) -> str:
    if "ruleset" not in g:  # once per request: the freshness check stats every rules file
        g.ruleset = rules_service.cached(current_app.config["RULES_DIR"])
    ruleset = g.ruleset
    rule = ruleset.rules.get(rule_id)
    if rule is None:
        return ""
    return rule.title.get("zh" if chinese() else "en", "")


def init_app(app: Flask) -> None:
    @app.context_processor
    def label_helpers() -> dict[str, Any]:
        return {
            "chinese_ui": chinese,
            "severity_label": lambda code: SEVERITY.get(code, code),
            "status_label": lambda code: STATUS.get(code, code),
            "layer_label": lambda code: LAYER.get(code, code),
            "audit_action": lambda code: AUDIT_ACTION.get(code, code),
            "event_note": lambda note: CHECK_NOTES.get(note, note) if note else "",
            "rule_status": rule_status,
            "parameter_flag": parameter_flag,
            "rule_title": rule_title,
            "parameter_value": parameter_value,
            "audit_value": audit_value,
        }

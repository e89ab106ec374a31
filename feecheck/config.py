"""Configuration from the environment (FEECHECK_*), with safe defaults."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-not-secret"


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says what to set."""


def defaults(instance_path: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": os.environ.get(
            "FEECHECK_DATABASE_URL", f"sqlite:///{instance_path / 'feecheck.db'}"
        ),
        "SECRET_KEY": os.environ.get("FEECHECK_SECRET_KEY") or _instance_secret(instance_path),
        "RULES_DIR": Path(os.environ.get("FEECHECK_RULES_DIR", ROOT / "rules")),
        "MAX_CONTENT_LENGTH": int(os.environ.get("FEECHECK_MAX_UPLOAD_MB", "50")) * 1024 * 1024,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
        "LANGUAGES": ["zh_CN", "en"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
    }


def _instance_secret(instance_path: Path) -> str | None:
    secret_file = instance_path / "secret_key"
    return secret_file.read_text().strip() if secret_file.exists() else None


def ensure_instance_secret(instance_path: Path) -> Path:
    """Write a random secret key into the instance folder (used by `feecheck quickstart`)."""
    instance_path.mkdir(parents=True, exist_ok=True)
    secret_file = instance_path / "secret_key"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_hex(32))
        secret_file.chmod(0o600)
    return secret_file


def check_secret(config: dict[str, Any], debug: bool) -> None:
    """Refuse to serve without a real secret key, except in debug or testing."""
    if config.get("TESTING") or debug:
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = DEV_SECRET
        return
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEV_SECRET:
        raise ConfigError(
            "FEECHECK_SECRET_KEY is not set: set it in the environment "
            "(or run `feecheck quickstart`, which writes one into the instance folder)."
        )

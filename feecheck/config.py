"""Configuration from the environment (FEECHECK_*), with safe defaults."""

from __future__ import annotations

import math
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET = "dev-only-not-secret"


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the message says what to set."""


def defaults(instance_path: Path) -> dict[str, Any]:
    secure = _flag("FEECHECK_SECURE_COOKIES")
    return {
        "DATABASE_URL": os.environ.get(
            "FEECHECK_DATABASE_URL", f"sqlite:///{instance_path / 'feecheck.db'}"
        ),
        "SECRET_KEY": os.environ.get("FEECHECK_SECRET_KEY") or _instance_secret(instance_path),
        "RULES_DIR": Path(os.environ.get("FEECHECK_RULES_DIR", ROOT / "rules")),
        # issuing offices (name, notice prefix, deadline) by region: services/offices.py
        "OFFICES_FILE": Path(os.environ.get("FEECHECK_OFFICES") or instance_path / "offices.yaml"),
        "MAX_CONTENT_LENGTH": _megabytes("FEECHECK_MAX_UPLOAD_MB", "50"),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
        "LANGUAGES": ["zh_CN", "en"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,  # and HSTS: behind HTTPS, set FEECHECK_SECURE_COOKIES=1
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_number("FEECHECK_SESSION_HOURS", "8")),
        "RATELIMIT_STORAGE_URI": os.environ.get("FEECHECK_RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_LIMIT_PER_USER": "5 per minute",  # wrong passwords for one user name
        "LOGIN_LIMIT_PER_ADDRESS": "20 per minute",  # wrong passwords from one address
        "WTF_CSRF_TIME_LIMIT": None,
        # Long work (services/jobs.py): "thread" runs it in the web process; "rq" queues it on
        # Redis for `feecheck worker` processes (several web workers, or restarts mid-job).
        "JOBS_RUNNER": _choice("FEECHECK_JOBS_RUNNER", ("thread", "rq"), "thread"),
        "JOBS_REDIS_URL": os.environ.get("FEECHECK_JOBS_REDIS_URL", "redis://127.0.0.1:6379/0"),
        # Processes a check (CLI, check jobs) spreads its kindergarten batches over
        # (services/check_workers.py); 1 checks in the calling process, in one transaction.
        "CHECK_WORKERS": int(_number("FEECHECK_CHECK_WORKERS", "1")),
    }


def _choice(name: str, choices: tuple[str, ...], default: str) -> str:
    text = os.environ.get(name, "").strip().lower() or default
    if text not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {text!r}")
    return text


def _number(name: str, default: str) -> float:
    text = os.environ.get(name, default).strip()
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {text!r}") from None
    if not math.isfinite(value) or value > 1_000_000:
        raise ConfigError(f"{name} must be a number up to 1000000, not {text!r}")
    if value <= 0:
        raise ConfigError(f"{name} must be more than 0, not {text!r}")
    return value


def _megabytes(name: str, default: str) -> int:
    return int(_number(name, default) * 1024 * 1024)


def _flag(name: str) -> bool:
    text = os.environ.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name} must be 1/true/yes or 0/false/no, not {text!r}")


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

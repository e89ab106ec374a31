"""`feecheck imports`."""

from __future__ import annotations

from typing import Any

COMMANDS: list[Any] = []

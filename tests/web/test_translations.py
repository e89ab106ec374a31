"""Every user-facing string has a Chinese translation, and the compiled catalogue is current."""

from __future__ import annotations

import subprocess
import sys

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from feecheck.config import ROOT

CATALOG = ROOT / "translations" / "zh" / "LC_MESSAGES"


def test_every_message_is_translated_and_compiled(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "--no-location",
            "-o",
            str(pot),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    with pot.open("rb") as f:
        wanted = {_key(m.id) for m in read_po(f) if m.id}
    with (CATALOG / "messages.po").open("rb") as f:
        po = {_key(m.id): _key(m.string) for m in read_po(f) if m.id}
    with (CATALOG / "messages.mo").open("rb") as f:
        mo = {_key(m.id): _key(m.string) for m in read_mo(f) if m.id}
    untranslated = sorted(str(m) for m in wanted if not _translated(po.get(m)))
    assert untranslated == [], "run pybabel update/compile (README) and translate"
    assert {k: v for k, v in po.items() if k in wanted} == {
        k: v for k, v in mo.items() if k in wanted
    }


def _key(value: object) -> object:
    """Plural messages (ngettext) come as lists or tuples of forms: compare them as tuples."""
    return tuple(value) if isinstance(value, list | tuple) else value


def _translated(value: object) -> bool:
    if isinstance(value, tuple):
        return bool(value) and all(value)  # every plural form
    return bool(value)

"""One bilingual reason type: what is wrong, in Chinese and English, and where.

`Problem` is a reason located in a row of a file or a form (its line, 0 when it is not known yet,
and its column); `Refused` is the exception that carries a reason (a cell, a file, a check that
cannot be accepted). Every face shows `text`: Chinese first, then English.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any


def bilingual(en: str, zh: str = "") -> str:
    return f"{zh} / {en}" if zh else en


@dataclass(frozen=True)
class Problem:
    """What is wrong where: a line (1 = a file's header; 0 = not located yet), a column, why."""

    line: int
    column: str
    reason: str  # English
    reason_zh: str = ""
    where: str = ""  # the cell as a spreadsheet names it (收费记录!D17), when read from one

    @property
    def text(self) -> str:
        return bilingual(self.reason, self.reason_zh)

    def at(
        self, line: int | None = None, column: str | None = None, where: str | None = None
    ) -> Problem:
        """The same reason, located (a row's line, the column as its file writes it)."""
        return replace(
            self,
            line=self.line if line is None else line,
            column=self.column if column is None else column,
            where=self.where if where is None else where,
        )

    def as_dict(self) -> dict[str, Any]:
        located = {
            "line": self.line,
            "column": self.column,
            "reason": self.reason,
            "reason_zh": self.reason_zh,
        }
        if self.where:
            located["where"] = self.where
        return located


class Refused(ValueError):
    """Something cannot be accepted; `en` and `zh` say why (`text`: both, Chinese first)."""

    def __init__(self, en: str, zh: str = "") -> None:
        super().__init__(en)
        self.en = en
        self.zh = zh

    @property
    def text(self) -> str:
        return bilingual(self.en, self.zh)

    def problem(self, column: str, line: int = 0) -> Problem:
        return Problem(line, column, self.en, self.zh)

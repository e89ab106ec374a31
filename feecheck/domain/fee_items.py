"""Fee-item taxonomy: receipt text -> a fee-item category (data in rules/fee_items.yaml)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

UNCLASSIFIED = "unclassified"
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def normalise_item(text: str) -> str:
    """Full-width to half-width, lower case, spaces and punctuation dropped."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text)).lower()


@dataclass(frozen=True)
class ItemCategory:
    code: str
    name_zh: str
    name_en: str
    allowed: bool
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    synonyms: tuple[tuple[str, ...], ...] = ()  # groups of names for one and the same item


@dataclass
class FeeItemTaxonomy:
    categories: dict[str, ItemCategory]
    _aliases: dict[str, str] = field(init=False, default_factory=dict)
    _keywords: list[tuple[str, str]] = field(init=False, default_factory=list)
    _same: dict[str, str] = field(init=False, default_factory=dict)  # name -> its group's key

    def __post_init__(self) -> None:
        for category in self.categories.values():
            for alias in (category.name_zh, *category.aliases):
                self._aliases.setdefault(normalise_item(alias), category.code)
            self._keywords.extend((normalise_item(k), category.code) for k in category.keywords)
            for group in category.synonyms:
                key = normalise_item(group[0])
                for name in group:
                    self._same.setdefault(normalise_item(name), key)
        # Longer keywords first, so that 幼小衔接 wins over a shorter generic keyword.
        self._keywords.sort(key=lambda pair: -len(pair[0]))

    def classify(self, fee_item: str) -> str:
        """Exact alias first, then the longest keyword contained in the name; else unclassified."""
        key = normalise_item(fee_item)
        if key in self._aliases:
            return self._aliases[key]
        for keyword, code in self._keywords:
            if keyword and keyword in key:
                return code
        return UNCLASSIFIED

    def item_key(self, fee_item: str) -> str:
        """What makes two fee items one item: the same text once normalised, or names of one
        synonym group (保教费 = 保育教育费). Class streams (保教费（国际班）, 保教费（成长班）) and
        different items of one category (伙食费, 点心费) have different keys."""
        key = normalise_item(fee_item)
        return self._same.get(key, key)

    def alias_conflicts(self) -> list[tuple[str, str, str]]:
        """Aliases that normalise to the same key in two categories: (alias, first, second)."""
        seen: dict[str, str] = {}
        conflicts = []
        for category in self.categories.values():
            for alias in {normalise_item(a) for a in (category.name_zh, *category.aliases)}:
                if alias in seen and seen[alias] != category.code:
                    conflicts.append((alias, seen[alias], category.code))
                seen.setdefault(alias, category.code)
        return conflicts

    def is_allowed(self, code: str) -> bool:
        category = self.categories.get(code)
        return bool(category and category.allowed)

    def name_zh(self, code: str) -> str:
        category = self.categories.get(code)
        return category.name_zh if category else "未归类"

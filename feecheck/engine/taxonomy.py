"""Load the fee-item taxonomy from rules/fee_items.yaml."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from feecheck.domain.fee_items import FeeItemTaxonomy, ItemCategory


@lru_cache(maxsize=8)
def load_taxonomy(rules_dir: Path) -> FeeItemTaxonomy:
    data = yaml.safe_load((Path(rules_dir) / "fee_items.yaml").read_text(encoding="utf-8"))
    categories = {
        code: ItemCategory(
            code=code,
            name_zh=spec["zh"],
            name_en=spec["en"],
            allowed=bool(spec["allowed"]),
            aliases=tuple(spec.get("aliases", ())),
            keywords=tuple(spec.get("keywords", ())),
            synonyms=tuple(tuple(group) for group in spec.get("synonyms", ())),
        )
        for code, spec in data["categories"].items()
    }
    return FeeItemTaxonomy(categories)

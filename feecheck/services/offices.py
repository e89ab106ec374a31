"""Issuing offices: who signs a region's reports and notices, and how its notices are numbered.

Offices are configuration, not law: a YAML file (`FEECHECK_OFFICES`, by default
`instance/offices.yaml`) maps a region code (a district, city or province) to the office's name,
its notice prefix and the days a kindergarten has to correct:

    "110108": {name: 北京市海淀区教育委员会, prefix: 海教收整, deadline_days: 15}

The deepest region that lists an office wins (district, then city, then province). A region with
none gets a neutral name and the prefix 教收整, and the reports say the office is not configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from feecheck.domain.reasons import Refused
from feecheck.domain.regions import overlay_chain, validate_region_code

DEFAULT_PREFIX = "教收整"
DEFAULT_DEADLINE_DAYS = 15
MAX_DEADLINE_DAYS = 180

# The demo's districts, written to the instance folder by `feecheck demo` when it has no file yet.
DEMO_OFFICES = {
    "110108": {"name": "北京市海淀区教育委员会", "prefix": "海教收整", "deadline_days": 15},
    "310104": {"name": "上海市徐汇区教育局", "prefix": "徐教收整", "deadline_days": 15},
    "370102": {"name": "济南市历下区教育和体育局", "prefix": "历教收整", "deadline_days": 15},
    "370705": {"name": "潍坊市奎文区教育和体育局", "prefix": "奎教收整", "deadline_days": 15},
    "340202": {"name": "芜湖市镜湖区教育局", "prefix": "镜教收整", "deadline_days": 15},
}


class OfficesError(Refused):
    """The offices file cannot be used; the message names the file, the entry and the reason."""


@dataclass(frozen=True)
class Office:
    region_code: str | None  # the region the entry is for (None: not configured)
    name: str
    prefix: str
    deadline_days: int

    @property
    def configured(self) -> bool:
        return self.region_code is not None


def load_offices(path: Path | None) -> dict[str, Office]:
    """The offices of a file; an absent file is no offices. A bad entry is refused, saying where."""
    if path is None or not Path(path).exists():
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise OfficesError(
            f"{path}: not valid YAML: {exc}", f"{path}：不是有效的 YAML：{exc}"
        ) from exc
    if not isinstance(data, dict):
        raise OfficesError(
            f"{path}: expected region codes as keys", f"{path}：应以行政区划代码为键"
        )
    offices: dict[str, Office] = {}
    for key, entry in data.items():
        code = str(key)
        where = f"{path}: {code}"
        try:
            validate_region_code(code)
        except ValueError as exc:
            raise OfficesError(
                f"{where}: not a 6-digit region code", f"{where}：不是 6 位行政区划代码"
            ) from exc
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("prefix"):
            raise OfficesError(
                f"{where}: give name and prefix (and deadline_days)",
                f"{where}：请填写 name（发文机关）和 prefix（文号前缀），可选 deadline_days",
            )
        days = entry.get("deadline_days", DEFAULT_DEADLINE_DAYS)
        if not isinstance(days, int) or not 1 <= days <= MAX_DEADLINE_DAYS:
            raise OfficesError(
                f"{where}: deadline_days must be a whole number of days, 1..{MAX_DEADLINE_DAYS}",
                f"{where}：deadline_days 须为 1 至 {MAX_DEADLINE_DAYS} 的整数天数",
            )
        offices[code] = Office(code, str(entry["name"])[:200], str(entry["prefix"])[:40], days)
    return offices


def office_for(region_code: str, path: Path | None) -> Office:
    """The office of a region: the deepest configured one (district, city, province)."""
    offices = load_offices(path)
    for code in reversed(overlay_chain(region_code)):
        if code in offices:
            return offices[code]
    return Office(None, f"{region_code} 教育行政部门", DEFAULT_PREFIX, DEFAULT_DEADLINE_DAYS)


def write_demo_offices(path: Path) -> bool:
    """Write the demo's offices when the file does not exist yet; True when written."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Issuing offices by region code (README: Reports and notices).\n"
    path.write_text(
        header + yaml.safe_dump(DEMO_OFFICES, allow_unicode=True, sort_keys=True),
        encoding="utf-8",
    )
    return True

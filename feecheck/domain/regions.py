"""Six-digit administrative division codes and the layers they belong to."""

from __future__ import annotations

import re

_CODE = re.compile(r"^\d{6}$")


# The province-level divisions of GB/T 2260: a region code starts with one of them.
PROVINCES = frozenset(
    {
        *("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36"),
        *("37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62"),
        *("63", "64", "65", "71", "81", "82"),
    }
)


def validate_region_code(code: str) -> str:
    if not _CODE.match(code or "") or code[:2] not in PROVINCES:
        raise ValueError(f"not a 6-digit region code: {code!r}")
    return code


def province_of(code: str) -> str:
    return code[:2] + "0000"


def city_of(code: str) -> str:
    return code[:4] + "00"


def overlay_chain(code: str) -> list[str]:
    """The overlay codes that apply to a district, broadest first, without repeats."""
    chain: list[str] = []
    for layer_code in (province_of(code), city_of(code), code):
        if layer_code not in chain:
            chain.append(layer_code)
    return chain


# Prefecture-level cities without districts (不设区的地级市): their kindergartens' region code is
# the city's own (东莞 441900, 中山 442000, 儋州 460400, 嘉峪关 620200).
CITIES_WITHOUT_DISTRICTS = frozenset({"441900", "442000", "460400", "620200"})


def is_district_level(code: str) -> bool:
    """True for a code a kindergarten may carry: a district, or a city without districts."""
    return layer_name(code) == "district" or code in CITIES_WITHOUT_DISTRICTS


def layer_name(code: str) -> str:
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "district"


def scope_prefix(code: str) -> str:
    """The prefix every district code inside this region starts with (province 2, city 4 digits)."""
    return code[: {"province": 2, "city": 4, "district": 6}[layer_name(code)]]


def within(district_code: str, region_code: str | None) -> bool:
    """True when a district lies inside a region; None means the whole country."""
    return region_code is None or district_code.startswith(scope_prefix(region_code))

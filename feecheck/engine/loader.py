"""Load rules/ into a Ruleset, linting as it goes: a broken rules folder never half-applies.

Every problem is collected as `FILE:LINE: message`; load_ruleset raises RulesError with all of
them, so `feecheck rules lint` can show every problem at once.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from feecheck.domain.categories import Category, Grade, Severity
from feecheck.domain.regions import layer_name, overlay_chain
from feecheck.engine.evaluators import EVALUATORS
from feecheck.engine.specs import (
    Citation,
    DatedValue,
    GradeTable,
    Overlay,
    ParamDef,
    Ruleset,
    RuleSpec,
)
from feecheck.engine.taxonomy import load_taxonomy

PARAM_TYPES = {"decimal", "integer", "boolean", "enum", "list", "map", "text"}
BOUNDS = {"floor", "cap", "order", "true_stricter", "false_stricter", "superset", "none"}
CATEGORIES = set(Category.values())
SEVERITIES = set(Severity.values())
GRADES = set(Grade.values())
JUDGED_ON = {"month", "period_charged"}


class RulesError(Exception):
    """rules/ is broken; `problems` lists every `FILE:LINE: message`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class LineDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line it started on."""

    line = 0
    key_lines: dict[str, int]


class _Loader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    mapping = LineDict(loader.construct_mapping(node, deep=True))
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {str(key.value): key.start_mark.line + 1 for key, _value in node.value}
    return mapping


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class _Problems:
    items: list[str]

    def add(self, source: str, line: int, message: str) -> None:
        self.items.append(f"{source}:{line}: {message}")


def _line(node: Any, key: str | None = None) -> int:
    """The line of a mapping, or of one of its keys."""
    if key is not None and isinstance(node, LineDict):
        return node.key_lines.get(key, node.line)
    return getattr(node, "line", 0)


def ruleset_hash(rules_dir: Path) -> str:
    """sha256 over every rule, overlay and taxonomy file (not the cases): the ruleset's identity."""
    digest = hashlib.sha256()
    for path in sorted(_data_files(rules_dir)):
        digest.update(str(path.relative_to(rules_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _data_files(rules_dir: Path) -> Iterable[Path]:
    yield rules_dir / "fee_items.yaml"
    yield from (rules_dir / "national").glob("*.yaml")
    yield from (rules_dir / "regions").glob("*.yaml")


def load_ruleset(rules_dir: Path) -> Ruleset:
    rules_dir = Path(rules_dir)
    problems = _Problems([])
    taxonomy = load_taxonomy(rules_dir)
    for alias, first, second in taxonomy.alias_conflicts():
        problems.add("rules/fee_items.yaml", 0, f"alias {alias!r} maps to {first} and {second}")

    params: dict[str, ParamDef] = {}
    raw_rules: list[tuple[str, LineDict]] = []
    for path in sorted((rules_dir / "national").glob("*.yaml")):
        source = _display(rules_dir, path)
        data = _read(path, source, problems)
        if data is None:
            continue
        for name, spec in (data.get("parameters") or {}).items():
            param = _param(name, spec, source, problems)
            if param is None:
                continue
            if name in params:
                problems.add(
                    source,
                    _line(spec),
                    f"parameter {name} is already defined in {params[name].source}",
                )
                continue
            params[name] = param
        if "id" in data:
            raw_rules.append((source, data))
        elif set(data) - {"parameters"}:
            problems.add(source, _line(data), "a file without `id` may only hold `parameters`")

    rules: dict[str, RuleSpec] = {}
    for source, data in raw_rules:
        rule = _rule(data, source, params, problems)
        if rule is None:
            continue
        if rule.id in rules:
            problems.add(
                source, _line(data), f"rule {rule.id} is already defined in {rules[rule.id].source}"
            )
            continue
        rules[rule.id] = rule

    overlays: dict[str, Overlay] = {}
    for path in sorted((rules_dir / "regions").glob("*.yaml")):
        source = _display(rules_dir, path)
        overlay = _overlay(path, source, params, problems)
        if overlay is not None:
            overlays[overlay.region] = overlay
    _check_weakening(params, overlays, problems)
    _check_unverified(rules, params, overlays, problems)
    if problems.items:
        raise RulesError(problems.items)
    return Ruleset(rules, params, overlays, taxonomy, ruleset_hash(rules_dir))


def _display(rules_dir: Path, path: Path) -> str:
    return str(Path(rules_dir.name) / path.relative_to(rules_dir))


def _read(path: Path, source: str, problems: _Problems) -> LineDict | None:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.add(source, mark.line + 1 if mark else 0, f"not valid YAML: {exc}")
        return None
    if not isinstance(data, dict):
        problems.add(source, 1, "the file must hold a mapping")
        return None
    return data


def _convert(value: Any, type_: str, choices: tuple[str, ...]) -> Any:
    """A YAML value as the parameter type says; raises ValueError with the reason.

    A decimal, integer or boolean value may instead be a table by kindergarten grade:
    `{by_grade: {model: …, grade1: …, grade2: …, grade3: …, unrated: …}}` (grades may be left out:
    a kindergarten of a grade without a value gets a warning, not a finding built on a guess).
    """
    if isinstance(value, dict) and set(value) == {"by_grade"} and type_ != "map":
        table = value["by_grade"]
        if not isinstance(table, dict) or not table:
            raise ValueError("by_grade needs a mapping of grade -> value")
        unknown = set(map(str, table)) - GRADES
        if unknown:
            raise ValueError(f"unknown grades {sorted(unknown)}; known: {sorted(GRADES)}")
        return GradeTable(
            tuple(
                (grade, _convert(table[grade], type_, choices))
                for grade in Grade.values()
                if grade in table
            )
        )
    if type_ == "decimal":
        try:
            return Decimal(str(value))
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    if type_ == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"not a whole number: {value!r}")
        return value
    if type_ == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"not true/false: {value!r}")
        return value
    if type_ == "enum":
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {list(choices)}")
        return value
    if type_ == "list":
        if not isinstance(value, list):
            raise ValueError(f"not a list: {value!r}")
        return tuple(str(v) for v in value)
    if type_ == "map":
        if not isinstance(value, dict):
            raise ValueError(f"not a mapping: {value!r}")
        return {
            str(k): (Decimal(str(v)) if isinstance(v, (int, float, str)) and _numeric(v) else v)
            for k, v in value.items()
        }
    return str(value)


def _numeric(value: Any) -> bool:
    try:
        Decimal(str(value))
    except InvalidOperation:
        return False
    return not isinstance(value, bool)


def _values(
    items: Any, param: ParamDef, source: str, layer: str, problems: _Problems
) -> tuple[DatedValue, ...]:
    if not isinstance(items, list) or not items:
        problems.add(source, _line(items), f"{param.name}: `values` must be a non-empty list")
        return ()
    values = []
    for item in items:
        line = _line(item)
        if not isinstance(item, dict) or "from" not in item or "value" not in item:
            problems.add(source, line, f"{param.name}: each value needs `from` and `value`")
            continue
        if not item.get("reference"):
            problems.add(
                source,
                line,
                f"{param.name}: the value from {item['from']} has no "
                "`reference` (every value cites its source)",
            )
        start, end = item["from"], item.get("to")
        if not isinstance(start, date) or (end is not None and not isinstance(end, date)):
            problems.add(source, line, f"{param.name}: `from`/`to` must be dates (YYYY-MM-DD)")
            continue
        try:
            value = _convert(item["value"], param.type, param.choices)
        except ValueError as exc:
            problems.add(source, line, f"{param.name}: {exc}")
            continue
        severity = item.get("severity")
        if severity is not None and severity not in ("warning", "info"):
            problems.add(source, line, f"{param.name}: `severity` may only be warning or info")
            severity = None
        values.append(
            DatedValue(
                value,
                start,
                end,
                str(item.get("reference", "")),
                bool(item.get("verified", True)),
                bool(item.get("default_not_law", False)),
                layer,
                source,
                line,
                severity,
            )
        )
    values.sort(key=lambda v: v.start)
    for earlier, later in itertools.pairwise(values):
        if earlier.end is None or earlier.end >= later.start:
            problems.add(
                source,
                later.line,
                f"{param.name}: the window from {later.start} "
                f"overlaps the one from {earlier.start}",
            )
        elif earlier.end + timedelta(days=1) != later.start:
            problems.add(
                source, later.line, f"{param.name}: gap between {earlier.end} and {later.start}"
            )
    return tuple(values)


def _param(name: str, spec: Any, source: str, problems: _Problems) -> ParamDef | None:
    line = _line(spec)
    if not isinstance(spec, dict):
        problems.add(source, line, f"parameter {name} must be a mapping")
        return None
    type_, bound = spec.get("type"), spec.get("bound")
    if type_ not in PARAM_TYPES:
        problems.add(source, line, f"parameter {name}: unknown type {type_!r}")
        return None
    if bound not in BOUNDS:
        problems.add(source, line, f"parameter {name}: unknown bound {bound!r}")
        return None
    param = ParamDef(
        name,
        type_,
        bound,
        source,
        bool(spec.get("local", False)),
        str(spec.get("unit", "")),
        tuple(spec.get("choices", ())),
        dict(spec.get("description") or {}),
    )
    if type_ == "enum" and not param.choices:
        problems.add(source, line, f"parameter {name}: an enum needs `choices`")
    if param.local:
        if spec.get("values"):
            problems.add(source, line, f"parameter {name} is local: overlays set it, not national")
        return param
    values = _values(spec.get("values"), param, source, "national", problems)
    return ParamDef(**{**param.__dict__, "values": values})


def _citation(data: Any, source: str, problems: _Problems) -> Citation | None:
    if not isinstance(data, dict) or not data.get("document") or not data.get("article"):
        problems.add(source, _line(data) or 1, "the rule has no citation (document and article)")
        return None
    also = tuple(
        c
        for c in (_citation(item, source, problems) for item in data.get("also") or [])
        if c is not None
    )
    return Citation(
        str(data["document"]),
        str(data["article"]),
        str(data.get("quote", "")),
        bool(data.get("verified", True)),
        also,
    )


def _rule(
    data: LineDict, source: str, params: dict[str, ParamDef], problems: _Problems
) -> RuleSpec | None:
    line = data.line
    missing = [
        k
        for k in ("id", "kind", "severity", "categories", "title", "message", "in_force")
        if k not in data
    ]
    if missing:
        problems.add(source, line, f"rule is missing {', '.join(missing)}")
        return None
    citation = _citation(data.get("citation"), source, problems)
    if data["kind"] not in EVALUATORS:
        problems.add(
            source,
            _line(data, "kind"),
            f"unknown kind {data['kind']!r}; known: {', '.join(sorted(EVALUATORS))}",
        )
    if data["severity"] not in SEVERITIES:
        problems.add(source, line, f"unknown severity {data['severity']!r}")
    unknown = set(data["categories"]) - CATEGORIES
    if unknown:
        problems.add(source, line, f"unknown categories {sorted(unknown)}")
    own = list((data.get("parameters") or {}).keys())
    uses = list(data.get("uses") or [])
    for name in uses:
        if name not in params:
            problems.add(source, line, f"uses unknown parameter {name}")
    requires = tuple(tuple(group) for group in data.get("requires_any") or [])
    for group in requires:
        for name in group:
            if name not in params:
                problems.add(source, line, f"requires unknown parameter {name}")
    for lang in ("zh", "en"):
        if not (data["title"] or {}).get(lang) or not (data["message"] or {}).get(lang):
            problems.add(source, line, f"title and message need `{lang}`")
    window = data["in_force"] or {}
    if not isinstance(window.get("from"), date):
        problems.add(source, line, "in_force needs `from` as a date")
        return None
    judged_on = window.get("judged_on", "month")
    if judged_on not in JUDGED_ON:
        problems.add(source, line, f"in_force.judged_on must be one of {sorted(JUDGED_ON)}")
    if citation is None:
        return None
    return RuleSpec(
        id=str(data["id"]),
        kind=str(data["kind"]),
        severity=str(data["severity"]),
        categories=frozenset(data["categories"]),
        title=dict(data["title"]),
        citation=citation,
        in_force_from=window["from"],
        in_force_to=window.get("to"),
        message=dict(data["message"]),
        params=tuple(own + uses),
        requires_any=requires,
        source=source,
        judged_on=str(judged_on),
    )


def _overlay(
    path: Path, source: str, params: dict[str, ParamDef], problems: _Problems
) -> Overlay | None:
    data = _read(path, source, problems)
    if data is None:
        return None
    region = str(data.get("region", ""))
    if region != path.stem or len(region) != 6 or not region.isdigit():
        problems.add(source, data.line, f"`region` must be the file's 6-digit code ({path.stem})")
        return None
    values: dict[str, tuple[DatedValue, ...]] = {}
    layer = layer_name(region)
    declared = data.get("parameters") or {}
    for name, items in declared.items():
        if name not in params:
            problems.add(
                source,
                _line(declared, name),
                f"{name} is not a parameter declared in rules/national",
            )
            continue
        values[name] = _values(items, params[name], source, layer, problems)
    return Overlay(region, dict(data.get("name") or {}), source, values)


def _weaker(param: ParamDef, value: Any, above: Any) -> bool:
    """True when `value` (an overlay's) is weaker than `above` (what the layers above say);
    tables by grade are compared grade by grade."""
    if isinstance(value, GradeTable) or isinstance(above, GradeTable):
        mine = value.as_dict() if isinstance(value, GradeTable) else None
        theirs = above.as_dict() if isinstance(above, GradeTable) else None
        grades = set(mine or {}) | set(theirs or {})
        return any(
            _weaker(
                param, value if mine is None else mine[g], above if theirs is None else theirs[g]
            )
            for g in grades
            if (mine is None or g in mine) and (theirs is None or g in theirs)
        )
    if param.bound == "floor":
        if isinstance(value, dict):
            return any(value.get(k, Decimal(0)) < v for k, v in above.items())
        return value < above
    if param.bound == "cap":
        return value > above
    if param.bound == "order":
        return param.choices.index(value) < param.choices.index(above)
    if param.bound == "true_stricter":
        return above is True and value is False
    if param.bound == "false_stricter":
        return above is False and value is True
    if param.bound == "superset":
        return not set(above) <= set(value)
    return False


def _check_weakening(
    params: dict[str, ParamDef], overlays: dict[str, Overlay], problems: _Problems
) -> None:
    """Each overlay value must not weaken what national and broader overlays say on its dates."""
    for overlay in overlays.values():
        broader = [o for code in overlay_chain(overlay.region)[:-1] if (o := overlays.get(code))]
        for name, values in overlay.values.items():
            param = params[name]
            if param.bound == "none":
                continue
            for value in values:
                layers = [("national", param.values)] + [
                    (o.source, o.values.get(name, ())) for o in broader
                ]
                for label, above_values in layers:
                    for above in above_values:
                        if _overlaps(value, above) and _weaker(param, value.value, above.value):
                            problems.add(
                                overlay.source,
                                value.line,
                                f"{name} = {_show(value.value)} weakens {label}'s "
                                f"{_show(above.value)} (bound: {param.bound})",
                            )


def all_values(
    params: dict[str, ParamDef], overlays: dict[str, Overlay]
) -> list[tuple[str, DatedValue]]:
    """Every dated value in the ruleset, national and local: (parameter name, value)."""
    found = [(name, v) for name, p in params.items() for v in p.values]
    for overlay in overlays.values():
        found.extend((name, v) for name, values in overlay.values.items() for v in values)
    return found


def _check_unverified(
    rules: dict[str, RuleSpec],
    params: dict[str, ParamDef],
    overlays: dict[str, Overlay],
    problems: _Problems,
) -> None:
    """A value nobody could source (`verified: false`) may never make a violation: where a rule
    that finds violations reads it, the value must say `severity: warning`."""
    violating = {
        name for rule in rules.values() if rule.severity == "violation" for name in rule.params
    }
    for name, value in all_values(params, overlays):
        if not value.verified and value.severity is None and name in violating:
            users = sorted(r.id for r in rules.values() if name in r.params)
            problems.add(
                value.source,
                value.line,
                f"{name}: the value from {value.start} is unverified and {', '.join(users)} "
                "would turn it into a violation; verify it or mark it `severity: warning`",
            )


def _overlaps(a: DatedValue, b: DatedValue) -> bool:
    return a.start <= (b.end or date.max) and b.start <= (a.end or date.max)


def _show(value: Any) -> str:
    """A value as the rules' author wrote it: 650.00, [a, b], by grade: model 650.00, …"""
    if isinstance(value, GradeTable):
        return "by grade: " + ", ".join(f"{g} {_show(v)}" for g, v in value.values)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)

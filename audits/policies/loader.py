"""Load, validate, identify and compare policy documents."""

from __future__ import annotations

import difflib
import functools
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path as FilePath
from typing import Any

import rfc8785

from audits.checks import registry
from audits.policies.citations import check_citations
from audits.policies.errors import PolicyError, format_field
from audits.policies.reader import Path, decode, read_yaml
from audits.policies.schema import SLUG_PATTERN, policy_schema

BUILTIN_DIR = FilePath(__file__).resolve().parent / "builtin"

_SHARE_SUM_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Policy:
    """A policy that parsed and validated, with the two hashes that identify it.

    ``sha256`` identifies what the policy *says*: the SHA-256 of the RFC 8785 canonical JSON of the document (keys
    sorted, numbers in one form), so it ignores comments, key order, quoting and layout and changes with any value.
    It is what results and reports stamp. ``text_sha256`` identifies the exact text as written (the UTF-8 bytes,
    comments included), to show that a stored file is the one that was reviewed.

    ``document`` and ``checks`` are plain dicts; treat them as read-only (the hashes were taken at load).
    """

    name: str
    title: str
    version: int | None
    document: dict[str, Any]
    checks: dict[str, dict[str, Any]]
    sha256: str
    text_sha256: str
    text: str

    def canonical_json(self) -> bytes:
        """The RFC 8785 canonical JSON of the document, the bytes ``sha256`` is taken over."""
        return rfc8785.dumps(self.document)

    @property
    def thresholds(self) -> dict[str, dict[str, Any]]:
        """Every threshold (``{value, operator, basis}``, or the legacy ``comparison``) by its field, e.g.
        ``checks.performance.accuracy_min``."""
        return {format_field(path): item for path, item in _thresholds(self.document, ())}


def load_policy(text: str | bytes, *, source: str = "<policy>") -> Policy:
    """Parse and validate a policy document; PolicyError (with line and field) if it cannot be used.

    ``text`` is the YAML as written (str, or UTF-8 bytes as uploaded); ``source`` names it in errors.
    """
    decoded = decode(text, source=source)
    document, lines = read_yaml(decoded, source=source)
    if not isinstance(document, dict):
        raise PolicyError.at(
            f"a policy is a mapping of fields (name, title, checks, ...), not {_json_type(document)}",
            line=lines.get((), 1),
            source=source,
        )
    _validate(document, lines, source=source)
    raw = text if isinstance(text, bytes) else decoded.encode("utf-8")
    return Policy(
        name=document["name"],
        title=document["title"],
        version=document.get("version"),
        document=document,
        checks=document["checks"],
        sha256=hashlib.sha256(rfc8785.dumps(document)).hexdigest(),
        text_sha256=hashlib.sha256(raw).hexdigest(),
        text=decoded,
    )


@functools.cache
def _builtin_texts() -> tuple[tuple[str, str], ...]:
    return tuple((path.stem, path.read_text(encoding="utf-8")) for path in sorted(BUILTIN_DIR.glob("*.yaml")))


def builtin_policies() -> dict[str, str]:
    """The YAML text of each policy Assay ships, by name (four-fifths, nyc-ll144, eu-ai-act-high-risk, baseline)."""
    return dict(_builtin_texts())


def diff_policies(
    old_text: str | bytes,
    new_text: str | bytes,
    *,
    old_label: str = "old",
    new_label: str = "new",
    context: int = 0,
) -> str:
    """A unified diff of two policies' canonical forms, for review; "" when they say the same thing.

    Each line of the canonical form is one value with its full field name and its canonical JSON,
    ``checks.disparate_impact.impact_ratio_min.value: 0.8``, so every changed line says which threshold changed
    without context lines (hence ``context=0``), and comments, key order and layout never show up as changes.
    Both policies must be valid: PolicyError otherwise.
    """
    old = load_policy(old_text, source=old_label)
    new = load_policy(new_text, source=new_label)
    if old.sha256 == new.sha256:
        return ""
    lines = difflib.unified_diff(
        list(canonical_lines(old.document)),
        list(canonical_lines(new.document)),
        fromfile=f"{old_label} (sha256 {old.sha256})",
        tofile=f"{new_label} (sha256 {new.sha256})",
        n=context,
        lineterm="",
    )
    return "\n".join(lines) + "\n"


def canonical_lines(value: Any, path: Path = ()) -> Iterator[str]:
    """One ``field: canonical JSON`` line per value of ``value``, keys sorted."""
    if isinstance(value, dict) and value:
        for key in sorted(value):
            yield from canonical_lines(value[key], (*path, key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from canonical_lines(item, (*path, index))
    else:
        yield f"{format_field(path)}: {rfc8785.dumps(value).decode('utf-8')}"


# --- validation -----------------------------------------------------------------------------------------------


def _validator() -> Any:
    """The validator of the current policy schema (the registry of checks decides what ``checks`` may hold)."""
    return _validator_at(registry.generation())


@functools.lru_cache(maxsize=4)
def _validator_at(generation: int) -> Any:
    from jsonschema import Draft202012Validator, validators

    # JSON Schema counts 30.0 as an integer; a policy that writes min_group_size: 30.0 most likely meant something
    # else, and the checks should get an int, so integers here are ints only.
    def is_int(_checker: Any, instance: Any) -> bool:
        return isinstance(instance, int) and not isinstance(instance, bool)

    type_checker = Draft202012Validator.TYPE_CHECKER.redefine("integer", is_int)
    strict = validators.extend(Draft202012Validator, type_checker=type_checker)
    return strict(policy_schema())


def _validate(document: dict[str, Any], lines: dict[Path, int], *, source: str) -> None:
    errors = list(_validator().iter_errors(document))
    # A key missing from a mapping that also holds an unknown key is most likely that key misspelt: report the
    # unknown key (with its "did you mean"), not the absence.
    misspelt = {tuple(e.absolute_path) for e in errors if e.validator == "additionalProperties"}
    faults = [
        _describe(error, lines)
        for error in errors
        if not (error.validator in ("required", "anyOf") and tuple(error.absolute_path) in misspelt)
    ]
    if not faults:
        _check_consistency(document, lines, source=source)
        return
    # Report the fault nearest the top of the file; on one line, the most specific field.
    line, path, problem = min(faults, key=lambda fault: (fault[0], -len(fault[1]), fault[2]))
    raise PolicyError.at(problem, line=line, path=path, source=source)


def _line_of(lines: Mapping[Path, int], path: Path) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)


def _describe(error: Any, lines: dict[Path, int]) -> tuple[int, Path, str]:  # noqa: PLR0911, PLR0912 - one branch per JSON Schema keyword reads clearest
    """(line, field path, problem) for a jsonschema ValidationError, in words a policy author can act on."""
    path: Path = tuple(error.absolute_path)
    keyword = error.validator
    instance = error.instance
    if keyword == "anyOf" and all(set(branch) == {"required"} for branch in error.validator_value):
        names = ", ".join(branch["required"][0] for branch in error.validator_value)
        return _line_of(lines, path), path, f"needs at least one of {names}"
    if keyword == "anyOf":
        return _describe_any_of(error, lines)
    if keyword == "required":
        return _line_of(lines, path), path, error.message
    if keyword == "dependentRequired":
        (trigger,) = (name for name in error.validator_value if name in instance)
        missing = next(name for name in error.validator_value[trigger] if name not in instance)
        return _line_of(lines, path), path, f"{missing!r} is required when {trigger!r} is set"
    if keyword == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extras = [key for key in instance if key not in allowed]
        key = min(extras, key=lambda k: _line_of(lines, (*path, k)))
        where = (*path, key)
        hint = difflib.get_close_matches(key, allowed, n=1)
        if hint:
            problem = f"unknown key {key!r} (did you mean {hint[0]!r}?)"
        elif allowed:
            problem = f"unknown key {key!r}; allowed here: {', '.join(allowed)}"
        else:
            problem = f"unknown key {key!r}"
        return _line_of(lines, where), where, problem
    line = _line_of(lines, path)
    if keyword == "type":
        expected = error.validator_value
        expected = " or ".join(_article(t) for t in expected) if isinstance(expected, list) else _article(expected)
        problem = f"must be {expected}, got {_json_type(instance)}"
        if not isinstance(instance, dict | list):
            problem += f" ({_short(instance)})"
        if isinstance(instance, str) and _looks_numeric(instance):
            problem += "; remove the quotes to make it a number"
        return line, path, problem
    if keyword == "const":
        return line, path, f"must be {error.validator_value!r}, got {_short(instance)}"
    if keyword == "enum":
        choices = ", ".join(repr(choice) for choice in error.validator_value)
        return line, path, f"must be one of {choices}, got {_short(instance)}"
    if keyword == "minimum":
        return line, path, f"must be at least {error.validator_value}, got {instance}"
    if keyword == "maximum":
        return line, path, f"must be at most {error.validator_value}, got {instance}"
    if keyword == "exclusiveMinimum":
        return line, path, f"must be greater than {error.validator_value}, got {instance}"
    if keyword in ("minLength", "pattern") and isinstance(instance, str) and not instance.strip():
        return line, path, "must not be empty"
    if keyword == "pattern" and error.validator_value == SLUG_PATTERN:
        return line, path, f"must be a slug (lowercase letters and digits, joined by single hyphens), got {instance!r}"
    if keyword in ("minProperties", "minItems") and not instance:
        return line, path, "must not be empty"
    return line, path, error.message


def _describe_any_of(error: Any, lines: dict[Path, int]) -> tuple[int, Path, str]:
    # reference_group is the only value-level anyOf: a known word or a mapping. A mapping was evidently meant as
    # the mapping form, so report what is wrong inside it; anything else gets both forms named.
    path: Path = tuple(error.absolute_path)
    if isinstance(error.instance, dict):
        (mapping_branch,) = (i for i, branch in enumerate(error.validator_value) if branch.get("type") == "object")
        inner = [sub for sub in error.context if sub.relative_schema_path[0] == mapping_branch]
        return _describe(max(inner, key=lambda e: len(e.absolute_path)), lines)
    choices = " or ".join(repr(branch["const"]) for branch in error.validator_value if "const" in branch)
    return (
        _line_of(lines, path),
        path,
        f"must be {choices} or a mapping of attribute to group, got {_short(error.instance)}",
    )


def _check_consistency(document: dict[str, Any], lines: dict[Path, int], *, source: str) -> None:
    """Rules across fields that JSON Schema cannot state."""
    check_citations(document, lines, source=source)
    monitoring = document.get("monitoring", {})
    if "psi_warning" in monitoring and "psi_alert" in monitoring:
        warning, alert = monitoring["psi_warning"]["value"], monitoring["psi_alert"]["value"]
        if warning >= alert:
            path: Path = ("monitoring", "psi_warning", "value")
            raise PolicyError.at(
                f"must be below monitoring.psi_alert.value ({alert}), got {warning}",
                line=_line_of(lines, path),
                path=path,
                source=source,
            )
    declared = document["checks"].get("data_quality", {}).get("declared_population_shares")
    if declared:
        for attribute, shares in declared["shares"].items():
            total = sum(shares.values())
            if total > 1 + _SHARE_SUM_TOLERANCE:
                path = ("checks", "data_quality", "declared_population_shares", "shares", attribute)
                raise PolicyError.at(
                    f"the shares of one attribute must add up to at most 1, got {total:g}",
                    line=_line_of(lines, path),
                    path=path,
                    source=source,
                )


def _thresholds(value: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    if isinstance(value, dict):
        if {"value", "basis"} <= value.keys() and ({"operator", "comparison"} & value.keys()):
            yield path, value
            return
        for key, item in value.items():
            yield from _thresholds(item, (*path, key))


_NUMERIC = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")


def _looks_numeric(text: str) -> bool:
    return bool(_NUMERIC.match(text))


_VALUE_WORDS = {
    type(None): "null",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    str: "text",
    list: "a list",
}


def _json_type(value: Any) -> str:
    return _VALUE_WORDS.get(type(value), "a mapping")  # the reader yields exactly these types, and dicts


_TYPE_WORDS = {
    "object": "a mapping",
    "array": "a list",
    "string": "text",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean (true or false)",
    "null": "null",
}


def _article(json_type: str) -> str:
    return _TYPE_WORDS.get(json_type, json_type)


def _short(value: Any) -> str:
    shown = repr(value) if not isinstance(value, dict | list) else _json_type(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."

"""Column roles: which columns are the label, the decisions, the scores and the protected attributes, read from the
API's JSON into one canonical form (keyed by role), and ``EvaluationError``, which every step raises.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class EvaluationError(ValueError):
    """Inputs that cannot be audited as given (a missing column, a non-binary label...); the message says why."""

    def __init__(self, message: str, *, field: str = "column_roles") -> None:
        super().__init__(message)
        self.field = field


MAX_PROTECTED = 10
MAX_NAME = 200  # characters of a column or role name, a reference value, an unknown token
MAX_UNKNOWN_TOKENS = 50  # per role
MAX_EXCLUSIONS = 100
MAX_JUSTIFICATION = 2000
# A role names a policy's attribute and appears in group names ("sex=female, race_ethnicity=Asian"), so it is a
# plain identifier: no "=" or ", " that would make a group's name ambiguous.
ROLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ColumnRoles:
    """Which columns play which part in an audit.

    ``protected`` holds the protected *columns*; ``protected_roles`` the role each one plays (the same order), or
    nothing when the roles were given as a list (ad hoc audits: each column is its own role). ``reference_groups``
    and ``unknown_values`` are keyed by role; ``exclusions`` maps a group name ("race_ethnicity=Other") to the
    auditor's justification for leaving it out of impact ratios (LL144's 2% rule). Built directly, ``protected``
    may also be a mapping role -> column.
    """

    label: str
    protected: tuple[str, ...]
    favourable: str = "1"
    prediction: str = ""
    score: str = ""
    threshold: float | None = None
    reference_groups: Mapping[str, str] = field(default_factory=dict)
    features: tuple[str, ...] = ()
    protected_roles: tuple[str, ...] = ()
    unknown_values: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclusions: Mapping[str, str] = field(default_factory=dict)
    # Role -> the features its column is derived from (age_group from age): their attribution counts as the role's.
    derived_from: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.protected, Mapping):
            object.__setattr__(self, "protected_roles", tuple(self.protected))
            object.__setattr__(self, "protected", tuple(self.protected.values()))
        else:
            object.__setattr__(self, "protected", tuple(self.protected))
        if self.protected_roles and len(self.protected_roles) != len(self.protected):
            raise ValueError("protected_roles must name one role per protected column")

    @property
    def protected_columns(self) -> dict[str, str]:
        """Role -> column, in the order the checks group by."""
        return dict(zip(self.protected_roles or self.protected, self.protected, strict=True))

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ColumnRoles:
        """From the API's JSON (or a run's stored roles): the protected list or mapping, reference groups, unknown
        tokens and exclusions are checked and put in their canonical form (keyed by role, mappings sorted).
        Raises EvaluationError naming the problem, with ``field`` the role's key."""
        columns, roles = _parse_protected(value.get("protected"))
        by_role = dict(zip(roles or columns, columns, strict=True))
        return cls(
            label=value["label"],
            protected=columns,
            favourable=str(value.get("favourable", "1")),
            prediction=value.get("prediction", "") or "",
            score=value.get("score", "") or "",
            threshold=value.get("threshold"),
            reference_groups=_parse_reference_groups(value.get("reference_groups"), by_role),
            features=tuple(value.get("features") or ()),
            protected_roles=roles,
            unknown_values=_parse_unknown_values(value.get("unknown_values"), by_role),
            exclusions=_parse_exclusions(value.get("exclusions"), by_role),
            derived_from=_parse_derived_from(value.get("derived_from"), by_role),
        )

    def as_json(self) -> dict[str, Any]:
        """The canonical JSON form (stored with the run, and hashed into its inputs). The list form of
        ``protected`` keeps the layout runs were first stored with, so their input hashes do not change; the
        mapping form, unknown tokens and exclusions appear only when given."""
        canonical: dict[str, Any] = {
            "label": self.label,
            "protected": (
                dict(sorted(self.protected_columns.items())) if self.protected_roles else list(self.protected)
            ),
            "favourable": self.favourable,
            "prediction": self.prediction,
            "score": self.score,
            "threshold": self.threshold,
            "reference_groups": dict(sorted(self.reference_groups.items())),
            "features": list(self.features),
        }
        if self.unknown_values:
            canonical["unknown_values"] = {
                role: sorted(set(tokens)) for role, tokens in sorted(self.unknown_values.items())
            }
        if self.exclusions:
            canonical["exclusions"] = dict(sorted(self.exclusions.items()))
        if self.derived_from:
            canonical["derived_from"] = {role: list(sources) for role, sources in sorted(self.derived_from.items())}
        return canonical


def _name(value: Any, what: str, *, field: str) -> str:
    """A non-empty name of at most MAX_NAME characters, or EvaluationError saying what is wrong with it."""
    if not isinstance(value, str):
        raise EvaluationError(f"{what} must be text, not {type(value).__name__} ({value!r}).", field=field)
    if not value.strip():
        raise EvaluationError(f"{what} is empty.", field=field)
    if len(value) > MAX_NAME:
        raise EvaluationError(f"{what} is longer than {MAX_NAME} characters.", field=field)
    return value


def _parse_protected(value: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The protected columns and their roles (none for the list form), from a list or a mapping role -> column."""
    if isinstance(value, Mapping):
        if not value:
            raise EvaluationError("protected: map at least one role to a column.", field="protected")
        if len(value) > MAX_PROTECTED:
            raise EvaluationError(f"protected: at most {MAX_PROTECTED} roles.", field="protected")
        for role, column in value.items():
            _name(role, "protected: a role name", field="protected")
            if not ROLE_NAME.match(role):
                raise EvaluationError(
                    f"protected: role {role!r} is not a plain name (a letter, then letters, digits, '_', '.', '-').",
                    field="protected",
                )
            _name(column, f"protected: the column of role {role!r}", field="protected")
        roles_of: dict[str, list[str]] = {}
        for role, column in value.items():
            roles_of.setdefault(column, []).append(role)
        for column, roles in roles_of.items():
            if len(roles) > 1:
                raise EvaluationError(
                    f"protected: column {column!r} is mapped to several roles ({', '.join(map(repr, roles))}); "
                    "each role needs a column of its own.",
                    field="protected",
                )
        pairs = sorted(value.items())  # canonical: a mapping's order is not kept by every database's JSON
        return tuple(column for _, column in pairs), tuple(role for role, _ in pairs)
    if isinstance(value, list | tuple):
        if not value:
            raise EvaluationError("protected: name at least one protected attribute column.", field="protected")
        if len(value) > MAX_PROTECTED:
            raise EvaluationError(f"protected: at most {MAX_PROTECTED} columns.", field="protected")
        columns = tuple(_name(column, "protected: a column name", field="protected") for column in value)
        twice = sorted({column for column in columns if columns.count(column) > 1})
        if twice:
            raise EvaluationError(
                f"protected: column {twice[0]!r} is named twice. A protected column is named once.", field="protected"
            )
        return columns, ()
    raise EvaluationError(
        "protected: give a list of column names, or a mapping role -> column such as "
        f'{{"sex": "gender"}}, not {type(value).__name__}.',
        field="protected",
    )


def _role_of(key: Any, by_role: Mapping[str, str], *, field: str) -> str:
    """The role a key names: a role, or the column of exactly one role (and then of no other role by name)."""
    _name(key, f"{field}: a role name", field=field)
    claimed = [role for role, column in by_role.items() if column == key and role != key]
    if key in by_role:
        if claimed:
            raise EvaluationError(
                f"{field}: {key!r} is a role and also the column of role {claimed[0]!r}; name the role.", field=field
            )
        return str(key)
    if len(claimed) == 1:
        return claimed[0]
    raise EvaluationError(
        f"{field}: {key!r} is not a protected role or column (roles: {', '.join(map(repr, by_role))}).", field=field
    )


def _by_role(value: Any, by_role: Mapping[str, str], *, field: str) -> dict[str, Any]:
    """A mapping keyed by role or column, re-keyed by role; a role named twice (as itself and its column) is
    refused."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EvaluationError(
            f"{field}: give a mapping of protected role to values, not {type(value).__name__}.", field=field
        )
    found: dict[str, Any] = {}
    keys: dict[str, str] = {}
    for key, item in value.items():
        role = _role_of(key, by_role, field=field)
        if role in found:
            raise EvaluationError(f"{field}: role {role!r} is named twice ({keys[role]!r} and {key!r}).", field=field)
        found[role], keys[role] = item, key
    return found


def _parse_reference_groups(value: Any, by_role: Mapping[str, str]) -> dict[str, str]:
    found = _by_role(value, by_role, field="reference_groups")
    for role, reference in found.items():
        _name(reference, f"reference_groups: the reference group of {role!r}", field="reference_groups")
    return dict(sorted(found.items()))


def _parse_unknown_values(value: Any, by_role: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    parsed: dict[str, tuple[str, ...]] = {}
    for role, tokens in _by_role(value, by_role, field="unknown_values").items():
        if not isinstance(tokens, list | tuple):
            raise EvaluationError(
                f'unknown_values: give {role!r} a list of tokens, such as ["NA", "unknown"].',
                field="unknown_values",
            )
        if len(tokens) > MAX_UNKNOWN_TOKENS:
            raise EvaluationError(
                f"unknown_values: at most {MAX_UNKNOWN_TOKENS} tokens for {role!r}.", field="unknown_values"
            )
        for token in tokens:
            if token == "":
                raise EvaluationError(
                    f"unknown_values: {role!r} lists '' (an empty cell), which is always unknown; list only other "
                    "tokens.",
                    field="unknown_values",
                )
            _name(token, f"unknown_values: a token of {role!r}", field="unknown_values")
        if tokens:
            parsed[role] = tuple(sorted(set(tokens)))
    return dict(sorted(parsed.items()))


def _parse_derived_from(value: Any, by_role: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """Role (or its column) -> the feature columns it is derived from, keyed by role, each list sorted."""
    parsed: dict[str, tuple[str, ...]] = {}
    for role, sources in _by_role(value, by_role, field="derived_from").items():
        if not isinstance(sources, list | tuple):
            raise EvaluationError(
                f'derived_from: give {role!r} a list of the columns it is derived from, such as ["age"].',
                field="derived_from",
            )
        if len(sources) > MAX_UNKNOWN_TOKENS:
            raise EvaluationError(
                f"derived_from: at most {MAX_UNKNOWN_TOKENS} columns for {role!r}.", field="derived_from"
            )
        for source in sources:
            _name(source, f"derived_from: a column of {role!r}", field="derived_from")
        if sources:
            parsed[role] = tuple(sorted(set(sources)))
    return dict(sorted(parsed.items()))


def _parse_exclusions(value: Any, by_role: Mapping[str, str]) -> dict[str, str]:
    """Group name -> justification. A group is named ``role=value``, or for an intersection
    ``role=value, role=value``; a role may be named by its column, and is written as the role."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EvaluationError(
            'exclusions: give a mapping of group name (such as "race_ethnicity=Other") to the auditor\'s '
            f"justification, not {type(value).__name__}.",
            field="exclusions",
        )
    if len(value) > MAX_EXCLUSIONS:
        raise EvaluationError(f"exclusions: at most {MAX_EXCLUSIONS} groups.", field="exclusions")
    parsed: dict[str, str] = {}
    for group, justification in value.items():
        name = _group_name(group, by_role)
        if not isinstance(justification, str) or not justification.strip():
            raise EvaluationError(
                f"exclusions: {group!r} needs the auditor's justification, as text.", field="exclusions"
            )
        if len(justification) > MAX_JUSTIFICATION:
            raise EvaluationError(
                f"exclusions: the justification of {group!r} is longer than {MAX_JUSTIFICATION} characters.",
                field="exclusions",
            )
        if name in parsed:
            raise EvaluationError(f"exclusions: group {name!r} is named twice.", field="exclusions")
        parsed[name] = justification
    return dict(sorted(parsed.items()))


def _group_name(group: Any, by_role: Mapping[str, str]) -> str:
    """A group's canonical name: its ``role=value`` parts, each role named as the role (not its column)."""
    _name(group, "exclusions: a group name", field="exclusions")
    parts: list[list[str]] = []
    for segment in group.split(", "):
        key, sep, rest = segment.partition("=")
        known = bool(sep) and (key in by_role or key in by_role.values())
        if known:
            parts.append([_role_of(key, by_role, field="exclusions"), rest])
        elif parts:
            parts[-1][1] += ", " + segment  # a value with ", " in it
        else:
            if not sep:
                raise EvaluationError(
                    f'exclusions: {group!r} does not name a group as role=value (e.g. "race_ethnicity=Other").',
                    field="exclusions",
                )
            raise EvaluationError(
                f"exclusions: {group!r} names {key!r}, which is not a protected role "
                f"(roles: {', '.join(map(repr, by_role))}).",
                field="exclusions",
            )
    roles = [role for role, _ in parts]
    for role, group_value in parts:
        if roles.count(role) > 1:
            raise EvaluationError(f"exclusions: {group!r} names role {role!r} twice.", field="exclusions")
        if not group_value.strip():
            raise EvaluationError(
                f"exclusions: {group!r} gives {role!r} no value; an empty value is the unknown category, never a "
                "group.",
                field="exclusions",
            )
    # The parts keep the order given: an intersection's group is named in the order of the grouping that holds it
    # (a policy's listed intersection, e.g. "sex=female, race_ethnicity=Asian"), which the roles alone do not know.
    return ", ".join(f"{role}={group_value}" for role, group_value in parts)

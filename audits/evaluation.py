"""Turning an evaluation table and column roles into the arrays every check reads (pure: no Django).

Outcomes are binary and favourable-first: ``y_true`` is 1 where the label is the favourable value, ``y_pred`` is 1
where the decision is favourable (the prediction column equals the favourable value, or the score is at least the
threshold, or the model predicts the favourable class). Selection rate is therefore the rate of favourable
decisions, as in the EEOC guidelines and NYC LL144.

Scores come from the score column, or, when the model decides, from the model: its probability of the favourable
class, with the class found by the model's own metadata (a skops estimator's ``classes_``, an ONNX graph's class
labels). A model that gives no probabilities, or does not say which column is which class, leaves the scores out,
and ``no_scores_reason`` says why, so that a check needing scores (ROC-AUC) can say so instead of guessing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from registry.artifacts import ProbabilitiesUnavailable, label_text


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


@dataclass
class Evaluation:
    """Everything a check reads: binary outcomes, scores when there are any, protected columns, and (for checks
    that need the model) the feature matrix and a scorer."""

    y_true: np.ndarray
    y_pred: np.ndarray
    scores: np.ndarray | None
    protected: dict[str, np.ndarray]
    roles: ColumnRoles
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    predict: Any = None  # callable: feature matrix -> binary favourable decisions, when a model artifact exists
    profile: Mapping[str, Any] = field(default_factory=dict)
    rows: int = 0
    no_scores_reason: str = ""  # why ``scores`` is None, as a clause ("the model gives no class probabilities")
    # Whether the model version has an artifact, when the caller says; checks that need the model use it to say
    # what to change when the decisions came from the dataset's columns instead.
    model_artifact: bool | None = None
    # Role -> the data's column it was read from (``protected`` is keyed by role).
    protected_columns: dict[str, str] = field(default_factory=dict)
    # Role -> True where the row's value is unknown (an empty cell, or a token declared in unknown_values): such
    # rows form no group (6 RCNY 5-301). Built by hand without it, a consumer treats "" as unknown.
    unknown: dict[str, np.ndarray] = field(default_factory=dict)


def _text(column: Any) -> np.ndarray:
    """A column's values as strings (missing values as ""), for comparison with the favourable value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type):
        # 1.0 in a float column is "1" for comparisons with a favourable value given as text.
        values = column.to_numpy(zero_copy_only=False)
        return np.array(["" if math.isnan(v) else (str(int(v)) if float(v).is_integer() else repr(v)) for v in values])
    filled = pc.fill_null(pc.cast(column, pa.string()), "")
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=object).astype(str)


def _is_numeric(column: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_integer(column.type) or pa.types.is_floating(column.type))


def _numeric_spelling(text: str) -> str:
    """``text`` written as ``_text`` writes a number of a numeric column ("1.0" -> "1"); other text unchanged."""
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def _same_value_spelt_differently(value: str, other: str) -> bool:
    """Whether two different texts look like one value: case or surrounding spaces apart, or one number."""
    if value == other:
        return False
    if value.strip().casefold() == other.strip().casefold():
        return True
    try:
        a, b = float(value), float(other)
    except ValueError:
        return False
    return math.isfinite(a) and a == b


def _strangers(found: set[str], vocabulary: Sequence[str]) -> str:
    """The values of ``found`` outside ``vocabulary``, each with its exact characters (repr), and the value each
    seems to be a spelling of; "" when there are none."""
    outside = sorted(found - set(vocabulary))
    if not outside:
        return ""
    shown = []
    for value in outside[:6]:
        near = [v for v in vocabulary if _same_value_spelt_differently(value, v)]
        shown.append(f"{value!r} (a spelling of {near[0]!r}?)" if near else repr(value))
    more = f" and {len(outside) - 6} more" if len(outside) > 6 else ""
    return ", ".join(shown) + more


def _spelt(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values)


def _missing(table: Any, names: Sequence[str], role: str) -> None:
    absent = [name for name in names if name and name not in table.column_names]
    if absent:
        raise EvaluationError(
            f"{role}: no column named {', '.join(repr(a) for a in absent)}. Columns: {', '.join(table.column_names)}.",
        )


def build_evaluation(
    table: Any, roles: ColumnRoles, *, predictor: Any = None, model_artifact: bool | None = None
) -> Evaluation:
    """The evaluation arrays from a pyarrow ``table`` and the column ``roles`` (and a model, for predictions).

    Decisions come from the prediction column, else the score column and threshold, else the ``predictor``, which
    then gives the scores too (its probability of the favourable class) when it can. ``model_artifact`` says
    whether the model version has an artifact (None: not said), for the reasons of checks that need the model.

    Values are compared as text, exactly: the decisions (and a model's outputs) may take only the label's values,
    and the favourable value must be one of them, so that a third spelling ('Yes' beside 'yes') is refused rather
    than counted as unfavourable. Numbers in numeric columns are written one way (1.0 is "1"); a text column
    keeps its spelling, so '1.0' against '1' is refused, naming both.

    Raises EvaluationError naming the problem: a missing column, a label or prediction that is not binary, a value
    outside the label's vocabulary, a threshold outside the scores' range, NaN scores, no way to get decisions, a
    protected column whose known values form one group, a reference or excluded group that does not exist.
    """
    if table.num_rows == 0:
        raise EvaluationError("The evaluation dataset has no rows.", field="dataset")
    _missing(table, [roles.label], "label")
    _missing(table, list(roles.protected), "protected")
    _missing(table, [roles.prediction, roles.score], "prediction/score")
    if not roles.protected:
        raise EvaluationError("Name at least one protected attribute column.")
    y_true, values, favourable = _labels(table, roles)
    scores = _scores(table, roles)
    features: np.ndarray | None = None
    feature_names: tuple[str, ...] = ()
    predict: Any = None
    no_scores_reason = ""
    if roles.prediction:
        y_pred = _predicted(table, roles, values, favourable)
        if scores is None:
            no_scores_reason = (
                f"the audit has no scores: its decisions come from the prediction column {roles.prediction!r} "
                "(name a score column as well)"
            )
    elif scores is not None:
        y_pred = _thresholded(scores, roles)
    elif predictor is not None:
        features, feature_names, predict = _model_scorer(table, roles, predictor, labels=values, favourable=favourable)
        y_pred = predict(features).astype(np.int8)
        scores, no_scores_reason = _model_scores(predictor, features, favourable=favourable)
    else:
        raise EvaluationError(
            "prediction: give a prediction column, or a score column and threshold, or audit a version with a model "
            "artifact."
        )
    protected, unknown = _protected(table, roles)
    return Evaluation(
        y_true=y_true,
        y_pred=y_pred,
        scores=scores,
        protected=protected,
        roles=roles,
        features=features,
        feature_names=feature_names,
        predict=predict,
        rows=table.num_rows,
        no_scores_reason=no_scores_reason,
        model_artifact=True if predictor is not None else model_artifact,
        protected_columns=roles.protected_columns,
        unknown=unknown,
    )


def _labels(table: Any, roles: ColumnRoles) -> tuple[np.ndarray, list[str], str]:
    """Favourable-first labels, the label's values, and the favourable value as the label column spells it."""
    column = table.column(roles.label)
    label = _text(column)
    if (label == "").any():
        raise EvaluationError(f"label: {int((label == '').sum())} rows have no label value.")
    values = sorted(set(label.tolist()))
    if len(values) > 2:
        raise EvaluationError(
            f"label: binary checks need two values; {roles.label!r} has {len(values)}: {_spelt(values[:6])}."
        )
    if len(values) == 2 and _same_value_spelt_differently(*values):
        raise EvaluationError(
            f"label: {roles.label!r} spells one value two ways ({_spelt(values)}); recode it so each value has one "
            "spelling."
        )
    # One rule for numbers: a numeric column writes 1.0 as "1", and so is the favourable value read against it.
    favourable = _numeric_spelling(roles.favourable) if _is_numeric(column) else roles.favourable
    if favourable not in values:
        raise EvaluationError(
            f"favourable: {_strangers({favourable}, values)} is not a value of the label {roles.label!r} "
            f"(values: {_spelt(values)})."
        )
    return (label == favourable).astype(np.int8), values, favourable


def _scores(table: Any, roles: ColumnRoles) -> np.ndarray | None:
    import pyarrow.compute as pc

    if not roles.score:
        return None
    try:
        scores = pc.cast(table.column(roles.score), "float64").to_numpy(zero_copy_only=False)
    except Exception:
        raise EvaluationError(f"score: {roles.score!r} is not numeric.") from None
    if np.isnan(scores).any():
        raise EvaluationError(f"score: {int(np.isnan(scores).sum())} rows have no score (NaN or empty).")
    return scores


def _predicted(table: Any, roles: ColumnRoles, values: list[str], favourable: str) -> np.ndarray:
    prediction = _text(table.column(roles.prediction))
    if (prediction == "").any():
        raise EvaluationError(f"prediction: {int((prediction == '').sum())} rows have no prediction.")
    # The decisions speak the label's language: any other value (a third spelling such as 'Yes' beside 'yes', or
    # '1.0' beside '1') would silently count as unfavourable. This holds when the label has one value too.
    strangers = _strangers(set(prediction.tolist()), values)
    if strangers:
        raise EvaluationError(
            f"prediction: {roles.prediction!r} holds {strangers}, which the label {roles.label!r} never takes "
            f"(its values: {_spelt(values)}; favourable: {favourable!r}). Recode the decisions in the label's "
            "values."
        )
    return (prediction == favourable).astype(np.int8)


def _thresholded(scores: np.ndarray, roles: ColumnRoles) -> np.ndarray:
    if roles.threshold is None:
        raise EvaluationError("threshold: a score column needs a decision threshold.", field="threshold")
    low, high = float(scores.min()), float(scores.max())
    if not low <= roles.threshold <= high:
        raise EvaluationError(
            f"threshold: {roles.threshold} is outside the scores' range [{low:g}, {high:g}], so every decision "
            "would be the same.",
            field="threshold",
        )
    return (scores >= roles.threshold).astype(np.int8)


def _model_scorer(
    table: Any, roles: ColumnRoles, predictor: Any, *, labels: list[str], favourable: str
) -> tuple[np.ndarray, tuple[str, ...], Any]:
    """The feature matrix and a function giving the model's favourable decisions for any such matrix."""
    import pyarrow.compute as pc

    feature_names = roles.features or tuple(predictor.feature_names or ())
    if not feature_names:
        raise EvaluationError("features: name the model's input columns (the artifact does not say).")
    _missing(table, list(feature_names), "features (the model's inputs)")
    try:
        features = np.column_stack(
            [pc.cast(table.column(name), "float32").to_numpy(zero_copy_only=False) for name in feature_names]
        )
    except Exception:
        raise EvaluationError("features: the model's input columns must be numeric.") from None

    def outputs(matrix: np.ndarray) -> np.ndarray:
        predicted = np.asarray(predictor.predict(np.asarray(matrix, dtype=np.float32)))
        return np.array([label_text(v) for v in predicted])

    def predict(matrix: np.ndarray) -> np.ndarray:
        return outputs(matrix) == favourable

    # The model must speak the label's language: a model answering "yes"/"no" against labels "1"/"2" would make
    # every decision unfavourable, and equal rates would look fair.
    strangers = _strangers(set(outputs(features[: min(len(features), 5000)]).tolist()), labels)
    if strangers:
        raise EvaluationError(
            f"The model's outputs {strangers} are not values of the label {roles.label!r} ({_spelt(labels)}): check "
            "favourable and the label column."
        )
    return features, feature_names, predict


def _model_scores(predictor: Any, features: np.ndarray, *, favourable: str) -> tuple[np.ndarray | None, str]:
    """The model's probability of the ``favourable`` class for each row, or None and the reason it has none."""
    probability_of = getattr(predictor, "probability_of", None)
    if probability_of is None:
        return None, "the model gives no class probabilities"
    try:
        scores = np.asarray(probability_of(np.asarray(features, dtype=np.float32), favourable), dtype=np.float64)
    except ProbabilitiesUnavailable as exc:
        return None, str(exc)
    if scores.shape != (len(features),):
        return None, f"the model gave {scores.shape} probabilities for {len(features)} rows"
    return scores, ""


def _protected(table: Any, roles: ColumnRoles) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each role's values as text (missing: "") and its unknown mask (empty, or a declared unknown token)."""
    protected: dict[str, np.ndarray] = {}
    unknown: dict[str, np.ndarray] = {}
    for role, column in roles.protected_columns.items():
        values = _text(table.column(column))
        mask = values == ""
        tokens = roles.unknown_values.get(role, ())
        if tokens:
            mask |= np.isin(values, list(tokens))
        protected[role], unknown[role] = values, mask
        named = repr(role) if role == column else f"{role!r} (column {column!r})"
        known = sorted(set(values[~mask].tolist()))
        unknowns = int(mask.sum())
        what = "empty" + (f" or one of {_spelt(tokens)}" if tokens else "")
        if not known:
            raise EvaluationError(
                f"protected: every row of {named} is unknown ({what}); there is nothing to compare.",
                field="protected",
            )
        if len(known) == 1:
            left_out = f" once its {unknowns} unknown rows ({what}) are left out" if unknowns else ""
            raise EvaluationError(
                f"protected: every row of {named} is in one group ({known[0]!r}){left_out}; there is nothing to "
                "compare.",
                field="protected",
            )
    for role, reference in roles.reference_groups.items():
        if role not in protected:
            raise EvaluationError(f"reference_groups: {role!r} is not a protected role.")
        if reference not in set(protected[role][~unknown[role]].tolist()):
            why = " (it is the unknown category, never a reference)" if reference in protected[role] else ""
            raise EvaluationError(f"reference_groups: {role!r} has no group {reference!r}{why}.")
    for group in roles.exclusions:
        for role, value in _group_parts(group, roles):
            if value not in set(protected[role][~unknown[role]].tolist()):
                raise EvaluationError(
                    f"exclusions: {group!r} names no group: {role!r} has no value {value!r}.", field="exclusions"
                )
    return protected, unknown


def _group_parts(group: str, roles: ColumnRoles) -> list[tuple[str, str]]:
    """The (role, value) parts of a canonical group name ("sex=female, race_ethnicity=Asian")."""
    by_role = roles.protected_columns
    parts: list[list[str]] = []
    for segment in group.split(", "):
        key, sep, rest = segment.partition("=")
        if sep and key in by_role:
            parts.append([key, rest])
        elif parts:
            parts[-1][1] += ", " + segment
    return [(role, value) for role, value in parts]

"""Reading the table's columns: labels, decisions (a prediction column or thresholded scores), scores, and each
protected role's values with its unknown mask; each checked, with an ``EvaluationError`` naming the problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from audits.evaluation.roles import ColumnRoles, EvaluationError
from audits.evaluation.vocabulary import (
    _is_numeric,
    _numeric_spelling,
    _same_value_spelt_differently,
    _spellings,
    _spelt,
    _strangers,
)


def _missing(table: Any, names: Sequence[str], role: str) -> None:
    absent = [name for name in names if name and name not in table.column_names]
    if absent:
        raise EvaluationError(
            f"{role}: no column named {', '.join(repr(a) for a in absent)}. Columns: {', '.join(table.column_names)}.",
        )


def _labels(table: Any, roles: ColumnRoles) -> tuple[np.ndarray, list[str], str]:
    """Favourable-first labels, the label's values, and the favourable value as the label column spells it."""
    column = table.column(roles.label)
    label, spellings = _spellings(column)
    if "" in spellings:
        raise EvaluationError(f"label: {int((label == '').sum())} rows have no label value.")
    values = sorted(spellings)
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
    prediction, spellings = _spellings(table.column(roles.prediction))
    if "" in spellings:
        raise EvaluationError(f"prediction: {int((prediction == '').sum())} rows have no prediction.")
    # The decisions speak the label's language: any other value (a third spelling such as 'Yes' beside 'yes', or
    # '1.0' beside '1') would silently count as unfavourable. This holds when the label has one value too.
    strangers = _strangers(spellings, values)
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


def _protected(table: Any, roles: ColumnRoles) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each role's values as text (missing: "") and its unknown mask (empty, or a declared unknown token)."""
    protected: dict[str, np.ndarray] = {}
    unknown: dict[str, np.ndarray] = {}
    groups: dict[str, set[str]] = {}  # each role's known values: whether a row is unknown depends on its value only
    for role, column in roles.protected_columns.items():
        values, spellings = _spellings(table.column(column))
        mask = values == ""
        tokens = roles.unknown_values.get(role, ())
        if tokens:
            mask |= np.isin(values, list(tokens))
        protected[role], unknown[role] = values, mask
        named = repr(role) if role == column else f"{role!r} (column {column!r})"
        groups[role] = spellings - {""} - set(tokens)
        known = sorted(groups[role])
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
        if reference not in groups[role]:
            why = " (it is the unknown category, never a reference)" if reference in protected[role] else ""
            raise EvaluationError(f"reference_groups: {role!r} has no group {reference!r}{why}.")
    for group in roles.exclusions:
        for role, value in _group_parts(group, roles):
            if value not in groups[role]:
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

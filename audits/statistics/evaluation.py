"""An audit's ``Evaluation`` from a source: counted cells when the policy's checks need only counts, else rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from audits.evaluation import ColumnRoles, Evaluation, build_evaluation
from audits.statistics.engines import COUNT

# Checks that read only the group counts (audits.checks.groups.groupings): they run on counted cells.
COUNTED_CHECKS = frozenset({"disparate_impact", "group_fairness"})


@dataclass(frozen=True)
class Reading:
    """How a source was read for one audit: the engine, ``counted`` or ``rows``, why, and how many cells."""

    engine: str
    mode: str
    why: str
    cells: int | None = None
    # The source's quality profile computed by the engine (audits.statistics.profile), when the policy checks data
    # quality; the data-quality check reads it as it reads an upload's profile. Not part of ``data_source``.
    profile: dict[str, Any] | None = None
    # The sample the engine drew for explainability and adversarial (audits.statistics.samples), when drawn.
    sample: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        found = {"engine": self.engine, "mode": self.mode, "why": self.why, "cells": self.cells}
        return found | ({"sample": self.sample} if self.sample is not None else {})


def rows_needed(document: Mapping[str, Any], roles: ColumnRoles, *, model: bool = False) -> str:
    """Why this audit must read the source's rows, in words; empty when the cell counts suffice."""
    if model:
        return "its decisions come from the model, which scores every row in this process"
    if not roles.prediction:
        return "its decisions come from a score threshold, not a prediction column"
    if roles.score:
        return "it names a score column (scores are checked and used row by row)"
    checks = dict(document.get("checks") or {})
    others = sorted(set(checks) - COUNTED_CHECKS)
    if others:
        return f"the policy's {', '.join(others)} check(s) read rows"
    rate = dict(checks.get("disparate_impact") or {}).get("rate", "selection_rate")
    if rate == "scoring_rate":
        return "the policy asks for scoring rates (the share above the median score)"
    return ""


def counted_evaluation(engine: Any, roles: ColumnRoles, *, model_artifact: bool | None = None) -> Evaluation:
    """The evaluation of the cells ``engine`` counts over the label, prediction and protected columns: one row per
    distinct combination, with ``row_weights`` its number of rows. The combinations go through ``build_evaluation``
    as a file's rows do (so every spelling rule and refusal is the same); only the counting differs."""
    cells = engine.cells([roles.label, roles.prediction, *roles.protected])
    counts = cells.column(COUNT).to_numpy().astype("int64")
    evaluation = build_evaluation(
        cells.drop_columns([COUNT]), replace(roles, score="", threshold=None), model_artifact=model_artifact
    )
    evaluation.roles = roles
    evaluation.row_weights = counts
    evaluation.rows = int(counts.sum())
    return evaluation


def source_evaluation(
    engine: Any,
    roles: ColumnRoles,
    document: Mapping[str, Any],
    *,
    model_artifact: bool | None = None,
    predictor: Any = None,
    columns: Sequence[str] = (),
) -> tuple[Evaluation, Reading]:
    """The evaluation of a source for ``document`` (a parsed policy), and how it was read: counted cells when the
    policy needs only counts (:func:`rows_needed`), else every row of the roles' columns through the engine; with
    a ``predictor`` (the model decides), every row of ``columns`` (the source's), which the model scores."""
    if predictor is not None:
        table = engine.rows(list(columns))
        evaluation = build_evaluation(table, roles, predictor=predictor, model_artifact=True)
        return evaluation, Reading(engine.name, "rows", rows_needed(document, roles, model=True))
    why = rows_needed(document, roles)
    if not why:
        evaluation = counted_evaluation(engine, roles, model_artifact=model_artifact)
        cells = len(evaluation.row_weights) if evaluation.row_weights is not None else None
        return evaluation, Reading(engine.name, "counted", "the policy's checks need only group counts", cells)
    columns = [c for c in (roles.label, roles.prediction, roles.score, *roles.protected) if c]
    table = engine.rows(columns)
    return build_evaluation(table, roles, model_artifact=model_artifact), Reading(engine.name, "rows", why)

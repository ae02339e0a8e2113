"""Reading a source dataset version for one audit run: check its evidence, then count (or read) where it lives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from audits.checks.base import CheckContext
from audits.evaluation import ColumnRoles, Evaluation, EvaluationError, build_evaluation
from audits.statistics.engines import PostgresEngine, engine_for
from audits.statistics.evaluation import Reading, source_evaluation
from audits.statistics.profile import source_profile
from audits.statistics.samples import can_sample, draw_sample, sample_size
from governance.data.actions.common import DataError
from governance.data.actions.sources import checked_source, source_of
from governance.data.sources import SourceError, postgres
from governance.data.sources.uris import POSTGRESQL


class SourceInputsError(Exception):
    """The source cannot be audited as it stands (changed, unreadable, or its values refused); the message says why."""


def _evaluated(
    engine: Any, *, document: Mapping[str, Any], label_column: str, **given: Any
) -> tuple[Evaluation, Reading]:
    """``source_evaluation``, and the source's quality profile when the policy checks data quality."""
    evaluation, reading = source_evaluation(engine, document=document, **given)
    if "data_quality" in (document.get("checks") or {}):
        reading = replace(reading, profile=source_profile(engine, label_column=label_column))
    size = sample_size(document)
    if given.get("predictor") is not None and size and can_sample(engine):
        # Explainability and adversarial read a sample drawn by the engine (audits.statistics.samples).
        sample = draw_sample(engine, given.get("columns") or [], size=size, seed=CheckContext().seed)
        evaluation.sample = build_evaluation(  # type: ignore[attr-defined]  # read by those two checks
            sample.table, given["roles"], predictor=given["predictor"], model_artifact=True
        )
        reading = replace(reading, sample=sample.as_json())
    return evaluation, reading


def read_source(
    dataset_version: Any,
    roles: ColumnRoles,
    document: Mapping[str, Any],
    *,
    model_artifact: bool,
    predictor: Any = None,
) -> tuple[Evaluation, Reading]:
    """The evaluation of a source version for ``document``, after its immutability evidence is found unchanged.
    With a ``predictor`` (no prediction or score column: the model decides) every row is read and scored here."""
    columns = [column["name"] for column in dataset_version.schema]
    evaluate_source = partial(
        _evaluated, roles=roles, document=document, model_artifact=model_artifact, predictor=predictor,
        columns=columns, label_column=dataset_version.label_column,
    )  # fmt: skip
    try:
        source = source_of(dataset_version)
        if source.kind == POSTGRESQL:
            # The evidence and the counts in one snapshot: a change committed in between is not read.
            with postgres.snapshot(source) as connection:
                checked_source(dataset_version, connection=connection)
                return evaluate_source(PostgresEngine(source, connection=connection))
        checked_source(dataset_version)
        found = evaluate_source(engine_for(source))
        # Files have no snapshot: checked again after the read, so a file changed while DuckDB read it is refused.
        checked_source(dataset_version)
        return found
    except (DataError, SourceError, EvaluationError) as exc:
        raise SourceInputsError(str(exc)) from None
    except Exception as exc:  # an ONNX model that fails at inference, say (as for a file)
        if predictor is None:
            raise
        raise SourceInputsError(f"The model could not score the evaluation data: {exc}") from None

"""Reading a source dataset version for one audit run: check its evidence, then count (or read) where it lives."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audits.evaluation import ColumnRoles, Evaluation, EvaluationError
from audits.statistics.engines import PostgresEngine, engine_for
from audits.statistics.evaluation import Reading, source_evaluation
from governance.data.actions.common import DataError
from governance.data.actions.sources import checked_source, source_of
from governance.data.sources import SourceError, postgres
from governance.data.sources.uris import POSTGRESQL


class SourceInputsError(Exception):
    """The source cannot be audited as it stands (changed, unreadable, or its values refused); the message says why."""


def read_source(
    dataset_version: Any, roles: ColumnRoles, document: Mapping[str, Any], *, model_artifact: bool
) -> tuple[Evaluation, Reading]:
    """The evaluation of a source version for ``document``, after its immutability evidence is found unchanged."""
    if not (roles.prediction or roles.score):
        raise SourceInputsError(
            f"{dataset_version} is a source: it is audited from its prediction or score column. Scoring the model "
            "over a source's rows is not available; name the column that holds the model's decisions."
        )
    try:
        source = source_of(dataset_version)
        if source.kind == POSTGRESQL:
            # The evidence and the counts in one snapshot: a change committed in between is not read.
            with postgres.snapshot(source) as connection:
                checked_source(dataset_version, connection=connection)
                engine = PostgresEngine(source, connection=connection)
                return source_evaluation(engine, roles, document, model_artifact=model_artifact)
        checked_source(dataset_version)
        found = source_evaluation(engine_for(source), roles, document, model_artifact=model_artifact)
        # Files have no snapshot: checked again after the read, so a file changed while DuckDB read it is refused.
        checked_source(dataset_version)
        return found
    except (DataError, SourceError, EvaluationError) as exc:
        raise SourceInputsError(str(exc)) from None

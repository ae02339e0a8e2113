"""Decisions and scores from the model, when the table has neither: the feature matrix, a scorer that speaks the
label's values, and the model's probability of the favourable class (or the reason it gives none).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audits.evaluation.columns import _missing
from audits.evaluation.roles import ColumnRoles, EvaluationError
from audits.evaluation.vocabulary import _spelt, _strangers
from registry.artifacts import ProbabilitiesUnavailable, label_text


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

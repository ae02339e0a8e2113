"""A black-box model of German credit for the explainability and adversarial checks' tests: the data, a logistic
regression whose coefficients a test can set, and the Evaluation the checks read."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from audits.evaluation import ColumnRoles, Evaluation
from governance.data.demo import DEMO_FEATURES, german_credit_csv

FEATURES = (*DEMO_FEATURES, "sex")


@dataclass(frozen=True)
class German:
    features: np.ndarray
    favourable: np.ndarray
    sex: np.ndarray
    age_group: np.ndarray


def load_german() -> German:
    frame = pd.read_csv(io.BytesIO(german_credit_csv()))
    # Attribute 9 of german.doc: A92 and A95 are the female codes.
    female = frame["personal_status_sex"].isin(["A92", "A95"])
    frame["sex"] = female.astype(float)
    return German(
        features=frame[list(FEATURES)].to_numpy(np.float32),
        favourable=(frame["credit_risk"] == 1).to_numpy(np.int8),
        sex=np.where(female, "female", "male"),
        age_group=np.where(frame["age"] < 25, "under_25", "25_and_over"),
    )


def fitted(german: German, **weights: float) -> Pipeline:
    """Logistic regression on standardised features, with the named coefficients then set by hand."""
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(german.features, german.favourable)
    for name, weight in weights.items():
        model[-1].coef_[0, FEATURES.index(name)] = weight
    return model


def decisions(model: Pipeline) -> Any:
    def predict(matrix: np.ndarray) -> np.ndarray:
        return model.predict(np.asarray(matrix, dtype=np.float32)) == 1

    return predict


def evaluation(german: German, predict: Any, *, protected: tuple[str, ...] = ("sex", "age_group")) -> Evaluation:
    columns = {"sex": german.sex, "age_group": german.age_group}
    return Evaluation(
        y_true=german.favourable,
        y_pred=np.zeros(len(german.favourable), dtype=np.int8)
        if predict is None
        else predict(german.features).astype(np.int8),
        scores=None,
        protected={name: columns[name] for name in protected},
        roles=ColumnRoles(label="credit_risk", protected=protected, features=FEATURES),
        features=None if predict is None else german.features,
        feature_names=FEATURES if predict is not None else (),
        predict=predict,
        rows=len(german.favourable),
    )

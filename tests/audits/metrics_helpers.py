"""The real evaluations and reference views shared by the group-metric tests (test_metrics.py, test_metrics_edges.py,
test_metrics_statistics.py): a small logistic regression's predictions on German credit and Adult, one evaluation
case (data set, protected columns, weighted or not) and aif360's view of it.

``german`` and ``adult`` are fixtures that the test modules import by name: tests/audits/conftest.py already has a
``german`` fixture (the raw German credit table) for other tests, so these cannot live there.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from aif360.datasets import BinaryLabelDataset
from aif360.metrics import BinaryLabelDatasetMetric, ClassificationMetric
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from audits import metrics as km
from governance.data.demo import german_credit_csv
from tests import ADULT_NAMES_COLUMNS as ADULT_COLUMNS
from tests import KNOWN_ANSWER_DATA

# Byte-for-byte public copies of the benchmark files, described (source, licence, checksums) in SOURCES.md there.
DATA = KNOWN_ANSWER_DATA


# ---------------------------------------------------------------------------------------------------------------
# Real evaluations: a small logistic regression's predictions on German credit and Adult
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """Rows of a real data set with protected attributes, true labels, predictions and sample weights."""

    frame: pd.DataFrame  # protected columns, y_true, y_pred, weight
    privileged: Mapping[str, str]  # the privileged value of each protected column (aif360's examples' choice)


def _predict(features: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    model = make_pipeline(StandardScaler(), LogisticRegression(random_state=0, max_iter=1000))
    model.fit(features.to_numpy(dtype=float), labels)
    return model.predict(features.to_numpy(dtype=float)).astype(np.int64)


@pytest.fixture(scope="module")
def german() -> Evaluation:
    raw = pd.read_csv(io.BytesIO(german_credit_csv()))
    assert len(raw) == 1000
    y_true = (raw["credit_risk"] == 1).astype(np.int64).to_numpy()  # 1 good, 2 bad (german.doc)
    features = raw[["duration_months", "credit_amount", "installment_rate", "residence_since", "age"]]
    frame = pd.DataFrame(
        {
            # Attribute 9: A91, A93, A94 male; A92, A95 female (aif360's GermanDataset mapping).
            "sex": np.where(raw["personal_status_sex"].isin(["A92", "A95"]), "female", "male"),
            "age": np.where(raw["age"] <= 25, "<=25", ">25"),
            "y_true": y_true,
            "y_pred": _predict(features, y_true),
            "weight": np.random.default_rng(9).uniform(0.5, 2.0, len(raw)),
        }
    )
    return Evaluation(frame=frame, privileged={"sex": "male", "age": ">25"})


@pytest.fixture(scope="module")
def adult() -> Evaluation:
    path = DATA / "adult.data"
    # A missing file fails the test: skipping would hide that the known answers were never checked.
    assert path.exists(), f"known-answer data {path} is not available (set ASSAY_KNOWN_ANSWER_DATA)"
    raw = pd.read_csv(path, header=None, names=ADULT_COLUMNS, skipinitialspace=True)
    assert len(raw) == 32561
    y_true = (raw["income"] == ">50K").astype(np.int64).to_numpy()
    features = raw[["age", "education-num", "capital-gain", "capital-loss", "hours-per-week"]]
    frame = pd.DataFrame(
        {
            "sex": raw["sex"].to_numpy(dtype=object),
            "race": raw["race"].to_numpy(dtype=object),
            "y_true": y_true,
            "y_pred": _predict(features, y_true),
            "weight": raw["fnlwgt"].to_numpy(dtype=float),  # the census sampling weight: real weights
        }
    )
    return Evaluation(frame=frame, privileged={"sex": "Male", "race": "White"})


@dataclass(frozen=True)
class Case:
    evaluation: Evaluation
    columns: tuple[str, ...]
    weighted: bool

    @property
    def frame(self) -> pd.DataFrame:
        return self.evaluation.frame

    @property
    def weights(self) -> np.ndarray | None:
        return self.frame["weight"].to_numpy() if self.weighted else None

    def groups(self) -> km.GroupIndex:
        return km.encode_groups({column: self.frame[column].to_numpy() for column in self.columns})

    def counts(self) -> km.GroupCounts:
        return km.confusion_by_group(
            y_true=self.frame["y_true"].to_numpy(),
            y_pred=self.frame["y_pred"].to_numpy(),
            groups=self.groups(),
            sample_weight=self.weights,
        )

    def sensitive_features(self) -> pd.Series | pd.DataFrame:
        if len(self.columns) == 1:
            return self.frame[self.columns[0]]
        return self.frame[list(self.columns)]

    def privileged(self) -> dict[str, str]:
        return {column: self.evaluation.privileged[column] for column in self.columns}

    def unprivileged(self) -> list[dict[str, str]]:
        """Everyone else: the union, over columns, of the rows with any other value (an aif360 list of dicts)."""
        return [
            {column: value}
            for column in self.columns
            for value in sorted(set(self.frame[column]))
            if value != self.evaluation.privileged[column]
        ]


# ---------------------------------------------------------------------------------------------------------------
# aif360: BinaryLabelDataset, ClassificationMetric, BinaryLabelDatasetMetric
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Aif360View:
    truth: Any  # BinaryLabelDataset with the true labels
    predicted: Any  # the same with the predictions
    codes: dict[str, dict[str, int]]  # per protected column, value -> the number aif360 sees

    def condition(self, selector: Mapping[str, str] | Sequence[Mapping[str, str]]) -> list[dict[str, int]]:
        parts = [selector] if isinstance(selector, Mapping) else list(selector)
        return [{column: self.codes[column][value] for column, value in part.items()} for part in parts]

    def classification(self, *, privileged: Any, unprivileged: Any = None) -> Any:
        return ClassificationMetric(
            self.truth,
            self.predicted,
            privileged_groups=self.condition(privileged),
            unprivileged_groups=None if unprivileged is None else self.condition(unprivileged),
        )

    def dataset(self, *, privileged: Any, unprivileged: Any) -> Any:
        return BinaryLabelDatasetMetric(
            self.truth,
            privileged_groups=self.condition(privileged),
            unprivileged_groups=self.condition(unprivileged),
        )


def _aif360(case: Case) -> Aif360View:
    codes = {column: {value: i for i, value in enumerate(sorted(set(case.frame[column])))} for column in case.columns}
    data = pd.DataFrame({column: case.frame[column].map(codes[column]).astype(float) for column in case.columns})
    data["label"] = case.frame["y_true"].astype(float)
    data["weight"] = case.frame["weight"] if case.weighted else 1.0
    truth = BinaryLabelDataset(
        df=data,
        label_names=["label"],
        protected_attribute_names=list(case.columns),
        favorable_label=1.0,
        unfavorable_label=0.0,
        instance_weights_name="weight",
    )
    predicted = truth.copy(deepcopy=True)
    predicted.labels = case.frame["y_pred"].to_numpy(dtype=float).reshape(-1, 1)
    return Aif360View(truth=truth, predicted=predicted, codes=codes)

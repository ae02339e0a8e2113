"""Tests for registry/artifacts.py: what uploads are accepted, what is refused, and why.

Real models trained on scikit-learn's bundled datasets (no download), exported with skl2onnx and
skops, are inspected and scored against the original estimator. Every refusal asserts its stable
code and that the message tells the uploader what to do. Plain pytest; no database.

This module holds what ONNX and skops files are accepted (and their forgeries refused); pickles and the other
refusals are in test_artifacts_refusals.py.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn
import skops.io
from onnx import TensorProto, helper, numpy_helper
from onnx.external_data_helper import set_external_data
from skl2onnx import to_onnx
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

from registry.artifacts import SKOPS_ALLOWED_TYPES, ArtifactError, InspectedArtifact, inspect_artifact, load_predictor
from tests.registry.artifact_helpers import MAX_BYTES, refuse, write


class Doubler(TransformerMixin, BaseEstimator):
    """A custom transformer: its class lives in this test module, not in scikit-learn."""

    def fit(self, X: Any, y: Any = None) -> Doubler:
        return self

    def transform(self, X: Any) -> Any:
        return np.asarray(X) * 2


@pytest.fixture(scope="module")
def skops_bytes(scaled_logreg: Pipeline) -> bytes:
    return skops.io.dumps(scaled_logreg)


# ---------------------------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------------------------


def test_onnx_model_is_described_and_scores_like_sklearn(
    tmp_path: Path, onnx_bytes: bytes, iris_logreg: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    path = write(tmp_path, "upload-1", onnx_bytes)

    inspected = inspect_artifact(path, filename="iris.onnx", max_bytes=MAX_BYTES)

    assert inspected == InspectedArtifact(
        framework="onnx",
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        size=len(onnx_bytes),
        input_schema=[{"name": "X", "type": "float", "shape": [None, 4]}],
        output_schema=[
            {"name": "label", "type": "int64", "shape": [None]},
            {"name": "probabilities", "type": "float", "shape": [None, 3]},
        ],
        details=inspected.details,
    )
    assert inspected.details["producer_name"] == "skl2onnx"
    assert {"domain": "ai.onnx.ml", "version": 1} in inspected.details["opset_imports"]
    assert inspected.details["ir_version"] >= 3

    X, _ = iris
    rows = X.astype(np.float32)
    predictor = load_predictor(path, framework="onnx")
    assert predictor.framework == "onnx"
    assert predictor.feature_names is None
    np.testing.assert_array_equal(predictor.predict(rows), iris_logreg.predict(rows))
    np.testing.assert_allclose(predictor.predict_proba(rows), iris_logreg.predict_proba(rows), rtol=1e-5, atol=1e-6)


def test_onnx_zipmap_probabilities_become_an_array(
    tmp_path: Path, iris_logreg: LogisticRegression, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    X, _ = iris
    rows = X.astype(np.float32)
    path = write(tmp_path, "zipmap.onnx", to_onnx(iris_logreg, rows[:1]).SerializeToString())

    inspected = inspect_artifact(path, filename=path.name, max_bytes=MAX_BYTES)
    predictor = load_predictor(path, framework="onnx")

    assert [o["name"] for o in inspected.output_schema] == ["output_label", "output_probability"]
    probabilities = predictor.predict_proba(rows)
    assert probabilities is not None
    assert probabilities.shape == (len(rows), 3)
    np.testing.assert_allclose(probabilities, iris_logreg.predict_proba(rows), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(predictor.predict(rows), iris_logreg.predict(rows))


def test_onnx_regressor_predicts_one_value_per_row_and_has_no_probabilities(tmp_path: Path) -> None:
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X, y)
    rows = X.astype(np.float32)
    path = write(tmp_path, "diabetes.onnx", to_onnx(model, rows[:1]).SerializeToString())

    inspected = inspect_artifact(path, filename=path.name, max_bytes=MAX_BYTES)
    predictor = load_predictor(path, framework="onnx")

    assert inspected.output_schema == [{"name": "variable", "type": "float", "shape": [None, 1]}]
    assert predictor.predict(rows).shape == (len(rows),)
    np.testing.assert_allclose(predictor.predict(rows), model.predict(rows), rtol=1e-4)
    assert predictor.predict_proba(rows) is None


def test_random_bytes_named_onnx_are_not_an_onnx_model(tmp_path: Path) -> None:
    path = write(tmp_path, "model.onnx", np.random.default_rng(7).bytes(4096))

    error = refuse(path)

    assert error.code == "not_onnx"
    assert str(error).startswith("model.onnx is not an ONNX model: ")
    assert "Traceback" not in str(error)


def test_truncated_onnx_is_refused_in_words(tmp_path: Path, onnx_bytes: bytes) -> None:
    path = write(tmp_path, "model.onnx", onnx_bytes[: len(onnx_bytes) // 2])

    error = refuse(path)

    assert error.code == "corrupt"
    assert "truncated" in str(error)
    assert "Wire format" in str(error)  # the parser's reason, in words


def test_onnx_with_external_data_is_refused(tmp_path: Path) -> None:
    weights = numpy_helper.from_array(np.ones((4, 3), dtype=np.float32), name="W")
    # Weights "stored" in a file outside the upload: what a hostile model would point at.
    set_external_data(weights, location="../../etc/passwd")
    weights.data_location = TensorProto.EXTERNAL
    weights.ClearField("raw_data")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "linear",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [None, 3])],
        initializer=[weights],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    error = refuse(write(tmp_path, "model.onnx", model.SerializeToString()))

    assert error.code == "external_data"
    assert "external data" in str(error)
    assert "save_as_external_data=False" in str(error)
    assert error.details == {"external_tensors": ["W"]}


def test_skops_file_named_onnx_is_an_extension_mismatch(tmp_path: Path, skops_bytes: bytes) -> None:
    error = refuse(write(tmp_path, "model.onnx", skops_bytes))

    assert error.code == "extension_mismatch"
    assert "model.onnx is named like an ONNX model but its content is a skops file" in str(error)
    assert "Rename it to model.skops" in str(error)


def test_onnx_file_named_skops_is_an_extension_mismatch(tmp_path: Path, onnx_bytes: bytes) -> None:
    error = refuse(write(tmp_path, "model.skops", onnx_bytes))

    assert error.code == "extension_mismatch"
    assert "Rename it to model.onnx" in str(error)


# ---------------------------------------------------------------------------------------------
# skops
# ---------------------------------------------------------------------------------------------


def test_skops_pipeline_is_described_and_scores_like_sklearn(
    tmp_path: Path, skops_bytes: bytes, scaled_logreg: Pipeline, cancer: tuple[np.ndarray, np.ndarray]
) -> None:
    path = write(tmp_path, "upload-2", skops_bytes)

    inspected = inspect_artifact(path, filename="credit.skops", max_bytes=MAX_BYTES)

    assert inspected.framework == "skops"
    assert inspected.sha256 == hashlib.sha256(skops_bytes).hexdigest()
    assert inspected.size == len(skops_bytes)
    assert inspected.input_schema == [{"name": "X", "type": "float", "shape": [None, 30]}]
    assert inspected.output_schema == [
        {"name": "label", "type": "int64", "shape": [None]},
        {"name": "probabilities", "type": "float", "shape": [None, 2]},
    ]
    assert inspected.details["estimator"] == "sklearn.pipeline.Pipeline"
    assert inspected.details["sklearn_version"] == sklearn.__version__
    assert inspected.details["classes"] == [0, 1]
    assert inspected.details["n_features_in"] == 30
    assert "sklearn.linear_model._logistic.LogisticRegression" in inspected.details["types"]
    assert set(inspected.details["types"]) <= SKOPS_ALLOWED_TYPES

    X, _ = cancer
    predictor = load_predictor(path, framework="skops")
    assert predictor.framework == "skops"
    np.testing.assert_array_equal(predictor.predict(X), scaled_logreg.predict(X))
    np.testing.assert_array_equal(predictor.predict_proba(X), scaled_logreg.predict_proba(X))


@pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")
def test_skops_feature_names_become_the_input_schema(tmp_path: Path, cancer: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = cancer
    names = list(load_breast_cancer().feature_names)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    # What fitting on a DataFrame records; set by hand because pandas is not installed.
    model.feature_names_in_ = np.array(names, dtype=object)
    path = write(tmp_path, "named.skops", skops.io.dumps(model))

    inspected = inspect_artifact(path, filename=path.name, max_bytes=MAX_BYTES)
    predictor = load_predictor(path, framework="skops")

    assert inspected.input_schema == [{"name": n, "type": "float", "shape": [None]} for n in names]
    assert predictor.feature_names == names
    np.testing.assert_array_equal(predictor.predict(X), model.predict(X))


@pytest.mark.parametrize(
    "make_model",
    [
        pytest.param(lambda: RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), id="random-forest"),
        pytest.param(lambda: GradientBoostingClassifier(n_estimators=5, random_state=0), id="gradient-boosting"),
        pytest.param(lambda: HistGradientBoostingClassifier(max_iter=5, random_state=0), id="hist-gradient-boosting"),
        pytest.param(lambda: DecisionTreeClassifier(max_leaf_nodes=6, random_state=0), id="best-first-tree"),
        pytest.param(lambda: KNeighborsClassifier(algorithm="kd_tree"), id="knn-kd-tree"),
        pytest.param(lambda: KNeighborsClassifier(algorithm="ball_tree"), id="knn-ball-tree"),
        pytest.param(
            lambda: SVC(probability=True, random_state=0),
            id="svc",
            marks=pytest.mark.filterwarnings("ignore:The `probability` parameter was deprecated:FutureWarning"),
        ),
    ],
)
def test_allow_listed_estimators_load_and_score_like_sklearn(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray], make_model: Any
) -> None:
    X, y = iris
    model = make_model().fit(X, y)
    path = write(tmp_path, "model.skops", skops.io.dumps(model))

    inspect_artifact(path, filename=path.name, max_bytes=MAX_BYTES)
    predictor = load_predictor(path, framework="skops")

    np.testing.assert_array_equal(predictor.predict(X), model.predict(X))
    np.testing.assert_array_equal(predictor.predict_proba(X), model.predict_proba(X))


def test_one_hot_encoder_pipeline_on_strings_loads(tmp_path: Path) -> None:
    X = np.array([["red", "s"], ["blue", "m"], ["red", "l"], ["green", "m"]] * 10, dtype=object)
    y = np.arange(len(X)) % 2
    model = make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression()).fit(X, y)
    path = write(tmp_path, "encoded.skops", skops.io.dumps(model))

    inspect_artifact(path, filename=path.name, max_bytes=MAX_BYTES)

    np.testing.assert_array_equal(load_predictor(path, framework="skops").predict(X), model.predict(X))


def test_function_transformer_is_refused_and_named(tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]) -> None:
    X, y = iris
    model = make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=1000)).fit(X, y)
    path = write(tmp_path, "model.skops", skops.io.dumps(model))

    error = refuse(path)

    assert error.code == "untrusted_types"
    assert error.details["untrusted_types"] == [
        "numpy.log1p",
        "sklearn.preprocessing._function_transformer.FunctionTransformer",
    ]
    message = str(error)
    assert "asks to load types outside Assay's allow-list: numpy.log1p, sklearn.preprocessing" in message
    assert "ask an administrator to review and add them" in message


def test_custom_class_is_refused_and_load_predictor_refuses_it_too(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray]
) -> None:
    X, y = iris
    model = make_pipeline(Doubler(), LogisticRegression(max_iter=1000)).fit(X, y)
    path = write(tmp_path, "model.skops", skops.io.dumps(model))

    error = refuse(path)
    with pytest.raises(ArtifactError) as again:
        load_predictor(path, framework="skops")

    assert error.code == again.value.code == "untrusted_types"
    assert error.details["untrusted_types"] == [f"{Doubler.__module__}.Doubler"]
    assert f"{Doubler.__module__}.Doubler" in str(error)


def test_truncated_skops_file_is_corrupt(tmp_path: Path, skops_bytes: bytes) -> None:
    error = refuse(write(tmp_path, "model.skops", skops_bytes[: len(skops_bytes) * 2 // 3]))

    assert error.code == "corrupt"
    assert "cannot be read" in str(error)
    assert "upload the file again" in str(error)


def test_skops_file_with_a_broken_schema_is_corrupt(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", "{not json")
    error = refuse(write(tmp_path, "model.skops", buffer.getvalue()))

    assert error.code == "corrupt"
    assert error.message.startswith("model.skops is not a readable skops file: ")


def _forge_tree_child(model: Any) -> None:
    state = model.tree_.__getstate__()
    state["nodes"] = state["nodes"].copy()
    state["nodes"]["left_child"][0] = 10**6
    model.tree_.__setstate__(state)


def _forge_tree_feature(model: Any) -> None:
    state = model.tree_.__getstate__()
    state["nodes"] = state["nodes"].copy()
    state["nodes"]["feature"][0] = 99
    model.tree_.__setstate__(state)


def _forge_hist_gradient_boosting_child(model: Any) -> None:
    model._predictors[0][0].nodes["right"][0] = 10**6


def _forge_kd_tree_index(model: Any) -> None:
    state = list(model._tree.__getstate__())
    state[1] = state[1].copy()
    state[1][0] = 10**6
    model._tree.__setstate__(tuple(state))


def _forge_svc_counts(model: Any) -> None:
    # Same total (scikit-learn's own check passes), but libsvm would start reading before the array.
    model._n_support = model._n_support.copy()
    model._n_support[1] += model._n_support[0] + 5
    model._n_support[0] = -5


def _forge_one_hot_columns(model: Any) -> None:
    model.steps[0][1]._n_features_outs = [1, 1]


@pytest.mark.parametrize(
    ("make_model", "forge", "reason"),
    [
        (lambda: DecisionTreeClassifier(random_state=0), _forge_tree_child, "points to a child outside the tree"),
        (lambda: DecisionTreeClassifier(random_state=0), _forge_tree_feature, "splits on a feature that does not"),
        (lambda: HistGradientBoostingClassifier(max_iter=2), _forge_hist_gradient_boosting_child, "outside the tree"),
        (lambda: KNeighborsClassifier(algorithm="kd_tree"), _forge_kd_tree_index, "samples that do not exist"),
        (SVC, _forge_svc_counts, "malformed support vector counts"),
        (
            lambda: make_pipeline(OneHotEncoder(), LogisticRegression()),
            _forge_one_hot_columns,
            "columns that do not exist",
        ),
    ],
    ids=["tree-child", "tree-feature", "hgb-child", "kd-tree-index", "svc-counts", "one-hot-columns"],
)
def test_allowed_types_with_forged_indices_are_refused(
    tmp_path: Path, iris: tuple[np.ndarray, np.ndarray], make_model: Any, forge: Any, reason: str
) -> None:
    X, y = iris
    if forge is _forge_one_hot_columns:
        X = np.array([["a", "x"], ["b", "y"], ["c", "x"]] * 50, dtype=object)
    model = make_model().fit(X, y)
    forge(model)  # what an attacker can write into a skops file: allowed types, impossible values
    path = write(tmp_path, "model.skops", skops.io.dumps(model))

    error = refuse(path)

    assert error.code == "corrupt"
    assert reason in str(error)
    assert "tampered with" in str(error)


def test_allow_list_excludes_callables_and_every_entry_exists() -> None:
    assert "sklearn.preprocessing._function_transformer.FunctionTransformer" not in SKOPS_ALLOWED_TYPES
    dangerous = ("builtins.eval", "builtins.exec", "builtins.compile", "builtins.open", "builtins.getattr")
    dangerous += ("builtins.__import__", "os.", "posix.", "subprocess.", "sys.", "importlib.", "pickle.")
    dangerous += ("marshal.", "ctypes.", "functools.", "operator.", "shutil.", "socket.", "runpy.", "code.")
    assert not [name for name in SKOPS_ALLOWED_TYPES if name.startswith(dangerous)]
    # Names are what skops reports, so each one must resolve in the installed libraries.
    for name in SKOPS_ALLOWED_TYPES:
        module, _, attribute = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attribute), type), name

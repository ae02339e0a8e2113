"""ONNX models: inspection (checker, external data refused, input and output schema) and scoring with onnxruntime,
with the classes of a probability output as the graph itself declares them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from registry.artifacts.bounds import _check_onnx_graph, _check_onnx_wire_nodes
from registry.artifacts.common import ArtifactError, ArtifactLimits, _library_errors
from registry.artifacts.predictors import (
    Predictor,
    ProbabilitiesUnavailable,
    _checked_probabilities,
    _class_column,
    label_text,
)

_ORT_NUMPY_TYPES = {
    "float": "float32",
    "double": "float64",
    "float16": "float16",
    "int64": "int64",
    "int32": "int32",
    "int16": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
    "string": "object",
}


def _inspect_onnx(
    path: str, name: str, *, looks_like_onnx: bool, limits: ArtifactLimits
) -> tuple[list[dict], list[dict], dict[str, Any]]:
    _check_onnx_wire_nodes(path, name, limits)
    model = _load_onnx_proto(path, name, looks_like_onnx=looks_like_onnx)
    import onnx

    _check_onnx_graph(model, name, limits)
    with _library_errors("corrupt", f"{name} is not a valid ONNX model"):
        # A path, not the loaded proto: the checker reads the file itself (no 2 GB protobuf limit).
        onnx.checker.check_model(path, full_check=True)
    # Only the names and types of inputs and outputs are read from this session: without graph optimisations,
    # onnxruntime computes nothing (no constant folding) while creating it.
    session = _onnx_session(path, name, optimize=False)
    opsets: list[dict[str, Any]] = []
    for opset in model.opset_import:
        entry = {"domain": opset.domain or "ai.onnx", "version": int(opset.version)}
        if entry not in opsets:  # skl2onnx repeats the default domain
            opsets.append(entry)
    details = {
        "ir_version": int(model.ir_version),
        "opset_imports": opsets,
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "domain": model.domain,
        "model_version": int(model.model_version),
        "graph_name": model.graph.name,
    }
    input_schema = [_ort_schema(arg) for arg in session.get_inputs()]
    output_schema = [_ort_schema(arg) for arg in session.get_outputs()]
    return input_schema, output_schema, details


def _load_onnx_proto(path: str, name: str, *, looks_like_onnx: bool) -> Any:
    import onnx

    if looks_like_onnx:
        code, prefix = "corrupt", f"{name} looks like an ONNX model but cannot be read (the upload may be truncated)"
        advice = "Upload the file again, or export the model again."
    else:
        code, prefix = "not_onnx", f"{name} is not an ONNX model"
        advice = "Export the model to ONNX (for example with skl2onnx) and upload the .onnx file that writes."
    with _library_errors(code, prefix, advice):
        # Never follow external data here: its paths come from the file.
        model = onnx.load(path, load_external_data=False)
    if not model.HasField("graph") or not model.ir_version:
        raise ArtifactError(code, f"{prefix}: it has no graph or no IR version. {advice}")
    external = _external_tensor_names(model)
    if external:
        shown = ", ".join(external[:5]) + (f" and {len(external) - 5} more" if len(external) > 5 else "")
        raise ArtifactError(
            "external_data",
            f"{name} keeps some weights in separate files (ONNX external data: {shown}). Assay accepts only "
            "self-contained models, because the file paths inside such a model could point anywhere on the "
            "server. Save it with the weights inside: `onnx.save_model(model, 'model.onnx', "
            "save_as_external_data=False)` (this works for models under 2 GB).",
            details={"external_tensors": external},
        )
    return model


def _external_tensor_names(model: Any) -> list[str]:
    """Names of every tensor in the model (graphs, subgraphs, functions) stored outside the file."""
    from onnx import TensorProto

    def graph_tensors(graph: Any) -> Iterator[Any]:
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        for node in graph.node:
            yield from node_tensors(node)

    def node_tensors(node: Any) -> Iterator[Any]:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("sparse_tensor"):
                yield attribute.sparse_tensor.values
                yield attribute.sparse_tensor.indices
            for sparse in attribute.sparse_tensors:
                yield sparse.values
                yield sparse.indices
            if attribute.HasField("g"):
                yield from graph_tensors(attribute.g)
            for graph in attribute.graphs:
                yield from graph_tensors(graph)

    def all_tensors() -> Iterator[Any]:
        yield from graph_tensors(model.graph)
        for info in model.training_info:
            yield from graph_tensors(info.initialization)
            yield from graph_tensors(info.algorithm)
        for function in model.functions:
            for node in function.node:
                yield from node_tensors(node)

    return [t.name or "(unnamed)" for t in all_tensors() if t.data_location == TensorProto.EXTERNAL or t.external_data]


def _onnx_session(path: str, name: str, *, optimize: bool = True) -> Any:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    if not optimize:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    # One thread per session and no spinning: a scoring job must not grab every core of the host.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: warnings about unused initializers are noise here
    with _library_errors("corrupt", f"onnxruntime cannot load {name}"):
        return onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def _ort_type(ort_type: str) -> str:
    # "tensor(float)" -> "float"; sequences and maps (ZipMap outputs) keep their full description.
    if ort_type.startswith("tensor(") and ort_type.endswith(")"):
        return ort_type[len("tensor(") : -1]
    return ort_type


def _ort_schema(arg: Any) -> dict[str, Any]:
    shape = arg.shape if isinstance(arg.shape, list) else []
    return {
        "name": arg.name,
        "type": _ort_type(arg.type),
        "shape": [dim if isinstance(dim, int | str) else None for dim in shape],
    }


class _OnnxPredictor(Predictor):
    """An onnxruntime session with the conventions of skl2onnx classifiers and regressors."""

    def __init__(self, path: str, name: str, *, limits: ArtifactLimits) -> None:
        _check_onnx_wire_nodes(path, name, limits)
        model = _load_onnx_proto(path, name, looks_like_onnx=True)  # refuses external data again
        _check_onnx_graph(model, name, limits)  # before onnxruntime folds any constant
        self.framework = "onnx"
        self._session = _onnx_session(path, name)
        self._inputs = [
            (arg.name, np.dtype(_ORT_NUMPY_TYPES.get(_ort_type(arg.type), "float32")))
            for arg in self._session.get_inputs()
        ]
        outputs = self._session.get_outputs()
        names = [o.name for o in outputs]
        self._label = next((n for n in ("label", "output_label") if n in names), names[0])
        probability = next((n for n in ("probabilities", "output_probability") if n in names), None)
        if probability is None and len(outputs) == 2:
            other = outputs[1 - names.index(self._label)]
            if other.type.startswith("seq(map(") or (other.type == "tensor(float)" and len(other.shape or []) == 2):
                probability = other.name
        self._probability = probability
        self._classes = _onnx_probability_classes(model.graph, probability) if probability else None
        self.feature_names = [n for n, _ in self._inputs] if len(self._inputs) > 1 else None
        # The checked graph, read by the explainability check for a linear model's coefficients (no Python runs).
        self.onnx_model = model

    def _feeds(self, X: np.ndarray) -> dict[str, np.ndarray]:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (rows, features), got shape {X.shape}")
        if len(self._inputs) == 1:
            input_name, dtype = self._inputs[0]
            return {input_name: np.ascontiguousarray(X.astype(dtype, copy=False))}
        # One input per column (skl2onnx with a list of initial types): split X in that order.
        if X.shape[1] != len(self._inputs):
            raise ValueError(f"this model takes {len(self._inputs)} columns, X has {X.shape[1]}")
        return {n: np.ascontiguousarray(X[:, [j]].astype(dtype)) for j, (n, dtype) in enumerate(self._inputs)}

    def predict(self, X: np.ndarray) -> np.ndarray:
        (labels,) = self._session.run([self._label], self._feeds(X))
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels.ravel()  # regressors give (n, 1); sklearn's predict gives (n,)
        return labels

    def predict_proba(self, X: np.ndarray) -> np.ndarray | None:
        if self._probability is None:
            return None
        (probabilities,) = self._session.run([self._probability], self._feeds(X))
        if isinstance(probabilities, list):
            # ZipMap output: one {class: probability} dict per row, classes in the model's order.
            if not probabilities:
                return np.empty((0, 0), dtype=np.float32)
            classes = list(probabilities[0])
            return np.array([[row[c] for c in classes] for row in probabilities], dtype=np.float32)
        return np.asarray(probabilities)

    def class_labels(self) -> list[str] | None:
        return None if self._classes is None else list(self._classes)

    def probability_of(self, X: np.ndarray, label: str) -> np.ndarray:
        if self._probability is None:
            raise ProbabilitiesUnavailable("the model gives no class probabilities (its ONNX graph has no such output)")
        output = f"output {self._probability!r}"
        if self._classes is not None:
            _class_column(self._classes, label)  # refused before the model runs
        (probabilities,) = self._session.run([self._probability], self._feeds(X))
        if isinstance(probabilities, list):
            # ZipMap: every row is {class: probability}, so the keys say which class each value is.
            keys = list(probabilities[0]) if probabilities else []
            if not keys:
                return np.empty(0, dtype=np.float64)
            classes = [label_text(key) for key in keys]
            matrix = [[row[key] for key in keys] for row in probabilities]
        elif self._classes is None:
            _checked_probabilities(probabilities, classes=None, output=output)  # a decision score says so first
            raise ProbabilitiesUnavailable(
                f"the model's {output} does not say which class each of its columns is (no ZipMap, and no class "
                "labels on a classifier node producing it); export the model with skl2onnx's ZipMap (its default) "
                "so that the classes are named"
            )
        else:
            classes, matrix = self._classes, probabilities
        return _checked_probabilities(matrix, classes=classes, output=output)[:, _class_column(classes, label)]


# ai.onnx.ml classifier operators, whose outputs are (label, one score per class in classlabels order), and the
# operators that pass a tensor on with its columns unchanged.
_ONNX_CLASSIFIERS = frozenset({"LinearClassifier", "SVMClassifier", "TreeEnsembleClassifier"})


_ONNX_PASS_THROUGH = frozenset({"Identity", "Cast"})


def _onnx_probability_classes(graph: Any, output: str) -> list[str] | None:
    """The classes of probability output ``output``, in column order, as the graph itself declares them.

    That is the class labels of the ZipMap producing it, or of the classifier node whose scores reach it unchanged
    (through Identity or Cast only), as skl2onnx writes classifiers. None when the graph does not say: the output
    is computed some other way (a neural network's softmax, say), and guessing the order could swap the classes.
    """
    producers = {name: node for node in graph.node for name in node.output}
    name = output
    for _ in range(len(graph.node)):  # bounded: a malformed graph could loop
        node = producers.get(name)
        if node is None:
            return None
        if node.domain in ("", "ai.onnx") and node.op_type in _ONNX_PASS_THROUGH and node.input:
            name = node.input[0]
            continue
        if node.domain != "ai.onnx.ml":
            return None
        if node.op_type == "ZipMap" or (node.op_type in _ONNX_CLASSIFIERS and list(node.output).index(name) == 1):
            return _onnx_class_labels(node)
        return None
    return None


def _onnx_class_labels(node: Any) -> list[str] | None:
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name.startswith("classlabels_"):
            values = helper.get_attribute_value(attribute)
            if values:
                return [label_text(v.decode("utf-8") if isinstance(v, bytes) else v) for v in values]
    return None

"""The interface of a loaded model (:class:`Predictor`) and its class probabilities: :func:`label_text`, the refusal
:class:`ProbabilitiesUnavailable`, and the checks that an output called probabilities is one.

No Django and no heavy library at import (only numpy, which the web process loads anyway): ``audits.evaluation``
imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class ProbabilitiesUnavailable(Exception):
    """A model cannot give the probability of a class; the message says why, as a clause ("the model gives no
    class probabilities ...") that an audit quotes where it reports what it could not compute."""


def label_text(value: Any) -> str:
    """A model's output or class label as the text audits compare with a label's values: a whole float is written
    as an integer (1.0 is "1", as in a CSV column of floats), anything else as ``str`` gives it."""
    kind = getattr(getattr(value, "dtype", None), "kind", "")  # numpy scalars
    if (isinstance(value, float) or kind == "f") and float(value).is_integer():
        return str(int(value))
    return str(value)


class Predictor:
    """A loaded model, ready to score; created by :func:`load_predictor`."""

    framework: str
    feature_names: list[str] | None

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted labels (classifiers) or values (regressors), one per row of ``X``."""
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray | None:
        """Class probabilities of shape ``(n_rows, n_classes)``, or None when the model has none."""
        raise NotImplementedError

    def class_labels(self) -> list[str] | None:
        """The model's classes as :func:`label_text`, in the column order of :meth:`predict_proba`; None when the
        model gives no probabilities or does not say which class each column is."""
        raise NotImplementedError

    def probability_of(self, X: np.ndarray, label: str) -> np.ndarray:
        """Each row's probability of the class whose :func:`label_text` is ``label``, as float64.

        Raises :class:`ProbabilitiesUnavailable` when the model has no class probabilities, when the order of its
        probability columns is not known from the model itself, when no class (or more than one) reads as
        ``label``, or when the output it calls probabilities is not (rows outside [0, 1] or not summing to 1).
        """
        raise NotImplementedError


# Probabilities as float32 sum to 1 within about 1e-6; a decision score misses by far more.
_PROBABILITY_TOLERANCE = 1e-3


def _class_column(classes: list[str], label: str) -> int:
    """The column of the class that reads as ``label`` among ``classes`` (texts, in probability column order)."""
    found = [index for index, text in enumerate(classes) if text == label]
    shown = ", ".join(repr(text) for text in classes[:10]) + (", ..." if len(classes) > 10 else "")
    if not found:
        raise ProbabilitiesUnavailable(f"the model's classes ({shown}) do not include {label!r}")
    if len(found) > 1:
        raise ProbabilitiesUnavailable(f"more than one of the model's classes ({shown}) reads as {label!r}")
    return found[0]


def _checked_probabilities(values: Any, *, classes: list[str] | None, output: str) -> np.ndarray:
    """``values`` as a float64 matrix, once it is seen to hold one probability per class (of ``classes``, when
    known) in every row."""
    try:
        matrix = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProbabilitiesUnavailable(f"the model's {output} is not numeric") from None
    if matrix.ndim != 2 or (classes is not None and matrix.shape[1] != len(classes)):
        count = f"its {len(classes)}" if classes is not None else "its"
        raise ProbabilitiesUnavailable(
            f"the model's {output} has shape {matrix.shape}, not one column for each of {count} classes"
        )
    tolerance = _PROBABILITY_TOLERANCE
    if len(matrix) and (
        not np.isfinite(matrix).all()
        or matrix.min() < -tolerance
        or matrix.max() > 1 + tolerance
        or np.abs(matrix.sum(axis=1) - 1).max() > tolerance
    ):
        raise ProbabilitiesUnavailable(
            f"the model's {output} is not class probabilities (values outside [0, 1], or rows that do not add up to "
            "1): it may be a decision score"
        )
    return matrix

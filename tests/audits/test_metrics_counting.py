"""The kernel's step-by-step counting against scikit-learn and pandas, on every kind of column and at step edges.

``encode_groups`` and ``confusion_by_group`` read their columns one cache-sized step at a time
(``audits.metrics.groups.encoding.CHUNK_ROWS``). These tests shrink the step to a few rows, so that every boundary
case (a group first seen in a late step, a value of the range that never occurs, a bad label in the last step) is
crossed many times, and check per group the four counts against ``sklearn.metrics.confusion_matrix`` and the codes
against ``pandas.factorize``; one case runs at the real step size over several steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix

from audits import metrics as km
from audits.metrics.groups import counts as counts_module
from audits.metrics.groups import encoding as encoding_module

ROWS = 1_003  # not a multiple of any step below


@pytest.fixture(params=[1, 7, 64], ids=lambda rows: f"step={rows}")
def small_steps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    for module in (encoding_module, counts_module):
        monkeypatch.setattr(module, "CHUNK_ROWS", request.param)
    return int(request.param)


def _columns(seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    group = rng.choice(np.array([-5, 0, 3, 4, 9]), size=ROWS, p=[0.1, 0.3, 0.3, 0.29, 0.01])  # gaps: empty codes
    group[-1] = 11  # a group that appears only in the last step
    y_true = (rng.random(ROWS) < 0.4).astype(np.int64)
    y_true[group == 9] = 0  # a group with no favourable labels: its TPR is undefined
    y_pred = (rng.random(ROWS) < 0.5).astype(np.int64)
    return {"group": group, "y_true": y_true, "y_pred": y_pred}


def _reference_counts(codes: np.ndarray, n_groups: int, y_true: Any, y_pred: Any) -> np.ndarray:
    """Per group (tn, fp, fn, tp) from scikit-learn, one ``confusion_matrix`` per group."""
    truth, predicted = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    return np.array(
        [confusion_matrix(truth[codes == g], predicted[codes == g], labels=[0, 1]).ravel() for g in range(n_groups)]
    )


def _assert_counts_equal(counts: km.GroupCounts, expected: np.ndarray) -> None:
    found = np.column_stack([counts.tn, counts.fp, counts.fn, counts.tp])
    np.testing.assert_array_equal(found, expected)
    assert counts.tn.dtype == np.int64
    overall = expected.sum(axis=0).tolist()
    assert [counts.overall.tn, counts.overall.fp, counts.overall.fn, counts.overall.tp] == overall


GROUP_KINDS = {
    "int64 with gaps and negatives": lambda g: g,
    "int8": lambda g: g.astype(np.int8),
    "uint64": lambda g: (g + 5).astype(np.uint64),
    "codes 0..k-1": lambda g: pd.factorize(g, sort=True)[0].astype(np.int64),
    "bool": lambda g: g > 2,
    "strings": lambda g: np.array([f"g{v}" for v in g], dtype=object),
    "numpy text": lambda g: np.array([f"group {v}" for v in g]),  # dtype <U8, as CSV columns arrive
    "numpy text, not ASCII, some empty": lambda g: np.array(["", "\u00e9", "e\u0301", "\u4e2d\u6587", "z"])[g % 5],
    "numpy bytes": lambda g: np.array([f"g{v}".encode() for v in g]),  # dtype S
    "numpy text, one character": lambda g: np.array(list("abcde"))[g % 5],
    "int8 extremes": lambda g: np.where(g < 0, -128, np.where(g > 4, 127, g)).astype(np.int8),
}
LABEL_KINDS = {
    "int64": lambda y: y,
    "int8": lambda y: y.astype(np.int8),
    "uint8": lambda y: y.astype(np.uint8),
    "uint64": lambda y: y.astype(np.uint64),
    "bool": lambda y: y.astype(bool),
    "float64": lambda y: y.astype(np.float64),
    "float32": lambda y: y.astype(np.float32),
    "list": lambda y: y.tolist(),
}


@pytest.mark.parametrize("group_kind", GROUP_KINDS)
def test_codes_equal_pandas_factorize_at_every_step_size(small_steps: int, group_kind: str) -> None:
    values = GROUP_KINDS[group_kind](_columns()["group"])
    codes, uniques = pd.factorize(values, sort=True)
    groups = km.encode_groups({"g": values})
    assert groups.codes.dtype == np.intp
    np.testing.assert_array_equal(groups.codes, codes)
    assert [label[0] for label in groups.labels] == uniques.tolist()


@pytest.mark.parametrize("label_kind", LABEL_KINDS)
@pytest.mark.parametrize("group_kind", ["int64 with gaps and negatives", "strings", "bool"])
def test_counts_equal_scikit_learn_per_group(small_steps: int, group_kind: str, label_kind: str) -> None:
    data = _columns()
    groups = km.encode_groups({"g": GROUP_KINDS[group_kind](data["group"])})
    y_true, y_pred = (LABEL_KINDS[label_kind](data[name]) for name in ("y_true", "y_pred"))
    counts = km.confusion_by_group(y_true=y_true, y_pred=y_pred, groups=groups)
    _assert_counts_equal(counts, _reference_counts(groups.codes, groups.n_groups, data["y_true"], data["y_pred"]))


def test_an_undefined_rate_stays_nan_after_step_counting(small_steps: int) -> None:
    data = _columns()
    groups = km.encode_groups({"g": data["group"]})
    counts = km.confusion_by_group(y_true=data["y_true"], y_pred=data["y_pred"], groups=groups)
    no_positives = groups.select("g=9")
    assert np.isnan(km.true_positive_rate(counts).by_group[no_positives]).all()
    by_pandas = pd.Series(data["y_pred"]).groupby(data["group"]).mean()
    np.testing.assert_allclose(km.selection_rate(counts).by_group, by_pandas.to_numpy(), rtol=0, atol=1e-12)


def test_missing_values_form_their_group_and_intersections_count_like_scikit_learn(small_steps: int) -> None:
    data = _columns()
    sex = np.where(data["group"] == 0, None, np.where(data["group"] > 3, "f", "m")).astype(object)
    score = np.where(data["group"] == 3, np.nan, data["group"] % 2).astype(float)  # floats with NaN: pandas' path
    groups = km.encode_groups({"sex": sex, "score": score}, missing="group")
    frame = pd.DataFrame({"sex": sex, "score": score}).fillna({"sex": km.MISSING_LABEL})
    assert set(groups.names) == {
        f"sex={s}, score={km.MISSING_LABEL if pd.isna(v) else v}"
        for s, v in frame.drop_duplicates().itertuples(index=False)
    }
    counts = km.confusion_by_group(y_true=data["y_true"], y_pred=data["y_pred"], groups=groups)
    _assert_counts_equal(counts, _reference_counts(groups.codes, groups.n_groups, data["y_true"], data["y_pred"]))


@pytest.mark.parametrize(
    ("y_true", "y_pred", "message"),
    [
        (np.r_[np.zeros(ROWS - 1), np.nan], np.zeros(ROWS), r"y_true contains 1 NaN value"),
        (np.zeros(ROWS, dtype=np.int64), np.r_[np.zeros(ROWS - 1, dtype=np.int64), -1], r"y_pred .*found -1"),
        (np.zeros(ROWS, dtype=np.int8), np.r_[np.zeros(ROWS - 1, dtype=np.int8), 2], r"y_pred .*found 2"),
        (np.r_[np.zeros(ROWS - 1, dtype=np.uint8), 3], np.zeros(ROWS, dtype=np.uint8), r"y_true .*found 3"),
        (np.r_[np.zeros(ROWS - 1), 0.5], np.r_[2.0, np.zeros(ROWS - 1)], r"y_true .*found 0\.5"),
    ],
    ids=["nan-last-row", "negative-int", "two-int8", "three-uint8", "both-bad-names-y_true"],
)
def test_a_bad_label_in_a_late_step_is_refused_by_name(
    small_steps: int, y_true: np.ndarray, y_pred: np.ndarray, message: str
) -> None:
    groups = km.encode_groups({"g": _columns()["group"]})
    with pytest.raises(ValueError, match=message):
        km.confusion_by_group(y_true=y_true, y_pred=y_pred, groups=groups)


def test_weighted_counts_still_equal_scikit_learn(small_steps: int) -> None:
    data = _columns()
    weights = np.random.default_rng(3).uniform(0, 2, ROWS)
    groups = km.encode_groups({"g": data["group"]})
    counts = km.confusion_by_group(y_true=data["y_true"], y_pred=data["y_pred"], groups=groups, sample_weight=weights)
    for g in range(groups.n_groups):
        rows = groups.codes == g
        expected = confusion_matrix(
            data["y_true"][rows], data["y_pred"][rows], labels=[0, 1], sample_weight=weights[rows]
        ).ravel()
        np.testing.assert_allclose([counts.tn[g], counts.fp[g], counts.fn[g], counts.tp[g]], expected, rtol=1e-12)


def test_counts_over_several_real_steps_equal_scikit_learn() -> None:
    rows = 3 * encoding_module.CHUNK_ROWS + 11
    rng = np.random.default_rng(11)
    group = rng.integers(0, 8, rows)
    group[group == 5] = 6  # code 5 never occurs: the codes are renumbered
    y_true, y_pred = rng.integers(0, 2, rows), rng.integers(0, 2, rows)
    groups = km.encode_groups({"g": group})
    np.testing.assert_array_equal(groups.codes, pd.factorize(group, sort=True)[0])
    counts = km.confusion_by_group(y_true=y_true, y_pred=y_pred, groups=groups)
    _assert_counts_equal(counts, _reference_counts(groups.codes, groups.n_groups, y_true, y_pred))


def test_colliding_text_hashes_fall_back_to_pandas(monkeypatch: pytest.MonkeyPatch) -> None:
    # With a zero multiplier only a cell's last 8 bytes count: these cells all collide, and must stay apart.
    monkeypatch.setattr(encoding_module, "_HASH_MULTIPLIER", np.uint64(0))
    values = np.array(["alpha-same", "beta--same", "alpha-same", "gamma-same", "beta--same"])
    assert encoding_module._factorize_fixed_width(values) is None
    groups = km.encode_groups({"g": values})
    codes, uniques = pd.factorize(values, sort=True)
    np.testing.assert_array_equal(groups.codes, codes)
    assert [label[0] for label in groups.labels] == uniques.tolist() == ["alpha-same", "beta--same", "gamma-same"]

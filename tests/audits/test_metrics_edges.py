"""The group-metric kernel's edge cases and conventions: a group with no positives (NaN where fairlearn says 0 and
aif360 says NaN), a single group, refused labels, NaN and mis-shaped inputs, booleans and floats, missing protected
values, intersections, column encoding against ``pandas.factorize``, group selectors, rates derived from counts, and
an import of the kernel that loads neither Django nor the heavy libraries.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn import metrics as flm

from audits import metrics as km
from governance.data.demo import german_credit_csv
from tests.audits.metrics_helpers import (  # noqa: F401 - adult and german are fixtures used by name
    Case,
    Evaluation,
    _aif360,
    adult,
    german,
)

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------------------------------------
# Edge cases and conventions
# ---------------------------------------------------------------------------------------------------------------


def _toy() -> dict[str, np.ndarray]:
    # Group "a" has no positive labels and no positive predictions; group "b" has everything.
    return {
        "group": np.array(["a", "a", "a", "b", "b", "b", "b"]),
        "y_true": np.array([0, 0, 0, 1, 1, 0, 1]),
        "y_pred": np.array([0, 0, 0, 1, 0, 1, 1]),
    }


def test_a_group_with_no_positives_is_nan_where_fairlearn_says_0_and_aif360_says_nan() -> None:
    toy = _toy()
    counts = km.confusion_by_group(
        y_true=toy["y_true"], y_pred=toy["y_pred"], groups=km.encode_groups({"group": toy["group"]})
    )
    assert np.isnan(km.true_positive_rate(counts).as_dict()["group=a"])
    assert np.isnan(km.false_negative_rate(counts)["group=a"])
    assert np.isnan(km.precision(counts)["group=a"])
    # fairlearn (via scikit-learn's confusion_matrix(normalize="true")) reports 0.0 for the same 0/0.
    frame = flm.MetricFrame(
        metrics={"tpr": flm.true_positive_rate, "fnr": flm.false_negative_rate},
        y_true=toy["y_true"],
        y_pred=toy["y_pred"],
        sensitive_features=toy["group"],
    )
    assert frame.by_group.loc["a"].tolist() == [0.0, 0.0]
    assert km.true_positive_rate(counts, zero_division=0.0)["group=a"] == 0.0
    # So fairlearn's summary counts group a as the worst-treated group; the NaN default leaves it out.
    fairlearn_gap = flm.equal_opportunity_difference(toy["y_true"], toy["y_pred"], sensitive_features=toy["group"])
    assert fairlearn_gap == pytest.approx(2 / 3)
    assert km.equal_opportunity_difference(counts, zero_division=0.0) == pytest.approx(fairlearn_gap)
    assert km.equal_opportunity_difference(counts) == 0.0  # only group b has a defined TPR
    assert km.equalized_odds_difference(counts, zero_division=0.0) == pytest.approx(
        flm.equalized_odds_difference(toy["y_true"], toy["y_pred"], sensitive_features=toy["group"])
    )
    # aif360 divides 0 by 0 (NaN, with a RuntimeWarning) for the four rates and guards precision with 0.0.
    case = Case(
        evaluation=Evaluation(
            frame=pd.DataFrame({"group": toy["group"], "y_true": toy["y_true"], "y_pred": toy["y_pred"]}),
            privileged={"group": "b"},
        ),
        columns=("group",),
        weighted=False,
    )
    metric = _aif360(case).classification(privileged={"group": "a"})
    with np.errstate(invalid="ignore", divide="ignore"):
        assert np.isnan(metric.true_positive_rate(privileged=True))
        assert np.isnan(metric.false_negative_rate(privileged=True))
        assert metric.positive_predictive_value(privileged=True) == 0.0
    assert km.precision(counts, zero_division=0.0)["group=a"] == 0.0
    # Pairwise: aif360's average odds difference is NaN when a side has no positives; so is ours.
    assert np.isnan(km.average_odds_difference(counts, unprivileged="group=a", privileged="group=b"))


def test_a_single_group_has_no_gap() -> None:
    toy = _toy()
    single = np.full(7, "everyone")
    counts = km.confusion_by_group(
        y_true=toy["y_true"], y_pred=toy["y_pred"], groups=km.encode_groups({"group": single})
    )
    assert counts.groups.names == ("group=everyone",)
    assert km.selection_rate(counts).by_group[0] == km.selection_rate(counts).overall == pytest.approx(3 / 7)
    arguments = {"y_true": toy["y_true"], "y_pred": toy["y_pred"], "sensitive_features": single}
    assert km.demographic_parity_difference(counts) == flm.demographic_parity_difference(**arguments) == 0.0
    assert km.demographic_parity_ratio(counts) == flm.demographic_parity_ratio(**arguments) == 1.0
    assert km.equalized_odds_difference(counts) == flm.equalized_odds_difference(**arguments) == 0.0
    assert km.impact_ratios(km.selection_rate(counts)).by_group.tolist() == [1.0]


def test_labels_other_than_0_and_1_are_refused_by_name(german: Evaluation) -> None:  # noqa: F811 - the fixture imported above
    raw = pd.read_csv(io.BytesIO(german_credit_csv()))
    groups = km.encode_groups({"sex": german.frame["sex"]})
    # german.data codes the class 1 = good, 2 = bad: passing it unmapped must fail loudly, not count 2 as 1.
    with pytest.raises(ValueError, match=r"y_true must hold only 0 and 1 .*found 2"):
        km.confusion_by_group(y_true=raw["credit_risk"], y_pred=german.frame["y_pred"], groups=groups)
    with pytest.raises(ValueError, match=r"y_pred must hold only 0 and 1 .*found 'good', 'bad'"):
        km.confusion_by_group(
            y_true=german.frame["y_true"],
            y_pred=np.where(german.frame["y_pred"] == 1, "good", "bad"),
            groups=groups,
        )
    with pytest.raises(ValueError, match=r"found 0\.5"):
        km.confusion_by_group(y_true=np.array([0.0, 0.5]), y_pred=[0, 1], groups=km.encode_groups({"g": [1, 1]}))


def test_nan_in_predictions_is_refused() -> None:
    groups = km.encode_groups({"g": ["a", "b", "b"]})
    with pytest.raises(ValueError, match=r"y_pred contains 1 NaN value"):
        km.confusion_by_group(y_true=[0, 1, 1], y_pred=np.array([0.0, np.nan, 1.0]), groups=groups)


def test_inputs_of_the_wrong_shape_or_weight_are_refused() -> None:
    groups = km.encode_groups({"g": ["a", "b", "b"]})
    with pytest.raises(ValueError, match="y_true has 2 rows but the groups have 3"):
        km.confusion_by_group(y_true=[0, 1], y_pred=[0, 1], groups=groups)
    with pytest.raises(ValueError, match="negative"):
        km.confusion_by_group(y_true=[0, 1, 1], y_pred=[0, 1, 1], groups=groups, sample_weight=[1, -1, 1])
    with pytest.raises(ValueError, match="NaN or infinite"):
        km.confusion_by_group(y_true=[0, 1, 1], y_pred=[0, 1, 1], groups=groups, sample_weight=[1, np.nan, 1])
    with pytest.raises(ValueError, match="has 2 rows, the first column has 3"):
        km.encode_groups({"a": [1, 2, 3], "b": [1, 2]})


def test_booleans_and_floats_count_like_integers() -> None:
    groups = km.encode_groups({"g": ["a", "b", "b", "a"]})
    as_ints = km.confusion_by_group(y_true=[1, 0, 1, 1], y_pred=[1, 1, 0, 0], groups=groups)
    as_bools = km.confusion_by_group(y_true=[True, False, True, True], y_pred=[True, True, False, False], groups=groups)
    as_floats = km.confusion_by_group(y_true=[1.0, 0.0, 1.0, 1.0], y_pred=[1.0, 1.0, 0.0, 0.0], groups=groups)
    for counts in (as_bools, as_floats):
        for cell in ("tp", "fp", "tn", "fn"):
            np.testing.assert_array_equal(getattr(counts, cell), getattr(as_ints, cell))
    assert as_ints.tp.tolist() == [1, 0]
    assert as_ints.overall == km.ConfusionCounts(tp=1, fp=1, tn=0, fn=2)
    assert not as_ints.weighted


def test_missing_protected_values_raise_or_form_an_explicit_group() -> None:
    sex = pd.Series(["female", None, "male", "female", np.nan], dtype=object)
    with pytest.raises(ValueError, match=r"column 'sex' has 2 missing value"):
        km.encode_groups({"sex": sex})
    # fairlearn refuses them too.
    with pytest.raises(ValueError, match="missing values"):
        flm.MetricFrame(
            metrics=flm.selection_rate, y_true=[0, 1, 1, 0, 1], y_pred=[0, 1, 1, 0, 1], sensitive_features=sex
        )
    groups = km.encode_groups({"sex": sex}, missing="group")
    assert groups.names == ("sex=female", "sex=male", "sex=(missing)")
    assert groups.codes.tolist() == [0, 2, 1, 0, 2]
    assert groups.labels[-1] == (km.MISSING_LABEL,)


def test_intersections_keep_only_combinations_present_in_data_sorted_like_fairlearn(adult: Evaluation) -> None:  # noqa: F811 - the fixture imported above
    groups = km.encode_groups({"sex": adult.frame["sex"], "race": adult.frame["race"]})
    expected = sorted(set(zip(adult.frame["sex"], adult.frame["race"], strict=True)))
    assert list(groups.labels) == expected
    assert groups.n_groups == 10
    assert groups.names[0] == "sex=Female, race=Amer-Indian-Eskimo"
    # Row codes round-trip to the row's values.
    labels = np.array([", ".join(label) for label in groups.labels])[groups.codes]
    assert labels[:3].tolist() == [
        f"{s}, {r}" for s, r in zip(adult.frame["sex"][:3], adult.frame["race"][:3], strict=True)
    ]
    # A combination that does not occur is not a group.
    sparse = km.encode_groups({"a": ["x", "x", "y"], "b": [1, 2, 1]})
    assert sparse.labels == (("x", 1), ("x", 2), ("y", 1))
    assert sparse.codes.tolist() == [0, 1, 2]


@pytest.mark.parametrize(
    "values",
    [
        np.array([7, -3, 7, 0, 12, -3]),  # the counting-table path: integers in a compact range
        np.array([True, False, True]),
        np.array([3, 10**15, 3]),  # too wide a range for a table: hashed by pandas
        np.array(["b", "a", "c", "a"], dtype=object),
        pd.Categorical(["low", "high", "low"], categories=["low", "mid", "high"], ordered=True),
    ],
    ids=["ints", "bools", "wide-ints", "strings", "categorical"],
)
def test_every_kind_of_column_is_encoded_like_pandas_factorize(values: Any) -> None:
    codes, uniques = pd.factorize(values, sort=True)
    groups = km.encode_groups({"a": values})
    assert groups.codes.tolist() == codes.tolist()
    assert [label[0] for label in groups.labels] == uniques.tolist()
    assert all(type(label[0]) in (int, bool, str) for label in groups.labels)  # plain Python values


def test_group_selectors_name_positions_names_conditions_and_unions() -> None:
    groups = km.encode_groups({"sex": ["f", "m", "f", "m"], "age": ["young", "young", "old", "old"]})
    assert groups.names == ("sex=f, age=old", "sex=f, age=young", "sex=m, age=old", "sex=m, age=young")
    assert groups.select(0).tolist() == [True, False, False, False]
    assert groups.select("sex=m, age=old").tolist() == [False, False, True, False]
    assert groups.select({"sex": "f"}).tolist() == [True, True, False, False]
    assert groups.select([{"sex": "f"}, {"age": "young"}]).tolist() == [True, True, False, True]
    with pytest.raises(ValueError, match="names no group"):
        groups.select({"sex": "x"})
    with pytest.raises(ValueError, match="unknown column"):
        groups.select({"colour": "red"})
    counts = km.confusion_by_group(y_true=[1, 1, 0, 0], y_pred=[1, 0, 1, 0], groups=groups)
    with pytest.raises(ValueError, match="disjoint"):
        km.disparate_impact(counts, unprivileged={"sex": "f"}, privileged={"age": "old"})


def test_rates_are_derived_from_the_counts() -> None:
    groups = km.encode_groups({"g": ["a"] * 10})
    y_true = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    y_pred = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0])
    counts = km.confusion_by_group(y_true=y_true, y_pred=y_pred, groups=groups)
    assert (counts.tp[0], counts.fp[0], counts.tn[0], counts.fn[0]) == (3, 1, 5, 1)
    assert km.selection_rate(counts).overall == 0.4
    assert km.true_positive_rate(counts).overall == 0.75
    assert km.false_positive_rate(counts).overall == pytest.approx(1 / 6)
    assert km.false_negative_rate(counts).overall == 0.25
    assert km.true_negative_rate(counts).overall == pytest.approx(5 / 6)
    assert km.precision(counts).overall == 0.75
    assert km.accuracy(counts).overall == 0.8
    assert km.base_rate(counts).overall == 0.4


def test_the_kernel_imports_neither_django_nor_heavy_libraries() -> None:
    heavy = ("django", "pandas", "scipy", "sklearn", "fairlearn", "aif360")
    code = f"import sys, audits.metrics; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

"""NaN in a Parquet partition read by DuckDB is missing, as in the same rows uploaded. The files hold NaN and no
nulls: over ``read_parquet``, DuckDB's ``isnan`` is false for every row in a projection or a WHERE (it trusts the
files' statistics, which pyarrow writes without NaN), so a NaN score once became a favourable decision."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audits.monitoring.batch import BatchError, BatchSpec, FairnessRules, compute, profile_reference
from audits.monitoring.pushdown import DuckDBPartition, compute_partition

ROWS = 400
SPEC = BatchSpec(features=(("x", "numeric"),), score="s", threshold=0.5, protected=("g",))


def _profile() -> dict:
    rng = np.random.default_rng(5)
    reference = pa.table(
        {"x": rng.normal(0, 1, ROWS), "s": rng.uniform(0, 1, ROWS), "g": pa.array(["a", "b"] * (ROWS // 2))}
    )
    return profile_reference(reference, SPEC)


def _write(tmp_path: Path, *, x_nan: bool, s_nan: bool) -> Path:
    rng = np.random.default_rng(6)
    x, s = rng.normal(0, 1, ROWS), rng.uniform(0, 1, ROWS)
    if x_nan:
        x[::9] = np.nan
    if s_nan:
        s[::10] = np.nan  # 40 rows without a score
    path = tmp_path / "part.parquet"
    pq.write_table(pa.table({"x": x, "s": s, "g": pa.array(["a", "b"] * (ROWS // 2))}), path)
    return path


def _partition(path: Path, profile: dict) -> dict:
    reader = DuckDBPartition([str(path)])
    try:
        return compute_partition(reader, spec=SPEC, profile=profile, rules=FairnessRules())
    finally:
        reader.close()


def test_nan_scores_in_a_partition_are_refused_as_the_upload_refuses_them(tmp_path: Path) -> None:
    profile = _profile()
    path = _write(tmp_path, x_nan=False, s_nan=True)

    with pytest.raises(BatchError) as uploaded:
        compute(path, fmt="parquet", spec=SPEC, profile=profile, rules=FairnessRules())
    with pytest.raises(BatchError) as found:
        _partition(path, profile)

    assert str(found.value) == str(uploaded.value) == "Column 's': 40 rows of the batch have no score."


def test_nan_in_a_feature_of_a_partition_is_counted_as_the_upload_counts_it(tmp_path: Path) -> None:
    profile = _profile()
    path = _write(tmp_path, x_nan=True, s_nan=False)

    uploaded = compute(path, fmt="parquet", spec=SPEC, profile=profile, rules=FairnessRules())
    found = _partition(path, profile)

    assert found["features"]["x"]["missing"] == uploaded["features"]["x"]["missing"] == 45
    assert found["selection_rate"] == uploaded["selection_rate"]
    for part, whole in ((found["features"]["x"], uploaded["features"]["x"]), (found["score"], uploaded["score"])):
        got, expected = dict(part), dict(whole)
        for key in ("mean", "mean_shift_in_reference_sd"):  # float sums in another order (pushdown's docstring)
            assert math.isclose(got.pop(key), expected.pop(key), rel_tol=1e-12, abs_tol=1e-12), key
        assert got == expected

"""A real Evidently snapshot, produced offline: a Report with data drift and value checks (tests) run on two
small seeded frames, saved as JSON by Evidently itself (run by ../produce.py in Evidently's own venv).

    python make_snapshot.py OUT.json
"""

import sys

import numpy as np
import pandas as pd
from evidently import Report
from evidently.metrics import MissingValueCount, RowCount
from evidently.presets import DataDriftPreset
from evidently.tests import eq, lte


def _frame(seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40 + shift, 10, 200).round(1),
            "income": rng.lognormal(10 + shift / 10, 0.5, 200).round(2),
            "score": rng.uniform(0, 1, 200).round(4),
        }
    )


if __name__ == "__main__":
    report = Report(
        [DataDriftPreset(), RowCount(tests=[eq(200)]), MissingValueCount(column="age", tests=[lte(0)])],
        include_tests=True,
    )
    snapshot = report.run(current_data=_frame(2, 5.0), reference_data=_frame(1, 0.0))
    snapshot.save_json(sys.argv[1])

"""Real Giskard scan results, produced offline (run by ../produce.py in Giskard's own venv): a scikit-learn
classifier on a small seeded table is scanned with ``giskard.scan``; the scan report is saved with its own
``to_json``, and the test suite it generates is run and saved with ``TestSuiteResult.to_junit``.

    python make_scan.py OUT_DIR
"""

import os
import sys
from xml.etree.ElementTree import tostring

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

os.environ.setdefault("GSK_DISABLE_ANALYTICS", "True")

import giskard


def _table(seed: int = 7, rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    income = rng.normal(50, 15, rows).round(1)
    group = rng.choice(["a", "b", "c"], rows, p=[0.6, 0.3, 0.1])
    noise = rng.normal(0, 1, rows)
    label = ((income / 15 + (group == "a") * 1.5 - age / 40 + noise) > 2.5).astype(int)
    return pd.DataFrame({"age": age, "income": income, "group": group, "label": label})


if __name__ == "__main__":
    out = sys.argv[1]
    table = _table()
    features = pd.get_dummies(table[["age", "income", "group"]], columns=["group"], dtype=float)
    model = LogisticRegression(max_iter=1000).fit(features, table["label"])
    columns = list(features.columns)

    def predict(frame: pd.DataFrame) -> np.ndarray:
        encoded = pd.get_dummies(frame[["age", "income", "group"]], columns=["group"], dtype=float)
        return model.predict_proba(encoded.reindex(columns=columns, fill_value=0.0))

    wrapped = giskard.Model(
        model=predict,
        model_type="classification",
        classification_labels=[0, 1],
        feature_names=["age", "income", "group"],
    )
    dataset = giskard.Dataset(table, target="label", cat_columns=["group"], name="seeded-table")
    report = giskard.scan(wrapped, dataset, raise_exceptions=True)
    report.to_json(f"{out}/scan.json")
    suite_result = report.generate_test_suite("scan suite").run()
    junit = suite_result.to_junit()  # the XML text (ElementTree's tostring, pretty-printed)
    with open(f"{out}/scan-suite.junit.xml", "w", encoding="utf-8") as handle:
        handle.write(junit if isinstance(junit, str) else tostring(junit, encoding="unicode"))

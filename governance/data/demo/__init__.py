"""The demo's real data: UCI Statlog German Credit as CSV with a header and an invented applicant id per row."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

GERMAN_DATA = Path(__file__).with_name("german.data")

# Attribute names after german.doc (Attribute 1..20, then the class: 1 = good, 2 = bad credit risk).
GERMAN_COLUMNS = (
    "checking_status",
    "duration_months",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment_since",
    "installment_rate",
    "personal_status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "people_liable",
    "telephone",
    "foreign_worker",
    "credit_risk",
)


# The sex that aif360 and most fairness studies derive from attribute 9 (personal status and sex). The UCI notes say
# this coding has errors; it is a convention, not ground truth (see SOURCES.md).
SEX_OF_PERSONAL_STATUS = {"A91": "male", "A92": "female", "A93": "male", "A94": "male", "A95": "female"}

# The numeric inputs of the demo model (all numeric attributes of the data).
DEMO_FEATURES = (
    "duration_months",
    "credit_amount",
    "installment_rate",
    "residence_since",
    "age",
    "existing_credits",
    "people_liable",
)


def german_credit_csv(rows: int | None = None, *, id_prefix: str = "DE-", with_groups: bool = False) -> bytes:
    """The first ``rows`` applicants (all by default) as CSV, each with an ``applicant_id`` like ``DE-0001``.

    ``with_groups`` adds two derived columns for audits: ``age_group`` (``<=25`` or ``>25``, the split used in
    fairness studies of this data) and ``sex`` (from attribute 9, see SEX_OF_PERSONAL_STATUS).
    """
    header = ["applicant_id", *GERMAN_COLUMNS] + (["age_group", "sex"] if with_groups else [])
    lines = [",".join(header)]
    records = GERMAN_DATA.read_text(encoding="ascii").splitlines()
    for number, record in enumerate(records[:rows], start=1):
        values = record.split()
        if with_groups:
            age, status = int(values[GERMAN_COLUMNS.index("age")]), values[GERMAN_COLUMNS.index("personal_status_sex")]
            values += ["<=25" if age <= 25 else ">25", SEX_OF_PERSONAL_STATUS[status]]
        lines.append(f"{id_prefix}{number:04d}," + ",".join(values))
    return ("\n".join(lines) + "\n").encode("ascii")


def train_demo_model(csv_bytes: bytes) -> bytes:
    """Standardised inputs and a logistic regression (balanced class weights, the demo's numeric features) as ONNX.

    Balanced weights make the model approve fewer applicants than the data's 70% good risks, as a cautious lender
    would; on this data the approval rate of applicants aged 25 or under then falls well below four fifths of the
    older applicants' rate, which the demo's audit finds.
    """
    return _fit_logistic_onnx(csv_bytes, DEMO_FEATURES, class_weight="balanced")


# The solver's tolerance: far below the smallest margin of the demo's decisions (about 3e-4 for v1 and 2e-3 for v2 at
# the optimum), so every converged solver, on every CPU, makes the same decisions (tests/data/test_demo_models.py).
SOLVER_TOLERANCE = 1e-8
MAX_ITERATIONS = 1000
# What a demo version records as its hyperparameters (credit-scoring v2 sets class_weight to None).
DEMO_HYPERPARAMETERS = {
    "estimator": "StandardScaler + LogisticRegression",
    "solver": "lbfgs",
    "tol": SOLVER_TOLERANCE,
    "max_iter": MAX_ITERATIONS,
    "class_weight": "balanced",
}


def _fit_logistic_onnx(csv_bytes: bytes, features: tuple[str, ...], *, class_weight: str | None) -> bytes:
    """A StandardScaler + LogisticRegression pipeline fitted to ``features`` of the CSV (label ``credit_risk``), as
    ONNX bytes that read float32 inputs in the order of ``features``.

    Unscaled, these features (credit amounts in the thousands beside counts of 1 to 4) make the loss so badly
    conditioned that the solver stops at a different point on a different CPU, and the model's decisions (and so the
    demo's audit) change with the machine. Standardised and solved to a tight tolerance, the fit is the loss's unique
    optimum whichever solver or CPU finds it. A fit that did not converge is an error, never a stored model.
    """
    import pyarrow.csv as pv
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    table = pv.read_csv(io.BytesIO(csv_bytes))
    matrix = np.column_stack([table.column(name).to_numpy().astype(np.float64) for name in features])
    labels = table.column("credit_risk").to_numpy()
    regression = LogisticRegression(max_iter=MAX_ITERATIONS, tol=SOLVER_TOLERANCE, class_weight=class_weight)
    model = make_pipeline(StandardScaler(), regression).fit(matrix, labels)
    if int(np.max(regression.n_iter_)) >= MAX_ITERATIONS:
        raise RuntimeError(f"the demo model did not converge in {MAX_ITERATIONS} iterations")
    sample = matrix[:1].astype(np.float32)
    return to_onnx(model, sample, options={id(model): {"zipmap": False}}).SerializeToString()


# German credit version 2 adds indicator columns of german.doc's category codes, so a linear model can use the
# attributes that rank applicants well (checking account, credit history, savings) as numbers.
INDICATOR_COLUMNS = {
    "checking_below_0_dm": ("checking_status", "A11"),
    "checking_0_to_200_dm": ("checking_status", "A12"),
    "no_checking_account": ("checking_status", "A14"),
    "critical_account": ("credit_history", "A34"),
    "savings_below_100_dm": ("savings", "A61"),
}

# The inputs of credit-scoring v2: no protected attribute and no age. Chosen so that the selection rates and the true
# and false positive rates of applicants aged 25 or under and of the older ones stay within 0.1 of each other (v1's
# inputs, age among them, approve the younger applicants at about 0.64 of the older ones' rate).
SCORING_FEATURES = ("duration_months", "credit_amount", *INDICATOR_COLUMNS)


def audit_roles(features: tuple[str, ...]) -> dict[str, object]:
    """The demo's column roles for an audit of a model reading ``features``: the credit risk label (1, good, is
    favourable), judged for age group and sex."""
    return {"label": "credit_risk", "favourable": "1", "protected": ["age_group", "sex"], "features": list(features)}


def german_credit_v2_csv(v1_csv: bytes, *, without: tuple[str, ...] = ()) -> bytes:
    """Version 1 of the demo data (``german_credit_csv``) with the ``INDICATOR_COLUMNS`` (0 or 1) added after its
    columns, and without the applicants whose ids are in ``without``."""
    import pyarrow.csv as pv

    table: Any = pv.read_csv(io.BytesIO(v1_csv)).to_pandas()
    table = table[~table["applicant_id"].isin(without)].copy()
    for column, (attribute, code) in INDICATOR_COLUMNS.items():
        table[column] = (table[attribute] == code).astype(int)
    return table.to_csv(index=False, lineterminator="\n").encode("ascii")


def train_scoring_model(csv_bytes: bytes) -> bytes:
    """Standardised inputs and a logistic regression on the ``SCORING_FEATURES`` of version 2, as ONNX bytes.

    Unweighted (v1's weights are balanced), so at its 0.5 threshold it approves about 81% of the applicants, more than
    the data's 70% good risks. skl2onnx writes a LinearClassifier node that names its classes, which is how an audit
    knows which probability is "good risk".
    """
    return _fit_logistic_onnx(csv_bytes, SCORING_FEATURES, class_weight=None)


# The second demo model watches these columns of its production batches (the model reads the numeric ones, in this
# order; ``purpose`` is watched for drift only).
MONITORED_FEATURES = (*DEMO_FEATURES, "purpose")


def demo_batches(csv_bytes: bytes, model_bytes: bytes) -> tuple[bytes, bytes]:
    """Two production batches for the demo's monitoring, as CSV: applicants 1-500 as they are, and applicants
    501-1000 deliberately shifted.

    Each has the monitored features, the model's decision (``1`` = grant) and ``sex``. The second batch moves
    ``credit_amount`` up by one standard deviation of the whole data and then, after the model decided, turns every
    second grant to a female applicant into a refusal (the female selection rate halved): the drift and the live
    fairness alerts that monitoring must raise (issue 10's done-when).
    """
    import onnxruntime
    import pyarrow.csv as pv

    table: Any = pv.read_csv(io.BytesIO(csv_bytes)).to_pandas()
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    columns = [*MONITORED_FEATURES, "decision", "sex"]

    def decided(frame: Any) -> Any:
        features = frame[list(DEMO_FEATURES)].to_numpy().astype(np.float32)
        frame["decision"] = np.asarray(session.run(None, {input_name: features})[0]).astype(int)
        return frame

    first = decided(table.iloc[:500].copy())
    shifted = table.iloc[500:].copy()
    shifted["credit_amount"] = (shifted["credit_amount"] + table["credit_amount"].std()).round().astype(int)
    second = decided(shifted)
    granted_women = second.index[(second["sex"] == "female") & (second["decision"] == 1)]
    second.loc[granted_women[::2], "decision"] = 2
    return first[columns].to_csv(index=False).encode("ascii"), second[columns].to_csv(index=False).encode("ascii")

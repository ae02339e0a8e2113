"""Arrangements shared by the audit-engine tests: evaluation data with decisions whose group rates are chosen by
the test, the built-in policies stored, a predictions-only model version and its evaluation dataset uploaded as
CSV, and the canonical hash an outside verifier would compute.

Everything that touches the database is arranged through the actions of the data, registry and audit apps, as the
cast's members, so a test can count the trail events its own request added. Nothing here is autouse.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from audits.actions import ensure_builtin_policies
from governance.data.models import Dataset, DatasetVersion
from registry import actions
from registry.models import ModelVersion
from tests.audits.german import load_german
from tests.conftest import Cast, Member
from tests.data.conftest import make_dataset, make_file_version, media_root  # noqa: F401 - media_root is a fixture
from tests.registry.conftest import acting, register_model, walk  # noqa: F401 - walk is a fixture

API = "/api/v1"
MODEL = "loan-approval"
DATASET = "loan-evaluation"

# Column roles of the evaluation CSVs below: decisions from the prediction column.
PREDICTION_ROLES: dict[str, Any] = {"label": "label", "protected": ["sex"], "prediction": "prediction"}
# The same decisions from the score column and a threshold (selected rows score above 0.5, the others below).
SCORE_ROLES: dict[str, Any] = {"label": "label", "protected": ["sex"], "score": "score", "threshold": 0.5}

# Group -> (rows, favourable decisions). Four-fifths: F/M = 0.45/0.50 = 0.9 passes; 0.25/0.50 = 0.5 fails.
PASSING_RATES = {"F": (100, 45), "M": (100, 50)}
FAILING_RATES = {"F": (100, 25), "M": (100, 50)}


def canonical_sha256(value: Any) -> str:
    """SHA-256 of ``value``'s canonical JSON (sorted keys, no spaces, UTF-8), computed here as a verifier would."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def decision_rows(rates: Mapping[str, tuple[int, int]], *, column: str = "sex") -> list[dict[str, str]]:
    """Rows of an evaluation dataset: per group ``(rows, selected)``, the first ``selected`` rows get the favourable
    decision ("1"); the label agrees with the decision except on every seventh row; selected rows score in
    [0.6, 0.9), the others in [0.1, 0.4); ``age_band`` alternates so that intersections have two bands."""
    rows = []
    for group, (count, selected) in rates.items():
        for i in range(count):
            decision = 1 if i < selected else 0
            label = decision if i % 7 else 1 - decision
            score = (0.6 if decision else 0.1) + 0.3 * i / count
            rows.append(
                {
                    "applicant_id": f"{group}-{i:04d}",
                    column: group,
                    "age_band": "<40" if i % 2 else ">=40",
                    "income": str(20_000 + 137 * i),
                    "label": str(label),
                    "prediction": str(decision),
                    "score": f"{score:.6f}",
                }
            )
    return rows


def rows_csv(rows: Sequence[Mapping[str, str]]) -> bytes:
    """``rows`` as CSV bytes with a header (the columns of the first row)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def upload(cast: Cast, rows: Sequence[Mapping[str, str]], *, dataset: str = DATASET) -> DatasetVersion:
    """The next version of the credit-risk team's dataset ``dataset`` (registered on first use) from ``rows``
    (needs the ``media_root`` fixture)."""
    found = Dataset.objects.filter(name=dataset).first() or make_dataset(cast, dataset)
    return make_file_version(cast, found, rows_csv(rows), name=f"{dataset}.csv")


def predictions_only_version(cast: Cast, *, tier: str = "minimal", name: str = MODEL) -> ModelVersion:
    """Version 1 of a new credit-risk model of ``tier``: no artifact, so audits read decisions from the data."""
    model = register_model(cast, tier, name=name)
    return actions.do_register_version(
        model=model,
        user=cast.owner.user,
        actor=acting(cast.owner),
        metrics={"auc": 0.8},
        input_schema=[{"name": "income", "type": "int"}],
    )


def audit_body(
    version: ModelVersion,
    dataset_version: DatasetVersion,
    *,
    policy: str = "four-fifths",
    roles: Mapping[str, Any] = PREDICTION_ROLES,
    **extra: Any,
) -> dict[str, Any]:
    """The body of POST /api/v1/audits/ for ``version`` on ``dataset_version`` under ``policy``."""
    return {
        "model": version.model.name,
        "version": version.number,
        "dataset": dataset_version.dataset.name,
        "dataset_version": dataset_version.number,
        "policy": policy,
        "column_roles": dict(roles),
        **extra,
    }


def post_audit(member: Member, body: Mapping[str, Any]) -> Any:
    return member.client().post(f"{API}/audits/", dict(body), format="json")


@pytest.fixture
def builtin_policies_stored(db: Any) -> None:
    """The shipped policies stored (as the first request to the policy or audit API would), so that a test's
    own request is not the one that stores them."""
    ensure_builtin_policies()


@pytest.fixture(scope="module")
def german() -> Any:
    """UCI German credit as the black-box checks' tests use it (see tests/audits/german.py)."""
    return load_german()

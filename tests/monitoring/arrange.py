"""Arrangements for the monitoring tests (and the permission ladder): the demo's real model on real data.

UCI German credit is registered as the training dataset, the demo trainer's logistic regression (ONNX) as a version
trained on it, walked to deployment by the cast, and monitored with German credit as the reference. Batches are
German credit rows with the model's own decisions (``decision``), the ``sex`` column and the ``credit_risk`` label,
changed on purpose where a test needs drift.
"""

from __future__ import annotations

import functools
import io
import itertools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from audits.monitoring import actions as monitoring
from governance.access.models import Team
from governance.data import actions as data
from governance.data.demo import DEMO_FEATURES, train_demo_model
from governance.trail.log import Actor
from registry import actions as registry
from registry.models import ModelVersion
from tests.monitoring.data import german_csv, german_table

FEATURES = DEMO_FEATURES  # the demo model's inputs
MINIMAL_RISK = {
    "prohibited_practice": "none",
    "annex_iii_area": "none",
    "profiles_natural_persons": False,
    "human_reviews_each_decision": False,
    "interacts_with_people_or_generates_content": False,
}
_numbers = itertools.count(1)


@functools.cache
def demo_onnx() -> bytes:
    return train_demo_model(german_csv())


@functools.cache
def model_decisions() -> np.ndarray:
    """The demo model's decision (1 = good risk, favourable; 2 = bad) for each German credit row."""
    table = german_table()
    matrix = np.column_stack([table.column(n).to_numpy().astype(np.float32) for n in FEATURES])
    session = ort.InferenceSession(demo_onnx(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"X": matrix})[0]).astype(int)


def write(tmp: Path, name: str, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def batch_csv(
    *,
    shift_credit_amount_sd: float = 0.0,
    halve_female_approvals: bool = False,
    with_label: bool = True,
    rows: slice = slice(None),
) -> bytes:
    """German credit rows as a production batch: the features, the model's decision, sex and (optionally) the label."""
    table = german_table()
    frame = table.select([*FEATURES, "sex", "credit_risk"]).to_pandas()
    frame["decision"] = model_decisions()
    if shift_credit_amount_sd:
        frame["credit_amount"] = frame["credit_amount"] + shift_credit_amount_sd * frame["credit_amount"].std(ddof=1)
    if halve_female_approvals:
        approved = np.flatnonzero((frame["sex"] == "female").to_numpy() & (frame["decision"] == 1).to_numpy())
        frame.loc[approved[::2], "decision"] = 2  # every other approval of a woman becomes a refusal: rate halved
    if not with_label:
        frame = frame.drop(columns=["credit_risk"])
    frame = frame.iloc[rows]
    out = io.StringIO()
    frame.to_csv(out, index=False)
    return out.getvalue().encode()


def deployed_demo_version(cast: Any, *, deploy: bool = True) -> ModelVersion:
    """The demo model, trained on German credit (registered as a dataset), deployed to production by the cast."""
    owner = cast.owner.user
    team = Team.objects.get(slug="credit-risk")
    number = next(_numbers)
    dataset = data.do_register_dataset(
        user=owner, actor=Actor.for_user(owner), name=f"german-credit-{number}", team=team
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "german.csv", german_csv())
        training = data.do_register_dataset_version(
            dataset=dataset,
            user=owner,
            actor=Actor.for_user(owner),
            file_path=path,
            file_name="german.csv",
            label_column="credit_risk",
        )
        model = registry.do_register_model(
            user=owner,
            actor=Actor.for_user(owner),
            name=f"credit-demo-{number}",
            team=team,
            purpose="Score consumer loan applications (demo).",
            risk_answers=MINIMAL_RISK,
        )
        onnx = write(Path(tmp), "model.onnx", demo_onnx())
        version = registry.do_register_version(
            model=model,
            user=owner,
            actor=Actor.for_user(owner),
            artifact_path=onnx,
            artifact_name="model.onnx",
            training_datasets=[{"dataset": dataset.name, "version": training.number}],
        )
    if deploy:
        registry.do_submit(version=version, user=owner, actor=Actor.for_user(owner))
        reviewer = cast.reviewer.user
        registry.do_approve(version=version, user=reviewer, actor=Actor.for_user(reviewer))
        officer = cast.officer.user
        registry.do_deploy(version=version, user=officer, actor=Actor.for_user(officer), environment="production")
    version.refresh_from_db()
    return version


CONFIG = {
    "reference_kind": "training",
    "features": [{"name": name, "kind": "numeric"} for name in FEATURES],
    "prediction": "decision",
    "favourable": "1",
    "label": "credit_risk",
    "protected": ["sex"],
}


def monitored_demo_version(cast: Any, *, deploy: bool = True) -> ModelVersion:
    """A deployed demo version with monitoring configured (reference: its training data, German credit)."""
    version = deployed_demo_version(cast, deploy=deploy)
    owner = cast.owner.user
    monitoring.do_configure_monitoring(version=version, user=owner, actor=Actor.for_user(owner), **CONFIG)
    return version


def upload(cast: Any, version: ModelVersion, data: bytes, *, name: str = "batch.csv") -> Any:
    """A batch sent through the action as the owner (its check runs when the test lets on-commit callbacks run)."""
    owner = cast.owner.user
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), name, data)
        return monitoring.do_upload_batch(
            version=version, user=owner, actor=Actor.for_user(owner), file_path=path, file_name=name
        )


# --- for the permission ladder (tests/access/test_permission_ladder.py) -------------------------------------------


def ladder_monitored_version(cast: Any) -> dict[str, Any]:
    """URL kwargs of a fresh deployed, monitored demo version of the owner's team."""
    version = monitored_demo_version(cast)
    return {"name": version.model.name, "number": version.number}


def ladder_batch(cast: Any) -> dict[str, Any]:
    """URL kwargs of a fresh batch (unlabelled, so labels can be sent) of a monitored demo version."""
    version = monitored_demo_version(cast)
    batch = upload(cast, version, batch_csv(with_label=False, rows=slice(0, 200)))
    return {"name": version.model.name, "number": version.number, "batch": batch.number}

"""A predictions-only audit imports shap, adversarial-robustness-toolbox, aif360 and fairlearn only when a check
needs them (issue 20): never for performance, group fairness and disparate impact. Nor what start-up no longer
imports (the background jobs and what they build, the OpenAPI extensions): tests/test_startup_imports.py shows the
processes that use them still get them.

Checked in a fresh interpreter (this process has imported everything the suite touched): it loads Django, the
``run_audit`` command and the engine, and runs a predictions-only policy's checks on a table read from a CSV file,
then lists the heavy libraries in ``sys.modules``. The control imports one of them in the same way and sees it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

HEAVY = ("shap", "art", "aif360", "fairlearn")
# Imported by the apps' start-up until issue 20: the jobs, the report and export builders, the OpenAPI extensions.
DEFERRED = (
    "governance.tasks",
    "audits.tasks",
    "registry.tasks",
    "governance.exports.actions",
    "audits.reports.service",
    "governance.api.schema",
)

PROBE = """
import json, sys
from pathlib import Path
import django

django.setup()
import audits.management.commands.run_audit  # noqa: F401
from audits import engine
from audits.evaluation import ColumnRoles, build_evaluation
from governance.data.ingest import read_table

rows = ["sex,label,decision"] + [f"{'fm'[i % 2]},{i % 3 % 2},{i % 5 % 2}" for i in range(400)]
path = Path(sys.argv[1])
path.write_text("\\n".join(rows) + "\\n", encoding="utf-8")
roles = ColumnRoles.from_json({"label": "label", "prediction": "decision", "protected": ["sex"]})
evaluation = build_evaluation(read_table(path, fmt="csv", text_columns=["sex", "label", "decision"]), roles)
document = {
    "checks": {
        "performance": {"required": True},
        "group_fairness": {"required": True},
        "disparate_impact": {"required": True},
    }
}
outcome = engine.evaluate(evaluation, document)
for name in sys.argv[2:]:
    __import__(name)  # the control
heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
deferred = sorted(m for m in DEFERRED if m in sys.modules)
print(json.dumps({"checks": sorted(c.name for c in outcome.checks), "heavy": heavy, "deferred": deferred}))
"""


def probe(tmp_path: Path, *imports: str) -> dict:
    code = f"HEAVY = {HEAVY!r}\nDEFERRED = {DEFERRED!r}\n" + PROBE
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "predictions.csv"), *imports],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_predictions_only_audit_imports_no_heavy_library(tmp_path: Path) -> None:
    found = probe(tmp_path)
    assert found["checks"] == ["disparate_impact", "group_fairness", "performance"]
    assert found["heavy"] == []


def test_the_probe_sees_a_heavy_library_once_imported(tmp_path: Path) -> None:
    found = probe(tmp_path, "fairlearn")
    assert "fairlearn" in found["heavy"]


def test_a_predictions_only_audit_imports_no_job_nor_openapi_extension(tmp_path: Path) -> None:
    found = probe(tmp_path)
    assert found["checks"] == ["disparate_impact", "group_fairness", "performance"]
    assert found["deferred"] == []


def test_the_probe_sees_a_job_module_once_imported(tmp_path: Path) -> None:
    found = probe(tmp_path, "governance.tasks")
    assert {"governance.tasks", "governance.exports.actions", "audits.reports.service"} <= set(found["deferred"])

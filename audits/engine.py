"""Running a policy's checks on one audit run's inputs, and deciding the verdict.

The verdict is honest by construction:

- ``fail`` when any check the policy names fails;
- else ``insufficient_evidence`` when a required check could not judge (a group below the minimum size, an interval
  wider than the policy allows, a check that cannot run for this model), or when no check passed at all;
- else ``pass``. There is no silent pass: a policy that names no check, or whose checks all could not judge, cannot
  pass.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audits.checks import registry
from audits.checks.base import FAIL, INSUFFICIENT, PASS, CheckContext, CheckOutcome
from audits.checks.fairness import describe_groups
from audits.checks.groups import groupings
from audits.evaluation import ColumnRoles, EvaluationError, build_evaluation
from audits.reproducibility import numerics_record
from governance.data.ingest import IngestError, read_table
from registry.artifacts import ArtifactError, load_predictor

Progress = Callable[[int, str], None]

# The libraries whose versions are stamped into every result (those a check may use).
LIBRARIES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "pyarrow",
    "fairlearn",
    "onnxruntime",
    "skops",
    "shap",
    "adversarial-robustness-toolbox",
)


class AuditInputsError(Exception):
    """The run's inputs cannot be audited (the message says why); the run ends in ``error``, never in a pass."""


@dataclass
class RunOutcome:
    verdict: str
    reasons: list[str]
    checks: list[CheckOutcome]
    results: dict[str, Any]
    library_versions: dict[str, str] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)


class _CheckClasses(Mapping[str, Any]):
    """The registered checks' classes by policy name, each imported when first looked up: an audit imports the
    modules (and the heavy libraries) of the checks its policy names, and no others."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] = {}

    def _load(self, name: str) -> Any:
        if name not in self._loaded:
            spec = registry.find(name)
            try:
                self._loaded[name] = None if spec is None else spec.load()
            except ModuleNotFoundError:
                self._loaded[name] = None
        return self._loaded[name]

    def __getitem__(self, name: str) -> Any:
        cls = self._load(name)
        if cls is None:
            raise KeyError(name)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter([name for name in registry.names() if self._load(name) is not None])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def check_classes() -> Mapping[str, Any]:
    """Every registered check's class by its policy name (``audits.checks.registry``), imported when looked up, so
    heavy libraries load only when an audit runs a check that needs them (a predictions-only audit imports neither
    shap nor adversarial-robustness-toolbox); a check whose libraries are not installed is left out (a policy naming
    it gets insufficient evidence saying it is not available)."""
    return _CheckClasses()


def _inline_budget_cap() -> float | None:
    """The per-check time budget allowed when audits run in process (no Celery worker), else None."""
    from django.conf import settings  # noqa: PLC0415 - the engine loads no Django: audits.monitoring.batch (pure) imports it

    return float(settings.AUDIT_INLINE_MAX_BUDGET_SECONDS) if settings.CELERY_TASK_ALWAYS_EAGER else None


def _intersections(value: Any) -> bool | list[list[str]]:
    if isinstance(value, list):
        return [list(chosen) for chosen in value]
    return bool(value)


def check_context(document: dict[str, Any]) -> CheckContext:
    """The policy-wide settings every check obeys, from a parsed policy."""
    small = document.get("small_groups") or {}
    return CheckContext(
        confidence_level=float(document.get("confidence_level", 0.95)),
        min_group_size=int(document.get("min_group_size", 30)),
        intersections=_intersections(document.get("intersections", True)),
        small_groups=str(small.get("handling", "insufficient")),
        small_groups_basis=dict(small["basis"]) if small.get("basis") else None,
        max_unknown_share=document.get("max_unknown_share"),
    )


def missing_protected_roles(evaluation: Any, document: dict[str, Any]) -> CheckOutcome | None:
    """Insufficient evidence naming each protected role the policy requires (``protected_roles``) that the audit's
    column roles do not map to a column; None when every required role is there. A law that asks for sex and
    race/ethnicity tables (and their intersection) is never passed on the tables that happen to exist."""
    required = [str(role) for role in document.get("protected_roles") or []]
    missing = [role for role in required if role not in evaluation.protected]
    if not missing:
        return None
    present = ", ".join(evaluation.protected) or "none"
    return CheckOutcome(
        name="protected_roles",
        outcome=INSUFFICIENT,
        reason=(
            f"The policy requires the protected roles {', '.join(required)}; not mapped to a column: "
            f"{', '.join(missing)} (roles given: {present}). Map each role to its column in the column roles, "
            'e.g. "protected": {"sex": "gender", "race_ethnicity": "race"}.'
        ),
        details={"required": required, "missing": missing, "present": list(evaluation.protected)},
    )


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def decide(checks: list[CheckOutcome]) -> tuple[str, list[str]]:
    """The verdict and its reasons, from the checks' outcomes (see the module docstring)."""
    if not checks:
        return INSUFFICIENT, ["The policy names no check, so nothing was shown."]
    failed = [f"{c.name}: {c.reason}" for c in checks if c.outcome == FAIL]
    if failed:
        return FAIL, failed
    unsure = [f"{c.name}: {c.reason}" for c in checks if c.outcome == INSUFFICIENT and c.required]
    if unsure:
        return INSUFFICIENT, unsure
    if not any(c.outcome == PASS for c in checks):
        # Optional checks that could not judge are not evidence: a pass needs at least one check that passed.
        return INSUFFICIENT, ["No check could judge these inputs."] + [f"{c.name}: {c.reason}" for c in checks]
    return PASS, [f"{c.name}: {c.reason}" for c in checks]


def evaluate(
    evaluation: Any,
    document: dict[str, Any],
    *,
    progress: Progress | None = None,
    profile: dict | None = None,
    budget_cap: float | None = None,
) -> RunOutcome:
    """Run every check ``document`` (a parsed policy) names on ``evaluation``; ``budget_cap`` bounds each check's
    ``time_budget_seconds`` (audits run inside a web request when there is no worker). Pure: no database."""
    classes = check_classes()
    context = check_context(document)
    evaluation.profile = profile or {}
    named = dict(document.get("checks") or {})
    outcomes: list[CheckOutcome] = []
    for index, (name, raw_settings) in enumerate(sorted(named.items())):
        settings = dict(raw_settings or {})
        if budget_cap is not None and "time_budget_seconds" in settings:
            settings["time_budget_seconds"] = min(float(settings["time_budget_seconds"]), budget_cap)
        required = bool(settings.get("required", True))
        if progress:
            progress(10 + int(80 * index / max(len(named), 1)), f"running {name}")
        cls = classes.get(name)
        if cls is None:
            outcome = CheckOutcome(
                name=name, outcome=INSUFFICIENT, reason=f"The check '{name}' is not available in this version of Assay."
            )
        else:
            try:
                outcome = cls().run(evaluation, settings, context)
            except Exception as exc:  # one check that cannot run must not hide the others' results
                logging.getLogger("assay.audits").exception("check %s could not run", name)
                outcome = CheckOutcome(name=name, outcome=INSUFFICIENT, reason=f"The check could not run: {exc}")
        outcome.required = required
        outcomes.append(outcome)
    missing_roles = missing_protected_roles(evaluation, document)
    if missing_roles:
        outcomes.append(missing_roles)
    for outcome in outcomes:
        outcome.details = json_safe(outcome.details)
        outcome.reason = json_safe(outcome.reason)
    verdict, reasons = decide(outcomes)
    results = {
        "verdict": verdict,
        "reasons": reasons,
        "rows": evaluation.rows,
        "group_metrics": group_metrics(evaluation, context),
        "checks": {
            o.name: {"outcome": o.outcome, "required": o.required, "reason": o.reason, **o.details} for o in outcomes
        },
    }
    return RunOutcome(
        verdict=verdict,
        reasons=reasons,
        checks=outcomes,
        results=json_safe(results),
        library_versions=library_versions() | numerics_record(),  # what changes numerics here
        seeds={"checks": context.seed},
    )


def group_metrics(evaluation: Any, context: CheckContext) -> dict[str, Any]:
    """Every group's count and rates under fairlearn's names (``selection_rate``, ``true_positive_rate``,
    ``false_positive_rate``, ``false_negative_rate``, ``true_negative_rate``, ``precision``) with Wilson intervals,
    by grouping and group: recorded (and hashed) with every run, whichever checks its policy names. ``unknown``
    gives, per grouping, the rows in no group because a value is unknown (``{count, share, share_exact}``)."""
    tables = {}
    unknown = {}
    for grouping in groupings(evaluation, intersections=context.intersections):
        rows = describe_groups(grouping, context)
        tables[grouping.name] = {row["group"]: {k: v for k, v in row.items() if k != "group"} for row in rows}
        unknown[grouping.name] = grouping.unknown_summary()
    return {"groupings": tables, "unknown": unknown}


def json_safe(value: Any) -> Any:
    """Results as plain JSON: numpy numbers to Python, NaN and infinities to None (undefined, never 0)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")  # PostgreSQL's jsonb cannot hold NUL
    return value


def _model_of(version: Any, roles: ColumnRoles, *, progress: Progress | None) -> Any:
    """The model version's predictor when the decisions come from the model (no prediction or score column), else
    None; AuditInputsError when there is no artifact to score with, or it cannot be loaded."""
    from governance.storage import StoredFileError, local_path  # noqa: PLC0415 - Django (see run_policy)

    if roles.prediction or roles.score:
        return None
    if not version.artifact:
        raise AuditInputsError(
            f"{version} has no model artifact (predictions only): name a prediction or score column."
        )
    if progress:
        progress(5, "loading the model")
    try:
        return load_predictor(
            local_path(version.artifact.name, sha256=version.artifact_sha256), framework=version.framework
        )
    except (ArtifactError, StoredFileError) as exc:
        raise AuditInputsError(f"The model cannot be loaded: {exc}") from None


def _attach_external_evidence(run: Any, evaluation: Any) -> None:
    """Give the ``external`` check the version's imported measurements, when the run's policy names it."""
    if "external" in (run.policy_version.document.get("checks") or {}):
        from audits.evidence.actions import evidence_of  # noqa: PLC0415 - the engine loads no Django (see run_policy)

        evaluation.external_evidence = evidence_of(run.model_version)  # read by audits.checks.external


def _run_on_source(run: Any, roles: ColumnRoles, *, progress: Progress | None) -> RunOutcome:
    """A run whose dataset version is a source read where it lives (audits.statistics): its evidence re-checked,
    then the group counts computed by the source's engine (or its rows read, when a check needs them). How it was
    read is recorded in the results under ``data_source``."""
    from audits.statistics.runs import SourceInputsError, read_source  # noqa: PLC0415 - Django (see above)

    document = run.policy_version.document
    predictor = _model_of(run.model_version, roles, progress=progress)
    try:
        evaluation, reading = read_source(
            run.dataset_version,
            roles,
            document,
            model_artifact=bool(run.model_version.artifact),
            predictor=predictor,
        )
    except SourceInputsError as exc:
        raise AuditInputsError(f"The evaluation source cannot be audited: {exc}") from None
    _attach_external_evidence(run, evaluation)
    outcome = evaluate(
        evaluation,
        document,
        progress=progress,
        profile=reading.profile if reading.profile is not None else run.dataset_version.profile,
        budget_cap=_inline_budget_cap(),
    )
    outcome.results["data_source"] = reading.as_json()
    return outcome


def run_policy(run: Any, *, progress: Progress | None = None) -> RunOutcome:
    """Load a run's dataset (and model, when decisions come from it) and evaluate its policy."""
    from governance.storage import StoredFileError, local_path  # noqa: PLC0415 - the engine loads no Django: audits.monitoring.batch (pure) imports it

    roles = ColumnRoles.from_json(run.column_roles)
    dataset_version = run.dataset_version
    if progress:
        progress(2, "reading the evaluation data")
    if dataset_version.source_uri:
        return _run_on_source(run, roles, progress=progress)
    text = [c for c in (roles.label, *roles.protected, roles.prediction) if c]
    try:
        table = read_table(
            local_path(dataset_version.file.name, sha256=dataset_version.sha256),
            fmt=dataset_version.format,
            delimiter=dataset_version.delimiter or ",",
            text_columns=text,
        )
    except (IngestError, FileNotFoundError, StoredFileError) as exc:
        raise AuditInputsError(f"The evaluation dataset cannot be read: {exc}") from None
    version = run.model_version
    predictor = _model_of(version, roles, progress=progress)
    try:
        evaluation = build_evaluation(table, roles, predictor=predictor, model_artifact=bool(version.artifact))
    except EvaluationError as exc:
        raise AuditInputsError(str(exc)) from None
    except Exception as exc:  # an ONNX model that fails at inference, say
        raise AuditInputsError(f"The model could not score the evaluation data: {exc}") from None
    _attach_external_evidence(run, evaluation)
    return evaluate(
        evaluation,
        run.policy_version.document,
        progress=progress,
        profile=dataset_version.profile,
        budget_cap=_inline_budget_cap(),
    )

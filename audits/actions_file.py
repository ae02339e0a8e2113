"""``do_audit_file``: one audit, start to end, of registered inputs or of a file of predictions.

``manage.py run_audit`` is argument parsing around this action; the API may call it too. It registers what an
audit of a file needs (dataset, dataset version, model, predictions-only model version) through the registry's and
the data app's own actions, finds the policy version (``audits.policies.resolve``), starts the run
(``do_start_audit``) and runs it to its end. Every refusal is an :class:`~audits.actions.AuditError` whose message
names the problem; the role, team and duplicate-run rules are those of ``POST /api/v1/audits/``.

A file is registered when it is not there yet, under rules kept deliberately simple:

- the dataset is ``FileInputs.dataset``, else a slug of the file name; a version of it whose sha256 is the file's is
  reused, else the file is registered as its next version;
- the model is ``FileInputs.model``, else the dataset's name; it is registered when missing, with minimal-risk
  questionnaire answers unless ``risk_answers`` are given (an officer can re-classify it later);
- new datasets and models belong to ``FileInputs.team``, else to the existing model's (or dataset's) team, else to
  the user's only team;
- the model's latest version is reused when it is predictions-only and its model card's ``evaluation_data`` is the
  note this action writes for a file with the same sha256 (:func:`predictions_note`); otherwise a new
  predictions-only version is registered.

Roles, teams, the file (readable, within the size limit, parsed once more to find its columns) and the risk answers
are checked before anything is registered, so a call refused for those reasons leaves nothing behind. (A file that
the upload's own inspection refuses for another reason, e.g. a blank column name, can leave a dataset without a
version.) Each registration is its own action and transaction: one outer transaction would hold the trail's lock
while the file is profiled.

The run: in eager mode (no broker) ``do_start_audit`` runs the audit as its transaction commits. A run still queued
afterwards (a broker is configured, or the caller's transaction has not committed) is executed here with
``execute_audit``, which claims the run under a row lock, so a worker that receives it too finds it taken; a run
already running elsewhere is polled until it ends (at most ``wait_seconds``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404
from django.utils.text import slugify

from audits import policies
from audits.actions import AUDIT_RUNNERS, AuditError, do_start_audit, ensure_builtin_policies, execute_audit
from audits.evaluation import ColumnRoles, EvaluationError
from audits.models import AuditRun, PolicyVersion, RunStatus
from governance.access.actions import require_role
from governance.access.models import Team, User
from governance.data.access import access_dataset_version, datasets_visible_to
from governance.data.actions import DATA_WRITERS, do_register_dataset, do_register_dataset_version
from governance.data.ingest import IngestError, detect_format, hash_file, read_table
from governance.data.models import Dataset, DatasetVersion
from governance.trail.log import Actor
from registry import risk
from registry.access import access_version, models_visible_to
from registry.actions import SUBMITTERS, do_register_model, do_register_version
from registry.models import Framework, ModelVersion, RegisteredModel

WAIT_SECONDS = 3600  # how long to wait for a run that another process (a worker) is running
POLL_SECONDS = 1.0

# Models registered for a file are minimal risk unless the caller says otherwise: the action audits predictions,
# it does not know what the model is used for.
MINIMAL_RISK_ANSWERS = {
    "prohibited_practice": "none",
    "annex_iii_area": "none",
    "profiles_natural_persons": False,
    "human_reviews_each_decision": False,
    "interacts_with_people_or_generates_content": False,
}


def predictions_note(sha256: str) -> str:
    """The model card's evaluation_data of a predictions-only version this action registers for a file."""
    return (
        "Predictions only, registered by manage.py run_audit: the decisions are columns of the evaluation data "
        f"with sha256 {sha256}."
    )


@dataclass(frozen=True)
class RegisteredInputs:
    """A model version and a dataset version already registered, by name and number."""

    model: str
    version: int
    dataset: str
    dataset_version: int


@dataclass(frozen=True)
class FileInputs:
    """A CSV or Parquet file of labels, decisions and groups, found or registered (see the module docstring).
    Empty names take their defaults; ``file_name`` is the name the file is registered under (default its own)."""

    path: Path
    file_name: str = ""
    dataset: str = ""
    model: str = ""
    team: str = ""
    risk_answers: Any = None


@dataclass(frozen=True)
class Spelling:
    """How the caller names its inputs in messages (the command's options, the API's fields)."""

    names: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, name: str) -> str:
        return self.names.get(name, name)


def do_audit_file(
    *,
    user: User,
    actor: Actor,
    inputs: RegisteredInputs | FileInputs,
    column_roles: Mapping[str, Any],
    policy: str = "baseline",
    policy_version: int | None = None,
    force: bool = False,
    check_policy: Callable[[PolicyVersion], None] | None = None,
    spelling: Mapping[str, str] | None = None,
    wait_seconds: float = WAIT_SECONDS,
) -> tuple[AuditRun, bool]:
    """Audit ``inputs`` under ``policy`` (its version ``policy_version``, else its latest) as ``user``: register
    what a file needs, start the run and run it to its end. Returns (the ended run, whether it was created now:
    the same inputs give the existing run unless ``force``).

    ``check_policy`` may refuse the policy version (by raising) before anything is registered; ``spelling`` maps
    input names (``dataset``, ``model``, ``team``, ``risk_answers``) to how the caller's messages name them."""
    require_role(user, AUDIT_RUNNERS, "run audits", error=AuditError)
    ensure_builtin_policies()
    try:
        version = policies.resolve(policy, policy_version)
    except policies.PolicyNotFound as exc:
        raise AuditError(str(exc), field=exc.field) from None
    if check_policy is not None:
        check_policy(version)
    if isinstance(inputs, FileInputs):
        found = _FileAudit(user, actor, inputs, column_roles, Spelling(spelling or {}))
        model_version, dataset_version = found.inputs()
    else:
        model_version, dataset_version = registered_inputs(user, inputs)
    run, created = do_start_audit(
        user=user,
        actor=actor,
        model_version=model_version,
        dataset_version=dataset_version,
        policy_version=version,
        column_roles=column_roles,
        force=force,
    )
    return run_to_end(run, wait_seconds=wait_seconds), created


def registered_inputs(user: User, inputs: RegisteredInputs) -> tuple[ModelVersion, DatasetVersion]:
    """The model and dataset versions named, through the API's access functions (not yours, not there: 404)."""
    try:
        model_version = access_version(user, inputs.model, inputs.version)
    except Http404:
        raise AuditError(
            f"There is no version {inputs.version} of model '{inputs.model}'.", code="not_found", status=404
        ) from None
    try:
        dataset_version = access_dataset_version(user, inputs.dataset, inputs.dataset_version)
    except Http404:
        raise AuditError(
            f"There is no version {inputs.dataset_version} of dataset '{inputs.dataset}'.", code="not_found", status=404
        ) from None
    return model_version, dataset_version


def run_to_end(run: AuditRun, *, wait_seconds: float = WAIT_SECONDS) -> AuditRun:
    """The run once it has ended: executed here if still queued, waited for if another process runs it."""
    run.refresh_from_db()
    if run.status == RunStatus.QUEUED:
        execute_audit(run.pk)
    deadline = time.monotonic() + wait_seconds
    while True:
        run = (
            AuditRun.objects.select_related(
                "model_version__model", "dataset_version__dataset", "policy_version__policy", "created_by"
            )
            .prefetch_related("checks")
            .get(pk=run.pk)
        )
        if run.status not in (RunStatus.QUEUED, RunStatus.RUNNING):
            return run
        if time.monotonic() > deadline:
            raise AuditError(
                f"Audit {run.pk} is still {run.status} after {wait_seconds:g} s; see GET /api/v1/audits/{run.pk}/.",
                code="running",
                status=409,
            )
        time.sleep(POLL_SECONDS)


def _refuse(message: str, *, status: int = 422, field: str = "") -> AuditError:
    return AuditError(message, status=status, field=field)


def _require_role(user: User, roles: frozenset[str], what: str) -> None:
    """The actions' role rule, checked before anything is written (the actions check it again)."""
    require_role(user, roles, what, error=AuditError)


def _require_team(user: User, team: Team, what: str) -> None:
    if not (user.is_organisation_wide or team.pk in user.team_ids()):
        raise AuditError(f"You are not in team '{team.slug}', so you cannot {what}.", code="not_in_team", status=403)


class _FileAudit:
    """Finds, or registers, the dataset version and predictions-only model version a file stands for."""

    def __init__(
        self, user: User, actor: Actor, inputs: FileInputs, column_roles: Mapping[str, Any], spell: Spelling
    ) -> None:
        self.user = user
        self.actor = actor
        self.spell = spell
        self.path = Path(inputs.path)
        self.file_name = inputs.file_name or self.path.name
        try:
            self.roles = ColumnRoles.from_json(dict(column_roles))
        except EvaluationError as exc:
            raise _refuse(f"column_roles: {exc}", field="column_roles") from None
        except KeyError as exc:
            raise _refuse(f"column_roles: {exc.args[0]} is required.", field="column_roles") from None
        if not (self.roles.prediction or self.roles.score):
            raise _refuse(
                "column_roles: a file is audited by its predictions: name its prediction column, or its score "
                "column and a threshold.",
                field="column_roles",
            )
        self.team_slug = inputs.team
        self.risk_answers = self._risk_answers(inputs.risk_answers)
        self.dataset_name = inputs.dataset or slugify(Path(self.file_name).stem.replace("_", "-"))[:100]
        if not self.dataset_name:
            raise _refuse(
                f"Cannot make a dataset name from {self.file_name!r}: name it with {spell('dataset')}.", field="dataset"
            )
        self.model_name = inputs.model or self.dataset_name

    def inputs(self) -> tuple[ModelVersion, DatasetVersion]:
        try:
            if not self.path.is_file():
                raise _refuse(f"Cannot read {self.path}: no such file.", field="file")
            sha256, size = hash_file(self.path)
        except OSError as exc:
            raise _refuse(f"Cannot read {self.path}: {exc.strerror or exc}.", field="file") from None
        if size > settings.DATASET_MAX_BYTES:
            raise _refuse(
                f"{self.file_name} is {size:,} bytes; the limit is {settings.DATASET_MAX_BYTES:,} (DATASET_MAX_BYTES).",
                status=413,
                field="file",
            )
        dataset = self._visible(datasets_visible_to(self.user), Dataset, self.dataset_name, "dataset")
        model = self._visible(models_visible_to(self.user), RegisteredModel, self.model_name, "model")
        dataset_version = None
        if dataset is not None:
            dataset_version = dataset.versions.filter(sha256=sha256).exclude(file="").order_by("-number").first()
        reused_model_version = self._reusable_version(model, sha256)
        # Everything that can be refused, before anything is written.
        team = self._team(model or dataset)
        if dataset_version is None:
            self._check_columns()
            _require_role(self.user, DATA_WRITERS, "register datasets")
            _require_team(self.user, dataset.team if dataset else team, "register datasets for it")
        if reused_model_version is None:
            _require_role(self.user, SUBMITTERS, "register models and versions")
            _require_team(self.user, model.team if model else team, "register models for it")
        if dataset is None:
            dataset = do_register_dataset(user=self.user, actor=self.actor, name=self.dataset_name, team=team)
        if dataset_version is None:
            dataset_version = do_register_dataset_version(
                dataset=dataset,
                user=self.user,
                actor=self.actor,
                file_path=self.path,
                file_name=self.file_name,
                label_column=self.roles.label,
            )
        if model is None:
            model = do_register_model(
                user=self.user,
                actor=self.actor,
                name=self.model_name,
                team=team,
                purpose=f"Predictions audited with manage.py run_audit (first from {self.file_name}).",
                risk_answers=self.risk_answers,
            )
        model_version = self._reusable_version(model, dataset_version.sha256) or do_register_version(
            model=model,
            user=self.user,
            actor=self.actor,
            model_card={"evaluation_data": predictions_note(dataset_version.sha256)},
        )
        return model_version, dataset_version

    def _risk_answers(self, answers: Any) -> dict[str, Any]:
        if answers is None:
            return dict(MINIMAL_RISK_ANSWERS)
        where = self.spell("risk_answers")
        if not isinstance(answers, dict):
            raise _refuse(f"{where} must hold a JSON object of questionnaire answers.", field="risk_answers")
        try:
            risk.classify(answers)  # refused here, before the dataset is registered, rather than by the action
        except risk.QuestionnaireError as exc:
            raise _refuse(f"{where}: the risk questionnaire is incomplete: {exc}", field="risk_answers") from None
        return answers

    def _visible(self, visible: Any, model: Any, name: str, what: str) -> Any:
        found = visible.filter(name=name).first()
        if found is None and model.objects.filter(name=name).exists():
            raise _refuse(
                f"A {what} named '{name}' already exists and is not one you may use: name another with "
                f"{self.spell(what)}.",
                status=409,
                field=what,
            )
        return found

    @staticmethod
    def _reusable_version(model: RegisteredModel | None, sha256: str) -> ModelVersion | None:
        """The model's latest version, when this action registered it, predictions only, for these same bytes."""
        if model is None:
            return None
        latest = model.versions.order_by("-number").first()
        if (
            latest is not None
            and latest.framework == Framework.PREDICTIONS
            and not latest.artifact
            and latest.model_card.get("evaluation_data") == predictions_note(sha256)
        ):
            return latest
        return None

    def _team(self, existing: Dataset | RegisteredModel | None) -> Team:
        if self.team_slug:
            team = Team.objects.filter(slug=self.team_slug).first()
            if team is None:
                raise _refuse(f"There is no team '{self.team_slug}'.", status=404, field="team")
            return team
        if existing is not None:
            return existing.team
        teams = list(self.user.teams.order_by("slug"))
        if len(teams) == 1:
            return teams[0]
        where = "no team" if not teams else f"teams {', '.join(t.slug for t in teams)}"
        raise _refuse(
            f"Name the team that owns the new dataset and model with {self.spell('team')}, or name an existing model "
            f"with {self.spell('model')}: {self.user.username} is in {where}.",
            field="team",
        )

    def _check_columns(self) -> None:
        """The file parses and has the named columns (as do_start_audit checks a registered version's schema)."""
        try:
            columns = read_table(self.path, fmt=detect_format(self.path)).column_names
        except IngestError as exc:
            raise _refuse(f"{self.path}: {exc}", field="file") from None
        roles = self.roles
        named = [roles.label, *roles.protected, roles.prediction, roles.score]
        missing = [name for name in named if name and name not in columns]
        if missing:
            raise _refuse(
                f"column_roles: no column named {', '.join(map(repr, missing))} in {self.file_name}. "
                f"Columns: {', '.join(columns)}.",
                field="column_roles",
            )

"""Lineage runs recorded through Assay's own API and the registry's training runs; lineage stays a DAG."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from governance.access.models import User
from governance.data import events
from governance.data.access import datasets_visible_to
from governance.data.actions.common import DataError, _require_scope
from governance.data.lineage import node_id, traverse
from governance.data.models import DatasetVersion, Direction, LineageLink, LineageRun, RunState
from governance.trail.log import Actor, record_event


def _upstream_closure(versions: Iterable[DatasetVersion]) -> set[int]:
    found: set[int] = set()
    for version in versions:
        graph = traverse(version, direction="upstream")
        found |= {pk for kind, pk in graph.nodes if kind == "dataset_version"}
    return found


def _check_acyclic(inputs: Sequence[DatasetVersion], outputs: Sequence[DatasetVersion]) -> None:
    """A run may not write a dataset version that its own inputs were made from (lineage stays a DAG)."""
    output_ids = {v.pk for v in outputs}
    clash = output_ids & _upstream_closure(inputs)
    if clash:
        names = ", ".join(node_id(v) for v in outputs if v.pk in clash)
        raise DataError(
            f"A run cannot write {names}: its inputs were made from it (lineage must not loop).",
            code="lineage_cycle",
            field="outputs",
        )


def _run_team(inputs: Sequence[DatasetVersion], outputs: Sequence[DatasetVersion], models: Sequence[Any]) -> Any:
    """The team that owns a run: the owner of its first output (model first), else of its first input."""
    for model_version in models:
        return model_version.model.team
    for version in [*outputs, *inputs]:
        return version.dataset.team
    return None


def _link(
    run: LineageRun, *, inputs: Sequence[Any], outputs: Sequence[Any], models: Sequence[Any]
) -> tuple[list, list]:
    """Add the links a run does not have yet; the node ids of those added (inputs, outputs)."""
    existing = {
        (link.direction, link.dataset_version_id, link.model_version_id) for link in LineageLink.objects.filter(run=run)
    }
    added_in: list[str] = []
    added_out: list[str] = []
    for direction, version, model_version, sink in (
        *((Direction.INPUT, v, None, added_in) for v in inputs),
        *((Direction.OUTPUT, v, None, added_out) for v in outputs),
        *((Direction.OUTPUT, None, m, added_out) for m in models),
    ):
        key = (direction, version.pk if version else None, model_version.pk if model_version else None)
        if key in existing:
            continue
        existing.add(key)
        LineageLink.objects.create(run=run, direction=direction, dataset_version=version, model_version=model_version)
        sink.append(node_id(version or model_version))
    return added_in, added_out


def do_record_run(
    *,
    user: User,
    actor: Actor,
    job_name: str,
    inputs: Sequence[DatasetVersion] = (),
    outputs: Sequence[DatasetVersion] = (),
    model_outputs: Sequence[Any] = (),
    job_namespace: str = "assay",
    code_ref: str = "",
    parameters: Mapping[str, Any] | None = None,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    state: str = RunState.COMPLETE,
    run_id: uuid.UUID | None = None,
    source: str = "api",
) -> LineageRun:
    """Record a run that read ``inputs`` and wrote ``outputs`` (dataset versions) and ``model_outputs``
    (model versions: a training run). The caller must be able to see every object it names (the view resolves
    them through the access functions)."""
    _require_scope(user, "datasets:write", "record lineage")
    if not (outputs or model_outputs):
        raise DataError("A run needs at least one output (a dataset version or a model version).", field="outputs")
    if set(inputs) & set(outputs):
        raise DataError("A dataset version cannot be both an input and an output of one run.", field="outputs")
    if started_at and ended_at and started_at > ended_at:
        raise DataError("started_at is after ended_at.", field="started_at")
    _check_acyclic(inputs, outputs)
    team = _run_team(inputs, outputs, model_outputs)
    with transaction.atomic():
        if run_id is not None and LineageRun.objects.filter(run_id=run_id).exists():
            raise DataError(f"A run with id {run_id} already exists.", code="duplicate", status=409, field="run_id")
        run = LineageRun.objects.create(
            run_id=run_id or uuid.uuid4(),
            job_namespace=job_namespace,
            job_name=job_name,
            code_ref=code_ref,
            parameters=dict(parameters or {}),
            state=state,
            started_at=started_at,
            ended_at=ended_at,
            source=source,
            team=team,
            created_by=user,
        )
        added_in, added_out = _link(run, inputs=inputs, outputs=outputs, models=model_outputs)
        _record_run_event(run, actor=actor, inputs=added_in, outputs=added_out)
    return run


def _record_run_event(
    run: LineageRun, *, actor: Actor, inputs: list[str], outputs: list[str], openlineage_sha256: str | None = None
) -> None:
    record_event(
        events.LINEAGE_RUN_RECORDED,
        actor=actor,
        obj=run,
        payload={
            "run_id": str(run.run_id),
            "job": f"{run.job_namespace}/{run.job_name}",
            "state": run.state,
            "source": run.source,
            "inputs": sorted(inputs),
            "outputs": sorted(outputs),
            "openlineage_sha256": openlineage_sha256,
        },
    )


def training_datasets_of(user: User, references: Sequence[Mapping[str, Any]]) -> list[DatasetVersion]:
    """Resolve the registry's ``training_datasets`` references (``{"dataset": name, "version": n}``) that ``user``
    may see; anything else is refused with the reference at fault."""
    found: list[DatasetVersion] = []
    for index, reference in enumerate(references):
        if not isinstance(reference, Mapping) or set(reference) != {"dataset", "version"}:
            raise DataError(
                f'training_datasets[{index}] must be {{"dataset": name, "version": number}}.',
                field="training_datasets",
            )
        name, number = reference["dataset"], reference["version"]
        if not isinstance(name, str) or not isinstance(number, int) or isinstance(number, bool):
            raise DataError(
                f"training_datasets[{index}]: dataset is a name and version a number.", field="training_datasets"
            )
        version = (
            DatasetVersion.objects.filter(dataset__in=datasets_visible_to(user), dataset__name=name, number=number)
            .select_related("dataset__team")
            .first()
        )
        if version is None:
            raise DataError(
                f"training_datasets[{index}]: there is no dataset version {name} v{number} that you can see.",
                field="training_datasets",
            )
        found.append(version)
    return found


def link_training_run(*, model_version: Any, user: User, actor: Actor, datasets: Sequence[DatasetVersion]) -> None:
    """Inside the registry's transaction: a training run from ``datasets`` to ``model_version``."""
    if not datasets:
        return
    run = LineageRun.objects.create(
        job_namespace="assay",
        job_name=f"train/{model_version.model.name}/v{model_version.number}",
        code_ref=" ".join(filter(None, (model_version.code_repository, model_version.code_commit))),
        parameters=dict(model_version.hyperparameters or {}),
        state=RunState.COMPLETE,
        ended_at=model_version.created_at,
        source="registry",
        team=model_version.model.team,
        created_by=user,
    )
    added_in, added_out = _link(run, inputs=list(dict.fromkeys(datasets)), outputs=(), models=[model_version])
    _record_run_event(run, actor=actor, inputs=added_in, outputs=added_out)

"""OpenLineage RunEvents, recorded as received and mapped onto Assay's dataset and model versions."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from governance.access.models import User
from governance.data import hooks
from governance.data.access import datasets_visible_to
from governance.data.actions.common import DataError, _require_scope
from governance.data.actions.lineage import _check_acyclic, _link, _record_run_event, _run_team
from governance.data.models import DatasetVersion, LineageLink, LineageRun, OpenLineageEvent
from governance.data.openlineage import OpenLineageError, parse_run_event
from governance.trail.log import Actor


def do_record_openlineage(*, user: User, actor: Actor, body: Any) -> tuple[LineageRun, list[dict]]:
    """Record an OpenLineage RunEvent as received: the run is created on its first event and extended by later
    ones (START, then COMPLETE...). Datasets map to Assay dataset versions by their OpenLineage name (or the
    ``assay`` namespace); what does not map is kept with the event and answered, not refused, so a pipeline
    never breaks on lineage it sends. ``run.created_now`` says whether this event created the run."""
    _require_scope(user, "datasets:write", "record lineage")
    try:
        event = parse_run_event(body)
    except OpenLineageError as exc:
        raise DataError(f"Not a valid OpenLineage RunEvent: {exc}", code="invalid_openlineage") from None
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    resolved, unmapped = _resolve_openlineage(user, event)
    with transaction.atomic():
        previous = OpenLineageEvent.objects.filter(sha256=digest).select_related("run").first()
        if previous is not None:  # the same event sent twice (a retrying client) changes nothing
            _check_run_team(user, previous.run, event)
            previous.run.created_now = False  # type: ignore[attr-defined]
            return previous.run, previous.unmapped
        owner_team = _run_team(resolved["inputs"], resolved["outputs"], resolved["models"]) or _only_team(user)
        run, created = _openlineage_run(user, event, owner_team)
        # Producers often name inputs on START and outputs on COMPLETE: check the run as a whole, not one event.
        links = list(LineageLink.objects.filter(run=run).select_related("dataset_version"))
        inputs = {*resolved["inputs"], *(link.dataset_version for link in links if link.direction == "input")}
        outputs = {
            *resolved["outputs"],
            *(link.dataset_version for link in links if link.direction == "output" and link.dataset_version),
        }
        if inputs & outputs:
            raise DataError("A dataset version cannot be both an input and an output of one run.", field="outputs")
        _check_acyclic(list(inputs), list(outputs))
        _apply_openlineage_times(run, event)
        added_in, added_out = _link(
            run, inputs=resolved["inputs"], outputs=resolved["outputs"], models=resolved["models"]
        )
        try:
            with transaction.atomic():
                OpenLineageEvent.objects.create(
                    run=run,
                    event_type=event.event_type,
                    event_time=event.event_time,
                    sha256=digest,
                    body=_storable_openlineage(body),
                    unmapped=unmapped,
                )
        except IntegrityError:  # the same event, sent twice at once: the other request recorded it
            raise DataError(
                "This OpenLineage event is being recorded by another request.", code="conflict", status=409
            ) from None
        run.created_now = created  # type: ignore[attr-defined]
        _record_run_event(run, actor=actor, inputs=added_in, outputs=added_out, openlineage_sha256=digest)
    return run, unmapped


def _resolve_openlineage(user: User, event: Any) -> tuple[dict[str, list[Any]], list[dict[str, Any]]]:
    """The event's datasets as Assay dataset and model versions the user can see, and those that do not map."""
    unmapped: list[dict[str, Any]] = []
    resolved: dict[str, list[Any]] = {"inputs": [], "outputs": [], "models": []}
    for side, refs in (("inputs", event.inputs), ("outputs", event.outputs)):
        for ref in refs:
            target, why = _map_openlineage_dataset(user, ref, at=event.event_time, side=side)
            if target is None:
                unmapped.append({"side": side, "namespace": ref.namespace, "name": ref.name, "reason": why})
            elif side == "outputs" and not isinstance(target, DatasetVersion):
                resolved["models"].append(target)
            else:
                resolved[side].append(target)
    return resolved, unmapped


def _check_run_team(user: User, run: LineageRun, event: Any) -> None:
    """Another team's run answers like a run id in use, naming nothing of it (checked before anything else)."""
    if run.team_id is not None and not (user.is_organisation_wide or run.team_id in user.team_ids()):
        raise DataError(f"Run id {event.run_id} is in use by another run.", code="conflict", status=409)


def _openlineage_run(user: User, event: Any, owner_team: Any) -> tuple[LineageRun, bool]:
    """The run the event belongs to (created on its first event), locked; whether it was created now."""
    run = LineageRun.objects.select_for_update().filter(run_id=event.run_id).first()
    if run is None:
        try:
            with transaction.atomic():
                run = LineageRun.objects.create(
                    run_id=event.run_id,
                    job_namespace=event.job_namespace,
                    job_name=event.job_name,
                    code_ref=event.code_ref,
                    parameters=event.parameters,
                    state=event.event_type,
                    source="openlineage",
                    team=owner_team,
                    created_by=user,
                )
            return run, True
        except IntegrityError:  # START and COMPLETE raced: the other request created the run
            run = LineageRun.objects.select_for_update().get(run_id=event.run_id)
    _check_run_team(user, run, event)
    if (run.job_namespace, run.job_name) != (event.job_namespace, event.job_name):
        raise DataError(
            f"Run {event.run_id} belongs to job {run.job_namespace}/{run.job_name}, not "
            f"{event.job_namespace}/{event.job_name}.",
            code="conflict",
            status=409,
        )
    if run.team_id is None and owner_team is not None:
        run.team = owner_team  # a run that started with nothing recognisable is owned once something is
    return run, False


def _storable_openlineage(body: Any) -> dict[str, Any]:
    """The event as received, less the run facet that carries environment variables (secrets, often)."""
    stored = json.loads(json.dumps(body))
    facets = (stored.get("run") or {}).get("facets")
    if isinstance(facets, dict):
        facets.pop("environmentVariables", None)
    return stored


def _only_team(user: User) -> Any:
    """The user's team when they have exactly one (an owner's pipeline run that names nothing Assay knows yet)."""
    if user.is_organisation_wide:
        return None
    teams = list(user.teams.all()[:2])
    return teams[0] if len(teams) == 1 else None


def _apply_openlineage_times(run: LineageRun, event: Any) -> None:
    if event.event_type == "START" and (run.started_at is None or event.event_time < run.started_at):
        run.started_at = event.event_time
    if event.event_type in ("COMPLETE", "FAIL", "ABORT"):
        run.ended_at = event.event_time
    # A terminal state is not overwritten by a late RUNNING event.
    if run.state not in ("COMPLETE", "FAIL", "ABORT") or event.event_type in ("COMPLETE", "FAIL", "ABORT"):
        run.state = event.event_type
    if event.code_ref and not run.code_ref:
        run.code_ref = event.code_ref
    if event.parameters:
        run.parameters = {**run.parameters, **event.parameters}
    run.save()


def _map_openlineage_dataset(user: User, ref: Any, *, at: datetime, side: str) -> tuple[Any, str]:  # noqa: PLR0911
    """The Assay dataset version (or, for outputs, model version) an OpenLineage dataset names, or a reason why not.

    - Namespace ``assay``: ``datasets/<name>`` (version from the version facet, else the latest) or, as an
      output, ``models/<name>/versions/<n>``.
    - Any other namespace: the dataset registered with that OpenLineage namespace and name.
    The version facet's ``datasetVersion`` may be an Assay version number or a content sha256. Without it, the
    latest version registered at or before the event's time is meant.
    """
    datasets = datasets_visible_to(user)
    if ref.namespace == "assay":
        parts = ref.name.strip("/").split("/")
        if (
            len(parts) == 4
            and parts[0] == "models"
            and parts[2] == "versions"
            and re.fullmatch(r"[0-9]{1,9}", parts[3])
        ):
            if side != "outputs":
                return None, "a model version can only be an output (a training run)"
            found = hooks.visible_model_version(user, parts[1], int(parts[3]))  # the registry answers (a floor above)
            return (found, "") if found else (None, "no such model version that you can see")
        if len(parts) == 2 and parts[0] == "datasets":
            dataset = datasets.filter(name=parts[1]).first()
        else:
            return None, "names in the 'assay' namespace are datasets/<name> or models/<name>/versions/<n>"
    else:
        dataset = datasets.filter(openlineage_namespace=ref.namespace, openlineage_name=ref.name).first()
    if dataset is None:
        return None, "no dataset that you can see is registered under this name"
    versions = DatasetVersion.objects.filter(dataset=dataset).select_related("dataset__team")
    if ref.version:
        by = (
            {"number": int(ref.version)}
            if re.fullmatch(r"[0-9]{1,9}", ref.version)
            else {"sha256": ref.version.lower()[:64]}
        )
        found_version = versions.filter(**by).first()
        return (found_version, "") if found_version else (None, f"dataset {dataset.name} has no version {ref.version}")
    latest = versions.filter(created_at__lte=at).order_by("-number").first()
    if latest is None:
        return None, f"dataset {dataset.name} had no version registered at the event's time (give the version facet)"
    return latest, ""

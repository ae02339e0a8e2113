"""Data-governance actions: datasets, versions, lineage, consent, subjects and the findings a withdrawal opens.

Each action owns its transaction and appends its trail event inside it (STYLE.md). Expensive reading (parsing
and profiling an upload) happens before the transaction, so the database is locked only for the writes.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max
from django.utils import timezone

from governance.access.actions import ActionError, require_role
from governance.access.models import Team, User
from governance.access.roles import Role
from governance.data import crypto, events, subject_access
from governance.data.lineage import downstream_model_versions, node_id
from governance.data.models import (
    ConsentEvent,
    ConsentKind,
    DataFormat,
    Dataset,
    DatasetSubject,
    DatasetVersion,
    Direction,
    LineageLink,
    LineageRun,
    PersonalRecord,
    Purpose,
    QualityFinding,
    RequestKind,
    RunState,
    Subject,
    SubjectKey,
    SubjectRequest,
)
from governance.storage import store_by_hash
from governance.trail.leaf import format_time, text_commitment
from governance.trail.log import Actor, record_event

# Who writes datasets and lineage: the owning team's people and pipelines; administrators too (they run imports).
DATA_WRITERS = frozenset({Role.OWNER, Role.CI, Role.ADMIN})
# Consent and subject records are kept by compliance officers (and administrators).
CONSENT_KEEPERS = frozenset({Role.OFFICER, Role.ADMIN})
_INSERT_CHUNK = 50_000


class DataError(ActionError):
    """A refused data-governance action (422 by default: the request names something that cannot be done)."""

    def __init__(self, message: str, *, code: str = "validation_failed", status: int = 422, field: str = "") -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


def _require_role(user: User, roles: frozenset[str], what: str) -> None:
    require_role(user, roles, what, error=DataError)


def _require_team(user: User, team_id: int | None) -> None:
    if not (user.is_organisation_wide or (team_id is not None and team_id in user.team_ids())):
        raise DataError("You are not in this dataset's team.", code="not_in_team", status=403)


def pseudonym_key() -> bytes:
    """The HMAC key for pseudonyms, from settings (never from the database)."""
    return settings.PSEUDONYM_KEY.encode("utf-8")


def pseudonym_of(external_id: str) -> str:
    """The pseudonym of an external subject id."""
    try:
        return crypto.pseudonym(external_id, key=pseudonym_key())
    except ValueError as exc:
        raise DataError(f"Invalid external id: {exc}.", field="external_id") from None


# --- datasets and versions -------------------------------------------------------------------------------------


def do_register_dataset(
    *,
    user: User,
    actor: Actor,
    name: str,
    team: Team,
    description: str = "",
    openlineage_namespace: str = "",
    openlineage_name: str = "",
) -> Dataset:
    """Register a dataset for one of the user's teams, optionally with the name OpenLineage producers use for it."""
    _require_role(user, DATA_WRITERS, "register datasets")
    _require_team(user, team.pk)
    if bool(openlineage_namespace) != bool(openlineage_name):
        raise DataError("Give both openlineage_namespace and openlineage_name, or neither.", field="openlineage_name")
    with transaction.atomic():
        if Dataset.objects.filter(name=name).exists():
            raise DataError(f"A dataset named '{name}' already exists.", code="duplicate", status=409)
        if (
            openlineage_namespace
            and Dataset.objects.filter(
                openlineage_namespace=openlineage_namespace, openlineage_name=openlineage_name
            ).exists()
        ):
            raise DataError(
                f"Another dataset is already mapped to OpenLineage {openlineage_namespace}/{openlineage_name}.",
                code="duplicate",
                status=409,
            )
        try:
            with transaction.atomic():
                dataset = Dataset.objects.create(
                    name=name,
                    team=team,
                    description=description,
                    openlineage_namespace=openlineage_namespace,
                    openlineage_name=openlineage_name,
                    created_by=user,
                )
        except IntegrityError:
            raise DataError(f"A dataset named '{name}' already exists.", code="duplicate", status=409) from None
        record_event(
            events.DATASET_REGISTERED,
            actor=actor,
            obj=dataset,
            payload={
                "name": name,
                "team": team.slug,
                "openlineage": f"{openlineage_namespace}/{openlineage_name}" if openlineage_namespace else None,
            },
        )
    return dataset


def _uri_for_trail(uri: str) -> str | None:
    """Scheme, host and path of an external URI: query strings (signed URLs, tokens) never enter the trail."""
    if not uri:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"


def do_register_dataset_version(
    *,
    dataset: Dataset,
    user: User,
    actor: Actor,
    file_path: Path | None = None,
    file_name: str = "",
    external_uri: str = "",
    sha256: str = "",
    row_count: int | None = None,
    schema: Sequence[Mapping[str, Any]] = (),
    source: str = "",
    licence: str = "",
    collected_from: date | None = None,
    collected_to: date | None = None,
    subject_id_column: str = "",
    label_column: str = "",
    delimiter: str = ",",
    missing_markers: Sequence[str] = (),
) -> DatasetVersion:
    """Register the next version of ``dataset``: an uploaded CSV/Parquet file (hashed, profiled, its subject ids
    indexed by pseudonym) or an external URI recorded as given."""
    _require_role(user, DATA_WRITERS, "register dataset versions")
    _require_team(user, dataset.team_id)
    if (file_path is None) == (not external_uri):
        raise DataError("Give either a file or an external_uri.", field="file")
    if collected_from and collected_to and collected_from > collected_to:
        raise DataError("collected_from is after collected_to.", field="collected_from")
    stored, findings, pseudonyms = "", [], set()
    if file_path is not None:
        from governance.data.ingest import IngestError, detect_format, hash_file, inspect_file

        try:
            fmt = detect_format(file_path, name=file_name)
            digest, size = hash_file(file_path)
            if size > settings.DATASET_MAX_BYTES:
                raise DataError(
                    f"The file is {size:,} bytes; the limit is {settings.DATASET_MAX_BYTES:,} (DATASET_MAX_BYTES). "
                    "Register larger data by external_uri.",
                    code="too_large",
                    status=413,
                    field="file",
                )
            inspected = inspect_file(
                file_path,
                fmt=fmt,
                subject_id_column=subject_id_column,
                label_column=label_column,
                delimiter=delimiter,
                missing_markers=missing_markers,
            )
        except IngestError as exc:
            raise DataError(str(exc), code="invalid_file", field=exc.field) from None
        key = pseudonym_key()
        pseudonyms = {crypto.pseudonym(value, key=key) for value in inspected.subject_ids or () if value.strip()}
        findings = inspected.findings
        fields: dict[str, Any] = {
            "format": inspected.format,
            "sha256": digest,
            "size_bytes": size,
            "row_count": inspected.row_count,
            "schema": inspected.schema,
            "profile": inspected.profile,
            "original_name": file_name[:255],
            "delimiter": delimiter if inspected.format == DataFormat.CSV else "",
            "subject_count": len(pseudonyms) if subject_id_column else None,
        }
        stored = store_by_hash(file_path, folder="datasets", sha256=digest, suffix=f".{inspected.format}")
    else:
        if subject_id_column:
            raise DataError(
                "A subject-id column needs the file: Assay indexes subjects on upload and cannot read an external URI.",
                field="subject_id_column",
            )
        fields = {
            "format": DataFormat.EXTERNAL,
            "sha256": sha256,
            "external_uri": external_uri,
            "row_count": row_count,
            "schema": [dict(column) for column in schema],
        }
    with transaction.atomic():
        Dataset.objects.select_for_update().get(pk=dataset.pk)  # serialise numbering per dataset
        number = (DatasetVersion.objects.filter(dataset=dataset).aggregate(n=Max("number"))["n"] or 0) + 1
        version = DatasetVersion.objects.create(
            dataset=dataset,
            number=number,
            file=stored,
            source=source,
            licence=licence,
            collected_from=collected_from,
            collected_to=collected_to,
            subject_id_column=subject_id_column,
            label_column=label_column,
            created_by=user,
            **fields,
        )
        QualityFinding.objects.bulk_create(QualityFinding(version=version, **finding) for finding in findings)
        _index_subjects(version, pseudonyms)
        record_event(
            events.DATASET_VERSION_REGISTERED,
            actor=actor,
            obj=version,
            payload={
                "dataset": dataset.name,
                "version": number,
                "sha256": version.sha256 or None,
                "size": version.size_bytes,
                "rows": version.row_count,
                "format": version.format,
                "external_uri": _uri_for_trail(external_uri),
                "subjects": version.subject_count,
                "findings": len(findings),
            },
        )
    return version


def _index_subjects(version: DatasetVersion, pseudonyms: Iterable[str]) -> None:
    """Write a version's subject index in bulk (COPY on PostgreSQL, executemany elsewhere): a million-subject
    upload must not spend minutes in per-row ORM inserts. The rows are exactly what ``bulk_create`` would write."""
    table = connection.ops.quote_name(DatasetSubject._meta.db_table)
    rows = [(version.pk, pseudonym) for pseudonym in sorted(pseudonyms)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} (version_id, pseudonym) FROM STDIN") as copy:  # type: ignore[union-attr]
                for row in rows:
                    copy.write_row(row)
        else:
            sql = f"INSERT INTO {table} (version_id, pseudonym) VALUES (%s, %s)"  # noqa: S608 - our table name
            for start in range(0, len(rows), _INSERT_CHUNK):
                cursor.executemany(sql, rows[start : start + _INSERT_CHUNK])


# --- lineage ---------------------------------------------------------------------------------------------------


def _upstream_closure(versions: Iterable[DatasetVersion]) -> set[int]:
    from governance.data.lineage import traverse

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
    _require_role(user, DATA_WRITERS, "record lineage")
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
    from governance.data.access import datasets_visible_to

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


def do_record_openlineage(*, user: User, actor: Actor, body: Any) -> tuple[LineageRun, list[dict]]:
    """Record an OpenLineage RunEvent as received: the run is created on its first event and extended by later
    ones (START, then COMPLETE...). Datasets map to Assay dataset versions by their OpenLineage name (or the
    ``assay`` namespace); what does not map is kept with the event and answered, not refused, so a pipeline
    never breaks on lineage it sends. ``run.created_now`` says whether this event created the run."""
    from governance.data.models import OpenLineageEvent
    from governance.data.openlineage import OpenLineageError, parse_run_event

    _require_role(user, DATA_WRITERS, "record lineage")
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
    from governance.data.access import datasets_visible_to
    from registry.access import models_visible_to
    from registry.models import ModelVersion

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
            found = (
                ModelVersion.objects.filter(model__in=models_visible_to(user), model__name=parts[1], number=parts[3])
                .select_related("model__team")
                .first()
            )
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


# --- consent ---------------------------------------------------------------------------------------------------


def do_create_purpose(*, user: User, actor: Actor, code: str, description: str, legal_basis: str) -> Purpose:
    """Define a purpose of processing with its GDPR Art. 6 legal basis."""
    _require_role(user, CONSENT_KEEPERS, "define purposes")
    with transaction.atomic():
        if Purpose.objects.filter(code=code).exists():
            raise DataError(f"A purpose with code '{code}' already exists.", code="duplicate", status=409)
        try:
            with transaction.atomic():
                purpose = Purpose.objects.create(
                    code=code, description=description, legal_basis=legal_basis, created_by=user
                )
        except IntegrityError:
            raise DataError(f"A purpose with code '{code}' already exists.", code="duplicate", status=409) from None
        record_event(
            events.PURPOSE_CREATED, actor=actor, obj=purpose, payload={"code": code, "legal_basis": legal_basis}
        )
    return purpose


def do_record_consent(
    *,
    user: User,
    actor: Actor,
    purpose: Purpose,
    kind: str,
    occurred_at: datetime,
    external_id: str = "",
    subject_pseudonym: str = "",
    expires_at: datetime | None = None,
    source: str = "",
    notice_version: str = "",
    controller: str = "",
    pii_categories: Sequence[str] = (),
    collection_method: str = "",
    jurisdiction: str = "",
) -> ConsentEvent:
    """Record one consent event for a subject (by external id, hashed here, or by pseudonym). A withdrawal or
    expiry of a purpose the subject had consented to opens findings on the model versions trained on their data."""
    _require_role(user, CONSENT_KEEPERS, "record consent")
    if bool(external_id) == bool(subject_pseudonym):
        raise DataError("Give the subject as external_id or as pseudonym (one of them).", field="external_id")
    if timezone.is_naive(occurred_at) or (expires_at is not None and timezone.is_naive(expires_at)):
        raise DataError("Times need a timezone (e.g. 2026-05-01T09:30:00+02:00).", field="occurred_at")
    if expires_at is not None and kind != ConsentKind.GIVEN:
        raise DataError("Only a consent that is given can carry expires_at.", field="expires_at")
    pseudonym = pseudonym_of(external_id) if external_id else subject_pseudonym.lower()
    if not crypto.is_pseudonym(pseudonym):
        raise DataError("A pseudonym is 64 hexadecimal digits.", field="pseudonym")
    with transaction.atomic():
        subject = Subject.objects.filter(pseudonym=pseudonym).first()
        if kind != ConsentKind.GIVEN and (
            subject is None
            or not ConsentEvent.objects.filter(
                subject=subject, purpose=purpose, kind=ConsentKind.GIVEN, occurred_at__lte=occurred_at
            ).exists()
        ):
            # The same rule as the bulk import: a withdrawal or expiry needs a consent given at or before it.
            raise DataError(
                f"No consent for '{purpose.code}' was given by this subject at or before {occurred_at.isoformat()}, "
                f"so there is nothing to {kind} (record the consent first, or check the id and time).",
                code="unknown_subject",
                field="external_id" if external_id else "pseudonym",
            )
        if subject is None:
            subject, _ = Subject.objects.get_or_create(pseudonym=pseudonym)  # a concurrent first consent is no error
        if subject.erased_at is not None and kind == ConsentKind.GIVEN:
            raise DataError(
                "This subject's key was destroyed on an erasure request; new consent needs a new identity.",
                code="erased",
                status=409,
            )
        consent = ConsentEvent.objects.create(
            subject=subject,
            purpose=purpose,
            kind=kind,
            occurred_at=occurred_at,
            expires_at=expires_at,
            source=source,
            notice_version=notice_version,
            controller=controller,
            pii_categories=list(pii_categories),
            collection_method=collection_method,
            jurisdiction=jurisdiction,
        )
        record_event(
            events.CONSENT_RECORDED,
            actor=actor,
            obj=consent,
            payload={
                "subject": pseudonym,
                "purpose": purpose.code,
                "kind": kind,
                "occurred_at": format_time(occurred_at),
                "notice_version": notice_version or None,
                "source_sha256": text_commitment(source),
            },
        )
        if kind != ConsentKind.GIVEN:
            open_impact_findings(
                {pseudonym}, kind="consent_withdrawn", detail={"purpose": purpose.code, "change": kind}, actor=actor
            )
    return consent


def datasets_holding(pseudonyms: Iterable[str]) -> dict[str, list[DatasetVersion]]:
    """The dataset versions whose subject index holds each pseudonym (an index lookup; no file is read)."""
    holding: dict[str, list[DatasetVersion]] = {}
    wanted = sorted(set(pseudonyms))
    for start in range(0, len(wanted), 900):  # below SQLite's parameter limit
        rows = DatasetSubject.objects.filter(pseudonym__in=wanted[start : start + 900]).select_related(
            "version__dataset__team"
        )
        for row in rows:
            holding.setdefault(row.pseudonym, []).append(row.version)
    return holding


def open_impact_findings(pseudonyms: Iterable[str], *, kind: str, detail: Mapping[str, Any], actor: Actor) -> list[Any]:
    """Inside the caller's transaction: a finding on every model version downstream (through lineage) of a
    dataset version holding any of ``pseudonyms``; one finding per model version and cause, never two."""
    from registry.models import Finding, FindingStatus

    holding = datasets_holding(pseudonyms)
    opened = []
    downstream_cache: dict[int, dict[int, Any]] = {}
    for pseudonym, versions in sorted(holding.items()):
        for dataset_version in versions:
            if dataset_version.pk not in downstream_cache:
                downstream_cache[dataset_version.pk] = downstream_model_versions([dataset_version])
            for model_version in downstream_cache[dataset_version.pk].values():
                cause = f"{kind}:{detail.get('purpose', '')}:{pseudonym}"
                if Finding.objects.filter(version=model_version, cause=cause, status=FindingStatus.OPEN).exists():
                    continue
                try:
                    with transaction.atomic():  # a concurrent request may open the same finding first
                        finding = Finding.objects.create(
                            version=model_version,
                            kind=kind,
                            cause=cause,
                            title=_finding_title(kind, detail, dataset_version),
                            details={**detail, "subject": pseudonym, "dataset": node_id(dataset_version)},
                            status=FindingStatus.OPEN,
                        )
                except IntegrityError:
                    continue
                record_event(
                    events.FINDING_OPENED,
                    actor=actor,
                    obj=finding,
                    payload={
                        "model": model_version.model.name,
                        "version": model_version.number,
                        "finding": finding.pk,
                        "kind": kind,
                        "cause": cause,
                    },
                )
                opened.append(finding)
    return opened


def _finding_title(kind: str, detail: Mapping[str, Any], dataset_version: DatasetVersion) -> str:
    where = node_id(dataset_version)
    if kind == "consent_withdrawn":
        how = "consent expired" if detail.get("change") == "expired" else "withdrew consent"
        subject = "A subject's" if how == "consent expired" else "A subject"
        return f"{subject} in {where} {how} for '{detail.get('purpose')}'"
    return f"A subject in {where} asked for erasure (GDPR Art. 17): their key is destroyed, their rows remain here"


# --- subjects: personal data, access and erasure ---------------------------------------------------------------


def _data_key(subject: Subject, *, create: bool) -> bytes | None:
    master = pseudonym_key()
    key_row = SubjectKey.objects.filter(subject=subject).first()
    if key_row is None:
        if not create:
            return None
        data_key = crypto.new_data_key()
        SubjectKey.objects.create(
            subject=subject, wrapped_key=crypto.wrap_key(data_key, master=master, subject=subject.pseudonym)
        )
        return data_key
    return crypto.unwrap_key(bytes(key_row.wrapped_key), master=master, subject=subject.pseudonym)


def do_store_personal_data(
    *, subject: Subject, user: User, actor: Actor, category: str, data: Mapping[str, Any]
) -> PersonalRecord:
    """Store personal data about a subject, sealed with AES-GCM under the subject's own key."""
    _require_role(user, CONSENT_KEEPERS, "store personal data")
    plaintext = json.dumps(dict(data), sort_keys=True, ensure_ascii=False).encode("utf-8")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        if subject.erased_at is not None:
            raise DataError(
                "This subject's key was destroyed on an erasure request; nothing more is stored about them.",
                code="erased",
                status=409,
            )
        try:
            key = _data_key(subject, create=True)
        except crypto.SealError:
            raise DataError(
                "This subject's stored key does not open (it was changed or moved from another subject); nothing "
                "was stored. Investigate before storing more data about them.",
                code="key_unreadable",
                status=409,
            ) from None
        assert key is not None
        record = PersonalRecord.objects.create(
            subject=subject,
            category=category,
            ciphertext=crypto.seal(plaintext, key=key, associated_data=subject.pseudonym),
            created_by=user,
        )
        record_event(
            events.SUBJECT_DATA_STORED,
            actor=actor,
            obj=record,
            payload={"subject": subject.pseudonym, "category": category, "record": record.pk},
        )
    return record


def read_personal_records(subject: Subject) -> list[dict[str, Any]]:
    """Every personal record of a subject, opened; after erasure each says it can no longer be read."""
    key, why = None, "erased: the key is destroyed and this record cannot be read"
    if not subject.erased_at:
        try:
            key = _data_key(subject, create=False)
        except crypto.SealError:
            why = "unreadable: the subject's key does not open (it was changed or moved from another subject)"
    records = []
    for record in PersonalRecord.objects.filter(subject=subject):
        entry: dict[str, Any] = {
            "id": record.pk,
            "category": record.category,
            "created_at": record.created_at.isoformat(),
        }
        if key is None:
            entry["data"] = None
            entry["status"] = why
        else:
            try:
                entry["data"] = json.loads(
                    crypto.open_sealed(bytes(record.ciphertext), key=key, associated_data=subject.pseudonym)
                )
                entry["status"] = "readable"
            except crypto.SealError as exc:
                entry["data"] = None
                entry["status"] = f"unreadable: {exc}"
        records.append(entry)
    return records


def subject_report(subject: Subject) -> dict[str, Any]:
    """What Assay records about a subject, for an access request (GDPR Art. 15): consent history and states, personal
    data, the dataset versions and the file rows that hold the subject, the requests handled, and the information of
    Art. 15(1)-(2) from records and the controller's settings. ``scope`` says what the export does not include."""
    from governance.data.consent import subject_states

    now = timezone.now()
    holding = datasets_holding([subject.pseudonym]).get(subject.pseudonym, [])
    consent_events = list(ConsentEvent.objects.filter(subject=subject).select_related("purpose"))
    rows = subject_access.dataset_rows(subject.pseudonym, holding, key=pseudonym_key())
    models = sorted(node_id(m) for m in downstream_model_versions(holding).values())
    personal_data = read_personal_records(subject)
    return {
        "pseudonym": subject.pseudonym,
        "scope": subject_access.EXPORT_SCOPE,
        "first_seen_at": subject.first_seen_at.isoformat(),
        "erased_at": subject.erased_at.isoformat() if subject.erased_at else None,
        "erasure": (
            subject_access.erasure_statement(key_destroyed=True, rows=rows, records=len(personal_data))
            if subject.erased_at
            else None
        ),
        "article_15": subject_access.article_15_information(
            subject, consent_events=consent_events, holding=holding, models=models
        ),
        "consent": subject_states(subject, now),
        "consent_events": [
            {
                "purpose": event.purpose.code,
                "kind": event.kind,
                "occurred_at": event.occurred_at.isoformat(),
                "recorded_at": event.recorded_at.isoformat(),
                "expires_at": event.expires_at.isoformat() if event.expires_at else None,
                "source": event.source,
                "notice_version": event.notice_version,
                "controller": event.controller,
                "pii_categories": event.pii_categories,
                "collection_method": event.collection_method,
                "jurisdiction": event.jurisdiction,
            }
            for event in consent_events
        ],
        "personal_data": personal_data,
        "datasets": [node_id(version) for version in holding],
        "dataset_rows": rows,
        "requests": [
            {"kind": r.kind, "handled_at": r.handled_at.isoformat()}
            for r in SubjectRequest.objects.filter(subject=subject)
        ],
    }


def do_export_subject(*, subject: Subject, user: User, actor: Actor) -> dict[str, Any]:
    """Answer an access request with ``subject_report`` (what Assay records, and the Art. 15 information or the
    gaps the controller must fill), with the export's hash in the trail."""
    _require_role(user, CONSENT_KEEPERS, "answer access requests")
    with transaction.atomic():
        report = subject_report(subject)
        digest = hashlib.sha256(json.dumps(report, sort_keys=True).encode("utf-8")).hexdigest()
        SubjectRequest.objects.create(subject=subject, kind=RequestKind.ACCESS, handled_by=user)
        record_event(
            events.SUBJECT_ACCESS_EXPORTED,
            actor=actor,
            obj=subject,
            payload={"subject": subject.pseudonym, "sha256": digest},
        )
    return report


def do_erase_subject(*, subject: Subject, user: User, actor: Actor) -> tuple[Subject, bool]:
    """Answer an erasure request (GDPR Art. 17) by destroying the subject's key: their sealed data becomes
    unreadable and nothing more is stored about them, while the trail (pseudonyms only) still verifies. Rows in
    uploaded dataset files are not touched (``erasure_report`` lists them). Idempotent: a second request changes
    nothing. Returns (subject, whether this call destroyed the key)."""
    _require_role(user, CONSENT_KEEPERS, "erase subjects")
    with transaction.atomic():
        subject = Subject.objects.select_for_update().get(pk=subject.pk)
        if subject.erased_at is not None:
            return subject, False
        SubjectKey.objects.filter(subject=subject).delete()
        subject.erased_at = timezone.now()
        subject.save(update_fields=["erased_at"])
        SubjectRequest.objects.create(subject=subject, kind=RequestKind.ERASURE, handled_by=user)
        record_event(
            events.SUBJECT_ERASED,
            actor=actor,
            obj=subject,
            payload={
                "subject": subject.pseudonym,
                "records": PersonalRecord.objects.filter(subject=subject).count(),
            },
        )
        open_impact_findings({subject.pseudonym}, kind="subject_erased", detail={}, actor=actor)
    return subject, True


def erasure_report(subject: Subject) -> dict[str, Any]:
    """What an erasure request did for ``subject`` and what remains (rows in dataset files, the pseudonym), in the
    words of ``subject_access.erasure_statement``; never "erased" while anything remains."""
    holding = datasets_holding([subject.pseudonym]).get(subject.pseudonym, [])
    rows = subject_access.dataset_rows(subject.pseudonym, holding, key=pseudonym_key())
    records = PersonalRecord.objects.filter(subject=subject).count()
    return {
        "pseudonym": subject.pseudonym,
        "erased_at": subject.erased_at,  # when the key was destroyed (the field keeps its name for API clients)
        "key_destroyed_at": subject.erased_at,
        "erasure": subject_access.erasure_statement(
            key_destroyed=subject.erased_at is not None, rows=rows, records=records
        ),
        "datasets_holding_rows": [r["node"] for r in rows],
        "dataset_rows": rows,
        "model_versions_with_findings": sorted(node_id(m) for m in downstream_model_versions(holding).values()),
    }


def impact_of(pseudonym: str) -> dict[str, Any]:
    """Which dataset versions hold a subject, and which model versions are downstream of them."""
    holding = datasets_holding([pseudonym]).get(pseudonym, [])
    models = downstream_model_versions(holding)
    return {
        "subject": pseudonym,
        "datasets": [node_id(v) for v in holding],
        "model_versions": sorted(node_id(m) for m in models.values()),
    }

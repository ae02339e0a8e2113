"""What goes into an evidence bundle, gathered from the database, and the bundle built from it.

Scope: one model (optionally one of its versions) and optionally a date range. The range narrows the audit runs
(by creation time) and the trail events (by recording time); the model, its versions, model cards, lineage and
findings are always included whole, because they are what the runs and events are about.

Layout of the ZIP (fixed order; see ``bundle.py``)::

    README.txt                       how to verify, in plain words
    verify.py                        the standalone verifier (Python 3.11+ and ``cryptography`` only)
    keys/trail-keys.txt              every verifier key the trail has used (C2SP verifier-key lines)
    keys/report-signing-cert.pem     the certificate that PAdES-signs the PDF reports
    model/model.json                 the registered model: purpose, uses, risk tier and the answers behind it
    model/versions/v<N>/version.json metadata, approvals, deployments and findings of a version
    model/versions/v<N>/model-card.json
    model/versions/v<N>/lineage.prov.json      W3C PROV-JSON of the version's upstream lineage
    model/versions/v<N>/mlbom.cdx.json         the version's CycloneDX 1.6 ML-BOM (registry.mlbom)
    model/versions/v<N>/evidence.json          other tools' result files imported for it, with their measurements
    model/versions/v<N>/evidence/<sha256>.*    each of those files as uploaded (audits.evidence.bundle)
    model/versions/v<N>/report.pdf             the version's signed report
    audits/run-<id>/results.json     an audit run: inputs' hashes, every check's result, verdict, libraries, seeds
    audits/run-<id>/report.pdf       the run's signed report
    consent/coverage.json            consent coverage of the datasets involved: counts only, never who
    trail/checkpoint.note            the signed checkpoint issued for this export
    trail/events.jsonl               the trail events in scope: line i is exactly the bytes of one leaf
    trail/proofs.jsonl               line i: the inclusion proof of that leaf in the checkpoint's tree
    trail/withheld.jsonl             events in scope that name a data subject: hash and inclusion proof only
    trail/previous-checkpoint.note   the checkpoint of the previous export to the same recipient (if any)
    trail/consistency.json           the consistency proof from that checkpoint to this one (if any)
    manifest.json, manifest.sig      every file above with sha256 and size; Ed25519 signature over the manifest
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from audits.evidence.bundle import imports_of, write_version_evidence
from audits.models import AuditRun, RunStatus
from audits.reports.service import report_for_run, report_for_version
from audits.reports.signing import signing_certificate_pem
from governance.data.consent import CoverageTooSmall, coverage_for
from governance.data.lineage import prov_json, traverse
from governance.data.models import Purpose, Subject
from governance.exports.bundle import BundleWriter, signature_line
from governance.exports.models import Export, Share
from governance.trail.checkpoints import issue_checkpoint
from governance.trail.keys import load_signing_key, published_verifier_keys
from governance.trail.leaf import format_time
from governance.trail.log import Actor, get_nodes, prove_consistency
from governance.trail.merkle import inclusion_path_ranges, range_node_ids
from governance.trail.models import Checkpoint, Event
from governance.trail.verifier import inclusion_proofs
from governance.trail.witnesses import cosigned_note
from registry.mlbom import version_mlbom
from registry.models import Finding, ModelVersion, Webhook

VERIFIER = Path(__file__).resolve().parents[1] / "trail" / "verifier.py"
README = Path(__file__).resolve().parent / "bundle_readme.txt"
_NODE_BATCH = 2000  # node ids per query while gathering proofs (well under every database's parameter limit)
_EVENT_BATCH = 5000


@dataclass
class Scope:
    """What an export covers."""

    model: Any
    version: Any = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def window(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """[start, end) in UTC for the date range (``date_to`` is inclusive)."""
        start = dt.datetime.combine(self.date_from, dt.time(), tzinfo=dt.UTC) if self.date_from else None
        end = None
        if self.date_to:
            end = dt.datetime.combine(self.date_to, dt.time(), tzinfo=dt.UTC) + dt.timedelta(days=1)
        return start, end

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "version": self.version.number if self.version else None,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
        }


@dataclass
class Built:
    """A bundle written to a file, with what the Export row and its event record."""

    sha256: str
    size: int
    manifest_sha256: str
    checkpoint: Checkpoint
    events: int
    timings: dict[str, float] = field(default_factory=dict)


# --- the objects in scope ------------------------------------------------------------------------------------


def _versions(scope: Scope) -> list[Any]:
    if scope.version is not None:
        return [scope.version]
    return list(ModelVersion.objects.filter(model=scope.model).order_by("number"))


def _runs(scope: Scope, versions: Sequence[Any]) -> list[Any]:
    runs = AuditRun.objects.filter(model_version__in=versions).select_related(
        "model_version__model", "dataset_version__dataset", "policy_version__policy"
    )
    start, end = scope.window()
    if start:
        runs = runs.filter(created_at__gte=start)
    if end:
        runs = runs.filter(created_at__lt=end)
    return list(runs.order_by("id"))


def _event_objects(scope: Scope, versions: Sequence[Any], runs: Sequence[Any], reports: Sequence[Any]) -> Q:
    """Which trail events belong to the scope: those about the model, its versions, runs, reports, findings,
    webhooks, shares and earlier exports."""
    exports = list(Export.objects.filter(model=scope.model).values_list("pk", flat=True))
    shares = Share.objects.filter(Q(model=scope.model) | Q(export__in=exports)).values_list("pk", flat=True)
    by_type: dict[str, list[Any]] = {
        "registry.registeredmodel": [scope.model.pk],
        "registry.modelversion": [v.pk for v in versions],
        "audits.auditrun": [r.pk for r in runs],
        "evidence.evidenceimport": imports_of(versions),
        "registry.finding": list(Finding.objects.filter(version__in=versions).values_list("pk", flat=True)),
        "registry.webhook": list(Webhook.objects.filter(model=scope.model).values_list("pk", flat=True)),
        "governance.share": list(shares),
        "governance.export": exports,
    }
    for report in reports:
        by_type.setdefault(report._meta.label_lower, []).append(report.pk)
    query = Q(pk__in=[])
    for object_type, ids in by_type.items():
        if ids:
            query |= Q(object_type=object_type, object_id__in=[str(pk) for pk in ids])
    return query


# --- documents -----------------------------------------------------------------------------------------------


def _time(value: dt.datetime | None) -> str | None:
    return format_time(value) if value else None


def model_document(model: Any) -> dict[str, Any]:
    """The registered model as the bundle shows it (people by user id)."""
    return {
        "name": model.name,
        "team": model.team.slug,
        "purpose": model.purpose,
        "intended_use": model.intended_use,
        "out_of_scope_uses": model.out_of_scope_uses,
        "business_kpis": model.business_kpis,
        "risk_tier": model.risk_tier,
        "risk_answers": model.risk_answers,
        "risk_rationale": model.risk_rationale,
        "created_by": model.created_by_id,
        "created_at": _time(model.created_at),
    }


def version_document(version: Any) -> dict[str, Any]:
    """A version's metadata, approvals, deployments and findings."""
    return {
        "model": version.model.name,
        "number": version.number,
        "state": version.state,
        "framework": version.framework,
        "artifact": {
            "name": version.artifact_name or None,
            "sha256": version.artifact_sha256 or None,
            "size": version.artifact_size,
            "details": version.artifact_details,
        },
        "input_schema": version.input_schema,
        "output_schema": version.output_schema,
        "hyperparameters": version.hyperparameters,
        "metrics": version.metrics,
        "code": {"repository": version.code_repository, "commit": version.code_commit},
        "training_datasets": version.training_datasets,
        "created_by": version.created_by_id,
        "created_at": _time(version.created_at),
        "submitted_by": version.submitted_by_id,
        "submitted_at": _time(version.submitted_at),
        "reviews": [
            {"reviewer": r.reviewer_id, "decision": r.decision, "reason": r.reason, "decided_at": _time(r.decided_at)}
            for r in version.reviews.order_by("decided_at", "id")
        ],
        "deployments": [
            {
                "environment": d.environment,
                "deployed_by": d.deployed_by_id,
                "deployed_at": _time(d.deployed_at),
                "reason": d.reason,
                "retired_by": d.retired_by_id,
                "retired_at": _time(d.retired_at),
                "retire_reason": d.retire_reason,
            }
            for d in version.deployments.order_by("deployed_at", "id")
        ],
        "findings": [
            {
                "id": f.pk,
                "kind": f.kind,
                "title": f.title,
                "status": f.status,
                "opened_at": _time(f.opened_at),
                "resolution": f.resolution or None,
                "resolution_reason": f.resolution_reason,
                "resolved_by": f.resolved_by_id,
                "resolved_at": _time(f.resolved_at),
            }
            for f in version.findings.order_by("opened_at", "id")
        ],
    }


def run_document(run: Any) -> dict[str, Any]:
    """An audit run's full results and what reproduces them."""
    dataset_version = run.dataset_version
    policy_version = run.policy_version
    return {
        "run": run.pk,
        "model": run.model_version.model.name,
        "version": run.model_version.number,
        "dataset": {
            "name": dataset_version.dataset.name,
            "version": dataset_version.number,
            "sha256": dataset_version.sha256,
        },
        "policy": {
            "name": policy_version.policy.name,
            "version": policy_version.number,
            "sha256": policy_version.sha256,
            "canonical_sha256": policy_version.canonical_sha256,
        },
        "column_roles": run.column_roles,
        "inputs_sha256": run.inputs_sha256,
        "input_hashes": run.input_hashes,
        "status": run.status,
        "verdict": run.verdict or None,
        "verdict_reasons": run.verdict_reasons,
        "checks": [
            {
                "check": check.check_name,
                "outcome": check.outcome,
                "required": check.required,
                "reason": check.reason,
                "details": check.details,
            }
            for check in run.checks.order_by("id")
        ],
        "results": run.results,
        "results_sha256": run.results_sha256 or None,
        "library_versions": run.library_versions,
        "seeds": run.seeds,
        "error": run.error or None,
        "created_by": run.created_by_id,
        "created_at": _time(run.created_at),
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
    }


def coverage_document(versions: Sequence[Any], runs: Sequence[Any], *, at: dt.datetime) -> dict[str, Any]:
    """Consent coverage of every dataset version involved (upstream of the versions, or evaluated by the runs),
    for every purpose: counts only. Below ``COVERAGE_MIN_SUBJECTS`` subjects even counts could single a person out,
    so such datasets say only that they are below the floor."""
    datasets: dict[int, Any] = {}
    for version in versions:
        for dataset_version in traverse(version, direction="upstream").dataset_versions():
            datasets.setdefault(dataset_version.pk, dataset_version)
    for run in runs:
        datasets.setdefault(run.dataset_version.pk, run.dataset_version)
    purposes = list(Purpose.objects.order_by("code"))
    minimum = settings.COVERAGE_MIN_SUBJECTS
    entries = []
    for dataset_version in sorted(datasets.values(), key=lambda d: (d.dataset.name, d.number)):
        entry: dict[str, Any] = {
            "dataset": dataset_version.dataset.name,
            "version": dataset_version.number,
            "sha256": dataset_version.sha256 or None,
        }
        if not dataset_version.subject_id_column:
            entry["note"] = "no subject-id column: its subjects are not known"
        else:
            try:
                # A regulator is not a consent keeper: the same privacy floor as the API's applies.
                counts = [coverage_for(dataset_version, p, at, consent_keeper=False) for p in purposes]
            except CoverageTooSmall:
                entry["note"] = f"fewer than {minimum} subjects: counts this small could identify people"
            else:
                entry["subjects"] = counts[0]["subjects"] if counts else None
                entry["purposes"] = [
                    {k: v for k, v in c.items() if k not in ("dataset", "version", "at", "subjects")} for c in counts
                ]
        entries.append(entry)
    return {"at": format_time(at), "minimum_subjects": minimum, "datasets": entries}


# --- the trail ---------------------------------------------------------------------------------------------------


class _PrefetchedNodes:
    """Every node the inclusion proofs of ``seqs`` need, fetched in a few batched queries, then served from memory."""

    def __init__(self, seqs: Sequence[int], size: int) -> None:
        # Dense scopes share most of their proofs' ranges: split each distinct range into nodes once.
        ranges: set[tuple[int, int]] = set()
        for seq in seqs:
            ranges.update(inclusion_path_ranges(seq, size))
        wanted: set[Any] = set()
        for begin, end in ranges:
            wanted.update(range_node_ids(begin, end))
        ids = sorted(wanted)
        self.nodes: dict[Any, bytes] = {}
        for start in range(0, len(ids), _NODE_BATCH):
            self.nodes.update(get_nodes(ids[start : start + _NODE_BATCH]))

    def __call__(self, ids: Sequence[Any]) -> dict[Any, bytes]:
        return {node: self.nodes[node] for node in ids}


def _scoped_events(query: Q, scope: Scope, size: int) -> list[tuple[int, bytes, bytes]]:
    events = Event.objects.filter(query, seq__lt=size)
    start, end = scope.window()
    if start:
        events = events.filter(recorded_at__gte=start)
    if end:
        events = events.filter(recorded_at__lt=end)
    rows = events.order_by("seq").values_list("seq", "leaf", "leaf_hash").iterator(chunk_size=_EVENT_BATCH)
    return [(seq, bytes(leaf), bytes(digest)) for seq, leaf, digest in rows]


_HEX64 = re.compile(rb"[0-9a-f]{64}")


def split_subject_events(
    rows: Sequence[tuple[int, bytes, bytes]],
) -> tuple[list[tuple[int, bytes, bytes]], list[tuple[int, bytes, bytes]]]:
    """(events shown, events withheld): a leaf that names a data subject (a finding opened by a consent withdrawal
    names the subject's pseudonym) is withheld; the bundle proves it is in the trail by its hash alone."""
    tokens = {token for _, leaf, _ in rows for token in _HEX64.findall(leaf)}
    # Most 64-hex values in leaves are hashes, the "prev" leaf hash above all: those are not pseudonyms.
    tokens -= {digest.hex().encode() for _, _, digest in rows}
    candidates = sorted(token.decode() for token in tokens)
    subjects: set[str] = set()
    for start in range(0, len(candidates), 900):  # below SQLite's parameter limit
        batch = candidates[start : start + 900]
        subjects.update(Subject.objects.filter(pseudonym__in=batch).values_list("pseudonym", flat=True))
    if not subjects:
        return list(rows), []
    shown: list[tuple[int, bytes, bytes]] = []
    withheld: list[tuple[int, bytes, bytes]] = []
    for row in rows:
        names_subject = any(token.decode() in subjects for token in _HEX64.findall(row[1]))
        (withheld if names_subject else shown).append(row)
    return shown, withheld


def _event_lines(rows: Sequence[tuple[int, bytes, bytes]]) -> Iterator[bytes]:
    for start in range(0, len(rows), _EVENT_BATCH):
        yield b"".join(leaf + b"\n" for _, leaf, _ in rows[start : start + _EVENT_BATCH])


def _proof_lines(
    rows: Sequence[tuple[int, bytes, bytes]], size: int, nodes: _PrefetchedNodes, *, why: str = ""
) -> Iterator[bytes]:
    proofs = inclusion_proofs(indices=[seq for seq, _, _ in rows], tree_size=size, get_nodes=nodes)
    for start in range(0, len(rows), _EVENT_BATCH):
        lines = []
        for seq, _, digest in rows[start : start + _EVENT_BATCH]:
            proof = next(proofs)
            record = {"seq": seq, "leaf_hash": digest.hex(), "proof": [h.hex() for h in proof]}
            if why:
                record["withheld"] = why
            lines.append(json.dumps(record, separators=(",", ":")).encode() + b"\n")
        yield b"".join(lines)


# --- building ------------------------------------------------------------------------------------------------


def _reports(versions: Sequence[Any], runs: Sequence[Any], *, actor: Actor) -> tuple[list[Any], list[Any]]:
    """The signed reports: one per completed run and one per version (built now where none exists yet)."""
    run_reports = [(run, report_for_run(run, actor=actor)) for run in runs if run.status == RunStatus.DONE]
    version_reports = [(version, report_for_version(version, actor=actor)) for version in versions]
    return run_reports, version_reports


def _write_documents(
    writer: BundleWriter,
    *,
    scope: Scope,
    exporter: Any,
    versions: Sequence[Any],
    runs: Sequence[Any],
    run_reports: Sequence[tuple[Any, Any]],
    version_reports: Sequence[tuple[Any, Any]],
    at: dt.datetime,
) -> None:
    writer.add("README.txt", README.read_bytes())
    writer.add("verify.py", VERIFIER.read_bytes())
    writer.add("keys/trail-keys.txt", "".join(f"{key}\n" for key in published_verifier_keys()).encode())
    writer.add("keys/report-signing-cert.pem", signing_certificate_pem())
    writer.add_json("model/model.json", model_document(scope.model))
    reports_by_version = {version.pk: report for version, report in version_reports}
    for version in versions:
        folder = f"model/versions/v{version.number}"
        writer.add_json(f"{folder}/version.json", version_document(version))
        writer.add_json(f"{folder}/model-card.json", version.model_card)
        lineage = prov_json(version, user=exporter, namespace_uri=settings.PROV_NAMESPACE_URI)
        writer.add_json(f"{folder}/lineage.prov.json", lineage)
        writer.add_json(f"{folder}/mlbom.cdx.json", version_mlbom(version, user=exporter, at=at))
        write_version_evidence(writer, folder, version)  # imported results of other tools (docs/evidence.md)
        writer.add(f"{folder}/report.pdf", reports_by_version[version.pk].read_bytes())
    reports_by_run = {run.pk: report for run, report in run_reports}
    for run in runs:
        writer.add_json(f"audits/run-{run.pk}/results.json", run_document(run))
        if run.pk in reports_by_run:
            writer.add(f"audits/run-{run.pk}/report.pdf", reports_by_run[run.pk].read_bytes())
    writer.add_json("consent/coverage.json", coverage_document(versions, runs, at=at))


def _write_trail(
    writer: BundleWriter,
    *,
    checkpoint: Checkpoint,
    rows: Sequence[tuple[int, bytes, bytes]],
    withheld: Sequence[tuple[int, bytes, bytes]],
    nodes: _PrefetchedNodes,
    previous_checkpoint: Checkpoint | None,
) -> dict[str, Any]:
    """The trail's files; returns the manifest's "trail" section."""
    size = checkpoint.tree_size
    writer.add("trail/checkpoint.note", cosigned_note(checkpoint).encode())  # with the witnesses' cosignatures
    writer.add_stream("trail/events.jsonl", _event_lines(rows))
    writer.add_stream("trail/proofs.jsonl", _proof_lines(rows, size, nodes))
    if withheld:
        why = "names a data subject (pseudonym)"
        writer.add_stream("trail/withheld.jsonl", _proof_lines(withheld, size, nodes, why=why))
    previous = None
    if previous_checkpoint is not None:
        writer.add("trail/previous-checkpoint.note", previous_checkpoint.note.encode())
        proof = prove_consistency(first=previous_checkpoint.tree_size, second=size)
        writer.add_json(
            "trail/consistency.json",
            {
                "first_size": previous_checkpoint.tree_size,
                "second_size": size,
                "first_root": bytes(previous_checkpoint.root_hash).hex(),
                "second_root": bytes(checkpoint.root_hash).hex(),
                "proof": [h.hex() for h in proof],
            },
        )
        previous = {"tree_size": previous_checkpoint.tree_size, "file": "trail/previous-checkpoint.note"}
    return {
        "origin": settings.TRAIL_ORIGIN,
        "checkpoint": {"tree_size": size, "root": bytes(checkpoint.root_hash).hex(), "file": "trail/checkpoint.note"},
        "events": len(rows),
        "events_file": "trail/events.jsonl",
        "proofs_file": "trail/proofs.jsonl",
        "withheld": len(withheld),
        "withheld_file": "trail/withheld.jsonl" if withheld else None,
        "previous_checkpoint": previous,
    }


def _file_digest(target: IO[bytes]) -> tuple[str, int]:
    target.flush()
    target.seek(0)
    digest, total = hashlib.sha256(), 0
    for chunk in iter(lambda: target.read(1 << 20), b""):
        digest.update(chunk)
        total += len(chunk)
    return digest.hexdigest(), total


def build_bundle(
    target: IO[bytes],
    *,
    scope: Scope,
    exporter: Any,
    recipient: Any,
    previous_checkpoint: Checkpoint | None,
    actor: Actor,
    now: dt.datetime | None = None,
) -> Built:
    """Write the bundle for ``scope`` to ``target`` (a seekable binary file) and describe it.

    Reports are built first (building one is a trail event), then a fresh checkpoint is issued, so every event in
    scope, those of the reports included, is proved against it.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    versions = _versions(scope)
    runs = _runs(scope, versions)
    run_reports, version_reports = _reports(versions, runs, actor=actor)
    lap("reports")
    checkpoint = issue_checkpoint(reason="export")
    assert checkpoint is not None
    query = _event_objects(scope, versions, runs, [r for _, r in [*run_reports, *version_reports]])
    rows, withheld = split_subject_events(_scoped_events(query, scope, checkpoint.tree_size))
    nodes = _PrefetchedNodes([seq for seq, _, _ in [*rows, *withheld]], checkpoint.tree_size)
    lap("events and proof nodes")
    at = now or timezone.now()
    writer = BundleWriter(target)
    _write_documents(
        writer,
        scope=scope,
        exporter=exporter,
        versions=versions,
        runs=runs,
        run_reports=run_reports,
        version_reports=version_reports,
        at=at,
    )
    lap("documents")
    trail = _write_trail(
        writer,
        checkpoint=checkpoint,
        rows=rows,
        withheld=withheld,
        nodes=nodes,
        previous_checkpoint=previous_checkpoint,
    )
    lap("trail and proofs")
    key = load_signing_key()
    header = {
        "exported_at": format_time(at),
        "exporter": {"user": exporter.pk},
        "recipient": {"user": recipient.pk} if recipient else None,
        "scope": scope.as_json(),
        "signing_key": key.verifier_key,
        "trail": trail,
        "reports": {
            **{f"audits/run-{run.pk}/report.pdf": report.sha256 for run, report in run_reports},
            **{f"model/versions/v{v.number}/report.pdf": report.sha256 for v, report in version_reports},
        },
    }
    manifest = writer.finish(
        header,
        lambda data: signature_line(key_name=key.name, key_id=key.key_id, signature=key.private_key.sign(data)),
    )
    sha256, size = _file_digest(target)
    lap("manifest and hash")
    return Built(
        sha256=sha256,
        size=size,
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        checkpoint=checkpoint,
        events=len(rows),
        timings=timings,
    )

"""Importing another tool's result file as evidence for a model version.

The file is read whole by its tool's reader before anything is stored (``audits.evidence.formats``): a file that
is not what it claims, too large, or a zip bomb is refused with the reader's reason and nothing changes. Then it is
stored by its hash (outside the transaction: a failed transaction leaves an unreferenced file, never a record whose
file is missing), and its record, its measurements and its ``evidence.imported`` trail event are written together.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from audits.evidence import events
from audits.evidence.formats import EvidenceFormatError, read_evidence
from audits.evidence.models import EvidenceImport, EvidenceMeasurement
from audits.models import CheckResult
from governance.access.actions import ActionError, require_scope
from governance.access.models import User
from governance.data.ingest import hash_file
from governance.storage import store_by_hash
from governance.trail.log import Actor, record_event
from registry.models import ModelVersion

_SUFFIXES = (".eval", ".json", ".jsonl", ".xml")
_STATED_VERSION = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+!_-]{0,99}")  # 0.7.23, 2.19.2, 1.0.0rc1, 0.4.13+cpu


class EvidenceError(ActionError):
    """An import refused: the file is not valid evidence, or the user may not import it (422 by default)."""

    def __init__(self, message: str, *, code: str = "invalid_evidence", status: int = 422, field: str = "") -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


def _recorded_version(read: str, stated: str, *, tool: str) -> tuple[str, bool]:
    """The tool version to record and whether it is the uploader's word: the file's own when it records one (a
    stated version must then be the same), else the stated one, else ``unknown``."""
    if not stated or stated == read:
        return read, False
    if read != "unknown":
        raise EvidenceError(
            f"The file records {tool} {read}; the stated tool version {stated} contradicts it.", field="tool_version"
        )
    return stated, True


def do_import_evidence(
    *,
    version: ModelVersion,
    user: User,
    actor: Actor,
    file_path: Path,
    file_name: str,
    tool: str = "",
    tool_version: str = "",
) -> EvidenceImport:
    """Import ``file_path`` (the upload named ``file_name``) as evidence for ``version``; ``tool`` names the tool
    that wrote it, or is empty to let Assay recognise it; ``tool_version`` is the tool's version as the uploader
    states it, recorded as such for a file that records none. Refused (and nothing stored) when it is not valid."""
    require_scope(user, "models:write", "import evidence", error=EvidenceError)
    if not (user.is_organisation_wide or version.model.team_id in user.team_ids()):
        raise EvidenceError("You are not in this model's team.", code="not_in_team", status=403)
    if tool_version and (tool_version == "unknown" or not _STATED_VERSION.fullmatch(tool_version)):
        raise EvidenceError(
            "A tool version is a version number such as 0.7.23 (letters, digits and . + ! _ -, at most 100); "
            "leave it out when it is not known.",
            field="tool_version",
        )
    size = file_path.stat().st_size
    if size > settings.EVIDENCE_MAX_BYTES:
        raise EvidenceError(
            f"The file is {size:,} bytes; the limit is {settings.EVIDENCE_MAX_BYTES:,} (EVIDENCE_MAX_BYTES).",
            code="too_large",
            status=413,
            field="file",
        )
    try:
        parsed = read_evidence(file_path, name=file_name, tool=tool)
    except EvidenceFormatError as exc:
        raise EvidenceError(f"{file_name or 'the file'}: {exc}", field="file") from None
    recorded_version, stated = _recorded_version(parsed.tool_version, tool_version, tool=parsed.tool)
    digest, size = hash_file(file_path)
    if EvidenceImport.objects.filter(version=version, sha256=digest).exists():
        raise EvidenceError(
            f"This file (sha256 {digest}) is already imported for {version}.", code="duplicate", status=409
        )
    suffix = Path(file_name).suffix.lower()
    stored = store_by_hash(file_path, folder="evidence", sha256=digest, suffix=suffix if suffix in _SUFFIXES else "")
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(pk=version.pk).first()  # one import of a file at a time
        if EvidenceImport.objects.filter(version=version, sha256=digest).exists():
            raise EvidenceError(
                f"This file (sha256 {digest}) is already imported for {version}.", code="duplicate", status=409
            )
        item = EvidenceImport.objects.create(
            version=version,
            tool=parsed.tool,
            tool_version=recorded_version,
            tool_version_stated=stated,
            format=parsed.format,
            sha256=digest,
            size_bytes=size,
            path=stored,
            original_name=Path(file_name).name[:255],
            summary=parsed.summary,
            imported_by=user,
        )
        EvidenceMeasurement.objects.bulk_create(
            EvidenceMeasurement(
                evidence=item,
                task=m.task,
                metric=m.metric,
                value=m.value,
                sample_size=m.sample_size,
                successes=m.successes,
                higher_is_better=m.higher_is_better,
                outcomes=None if m.outcomes is None else [[o.item, o.hit] for o in m.outcomes],
                details=m.details,
            )
            for m in parsed.measurements
        )
        record_event(
            events.EVIDENCE_IMPORTED,
            actor=actor,
            obj=item,
            payload={
                "model_version": f"{version.model.name}/v{version.number}",
                "tool": parsed.tool,
                "tool_version": recorded_version,
                "tool_version_stated": stated,
                "format": parsed.format,
                "sha256": digest,
                "size": size,
                "measurements": len(parsed.measurements),
            },
        )
    return item


def evidence_of(version: Any) -> list[dict[str, Any]]:
    """Every measurement imported for ``version``, newest file first, as the plain values the ``external`` check
    reads (``audits.checks.external``)."""
    rows = (
        EvidenceMeasurement.objects.filter(evidence__version=version)
        .select_related("evidence")
        .order_by("-evidence__imported_at", "-evidence__id", "id")
    )
    return [
        {
            "tool": row.evidence.tool,
            "tool_version": row.evidence.tool_version,
            "tool_version_stated": row.evidence.tool_version_stated,  # the uploader's word, not the file's
            "sha256": row.evidence.sha256,
            "file": row.evidence.original_name,
            "imported_at": row.evidence.imported_at.isoformat(),
            "task": row.task,
            "metric": row.metric,
            "value": row.value,
            "sample_size": row.sample_size,
            "successes": row.successes,
            "has_outcomes": row.outcomes is not None,
            # garak: one measurement per probe and detector; the check judges each detector on its own
            "detector": str((row.details or {}).get("detector") or "") if row.evidence.tool == "garak" else "",
        }
        for row in rows
    ]


def evidence_hashes(version: Any) -> list[str]:
    """The sha256 of every file imported for ``version``, sorted (part of an audit's inputs when its policy judges
    imported evidence)."""
    return sorted(EvidenceImport.objects.filter(version=version).values_list("sha256", flat=True))


def judged_criteria(run: Any) -> list[dict[str, Any]]:
    """The ``external`` criteria an audit run judged, in brief (the gate's answer carries them): label, outcome,
    reason, the measured rate, the items, the imported file's hash and, where several garak detectors judged it, each
    detector's result; empty when its policy judges none."""
    if run is None:
        return []
    details = CheckResult.objects.filter(run=run, check_name="external").values_list("details", flat=True).first()
    return [
        {
            "criterion": c.get("label"),
            "outcome": c.get("outcome"),
            "reason": c.get("reason"),
            "value": c.get("value"),
            "value_exact": c.get("value_exact"),
            "sample_size": c.get("sample_size"),
            "interval": c.get("interval"),
            "evidence_sha256": (c.get("evidence") or {}).get("sha256"),
            # A garak criterion judged by several detectors: each one's own result (the worst decided).
            "detectors": [
                {
                    key: d.get(key)
                    for key in ("detector", "outcome", "reason", "successes", "sample_size", "value_exact", "interval")
                }
                for d in c.get("detectors") or []
            ],
        }
        for c in (details or {}).get("criteria", [])
    ]

"""The imported evidence of a version in a regulator's evidence bundle (``governance.exports.collect``): every
imported file exactly as uploaded, under ``model/versions/v<N>/evidence/<sha256><suffix>``, and ``evidence.json``
listing them with their tool, version, hash and measurements. The bundle's manifest hashes each file, so a recipient
can check that the bytes are the ones the trail's ``evidence.imported`` events name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from audits.evidence.models import EvidenceImport
from governance.storage import open_stream

_CHUNK = 1 << 20


def _chunks(name: str) -> Iterator[bytes]:
    with open_stream(name) as stream:
        while chunk := stream.read(_CHUNK):
            yield chunk


def write_version_evidence(writer: Any, folder: str, version: Any) -> None:
    """Add the version's imported files and their index to ``writer`` (a ``BundleWriter``) under ``folder``; nothing
    when none were imported."""
    imports = list(EvidenceImport.objects.filter(version=version).prefetch_related("measurements").order_by("id"))
    if not imports:
        return
    listed = []
    for item in imports:
        member = f"evidence/{item.sha256}{PurePosixPath(item.path).suffix}"
        writer.add_stream(f"{folder}/{member}", _chunks(item.path))
        listed.append(
            {
                "file": member,
                "original_name": item.original_name,
                "tool": item.tool,
                "tool_version": item.tool_version,
                "tool_version_stated": item.tool_version_stated,
                "format": item.format,
                "sha256": item.sha256,
                "size": item.size_bytes,
                "imported_at": item.imported_at.isoformat(),
                "measurements": [
                    {
                        "task": m.task,
                        "metric": m.metric,
                        "value": m.value,
                        "sample_size": m.sample_size,
                        "successes": m.successes,
                    }
                    for m in item.measurements.all()
                ],
            }
        )
    writer.add_json(f"{folder}/evidence.json", {"imported": listed})


def imports_of(versions: Any) -> list[int]:
    """The ids of the files imported for ``versions`` (their ``evidence.imported`` events are in a bundle's scope)."""
    return list(EvidenceImport.objects.filter(version__in=versions).values_list("pk", flat=True))

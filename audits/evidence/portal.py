"""The evidence imports on a version's portal page: the panel (imported files, their measurements) and the upload,
through the same action as the API (``do_import_evidence``). They plug into the registry's version page and routes
through ``registry.hooks``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path

from audits.evidence.actions import EvidenceError, do_import_evidence
from audits.evidence.formats import TOOLS
from audits.evidence.models import EvidenceImport
from governance.trail.log import Actor
from governance.web.portal.access import may, portal_user, portal_view
from registry.access import access_version
from registry.models import Finding, ModelVersion
from registry.portal.views import version_invalid, version_refused, version_url

SHOWN_FILES = 20


class EvidenceUploadForm(forms.Form):
    """Another tool's result file, and (optionally) which tool wrote it and its version."""

    file = forms.FileField(
        label="Result file",
        help_text="An Inspect log (.eval or .json), a garak report (.report.jsonl), promptfoo's JSON output, "
        "lm-evaluation-harness results, an Evidently snapshot, or a Giskard scan (JSON or JUnit XML).",
    )
    tool = forms.ChoiceField(label="Tool", choices=[("", "recognise it from the file"), *TOOLS.items()], required=False)
    tool_version = forms.CharField(
        label="Tool version",
        max_length=100,
        required=False,
        help_text="For a file that does not record it (Evidently, Giskard): recorded as stated by you.",
    )


def evidence_panel(
    request: HttpRequest, version: ModelVersion, findings: list[Finding], *, form: EvidenceUploadForm | None = None
) -> dict[str, Any]:
    """The version's imported result files, newest first, with their measurements, and the upload form."""
    files = list(
        EvidenceImport.objects.filter(version=version)
        .select_related("imported_by")
        .prefetch_related("measurements")
        .order_by("-imported_at", "-id")[:SHOWN_FILES]
    )
    return {
        "files": files,
        "can_upload": may(request, "models:write"),
        "form": form or EvidenceUploadForm(auto_id="evidence_%s"),
    }


@portal_view(POST="models:write")
def version_evidence_upload(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Import a result file for the version: owners of the team and CI."""
    version = access_version(request.user, name, number, request)
    form = EvidenceUploadForm(request.POST, request.FILES, auto_id="evidence_%s")
    if not form.is_valid():
        return version_invalid(request, version, imported_evidence=evidence_panel(request, version, [], form=form))
    upload = form.cleaned_data["file"]
    try:
        item = do_import_evidence(
            version=version,
            user=portal_user(request),
            actor=Actor.from_request(request),
            # TemporaryFileUploadHandler is the only upload handler: the file is on disk, never in memory.
            file_path=Path(upload.temporary_file_path()),
            file_name=upload.name or "",
            tool=form.cleaned_data.get("tool") or "",
            tool_version=form.cleaned_data.get("tool_version") or "",
        )
    except EvidenceError as exc:
        return version_refused(request, version, exc, imported_evidence=evidence_panel(request, version, [], form=form))
    messages.success(
        request,
        f"Imported {item.get_tool_display()} {item.tool_version} evidence: {item.measurements.count()} "
        f"measurement(s), sha256 {item.sha256}.",
    )
    return redirect(version_url(version) + "#imported-evidence")


_V = "models/<slug:name>/versions/<int:number>"

PORTAL_ROUTES = [path(f"{_V}/evidence", version_evidence_upload, name="version-evidence-upload")]

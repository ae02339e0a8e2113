"""Registering in the portal: a model (with the EU AI Act questionnaire) and a version (with its model file).

Each page parses its form, then judges the input exactly as the API does: a version's metadata through the API's
own ``VersionMetadataSerializer`` and ``check_json_value``, then the registry's actions (``do_register_model``,
``do_register_version``), which check the role (``require_scope``), the team, the questionnaire and the artifact
and record the same trail events. A refusal re-renders the form with everything typed kept, the problem named
under the field it concerns in the form's own words; a file has to be chosen again (browsers never refill one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from rest_framework.exceptions import ParseError

from governance.access.actions import ActionError
from governance.access.models import Team, User
from governance.trail.log import Actor
from governance.web.api.parsers import check_json_value
from governance.web.portal.access import portal_user, portal_view, refusal
from governance.web.portal.wording import in_labels
from registry import actions, risk
from registry.access import access_model
from registry.api.serializers import VersionMetadataSerializer
from registry.artifacts import ERROR_CODES as ARTIFACT_ERROR_CODES
from registry.portal import forms

# A multipart body carries the file and a few text fields: this much room above the file's own limit.
MULTIPART_OVERHEAD = 1024 * 1024
# The action's refusal codes that concern a field of the version form (any other is said above the form).
_SIGNATURE_CODES = (
    "bad_signature",
    "untrusted_signer",
    "artifact_mismatch",
    "unsupported_signature",
    "signature_without_artifact",
)
_VERSION_CODES = {
    "invalid_training_datasets": "training_datasets",
    "invalid_model_card": "intended_use",
    # A model signature refused (registry.signing), or sent without the file it signs.
    **dict.fromkeys(_SIGNATURE_CODES, "signature"),
}


def teams_of(user: User) -> list[tuple[str, str]]:
    """The teams ``user`` registers models in, as choices: all for organisation-wide roles, else their own (as the
    API's ``callers_team`` decides)."""
    teams = Team.objects.all() if user.is_organisation_wide else Team.objects.filter(pk__in=user.team_ids())
    return [(t.slug, t.name if t.name and t.name != t.slug else t.slug) for t in teams.order_by("slug")]


@portal_view(GET="models:write", POST="models:write")
def model_new(request: HttpRequest) -> HttpResponse:
    """Register a model: name, team, intended purpose and the risk questionnaire. "Show the classification" shows
    the tier and its rationale without saving; "Register" registers through ``do_register_model``."""
    user = portal_user(request)
    teams = teams_of(user)
    status, error, preview = 200, "", None
    if request.method == "POST":
        form = forms.ModelRegisterForm(request.POST, teams=teams)
        if not form.is_valid():
            error, status = "Please correct the problems marked below.", 400
        elif "preview" in request.POST:
            try:
                preview = risk.classify(form.answers())
            except risk.QuestionnaireError as exc:
                error, status = f"The risk questionnaire is incomplete: {exc}", 422
        else:
            team = Team.objects.get(slug=form.cleaned_data["team"])
            try:
                model = actions.do_register_model(
                    user=user, actor=Actor.from_request(request), team=team, **form.registration()
                )
            except ActionError as exc:
                error, status = refusal(request, exc)
                if exc.code == "duplicate":
                    form.add_error("name", str(exc))
            else:
                messages.success(
                    request,
                    f"{model.name} is registered, classified: {model.get_risk_tier_display()}. Register its first "
                    "version next.",
                )
                return redirect("registry-portal:model-detail", name=model.name)
    else:
        form = forms.ModelRegisterForm(teams=teams)
    return render(
        request,
        "registry/model_new.html",
        {"form": form, "error": error, "preview": preview, "teams": teams},
        status=status,
    )


def _metadata_problems(metadata: dict[str, Any]) -> dict[str, list[str]]:
    """The API's own judgement of a version's metadata: its problems by the form's field names (none: valid)."""
    for key, value in metadata.items():
        field = forms.VERSION_METADATA_FIELDS[key]
        try:
            check_json_value(value, where=str(forms.VersionRegisterForm.base_fields[field].label))
        except ParseError as exc:
            return {field: [str(exc.detail)]}
    serializer = VersionMetadataSerializer(data=metadata)
    if serializer.is_valid():
        return {}
    return {forms.VERSION_METADATA_FIELDS.get(k, "__all__"): _flat(v) for k, v in serializer.errors.items()}


def _flat(detail: Any, where: str = "") -> list[str]:
    """DRF's nested error detail as sentences (a list's item or a dict's key named where it is)."""
    if isinstance(detail, dict):
        return [m for k, v in detail.items() for m in _flat(v, f"{where}{k}: ")]
    if isinstance(detail, list):
        return [m for item in detail for m in _flat(item, where)]
    return [f"{where}{detail}"]


def _version_page(request: HttpRequest, model: Any, form: Any, error: str = "", status: int = 200) -> HttpResponse:
    context = {
        "model": model,
        "form": form,
        "error": error,
        "max_bytes": settings.ARTIFACT_MAX_BYTES,
        "next_number": model.versions.count() + 1,
    }
    return render(request, "registry/version_new.html", context, status=status)


@portal_view(GET="models:write", POST="models:write")
def version_new(request: HttpRequest, name: str) -> HttpResponse:
    """Register the next version of a model: its file is inspected by ``do_register_version`` (ONNX or skops, never
    pickle; bounded in size and in what it unpacks to), as the API's upload is."""
    model = access_model(request.user, name, request)
    if request.method != "POST":
        return _version_page(request, model, forms.VersionRegisterForm())
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0  # Django refuses a malformed length itself when the body is read
    if length > settings.ARTIFACT_MAX_BYTES + MULTIPART_OVERHEAD:
        # Refused before the body is read: nothing of it reaches the disk (the page's script refuses it earlier,
        # keeping the form as typed; this answers whoever posts without it).
        error = (
            f"The upload is {length:,} bytes; a model file may have at most {settings.ARTIFACT_MAX_BYTES:,} bytes "
            "(the ARTIFACT_MAX_BYTES setting)."
        )
        return _version_page(request, model, forms.VersionRegisterForm(), error, 413)
    form = forms.VersionRegisterForm(request.POST, request.FILES)
    if not form.is_valid():
        return _version_page(request, model, form, "Please correct the problems marked below.", 400)
    metadata = form.metadata()
    problems = _metadata_problems(metadata)
    if problems:
        for field, texts in problems.items():
            for text in texts:
                form.add_error(None if field == "__all__" else field, text)
        return _version_page(request, model, form, "Please correct the problems marked below.", 400)
    upload = form.cleaned_data["artifact"]
    try:
        version = actions.do_register_version(
            model=model,
            user=portal_user(request),
            actor=Actor.from_request(request),
            # TemporaryFileUploadHandler is the only upload handler: the file is on disk, never in memory.
            artifact_path=Path(upload.temporary_file_path()) if upload is not None else None,
            artifact_name=upload.name if upload is not None else "",
            signature_path=Path(signed.temporary_file_path()) if (signed := form.cleaned_data["signature"]) else None,
            **metadata,
        )
    except ActionError as exc:
        message, status = refusal(request, exc)
        message = in_labels(message, form, forms.VERSION_METADATA_FIELDS)  # the form's words, not the API's names
        if exc.code in _VERSION_CODES:
            form.add_error(_VERSION_CODES[exc.code], message)
        elif upload is not None and exc.code in ARTIFACT_ERROR_CODES:
            form.add_error("artifact", f"{upload.name} was refused: {message} Choose a file again.")
        return _version_page(request, model, form, message, status)
    what = version.get_framework_display() if upload is not None else "predictions only"
    messages.success(request, f"{model.name} v{version.number} is registered ({what}), as a draft.")
    return redirect("registry-portal:version-detail", name=model.name, number=version.number)

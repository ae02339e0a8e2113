"""Registering data in the portal: a dataset, and a dataset version by uploading its file (or naming where it lives).

Each page parses its form, judges the input exactly as the API does (``DatasetCreateSerializer``,
``DatasetVersionMetadataSerializer``), then calls the API's own actions (``do_register_dataset``,
``do_register_dataset_version``): the same role, team and file checks, the same trail events. A refusal re-renders
the form with what was typed, the problem under the field it concerns and in the form's own words
(``governance.web.portal.wording``); a file has to be chosen again (browsers never refill one). An upload that lands
goes to its version's page, which shows the quality profile the upload produced.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from governance.access.actions import ActionError
from governance.access.models import Team
from governance.data import actions
from governance.data.access import access_dataset
from governance.data.actions.uploads import do_receive_dataset_upload, profiled_in_worker
from governance.data.api.serializers import DatasetCreateSerializer, DatasetVersionMetadataSerializer
from governance.trail.log import Actor
from governance.web.portal.access import portal_user, portal_view, refusal, set_choices
from governance.web.portal.wording import in_labels, place_refusal
from registry.portal.registration import MULTIPART_OVERHEAD, _flat, teams_of


def api_judged(serializer_class: Any, data: dict[str, Any], form: forms.Form, names: dict[str, str]) -> Any:
    """``data`` as the API's serializer validates it (what the API passes to the action), or None with each problem
    put under its form field in the form's words."""
    serializer = serializer_class(data=json.loads(json.dumps(data, cls=DjangoJSONEncoder)))  # as a request sends it
    if serializer.is_valid():  # only what the form asks: fields the API adds later are left at the action's defaults
        return {k: v for k, v in serializer.validated_data.items() if k in names}
    for key, detail in serializer.errors.items():
        for text in _flat(detail):
            form.add_error(names.get(key), in_labels(text, form, names))
    return None


# --- a dataset -----------------------------------------------------------------------------------------------------


class DatasetForm(forms.Form):
    name = forms.SlugField(
        label="Dataset name",
        max_length=100,
        help_text="Lower-case letters, digits and hyphens, unique in Assay (e.g. loan-applications).",
    )
    team = forms.ChoiceField(label="Team")
    description = forms.CharField(
        label="Description", required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3})
    )
    openlineage_namespace = forms.CharField(
        label="OpenLineage namespace",
        required=False,
        max_length=500,
        help_text="With the name below, how OpenLineage producers (Airflow, Spark, dbt) name this dataset, so their "
        "runs are linked to it. Give both or neither.",
    )
    openlineage_name = forms.CharField(label="OpenLineage name", required=False, max_length=500)

    def __init__(self, *args: Any, teams: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "team", teams)
        if len(teams) == 1:
            self.fields["team"].initial = teams[0][0]


DATASET_NAMES = {name: name for name in DatasetForm.base_fields}


@portal_view(GET="datasets:write", POST="datasets:write")
def dataset_new(request: HttpRequest) -> HttpResponse:
    """Register a dataset for one of the user's teams (``do_register_dataset``), then upload its first version."""
    user = portal_user(request)
    teams = teams_of(user)
    form, status, error = DatasetForm(request.POST or None, teams=teams), 200, ""
    if request.method == "POST":
        status, error = 400, "Please correct the problems marked below."
        data = form.is_valid() and api_judged(DatasetCreateSerializer, form.cleaned_data, form, DATASET_NAMES)
        if data:
            data = dict(data)
            team = Team.objects.get(slug=data.pop("team"))
            try:
                dataset = actions.do_register_dataset(user=user, actor=Actor.from_request(request), team=team, **data)
            except ActionError as exc:
                _message, status = refusal(request, exc)
                clash = (
                    ("openlineage_name" if "OpenLineage" in str(exc) else "name") if exc.code == "duplicate" else None
                )
                error = place_refusal(form, exc, DATASET_NAMES, fallback=clash)
            else:
                messages.success(request, f"Dataset {dataset.name} is registered. Upload its first version next.")
                return redirect("portal:dataset-version-new", name=dataset.name)
    return render(request, "data/dataset_new.html", {"form": form, "error": error, "teams": teams}, status=status)


# --- a dataset version ---------------------------------------------------------------------------------------------


class DatasetVersionForm(forms.Form):
    file = forms.FileField(
        label="Data file (CSV or Parquet)",
        required=False,
        help_text="Hashed, stored and profiled on arrival (rows, columns, missing values, duplicates, label balance); "
        "its format is read from its bytes, not its name.",
    )
    external_uri = forms.CharField(
        label="Or where the data lives (URI)",
        required=False,
        max_length=2000,
        help_text="For data Assay does not store, e.g. s3://bucket/path.parquet: recorded as given, never read.",
    )
    delimiter = forms.ChoiceField(
        label="CSV delimiter", choices=[(",", "comma"), (";", "semicolon"), ("\t", "tab"), ("|", "pipe")], initial=","
    )
    subject_id_column = forms.CharField(
        label="Subject-id column",
        required=False,
        max_length=200,
        help_text="The column naming the person each row is about: Assay indexes them by pseudonym (for consent "
        "coverage, access and erasure requests); the ids themselves are never stored.",
    )
    label_column = forms.CharField(
        label="Label column", required=False, max_length=200, help_text="The true outcome, profiled for balance."
    )
    missing_markers = forms.CharField(
        label="Values meaning “missing”",
        required=False,
        max_length=400,
        help_text="Comma-separated, e.g. NA, ?, -1 (besides empty cells).",
    )
    source = forms.CharField(label="Source", required=False, max_length=500)
    licence = forms.CharField(label="Licence", required=False, max_length=200)
    collected_from = forms.DateField(
        label="Collected from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    collected_to = forms.DateField(label="Collected to", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("file") is None and not data.get("external_uri"):
            self.add_error("file", "Choose a file, or give the URI where the data lives.")
        elif data.get("file") is not None and data.get("external_uri"):
            self.add_error("external_uri", "Give a file or a URI, not both.")
        return data

    def metadata(self) -> dict[str, Any]:
        """The form as the API's metadata (``DatasetVersionMetadataSerializer``'s fields)."""
        data = {k: v for k, v in self.cleaned_data.items() if k != "file"}
        markers = data.pop("missing_markers", "")
        data["missing_markers"] = [m.strip() for m in markers.split(",") if m.strip()]
        return {k: v for k, v in data.items() if v not in ("", None, [])}


VERSION_NAMES = {name: name for name in DatasetVersionForm.base_fields}


def _version_page(request: HttpRequest, dataset: Any, form: forms.Form, error: str = "", status: int = 200) -> Any:
    context = {
        "dataset": dataset,
        "form": form,
        "error": error,
        "max_bytes": settings.DATASET_MAX_BYTES,
        "next_number": dataset.versions.count() + 1,
    }
    return render(request, "data/dataset_version_new.html", context, status=status)


@portal_view(GET="datasets:write", POST="datasets:write")
def dataset_version_new(request: HttpRequest, name: str) -> HttpResponse:
    """Upload the next version of a dataset (``do_register_dataset_version``, as the API's upload)."""
    dataset = access_dataset(request.user, name, request)
    if request.method != "POST":
        return _version_page(request, dataset, DatasetVersionForm())
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0  # Django refuses a malformed length itself when the body is read
    if length > settings.DATASET_MAX_BYTES + MULTIPART_OVERHEAD:
        # Refused before the body is read (the page's script refuses it earlier, keeping the form as typed).
        error = (
            f"The upload is {length:,} bytes; a dataset file may have at most {settings.DATASET_MAX_BYTES:,} bytes "
            "(the DATASET_MAX_BYTES setting). Register larger data by its URI."
        )
        return _version_page(request, dataset, DatasetVersionForm(), error, 413)
    form = DatasetVersionForm(request.POST, request.FILES)
    metadata = (
        api_judged(DatasetVersionMetadataSerializer, form.metadata(), form, VERSION_NAMES) if form.is_valid() else None
    )
    if metadata is None:
        return _version_page(request, dataset, form, "Please correct the problems marked below.", 400)
    upload = form.cleaned_data["file"]
    if upload is not None and profiled_in_worker(upload.size):
        return _hand_to_worker(request, dataset, form, upload, metadata)
    try:
        version = actions.do_register_dataset_version(
            dataset=dataset,
            user=portal_user(request),
            actor=Actor.from_request(request),
            # TemporaryFileUploadHandler is the only upload handler: the file is on disk, never in memory.
            file_path=Path(upload.temporary_file_path()) if upload is not None else None,
            file_name=upload.name if upload is not None else "",
            **metadata,
        )
    except ActionError as exc:
        _message, status = refusal(request, exc)
        error = place_refusal(form, exc, VERSION_NAMES, fallback="file" if upload is not None else None)
        if upload is not None and "file" in form.errors:
            form.errors["file"][-1] = f"{upload.name} was refused: {form.errors['file'][-1]} Choose a file again."
        return _version_page(request, dataset, form, error, status)
    findings = version.quality_findings.count()
    what = f"{version.row_count:,} rows, {findings} quality finding(s)" if version.row_count is not None else "by URI"
    messages.success(request, f"{dataset.name} v{version.number} is registered ({what}). Its profile is below.")
    return redirect("portal:dataset-version", name=dataset.name, number=version.number)


def _hand_to_worker(request: HttpRequest, dataset: Any, form: forms.Form, upload: Any, metadata: dict) -> Any:
    """A large file: stored now, profiled by a job worker (``do_receive_dataset_upload``, as the API's 202); the
    dataset's page follows the upload until its version is registered or refused."""
    try:
        do_receive_dataset_upload(
            dataset=dataset,
            user=portal_user(request),
            actor=Actor.from_request(request),
            file_path=Path(upload.temporary_file_path()),
            file_name=upload.name,
            metadata=metadata,
        )
    except ActionError as exc:
        _message, status = refusal(request, exc)
        error = place_refusal(form, exc, VERSION_NAMES, fallback="file")
        return _version_page(request, dataset, form, error, status)
    messages.success(
        request,
        f"{upload.name} is stored. A worker is profiling it; this page shows when its version is registered.",
    )
    return redirect("portal:dataset-detail", name=dataset.name)
